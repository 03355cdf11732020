"""Version parsing, ordering and selection (SPEC.md "Version considerations"; pkg/version)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from cnilib.errors import CNIError, IncompatibleVersionError, InvalidVersionError, ResultError
from cnilib.version import (
    SPEC_VERSION,
    SUPPORTED_VERSIONS,
    PluginInfo,
    greater_than,
    greater_than_or_equal_to,
    parse_plugin_info,
    parse_version,
    plugin_supports,
    result_family,
    select_version,
    supports_check,
    supports_gc,
    supports_status,
    versions_starting_from,
)


def test_constants() -> None:
    assert SPEC_VERSION == "1.1.0"
    assert SUPPORTED_VERSIONS == ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", (0, 1, 0)), ("1", (1, 0, 0)), ("1.2", (1, 2, 0)), ("0.3.1", (0, 3, 1)),
     ("01.02.03", (1, 2, 3)), ("+1.0.0", (1, 0, 0))],
)
def test_parse_version_go_semantics(text: str, expected: tuple[int, int, int]) -> None:
    assert expected == parse_version(text)


@pytest.mark.parametrize(
    "text", ["v1.0.0", "1.0.0-rc1", " 1.0.0", "1..2", "0.", "1.2.3.4", "\u0661.\u0660"])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(InvalidVersionError):
        parse_version(text)


def test_ordering() -> None:
    assert not greater_than("1.0", "1.0.0")
    assert greater_than_or_equal_to("", "0.1.0")
    assert greater_than("1.1.0", "1.0.0")


@pytest.mark.parametrize(
    ("cni_version", "cni_versions", "expected"),
    [
        (None, ["1.1.0", "0.4.0", "1.0.0"], "1.1.0"),
        (None, ["99.0.0", "1.1.0", "0.4.0", "1.0.0"], "1.1.0"),
        ("1.0.0", ["0.1.0", "0.4.0"], "1.0.0"),
        (None, [], ""),
        ("1.2.3", None, "1.2.3"),
        ("2.0.0", ["3.0.0"], "2.0.0"),
        (None, ["1.0", "1.0.0"], "1.0"),
        ("1.0", ["1.0.0"], "1.0.0"),
    ],
)
def test_select_version_reference_examples(
    cni_version: str | None, cni_versions: list[str] | None, expected: str
) -> None:
    """SPEC.md, Section 1: Network configuration format: the runtime MUST select the highest version
    it supports."""
    assert expected == select_version(cni_version, cni_versions)


@given(a=st.lists(st.integers(0, 10**6), min_size=1, max_size=3),
       b=st.lists(st.integers(0, 10**6), min_size=1, max_size=3))
def test_ordering_agrees_with_packaging(a: list[int], b: list[int]) -> None:
    """On plain dotted numbers, where the two grammars meet, libcni's numeric order (missing
    parts are 0) is PEP 440's release-segment order (packaging as the oracle)."""
    x, y = ".".join(map(str, a)), ".".join(map(str, b))
    assert parse_version(x) == Version(x).release + (0,) * (3 - len(a))
    assert greater_than(x, y) == (Version(x) > Version(y))
    assert greater_than_or_equal_to(x, y) == (Version(x) >= Version(y))


@pytest.mark.parametrize("text", ["+1.0.0", "-0.1", "", "1.0.0-rc1", "v1", "1.0.0.0"])
def test_packaging_is_no_cni_version_parser(text: str) -> None:
    """Why cnilib does not parse versions with packaging: libcni's grammar (Go's Atoi per
    part, ``""`` is 0.1.0, at most three parts) and PEP 440 disagree on these strings."""
    try:
        ours: tuple[int, ...] | None = parse_version(text)
    except InvalidVersionError:
        ours = None
    try:
        theirs: tuple[int, ...] | None = Version(text).release
    except InvalidVersion:
        theirs = None
    assert ours != theirs


def test_select_version_bad_entry() -> None:
    with pytest.raises(InvalidVersionError):
        select_version(None, ["1.1.0", "0.4.0", "1.0.f"])


@given(st.lists(st.sampled_from(SUPPORTED_VERSIONS), min_size=1),
       st.sampled_from(SUPPORTED_VERSIONS))
