"""Foundation benchmark: load + validate 1,000 configs, parse + convert results, vs Go libcni.

Not a test (the suite never times anything). Run it as::

    .venv/bin/python tests/benchmarks/bench_foundation.py [--goref PATH] [--rounds N]

It builds a directory of 1,000 configuration files from the repository's corpus,
``tests/data/corpus`` (each copy renamed so every network is distinct), then alternates,
round after round, between Go's ``goref load`` and cnilib's ``conf_files`` +
``conflist_from_file`` / ``conflist_from_conf`` with schema validation on, and likewise for
``goref convert`` against ``parse_result`` + ``as_version``.
Ratios are taken per round from measurements made side by side, and the median ratio is
printed (the machines are shared and noisy; absolute times mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"


def find_goref(explicit: str | None) -> str:
    """The Go reference binary: --goref, $GOREF, .venv/bin/goref, or on PATH."""
    for cand in (explicit, os.environ.get("GOREF"), str(REPO / ".venv" / "bin" / "goref"),
                 shutil.which("goref")):
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("goref not found: bash .ci/setup.sh builds it into .venv/bin, or pass --goref")


def make_corpus(dest: Path, count: int) -> int:
    """Write ``count`` configs into ``dest``, cycling through the corpus; returns plugins total."""
    src = sorted((CORPUS / "configs").iterdir())
    n = 0
    i = 0
    while n < count:
        f = src[i % len(src)]
        i += 1
        doc = json.loads(f.read_bytes())
        doc["name"] = f"bench-{n:04d}"
        (dest / f"{n:04d}-{f.name}").write_text(json.dumps(doc, indent=2))
        n += 1
    return n


def cnilib_load(directory: str, iterations: int) -> tuple[int, float]:
    from cnilib.config import conf_files, conf_from_file, conflist_from_conf, conflist_from_file

    start = time.perf_counter()
    count = 0
    for _ in range(iterations):
        for f in conf_files(directory):
            if f.endswith(".conflist"):
                net = conflist_from_file(f)
            else:
                net = conflist_from_conf(conf_from_file(f))
            count += len(net.plugins)
    return count, time.perf_counter() - start


def cnilib_convert(path: str, n: int) -> tuple[int, float]:
    from cnilib.types import parse_result

    data = Path(path).read_bytes()
    start = time.perf_counter()
    for _ in range(n):
        r = parse_result(data)
        r.as_version("0.4.0")
        r.as_version("0.2.0")
    return n, time.perf_counter() - start


def cnilib_result_hooks(path: str, n: int) -> tuple[float, float]:
    """CPU µs per structuring of one result: by the hook registered for its class (common
    shape first), and by the hook cattrs generates alone (what that hook falls back to)."""
    from cnilib._results import codec
    from cnilib.types import parse_result

    body = json.loads(Path(path).read_bytes())
    cl = type(parse_result(body))
    out = []
    for hook in (codec.converter.get_structure_hook(cl), codec._object_hook(cl)):
        start = time.process_time()
        for _ in range(n):
            hook(body, cl)
        out.append((time.process_time() - start) / n * 1e6)
    return out[0], out[1]


def goref(binary: str, *args: str) -> tuple[int, float]:
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout
    _op, count, seconds = out.split()
    return int(count), float(seconds)


def main() -> None:
    """Run the benchmark and print one line per measurement plus the median ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goref", default=None)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iter", type=int, default=3, help="passes over the directory per round")
    ap.add_argument("--convert-n", type=int, default=20000)
    args = ap.parse_args()
    binary = find_goref(args.goref)
    result_file = CORPUS / "results" / "016-multus-cache-100-1.0.0.json"
    with tempfile.TemporaryDirectory(prefix="cnilib-bench-") as tmp:
        files = make_corpus(Path(tmp), args.files)
        # Warm both sides once (page cache, lazy schema compilation) before measuring.
        cnilib_load(tmp, 1)
        goref(binary, "load", tmp, "1")
        load_ratios, conv_ratios = [], []
        for r in range(args.rounds):
            gc_, gt = goref(binary, "load", tmp, str(args.iter))
            pc, pt = cnilib_load(tmp, args.iter)
            if gc_ != pc:
                sys.exit(f"plugin counts differ: go {gc_} cnilib {pc}")
            g_us = gt / (files * args.iter) * 1e6
            p_us = pt / (files * args.iter) * 1e6
            load_ratios.append(pt / gt)
            gcn, gct = goref(binary, "convert", str(result_file), str(args.convert_n))
            pcn, pct = cnilib_convert(str(result_file), args.convert_n)
            conv_ratios.append((pct / pcn) / (gct / gcn))
            print(f"round {r}: load go {g_us:.1f} us/file, cnilib {p_us:.1f} us/file "
                  f"(ratio {pt / gt:.2f}); convert go {gct / gcn * 1e6:.2f} us, "
                  f"cnilib {pct / pcn * 1e6:.2f} us (ratio {conv_ratios[-1]:.2f})")
    print(f"load ({files} files, validation on): cnilib/go median ratio "
          f"{statistics.median(load_ratios):.2f}")
    print(f"convert (parse 1.0.0 + to 0.4.0 + to 0.2.0): cnilib/go median ratio "
          f"{statistics.median(conv_ratios):.2f}")
    hooks = [cnilib_result_hooks(str(result_file), args.convert_n) for _ in range(args.rounds)]
    print(f"result hook (CPU, median): registered {statistics.median(h[0] for h in hooks):.2f} "
          f"us, generated alone {statistics.median(h[1] for h in hooks):.2f} us")
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import cnilib"],
                         capture_output=True, text=True, check=True).stderr
    total = max((int(line.split("|")[1]) for line in imp.splitlines()
                 if line.rstrip().endswith("cnilib")), default=0)
    print(f"import cnilib: {total / 1000:.1f} ms cumulative (python -X importtime)")


if __name__ == "__main__":
    main()
