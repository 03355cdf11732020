"""Hostile-input benchmark: time per KB of loading worst-case invalid configurations.

Not a test (the suite never times anything). Run it as::

    .venv/bin/python tests/benchmarks/bench_hostile.py [--sizes 4,16,64,256,cap] [--give-up S]

For each worst-case shape of ``tests/test_hostile.py`` (a problem every few bytes, long
arrays, many members, deep nesting, one line or indented) it builds the largest document not
over each size, loads it with ``conflist_from_bytes`` (validation on, then off), reads every
problem's line, and prints the best of three times per KB. Linear work shows as a flat
ms/KB column. A shape whose load takes longer than ``--give-up`` seconds is not tried at the
larger sizes (to measure a quadratic version without waiting for hours).

``--results N`` measures a large ADD result instead (issue 7, item 9): a test plugin
(``cnilib-misbehave``, mode ``many-ips``) returns N IPv4 addresses; ADD, the cached-result
query, CHECK and DEL each run once through ``CNIConfig``, and the script prints the CPU
seconds of this process (the plugin's own time is not counted: the machines are shared, and
CPU time is steadier than wall time) and, in a second run, the peak of :mod:`tracemalloc`.

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


def results(count: int) -> None:
    import json
    import shutil
    import tempfile
    import tracemalloc
    from collections.abc import Callable

    from cnilib.api import CNIConfig
    from cnilib.config import conflist_from_bytes
    from cnilib.protocol import RuntimeConf
    from tests.plugins import MISBEHAVE, install_misbehave

    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        install_misbehave(tmp / "bin")
        net = conflist_from_bytes(json.dumps({
            "cniVersion": "1.0.0", "name": "big", "plugins": [
                {"type": MISBEHAVE, "mode": "many-ips", "count": count, "on": ["ADD"],
                 "recordFile": str(tmp / "calls.jsonl")}]}).encode())
        cni = CNIConfig([str(tmp / "bin")], cache_dir=str(tmp / "cache"))
        rt = RuntimeConf("bench", "/var/run/netns/bench", "eth0")
        steps: list[tuple[str, Callable[[], object]]] = [
            ("ADD", lambda: cni.add_network_list(net, rt)),
            ("cached", lambda: cni.get_network_list_cached_result(net, rt)),
            ("CHECK", lambda: cni.check_network_list(net, rt)),
            ("DEL", lambda: cni.del_network_list(net, rt)),
        ]
        size = 0
        for memory in (False, True):
            for name, step in steps:
                if memory:
                    tracemalloc.start()
                start = time.process_time()
                step()
                cpu = time.process_time() - start
                if name == "ADD":
                    size = sum(f.stat().st_size for f in (tmp / "cache").rglob("*")
                               if f.is_file() and "results" in f.parts)
                if memory:
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    print(f"{name:7} peak {peak / 1e6:7.1f} MB  {peak / size:5.1f} x the "
                          f"{size / 1e6:.1f} MB entry", flush=True)
                else:
                    print(f"{name:7} {cpu:6.2f} s CPU  {cpu / (size / 1e6 or 1):5.2f} s/MB "
                          f"({count} IPs, {size / 1e6:.1f} MB entry)", flush=True)
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    from cnilib.config import MAX_CONFIG_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="4,16,64,256,cap",
                        help="KB sizes, comma-separated; 'cap' is MAX_CONFIG_SIZE")
    parser.add_argument("--give-up", type=float, default=30.0)
    parser.add_argument("--results", type=int, default=0,
                        help="measure a result of this many IPs instead of configurations")
    args = parser.parse_args()
    if args.results:
        results(args.results)
        return
    sizes = [MAX_CONFIG_SIZE if s == "cap" else int(s) * 1024 for s in args.sizes.split(",")]
    configs(sizes, args.give_up)


if __name__ == "__main__":
    main()
