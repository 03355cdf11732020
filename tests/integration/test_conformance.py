"""The conformance checker against Debian's plugins (/usr/lib/cni 1.1.1, spec up to 1.0.0).

Every plugin that can run on this machine runs alone or in the chain it is made for, and each
test asserts the exact rows observed, failures included: a Debian bug is a FAIL row with its
reason, never hidden (docs/plugins.md lists them). Each test then checks that nothing is left:
no IPAM reservation, no per-container nat chain, no ifb device (the session guard of
tests/netns.py checks namespaces and links again at the end).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cnilib.testing.conformance import check_plugin
from cnilib.testing.report import Report, Verdict
from tests.integration.helpers import Scene, ifb_name, portmap_rules, unique_id
from tests.netns import CNI_BIN, Netns, host_links, ipam_reservations, link_exists, sh

pytestmark = pytest.mark.netns

Subnet = ipaddress.IPv4Network
P, F, S = Verdict.PASS, Verdict.FAIL, Verdict.SKIP
Rows = list[tuple[str, str, Verdict]]


def clean_rows(plugins: list[str], *, under_test: str | None = None) -> Rows:
    """The rows of a chain where every plugin passes, at 1.0.0 (no GC, no STATUS); every
    Debian plugin has a packaged schema, which each configuration here satisfies."""
    tested = under_test or plugins[0]
    rows: Rows = [("config", p, P) for p in plugins]
    rows += [("VERSION", p, P) for p in dict.fromkeys([tested, *plugins])]
    rows += [("ADD", p, P) for p in plugins] + [("CHECK", p, P) for p in plugins]
    rows += [("DEL", p, P) for p in reversed(plugins)]
    rows += [("DEL again", p, P) for p in reversed(plugins)]
    rows += [("GC", p, S) for p in plugins] + [("STATUS", p, S) for p in plugins]
    rows += [("bad config: not JSON", tested, P), ("bad config: unsupported version", tested, P)]
    return rows


def changed(rows: Rows, changes: dict[tuple[str, str], Verdict | None]) -> Rows:
    """``rows`` with some verdicts changed, and the rows mapped to ``None`` left out."""
    out: Rows = []
    for step, plugin, verdict in rows:
        new = changes.get((step, plugin), verdict)
        if new is not None:
            out.append((step, plugin, new))
    return out


def run(scene: Scene, plugin: str, plugins: list[dict[str, Any]], **options: Any) -> Report:
    """Check ``plugin`` in the chain ``plugins`` and prove nothing was left."""
    net = scene.conflist(plugins)
    cid = unique_id()
    report = check_plugin(plugin, net, path=[CNI_BIN], container_id=cid, **options)
    print(report.table())
    assert report.netns.startswith("/run/netns/cnicf-")
    assert not os.path.exists(report.netns)
    assert ipam_reservations(scene.ipam_dir) == []
    assert portmap_rules(cid) == []
    assert not link_exists(ifb_name(net.name, cid))
    return report


def reasons(report: Report) -> dict[tuple[str, str], str]:
    """The reason of every failing row, by (step, plugin)."""
    return {(c.step, c.plugin): c.reason for c in report.failures}


def ptp(scene: Scene, subnet: Subnet) -> dict[str, Any]:
    """ptp with host-local, no masquerade."""
    return {"type": "ptp", "ipMasq": False, "ipam": scene.host_local(subnet)}


def test_loopback(scene: Scene) -> None:
    report = run(scene, "loopback", [{"type": "loopback"}])
    assert report.verdicts() == clean_rows(["loopback"])
    assert report.passed


def test_bridge(scene: Scene, make_bridge_name: Callable[[], str],
                make_subnet: Callable[[], Subnet]) -> None:
    conf = {"type": "bridge", "bridge": make_bridge_name(), "isGateway": True, "ipMasq": False,
            "ipam": scene.host_local(make_subnet())}
    report = run(scene, "bridge", [conf])
    assert report.verdicts() == clean_rows(["bridge"])


def test_configuration_problems_are_rows_and_the_plugin_agrees(
        scene: Scene, make_bridge_name: Callable[[], str],
        make_subnet: Callable[[], Subnet]) -> None:
    """The packaged plugin schemas (what ``cnilib validate`` checks) give the config rows: a
    typo is a warning, a wrong type an error, and tuning then refuses that very key."""
    conf = {"type": "bridge", "bridge": make_bridge_name(), "isGatway": True, "ipMasq": False,
            "ipam": scene.host_local(make_subnet())}
    report = run(scene, "bridge", [conf, {"type": "tuning", "mtu": "1400"}])
    assert report.verdicts() == [
        ("config", "bridge", P), ("config", "tuning", F),
        ("VERSION", "bridge", P), ("VERSION", "tuning", P),
        ("ADD", "bridge", P), ("ADD", "tuning", F),
        ("ADD rollback", "tuning", F), ("ADD rollback", "bridge", P),
        ("CHECK", "bridge", S), ("CHECK", "tuning", S),
        ("DEL", "tuning", F), ("DEL again", "tuning", F),
        ("GC", "bridge", S), ("GC", "tuning", S), ("STATUS", "bridge", S), ("STATUS", "tuning", S),
        ("bad config: not JSON", "bridge", P), ("bad config: unsupported version", "bridge", P),
    ]
    rows = {(c.step, c.plugin): c.reason for c in report.checks}
    assert rows[("config", "bridge")] == (
        'unknown key "isGatway" in bridge configuration: the plugin ignores it; did you mean '
        '"isGateway"? (at /plugins/0/isGatway)')
    assert rows[("config", "tuning")] == (
        "tuning: plugins[1].mtu must be an integer, not a string (at /plugins/1/mtu)")
    assert rows[("ADD", "tuning")] == (
        "[999] failed to load netconf: json: cannot unmarshal string into Go struct field "
        "TuningConf.mtu of type int")


def test_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    report = run(scene, "ptp", [ptp(scene, make_subnet())])
    assert report.verdicts() == clean_rows(["ptp"])


def test_macvlan_over_a_veth_parent(scene: Scene, make_veth: Callable[[], tuple[str, str]],
                                    make_subnet: Callable[[], Subnet]) -> None:
    parent, _ = make_veth()
    conf = {"type": "macvlan", "master": parent, "mode": "bridge",
            "ipam": scene.host_local(make_subnet())}
    report = run(scene, "macvlan", [conf])
    assert report.verdicts() == clean_rows(["macvlan"])


def test_host_device_over_a_veth_end(scene: Scene,
                                     make_veth: Callable[[], tuple[str, str]]) -> None:
    _, end = make_veth()
    report = run(scene, "host-device", [{"type": "host-device", "device": end}])
    # Debian 1.1.1 bug: a second DEL fails once the device is back on the host, where the
    # spec asks DEL to succeed when what it would remove is already gone (SPEC.md "CNI
    # operations", DEL).
    assert report.verdicts() == changed(clean_rows(["host-device"]),
                                        {("DEL again", "host-device"): F})
    assert reasons(report) == {("DEL again", "host-device"):
                               '[999] failed to find "eth0": Link not found'}
    assert end in host_links()


def test_host_local_standalone(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    conf = {"type": "host-local", "ipam": scene.host_local(make_subnet())}
    report = run(scene, "host-local", [conf])
    assert report.verdicts() == clean_rows(["host-local"])


def test_static_standalone(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    address = f"{make_subnet()[5]}/24"
    conf = {"type": "static", "ipam": {"type": "static", "addresses": [{"address": address}]}}
    report = run(scene, "static", [conf])
    assert report.verdicts() == clean_rows(["static"])


def test_tuning_after_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    tuning = {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}}
    report = run(scene, "tuning", [ptp(scene, make_subnet()), tuning])
    assert report.verdicts() == clean_rows(["ptp", "tuning"], under_test="tuning")


def test_portmap_after_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    mapping = {"hostPort": 20000 + secrets.randbelow(20000), "containerPort": 80,
               "protocol": "tcp"}
    report = run(scene, "portmap", [ptp(scene, make_subnet()), portmap],
                 capability_args={"portMappings": [mapping]})
    # Debian 1.1.1 bug: CHECK looks for the IPv4 container's chain in ip6tables as well.
    assert report.verdicts() == changed(clean_rows(["ptp", "portmap"], under_test="portmap"),
                                        {("CHECK", "portmap"): F})
    (reason,) = reasons(report).values()
    assert reason.startswith("[999] could not check ipv6 dnat: chain CNI-DN-")


def test_bandwidth_after_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    bandwidth = {"type": "bandwidth", "capabilities": {"bandwidth": True}}
    shaping = {"ingressRate": 8_000_000, "ingressBurst": 1_000_000,
               "egressRate": 8_000_000, "egressBurst": 1_000_000}
    report = run(scene, "bandwidth", [ptp(scene, make_subnet()), bandwidth],
                 capability_args={"bandwidth": shaping})
    assert report.verdicts() == clean_rows(["ptp", "bandwidth"], under_test="bandwidth")


_FIREWALL_JUMP = ("FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules",
                  "-j", "CNI-FORWARD")


@pytest.fixture
def firewall_chains() -> Iterator[None]:
    """Remove the firewall plugin's shared chains after the test if it made them.

    Its DEL removes the container's rules but never ``CNI-FORWARD`` and ``CNI-ADMIN`` (shared
    by every container, like portmap's); a run that created them takes them away again,
    once nothing but the admin jump is left in them.
    """
    existed = sh("iptables", "-w", "-S", "CNI-FORWARD", check=False).returncode == 0
    try:
        yield
    finally:
        rules = sh("iptables", "-w", "-S", "CNI-FORWARD", check=False).stdout.splitlines()
        if not existed and len(rules) <= 2:  # "-N CNI-FORWARD" and the jump to CNI-ADMIN
            sh("iptables", "-w", "-D", *_FIREWALL_JUMP, check=False)
            for chain in ("CNI-FORWARD", "CNI-ADMIN"):
                sh("iptables", "-w", "-F", chain, check=False)
                sh("iptables", "-w", "-X", chain, check=False)


@pytest.mark.usefixtures("firewall_chains")
def test_firewall_after_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    firewall = {"type": "firewall", "backend": "iptables"}
    report = run(scene, "firewall", [ptp(scene, make_subnet()), firewall])
    assert report.verdicts() == clean_rows(["ptp", "firewall"], under_test="firewall")


def test_sbr_after_ptp(scene: Scene, make_subnet: Callable[[], Subnet]) -> None:
    subnet = make_subnet()
    report = run(scene, "sbr", [ptp(scene, subnet), {"type": "sbr"}])
    # Two Debian 1.1.1 findings. sbr moves ptp's routes to a table of their own, so ptp's
    # CHECK no longer finds its gateway in the main table (the chain stops there). And sbr's
    # DEL fails once the interface is gone, so a second DEL fails (SPEC.md "CNI operations"
    # asks it to succeed); ptp's second DEL is then never run.
    expected = changed(clean_rows(["ptp", "sbr"], under_test="sbr"),
                       {("CHECK", "ptp"): F, ("CHECK", "sbr"): None,
                        ("DEL again", "sbr"): F, ("DEL again", "ptp"): None})
    assert report.verdicts() == expected
    assert reasons(report) == {
        ("CHECK", "ptp"): f"[999] Failed to find Gateway {subnet[1]} for interface eth0",
        ("DEL again", "sbr"): "[999] Failed to get link eth0: Link not found",
    }


def _wait_for(path: Path, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(100):
        if path.exists():
            return
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        time.sleep(0.05)
    msg = f"{what} did not create {path}"
    raise AssertionError(msg)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def dhcp_parent(scratch_dir: Path, make_netns: Callable[[], Netns],
                make_veth: Callable[[], tuple[str, str]],
                make_subnet: Callable[[], Subnet]) -> Iterator[tuple[str, Path]]:
    """A DHCP server behind a host veth: dnsmasq in a namespace of its own serves the veth's
    far end, and CNI's dhcp daemon listens on a socket in the test's directory.

    Yields ``(host end of the veth, the daemon's socket)``; dnsmasq logs to ``dnsmasq.log``
    in the scratch directory. Both processes are stopped
    after the test (the namespace fixture removes the namespace, the veth fixture the veth,
    the scratch directory the socket, leases and pid files).
    """
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq is not installed (Debian: apt-get install dnsmasq-base, as "
                    ".ci/setup.sh does)", pytrace=False)
    server, subnet = make_netns(), make_subnet()
    parent, peer = make_veth()
    sh("ip", "link", "set", peer, "netns", server.name)
    server.run("ip", "addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", peer)
    server.run("ip", "link", "set", peer, "up")
    dnsmasq = subprocess.Popen(
        ["ip", "netns", "exec", server.name, "dnsmasq", "--keep-in-foreground",
         "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces",
         f"--interface={peer}", f"--dhcp-range={subnet[50]},{subnet[150]},1h",
         f"--dhcp-leasefile={scratch_dir / 'leases'}", f"--pid-file={scratch_dir / 'dnsmasq.pid'}",
         "--dhcp-authoritative", "--log-dhcp", f"--log-facility={scratch_dir / 'dnsmasq.log'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = scratch_dir / "dhcp.sock"
    daemon = subprocess.Popen([os.path.join(CNI_BIN, "dhcp"), "daemon",
                               "-socketpath", str(socket)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(scratch_dir / "dnsmasq.pid", dnsmasq, "dnsmasq")
        _wait_for(socket, daemon, "the dhcp daemon")
        yield parent, socket
    finally:
        _stop(daemon)
        _stop(dnsmasq)


def test_dhcp_through_macvlan(scene: Scene, dhcp_parent: tuple[str, Path]) -> None:
    parent, socket = dhcp_parent
    conf = {"type": "macvlan", "master": parent, "mode": "bridge",
            "ipam": {"type": "dhcp", "daemonSocketPath": str(socket)}}
    report = run(scene, "dhcp", [conf])
    assert report.verdicts() == clean_rows(["macvlan"], under_test="dhcp")
    # The address really came from dnsmasq, and DEL gave it back.
    log = (socket.parent / "dnsmasq.log").read_text()
    assert "DHCPACK" in log
    assert "DHCPRELEASE" in log
