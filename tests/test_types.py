"""Typed results: construction, parsing, JSON output (SPEC.md "Result Types"; libcni pkg/types)."""

from __future__ import annotations

import contextlib
import json
from ipaddress import IPv4Address, IPv4Interface, IPv6Interface, ip_interface

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._json import JSON, dumps
from cnilib.errors import CNIError, ErrorCode, ResultError
from cnilib.testing import strategies as cst
from cnilib.types import (
    DNS,
    Interface,
    Interface040,
    Interface100,
    IPConfig,
    IPConfig020,
    IPConfig040,
    IPConfig100,
    Result,
    Result020,
    Result040,
    Result100,
    Route,
    parse_cidr,
    parse_ip,
    parse_result,
)

# --- constructing values ---------------------------------------------------------------------


def test_newest_family_aliases() -> None:
    assert Interface is Interface100
    assert IPConfig is IPConfig100


def test_constructors_take_text_and_keep_host_bits() -> None:
    ip = IPConfig100(address="10.1.0.5/16", gateway="10.1.0.1", interface=0)
    assert IPv4Interface("10.1.0.5/16") == ip.address
    assert IPv4Address("10.1.0.1") == ip.gateway
    assert IPv4Address("10.1.0.5") == ip.address.ip
    route = Route(dst="2001:db8::5/64", gw="")
    assert IPv6Interface("2001:db8::5/64") == route.dst
    assert route.gw is None


def test_constructors_turn_sequences_into_tuples() -> None:
    r = Result100(routes=[Route(dst="0.0.0.0/0")], dns=DNS(nameservers=["10.1.0.1"]))
    assert (Route(dst="0.0.0.0/0"),) == r.routes
    assert r.dns.nameservers == ("10.1.0.1",)


def test_default_versions_are_each_family_newest() -> None:
    newest = (Result020().cni_version, Result040().cni_version, Result100().cni_version)
    assert newest == ("0.2.0", "0.4.0", "1.1.0")


def test_values_are_frozen() -> None:
    r = Result100()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        r.cni_version = "1.0.0"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Result100(cni_version="0.4.0"), "cni_version"),
        (lambda: Result040(cni_version="1.0.0"), "cni_version"),
        (lambda: Result020(cni_version=""), "cni_version"),
        (lambda: IPConfig100(address="10.0.0.1"), "invalid CIDR address: 10.0.0.1"),
        (lambda: IPConfig100(address="10.0.0.1/24", interface=-1), "must not be negative"),
        (lambda: IPConfig040(address="10.0.0.1/24", gateway="x"), "invalid IP address: x"),
        (lambda: Route(dst="10.0.0.0/8", mtu=-1), "mtu"),
        (lambda: Route(dst="10.0.0.0/8", table=True), "table"),
        (lambda: Route(dst=ip_interface("fe80::1%eth0/64")), "zones are not allowed"),
        (lambda: Interface100(mtu=2**63), "out of range"),
        (lambda: DNS(search="abc"), "expected a sequence"),
    ],
)
def test_constructors_refuse_invalid_values(make: object, needle: str) -> None:
    with pytest.raises(ResultError, match=needle):
        make()  # type: ignore[operator]


# --- address parsing, as strict as Go's ParseCIDR / ParseIP ----------------------------------


@pytest.mark.parametrize(
    "text",
    ["10.0.0.1", "10.0.0.1/33", "10.0.0.1/255.0.0.0", "10.0.0.1/0.0.0.255", "10.0.0.01/8",
     "10.0.0.1/+8", "10.0.0.1/ 8", "10.0.0.1/", "/8", "fe80::1%eth0/64", "::1/129",
     "10.0.0.1/8/8", "", "10.0.0.1/٨"],
)
def test_parse_cidr_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ResultError, match="invalid CIDR address"):
        parse_cidr(text)


@pytest.mark.parametrize("text", ["", "x", "10.0.0.1/8", "fe80::1%eth0", "1.2.3", " 1.2.3.4"])
def test_parse_ip_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ResultError, match="invalid IP address"):
        parse_ip(text)


