"""End to end against Debian's real plugins (/usr/lib/cni, spec up to 1.0.0) in real namespaces.

Every scenario runs twice, through CNIConfig and through AsyncCNIConfig (``runtime``), and
ends by proving that DEL left nothing: no interface, no IPAM reservation, no cache entry, no
per-container iptables rule, no ifb device.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from cnilib._json import JSONObject
from cnilib.config import conf_from_bytes
from cnilib.errors import PluginError
from cnilib.protocol import RuntimeConf
from tests.integration.helpers import (
    Runtime,
    Scene,
    assert_attached,
    assert_nothing_left,
    cache_files,
    ifb_name,
    portmap_rules,
    result_json,
    unique_id,
)
from tests.netns import Netns, host_links, ipam_reservations, link_exists, sh, tcp_echo

pytestmark = pytest.mark.netns

Subnet = ipaddress.IPv4Network


def bridge(scene: Scene, name: str, subnet: Subnet, **extra: Any) -> dict[str, Any]:
    """A bridge plugin config: gateway on the bridge, no masquerade (no traffic leaves)."""
    return {"type": "bridge", "bridge": name, "isGateway": True, "ipMasq": False,
            "ipam": scene.host_local(subnet), **extra}


TUNING = {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}}
PORTMAP = {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
BANDWIDTH = {"type": "bandwidth", "capabilities": {"bandwidth": True}}
SHAPING: JSONObject = {"ingressRate": 8_000_000, "ingressBurst": 1_000_000,
           "egressRate": 8_000_000, "egressBurst": 1_000_000}


def free_port() -> int:
    """A host port for a mapping; random so that parallel runs do not collide."""
    return 20000 + secrets.randbelow(20000)


def sysctl_in(ns: Netns, key: str) -> str:
    """A sysctl as the namespace sees it."""
    return ns.run("cat", "/proc/sys/" + key.replace(".", "/")).stdout.strip()


def test_bridge_host_local_add_check_del(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    ns, br, subnet = make_netns(), make_bridge_name(), make_subnet()
    net = scene.conflist([bridge(scene, br, subnet)])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    result = result_json(runtime.add_network_list(net, rt))

    assert result["cniVersion"] == "1.0.0"
    (address,) = assert_attached(result, ns)
    assert ipaddress.ip_interface(address).network == subnet
    gateway = str(subnet[1])
    assert {ip["gateway"] for ip in result["ips"]} == {gateway}
    assert any(a["local"] == gateway for a in host_links()[br].get("addr_info", [])) or \
        gateway in sh("ip", "-4", "addr", "show", "dev", br).stdout
    assert ipam_reservations(scene.ipam_dir) == [address.split("/")[0]]
    assert cache_files(scene) == [f"{net.name}-{rt.container_id}-eth0"]
    assert result_json(runtime.get_network_list_cached_result(net, rt)) == result

    runtime.check_network_list(net, rt)
    runtime.del_network_list(net, rt)

    assert_nothing_left(runtime, scene, rt, ns)
    # SPEC.md, section "DEL": plugins MUST accept multiple DEL calls for the same attachment.
    runtime.del_network_list(net, rt)
    assert_nothing_left(runtime, scene, rt, ns)


def test_two_namespaces_on_one_bridge_reach_each_other(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    br, subnet = make_bridge_name(), make_subnet()
    net = scene.conflist([bridge(scene, br, subnet)])
    a, b = make_netns(), make_netns()
    rt_a = RuntimeConf(unique_id(), a.path, "eth0")
    rt_b = RuntimeConf(unique_id(), b.path, "eth0")
    (addr_a,) = assert_attached(result_json(runtime.add_network_list(net, rt_a)), a)
    (addr_b,) = assert_attached(result_json(runtime.add_network_list(net, rt_b)), b)
    assert addr_a != addr_b

    echoed, peer = tcp_echo(a, addr_a.split("/")[0], b, payload="ping over the bridge")

    assert echoed == "ping over the bridge"
    assert peer == addr_b.split("/")[0]  # straight over the bridge, no NAT
    runtime.del_network_list(net, rt_a)
    runtime.del_network_list(net, rt_b)
    assert_nothing_left(runtime, scene, rt_a, a)
    assert_nothing_left(runtime, scene, rt_b, b)


def test_chain_bridge_tuning_portmap_bandwidth(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    br, subnet, port = make_bridge_name(), make_subnet(), free_port()
    net = scene.conflist([bridge(scene, br, subnet), TUNING, PORTMAP, BANDWIDTH])
    server, client = make_netns(), make_netns()
    mapping: JSONObject = {"hostPort": port, "containerPort": 8080, "protocol": "tcp"}
    rt = RuntimeConf(unique_id(), server.path, "eth0",
                     capability_args={"portMappings": [mapping], "bandwidth": SHAPING})
    rt_client = RuntimeConf(unique_id(), client.path, "eth0")

    result = result_json(runtime.add_network_list(net, rt))
    runtime.add_network_list(net, rt_client)

    (address,) = assert_attached(result, server)
    ip = address.split("/")[0]
    # tuning: the sysctl is set inside the namespace.
    assert sysctl_in(server, "net.ipv4.conf.eth0.arp_ignore") == "1"
    # portmap: the container's DNAT chain carries the requested ports.
    rules = portmap_rules(rt.container_id)
    assert any(f"--dport {port}" in r and f"--to-destination {ip}:8080" in r for r in rules), rules
    # bandwidth: the attachment's ifb device, shaped with a token bucket.
    ifb = ifb_name(net.name, rt.container_id)
    assert link_exists(ifb)
    qdiscs = json.loads(sh("tc", "-j", "qdisc", "show", "dev", ifb).stdout)
    assert [q["kind"] for q in qdiscs if q["kind"] == "tbf"] == ["tbf"]
    # and the mapping works: a neighbour dials the gateway's host port, the server answers.
    echoed, _ = tcp_echo(server, ip, client, port=8080, connect_to=f"{subnet[1]}:{port}",
                         payload="through the port mapping")
    assert echoed == "through the port mapping"

    runtime.del_network_list(net, rt)
    runtime.del_network_list(net, rt_client)

    assert_nothing_left(runtime, scene, rt, server)
    assert_nothing_left(runtime, scene, rt_client, client)


def test_chain_check_passes_without_port_mappings(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    br, subnet = make_bridge_name(), make_subnet()
    net = scene.conflist([bridge(scene, br, subnet), TUNING, PORTMAP, BANDWIDTH])
    ns = make_netns()
    rt = RuntimeConf(unique_id(), ns.path, "eth0", capability_args={"bandwidth": SHAPING})

    assert_attached(result_json(runtime.add_network_list(net, rt)), ns)
    runtime.check_network_list(net, rt)  # every plugin, portmap returns early
    runtime.del_network_list(net, rt)

    assert_nothing_left(runtime, scene, rt, ns)


def test_portmap_check_fails_on_ipv4_only_container(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    """Debian's portmap 1.1.1 checks its IPv4 chain in ip6tables too, so CHECK always fails
    for an IPv4-only container with port mappings. cnilib reports the plugin's error as it
    is; Go libcni does the same (test_goref.py)."""
    br, subnet = make_bridge_name(), make_subnet()
    net = scene.conflist([bridge(scene, br, subnet), TUNING, PORTMAP, BANDWIDTH])
    ns = make_netns()
    mapping: JSONObject = {"hostPort": free_port(), "containerPort": 80, "protocol": "tcp"}
    rt = RuntimeConf(unique_id(), ns.path, "eth0",
                     capability_args={"portMappings": [mapping], "bandwidth": SHAPING})
    runtime.add_network_list(net, rt)

    with pytest.raises(PluginError) as info:
        runtime.check_network_list(net, rt)

    assert info.value.plugin == "portmap"
    assert info.value.command == "CHECK"
    assert "could not check ipv6 dnat" in info.value.msg
    runtime.del_network_list(net, rt)
    assert_nothing_left(runtime, scene, rt, ns)


def test_ptp(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_subnet: Callable[[], Subnet],
) -> None:
    subnet = make_subnet()
    net = scene.conflist([{"type": "ptp", "ipMasq": False, "ipam": scene.host_local(subnet)}])
    a, b = make_netns(), make_netns()
    rt_a = RuntimeConf(unique_id(), a.path, "eth0")
    rt_b = RuntimeConf(unique_id(), b.path, "eth0")
    links_before = set(host_links())

    result = result_json(runtime.add_network_list(net, rt_a))
    (addr_a,) = assert_attached(result, a)
    (addr_b,) = assert_attached(result_json(runtime.add_network_list(net, rt_b)), b)
    host_side = [i["name"] for i in result["interfaces"] if not i.get("sandbox")]
    assert len(host_side) == 1
    assert host_side[0] in set(host_links()) - links_before
    # Routed through the host: a's packets to b go via the ptp gateway.
    echoed, peer = tcp_echo(b, addr_b.split("/")[0], a, payload="routed")
    assert (echoed, peer) == ("routed", addr_a.split("/")[0])

    runtime.check_network_list(net, rt_a)
    runtime.del_network_list(net, rt_a)
    runtime.del_network_list(net, rt_b)

    assert_nothing_left(runtime, scene, rt_a, a)
    assert_nothing_left(runtime, scene, rt_b, b)
    assert not link_exists(host_side[0])


def test_macvlan_over_a_veth_parent(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_veth: Callable[[], tuple[str, str]],
    make_subnet: Callable[[], Subnet],
) -> None:
    # This kernel has no dummy, ipvlan or vlan link types: a veth end is the parent.
    parent, _ = make_veth()
    subnet = make_subnet()
    net = scene.conflist([{"type": "macvlan", "master": parent, "mode": "bridge",
                           "ipam": scene.host_local(subnet)}])
    a, b = make_netns(), make_netns()
    rt_a = RuntimeConf(unique_id(), a.path, "eth0")
    rt_b = RuntimeConf(unique_id(), b.path, "eth0")

    (addr_a,) = assert_attached(result_json(runtime.add_network_list(net, rt_a)), a)
    (addr_b,) = assert_attached(result_json(runtime.add_network_list(net, rt_b)), b)
    assert a.links()["eth0"]["linkinfo"]["info_kind"] == "macvlan"
    echoed, peer = tcp_echo(a, addr_a.split("/")[0], b, payload="macvlan siblings")
    assert (echoed, peer) == ("macvlan siblings", addr_b.split("/")[0])

    runtime.check_network_list(net, rt_a)
    runtime.del_network_list(net, rt_a)
    runtime.del_network_list(net, rt_b)

    assert_nothing_left(runtime, scene, rt_a, a)
    assert_nothing_left(runtime, scene, rt_b, b)
    assert link_exists(parent)  # the parent is the test's, untouched


def test_loopback(runtime: Runtime, scene: Scene, make_netns: Callable[[], Netns]) -> None:
    ns = make_netns()
    net = scene.conflist([{"type": "loopback"}])
    rt = RuntimeConf(unique_id(), ns.path, "lo")
    assert "UP" not in ns.links()["lo"]["flags"]

    result = result_json(runtime.add_network_list(net, rt))

    assert "UP" in ns.links()["lo"]["flags"]
    assert "127.0.0.1/8" in ns.addresses("lo")
    assert [i["name"] for i in result["interfaces"]] == ["lo"]
    assert "127.0.0.1/8" in [ip["address"] for ip in result["ips"]]
    runtime.check_network_list(net, rt)
    runtime.del_network_list(net, rt)
    assert "UP" not in ns.links()["lo"]["flags"]
    assert cache_files(scene) == []


def test_single_plugin_api(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    ns, br, subnet = make_netns(), make_bridge_name(), make_subnet()
    body = {"cniVersion": "1.0.0", "name": scene.network, **bridge(scene, br, subnet)}
    conf = conf_from_bytes(json.dumps(body).encode())
    rt = RuntimeConf(unique_id(), ns.path, "net1")

    result = result_json(runtime.add_network(conf, rt))

    assert_attached(result, ns, "net1")
    assert result_json(runtime.get_network_cached_result(conf, rt)) == result
    runtime.check_network(conf, rt)
    runtime.del_network(conf, rt)
    assert_nothing_left(runtime, scene, rt, ns)
