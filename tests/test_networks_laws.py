"""Laws of the runtime layer's pure parts (Hypothesis): interface names, argument splitting,
the setup plan's rollback, PodResult, and the capability helpers' spelling."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._exec.networks import Settle
from cnilib._plans import sandbox as _pod
from cnilib.capabilities import (
    Bandwidth,
    DNSSettings,
    IPRange,
    PortMapping,
    capability_args,
)
from cnilib.config import conflist_from_bytes
from cnilib.errors import CNIError, ConfigError, ResultError, SetupError
from cnilib.pod import NetworkResult, PodResult
from cnilib.protocol import RuntimeConf
from cnilib.types import Result040, Result100, parse_result

NAMES = st.sampled_from(["a", "b", "c", "net-1", "n2"])
IFNAMES = st.sampled_from(["eth0", "eth1", "eth3", "net0", "x"])


@st.composite
def requests(draw: st.DrawFn) -> list[_pod.NetworkRequest]:
    out: list[_pod.NetworkRequest] = []
    explicit = draw(st.lists(IFNAMES, unique=True, max_size=4))
    bare = draw(st.integers(0, 5))
    items: list[str | None] = [*explicit, *([None] * bare)]
    for ifname in draw(st.permutations(items)):
        name = draw(NAMES)
        out.append(name if ifname is None else (name, ifname))
    return out


@given(requests(), st.sampled_from(["eth", "net", "if"]))
def test_ifname_allocation(reqs: list[_pod.NetworkRequest], prefix: str) -> None:
    got = _pod.allocate_ifnames(reqs, prefix)
    assert [n for n, _ in got] == [r if isinstance(r, str) else r[0] for r in reqs]
    ifnames = [i for _, i in got]
    assert len(set(ifnames)) == len(ifnames)  # never two networks on one interface
    numbers = []
    for req, (_, ifname) in zip(reqs, got, strict=True):
        if isinstance(req, tuple):
            assert ifname == req[1]  # an explicit name is kept
        else:
            assert ifname.startswith(prefix)
            assert ifname[len(prefix):].isdigit()
            numbers.append(int(ifname[len(prefix):]))
    assert numbers == sorted(numbers)  # allocated in attach order
    explicit = {r[1] for r in reqs if isinstance(r, tuple)}
    # the lowest free numbers are used: no gap that an explicit name does not explain
    for n in range(max(numbers, default=-1)):
        assert n in numbers or f"{prefix}{n}" in explicit


def test_ifname_allocation_refuses_duplicates_and_junk() -> None:
    with pytest.raises(ConfigError):
        _pod.allocate_ifnames([("a", "eth0"), ("b", "eth0")], "eth")
    with pytest.raises(ConfigError):
        _pod.allocate_ifnames([42], "eth")  # type: ignore[list-item]


@given(st.dictionaries(NAMES, st.dictionaries(st.sampled_from(["mac", "ips"]), st.integers()),
                       min_size=1))
def test_per_network_arguments_go_to_their_network(per: dict[str, Any]) -> None:
    names = {"a", "b", "c", "net-1", "n2"}
    for name in names:
        assert _pod.for_network(per, name, names) == per.get(name)
    # a mapping of capability names is for every network
    caps = {"portMappings": [], "mac": "x"}
    assert _pod.for_network(caps, "a", names) is caps


# --- the setup plan ---------------------------------------------------------------------------

_NET = conflist_from_bytes(b'{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"p"}]}')
_RESULT = parse_result({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}]})


def _atts(n: int) -> list[_pod.Attachment]:
    return [_pod.Attachment(network=f"n{i}", ifname=f"eth{i}", net=_NET,
                            rt=RuntimeConf("c", "/ns", f"eth{i}")) for i in range(n)]


def _drive(plan: _pod.PodPlan, failing: set[int]) -> tuple[object, list[str], list[str]]:
    """Run a setup plan against fake outcomes: ``(value or error, added, removed)``."""
    added: list[str] = []
    removed: list[str] = []
    try:
        step = next(plan)
        while True:
            if isinstance(step, _pod.Add):
                outcomes: list[object] = []
                for att in step.attachments:
                    if int(att.network[1:]) in failing:
                        outcomes.append(CNIError("boom"))
                    else:
                        added.append(att.network)
                        outcomes.append(_RESULT)
                step = plan.send(tuple(outcomes))
            else:
                assert isinstance(step, _pod.Remove)
                removed.append(step.attachment.network)
                step = plan.send(None)
    except StopIteration as stop:
        return stop.value, added, removed
    except SetupError as err:
        return err, added, removed


@given(st.integers(1, 6), st.data(), st.booleans())
def test_setup_rolls_back_exactly_what_succeeded_in_reverse(n: int, data: st.DataObject,
                                                             parallel: bool) -> None:
    failing = data.draw(st.sets(st.integers(0, n - 1)))
    atts = _atts(n)
    outcome, added, removed = _drive(_pod.setup(atts, parallel=parallel, container_id="c"),
                                     failing)
    if not failing:
        assert isinstance(outcome, PodResult)
        assert removed == []
        assert [r.network for r in outcome.results] == [a.network for a in atts]
        return
    assert isinstance(outcome, SetupError)
    first = min(failing)
    assert outcome.network == f"n{first}"
    assert removed == list(reversed(added))
    assert outcome.rolled_back == tuple((a, f"eth{a[1:]}") for a in removed)
    if not parallel:  # serial: nothing after the first failure ran
        assert added == [f"n{i}" for i in range(first)]
    else:
        assert len(outcome.other_errors) == len(failing) - 1


# --- PodResult --------------------------------------------------------------------------------

@st.composite
def results(draw: st.DrawFn, ifname: str) -> Result100:
    n_ifaces = draw(st.integers(0, 3))
    interfaces = [{"name": ifname if i == 0 else f"h{i}{ifname}",
                   "sandbox": "/ns" if i == 0 else ""} for i in range(n_ifaces)]
    ips = []
    for _ in range(draw(st.integers(0, 4))):
        v6 = draw(st.booleans())
        prefix = draw(st.integers(1, 128 if v6 else 32))
        base = "fd00::" if v6 else "10.0.0.0"
        addr = ipaddress.ip_address(base) + draw(st.integers(1, 200))
        ip: dict[str, Any] = {"address": f"{addr}/{prefix}"}
        if n_ifaces and draw(st.booleans()):
            ip["interface"] = draw(st.integers(0, n_ifaces - 1))
        ips.append(ip)
    body: dict[str, Any] = {"cniVersion": "1.0.0", "interfaces": interfaces, "ips": ips}
    result = parse_result(body)
    assert isinstance(result, Result100)
    return result


@given(st.lists(st.sampled_from(["eth0", "eth1", "eth2"]), unique=True, min_size=1).flatmap(
    lambda names: st.tuples(st.just(names), st.tuples(*(results(n) for n in names)))))
def test_pod_result_keeps_every_address_with_its_prefix(case: tuple[list[str],
                                                                    tuple[Result100, ...]]) -> None:
    names, items = case
    pod = PodResult.from_results(NetworkResult(network=f"net{i}", ifname=name, result=r,
                                               netns="/ns")
                                 for i, (name, r) in enumerate(zip(names, items, strict=True)))
    kept = sorted(str(ip.address) for table in (pod.interfaces, pod.host_interfaces)
                  for iface in table.values() for ip in iface.ips)
    assert kept == sorted(str(ip.address) for r in items for ip in r.ips)
    assert all(iface.sandbox for iface in pod.interfaces.values())
    assert all(not iface.sandbox for iface in pod.host_interfaces.values())
    assert [r.result for r in pod.results] == list(items)


def test_pod_result_refuses_an_interface_index_out_of_range() -> None:
    bad = parse_result({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
                        "ips": [{"address": "10.0.0.2/24", "interface": 1}]})
    with pytest.raises(ResultError, match="names interface 1"):
        PodResult.from_results([NetworkResult(network="n", ifname="eth0", result=bad)])


def test_pod_result_reads_older_versions() -> None:
    old = parse_result({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/16"}})
    mid = parse_result({"cniVersion": "0.4.0", "interfaces": [{"name": "eth1", "sandbox": "/n"}],
                        "ips": [{"version": "4", "address": "10.2.0.5/20", "interface": 0}],
                        "dns": {"nameservers": ["10.2.0.1"]}})
    assert isinstance(mid, Result040)
    pod = PodResult.from_results([NetworkResult(network="a", ifname="eth0", result=old),
                                  NetworkResult(network="b", ifname="eth1", result=mid)])
    assert [str(ip.address) for ip in pod.addresses("eth0")] == ["10.1.0.5/16"]
    assert [str(ip.address) for ip in pod.addresses()] == ["10.1.0.5/16", "10.2.0.5/20"]
    assert pod.dns["b"].nameservers == ("10.2.0.1",)


# --- capabilities -----------------------------------------------------------------------------

@given(st.integers(1, 65535), st.integers(1, 65535), st.sampled_from(["tcp", "udp", "sctp"]),
       st.sampled_from(["", "127.0.0.1"]))
def test_port_mappings_are_spelled_as_conventions_says(host: int, container: int, proto: str,
                                                      host_ip: str) -> None:
    caps = capability_args(port_mappings=[PortMapping(host_port=host, container_port=container,
                                                      protocol=proto, host_ip=host_ip)])
    entries = caps["portMappings"]
    assert isinstance(entries, list)
    (entry,) = entries
    expected: dict[str, Any] = {"hostPort": host, "containerPort": container, "protocol": proto}
    if host_ip:
        expected["hostIP"] = host_ip
    assert entry == expected


def test_every_well_known_capability_is_spelled_exactly() -> None:
    caps = capability_args(
        port_mappings=[PortMapping(host_port=8080, container_port=80)],
        ip_ranges=[[IPRange("10.1.2.0/24", range_start="10.1.2.3", range_end="10.1.2.99",
                            gateway="10.1.2.254")], [IPRange("fd00::/64")]],
        bandwidth=Bandwidth(ingress_rate=2048, ingress_burst=1600, egress_rate=4096,
                            egress_burst=1600),
        dns=DNSSettings(servers=["8.8.8.8"], searches=["corp.example"]),
        ips=["10.10.0.1/24"], mac="c2:11:22:33:44:55", infiniband_guid="c2:11:22:33:44:55:66:77",
        device_id="0000:04:00.5", aliases=["db"], cgroup_path="/kubepods", extra={"custom": 1})
    assert caps == {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "ipRanges": [[{"subnet": "10.1.2.0/24", "rangeStart": "10.1.2.3",
                       "rangeEnd": "10.1.2.99", "gateway": "10.1.2.254"}],
                     [{"subnet": "fd00::/64"}]],
        "bandwidth": {"ingressRate": 2048, "ingressBurst": 1600, "egressRate": 4096,
                      "egressBurst": 1600},
        "dns": {"servers": ["8.8.8.8"], "searches": ["corp.example"]},
        "ips": ["10.10.0.1/24"], "mac": "c2:11:22:33:44:55",
        "infinibandGUID": "c2:11:22:33:44:55:66:77", "deviceID": "0000:04:00.5",
        "aliases": ["db"], "cgroupPath": "/kubepods", "custom": 1}


def test_capability_helpers_refuse_wrong_shapes() -> None:
    with pytest.raises(ConfigError):
        PortMapping(host_port=0, container_port=80)
    with pytest.raises(ConfigError, match="list of lists"):
        capability_args(ip_ranges=[IPRange("10.0.0.0/8")])  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        capability_args(aliases="db")
    with pytest.raises(ConfigError):
        capability_args(bandwidth={"ingressRate": 1})  # type: ignore[arg-type]


@given(st.lists(st.sampled_from("abc"), max_size=30))
def test_a_watcher_reloads_each_settled_change_once(looks: list[str]) -> None:
    # A fingerprint here is a letter: the watcher reloads at a look that repeats the one
    # before (the directories stayed the same for an interval) and differs from what it
    # loaded last; never while they change, never twice for one state.
    settle = Settle(frozenset({("a", 0, 0, 0)}))
    loaded, previous, reloads = "a", "a", []
    for i, look in enumerate(looks):
        if settle.changed(frozenset({(look, 0, 0, 0)})):
            reloads.append(i)
            assert look == previous != loaded
            loaded = look
        else:
            assert look != previous or look == loaded
        previous = look
    assert len(reloads) <= len(looks) // 2