def test_select_is_the_highest(versions: list[str], single: str) -> None:
    """SPEC.md, Section 1: Network configuration format: "the runtime MUST select the highest
    version it supports"."""
    chosen = select_version(single, versions)
    assert parse_version(chosen) == max(parse_version(v) for v in [*versions, single])


@given(st.text(max_size=12))
def test_parse_version_only_typed_errors(text: str) -> None:
    """Any string either parses or raises InvalidVersionError."""
    try:
        major, minor, micro = parse_version(text)
    except InvalidVersionError:
        return
    assert min(major, minor, micro) >= -(10**18)


def test_families_and_gates() -> None:
    assert [result_family(v) for v in ("", *SUPPORTED_VERSIONS)] == [
        "020", "020", "020", "040", "040", "040", "100", "100"]
    with pytest.raises(IncompatibleVersionError):
        result_family("1.2.0")
    assert supports_check("0.4.0")
    assert not supports_check("0.3.1")
    assert not supports_check("bogus")
    assert supports_gc("1.1.0")
    assert not supports_gc("1.0.0")
    assert supports_status("1.1.0")
    assert not supports_status("")
    assert versions_starting_from("1.0.0") == ("1.0.0", "1.1.0")
    with pytest.raises(InvalidVersionError):
        versions_starting_from("0.-42.0")


def test_plugin_info() -> None:
    info = parse_plugin_info(b'{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}')
    assert info == PluginInfo(cni_version="1.0.0", supported_versions=("0.4.0", "1.0.0"))
    assert info.supports("1.0.0")
    assert not info.supports("1.0")
    with pytest.raises(IncompatibleVersionError) as exc:
        info.check("1.1.0")
    assert exc.value.details == 'config is "1.1.0", plugin supports ["0.4.0" "1.0.0"]'
    assert str(exc.value) == ('incompatible CNI versions; config is "1.1.0", '
                              'plugin supports ["0.4.0" "1.0.0"]')
    legacy = parse_plugin_info({"cniVersion": "0.2.0"})
    assert legacy.supported_versions == ("0.1.0", "0.2.0")
    expected = '{"cniVersion":"1.1.0","supportedVersions":["1.0.0"]}'
    assert expected == plugin_supports("1.0.0").to_json()


@pytest.mark.parametrize(
    "data", [b"", b"[]", b'{"cniVersion":""}', b'{"cniVersion":"1.0.0"}',
             b'{"cniVersion":"1.0.0","supportedVersions":"1.0.0"}', b"\xff", b"null"])
def test_plugin_info_rejects(data: bytes) -> None:
    with pytest.raises(ResultError):
        parse_plugin_info(data)


@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_plugin_info_only_typed_errors(data: bytes) -> None:
    """Arbitrary VERSION replies either decode or raise a CNIError."""
    with contextlib.suppress(CNIError):
        parse_plugin_info(data)


def _go_select(cni_version: str, cni_versions: list[str]) -> str:
    """libcni main's selection (libcni/conf.go), step by step: keep the entries not above
    1.1.0, append cniVersion, sort with its comparator by Go's insertion sort (what
    slices.SortFunc does for fewer than 13 elements), take the last."""
    limit = parse_version("1.1.0")
    vs = [v for v in cni_versions if parse_version(v) <= limit]
    if cni_version and parse_version(cni_version) <= limit:
        vs.append(cni_version)

    def cmp(a: str, b: str) -> int:
        if a == b:
            return 0
        return 1 if parse_version(a) > parse_version(b) else -1

    for i in range(1, len(vs)):
        j = i
        while j > 0 and cmp(vs[j], vs[j - 1]) < 0:
            vs[j], vs[j - 1] = vs[j - 1], vs[j]
            j -= 1
    return vs[-1] if vs else cni_version


_SPELLINGS = st.sampled_from(["0.4.0", "0.4", "1.0.0", "1.0", "1", "1.1.0", "1.1", "2.0.0"])


@given(st.sampled_from(["", "1.0", "1.0.0", "1.1", "1.1.0", "3.0.0"]),
       st.lists(_SPELLINGS, max_size=11))
def test_select_version_picks_the_spelling_libcni_main_picks(
        cni_version: str, cni_versions: list[str]) -> None:
    """Among spellings of one version ("1.0", "1.0.0"), the one libcni main selects."""
    assert select_version(cni_version, cni_versions) == _go_select(cni_version, cni_versions)
