"""The fast paths build exactly what the general paths build, or leave the work to them.

cnilib decodes results, converts them and loads configurations through hand-written fast
paths (unchecked constructors, result hooks that read the common shape first, the JSON
scanner called directly). Each is only an optimisation: for any input, the value it returns
equals what the general path (the cattrs converter, the attrs constructors,
``JSONDecoder.decode``) returns, and where it does not return, the general path decides,
errors included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnilib import _json
from cnilib._json import JSON
from cnilib._results import codec as _codec
from cnilib._results import decode as _decode
from cnilib._results import encode as _encode
from cnilib.config import (
    NetworkConfigList,
    PluginConfig,
    conf_from_file,
    conflist_from_bytes,
    conflist_from_conf,
    conflist_from_file,
)
from cnilib.errors import CNIError, ConfigError
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
from cnilib.types.common import unchecked
from tests.paths import corpus_files

# Values that JSON decoding can produce, chosen to hit every type test of the fast path.
_ODD: list[JSON] = [None, "", "x", "10.1.0.1", "10.1.0.0/16", "2001:db8::1/64", "fe80::1%eth0",
                    0, 1, -1, 2**63, 1.5, 1.0, True, False, [], ["a"], [None], {}, {"dst": 1}]


def _perturb(value: JSON, data: st.DataObject, depth: int = 0) -> JSON:
    # A copy of `value` with some members replaced, dropped, nulled or added.
    if isinstance(value, dict):
        out: dict[str, JSON] = {}
        for key, member in value.items():
            action = data.draw(st.sampled_from(["keep", "keep", "odd", "drop"]))
            if action == "odd" and key != "cniVersion":
                out[key] = data.draw(st.sampled_from(_ODD))
            elif action != "drop" or key == "cniVersion":
                out[key] = _perturb(member, data, depth + 1)
        if data.draw(st.booleans()):
            out[data.draw(st.sampled_from(["extra", "mtu", "gw", "interface", "domain"]))] = (
                data.draw(st.sampled_from(_ODD)))
        return out
    if isinstance(value, list):
        items: list[JSON] = [_perturb(v, data, depth + 1) for v in value]
        replace: bool = data.draw(st.booleans())
        if items and replace:
            items[data.draw(st.integers(0, len(items) - 1))] = data.draw(st.sampled_from(_ODD))
        return items
    return value


def _same(fast: object, slow: object) -> None:
    # Equal, and equal all the way down in type too (a tuple is not a list, 1 is not True).
    assert type(fast) is type(slow)
    if attrs.has(type(fast)):
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(fast))):
            _same(getattr(fast, field.name), getattr(slow, field.name))
    elif isinstance(fast, tuple):
        assert isinstance(slow, tuple)
        assert len(fast) == len(slow)
        for a, b in zip(fast, slow, strict=True):
            _same(a, b)
    else:
        assert fast == slow


def _hook_agrees_with_the_generated_hook(body: JSON, cl: type[Result]) -> None:
    # The registered hook reads the common shape itself and hands the rest to the hook cattrs
    # generates: whatever it returns, the generated hook alone returns too.
    try:
        slow = _codec._object_hook(cl)(body, cl)
    except Exception:  # then the registered hook fails as well (it falls back to this one)
        with pytest.raises(Exception):  # noqa: B017, PT011 (any failure: the caller locates)
            _codec.converter.get_structure_hook(cl)(body, cl)
        return
    _same(_codec.converter.get_structure_hook(cl)(body, cl), slow)


@given(cst.results, st.data())
def test_result_hook_builds_what_the_generated_hook_builds(result: Result,
                                                            data: st.DataObject) -> None:
    """Any body: the registered result hook and cattrs' generated hook build the same value."""
    body = _perturb(result.to_dict(), data)
    _hook_agrees_with_the_generated_hook(body, type(result))


