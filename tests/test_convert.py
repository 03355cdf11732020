"""Conversion between spec versions (SPEC.md "Result Types"; libcni's converters)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib.convert import convert
from cnilib.errors import ConversionError, ErrorCode
from cnilib.testing import strategies as cst
from cnilib.types import (
    DNS,
    Interface040,
    Interface100,
    IPConfig020,
    IPConfig040,
    IPConfig100,
    Result,
    Result020,
    Result040,
    Result100,
    Route,
    parse_result,
)
from cnilib.version import SUPPORTED_VERSIONS

FAMILY: dict[str, type[Result020 | Result040 | Result100]] = {
    "0.1.0": Result020, "0.2.0": Result020,
    "0.3.0": Result040, "0.3.1": Result040, "0.4.0": Result040,
    "1.0.0": Result100, "1.1.0": Result100,
}

DNS_FULL = DNS(nameservers=["1.2.3.4", "1::cafe"], domain="acompany.com",
               search=["somedomain.com", "otherdomain.net"], options=["foo", "bar"])


def go_test_result() -> Result100:
    """libcni's pkg/types/100 testResult(), every field set."""
    return Result100(
        cni_version="1.1.0",
        interfaces=[Interface100(name="eth0", mac="00:11:22:33:44:55", mtu=1500,
                                 sandbox="/proc/3553/ns/net", pci_id="8086:9a01",
                                 socket_path="/path/to/vhost/fd")],
        ips=[IPConfig100(interface=0, address="1.2.3.30/24", gateway="1.2.3.1"),
             IPConfig100(interface=0, address="abcd:1234:ffff::cdde/64",
                         gateway="abcd:1234:ffff::1")],
        routes=[Route(dst="15.5.6.0/24", gw="15.5.6.8"),
                Route(dst="1111:dddd::/80", gw="1111:dddd::aaaa")],
        dns=DNS_FULL,
    )


DNS_FULL_JSON = {"nameservers": ["1.2.3.4", "1::cafe"], "domain": "acompany.com",
                 "search": ["somedomain.com", "otherdomain.net"], "options": ["foo", "bar"]}


# --- libcni's own expectations (pkg/types/100/types_test.go) ----------------------------------


def test_go_result_to_010_matches_libcni() -> None:
    assert go_test_result().as_version("0.1.0").to_dict() == {
        "cniVersion": "0.1.0",
        "ip4": {"ip": "1.2.3.30/24", "gateway": "1.2.3.1",
                "routes": [{"dst": "15.5.6.0/24", "gw": "15.5.6.8"}]},
        "ip6": {"ip": "abcd:1234:ffff::cdde/64", "gateway": "abcd:1234:ffff::1",
                "routes": [{"dst": "1111:dddd::/80", "gw": "1111:dddd::aaaa"}]},
        "dns": DNS_FULL_JSON,
    }


def test_go_result_to_040_matches_libcni() -> None:
    assert go_test_result().as_version("0.4.0").to_dict() == {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "eth0", "mac": "00:11:22:33:44:55",
                        "sandbox": "/proc/3553/ns/net"}],
        "ips": [{"version": "4", "interface": 0, "address": "1.2.3.30/24",
                 "gateway": "1.2.3.1"},
                {"version": "6", "interface": 0, "address": "abcd:1234:ffff::cdde/64",
                 "gateway": "abcd:1234:ffff::1"}],
        "routes": [{"dst": "15.5.6.0/24", "gw": "15.5.6.8"},
                   {"dst": "1111:dddd::/80", "gw": "1111:dddd::aaaa"}],
        "dns": DNS_FULL_JSON,
    }


def test_go_result_100_and_110_differ_in_version_only() -> None:
    r100 = go_test_result().as_version("1.0.0")
    assert r100.cni_version == "1.0.0"
    assert go_test_result() == r100.as_version("1.1.0")


