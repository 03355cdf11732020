"""Schema validation benchmark: CPU time per document of the compiled checks.

Not a test (the suite never times anything). Run it as::

    .venv/bin/python tests/benchmarks/bench_validate.py [--rounds 7] [--jsonschema]

It reads every configuration and result of ``tests/data/corpus`` and prints, as the median
of ``--rounds`` rounds of CPU time (:func:`time.process_time`, steadier than wall time on a
shared machine), the microseconds per document of:

* ``valid``: :func:`cnilib.schema.check` on the valid documents (the compiled ``v`` check:
  what loading a configuration pays);
* ``invalid``: :func:`cnilib.schema.validate` on documents made invalid (a wrong type at the
  top, an unknown key), with the text, reading every problem's message and line (the ``e``
  collector, wording and locating);
* ``warnings``: :func:`cnilib.schema.validate` on valid documents with an unknown
  ``cniVersion`` and a key of a later spec version (two warnings each), with the text,
  problems left unread, then the same with every problem's message and line read: the
  difference is what lazy wording saves a caller that never prints its warnings;
* with ``--jsonschema``, ``Draft202012Validator.is_valid`` on the valid documents, for scale.

To measure another version of cnilib (before a change), put it first on the path::

    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/path/to/other/checkout \\
        .venv/bin/python tests/benchmarks/bench_validate.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from tests.paths import CORPUS


def _documents() -> list[tuple[object, str, str, bytes]]:
    """``(document, kind, version, text)`` for every parseable corpus configuration/result."""
    out: list[tuple[object, str, str, bytes]] = []
    for folder in ("configs", "results"):
        for path in sorted((CORPUS / folder).iterdir()):
            data = path.read_bytes()
            try:
                doc = json.loads(data)
            except ValueError:
                continue
            if not isinstance(doc, dict):
                continue
            if folder == "results":
                kind = "result"
            else:
                kind = "netconflist" if "plugins" in doc else "netconf"
            version = doc.get("cniVersion", "")
            out.append((doc, kind, version if isinstance(version, str) else "", data))
    return out


def _median_us(run: Callable[[], int], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        count = run()
        times.append((time.process_time() - start) / count * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200, help="passes over the corpus per round")
    parser.add_argument("--jsonschema", action="store_true")
    args = parser.parse_args()

    from cnilib import schema

    print(f"cnilib from {Path(schema.__file__).parent}")

    docs = _documents()
    valid = [(d, k, v, t) for d, k, v, t in docs if not schema.validate(d, k, v)]  # type: ignore[arg-type]
    broken = []
    for doc, kind, version, _ in valid:
        bad = {**doc, "cniVersion": version, "name": 7, "nosuchkey": True}  # type: ignore[dict-item]
        broken.append((bad, kind, version, json.dumps(bad, indent=2).encode()))
    odd = []
    for doc, kind, _, _ in valid:
        if kind != "result":
            warned = {**doc, "cniVersion": "0.9.9", "disableGC": False}  # type: ignore[dict-item]
            odd.append((warned, kind, json.dumps(warned, indent=2)))

    def run_valid() -> int:
        for _ in range(args.repeat):
            for doc, kind, version, _text in valid:
                schema.check(doc, kind, version)  # type: ignore[arg-type]
        return int(args.repeat) * len(valid)

    def run_invalid() -> int:
        n: int = max(1, args.repeat // 20)
        for _ in range(n):
            for doc, kind, version, text in broken:
                for problem in schema.validate(doc, kind, version, text=text):  # type: ignore[arg-type]
                    _ = (problem.message, problem.line)
        return n * len(broken)

    def run_warnings() -> int:
        for _ in range(args.repeat // 4):
            for doc, kind, text in odd:
                schema.validate(doc, kind, "0.9.9", text=text)  # type: ignore[arg-type]
        return int(args.repeat) // 4 * len(odd)

    def run_warnings_read() -> int:
        for _ in range(args.repeat // 4):
            for doc, kind, text in odd:
                for problem in schema.validate(doc, kind, "0.9.9", text=text):  # type: ignore[arg-type]
                    _ = (problem.message, problem.line)
        return int(args.repeat) // 4 * len(odd)

    run_valid()
    run_invalid()
    run_warnings()
    run_warnings_read()
    print(f"{len(valid)} valid documents, {len(broken)} invalid, {len(odd)} with warnings")
    print(f"valid    {_median_us(run_valid, args.rounds):8.2f} us/doc (check)")
    print(f"invalid  {_median_us(run_invalid, args.rounds):8.2f} us/doc (validate, every "
          "problem worded and located)")
    print(f"warnings {_median_us(run_warnings, args.rounds):8.2f} us/doc (validate, unread)")
    print(f"warnings {_median_us(run_warnings_read, args.rounds):8.2f} us/doc (validate, "
          "every problem worded and located)")
    if args.jsonschema:
        validators = [(schema.standard_validator(k, v), d)  # type: ignore[arg-type]
                      for d, k, v, _ in valid]

        def run_standard() -> int:
            for validator, doc in validators:
                validator.is_valid(doc)
            return len(validators)

        print(f"jsonschema {_median_us(run_standard, args.rounds):8.2f} us/doc "
              "(Draft202012Validator.is_valid)")


if __name__ == "__main__":
    main()