def test_parse_refuses_non_strings() -> None:
    with pytest.raises(ResultError):
        parse_cidr(5)  # type: ignore[arg-type]
    with pytest.raises(ResultError):
        parse_ip(None)  # type: ignore[arg-type]


# --- parse_result: versions and families -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "assumed", "cls", "version"),
    [
        ({}, None, Result020, "0.1.0"),
        (None, None, Result020, "0.1.0"),
        ({}, "", Result020, "0.1.0"),
        ({}, "0.4.0", Result040, "0.4.0"),
        ({"cniVersion": ""}, "1.0.0", Result100, "1.0.0"),
        ({"cniVersion": None}, "1.1.0", Result100, "1.1.0"),
        ({"cniVersion": "0.3.0"}, "1.1.0", Result040, "0.3.0"),  # the body's own version wins
        ({"cniVersion": "0.2.0"}, None, Result020, "0.2.0"),
        ({"cniVersion": "1.1.0"}, "0.1.0", Result100, "1.1.0"),
    ],
)
def test_the_body_version_or_the_assumed_one_picks_the_family(
    body: JSON, assumed: str | None, cls: type, version: str
) -> None:
    r = parse_result(body, assumed)
    assert cls is type(r)
    assert version == r.cni_version


@pytest.mark.parametrize(("body", "assumed"),
                         [({"cniVersion": "1.0"}, None), ({"cniVersion": "2.0.0"}, None),
                          ({}, "9.9.9"), ({"cniVersion": "v1.0.0"}, "1.0.0")])
def test_unknown_versions_are_refused_like_libcni(body: JSON, assumed: str | None) -> None:
    with pytest.raises(ResultError, match='unsupported CNI result version "') as info:
        parse_result(body, assumed)
    assert info.value.code == ErrorCode.INCOMPATIBLE_CNI_VERSION


def test_bytes_text_and_decoded_json_parse_alike() -> None:
    doc: JSON = {"cniVersion": "1.0.0",
                 "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1"}]}
    text = json.dumps(doc)
    assert parse_result(doc) == parse_result(text) == parse_result(text.encode())


def test_the_callers_mapping_is_not_changed() -> None:
    doc: JSON = {"ips": [{"address": "10.1.0.5/16"}]}
    parse_result(doc, "1.0.0")
    assert doc == {"ips": [{"address": "10.1.0.5/16"}]}


def test_unknown_fields_are_dropped_like_libcni() -> None:
    r = parse_result({"cniVersion": "1.0.0", "extra": 1,
                      "ips": [{"version": "6", "address": "2001:db8::2/64", "x": []}]})
    assert r.to_dict() == {"cniVersion": "1.0.0", "ips": [{"address": "2001:db8::2/64"}]}


def test_null_fields_are_absent_and_empty_gateway_is_none() -> None:
    r = parse_result({"cniVersion": "1.0.0", "dns": None, "routes": None,
                      "interfaces": [{"name": None, "mtu": None}],
                      "ips": [{"address": "10.0.0.2/24", "gateway": "", "interface": None}]})
    assert Result100(cni_version="1.0.0", interfaces=[Interface100()],
                     ips=[IPConfig100(address="10.0.0.2/24")]) == r