_BODIES: list[JSON] = [
    {"ips": [{"address": "10.0.0.2/24", "interface": -1}]},
    {"ips": [{"address": "10.0.0.2/24", "interface": 2**63}]},
    {"ips": [{"address": "10.0.0.2/24", "interface": 1.0}]},
    {"ips": [{"address": "10.0.0.2/24", "interface": True}]},
    {"ips": [{"address": "10.0.0.2/24", "interface": None, "gateway": ""}]},
    {"ips": [{"address": "10.0.0.2/24", "gateway": None, "version": "4"}]},
    {"ips": [{"address": "10.0.0.2", "version": None}]},
    {"ips": [{"address": None}]},
    {"ips": [{}]},
    {"ips": [None]},
    {"ips": {}},
    {"ips": None, "interfaces": None, "routes": None, "dns": None},
    {"interfaces": [{"name": "e", "mtu": -1}]},
    {"interfaces": [{"name": "e", "mtu": None, "mac": None}]},
    {"interfaces": [{"name": 1}]},
    {"interfaces": [{"socketPath": "/s", "pciID": "0000:00:01.0", "mtu": 9000}]},
    {"routes": [{"dst": "10.0.0.0/8"}, {"dst": "10.0.0.0/8", "gw": ""},
                {"dst": "10.0.0.0/8", "gw": None}, {"dst": "10.0.0.0/8", "mtu": 0}]},
    {"routes": [{"dst": "10.0.0.0/8", "gw": "10.0.0.1", "table": 0, "scope": 253}]},
    {"routes": [{"dst": "10.0.0.0/8", "gw": 1}]},
    {"routes": [{"dst": "10.0.0.0/8", "priority": -1}]},
    {"routes": [{"gw": "10.0.0.1"}]},
    {"dns": {"nameservers": ["10.0.0.1"], "domain": None, "search": None}},
    {"dns": {"nameservers": [1]}},
    {"dns": {"domain": 1}},
    {"dns": {"options": "ndots:5"}},
    {"dns": []},
    {"ip4": {"ip": "10.0.0.2/24", "routes": [{"dst": "0.0.0.0/0"}]}, "ip6": None},
    {"ip4": {"ip": "10.0.0.2/24", "gateway": "fe80::1%eth0"}},
    {"ip4": {"ip": None}},
    {"ip4": []},
    {"ip6": {"ip": "2001:db8::2/64", "gateway": ""}},
]


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.1.0"])
@pytest.mark.parametrize("body", _BODIES)
def test_result_hook_on_odd_bodies(body: dict[str, JSON], version: str) -> None:
    _hook_agrees_with_the_generated_hook({**body, "cniVersion": version},
                                         _decode.RESULT_CLASSES[version])


@given(cst.results)
def test_result_hook_reads_every_result_cnilib_writes_itself(result: Result) -> None:
    """What cnilib writes, the common-shape reader reads back, equal (no detour through the
    generated hook)."""
    body = result.to_dict()
    cl = type(result)
    _same(_decode._COMMON[cl](body, unchecked(cl)), result)