def test_rich_110_to_020_keeps_first_address_of_each_family_and_basic_routes() -> None:
    """What Go libcni prints for this conversion: the 2nd IPv4 address and route extras are lost."""
    rich = Result100(
        cni_version="1.1.0",
        interfaces=[Interface100(name="eth0", mtu=1500, sandbox="/var/run/netns/blue")],
        ips=[IPConfig100(interface=0, address="10.1.0.5/16", gateway="10.1.0.1"),
             IPConfig100(interface=0, address="10.2.0.5/16", gateway="10.2.0.1"),
             IPConfig100(interface=0, address="2001:db8::5/64", gateway="2001:db8::1")],
        routes=[Route(dst="0.0.0.0/0", gw="10.1.0.1", mtu=1400, table=100, scope=0),
                Route(dst="192.168.0.0/16", priority=5),
                Route(dst="::/0", advmss=1300)],
        dns=DNS(nameservers=["10.1.0.1"]),
    )
    assert rich.as_version("0.2.0").to_json() == (
        '{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.5/16","gateway":"10.1.0.1","routes":'
        '[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"192.168.0.0/16"}]},"ip6":{"ip":'
        '"2001:db8::5/64","gateway":"2001:db8::1","routes":[{"dst":"::/0"}]},'
        '"dns":{"nameservers":["10.1.0.1"]}}'
    )


# --- the rules of libcni's converters, one by one ------------------------------------------


def test_020_up_puts_ip4_first_then_ip6_and_keeps_every_route_field() -> None:
    r = Result020(ip6=IPConfig020(ip="2001:db8::2/64", routes=[Route(dst="::/0", mtu=9)]),
                  ip4=IPConfig020(ip="10.0.0.2/8", gateway="10.0.0.1",
                                  routes=[Route(dst="0.0.0.0/0", table=0)]),
                  dns=DNS(domain="d"))
    assert Result040(
        cni_version="0.3.1",
        ips=[IPConfig040(version="4", address="10.0.0.2/8", gateway="10.0.0.1"),
             IPConfig040(version="6", address="2001:db8::2/64")],
        routes=[Route(dst="0.0.0.0/0", table=0), Route(dst="::/0", mtu=9)],
        dns=DNS(domain="d"),
    ) == r.as_version("0.3.1")
    assert Result100(
        cni_version="1.0.0",
        ips=[IPConfig100(address="10.0.0.2/8", gateway="10.0.0.1"),
             IPConfig100(address="2001:db8::2/64")],
        routes=[Route(dst="0.0.0.0/0", table=0), Route(dst="::/0", mtu=9)],
        dns=DNS(domain="d"),
    ) == r.as_version("1.0.0")


def test_020_ip4_label_follows_the_field_not_the_address() -> None:
    # libcni labels ip4 "4" whatever it holds; 0.2.0 never checked.
    r = Result020(ip4=IPConfig020(ip="2001:db8::2/64"))
    r040 = r.as_version("0.4.0")
    assert isinstance(r040, Result040)
    assert r040.ips[0].version == "4"


def test_040_down_skips_ips_without_a_known_version() -> None:
    r = Result040(ips=[IPConfig040(version="", address="10.0.0.9/8"),
                       IPConfig040(version="x", address="10.0.0.8/8"),
                       IPConfig040(version="6", address="2001:db8::2/64"),
                       IPConfig040(version="4", address="10.0.0.2/8"),
                       IPConfig040(version="4", address="10.0.0.3/8")])
    assert Result020(cni_version="0.1.0", ip4=IPConfig020(ip="10.0.0.2/8"),
                     ip6=IPConfig020(ip="2001:db8::2/64")) == r.as_version("0.1.0")


def test_040_down_drops_routes_of_a_family_without_an_address_and_loses_interfaces() -> None:
    r = Result040(interfaces=[Interface040(name="eth0")],
                  ips=[IPConfig040(version="6", interface=0, address="2001:db8::2/64")],
                  routes=[Route(dst="0.0.0.0/0", gw="10.0.0.1"), Route(dst="::/0", priority=3)])
    assert Result020(ip6=IPConfig020(ip="2001:db8::2/64", routes=[Route(dst="::/0")])) == (
        r.as_version("0.2.0"))


