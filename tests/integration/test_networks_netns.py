"""The runtime layer end to end: Debian's plugins, real namespaces, three networks per sandbox.

The three networks: a bridge chain with portmap and bandwidth, ptp, and macvlan over a veth
parent the test makes. Each scenario ends by proving that nothing is left: no interface, no
IPAM reservation, no per-container iptables rule, no ifb device, no cache entry.

``CNILIB_LONG=1`` attaches 50 sandboxes per mode instead of 3.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from cnilib.aionetworks import AsyncNetworks
from cnilib.errors import MultipleErrors, SetupError
from cnilib.networks import Networks
from cnilib.pod import PodResult
from tests.integration.helpers import Scene, cache_files, ifb_name, portmap_rules
from tests.netns import CNI_BIN, Netns, ipam_reservations, link_exists, sh, unique_id

pytestmark = pytest.mark.netns

SANDBOXES = 50 if os.environ.get("CNILIB_LONG") == "1" else 3
SHAPING = {"ingressRate": 8_000_000, "ingressBurst": 1_000_000,
           "egressRate": 8_000_000, "egressBurst": 1_000_000}


@attrs.frozen
class Site:
    """The test's configuration directory and what its networks are made of."""

    conf_dir: Path
    scene: Scene
    bridge: str
    names: tuple[str, str, str]  # bridge chain, ptp, macvlan
    subnets: tuple[ipaddress.IPv4Network, ...]

    def networks(self, kind: str, **options: Any) -> Any:
        cls = Networks if kind == "sync" else AsyncNetworks
        return cls(self.conf_dir, [CNI_BIN], self.scene.cache_dir, max_networks=0, **options)


def _write(conf_dir: Path, name: str, body: dict[str, Any]) -> None:
    tmp = conf_dir / f".{name}.tmp"
    tmp.write_text(json.dumps(body))
    tmp.rename(conf_dir / name)


@pytest.fixture
def site(scene: Scene, make_bridge_name: Callable[[], str],
         make_subnet: Callable[[], ipaddress.IPv4Network],
         make_veth: Callable[[], tuple[str, str]]) -> Site:
    conf_dir = scene.root / "net.d"
    conf_dir.mkdir()
    bridge = make_bridge_name()
    subnets = (make_subnet(), make_subnet(), make_subnet())
    names = (unique_id("nbr"), unique_id("npt"), unique_id("nmv"))
    parent, _ = make_veth()
    _write(conf_dir, "10-bridge.conflist", {"cniVersion": "1.0.0", "name": names[0], "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": scene.host_local(subnets[0])},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}}]})
    _write(conf_dir, "20-ptp.conflist", {"cniVersion": "1.0.0", "name": names[1], "plugins": [
        {"type": "ptp", "ipMasq": False, "ipam": scene.host_local(subnets[1])}]})
    _write(conf_dir, "30-macvlan.conflist", {"cniVersion": "1.0.0", "name": names[2],
                                             "plugins": [{"type": "macvlan", "master": parent,
                                                          "mode": "bridge",
                                                          "ipam": scene.host_local(subnets[2])}]})
    return Site(conf_dir, scene, bridge, names, subnets)


class Driver:
    """Networks or AsyncNetworks behind one synchronous face (one event loop per test)."""

    def __init__(self, kind: str, site: Site, **options: Any) -> None:
        self.target = site.networks(kind, **options)
        self.loop = asyncio.new_event_loop() if kind == "async" else None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.target, name)
        if self.loop is None or not asyncio.iscoroutinefunction(method):
            return method  # type: ignore[no-any-return]
        loop = self.loop
        return lambda *a, **k: loop.run_until_complete(method(*a, **k))

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest, site: Site) -> Iterator[Driver]:
    face = Driver(request.param, site)
    yield face
    face.close()


def port() -> int:
    return 20000 + secrets.randbelow(20000)


def caps_for(site: Site, host_port: int) -> dict[str, Any]:
    mapping = {"hostPort": host_port, "containerPort": 80, "protocol": "tcp"}
    return {site.names[0]: {"portMappings": [mapping], "bandwidth": SHAPING}}


