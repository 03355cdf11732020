"""What the json module's undocumented scanners save over its public API.

Not a test (the suite never times anything). Run it as::

    .venv/bin/python tests/benchmarks/bench_json_internals.py [--rounds 9]

``cnilib._json.loads`` calls ``JSONDecoder.scan_once`` directly when a document starts with
its value, with a fallback to the public ``JSONDecoder.decode`` when the attribute is
missing. ``cnilib._schema.locate`` reads object keys with the public ``raw_decode``, where
``json.decoder.scanstring`` would do. This script times each pair, alternated, as the median
of ``--rounds`` rounds of CPU time (:func:`time.process_time`):

* ``loads``: every configuration and result of ``tests/data/corpus`` (small documents, where
  the per-call overhead shows), microseconds per document, with and without ``scan_once``;
* ``keys``: every object key of those documents read by ``scanstring`` or by
  ``raw_decode``, nanoseconds per key;
* ``locate``: the corpus documents with a pointer to every member, microseconds per
  document, with the keys read as ``locate`` reads them (``raw_decode``), for scale.

The comments at the two call sites quote its figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from cnilib import _json
from cnilib._schema import locate
from tests.paths import CORPUS

# An object key: a JSON string followed by a colon (outside strings, in these documents).
_KEY = re.compile(r'"(?:[^"\\]|\\.)*"(?=\s*:)')


def _texts() -> list[str]:
    out = []
    for folder in ("configs", "results"):
        for path in sorted((CORPUS / folder).iterdir()):
            text = path.read_text("utf-8", "replace")
            try:
                json.loads(text)
            except ValueError:
                continue
            out.append(text)
    return out


def _pointers(value: object, prefix: str = "") -> Iterator[str]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _pointers(child, f"{prefix}/{_json.escape_token(key)}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _pointers(child, f"{prefix}/{i}")


def _time(run: Callable[[], None]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def _ab(name: str, unit: str, scale: float, run: Callable[[], None], *, rounds: int,
        internal: Callable[[], None], public: Callable[[], None]) -> float:
    fast: list[float] = []
    slow: list[float] = []
    for _ in range(rounds):
        internal()
        fast.append(_time(run) * scale)
        public()
        slow.append(_time(run) * scale)
    internal()
    a, b = statistics.median(fast), statistics.median(slow)
    print(f"{name:<28} internal {a:9.2f} {unit}   public {b:9.2f} {unit}   "
          f"saving {b - a:8.2f} {unit} ({(b - a) / b:.0%})")
    return b - a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    scan = _json._SCAN
    texts = _texts()
    repeat = 200

    def loads_all() -> None:
        for _ in range(repeat):
            for text in texts:
                _json.loads(text)

    def scan_on() -> None:
        _json._SCAN = scan

    def scan_off() -> None:
        _json._SCAN = None

    _ab("loads (corpus)", "us/doc", 1e6 / (repeat * len(texts)), loads_all, rounds=args.rounds,
        internal=scan_on, public=scan_off)

    keys = [(t, m.start()) for t in texts for m in _KEY.finditer(t)]
    scanstring: Callable[[str, int], tuple[str, int]] | None = getattr(
        json.decoder, "scanstring", None)
    raw_decode = json.JSONDecoder().raw_decode
    use_scanstring = [False]

    def read_keys() -> None:
        for _ in range(repeat // 10):
            if scanstring is not None and use_scanstring[0]:
                # It starts after the quote: the same key, one index further.
                for text, at in keys:
                    scanstring(text, at + 1)
            else:
                for text, at in keys:
                    raw_decode(text, at)

    saving = 0.0
    if scanstring is not None:
        saving = _ab("keys (corpus)", "ns/key", 1e9 / (repeat // 10 * len(keys)), read_keys,
                     rounds=args.rounds, internal=lambda: use_scanstring.__setitem__(0, True),
                     public=lambda: use_scanstring.__setitem__(0, False))
    located = [(t, list(_pointers(json.loads(t)))) for t in texts]

    def locate_all() -> None:
        for _ in range(repeat // 10):
            for text, pointers in located:
                locate.locate(text, pointers)

    took = statistics.median(_time(locate_all) for _ in range(args.rounds))
    per_doc = took * 1e6 / (repeat // 10 * len(located))
    keys_saving = saving * len(keys) / len(texts) / 1e3
    print(f"{'locate (corpus, every key)':<28} {per_doc:9.2f} us/doc, of which scanstring "
          f"would save {keys_saving:.2f} us ({keys_saving / per_doc:.0%})")


if __name__ == "__main__":
    main()
