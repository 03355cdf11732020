"""Load: many attachments at once, from asyncio and from four processes, with a GC mid-way.

Rules of this file (issue 7, the "Load" suite):

* Real parts only: Debian's bridge + host-local (``ipMasq`` off, a bridge and a /24 of the
  test's own, host-local's ``dataDir`` and the cache in the test's scratch directory), one
  namespace per container, made by the test.
* Before the load, :data:`GARBAGE` attachments are ADDed and then forgotten by the runtime:
  they are in no valid set, so the GC must collect them, which shows it really ran.
* The GC is started mid-way (once a quarter of the ADDs returned) with the valid set a runtime
  would pass at that moment: every attachment whose ADD has returned or is in progress. It must
  free none of them: afterwards each still has its cached result, its ``eth0`` with the
  result's address inside its namespace, and the host-local reservation of that address, held
  in its own name. An attachment whose ADD began after the GC was started is not in the valid
  set: it may be collected (its ADD finished before the GC took its lock) or not (its ADD ran
  after the GC), but it is either whole or wholly gone, never half.
* A waiting GC is not overtaken ([the result cache](cache.md), section "Locks"): it waits for
  the ADDs in progress, and ADDs that start while it waits wait behind it. In the asyncio
  variant every ADD is in progress from the start, so the GC runs once they all returned. In
  the process variant the four workers ADD one after the other without a pause: the GC runs
  in the middle of that stream, and returns before the last ADDs have.
* No two live attachments hold one address.
* After the DELs nothing is left: no reservation file in ``dataDir`` (host-local's own
  ``lock`` and ``last_reserved_ip.0`` stay, as after any DEL), no port on the bridge, no
  interface but ``lo`` in any namespace, no file in the cache (entry, record, temp or lock
  file) but the GC lock, and no namespace once the test deleted them.
* The normal run makes :data:`N` = 40 attachments per variant; ``CNILIB_LONG=1`` makes 200
  (the long variant; ``docs/guarantees.md``, section *Long runs*, has the command that runs
  every long variant). Each test prints its figures.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import cnilib
from cnilib.aio import AsyncCNIConfig
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList
from cnilib.protocol import RuntimeConf
from tests.integration.helpers import Scene, container_ips, result_json, unique_id
from tests.netns import Netns, netns_exists, sh

pytestmark = pytest.mark.netns

WORKER = Path(__file__).resolve().parent.parent / "helpers" / "load_worker.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(cnilib.__file__).resolve().parent.parent)}
LONG = os.environ.get("CNILIB_LONG") == "1"
#: Attachments per variant.
N = 200 if LONG else 40
#: Runtime processes of the multi-process variant.
PROCESSES = 4
#: Attachments ADDed before the load and left out of every valid set.
GARBAGE = 2
#: What host-local keeps in its ``dataDir`` after every address is released.
HOST_LOCAL_OWN = frozenset({"lock", "last_reserved_ip.0"})


def load_chain(scene: Scene, bridge: str, subnet: ipaddress.IPv4Network) -> NetworkConfigList:
    """bridge + host-local on the test's bridge and subnet, ``ipMasq`` off."""
    return scene.conflist([{"type": "bridge", "bridge": bridge, "ipMasq": False,
                            "ipam": scene.host_local(subnet)}])


def eth0_addresses(ns: Netns) -> list[str] | None:
    """The IPv4 ``address/prefix`` of ``eth0`` in ``ns``, or ``None`` when there is no eth0."""
    for link in json.loads(ns.run("ip", "-j", "addr", "show").stdout):
        if link["ifname"] == "eth0":
            return sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                          if a.get("family") == "inet")
    return None


def holders(scene: Scene) -> dict[str, str]:
    """host-local's reservations: address -> the container ID written in its file."""
    held: dict[str, str] = {}
    for path in scene.ipam_dir.rglob("*"):
        try:
            ipaddress.ip_address(path.name)
        except ValueError:
            continue
        held[path.name] = path.read_text().split()[0]
    return held


