"""Crash injection, repeated ADDs and orphaned plugins with real processes (issue 7).

Rules of this file:

* The runtime that dies is a real process (``tests/helpers/crash_worker.py``) running ADD or
  DEL of a real chain (Debian's bridge + host-local + tuning) into a namespace of the test,
  SIGKILLed at delays spread over the length of a whole run. After each kill the attachment
  is recovered, alternately by DEL with the same runtime configuration and by GC with an
  empty valid set, and nothing may be left: no IPAM reservation, no veth on the bridge, no
  interface but ``lo`` in the namespace, no cache entry, record, temp file or lock file.
* The normal run injects 50 kills; ``CNILIB_LONG=1`` injects 500 (the long variant, run
  by ``CNILIB_LONG=1 .venv/bin/pytest -p no:cacheprovider tests/integration/test_crash.py``).
  The test prints its figures (kills, mid-run kills, recoveries that waited for an orphaned
  plugin, leaks).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import cnilib
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList
from cnilib.errors import AttachmentExistsError, CNIError
from cnilib.protocol import RuntimeConf
from cnilib.testing import read_log
from tests.integration.helpers import Scene, assert_attached, result_json, unique_id
from tests.netns import Netns, ipam_reservations, sh

pytestmark = pytest.mark.netns

WORKER = Path(__file__).resolve().parent.parent / "helpers" / "crash_worker.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(cnilib.__file__).resolve().parent.parent)}
LONG = os.environ.get("CNILIB_LONG") == "1"
KILLS = 500 if LONG else 50
TUNING = {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}}


def real_chain(scene: Scene, bridge: str, subnet: ipaddress.IPv4Network) -> NetworkConfigList:
    return scene.conflist([
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": scene.host_local(subnet)},
        TUNING,
    ])


def conflist_file(scene: Scene, net: NetworkConfigList) -> str:
    path = scene.root / f"{net.name}.conflist"
    path.write_bytes(net.bytes)
    return str(path)


def start_worker(scene: Scene, conflist: str, verb: str, rt: RuntimeConf) -> subprocess.Popen[str]:
    """A runtime process about to run ``verb``; returns once it says ``start``."""
    job = {"verb": verb, "cache": str(scene.cache_dir), "path": scene.path,
           "conflist": conflist, "cid": rt.container_id, "netns": rt.netns,
           "ifname": rt.ifname}
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(job)], env=ENV,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "start\n"
    return proc


def finish(proc: subprocess.Popen[str]) -> str:
    """What the worker printed after ``start`` (``""`` when it was killed first)."""
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    proc.wait(60)
    return out.strip()


def leftovers(scene: Scene, ns: Netns, bridge: str) -> list[str]:
    """Everything a recovered attachment may not leave behind, named."""
    found = [f"IPAM reservation {a}" for a in ipam_reservations(scene.ipam_dir)]
    found += [f"interface {name} in {ns.name}" for name in ns.links() if name != "lo"]
    ports = sh("ip", "-j", "link", "show", "master", bridge, check=False)
    if ports.returncode == 0 and ports.stdout.strip():
        found += [f"veth {p['ifname']} on {bridge}" for p in json.loads(ports.stdout)]
    for folder in ("results", "inprogress", "locks"):
        path = scene.cache_dir / folder
        names = sorted(os.listdir(path)) if path.is_dir() else []
        found += [f"cache file {folder}/{n}" for n in names if (folder, n) != ("locks", "gc")]
    return found


def recover_by_gc(cni: CNIConfig, net: NetworkConfigList, rt: RuntimeConf) -> bool:
    """GC with an empty valid set; True when it had to wait for an orphaned plugin first.

    GC leaves alone an attachment whose lock a plugin of the dead runtime still holds; the
    test then waits for that lock (as the next GC would find it free) and collects again.
    """
    cni.gc_network_list(net, valid_attachments=[])
    if not cni.get_cached_attachments(rt.container_id):
        return False
    # Left alone because the lock was held (the orphan may have exited since).
    with cni.cache.lock(net.name, rt.container_id, rt.ifname, timeout=120):
        pass
    cni.gc_network_list(net, valid_attachments=[])
    return True


def test_sigkilled_runtimes_are_recovered_by_del_and_by_gc(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """Issue 7, items 1, 3, 5, 7, 10: zero leaks after every kill, whichever recovery runs."""
    ns, bridge = make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    conflist = conflist_file(scene, net)
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    # How long a whole run takes (the shortest of three), to spread the kills over it.
    spans = {"add": 60.0, "del": 60.0}
    for verb in ("add", "del") * 3:
        rt = RuntimeConf(unique_id(), ns.path, "eth0")
        if verb == "del":
            cni.add_network_list(net, rt)
        proc = start_worker(scene, conflist, verb, rt)
        began = time.monotonic()
        assert proc.stdout is not None
        assert proc.stdout.readline() == "done\n"
        spans[verb] = min(spans[verb], time.monotonic() - began)
        finish(proc)
        if verb == "add":
            cni.del_network_list(net, rt)
    assert leftovers(scene, ns, bridge) == []
    figures = {"kills": 0, "mid-run": 0, "waited for an orphan": 0, "leaks": 0}
    leaks: list[tuple[int, str, str, list[str]]] = []
    for k in range(KILLS):
        verb = "add" if k % 2 == 0 else "del"
        recovery = "del" if (k // 2) % 2 == 0 else "gc"
        delay = spans[verb] * 1.2 * ((k * 0.6180339887) % 1.0)
        rt = RuntimeConf(unique_id(), ns.path, "eth0")
        if verb == "del":
            cni.add_network_list(net, rt)
        proc = start_worker(scene, conflist, verb, rt)
        time.sleep(delay)
        proc.kill()
        figures["kills"] += 1
        if finish(proc) == "":
            figures["mid-run"] += 1
        if recovery == "del":
            cni.del_network_list(net, rt)
        elif recover_by_gc(cni, net, rt):
            figures["waited for an orphan"] += 1
        left = leftovers(scene, ns, bridge)
        if left:
            figures["leaks"] += 1
            leaks.append((k, verb, recovery, left))
    print(f"\ncrash injection: {figures} (spans {spans})")
    assert leaks == []
    assert figures["mid-run"] > 0


def test_recovery_waits_for_the_plugin_of_a_killed_runtime(
    scene: Scene, make_netns: Callable[[], Netns]
) -> None:
    """Item 7: the DEL waits until the orphaned ADD plugin exits, then undoes it."""
    ns = make_netns()
    net = scene.conflist([scene.record("first"), scene.record("slow", ADD={"sleep": 3})])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    proc = start_worker(scene, conflist_file(scene, net), "add", rt)
    deadline = time.monotonic() + 60
    while not any(r["stdin"].get("which") == "slow" for r in read_log(scene.record_file)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()
    assert finish(proc) == ""
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    cni.gc_network_list(net, valid_attachments=[])  # must not overtake the sleeping plugin
    (entry,) = cni.get_cached_attachments(rt.container_id)
    assert entry.in_progress
    cni.del_network_list(net, rt)
    calls = [(r["command"], r["stdin"].get("which"), r["time"])
             for r in read_log(scene.record_file)]
    (slow_add,) = [t for c, w, t in calls if (c, w) == ("ADD", "slow")]
    (slow_del,) = [t for c, w, t in calls if (c, w) == ("DEL", "slow")]
    assert slow_del >= slow_add + 3  # the DEL ran after the orphan's ADD had finished
    assert [(c, w) for c, w, _ in calls] == [("ADD", "first"), ("ADD", "slow"),
                                             ("DEL", "slow"), ("DEL", "first")]
    assert cni.get_cached_attachments() == ()


def test_a_repeated_add_leaves_the_first_attachment_intact(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """Item 2: the retried ADD is refused; it used to fail in bridge and DEL the first one."""
    ns, bridge = make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    first = result_json(cni.add_network_list(net, rt))
    addresses = assert_attached(first, ns)
    with pytest.raises(CNIError) as info:
        cni.add_network_list(net, rt)
    assert isinstance(info.value, AttachmentExistsError)
    assert assert_attached(first, ns) == addresses
    assert ipam_reservations(scene.ipam_dir) == [a.split("/")[0] for a in addresses]
    assert result_json(cni.get_network_list_cached_result(net, rt)) == first
    cni.del_network_list(net, rt)
    assert leftovers(scene, ns, bridge) == []


def test_concurrent_adds_of_one_attachment_leave_exactly_one(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """Item 2: four threads and four processes ADD one attachment; one wins, intact."""
    ns, bridge = make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    conflist = conflist_file(scene, net)
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    outcomes: list[str] = []

    def in_thread() -> None:
        cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
        try:
            cni.add_network_list(net, rt)
            outcomes.append("done")
        except CNIError as err:
            outcomes.append(type(err).__name__)

    workers = [start_worker(scene, conflist, "add", rt) for _ in range(4)]
    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    outcomes += [finish(w) for w in workers]
    assert sorted(outcomes) == sorted(["done"] + ["AttachmentExistsError"] * 7)
    cni = CNIConfig(scene.path, cache_dir=str(scene.cache_dir))
    cached = cni.get_network_list_cached_result(net, rt)
    assert cached is not None
    assert_attached(result_json(cached), ns)
    assert len(ipam_reservations(scene.ipam_dir)) == 1
    cni.del_network_list(net, rt)
    assert leftovers(scene, ns, bridge) == []