def test_out_of_range_interface_index_is_accepted_like_libcni() -> None:
    r = parse_result({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": 7}]})
    assert isinstance(r, Result100)
    assert r.ips[0].interface == 7


# --- parse_result: located errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        ([], "/", "expected a JSON object, got array"),
        ({"cniVersion": "1.0.0", "ips": {}}, "/ips", "expected an array, got object"),
        ({"cniVersion": "1.0.0", "ips": ["x"]}, "/ips/0", "expected an object, got string"),
        ({"cniVersion": "1.0.0", "ips": [{}]}, "/ips/0/address", "required field is missing"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1"}]}, "/ips/0/address",
         "invalid CIDR address: 10.0.0.1"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8", "gateway": 1}]},
         "/ips/0/gateway", "expected a string with an IP address, got number"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8", "interface": "0"}]},
         "/ips/0/interface", "expected an integer, got string"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8", "interface": 1.0}]},
         "/ips/0/interface", "expected an integer, got number"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8", "interface": -1}]},
         "/ips/0/interface", "must not be negative"),
        ({"cniVersion": "1.0.0", "interfaces": [{"pciID": True}]}, "/interfaces/0/pciID",
         "expected a string, got boolean"),
        ({"cniVersion": "1.1.0", "interfaces": [{"mtu": 2**64}]}, "/interfaces/0/mtu",
         "out of range"),
        ({"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0"}, {"gw": "10.0.0.1"}]},
         "/routes/1/dst", "required field is missing"),
        ({"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "scope": -3}]},
         "/routes/0/scope", "must not be negative"),
        ({"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "x"}]},
         "/routes/0/gw", "invalid IP address: x"),
        ({"cniVersion": "1.0.0", "dns": {"nameservers": "10.0.0.1"}}, "/dns/nameservers",
         "expected an array, got string"),
        ({"cniVersion": "1.0.0", "dns": {"search": ["a", 1]}}, "/dns/search/1",
         "expected a string, got number"),
        ({"cniVersion": "1.0.0", "dns": []}, "/dns", "expected an object, got array"),
        ({"cniVersion": "0.4.0", "ips": [{"version": 4, "address": "10.0.0.1/8"}]},
         "/ips/0/version", "expected a string, got number"),
        ({"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.1/8", "routes": [{"dst": "x"}]}},
         "/ip4/routes/0/dst", "invalid CIDR address: x"),
        ({"cniVersion": "0.2.0", "ip6": {}}, "/ip6/ip", "required field is missing"),
    ],
)
def test_malformed_results_name_the_bad_field(body: JSON, pointer: str, message: str) -> None:
    with pytest.raises(ResultError) as info:
        parse_result(body)
    assert f"(at {pointer})" in info.value.msg
    assert message in info.value.msg


def test_every_bad_field_is_listed_in_details() -> None:
    body: JSON = {"cniVersion": "1.0.0", "ips": [5, {"address": 3}],
                  "routes": [{"dst": "1.2.3.0/24", "mtu": -5}]}
    with pytest.raises(ResultError) as info:
        parse_result(body)
    assert "(and 2 more)" in info.value.msg
    assert info.value.details.splitlines() == [
        "/ips/0: expected an object, got number",
        "/ips/1/address: expected a string in CIDR notation, got number",
        "/routes/0/mtu: must not be negative, got -5",
    ]


@pytest.mark.parametrize("data", [b"", b"{", b"\xff", b'{"a":NaN}', "[1,]", b"\xef\xbb\xbf{}"])
def test_text_that_is_not_json_is_a_result_error(data: bytes | str) -> None:
    with pytest.raises(ResultError, match="failed to unmarshal raw result"):
        parse_result(data)


# --- JSON output: libcni's names and omission rules (pkg/types/*/types.go) ---------------------


def test_020_and_040_always_write_dns_and_100_leaves_empty_dns_out() -> None:
    assert Result020().to_dict() == {"cniVersion": "0.2.0", "dns": {}}
    assert Result040().to_dict() == {"cniVersion": "0.4.0", "dns": {}}
    assert Result100().to_dict() == {"cniVersion": "1.1.0"}
    with_dns = Result100(dns=DNS(domain="x")).to_dict()
    assert with_dns == {"cniVersion": "1.1.0", "dns": {"domain": "x"}}