def inspect(
    scene: Scene, cni: CNIConfig, namespaces: dict[str, Netns]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each attachment's state: ``(whole, broken)``.

    ``whole`` maps the container ID of every attachment that is whole (cached result, ``eth0``
    with exactly the result's addresses, host-local reservations of those addresses in its own
    name) to its addresses. ``broken`` maps every attachment that is neither whole nor wholly
    gone (no cache entry or record, no ``eth0``, no reservation) to what was found.
    """
    entries = {e.container_id: e for e in cni.get_cached_attachments()}
    held = holders(scene)
    whole: dict[str, list[str]] = {}
    broken: dict[str, list[str]] = {}
    for cid, ns in namespaces.items():
        entry = entries.get(cid)
        present = eth0_addresses(ns)
        reserved = sorted(ip for ip, holder in held.items() if holder == cid)
        if entry is None and present is None and not reserved:
            continue
        wanted = sorted(container_ips(entry.result or {}, ns)) if entry is not None else []
        if (entry is not None and not entry.in_progress and wanted and present == wanted
                and reserved == sorted(a.split("/")[0] for a in wanted)):
            whole[cid] = wanted
        else:
            broken[cid] = [f"cache: {entry!r}", f"eth0: {present}", f"reserved: {reserved}"]
    return whole, broken


def leftovers(scene: Scene, bridge: str, namespaces: Iterable[Netns]) -> list[str]:
    """Everything the DELs may not leave behind, named."""
    found: list[str] = []
    for path in sorted(scene.ipam_dir.rglob("*")):
        if path.is_file() and path.name not in HOST_LOCAL_OWN:
            found.append(f"dataDir file {path.relative_to(scene.ipam_dir)}")
    ports = sh("ip", "-j", "link", "show", "master", bridge, check=False)
    if ports.returncode == 0 and ports.stdout.strip():
        found += [f"port {p['ifname']} on {bridge}" for p in json.loads(ports.stdout)]
    for ns in namespaces:
        links = json.loads(ns.run("ip", "-j", "link", "show").stdout)
        found += [f"{link['ifname']} in {ns.name}" for link in links if link["ifname"] != "lo"]
    for folder, _, files in os.walk(scene.cache_dir):
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), scene.cache_dir)
            if relative != os.path.join("locks", "gc"):
                found.append(f"cache file {relative}")
    return found


def delete_namespaces(namespaces: Iterable[Netns]) -> list[str]:
    """Delete the test's namespaces; the names of those still there afterwards."""
    for ns in namespaces:
        sh("ip", "netns", "delete", ns.name)
    return [ns.name for ns in namespaces if netns_exists(ns.name)]


def add_garbage(
    scene: Scene, net: NetworkConfigList, make_netns: Callable[[], Netns]
) -> dict[str, Netns]:
    """:data:`GARBAGE` attachments ADDed now and left out of every valid set."""
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    garbage = {unique_id(): make_netns() for _ in range(GARBAGE)}
    for cid, ns in garbage.items():
        cni.add_network_list(net, RuntimeConf(cid, ns.path, "eth0"))
    return garbage


def check_after_gc(
    scene: Scene,
    namespaces: dict[str, Netns],
    garbage: dict[str, Netns],
    valid: set[str],
    results: dict[str, dict[str, Any]],
) -> tuple[int, int]:
    """The assertions once every ADD and the GC returned; ``(whole, collected)`` counts."""
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    whole, broken = inspect(scene, cni, {**namespaces, **garbage})
    assert broken == {}
    assert set(garbage).isdisjoint(whole), "the GC left a garbage attachment"
    assert valid <= set(whole), f"the GC freed live attachments: {sorted(valid - set(whole))}"
    for cid in whole:
        # What is there is what the ADD returned.
        assert whole[cid] == sorted(container_ips(results[cid], namespaces[cid]))
    addresses = [a for cid in whole for a in whole[cid]]
    assert len(addresses) == len(set(addresses)), "two attachments hold one address"
    return len(whole), len(namespaces) - len(whole)


def test_asyncio_attachments_at_once_with_a_gc_mid_way(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """N ADDs started together on one event loop; GC when a quarter returned; then N DELs."""
    bridge = make_bridge_name()
    net = load_chain(scene, bridge, make_subnet())
    garbage = add_garbage(scene, net, make_netns)
    namespaces = {unique_id(): make_netns() for _ in range(N)}
    rts = {cid: RuntimeConf(cid, ns.path, "eth0") for cid, ns in namespaces.items()}
    cni = AsyncCNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    results: dict[str, dict[str, Any]] = {}
    begun: set[str] = set()
    figures: dict[str, Any] = {"attachments": N}

    valid: set[str] = set()
    gcs: list[asyncio.Task[None]] = []

    async def collect() -> None:
        await cni.gc_network_list(net, [(cid, "eth0") for cid in valid])
        figures["ADDs returned when the GC returned"] = len(results)

    async def add(cid: str) -> None:
        begun.add(cid)
        results[cid] = result_json(await cni.add_network_list(net, rts[cid]))
        if len(results) == N // 4:
            valid.update(begun)  # every ADD returned or in progress
            figures["ADDs returned when the GC started"] = len(results)
            gcs.append(asyncio.create_task(collect()))

    async def load() -> None:
        await asyncio.gather(*(add(cid) for cid in rts))
        await asyncio.gather(*gcs)

    async def delete() -> None:
        await asyncio.gather(*(cni.del_network_list(net, rt) for rt in rts.values()))

    with asyncio.Runner() as runner:  # one event loop for the whole test, as a runtime has
        began = time.monotonic()
        runner.run(load())
        assert len(gcs) == 1
        figures["load seconds"] = round(time.monotonic() - began, 1)
        figures["whole"], figures["collected"] = check_after_gc(scene, namespaces, garbage,
                                                                valid, results)
        began = time.monotonic()
        runner.run(delete())
        figures["DEL seconds"] = round(time.monotonic() - began, 1)
    everything = [*namespaces.values(), *garbage.values()]
    left = leftovers(scene, bridge, everything)
    left += [f"namespace {name}" for name in delete_namespaces(everything)]
    figures["leaks"] = len(left)
    print(f"\nload, asyncio: {figures}")
    assert left == []


def read_lines(proc: subprocess.Popen[str], index: int,
               lines: queue.Queue[tuple[int, str]]) -> None:
    """Forward a worker's output lines to ``lines``; ``(index, "")`` at its end."""
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            lines.put((index, line.rstrip("\n")))
    lines.put((index, ""))


def test_four_processes_with_a_gc_from_the_parent_mid_way(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """Four runtime processes ADD N/4 each; the parent GCs when a quarter returned; then DEL.

    The workers ADD without a pause: the GC waits for the (at most four) ADDs in progress, the
    ADDs that start meanwhile wait behind it, and it returns in the middle of the stream
    (before the GC lock had its gate, such a stream kept it waiting to the end).
    """
    bridge = make_bridge_name()
    net = load_chain(scene, bridge, make_subnet())
    garbage = add_garbage(scene, net, make_netns)
    namespaces = {unique_id(): make_netns() for _ in range(N)}
    conflist = scene.root / "load.conflist"
    conflist.write_bytes(net.bytes)
    cids = list(namespaces)
    shares = [cids[i::PROCESSES] for i in range(PROCESSES)]
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    procs: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []
    results: dict[str, dict[str, Any]] = {}
    begun: set[str] = set()
    failures: list[str] = []
    figures: dict[str, Any] = {"attachments": N, "processes": PROCESSES}
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    gc: threading.Thread | None = None
    valid: set[str] = set()
    gc_errors: list[BaseException] = []

    def collect() -> None:
        try:
            cni.gc_network_list(net, [(cid, "eth0") for cid in valid])
            figures["ADDs returned when the GC returned"] = len(results)
        except BaseException as err:  # handed to the test thread
            gc_errors.append(err)

    try:
        began = time.monotonic()
        for index, share in enumerate(shares):
            job = {"cache": str(scene.cache_dir), "path": scene.path, "conflist": str(conflist),
                   "attachments": [[cid, namespaces[cid].path] for cid in share]}
            proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(job)], env=ENV,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(proc)
            readers.append(threading.Thread(target=read_lines, args=(proc, index, lines)))
            readers[-1].start()
        ready = 0
        while ready < PROCESSES:
            index, line = lines.get(timeout=300)
            word, _, rest = line.partition(" ")
            if word == "begin":
                begun.add(rest)
            elif word == "added":
                cid, _, body = rest.partition(" ")
                results[cid] = json.loads(body)
            elif word == "ready":
                ready += 1
            else:
                failures.append(f"worker {index}: {line or 'exited early'}")
                if not line:
                    break
            if gc is None and len(results) >= N // 4:
                valid = set(begun)  # every ADD returned or in progress
                figures["ADDs begun when the GC started"] = len(valid)
                gc = threading.Thread(target=collect)
                gc.start()
        assert gc is not None
        gc.join(300)
        assert not gc.is_alive()
        assert figures["ADDs returned when the GC returned"] < N  # not starved to the end
        figures["load seconds"] = round(time.monotonic() - began, 1)
        assert failures == []
        assert gc_errors == []
        figures["whole"], figures["collected"] = check_after_gc(scene, namespaces, garbage,
                                                                valid, results)
        began = time.monotonic()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("del\n")
            proc.stdin.close()
        for proc in procs:
            assert proc.wait(300) == 0
        figures["DEL seconds"] = round(time.monotonic() - began, 1)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(60)
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
        for reader in readers:
            reader.join(60)
    while not lines.empty():
        index, line = lines.get()
        if line.startswith("failed"):
            failures.append(f"worker {index}: {line}")
    assert failures == []
    everything = [*namespaces.values(), *garbage.values()]
    left = leftovers(scene, bridge, everything)
    left += [f"namespace {name}" for name in delete_namespaces(everything)]
    figures["leaks"] = len(left)
    print(f"\nload, {PROCESSES} processes: {figures}")
    assert left == []
