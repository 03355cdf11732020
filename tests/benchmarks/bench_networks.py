"""Runtime-layer benchmark: N sandboxes x 2 networks, setup then teardown, vs containerd's go-cni.

Not a test. Needs root, ``ip``, Debian's plugins in /usr/lib/cni and the ``gocniref`` binary
that ``.ci/setup.sh`` builds from ``tests/helpers/gocniref``::

    sudo .venv/bin/python tests/benchmarks/bench_networks.py [--sandboxes N] [--rounds R]

Both sides load the same directory of two networks (bridge and ptp, host-local IPAM, spec
1.0.0), set up N sandboxes at once (go: one goroutine each; cnilib: one asyncio task each with
:class:`cnilib.AsyncNetworks`, and one thread each with :class:`cnilib.Networks`), then tear
them all down at once. Each mode runs twice: a sandbox's networks attached concurrently
(go-cni ``Setup``, cnilib ``parallel=True``) and one after the other (``SetupSerially``,
``parallel=False``). The sides alternate which goes first in each round; the median of the
per-round ratios cnilib/go is printed (below 1: cnilib is faster), with each side's CPU time
(its own process and the plugins it ran; cnilib's plugins not yet reaped when its clock stops
are reaped first, or their CPU would not count). Then, per side, the runtime's own part:
its CPU (plugins excluded), how long its threads waited on the run queue (runnable, while
the plugins had the CPUs; ``/proc/<pid>/task/<tid>/schedstat``) and how often they were
preempted: gocniref measures its own and prints it. Each side's clock covers the setups and
teardowns only: gocniref starts its clock after ``gocni.New`` and ``Load``, and cnilib's side
builds its ``Networks`` / ``AsyncNetworks`` (and, for threads, starts its N worker threads)
before its clock starts. go-cni writes its cache under /var/lib/cni: what a run leaves there
(empty folders) is removed again.

``--layer`` (no root, no plugin) measures the runtime layer's own CPU instead: a sandbox's
setup and teardown through :class:`cnilib.Networks` / :class:`cnilib.AsyncNetworks` with
their ``CNIConfig`` and cache replaced by stand-ins that do nearly nothing, so what is
measured is the plans, the container lock (a real one, on /dev/shm where there is one), the
attachments and the aggregate result::

    .venv/bin/python tests/benchmarks/bench_networks.py --layer [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
from tests.benchmarks.bench_overhead import cpu_seconds, cpu_ticks, stolen_since  # noqa: E402

PLUGIN_DIR = "/usr/lib/cni"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def write_networks(conf_dir: Path, bridge: str, data_dir: Path, tag: str) -> None:
    """The two benchmarked networks."""
    nets = {
        "10-bridge.conflist": {"cniVersion": "1.0.0", "name": f"bench-br-{tag}", "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "subnet": "10.232.0.0/16",
                      "dataDir": str(data_dir)}}]},
        "20-ptp.conflist": {"cniVersion": "1.0.0", "name": f"bench-pt-{tag}", "plugins": [
            {"type": "ptp", "ipMasq": False,
             "ipam": {"type": "host-local", "subnet": "10.233.0.0/16",
                      "dataDir": str(data_dir)}}]},
    }
    conf_dir.mkdir()
    for name, body in nets.items():
        (conf_dir / name).write_text(json.dumps(body))


def find_gocniref(given: str | None) -> str:
    for candidate in (given, os.environ.get("GOCNIREF"), str(ROOT / ".venv/bin/gocniref"),
                      shutil.which("gocniref")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("gocniref not found: run .ci/setup.sh (or pass --gocniref)")


class Spent(NamedTuple):
    """What one side spent on a round: wall and CPU seconds (the runtime and its plugins), and
    the runtime's own part: CPU seconds, seconds its threads waited on the run queue
    (runnable but not running: -1 where the kernel keeps no schedstat) and involuntary
    context switches."""

    wall: float
    cpu: float
    own_cpu: float
    queued: float
    preempted: int


def _waits() -> dict[str, int] | None:
    """Nanoseconds each thread of this process has waited on the run queue, by thread id."""
    waits: dict[str, int] = {}
    for task in Path("/proc/self/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            waits[task.parent.name] = int(task.read_text().split()[1])
    return waits or None


def _snapshot() -> tuple[float, float, float, int, dict[str, int] | None]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = own.ru_utime + own.ru_stime
    return (time.perf_counter(), own_cpu + cpu_seconds(resource.RUSAGE_CHILDREN), own_cpu,
            own.ru_nivcsw, _waits())


def _since(start: tuple[float, float, float, int, dict[str, int] | None]) -> Spent:
    from cnilib._exec.spawn import REAPER

    wall = time.perf_counter() - start[0]
    # A plugin's CPU reaches RUSAGE_CHILDREN when it is reaped, and cnilib reaps a plugin a
    # little after its exit: the last ones of a round would not count yet.
    REAPER.due(math.inf)
    now = _snapshot()
    # The run-queue wait of the threads alive at the end (one started since counts from zero),
    # as gocniref counts its own.
    before, after = start[4] or {}, now[4]
    queued = -1.0 if after is None else sum(
        wait - before.get(tid, 0) for tid, wait in after.items()) / 1e9
    return Spent(wall, now[1] - start[1], now[2] - start[2], queued, now[3] - start[3])


def timed(run: Callable[[], object]) -> Spent:
    """What ``run()`` spent (see :class:`Spent`)."""
    start = _snapshot()
    run()
    return _since(start)


async def atimed(run: Callable[[], Awaitable[object]]) -> Spent:
    """:func:`timed` for a coroutine, on the running loop."""
    start = _snapshot()
    await run()
    return _since(start)


def go_side(binary: str, conf_dir: Path, prefix: str, n: int, serial: bool) -> Spent:
    cmd = [binary, "setup", str(conf_dir), prefix, str(n), *(["serial"] if serial else [])]
    env = dict(os.environ, CNI_PATH=PLUGIN_DIR)
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    # "setup N wall own_cpu queued preempted": see tests/helpers/gocniref/main.go.
    _, _, wall, own_cpu, queued, preempted = out.stdout.split()
    return Spent(float(wall), cpu_seconds(resource.RUSAGE_CHILDREN) - cpu, float(own_cpu),
                 float(queued), int(preempted))


def cnilib_async(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> Spent:
    from cnilib import AsyncNetworks

    # Built before the clock starts, as gocniref starts its clock after gocni.New and Load.
    nets = AsyncNetworks(conf_dir, [PLUGIN_DIR], cache, max_networks=0, loopback=False)

    async def go() -> Spent:
        return await atimed(lambda: _async_round(nets, prefix, n, serial))

    return asyncio.run(go())


async def _async_round(nets: Any, prefix: str, n: int, serial: bool) -> None:
    await asyncio.gather(*(nets.setup(f"cnb-{i}", f"{prefix}{i}", parallel=not serial)
                           for i in range(n)))
    await asyncio.gather(*(nets.teardown(f"cnb-{i}", f"{prefix}{i}") for i in range(n)))


def cnilib_threads(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> Spent:
    from cnilib import Networks

    # Built before the clock starts (as gocniref's New and Load), and so are the threads.
    nets = Networks(conf_dir, [PLUGIN_DIR], cache, max_networks=0, loopback=False)
    with ThreadPoolExecutor(max_workers=n) as pool:
        ready = threading.Barrier(n)
        list(pool.map(lambda _: ready.wait(), range(n)))  # all n workers started, off the clock
        return timed(lambda: _threads_round(pool, nets, prefix, n, serial))


def _threads_round(pool: ThreadPoolExecutor, nets: Any, prefix: str, n: int,
                   serial: bool) -> None:
    list(pool.map(lambda i: nets.setup(f"cnb-{i}", f"{prefix}{i}", parallel=not serial),
                  range(n)))
    list(pool.map(lambda i: nets.teardown(f"cnb-{i}", f"{prefix}{i}"), range(n)))


class _StandIn:
    """``CNIConfig`` and its cache as cheap as can be: what a setup and teardown cost beyond
    them is the runtime layer's own work (plans, container lock, attachments, result)."""

    def __init__(self, root: Path) -> None:
        from cnilib.testing import make_result
        from cnilib.types import parse_result

        self.root = str(root)
        self.result = parse_result(json.dumps(make_result("1.0.0")).encode())
        self.added: dict[tuple[str, str, str], tuple[bytes, str]] = {}

    def add_network_list(self, net: Any, rt: Any, *, timeout: float | None = None) -> Any:
        self.added[(net.name, rt.container_id, rt.ifname)] = (net.bytes, rt.netns)
        return self.result

    def del_network_list(self, net: Any, rt: Any, *, timeout: float | None = None) -> None:
        del self.added[(net.name, rt.container_id, rt.ifname)]

    def attachments(self, container_id: str = "") -> tuple[Any, ...]:
        from cnilib.cache import CacheEntry

        return tuple(CacheEntry(network_name=name, container_id=cid, ifname=ifname,
                                config=config, netns=netns)
                     for (name, cid, ifname), (config, netns) in self.added.items()
                     if cid == container_id)