def test_040_to_100_drops_version_and_keeps_name_mac_sandbox() -> None:
    r = Result040(cni_version="0.3.0",
                  interfaces=[Interface040(name="eth0", mac="m", sandbox="s")],
                  ips=[IPConfig040(version="4", interface=0, address="10.0.0.2/8")],
                  routes=[Route(dst="0.0.0.0/0", mtu=1)], dns=DNS(search=["x"]))
    assert Result100(cni_version="1.1.0",
                     interfaces=[Interface100(name="eth0", mac="m", sandbox="s")],
                     ips=[IPConfig100(interface=0, address="10.0.0.2/8")],
                     routes=[Route(dst="0.0.0.0/0", mtu=1)], dns=DNS(search=["x"])) == (
        r.as_version("1.1.0"))


def test_100_to_040_computes_version_and_loses_mtu_socket_path_pci_id() -> None:
    r040 = go_test_result().as_version("0.3.1")
    assert isinstance(r040, Result040)
    assert tuple(ip.version for ip in r040.ips) == ("4", "6")
    assert (Interface040(name="eth0", mac="00:11:22:33:44:55", sandbox="/proc/3553/ns/net"),
            ) == r040.interfaces


def test_ipv4_mapped_ipv6_addresses_stay_ipv6() -> None:
    # A documented difference from Go, which re-reads ::ffff:a.b.c.d as IPv4.
    r = Result100(ips=[IPConfig100(address="::ffff:10.0.0.1/120")])
    r040 = r.as_version("0.4.0")
    assert isinstance(r040, Result040)
    assert r040.ips[0].version == "6"


def test_no_address_to_keep_is_libcnis_error() -> None:
    for r in (Result040(), Result100(), Result040(ips=[IPConfig040(address="10.0.0.1/8")])):
        for target in ("0.1.0", "0.2.0", ""):
            with pytest.raises(ConversionError, match=r"^cannot convert: no valid IP addresses"):
                r.as_version(target)


def test_empty_target_means_010() -> None:
    assert Result020(cni_version="0.2.0").as_version("").cni_version == "0.1.0"
    r = Result100(ips=[IPConfig100(address="10.0.0.1/8")])
    assert r.as_version("").cni_version == "0.1.0"


def test_same_version_returns_the_result_itself() -> None:
    r = go_test_result()
    assert r is r.as_version("1.1.0")
    r010 = Result020(cni_version="0.1.0")
    assert r010 is r010.as_version("")


@pytest.mark.parametrize("target", ["1.0", "2.0.0", "0.3", "v1.0.0", "1.1.0 ", "x"])
def test_unknown_targets_are_libcnis_error(target: str) -> None:
    with pytest.raises(ConversionError,
                       match=f"^no converter for CNI result version 1.1.0 to {target}") as info:
        go_test_result().as_version(target)
    assert info.value.code == ErrorCode.INCOMPATIBLE_CNI_VERSION


@pytest.mark.parametrize("bad", [None, 1, b"1.0.0"])
def test_non_string_targets_are_conversion_errors(bad: object) -> None:
    with pytest.raises(ConversionError):
        convert(go_test_result(), bad)  # type: ignore[call-overload]


def test_only_results_convert() -> None:
    with pytest.raises(ConversionError, match="not a CNI result"):
        convert({"cniVersion": "1.0.0"}, "0.4.0")  # type: ignore[call-overload]


@pytest.mark.parametrize(("source", "target"),
                         list(itertools.product(SUPPORTED_VERSIONS, SUPPORTED_VERSIONS)))
def test_every_pair_of_versions_converts(source: str, target: str) -> None:
    r = go_test_result().as_version(source)
    out = convert(r, target)
    assert FAMILY[target] is type(out)
    assert target == out.cni_version
    assert out == parse_result(out.to_json())


