"""The test harness itself: the leak guard finds what a run leaves, and traffic stays ours."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import netns
from tests.netns import (
    BRIDGE_PREFIX,
    NETNS_PREFIX,
    SESSION,
    VETH_PREFIX,
    Netns,
    ipam_reservations,
    leftovers,
    link_exists,
    nat_chains,
    netns_exists,
    sh,
    tcp_echo,
    unique_id,
    unique_name,
)

pytestmark = pytest.mark.netns


@pytest.mark.usefixtures("netns_session")
def test_leftovers_found_and_removed() -> None:
    ns = unique_name(NETNS_PREFIX)
    veth = unique_name(VETH_PREFIX)
    net, cid = unique_id("net"), unique_id()
    # portmap names a container's chain after sha512(network name + container ID).
    chain = "CNI-DN-" + hashlib.sha512((net + cid).encode()).hexdigest()[:21]
    stranger = "CNI-DN-" + secrets.token_hex(10)  # not this run's: left alone
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p")
    for name in (chain, stranger):
        sh("iptables", "-w", "-t", "nat", "-N", name)
    sh("iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j", chain)
    try:
        found = leftovers()

        assert sorted(found) == sorted([f"network namespace {ns}", f"link {veth}",
                                        f"link {veth}p", f"iptables nat chain {chain}"])
        assert not netns_exists(ns)
        assert not link_exists(veth)
        assert chain not in nat_chains()
        assert stranger in nat_chains()
        assert leftovers() == []
    finally:
        sh("iptables", "-w", "-t", "nat", "-X", stranger, check=False)


@pytest.mark.usefixtures("netns_session")
def test_leaked_reservations_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "_LEAKED_RESERVATIONS", ["host-local reservations ['10.0.0.2']"])

    assert leftovers() == ["host-local reservations ['10.0.0.2']"]
    assert leftovers() == []


def test_ipam_reservations(tmp_path: Path) -> None:
    (tmp_path / "net1").mkdir()
    for name in ("10.1.2.3", "fd00::5", "last_reserved_ip.0", "lock"):
        (tmp_path / "net1" / name).write_text("x")
    assert ipam_reservations(tmp_path) == ["10.1.2.3", "fd00::5"]


def test_unique_names_fit_in_an_interface_name() -> None:
    assert len(unique_name(VETH_PREFIX) + "p") <= 15
    assert len(unique_name(BRIDGE_PREFIX)) <= 15
    assert unique_name(NETNS_PREFIX).startswith(f"cnt-{SESSION}")
    assert unique_id() != unique_id()


def test_tcp_echo_only_between_our_namespaces(make_netns: Callable[[], Netns]) -> None:
    a = make_netns()
    with pytest.raises(AssertionError, match="not an address inside"):
        tcp_echo(a, "192.0.2.1", a)


def test_tcp_echo_on_loopback(make_netns: Callable[[], Netns]) -> None:
    a = make_netns()
    a.run("ip", "link", "set", "lo", "up")
    assert tcp_echo(a, "127.0.0.1", a, payload="x") == ("x", "127.0.0.1")