def test_route_extras_zero_is_omitted_but_table_and_scope_zero_are_kept() -> None:
    zeros = Result100(
        routes=[Route(dst="10.0.0.0/8", mtu=0, advmss=0, priority=0, table=0, scope=0)]
    ).to_dict()
    assert zeros["routes"] == [{"dst": "10.0.0.0/8", "table": 0, "scope": 0}]
    full = Result040(
        routes=[Route(dst="10.0.0.0/8", gw="10.0.0.1", mtu=1400, advmss=1360, priority=5,
                      table=100, scope=253)]
    ).to_dict()
    assert full["routes"] == [{"dst": "10.0.0.0/8", "gw": "10.0.0.1", "mtu": 1400,
                               "advmss": 1360, "priority": 5, "table": 100, "scope": 253}]


def test_interface_index_zero_and_empty_names_are_written() -> None:
    r = Result040(interfaces=[Interface040()],
                  ips=[IPConfig040(interface=0, address="10.1.2.3/24")])
    assert r.to_dict() == {"cniVersion": "0.4.0", "interfaces": [{"name": ""}],
            "ips": [{"version": "", "interface": 0, "address": "10.1.2.3/24"}],
            "dns": {}}


def test_100_keys_are_sorted_like_libcni_map_marshalling() -> None:
    r = Result100(interfaces=[Interface100(name="eth0", socket_path="/s", pci_id="p", mtu=9000)],
                  ips=[IPConfig100(address="10.1.2.3/24", interface=0, gateway="10.1.2.1")],
                  dns=DNS(search=["a"], domain="d"))
    text = r.to_json()
    assert text == (
        '{"cniVersion":"1.1.0","dns":{"domain":"d","search":["a"]},'
        '"interfaces":[{"mtu":9000,"name":"eth0","pciID":"p","socketPath":"/s"}],'
        '"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}]}'
    )


def test_040_and_020_keys_follow_libcni_struct_order() -> None:
    r = Result040(interfaces=[Interface040(name="eth0", mac="m", sandbox="s")],
                  ips=[IPConfig040(version="4", interface=0, address="10.1.2.3/24",
                                   gateway="10.1.2.1")],
                  routes=[Route(dst="0.0.0.0/0")], dns=DNS(nameservers=["n"], domain="d"))
    assert r.to_json() == (
        '{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","mac":"m","sandbox":"s"}],'
        '"ips":[{"version":"4","interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"}],'
        '"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["n"],"domain":"d"}}'
    )
    r020 = Result020(ip6=IPConfig020(ip="2001:db8::5/64"), ip4=IPConfig020(ip="10.1.0.5/16"))
    assert r020.to_json() == ('{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.5/16"},'
                              '"ip6":{"ip":"2001:db8::5/64"},"dns":{}}')


def test_to_json_indent_4_is_libcni_print() -> None:
    assert Result100().to_json(indent=4) == '{\n    "cniVersion": "1.1.0"\n}'


def test_to_dict_returns_a_fresh_object() -> None:
    r = Result040()
    d = r.to_dict()
    d["cniVersion"] = "x"
    assert r.to_dict()["cniVersion"] == "0.4.0"


# --- properties ---------------------------------------------------------------------------------


@given(cst.results)
def test_parse_of_to_json_is_identity(result: Result) -> None:
    """SPEC.md, Section 5: Result Types: a result written as JSON and read back is the same
    result."""
    assert result == parse_result(result.to_json())


@pytest.mark.parametrize("stated", ["absent", None, "", 1, True, [], {}])
def test_one_cni_version_fix_up_rule(stated: JSON) -> None:
    """libcni fixupResultVersion (cni#895): a cniVersion that is not a non-empty string is the
    version the reader assumes (the configuration's; 0.1.0 when it has none)."""
    body: dict[str, JSON] = {"ips": [{"address": "10.0.0.2/24"}]}
    if stated != "absent":
        body["cniVersion"] = stated
    assert parse_result(body, "1.0.0") == Result100(cni_version="1.0.0",
                                                    ips=(IPConfig100(address="10.0.0.2/24"),))
    assert parse_result({**body, "ip4": {"ip": "10.0.0.2/24"}}).cni_version == "0.1.0"
    assert parse_result(None, "1.1.0") == Result100(cni_version="1.1.0")


