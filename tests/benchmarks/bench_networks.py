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
per-round ratios cnilib/go is printed (below 1: cnilib is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
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


def go_side(binary: str, conf_dir: Path, prefix: str, n: int, serial: bool) -> float:
    cmd = [binary, "setup", str(conf_dir), prefix, str(n), *(["serial"] if serial else [])]
    env = dict(os.environ, CNI_PATH=PLUGIN_DIR)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.split()[2])


def cnilib_async(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> float:
    from cnilib import AsyncNetworks

    nets = AsyncNetworks(conf_dir, [PLUGIN_DIR], cache, max_networks=0, loopback=False)

    async def go() -> None:
        await asyncio.gather(*(nets.setup(f"cnb-{i}", f"{prefix}{i}", parallel=not serial)
                               for i in range(n)))
        await asyncio.gather(*(nets.teardown(f"cnb-{i}", f"{prefix}{i}") for i in range(n)))

    start = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - start


def cnilib_threads(conf_dir: Path, prefix: str, n: int, serial: bool, cache: Path) -> float:
    from cnilib import Networks

    nets = Networks(conf_dir, [PLUGIN_DIR], cache, max_networks=0, loopback=False)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(lambda i: nets.setup(f"cnb-{i}", f"{prefix}{i}", parallel=not serial),
                      range(n)))
        list(pool.map(lambda i: nets.teardown(f"cnb-{i}", f"{prefix}{i}"), range(n)))
    return time.perf_counter() - start


def main() -> None:
    """Run the rounds and print per-round figures and the median ratios."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--gocniref", default=None)
    ap.add_argument("--sandboxes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    binary = find_gocniref(args.gocniref)
    tag = secrets.token_hex(2)
    bridge = f"cnbn{tag}"
    names = [f"cnbn{tag}s{i}" for i in range(args.sandboxes)]
    prefix = f"/var/run/netns/cnbn{tag}s"
    work = Path(tempfile.mkdtemp(prefix="cnilib-bench-"))
    sides: dict[str, Callable[[bool, int], float]] = {
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
    try:
        for name in names:
            ip("netns", "add", name)
        write_networks(work / "net.d", bridge, work / "ipam", tag)
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for serial in (False, True):
                for side in order:
                    times[(side, serial)].append(sides[side](serial, r))
            print(f"round {r}: " + "; ".join(
                f"{side} {'serial' if serial else 'parallel'} {times[(side, serial)][-1]:.2f} s"
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
                      f"{statistics.median(times[(side, serial)]):.2f} s)")
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
