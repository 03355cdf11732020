"""Engine benchmark: ADD+CHECK+DEL cycles and 32 parallel containers, vs Go libcni.

Not a test. Needs root, ``ip``, Debian's plugins in /usr/lib/cni and the ``goref`` binary::

    sudo .venv/bin/python tests/benchmarks/bench_engine.py [--goref PATH] [--rounds N] [--what-if]

Each round runs Go's ``goref cycle`` and cnilib's equivalent one after the other on the same
bridge + tuning + portmap list (``goref par`` against cnilib's asyncio driver and against
one thread per container for the parallel case), the order alternating from round to round,
in namespaces the script makes and always removes, with IPAM state and caches in a scratch
directory. The medians of the per-round ratios are printed, with the load average.
``--what-if`` adds a cnilib cycle with ``os.fsync`` made a no-op in this process (what the
durable cache costs on this chain).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from tests.benchmarks.bench_foundation import find_goref  # noqa: E402
from tests.benchmarks.bench_overhead import (  # noqa: E402
    cpu_ticks,
    loadavg,
    stolen_since,
    without,
)

PLUGIN_DIR = "/usr/lib/cni"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def conflist(bridge: str, subnet: str, data_dir: str) -> dict[str, object]:
    """The benchmarked chain: bridge (host-local IPAM) + tuning + portmap, spec 1.0.0."""
    return {
        "cniVersion": "1.0.0",
        "name": f"bench-{bridge}",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "subnet": subnet, "dataDir": data_dir,
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.all.log_martians": "0"}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": False},
        ],
    }


def goref(binary: str, *args: str) -> float:
    env = dict(os.environ, CNI_PATH=PLUGIN_DIR)
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.split()[2])


def cnilib_cycle(path: str, netns: str, n: int, cache: str) -> float:
    from cnilib import CNIConfig, RuntimeConf, conflist_from_file

    net = conflist_from_file(path)
    cni = CNIConfig([PLUGIN_DIR], cache_dir=cache)
    start = time.perf_counter()
    for i in range(n):
        rt = RuntimeConf(container_id=f"bench-{i}", netns=netns, ifname="eth0")
        cni.add_network_list(net, rt)
        cni.check_network_list(net, rt)
        cni.del_network_list(net, rt)
    return time.perf_counter() - start


def cnilib_par(path: str, prefix: str, n: int, cache: str) -> float:
    from cnilib import AsyncCNIConfig, RuntimeConf, conflist_from_file

    net = conflist_from_file(path)
    cni = AsyncCNIConfig([PLUGIN_DIR], cache_dir=cache)
    rts = [RuntimeConf(container_id=f"par-{i}", netns=f"{prefix}{i}", ifname="eth0")
           for i in range(n)]

    async def go() -> None:
        await asyncio.gather(*(cni.add_network_list(net, rt) for rt in rts))
        await asyncio.gather(*(cni.del_network_list(net, rt) for rt in rts))

    start = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - start


def cnilib_par_threads(path: str, prefix: str, n: int, cache: str) -> float:
    from cnilib import CNIConfig, RuntimeConf, conflist_from_file

    net = conflist_from_file(path)
    cni = CNIConfig([PLUGIN_DIR], cache_dir=cache)
    rts = [RuntimeConf(container_id=f"part-{i}", netns=f"{prefix}{i}", ifname="eth0")
           for i in range(n)]

    def each(call: Callable[..., object]) -> None:
        pool = [threading.Thread(target=call, args=(net, rt)) for rt in rts]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    start = time.perf_counter()
    each(cni.add_network_list)
    each(cni.del_network_list)
    return time.perf_counter() - start


def main() -> None:
    """Run both benchmarks and print per-round figures and the median ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goref", default=None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--par", type=int, default=32)
    ap.add_argument("--what-if", action="store_true",
                    help="also time the cycle with os.fsync made a no-op (what durability costs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    binary = find_goref(args.goref)
    tag = secrets.token_hex(2)
    bridge = f"cnbb{tag}"
    namespaces = [f"cnbench{tag}c"] + [f"cnbench{tag}p{i}" for i in range(args.par)]
    work = Path(tempfile.mkdtemp(prefix="cnilib-bench-"))
    try:
        for ns in namespaces:
            ip("netns", "add", ns)
        path = work / "bench.conflist"
        path.write_text(json.dumps(conflist(bridge, "10.231.0.0/16", str(work / "ipam"))))
        cycle_ratios: list[float] = []
        par_ratios: list[float] = []
        thread_ratios: list[float] = []
        nofsync_ratios: list[float] = []
        netns = f"/var/run/netns/{namespaces[0]}"
        prefix = f"/var/run/netns/cnbench{tag}p"
        print(f"load average before: {loadavg()}")
        ticks = cpu_ticks()
        for r in range(args.rounds):
            # Alternate which side goes first, round after round.
            cycle_sides: list[tuple[str, Callable[[], float]]] = [
                ("go", lambda: goref(binary, "cycle", str(path), netns, str(args.cycles))),
                ("cnilib", functools.partial(cnilib_cycle, str(path), netns, args.cycles,
                                             str(work / f"cache-c{r}"))),
            ]
            if args.what_if:
                cycle_sides.append(("no-fsync", functools.partial(
                    without, functools.partial(cnilib_cycle, str(path), netns, args.cycles,
                                               str(work / f"cache-n{r}")), fsync=True)))
            par_sides: list[tuple[str, Callable[[], float]]] = [
                ("go", lambda: goref(binary, "par", str(path), prefix, str(args.par))),
                ("asyncio", functools.partial(cnilib_par, str(path), prefix, args.par,
                                              str(work / f"cache-p{r}"))),
                ("threads", functools.partial(cnilib_par_threads, str(path), prefix, args.par,
                                              str(work / f"cache-t{r}"))),
            ]
            if r % 2:
                cycle_sides.reverse()
                par_sides.reverse()
            cyc = {name: side() for name, side in cycle_sides}
            par = {name: side() for name, side in par_sides}
            g, c = cyc["go"], cyc["cnilib"]
            gp, cp, ct = par["go"], par["asyncio"], par["threads"]
            cycle_ratios.append(c / g)
            if args.what_if:
                nofsync_ratios.append(cyc["no-fsync"] / g)
            par_ratios.append(cp / gp)
            thread_ratios.append(ct / gp)
            print(f"round {r}: cycle go {g / args.cycles * 1e3:.1f} ms, cnilib "
                  f"{c / args.cycles * 1e3:.1f} ms (ratio {c / g:.2f}); par{args.par} go "
                  f"{gp:.2f} s, cnilib asyncio {cp:.2f} s (ratio {cp / gp:.2f}), threads "
                  f"{ct:.2f} s (ratio {ct / gp:.2f}); load {loadavg()}")
        print(f"cycle (bridge+tuning+portmap ADD+CHECK+DEL): cnilib/go median ratio "
              f"{statistics.median(cycle_ratios):.2f} (rounds {min(cycle_ratios):.2f} to "
              f"{max(cycle_ratios):.2f})")
        print(f"par ({args.par} containers ADD then DEL, asyncio): cnilib/go median ratio "
              f"{statistics.median(par_ratios):.2f} (rounds {min(par_ratios):.2f} to "
              f"{max(par_ratios):.2f})")
        print(f"par ({args.par} containers ADD then DEL, threads): cnilib/go median ratio "
              f"{statistics.median(thread_ratios):.2f} (rounds {min(thread_ratios):.2f} to "
              f"{max(thread_ratios):.2f})")
        if nofsync_ratios:
            print(f"what if (fsync a no-op): cycle cnilib/go median ratio "
                  f"{statistics.median(nofsync_ratios):.2f} (rounds {min(nofsync_ratios):.2f} "
                  f"to {max(nofsync_ratios):.2f})")
        print(f"load average after: {loadavg()}; CPU time stolen by the host during the "
              f"rounds: {stolen_since(ticks)}")
    finally:
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