class _AsyncStandIn(_StandIn):
    """The same, for ``AsyncCNIConfig``'s coroutines."""

    async def add_network_list(self, net: Any, rt: Any, *,
                               timeout: float | None = None) -> Any:
        return super().add_network_list(net, rt)

    async def del_network_list(self, net: Any, rt: Any, *,  # type: ignore[override]
                               timeout: float | None = None) -> None:
        super().del_network_list(net, rt)


def _layer_round(work: Path, cache: str, parallel: bool, sandboxes: int) -> dict[str, float]:
    """One round of :func:`layer_cost`: the layer's own CPU per sandbox, by driver (us)."""
    from cnilib import AsyncNetworks, Networks

    netns = str(work / "netns")
    nets = Networks(work / "net.d", ["/fake"], work / cache, max_networks=0, loopback=False)
    anets = AsyncNetworks(work / "net.d", ["/fake"], work / cache, max_networks=0,
                          loopback=False)
    nets.cni = nets._cache = _StandIn(work / cache)  # type: ignore[assignment]
    anets.cni = anets._cache = _AsyncStandIn(work / cache)  # type: ignore[assignment]

    def layer() -> None:
        for i in range(sandboxes):
            nets.setup(f"l{i}", netns, parallel=parallel)
            nets.teardown(f"l{i}", netns)

    async def alayer() -> None:
        for i in range(sandboxes):
            await anets.setup(f"l{i}", netns, parallel=parallel)
            await anets.teardown(f"l{i}", netns)

    threads = timed(layer).cpu
    aio = timed(lambda: asyncio.run(alayer())).cpu
    return {"threads": threads / sandboxes * 1e6, "asyncio": aio / sandboxes * 1e6}


