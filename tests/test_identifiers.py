"""Identifier rules and CNI_ARGS (SPEC.md, section "Parameters", SPEC.md, section "Attachment
Parameters").

Messages and codes are libcni's (pkg/utils/utils.go); CNI_ARGS parsing is cnitool's.
"""

from __future__ import annotations

import os.path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib.errors import ErrorCode, InvalidIdentifierError, InvalidPluginNameError
from cnilib.identifiers import (
    check_container_id,
    check_interface_name,
    check_network_name,
    check_plugin_type,
    format_cni_args,
    parse_cni_args,
)

# -- container IDs and network names --------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a", "0", "abc-123_x.y", "A" * 300, "cnitool-77383ca0a0715733ca6f"])
def test_valid_container_ids(value: str) -> None:
    check_container_id(value)


def test_empty_container_id_is_code_3() -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_container_id("")
    assert (info.value.code, info.value.msg) == (ErrorCode.UNKNOWN_CONTAINER, "missing containerID")


@pytest.mark.parametrize("value", ["a b", "-a", "_a", ".a", "a/b", "a\n", "é", "a;b", "a\x00"])
def test_invalid_container_ids_are_code_4_with_the_id(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_container_id(value)
    err = info.value
    assert (ErrorCode.INVALID_ENVIRONMENT_VARIABLES, "invalid characters in containerID",
            value) == (err.code, err.msg, err.details)
    assert f"invalid characters in containerID; {value}" == str(err)


def test_container_id_that_is_not_a_string() -> None:
    with pytest.raises(InvalidIdentifierError):
        check_container_id(5)  # type: ignore[arg-type]


def test_empty_network_name_keeps_libcnis_trailing_colon() -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_network_name("")
    found = (info.value.code, info.value.msg)
    assert found == (ErrorCode.INVALID_NETWORK_CONFIG, "missing network name:")


@pytest.mark.parametrize("value", ["../x", "a/b", "my net", ".", "..", "-x", "x\n", None])
def test_invalid_network_names_are_code_7(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_network_name(value)
    assert info.value.code == ErrorCode.INVALID_NETWORK_CONFIG
    assert info.value.msg == "invalid characters found in network name"


@pytest.mark.parametrize("value", ["dbnet", "k8s-pod-network", "flannel.4096", "any_name", "1"])
def test_valid_network_names(value: str) -> None:
    check_network_name(value)


@given(st.text())
def test_a_valid_network_name_cannot_escape_a_directory(name: str) -> None:
    """A network name "Must not contain characters disallowed in file paths"."""
    try:
        check_network_name(name)
    except InvalidIdentifierError:
        return
    joined = os.path.normpath(os.path.join("/etc/cni/net.d", name))
    assert os.path.dirname(joined) == "/etc/cni/net.d"
    assert os.path.basename(joined) == name


# -- interface names ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["eth0", "a", "x" * 15, "net1.100", "é" * 7, "if-é"])
def test_valid_interface_names(value: str) -> None:
    check_interface_name(value)


@pytest.mark.parametrize(
    ("value", "msg", "details"),
    [
        ("", "interface name is empty", ""),
        ("x" * 16, "interface name is too long",
         "interface name should be less than 16 characters"),
        ("é" * 8, "interface name is too long",  # 16 bytes: libcni counts bytes
         "interface name should be less than 16 characters"),
        (".", "interface name is . or ..", ""),
        ("..", "interface name is . or ..", ""),
    ],
)
def test_interface_name_rules(value: str, msg: str, details: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_interface_name(value)
    err = info.value
    assert (ErrorCode.INVALID_ENVIRONMENT_VARIABLES, msg, details) == (
        err.code, err.msg, err.details)


@pytest.mark.parametrize("value", ["a/b", "a:b", "a b", "a\tb", "eth0\n", "a\u00a0b", "a\x00"])
def test_interface_names_with_separators_or_spaces(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        check_interface_name(value)
    assert info.value.msg == "interface name contains / or : or whitespace characters"


@pytest.mark.parametrize("value", ["\ud800", 3, None])
def test_interface_names_that_are_not_utf8_strings(value: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        check_interface_name(value)


@given(st.text())
def test_interface_name_checks_never_raise_anything_else(name: str) -> None:
    """Only typed errors escape."""
    try:
        check_interface_name(name)
    except InvalidIdentifierError:
        return
    assert 1 <= len(name.encode()) <= 15
    assert not any(c in "/: \t\n\x00" for c in name)


# -- plugin types (G1, CVE-2021-20206) -------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["bridge", "host-local", "calico-ipam", "azure-vnet", "cilium-cni", "a.b", "_x",
              "c++", "x" * 255],
)
def test_safe_plugin_types(value: str) -> None:
    check_plugin_type(value)


@pytest.mark.parametrize(
    "value", ["", ".", "..", "../x", "a/b", "/bin/sh", "a\\b", "a\x00", "-x", "+x", ".hidden",
              "a b", "é", "x" * 256, 7, None],
)
def test_unsafe_plugin_types(value: str) -> None:
    with pytest.raises(InvalidPluginNameError):
        check_plugin_type(value)


@given(st.text())
def test_an_accepted_plugin_type_is_a_plain_file_name(name: str) -> None:
    """``type``: "Must not contain characters disallowed in file paths for the system
    (e.g. / or \\)"."""
    try:
        check_plugin_type(name)
    except InvalidPluginNameError:
        return
    assert name == os.path.basename(name)
    assert name not in (".", "..")
    assert name.isascii()
    assert not any(c in "/\\\x00" or c.isspace() for c in name)


# -- CNI_ARGS --------------------------------------------------------------------------------


def test_format_joins_pairs_in_order() -> None:
    pairs = [("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web-0"), ("IP", "10.0.0.5/24"),
             ("K8S_POD_NAME", "again")]
    expected = "IgnoreUnknown=1;K8S_POD_NAME=web-0;IP=10.0.0.5/24;K8S_POD_NAME=again"
    assert format_cni_args(pairs) == expected


def test_format_accepts_a_mapping_and_nothing() -> None:
    assert format_cni_args({"A": "1", "B": "2"}) == "A=1;B=2"
    assert format_cni_args([]) == ""


@pytest.mark.parametrize(
    "pair",
    [("A;IP", "1"), ("A", "foo;IP=10.0.0.5"), ("A=B", "1"), ("A", "b=c"), ("A\x00", "1"),
     ("A", "1\x00"), ("", "1"), ("A", ""), ("A", "\udcff"), ("A", 1), ("A", "1", "x"), "AB"],
)
def test_format_refuses_what_the_format_cannot_carry(pair: tuple[str, str]) -> None:
    with pytest.raises(InvalidIdentifierError):
        format_cni_args([("OK", "1"), pair])


def test_format_refuses_a_non_iterable() -> None:
    with pytest.raises(InvalidIdentifierError):
        format_cni_args(5)  # type: ignore[arg-type]


def test_empty_values_on_request() -> None:
    assert format_cni_args([("A", ""), ("B", "1")], allow_empty_values=True) == "A=;B=1"
    assert parse_cni_args("A=;B=1", allow_empty_values=True) == (("A", ""), ("B", "1"))
    with pytest.raises(InvalidIdentifierError):
        format_cni_args([("", "x")], allow_empty_values=True)


def test_parse() -> None:
    assert parse_cni_args("") == ()
    assert parse_cni_args("FOO=BAR;ABC=123") == (("FOO", "BAR"), ("ABC", "123"))


@pytest.mark.parametrize("value", ["A=B=C", "A=B;", "A=", "=B", ";", "A", "A=1;;B=2", "A=\x00"])
def test_parse_is_as_strict_as_cnitool(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_cni_args(value)
    assert info.value.msg.startswith("invalid CNI_ARGS")


def test_parse_names_the_bad_pair_as_cnitool_does() -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_cni_args("A=1;B=2=3")
    assert info.value.msg == 'invalid CNI_ARGS pair "B=2=3"'


def test_parse_refuses_a_non_string() -> None:
    with pytest.raises(InvalidIdentifierError):
        parse_cni_args(b"A=1")  # type: ignore[arg-type]


_part = st.text(st.characters(codec="utf-8", exclude_characters=";=\x00"), min_size=1)


@given(st.lists(st.tuples(_part, _part)))
def test_cni_args_round_trip(pairs: list[tuple[str, str]]) -> None:
    """CNI_ARGS: "Alphanumeric key-value pairs separated by semicolons"."""
    assert tuple(pairs) == parse_cni_args(format_cni_args(pairs))


@given(st.lists(st.tuples(_part, _part)), st.sampled_from(";=\x00"), st.booleans(),
       st.integers(min_value=0, max_value=5))
def test_separators_inside_a_pair_are_always_refused(
    pairs: list[tuple[str, str]], bad: str, in_key: bool, where: int
) -> None:
    """CNI_ARGS: "Alphanumeric key-value pairs separated by semicolons"; a separator inside
    a key or value would change the pairs, so it is refused, never passed through."""
    key, value = ("K", "V")
    if in_key:
        key = key[:where] + bad + key[where:]
    else:
        value = value[:where] + bad + value[where:]
    with pytest.raises(InvalidIdentifierError):
        format_cni_args([*pairs, (key, value)])


@given(st.text())
def test_parse_never_raises_anything_else(value: str) -> None:
    """Only typed errors escape."""
    try:
        pairs = parse_cni_args(value)
    except InvalidIdentifierError:
        return
    assert value == format_cni_args(pairs)


@pytest.mark.parametrize(("pairs", "message"), [
    ([("a",)], "invalid CNI_ARGS pair ('a',): expected (key, value)"),
    ([("a", "b", "c")], "invalid CNI_ARGS pair ('a', 'b', 'c'): expected (key, value)"),
    (["ab"], "invalid CNI_ARGS pair 'ab': expected (key, value)"),
    (5, "invalid CNI_ARGS pairs: 'int' object is not iterable"),
    ([("a", 1)], "invalid CNI_ARGS value 1: not a string; ('a', 1)"),
    ({b"a": "1"}, "invalid CNI_ARGS key b'a': not a string; (b'a', '1')"),
])
def test_cni_args_shape_is_checked_once_for_runtime_conf_cache_and_format(pairs: Any,
                                                                          message: str) -> None:
    """RuntimeConf's ``args``, CacheEntry's ``cni_args`` and format_cni_args refuse a
    malformed pair with one message: one check serves all three."""
    from cnilib.cache import CacheEntry
    from cnilib.protocol import RuntimeConf

    with pytest.raises(InvalidIdentifierError) as formatted:
        format_cni_args(pairs)
    with pytest.raises(InvalidIdentifierError) as conf:
        RuntimeConf("c1", "/var/run/netns/x", "eth0", pairs)
    with pytest.raises(InvalidIdentifierError) as cached:
        CacheEntry(network_name="n", container_id="c1", ifname="eth0", cni_args=pairs)
    assert str(formatted.value) == str(conf.value) == str(cached.value) == message