# --- laws -------------------------------------------------------------------------------------

LOWER_HIGHER = [(lo, hi) for lo, hi in itertools.combinations(SUPPORTED_VERSIONS, 2)]


@given(st.sampled_from(LOWER_HIGHER), st.data())
def test_up_then_down_is_identity(pair: tuple[str, str], data: st.DataObject) -> None:
    """Converting up then down returns the original result, when the lower version holds it."""
    lower, higher = pair
    strategy = {
        "020": cst.results_020_representable,
        "040": cst.results_040_representable_in_100,
        "100": cst.results_100,
    }[FAMILY[lower].family]
    if FAMILY[lower].family == "040" and FAMILY[higher].family == "040":
        strategy = cst.results_040
    original = data.draw(strategy).as_version(lower)
    assert original == original.as_version(higher).as_version(lower)


@given(st.sampled_from(LOWER_HIGHER), st.data())
def test_down_then_up_is_identity_for_what_the_lower_version_holds(
    pair: tuple[str, str], data: st.DataObject
) -> None:
    """A result the lower version can express exactly survives the trip down and back up."""
    lower, higher = pair
    strategy = {
        ("020", "020"): cst.results_020,
        ("020", "040"): cst.results_040_representable_in_020,
        ("020", "100"): cst.results_100_representable_in_020,
        ("040", "040"): cst.results_040,
        ("040", "100"): cst.results_100_representable_in_040,
        ("100", "100"): cst.results_100,
    }[FAMILY[lower].family, FAMILY[higher].family]
    original = data.draw(strategy).as_version(higher)
    assert original == original.as_version(lower).as_version(higher)


@given(cst.results, cst.versions)
def test_conversion_gives_the_target_version_or_libcnis_only_error(
    result: Result, target: str
) -> None:
    """SPEC.md, Section 5: Result Types: a result converts to every version, except 0.1.0/0.2.0 need
    an address."""
    outcome: Result | ConversionError
    try:
        outcome = result.as_version(target)
    except ConversionError as err:
        outcome = err
    if isinstance(outcome, ConversionError):
        assert outcome.msg == "cannot convert: no valid IP addresses"
        assert FAMILY[target] is Result020
        assert not isinstance(result, Result020)
        if isinstance(result, Result040):
            assert not any(ip.version in ("4", "6") for ip in result.ips)
        else:
            assert not result.ips
    else:
        assert target == outcome.cni_version
        assert FAMILY[target] is type(outcome)


@given(cst.results_100, cst.versions)
def test_conversion_is_path_independent_within_newer_families(
    result: Result100, target: str
) -> None:
    """Going through 1.0.0/1.1.0 changes nothing: they share every type."""
    hop = "1.0.0" if result.cni_version == "1.1.0" else "1.1.0"
    try:
        direct = result.as_version(target)
    except ConversionError:
        return
    assert direct == result.as_version(hop).as_version(target)


@given(cst.results)
def test_a_literal_version_narrows_any_result_to_its_family(result: Result) -> None:
    """Every result converts up to 0.4.0 and to 1.0.0/1.1.0, and the static type says which
    family comes back: ``as_version`` and ``convert`` are overloaded on literal versions, and
    mypy --strict checks the annotations below (no cast, no isinstance)."""
    current: Result100 = result.as_version("1.1.0")
    older: Result100 = convert(result, "1.0.0")
    legacy: Result040 = result.as_version("0.4.0")
    assert (type(current), current.cni_version) == (Result100, "1.1.0")
    assert (type(older), older.cni_version) == (Result100, "1.0.0")
    assert (type(legacy), legacy.cni_version) == (Result040, "0.4.0")
    assert current.as_version("1.0.0") == older
    if isinstance(result, Result100):
        assert [ip.address for ip in current.ips] == [ip.address for ip in result.ips]
