"""Plugins written on cnilib.skel and Debian's plugins in one chain, through the same engine
paths (CNIConfig and AsyncCNIConfig), in namespaces the tests make.

* The worked example of docs/plugin-authors.md (examples/plugins/cnilib-example-extra-ip.py)
  delegates to Debian's real host-local for ADD, CHECK and DEL.
* The shipped test plugins (cnilib-test-record, cnilib-test-debug) chained after Debian's
  bridge see the bridge's result as prevResult and pass it through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cnilib.errors import AddError, PluginError
from cnilib.protocol import RuntimeConf
from cnilib.testing import DEBUG, RECORD, install_plugin, read_log, write_control
from tests.integration.helpers import (
    Runtime,
    Scene,
    assert_attached,
    assert_nothing_left,
    result_json,
    unique_id,
)
from tests.netns import Netns, ipam_reservations

pytestmark = pytest.mark.netns

Subnet = ipaddress.IPv4Network
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / \
    "cnilib-example-extra-ip.py"


def bridge(scene: Scene, name: str, subnet: Subnet) -> dict[str, Any]:
    """Debian's bridge with host-local in the test's own dataDir; no masquerade."""
    return {"type": "bridge", "bridge": name, "isGateway": True, "ipMasq": False,
            "ipam": scene.host_local(subnet)}


def test_example_plugin_delegates_to_host_local(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    ns, br, first, second = make_netns(), make_bridge_name(), make_subnet(), make_subnet()
    plugin = install_plugin(scene.bin_dir, EXAMPLE)
    assert plugin.name == "cnilib-example-extra-ip"
    extra_dir = scene.root / "ipam-extra"
    net = scene.conflist([
        bridge(scene, br, first),
        {"type": plugin.name,
         "ipam": {"type": "host-local", "subnet": str(second), "dataDir": str(extra_dir)}},
    ])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    result = result_json(runtime.add_network_list(net, rt))

    addresses = assert_attached(result, ns)  # both addresses, on eth0 in the namespace
    networks = sorted(ipaddress.ip_interface(a).network for a in addresses)
    assert networks == sorted([first, second])
    extra = next(a for a in addresses if ipaddress.ip_interface(a).network == second)
    assert ipam_reservations(extra_dir) == [extra.split("/")[0]]

    runtime.check_network_list(net, rt)  # host-local's CHECK, through the example plugin
    # host-local forgets the reservation: its CHECK fails, through the example plugin.
    (extra_dir / net.name / extra.split("/")[0]).unlink()
    with pytest.raises(PluginError) as info:
        runtime.check_network_list(net, rt)
    assert (info.value.plugin, info.value.command) == (plugin.name, "CHECK")
    assert rt.container_id in info.value.msg

    runtime.del_network_list(net, rt)

    assert_nothing_left(runtime, scene, rt, ns)


def test_example_plugin_reports_the_delegate_error(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    # host-local's pool is one address, already held by another container: its error reaches
    # the runtime through the example plugin, and the chain is rolled back.
    ns, br, first, second = make_netns(), make_bridge_name(), make_subnet(), make_subnet()
    plugin = install_plugin(scene.bin_dir, EXAMPLE)
    extra_dir = scene.root / "ipam-extra"
    only = str(second[2])
    net = scene.conflist([
        bridge(scene, br, first),
        {"type": plugin.name,
         "ipam": {"type": "host-local", "dataDir": str(extra_dir),
                  "ranges": [[{"subnet": str(second), "rangeStart": only, "rangeEnd": only}]]}},
    ])
    held = extra_dir / net.name / only
    held.parent.mkdir(parents=True)
    held.write_text("another-container\neth0")
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, rt)

    cause = info.value.cause
    assert isinstance(cause, PluginError)
    assert (cause.plugin, cause.command) == (plugin.name, "ADD")
    assert "no IP addresses available" in cause.msg
    assert info.value.rolled_back == (plugin.name, "bridge")
    assert held.read_text() == "another-container\neth0"  # not ours: DEL left it alone
    held.unlink()
    assert_nothing_left(runtime, scene, rt, ns)


def test_record_plugin_after_bridge(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    ns, br = make_netns(), make_bridge_name()
    control = write_control(scene.root / "control.json", {"log": str(scene.record_file)})
    net = scene.conflist([bridge(scene, br, make_subnet()),
                          {"type": RECORD, "controlFile": str(control)}])
    rt = RuntimeConf(unique_id(), ns.path, "eth0",
                     args=[("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")])

    result = result_json(runtime.add_network_list(net, rt))
    assert_attached(result, ns)
    runtime.check_network_list(net, rt)
    runtime.del_network_list(net, rt)

    log = read_log(scene.record_file)
    assert [e["command"] for e in log] == ["ADD", "CHECK", "DEL"]
    for entry in log:
        # The bridge's result, passed along the chain and then from the cache.
        assert entry["stdin"]["prevResult"] == result
        assert entry["stdin"]["name"] == net.name
        env = entry["env"]
        assert (env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"]) == (
            rt.container_id, ns.path, "eth0")
        assert env["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAME=web"
        assert env["CNI_PATH"] == ":".join(scene.path)
    assert_nothing_left(runtime, scene, rt, ns)


def test_debug_plugin_after_bridge(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], Subnet],
) -> None:
    ns, br = make_netns(), make_bridge_name()
    output = scene.root / "debug.txt"
    net = scene.conflist([bridge(scene, br, make_subnet()),
                          {"type": DEBUG, "cniOutput": str(output)}])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    result = result_json(runtime.add_network_list(net, rt))
    assert_attached(result, ns)
    runtime.del_network_list(net, rt)

    blocks = output.read_text().split("----------------------\n")
    assert [b.split("\n", 1)[0] for b in blocks if b] == ["CmdAdd", "CmdDel"]
    assert f"ContainerID: {rt.container_id}\nNetns: {ns.path}\nIfName: eth0\n" in blocks[0]
    assert '"prevResult"' in blocks[0]
    assert_nothing_left(runtime, scene, rt, ns)