def test_results_with_nulls_and_odd_values_still_fail_located() -> None:
    with pytest.raises(CNIError, match=r"at /ips/0/interface"):
        parse_result({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": -1}]})
    r = parse_result({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": None}],
                      "dns": None, "routes": None})
    assert r == Result100(cni_version="1.0.0", interfaces=(Interface100(name="eth0"),))


_CLASSES = [Route, DNS, IPConfig020, Result020, Interface040, IPConfig040, Result040,
            Interface100, IPConfig100, Result100]


@pytest.mark.parametrize("cl", _CLASSES, ids=lambda c: c.__name__)
def test_unchecked_constructors_build_the_same_frozen_values(cl: type[Any]) -> None:
    value = cl() if cl not in (Route, IPConfig020, IPConfig040, IPConfig100) else None
    if value is None:
        value = (Route(dst="10.0.0.0/8", gw="10.0.0.1", mtu=1400, table=0) if cl is Route else
                 IPConfig020(ip="10.0.0.2/8", gateway="10.0.0.1") if cl is IPConfig020 else
                 cl(address="10.0.0.2/8", gateway="10.0.0.1"))
    fields = [getattr(value, f.name) for f in attrs.fields(cl)]
    built = unchecked(cl)(*fields)
    _same(built, value)
    assert hash(built) == hash(value)
    assert repr(built) == repr(value)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.cni_version = "x"


def test_unchecked_runs_post_init_checks() -> None:
    with pytest.raises(CNIError, match="mtu"):
        unchecked(Route)(Route(dst="10.0.0.0/8").dst, None, -1, 0, 0, None, None)


# -- JSON ------------------------------------------------------------------------------------

_texts = st.one_of(
    cst.json_values.map(json.dumps),
    st.builds(lambda v, a, b: a + json.dumps(v, indent=1) + b, cst.json_values,
              st.sampled_from(["", " ", "\n", "\t\r\n", "\x0c", "x"]),
              st.sampled_from(["", " ", "\n", " \n\t\r", "\x0c", "x", "]", " 1"])),
    st.text(max_size=30),
)


def _outcome(decode: Any, text: str) -> tuple[str, object]:
    try:
        return ("value", json.dumps(decode(text)))
    except json.JSONDecodeError as err:
        return ("error", (err.msg, err.pos))
    except Exception as err:  # the same exception class and message either way
        return ("raised", (type(err), str(err)))


@given(_texts)
def test_json_scanner_fast_path_decodes_as_the_decoder(text: str) -> None:
    """For any text, the direct scan gives the decoder's value or the decoder's error."""
    assert _outcome(_json._decode, text) == _outcome(_json._DECODER.decode, text)


@pytest.mark.parametrize("text", ["", " ", "{}", " {}", "{} ", "{}\n\t\r ", "{}x", "{} x",
                                  "{}\x0c", "\x0c{}", "1", "1 2", "[1,]", "NaN", '"a"  ',
                                  '{"a": [1, 2}', "[" * 50 + "]" * 49, "\ufeff{}"])
def test_json_scanner_fast_path_on_edge_texts(text: str) -> None:
    assert _outcome(_json._decode, text) == _outcome(_json._DECODER.decode, text)


# -- configurations ---------------------------------------------------------------------------


def _rebuilt(net: NetworkConfigList) -> NetworkConfigList:
    # The same values through the attrs constructors.
    plugins = tuple(PluginConfig(type=p.type, name=p.name, cni_version=p.cni_version,
                                 capabilities=p.capabilities, ipam=p.ipam, dns=p.dns, raw=p.raw,
                                 bytes=p._bytes, source=p.source, warnings=p.warnings)
                    for p in net.plugins)
    return attrs.evolve(net, plugins=plugins)


@pytest.mark.parametrize("path", corpus_files("configs"), ids=lambda p: p.name)
def test_loaders_build_what_the_constructors_build(path: Path) -> None:
    if path.suffix == ".conflist":
        net = conflist_from_file(path)
    else:
        net = conflist_from_conf(conf_from_file(path))
    again = _rebuilt(net)
    assert again == net
    for mine, theirs in zip(net.plugins, again.plugins, strict=True):
        for field in attrs.fields(PluginConfig):
            assert getattr(mine, field.name) == getattr(theirs, field.name)
        assert mine.bytes == theirs.bytes
    assert attrs.asdict(again, recurse=False) == attrs.asdict(net, recurse=False)


def _list(tmp_path: Path, name: str = "n1") -> Path:
    path = tmp_path / "a.conflist"
    path.write_text(json.dumps({"cniVersion": "1.0.0", "name": name,
                                "plugins": [{"type": "bridge"}]}))
    return path


def test_drop_in_folder_that_is_a_dangling_link_has_no_drop_ins(tmp_path: Path) -> None:
    (tmp_path / "n1").symlink_to(tmp_path / "missing")
    assert len(conflist_from_file(_list(tmp_path)).plugins) == 1


def test_drop_in_folder_that_is_a_link_loop_is_reported(tmp_path: Path) -> None:
    (tmp_path / "n1").symlink_to(tmp_path / "n1")
    with pytest.raises(ConfigError, match="failed to read config files"):
        conflist_from_file(_list(tmp_path))


def test_drop_in_folder_name_too_long_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="failed to read config files"):
        conflist_from_file(_list(tmp_path, "n" * 300))


def test_drop_in_folder_behind_a_link_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "1.conf").write_text('{"type": "tuning"}')
    os.symlink(real, tmp_path / "n1")
    assert [p.type for p in conflist_from_file(_list(tmp_path)).plugins] == ["bridge", "tuning"]


