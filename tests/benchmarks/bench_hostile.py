"""Hostile-input benchmark: time per KB of loading worst-case invalid configurations.

Not a test (the suite never times anything). Run it as::

    .venv/bin/python tests/benchmarks/bench_hostile.py [--sizes 4,16,64,256,cap] [--give-up S]

For each worst-case shape of ``tests/test_hostile.py`` (a problem every few bytes, long
arrays, many members, deep nesting, one line or indented) it builds the largest document not
over each size, loads it with ``conflist_from_bytes`` (validation on, then off), reads every
problem's line, and prints the best of three times per KB. Linear work shows as a flat
ms/KB column. A shape whose load takes longer than ``--give-up`` seconds is not tried at the
larger sizes (to measure a quadratic version without waiting for hours).

To measure another version of cnilib (before a change), put it first on the path::

    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/path/to/other/checkout \
        .venv/bin/python tests/benchmarks/bench_hostile.py --give-up 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))


def _load(data: bytes, validate: bool) -> int:
    from cnilib.config import conflist_from_bytes
    from cnilib.errors import ConfigValidationError

    try:
        problems = conflist_from_bytes(data, validate=validate).warnings
    except ConfigValidationError as err:
        problems = err.problems
    return sum(1 for p in problems if p.line is not None)


def configs(sizes: list[int], give_up: float) -> None:
    from tests.hostile_shapes import SHAPES, at_size

    print(f"{'shape':12} {'indent':>6} {'KB':>6} {'validate':>8} {'problems':>8} "
          f"{'seconds':>8} {'ms/KB':>8}")
    for name in sorted(SHAPES):
        for indent in (None, 1):
            for validate in (True, False):
                for size in sizes:
                    data = at_size(SHAPES[name], size, indent=indent)
                    best = float("inf")
                    for _ in range(3):
                        start = time.perf_counter()
                        found = _load(data, validate)
                        best = min(best, time.perf_counter() - start)
                        if best > give_up:
                            break
                    kb = len(data) / 1024
                    print(f"{name:12} {indent or 0:>6} {kb:6.0f} {validate!s:>8} {found:>8} "
                          f"{best:8.3f} {best * 1000 / kb:8.2f}", flush=True)
                    if best > give_up:
                        print(f"{'':12} (larger sizes not tried: over {give_up} s)")
                        break


def main() -> None:
    from cnilib.config import MAX_CONFIG_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="4,16,64,256,cap",
                        help="KB sizes, comma-separated; 'cap' is MAX_CONFIG_SIZE")
    parser.add_argument("--give-up", type=float, default=30.0)
    args = parser.parse_args()
    sizes = [MAX_CONFIG_SIZE if s == "cap" else int(s) * 1024 for s in args.sizes.split(",")]
    configs(sizes, args.give_up)


if __name__ == "__main__":
    main()
