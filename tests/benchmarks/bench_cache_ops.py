"""What the runtime API itself costs per verb, with no process: CPU time and system calls.

Not a test (the suite never times anything); no root, no plugins::

    .venv/bin/python tests/benchmarks/bench_cache_ops.py [--cycles N] [--rounds N]
        [--tree DIR ...] [--what-if] [--entries N]

The chain is three plugins run by :class:`cnilib.testing.FakeExecutor` (Python functions), so
what is measured is the engine, the cache and the locks: per ADD, CHECK and DEL the median CPU
time of this process over ``--rounds`` rounds of ``--cycles`` cycles (real ``fsync``; per
cycle also split into user, Python, and system, the kernel's side of the calls, and its wall
time), and the
calls it makes to the ``os`` and ``fcntl`` functions that are system calls. ``--tree DIR``
adds the cnilib of another checkout as a side (each side runs in its own interpreter, the
sides alternate every round): how a change is shown A/B, e.g. ``mkdir -p /tmp/old && git
archive HEAD~1 cnilib schemas | tar -x -C /tmp/old`` then ``--tree /tmp/old --tree .``.
``--what-if`` adds the first tree twice more, with ``fsync`` made a no-op (``#nofsync``) and
then also without the cache's locks (``#nolock``): what the durable cache and the locks cost.
``--entries N`` first adds N other attachments, so that what grows with the cache shows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
RESULT = (b'{"cniVersion":"1.0.0","ips":[{"address":"10.99.0.2/24","gateway":"10.99.0.1"}],'
          b'"dns":{}}')
VERBS = ("add", "check", "del")
#: The functions counted: each is one system call (``listdir`` a few).
COUNTED = (("os", "open"), ("os", "close"), ("os", "stat"), ("os", "fstat"),
           ("os", "unlink"), ("os", "rename"), ("os", "fsync"), ("os", "listdir"),
           ("os", "mkdir"), ("fcntl", "flock"))


def _side(cycles: int, rounds: int, mode: str, entries: int) -> dict[str, Any]:
    """Run in the side's interpreter: the CPU per verb (ms) and the calls per verb.

    ``mode``: ``real``; ``nofsync`` (``os.fsync`` a no-op); ``nolock`` (that, and no
    attachment or GC lock): what the durable cache and the locks cost.
    """
    import contextlib
    import fcntl

    from cnilib.cache import ResultCache

    if mode in ("nofsync", "nolock"):
        os.fsync = lambda fd: None
    if mode == "nolock":
        ResultCache.lock = lambda *a, **k: contextlib.nullcontext()  # type: ignore[method-assign,assignment]

    from cnilib import CNIConfig, RuntimeConf, conflist_from_bytes
    from cnilib.protocol import Command, Completed
    from cnilib.testing import FakeExecutor

    def handler(inv: Any) -> Completed:
        return Completed(0, RESULT if inv.command == Command.ADD else b"", b"", 0.0)

    doc = {"cniVersion": "1.0.0", "name": "bench-noop",
           "plugins": [{"type": t} for t in ("noop-a", "noop-b", "noop-c")]}
    net = conflist_from_bytes(json.dumps(doc).encode())
    # Removed at exit even when the side fails (a --tree that does not import, say).
    scratch = tempfile.TemporaryDirectory(prefix="cnilib-bench-cache-")
    work = scratch.name
    cni = CNIConfig(["/nonexistent"], cache_dir=work, executor=FakeExecutor(handler))

    def verb(name: str, rt: RuntimeConf) -> Callable[[], object]:
        method = getattr(cni, f"{name}_network_list")
        return lambda: method(net, rt)

    for i in range(entries):  # other attachments: what a listing of the folders costs
        cni.add_network_list(net, RuntimeConf(container_id=f"other{i}", netns="/n",
                                              ifname="eth0"))
    cpu: dict[str, list[float]] = {key: [] for key in (*VERBS, "user", "sys", "wall")}
    for r in range(rounds + 1):  # round 0 warms up (imports, the folders' creation)
        spent = dict.fromkeys(VERBS, 0.0)
        before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.perf_counter()
        for i in range(cycles):
            rt = RuntimeConf(container_id=f"r{r}-{i}", netns="/n", ifname="eth0")
            for v in VERBS:
                start = time.process_time()
                verb(v, rt)()
                spent[v] += time.process_time() - start
        spent["wall"] = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_SELF)
        spent["user"] = after.ru_utime - before.ru_utime
        spent["sys"] = after.ru_stime - before.ru_stime
        if r:
            for key, t in spent.items():
                cpu[key].append(t / cycles * 1e3)
    modules = {"os": os, "fcntl": fcntl}
    calls: dict[str, dict[str, int]] = {}
    rt = RuntimeConf(container_id="counted", netns="/n", ifname="eth0")
    for v in VERBS:
        counts = {name: 0 for _, name in COUNTED}
        saved = {}
        for mod, name in COUNTED:
            real = getattr(modules[mod], name)
            saved[mod, name] = real

            def call(*a: Any, _n: str = name, _r: Any = real, _c: dict[str, int] = counts,
                     **k: Any) -> Any:
                _c[_n] += 1
                return _r(*a, **k)

            setattr(modules[mod], name, call)
        try:
            verb(v, rt)()
        finally:
            for (mod, name), real in saved.items():
                setattr(modules[mod], name, real)
        calls[v] = counts
    locks = os.path.join(work, "locks")
    left = sorted(os.listdir(locks)) if os.path.isdir(locks) else []
    scratch.cleanup()
    return {"cpu": {v: statistics.median(t) for v, t in cpu.items()}, "calls": calls,
            "lock_files_left": len(left) - ("gc" in left)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tree", action="append", default=[])
    ap.add_argument("--what-if", action="store_true",
                    help="also the first tree with fsync a no-op, then also without locks")
    ap.add_argument("--entries", type=int, default=0,
                    help="other attachments in the cache during the cycles")
    ap.add_argument("--side", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(_side(args.cycles, 1, args.side, args.entries)))
        return
    trees = [os.path.abspath(t) for t in args.tree] or [str(REPO)]
    if args.what_if:
        trees += [f"{trees[0]}#nofsync", f"{trees[0]}#nolock"]
    keys = [*VERBS, "user", "sys", "wall"]
    cpu: dict[str, dict[str, list[float]]] = {t: {k: [] for k in keys} for t in trees}
    calls: dict[str, Any] = {}
    load = os.getloadavg()
    for r in range(args.rounds):
        for tree in trees[r % len(trees):] + trees[:r % len(trees)]:
            where, _, mode = tree.partition("#")
            env = dict(os.environ, PYTHONPATH=where)
            out = subprocess.run([sys.executable, __file__, "--side", mode or "real",
                                  "--cycles", str(args.cycles), "--entries", str(args.entries)],
                                 env=env, check=True,
                                 capture_output=True, text=True, cwd=where).stdout
            got = json.loads(out)
            for key in keys:
                cpu[tree][key].append(got["cpu"][key])
            calls[tree] = got
    print(f"-- engine, no process, {args.cycles} cycles x {args.rounds} rounds, load "
          f"{load[0]:.2f} -> {os.getloadavg()[0]:.2f}; CPU ms per verb (medians "
          "of the rounds)")
    for tree in trees:
        per = {k: statistics.median(t) for k, t in cpu[tree].items()}
        print(f"{tree}: " + ", ".join(f"{v.upper()} {per[v]:.3f}" for v in VERBS)
              + f"; cycle {sum(per[v] for v in VERBS):.3f} ms (user {per['user']:.3f}, system "
              f"{per['sys']:.3f}; wall {per['wall']:.3f}); lock files left after the cycles: "
              f"{calls[tree]['lock_files_left']}")
        for v in VERBS:
            counts = calls[tree]["calls"][v]
            print(f"  {v.upper():5s} " + ", ".join(f"{k} {n}" for k, n in counts.items() if n)
                  + f" (total {sum(counts.values())})")


if __name__ == "__main__":
    main()