def test_flags_given_as_strings_take_the_general_path() -> None:
    net = conflist_from_bytes(b'{"name": "n", "disableCheck": "TRUE", "disableGC": false,'
                              b' "plugins": [{"type": "bridge"}]}')
    assert (net.disable_check, net.disable_gc, net.load_only_inlined_plugins) == (True, False,
                                                                                  False)


# --- the large-result fast paths (issue 7 item 9) ----------------------------------------------

_octets = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["00", "01", "256", "1a", "",
                                                                     "\u0661", "999"]))
_prefixes = st.one_of(st.integers(0, 33).map(str), st.sampled_from(["00", "08", "032", "", "x"]))


@given(st.lists(_octets, min_size=3, max_size=5), _prefixes, st.sampled_from(["/", "", "//"]))
def test_ipv4_cidr_fast_path_builds_what_ipaddress_builds(octets: list[str], prefix: str,
                                                           slash: str) -> None:
    """Any text: the regular expression path and the ipaddress path agree, errors included."""
    from ipaddress import IPv4Interface, ip_address

    from cnilib.types.common import _parse_cidr

    text = ".".join(octets) + slash + prefix
    _parse_cidr.cache_clear()
    try:
        fast: object = _parse_cidr(text)
    except CNIError:
        fast = None
    addr, _, bits = text.partition("/")
    try:
        ip = ip_address(addr)
        ok = slash == "/" and bits.isascii() and bits.isdigit() and len(bits) <= 3 and (
            int(bits) <= ip.max_prefixlen)
        slow: object = IPv4Interface((int(ip), int(bits))) if ok else None
    except ValueError:
        slow = None
    assert fast == slow
    if isinstance(slow, IPv4Interface):
        assert isinstance(fast, IPv4Interface)
        for name in ("ip", "network", "netmask", "hostmask", "with_prefixlen", "with_netmask"):
            assert getattr(fast, name) == getattr(slow, name)
        assert (hash(fast), str(fast), repr(fast)) == (hash(slow), str(slow), repr(slow))
        assert _encode._ip_text(fast) == str(slow)


@given(cst.results_100)
def test_ipconfig100_unstructure_hook_writes_what_cattrs_writes(result: Result) -> None:
    from cattrs.gen import make_dict_unstructure_fn

    general = make_dict_unstructure_fn(IPConfig100, _codec.converter,
                                       _cattrs_omit_if_default=True)
    for ip in getattr(result, "ips", ()):
        expected = {k: (str(v) if k in ("address", "gateway") else v)
                    for k, v in general(ip).items()}
        assert _encode._unstructure_ipconfig100(ip) == expected


_json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=4),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20,
)


@given(_json_trees)
def test_cache_json_fast_path_writes_what_the_walk_writes(value: JSON) -> None:
    """go_json's C-encoder path (maps without floats) equals its own recursive walk."""
    from cnilib._cache.entry import go_json

    assert go_json({"k": value}) == '{"k":' + go_json(value, 1) + "}"


def _depth_by_loop(text: str) -> bool:
    # The former character loop, the oracle for the regular-expression version.
    depth, in_str, escape = 0, False, False
    for ch in text:
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > _json.MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


@given(st.lists(st.sampled_from(['[', ']', '{', '}', '"', '\\', 'a', '[' * 50, '"[[[', '\\"']),
                max_size=40))
@example(["[" * 50, "[" * 50, '\\"', "\\"])  # a string left open on a lone backslash
def test_depth_check_agrees_with_a_character_loop(parts: list[str]) -> None:
    text = "".join(parts) * 3
    assert _json._depth_ok(text) == _depth_by_loop(text)