def assert_pod(pod: PodResult, ns: Netns, site: Site, cid: str) -> None:
    """Every interface of the result is in the namespace, with the result's full CIDR."""
    assert [r.network for r in pod.results] == ["cni-loopback", *site.names]
    assert list(pod.interfaces) == ["lo", "eth0", "eth1", "eth2"]
    links = ns.links()
    assert "UP" in links["lo"]["flags"]
    for ifname, subnet in zip(("eth0", "eth1", "eth2"), site.subnets, strict=True):
        (ip,) = pod.interfaces[ifname].ips
        assert ip.address.network == subnet  # the prefix length is kept
        assert str(ip.address) in ns.addresses(ifname)
    assert links["eth2"]["linkinfo"]["info_kind"] == "macvlan"
    assert pod.host_interfaces  # bridge's and ptp's host-side veths, kept apart
    assert all(not i.sandbox for i in pod.host_interfaces.values())
    assert portmap_rules(cid)
    assert link_exists(ifb_name(site.names[0], cid))


def assert_gone(site: Site, cids: list[str]) -> None:
    """No IPAM reservation, cache entry, portmap rule, ifb device or bridge port is left.

    Veths: a veth's two ends live and die together, so a sandbox that holds only ``lo`` (the
    tests check ``ns.links()``), or no longer exists, has no veth left on the host either.
    (Host routes are not inspected: other test runs on the machine may route the same /24.)
    """
    assert ipam_reservations(site.scene.ipam_dir) == []
    assert cache_files(site.scene) == []
    for cid in cids:
        assert portmap_rules(cid) == []
        assert not link_exists(ifb_name(site.names[0], cid))
    ports = json.loads(sh("ip", "-j", "link", "show", "master", site.bridge,
                          check=False).stdout or "[]")
    assert ports == []


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_sandboxes_on_three_networks(driver: Driver, site: Site,
                                     make_netns: Callable[[], Netns], parallel: bool) -> None:
    assert driver.status() == site.names
    sandboxes = [(unique_id(), make_netns()) for _ in range(SANDBOXES)]

    def attach(item: tuple[str, Netns]) -> PodResult:
        cid, ns = item
        return driver.setup(cid, ns.path, capability_args=caps_for(site, port()),  # type: ignore[no-any-return]
                            parallel=parallel)

    if driver.loop is None:  # several sandboxes at once, as a runtime does
        with ThreadPoolExecutor(max_workers=4) as pool:
            pods = list(pool.map(attach, sandboxes))
    else:
        async def all_at_once() -> list[PodResult]:
            return list(await asyncio.gather(*(
                driver.target.setup(cid, ns.path, capability_args=caps_for(site, port()),
                                    parallel=parallel) for cid, ns in sandboxes)))

        pods = driver.loop.run_until_complete(all_at_once())
    for (cid, ns), pod in zip(sandboxes, pods, strict=True):
        assert_pod(pod, ns, site, cid)
    addresses = [str(p.interfaces["eth0"].ips[0].address) for p in pods]
    assert len(set(addresses)) == SANDBOXES

    # CHECK runs every network and reports every failure: Debian's portmap 1.1.1 fails CHECK
    # for an IPv4-only container with port mappings (test_debian_plugins.py says why).
    cid, ns = sandboxes[0]
    with pytest.raises(MultipleErrors) as info:
        driver.check(cid, ns.path)
    assert [getattr(e, "plugin", "") for e in info.value.exceptions] == ["portmap"]

    for cid, ns in sandboxes:
        driver.teardown(cid, ns.path)
        assert set(ns.links()) == {"lo"}
    assert_gone(site, [cid for cid, _ in sandboxes])


def test_a_broken_network_is_rolled_back(driver: Driver, site: Site,
                                         make_netns: Callable[[], Netns]) -> None:
    _write(site.conf_dir, "30-macvlan.conflist", {
        "cniVersion": "1.0.0", "name": site.names[2],
        "plugins": [{"type": "macvlan", "master": "cnvnosuchlink", "mode": "bridge",
                     "ipam": site.scene.host_local(site.subnets[2])}]})
    driver.reload()
    cid, ns = unique_id(), make_netns()

    with pytest.raises(SetupError) as info:
        driver.setup(cid, ns.path, capability_args=caps_for(site, port()))

    err = info.value
    assert (err.network, err.ifname, err.container_id) == (site.names[2], "eth2", cid)
    assert err.rolled_back == ((site.names[1], "eth1"), (site.names[0], "eth0"),
                               ("cni-loopback", "lo"))
    assert f'network "{site.names[2]}" (interface eth2)' in str(err)
    assert set(ns.links()) == {"lo"}
    assert_gone(site, [cid])


def test_reboot_namespaces_gone_cache_present(driver: Driver, site: Site,
                                              make_netns: Callable[[], Netns]) -> None:
    sandboxes = [(unique_id(), make_netns()) for _ in range(2)]
    for cid, ns in sandboxes:
        driver.setup(cid, ns.path, capability_args=caps_for(site, port()))
    assert len(ipam_reservations(site.scene.ipam_dir)) == 6
    for _, ns in sandboxes:  # the node reboots: namespaces (and their veths) vanish
        sh("ip", "netns", "delete", ns.name)

    for cid, ns in sandboxes:
        driver.teardown(cid, ns.path)

    assert_gone(site, [cid for cid, _ in sandboxes])