@given(cst.results)
def test_parse_of_to_dict_is_identity_without_a_body_version(result: Result) -> None:
    """A result without cniVersion is read in the version the runtime assumes (libcni
    fixupResultVersion)."""
    body = result.to_dict()
    del body["cniVersion"]
    assert result == parse_result(body, result.cni_version)


@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_a_cni_error(data: bytes) -> None:
    """Only typed errors escape: any bytes give a result or a CNIError."""
    with contextlib.suppress(CNIError):
        parse_result(data)


@given(cst.json_values, st.none() | cst.versions | st.text(max_size=5))
def test_arbitrary_json_parses_or_raises_a_cni_error(value: JSON, version: str | None) -> None:
    """Only typed errors escape: any JSON value gives a result or a CNIError."""
    with contextlib.suppress(CNIError):
        parse_result(value, version)


def _replace_somewhere(doc: JSON, path: list[int], new: JSON) -> JSON:
    # Replace the node reached by following `path` (indices modulo the children count).
    if not path or not isinstance(doc, dict | list) or not doc:
        return new
    keys: list[str | int] = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    if isinstance(doc, dict):
        assert isinstance(key, str)
        return {**doc, key: _replace_somewhere(doc[key], path[1:], new)}
    assert isinstance(key, int)
    out = list(doc)
    out[key] = _replace_somewhere(doc[key], path[1:], new)
    return out


@given(cst.results, st.lists(st.integers(0, 50), max_size=5), cst.json_values)
def test_results_with_a_node_replaced_parse_or_raise_a_cni_error(
    result: Result, path: list[int], new: JSON
) -> None:
    """Only typed errors escape, also deep inside an otherwise valid result."""
    doc = _replace_somewhere(result.to_dict(), path, new)
    outcome: object
    try:
        outcome = parse_result(dumps(doc))
    except CNIError as err:
        outcome = err
    assert isinstance(outcome, Result020 | Result040 | Result100 | ResultError)


# --- the IPv4 interface built without the constructor, and its fallback -----------------------


def test_the_direct_ipv4_interface_is_in_use_on_this_python() -> None:
    """The check made at import passes here, so results use the fast builder."""
    from cnilib.types import common

    assert common._direct_matches()
    assert common._interface4 is common._interface4_direct


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_the_direct_ipv4_interface_equals_the_constructors(ip: int, bits: int) -> None:
    from cnilib.types import common

    fast, public = common._interface4_direct(ip, bits), IPv4Interface((ip, bits))
    assert vars(fast) == vars(public)
    assert (int(fast), fast, hash(fast), str(fast)) == (int(public), public, hash(public),
                                                       str(public))
    assert (fast.network, fast.netmask, fast.hostmask, fast.with_prefixlen) == (
        public.network, public.netmask, public.hostmask, public.with_prefixlen)


def test_a_python_whose_interface_differs_selects_the_constructor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """If IPv4Interface's constructor set anything else, the import-time check fails."""
    from cnilib.types import common

    real = IPv4Interface.__init__

    def init(self: IPv4Interface, address: object) -> None:
        real(self, address)
        self.extra = 1  # type: ignore[attr-defined]

    monkeypatch.setattr(IPv4Interface, "__init__", init)
    assert not common._direct_matches()


def test_results_parse_alike_with_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback path gives the same results as the fast one."""
    from cnilib.types import common

    text = (b'{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"},'
            b'{"address":"192.168.0.9/32"},{"address":"fd00::5/64"}]}')
    common._parse_cidr.cache_clear()
    fast = parse_result(text)
    common._parse_cidr.cache_clear()
    monkeypatch.setattr(common, "_interface4", common._interface4_public)
    public = parse_result(text)
    common._parse_cidr.cache_clear()
    assert fast == public
    assert [vars(ip.address) for ip in fast.ips] == [  # type: ignore[union-attr]
        vars(ip.address) for ip in public.ips]  # type: ignore[union-attr]