def layer_cost(rounds: int, sandboxes: int = 1000) -> None:
    """Print the runtime layer's own CPU per sandbox (setup + teardown), fake plugins."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None  # a tmpfs: fsync costs nothing
    work = Path(tempfile.mkdtemp(prefix="cnilib-layer-", dir=base))
    write_networks(work / "net.d", "unused", work / "ipam", "layer")
    (work / "netns").touch()  # teardown looks whether the namespace is still there
    rows: dict[tuple[str, str], list[float]] = {}
    try:
        for r in range(rounds):
            for parallel in (True, False):
                mode = "parallel" if parallel else "serial"
                for side, cost in _layer_round(work, f"c{r}{mode}", parallel,
                                               sandboxes).items():
                    rows.setdefault((side, mode), []).append(cost)
        for (side, mode), costs in rows.items():
            print(f"runtime layer's own CPU, {side} {mode}: median "
                  f"{statistics.median(costs):.0f} us per sandbox (setup + teardown, "
                  f"2 networks; rounds: {', '.join(f'{c:.0f}' for c in costs)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _median(rows: list[Spent], field: str) -> float:
    return float(statistics.median(getattr(row, field) for row in rows))


def _leftovers(tag: str) -> None:
    """Remove what go-cni left under /var/lib/cni for this run's networks."""
    results = Path("/var/lib/cni/results")
    for path in results.glob(f"bench-*-{tag}-*"):
        path.unlink(missing_ok=True)
    for folder in (results, results.parent):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: another user's cache stays


