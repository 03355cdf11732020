"""AsyncCNIConfig with many containers at once, against Debian's real plugins.

(Every scenario of test_debian_plugins.py also runs through AsyncCNIConfig; this module adds
what only an asyncio runtime does: 32 attachments in flight together.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cnilib._json import JSONObject
from cnilib.aio import AsyncCNIConfig
from cnilib.protocol import RuntimeConf
from cnilib.testing import read_log
from tests.integration.helpers import (
    Scene,
    assert_attached,
    cache_files,
    ifb_name,
    portmap_rules,
    result_json,
    unique_id,
)
from tests.netns import Netns, ipam_reservations, link_exists, tcp_echo

pytestmark = pytest.mark.netns

COUNT = 32


def test_32_containers_attached_and_detached_concurrently(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    br, subnet = make_bridge_name(), make_subnet()
    net = scene.conflist([
        {"type": "bridge", "bridge": br, "isGateway": True, "ipMasq": False,
         "ipam": scene.host_local(subnet)},
        {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    ])
    namespaces = [make_netns() for _ in range(COUNT)]
    shaping: JSONObject = {"ingressRate": 8_000_000, "ingressBurst": 1_000_000,
               "egressRate": 8_000_000, "egressBurst": 1_000_000}
    base = 40000 + secrets.randbelow(20000)
    rts = [RuntimeConf(unique_id(), ns.path, "eth0",
                       capability_args={"portMappings": [{"hostPort": base + i,
                                                          "containerPort": 80,
                                                          "protocol": "tcp"}],
                                        "bandwidth": shaping})
           for i, ns in enumerate(namespaces)]

    async def scenario() -> list[object]:
        cni = AsyncCNIConfig(scene.path, cache_dir=str(scene.cache_dir))
        return list(await asyncio.gather(*(cni.add_network_list(net, rt) for rt in rts)))

    results = asyncio.run(scenario())

    addresses = [assert_attached(result_json(r), ns)[0] for r, ns in zip(results, namespaces,
                                                                          strict=True)]
    assert len(set(addresses)) == COUNT
    assert all(ipaddress.ip_interface(a).network == subnet for a in addresses)
    assert len(ipam_reservations(scene.ipam_dir)) == COUNT
    assert len(cache_files(scene)) == COUNT
    assert all(link_exists(ifb_name(net.name, rt.container_id)) for rt in rts)
    for i, rt in enumerate(rts):
        assert any(f"--dport {base + i} " in r for r in portmap_rules(rt.container_id))
    first, last = namespaces[0], namespaces[-1]
    echoed, peer = tcp_echo(first, addresses[0].split("/")[0], last, payload="1 of 32")
    assert (echoed, peer) == ("1 of 32", addresses[-1].split("/")[0])

    async def teardown() -> None:
        cni = AsyncCNIConfig(scene.path, cache_dir=str(scene.cache_dir))
        await asyncio.gather(*(cni.del_network_list(net, rt) for rt in rts))
        assert await cni.get_cached_attachments() == ()

    asyncio.run(teardown())

    for ns in namespaces:
        assert "eth0" not in ns.links()
    assert ipam_reservations(scene.ipam_dir) == []
    assert cache_files(scene) == []
    assert not any(link_exists(ifb_name(net.name, rt.container_id)) for rt in rts)
    assert all(portmap_rules(rt.container_id) == [] for rt in rts)


def test_cancelled_add_is_rolled_back(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """Cancelling an ADD in flight (a runtime giving up on a pod) leaves nothing behind."""
    ns, br = make_netns(), make_bridge_name()
    net = scene.conflist([
        {"type": "bridge", "bridge": br, "isGateway": True, "ipMasq": False,
         "ipam": scene.host_local(make_subnet())},
        scene.record("sleeper", ADD={"sleep": 60}),
    ])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    async def scenario() -> None:
        cni = AsyncCNIConfig(scene.path, cache_dir=str(scene.cache_dir))
        task = asyncio.create_task(cni.add_network_list(net, rt))
        # Cancelled once the sleeper has logged its ADD: bridge is done, the sleeper runs.
        # (A fixed pause after eth0 appeared was too short for the sleeper's interpreter to
        # start on a loaded machine: the ADD was never logged and the test failed.)
        deadline = time.monotonic() + 30
        while not read_log(scene.record_file):
            assert time.monotonic() < deadline, "the sleeper never started"
            await asyncio.sleep(0.05)
        assert "eth0" in ns.links()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())

    assert "eth0" not in ns.links()
    assert ipam_reservations(scene.ipam_dir) == []
    assert cache_files(scene) == []
    records = read_log(scene.record_file)
    assert [r["command"] for r in records] == ["ADD", "DEL"]  # the sleeper got its DEL
    stat = Path(f"/proc/{records[0]['pid']}/stat")
    assert not stat.exists() or stat.read_text().rsplit(") ", 1)[-1][0] == "Z"
