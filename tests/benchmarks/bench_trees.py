"""Two checkouts of cnilib side by side: did a change (a reshaping, say) make anything slower?

Not a test (the suite never times anything). No root, no plugin, no Go::

    mkdir -p build/old && git archive REV cnilib schemas | tar -x -C build/old
    .venv/bin/python tests/benchmarks/bench_trees.py --tree build/old [--rounds N]

Each side runs in its own child interpreter with its checkout first on ``sys.path``, and the
two sides alternate round after round (the first side changes every round). The work uses
public names only, so any two versions of the library can be compared:

* **import**: ``import cnilib`` in a fresh interpreter (wall time of the whole child);
* **load**: every configuration of ``tests/data/corpus/configs`` loaded with validation
  (``conflist_from_file`` / ``conf_from_file`` + ``conflist_from_conf``), 10 times;
* **invalid**: every document of ``tests/data/corpus/invalid`` validated, problems worded,
  40 times;
* **results**: every result of ``tests/data/corpus/results`` parsed and converted to each
  version it converts to, 50 times;
* **engine**: 20 ADD + CHECK + DEL cycles of a chain of three plugins through
  :class:`~cnilib.CNIConfig` with :class:`~cnilib.testing.FakeExecutor` (no process) on a
  scratch cache.

For each figure it prints the median over rounds of the CPU time per pass on each side and
the median of the per-round ratios this/other (below 1: this checkout is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"

#: The child's program: argv[1] is the checkout, argv[2] the corpus, argv[3] the passes.
CHILD = r'''
import json, os, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
import cnilib
imported = time.perf_counter() - t0
from pathlib import Path
from cnilib import CNIConfig, RuntimeConf, conf_from_file, conflist_from_conf, conflist_from_file
from cnilib.errors import CNIError
from cnilib.protocol import Command, Completed
from cnilib.testing import FakeExecutor
from cnilib.types import parse_result

corpus, passes = Path(sys.argv[2]), int(sys.argv[3])
configs = sorted(str(p) for p in (corpus / "configs").iterdir())
invalid = sorted(str(p) for p in (corpus / "invalid").iterdir())
results = [p.read_bytes() for p in sorted((corpus / "results").iterdir())]
VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

def load(paths):
    for f in paths:
        try:
            if f.endswith(".conflist"):
                conflist_from_file(f)
            else:
                conflist_from_conf(conf_from_file(f))
        except CNIError as err:
            str(err)

def convert():
    for data in results:
        try:
            r = parse_result(data)
        except CNIError:
            continue
        for v in VERSIONS:
            try:
                r.as_version(v)
            except CNIError:
                pass

FIXED = b'{"cniVersion":"1.0.0","ips":[{"address":"10.99.0.2/24","gateway":"10.99.0.1"}],"dns":{}}'
def handler(inv):
    return Completed(0, FIXED if inv.command == Command.ADD else b"", b"", 0.0)

scratch = tempfile.mkdtemp(prefix="cnilib-bench-trees-")
conflist = os.path.join(scratch, "chain.conflist")
with open(conflist, "w") as fh:
    json.dump({"cniVersion": "1.0.0", "name": "trees",
               "plugins": [{"type": t} for t in ("a", "b", "c")]}, fh)
net = conflist_from_file(conflist)
cni = CNIConfig(["/nonexistent"], cache_dir=os.path.join(scratch, "cache"),
                executor=FakeExecutor(handler))
count = [0]
def engine():
    for _ in range(20):
        count[0] += 1
        rt = RuntimeConf(container_id=f"c{count[0]}", netns="/var/run/netns/x", ifname="eth0")
        cni.add_network_list(net, rt)
        cni.check_network_list(net, rt)
        cni.del_network_list(net, rt)

out = {"import": imported}
def times(n, fn):
    return lambda: [fn() for _ in range(n)]

# Each pass is made some tens of milliseconds long, so the CPU clock's tick does not matter.
for name, fn in (("load", times(10, lambda: load(configs))),
                 ("invalid", times(40, lambda: load(invalid))),
                 ("results", times(50, convert)), ("engine", engine)):
    fn()  # warm-up
    best = []
    for _ in range(passes):
        c0 = time.process_time()
        fn()
        best.append(time.process_time() - c0)
    best.sort()
    out[name] = best[len(best) // 2]
import shutil
shutil.rmtree(scratch)
print(json.dumps(out))
'''

FIGURES = ("import", "load", "invalid", "results", "engine")


def run_side(tree: Path, passes: int) -> dict[str, float]:
    """One child interpreter on ``tree``: seconds per figure."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(CORPUS), str(passes)],
                          check=True, capture_output=True, text=True)
    data: dict[str, float] = json.loads(proc.stdout)
    return data


def main() -> None:
    """Alternate the two checkouts, then print medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", required=True, help="the other checkout (its cnilib/ and schemas/)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--passes", type=int, default=7, help="passes per figure in one child")
    args = ap.parse_args()
    other = Path(args.tree).resolve()
    if not (other / "cnilib" / "__init__.py").is_file():
        sys.exit(f"{other} holds no cnilib/ package")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    this_runs: list[dict[str, float]] = []
    other_runs: list[dict[str, float]] = []
    for rnd in range(args.rounds):
        sides = [(REPO, this_runs), (other, other_runs)]
        if rnd % 2:
            sides.reverse()
        for tree, runs in sides:
            runs.append(run_side(tree, args.passes))
        line = ", ".join(f"{f} {this_runs[-1][f] / other_runs[-1][f]:.2f}" for f in FIGURES)
        print(f"round {rnd}: this/other {line} (load {os.getloadavg()[0]:.2f})")
    print(f"{'figure':8} {'this ms':>9} {'other ms':>9} {'this/other':>11}  (medians of "
          f"{args.rounds} rounds; CPU per pass, import: wall)")
    for f in FIGURES:
        mine = statistics.median(r[f] for r in this_runs) * 1e3
        theirs = statistics.median(r[f] for r in other_runs) * 1e3
        ratio = statistics.median(a[f] / b[f] for a, b in zip(this_runs, other_runs, strict=True))
        print(f"{f:8} {mine:9.3f} {theirs:9.3f} {ratio:11.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)")