def test_teardown_after_the_config_file_is_deleted(driver: Driver, site: Site,
                                                   make_netns: Callable[[], Netns]) -> None:
    cid, ns = unique_id(), make_netns()
    driver.setup(cid, ns.path, capability_args=caps_for(site, port()))
    for name in ("10-bridge.conflist", "20-ptp.conflist", "30-macvlan.conflist"):
        (site.conf_dir / name).unlink()
    driver.reload()
    assert [n for n in driver.target.networks if n.valid] == []

    driver.teardown(cid, ns.path)  # no capability args passed: portmap's come from the cache

    assert set(ns.links()) == {"lo"}
    assert_gone(site, [cid])


def test_directory_edited_while_attaching(site: Site, make_netns: Callable[[], Netns],
                                         make_subnet: Callable[[], ipaddress.IPv4Network],
                                         ) -> None:
    """A fourth network's file is rewritten (in place and by rename) while sandboxes attach
    with a watcher running: no reload ever sees a torn file, every setup succeeds, and every
    attachment ran with one of the two complete versions."""
    extra, subnet = unique_id("nex"), make_subnet()
    versions = []
    for mtu in (1400, 1300):
        body = {"cniVersion": "1.0.0", "name": extra, "plugins": [
            {"type": "ptp", "ipMasq": False, "mtu": mtu, "ipam": site.scene.host_local(subnet)}]}
        versions.append(json.dumps(body, indent=2).encode())
    target = site.conf_dir / "40-extra.conflist"
    target.write_bytes(versions[0])
    nets = Networks(site.conf_dir, [CNI_BIN], site.scene.cache_dir, max_networks=0)
    torn: list[str] = []
    stop = threading.Event()

    def on_change(networks: tuple[Any, ...]) -> None:
        torn.extend(n.source for n in networks if not n.valid)

    def writer() -> None:
        i = 0
        while not stop.is_set():
            data = versions[i % 2]
            if i % 2:
                tmp = site.conf_dir / ".40-extra.tmp"
                tmp.write_bytes(data)
                tmp.rename(target)
            else:
                with target.open("wb") as out:  # in place, in small pieces
                    for k in range(0, len(data), 16):
                        out.write(data[k:k + 16])
                        out.flush()
                        time.sleep(0.001)
            i += 1
            stop.wait(0.4)  # an operator's edits: a moment apart

    thread = threading.Thread(target=writer)
    cids: list[str] = []
    with nets.watch(on_change) as watcher:
        thread.start()
        try:
            deadline = time.monotonic() + 60
            # Attach until the watcher has reloaded twice meanwhile (edits come 0.4 s apart).
            while len(cids) <= SANDBOXES or (watcher.reloads < 2
                                             and time.monotonic() < deadline):
                cid, ns = unique_id(), make_netns()
                cids.append(cid)
                pod = nets.setup(cid, ns.path, capability_args=caps_for(site, port()))
                assert [r.network for r in pod.results][-1] == extra
                entry = nets.cni.cache.load(extra, cid, "eth3")
                assert entry is not None
                assert entry.config in versions
                nets.teardown(cid, ns.path)
        finally:
            stop.set()
            thread.join()
    assert watcher.reloads >= 2
    assert torn == []
    assert_gone(site, cids)


def test_lo_comes_up_without_the_loopback_plugin(site: Site,
                                                 make_netns: Callable[[], Netns]) -> None:
    bin_dir = site.scene.root / "no-loopback"
    bin_dir.mkdir()
    for plugin in ("bridge", "host-local", "portmap", "bandwidth", "ptp", "macvlan"):
        (bin_dir / plugin).symlink_to(f"{CNI_BIN}/{plugin}")
    nets = Networks(site.conf_dir, [str(bin_dir)], site.scene.cache_dir, max_networks=0)
    cid, ns = unique_id(), make_netns()
    assert "UP" not in ns.links()["lo"]["flags"]

    pod = nets.setup(cid, ns.path, capability_args=caps_for(site, port()))

    assert "UP" in ns.links()["lo"]["flags"]
    assert "127.0.0.1/8" in ns.addresses("lo")
    assert [r.network for r in pod.results] == list(site.names)
    assert not any(name.startswith("cni-loopback-") for name in cache_files(site.scene))
    nets.teardown(cid, ns.path)
    assert_gone(site, [cid])