def main() -> None:
    """Run the rounds and print per-round figures and the median ratios."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--gocniref", default=None)
    ap.add_argument("--sandboxes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layer", action="store_true",
                    help="the runtime layer's own CPU, with fake plugins (no root)")
    args = ap.parse_args()
    if args.layer:
        layer_cost(args.rounds)
        return
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    binary = find_gocniref(args.gocniref)
    tag = secrets.token_hex(2)
    bridge = f"cnbn{tag}"
    names = [f"cnbn{tag}s{i}" for i in range(args.sandboxes)]
    prefix = f"/var/run/netns/cnbn{tag}s"
    work = Path(tempfile.mkdtemp(prefix="cnilib-bench-"))
    sides: dict[str, Callable[[bool, int], Spent]] = {
        "go-cni": lambda serial, r: go_side(binary, work / "net.d", prefix, args.sandboxes,
                                            serial),
        "cnilib asyncio": lambda serial, r: cnilib_async(work / "net.d", prefix, args.sandboxes,
                                                         serial, work / f"cache-a{r}"),
        "cnilib threads": lambda serial, r: cnilib_threads(work / "net.d", prefix,
                                                           args.sandboxes, serial,
                                                           work / f"cache-t{r}"),
    }
    spent: dict[tuple[str, bool], list[Spent]] = {(s, m): [] for s in sides for m in (False,
                                                                                     True)}
    try:
        for name in names:
            ip("netns", "add", name)
        write_networks(work / "net.d", bridge, work / "ipam", tag)
        ticks = cpu_ticks()
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for serial in (False, True):
                for side in order:
                    spent[(side, serial)].append(sides[side](serial, r))
            print(f"round {r}: " + "; ".join(
                f"{side} {'serial' if serial else 'parallel'} {spent[(side, serial)][-1].wall:.2f}"
                f" s (CPU {spent[(side, serial)][-1].cpu:.2f} s)"
                for serial in (False, True) for side in sides), flush=True)
        for serial in (False, True):
            mode = "serial (SetupSerially / parallel=False)" if serial else \
                "parallel (Setup / parallel=True)"
            go = spent[("go-cni", serial)]
            for side in ("cnilib asyncio", "cnilib threads"):
                ours = spent[(side, serial)]
                ratios = [c.wall / g.wall for c, g in zip(ours, go, strict=True)]
                print(f"{args.sandboxes} sandboxes x 2 networks, {mode}: {side}/go-cni median "
                      f"ratio {statistics.median(ratios):.2f} (go median "
                      f"{_median(go, 'wall'):.2f} s, {side} median {_median(ours, 'wall'):.2f}"
                      f" s; CPU go {_median(go, 'cpu'):.2f} s, {side} "
                      f"{_median(ours, 'cpu'):.2f} s)")
            for side in sides:
                print(f"   {side} {'serial' if serial else 'parallel'}, the runtime's own part "
                      f"(medians): CPU {_median(spent[(side, serial)], 'own_cpu'):.3f} s, "
                      f"waiting on the run queue {_median(spent[(side, serial)], 'queued'):.3f}"
                      f" s, preempted {_median(spent[(side, serial)], 'preempted'):.0f} times")
        print(f"CPU time stolen by the host during the rounds: {stolen_since(ticks)}")
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
        _leftovers(tag)


if __name__ == "__main__":
    main()
