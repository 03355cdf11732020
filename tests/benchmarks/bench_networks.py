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
(its own process and the plugins it ran). Each side's clock covers the setups and teardowns
only: gocniref starts its clock after ``gocni.New`` and ``Load``, and cnilib's side builds its
``Networks`` / ``AsyncNetworks`` (and, for threads, starts its N worker threads) before its
clock starts. go-cni writes its cache under /var/lib/cni: what a
run leaves there (empty folders) is removed again.

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
from typing import Any

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


def _spent() -> tuple[float, float]:
    """Now, and the CPU seconds of this process and its children so far."""
    return (time.perf_counter(),
            cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN))


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _spent()
    return now[0] - start[0], now[1] - start[1]


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and its children) of ``run()``."""
    start = _spent()
    run()
    return _since(start)


async def atimed(run: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """:func:`timed` for a coroutine, on the running loop."""
    start = _spent()
    await run()
    return _since(start)


def go_side(binary: str, conf_dir: Path, prefix: str, n: int, serial: bool) -> tuple[float,
                                                                                     float]:
    cmd = [binary, "setup", str(conf_dir), prefix, str(n), *(["serial"] if serial else [])]
    env = dict(os.environ, CNI_PATH=PLUGIN_DIR)
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.split()[2]), cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def cnilib_async(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> tuple[
        float, float]:
    from cnilib import AsyncNetworks

    # Built before the clock starts, as gocniref starts its clock after gocni.New and Load.
    nets = AsyncNetworks(conf_dir, [PLUGIN_DIR], cache, max_networks=0, loopback=False)

    async def go() -> tuple[float, float]:
        return await atimed(lambda: _async_round(nets, prefix, n, serial))

    return asyncio.run(go())


async def _async_round(nets: Any, prefix: str, n: int, serial: bool) -> None:
    await asyncio.gather(*(nets.setup(f"cnb-{i}", f"{prefix}{i}", parallel=not serial)
                           for i in range(n)))
    await asyncio.gather(*(nets.teardown(f"cnb-{i}", f"{prefix}{i}") for i in range(n)))


def cnilib_threads(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> tuple[
        float, float]:
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

    threads = timed(layer)[1]
    aio = timed(lambda: asyncio.run(alayer()))[1]
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
    sides: dict[str, Callable[[bool, int], tuple[float, float]]] = {
        "go-cni": lambda serial, r: go_side(binary, work / "net.d", prefix, args.sandboxes,
                                            serial),
        "cnilib asyncio": lambda serial, r: cnilib_async(work / "net.d", prefix, args.sandboxes,
                                                         serial, work / f"cache-a{r}"),
        "cnilib threads": lambda serial, r: cnilib_threads(work / "net.d", prefix,
                                                           args.sandboxes, serial,
                                                           work / f"cache-t{r}"),
    }
    times: dict[tuple[str, bool], list[float]] = {(s, m): [] for s in sides for m in (False,
                                                                                     True)}
    cpus: dict[tuple[str, bool], list[float]] = {key: [] for key in times}
    try:
        for name in names:
            ip("netns", "add", name)
        write_networks(work / "net.d", bridge, work / "ipam", tag)
        ticks = cpu_ticks()
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for serial in (False, True):
                for side in order:
                    wall, cpu = sides[side](serial, r)
                    times[(side, serial)].append(wall)
                    cpus[(side, serial)].append(cpu)
            print(f"round {r}: " + "; ".join(
                f"{side} {'serial' if serial else 'parallel'} {times[(side, serial)][-1]:.2f} s"
                f" (CPU {cpus[(side, serial)][-1]:.2f} s)"
                for serial in (False, True) for side in sides), flush=True)
        for serial in (False, True):
            mode = "serial (SetupSerially / parallel=False)" if serial else \
                "parallel (Setup / parallel=True)"
            go = times[("go-cni", serial)]
            for side in ("cnilib asyncio", "cnilib threads"):
                ratios = [c / g for c, g in zip(times[(side, serial)], go, strict=True)]
                print(f"{args.sandboxes} sandboxes x 2 networks, {mode}: {side}/go-cni median "
                      f"ratio {statistics.median(ratios):.2f} (go median "
                      f"{statistics.median(go):.2f} s, {side} median "
                      f"{statistics.median(times[(side, serial)]):.2f} s; CPU go "
                      f"{statistics.median(cpus[('go-cni', serial)]):.2f} s, {side} "
                      f"{statistics.median(cpus[(side, serial)]):.2f} s)")
        print(f"CPU time stolen by the host during the rounds: {stolen_since(ticks)}")
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
        _leftovers(tag)


if __name__ == "__main__":
    main()
