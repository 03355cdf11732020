"""Hostile input: the worst-case files and plugin outputs cost linear work and bounded memory.

Nothing here is timed (speed is measured by ``tests/benchmarks/bench_hostile.py``). Work is
counted instead: the characters the locator skips with the C decoder and the members it steps
through (``cnilib._schema.locate.STEPS``), which a walk per problem makes grow with the square
of the size; memory is the peak that :mod:`tracemalloc` sees, compared with the input's size.
"""

from __future__ import annotations

import ipaddress
import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._schema import locate as _locate
from cnilib.config import MAX_CONFIG_SIZE, conflist_from_bytes
from cnilib.errors import MAX_PROBLEMS, ConfigValidationError, Problem, Severity
from tests.hostile_shapes import SHAPES, at_size
from tests.variants import LONG

# -- worst-case configuration files (tests/hostile_shapes.py) -----------------------------

#: The memory checks load files this large (the cap itself in the long variant: tracemalloc
#: makes each load some 20 times slower).
MEMORY_CHECK_SIZE = MAX_CONFIG_SIZE if LONG else MAX_CONFIG_SIZE // 4

def load_problems(data: bytes) -> tuple[Problem, ...]:
    """Every problem (error or warning) of loading ``data``, each located."""
    try:
        problems = conflist_from_bytes(data).warnings
    except ConfigValidationError as err:
        problems = err.problems
    for p in problems:
        assert p.line is not None  # located, which is the work being bounded
    return problems


class CountingDecoder:
    """Stands in for the locator's JSON decoder and counts the characters it skips."""

    def __init__(self) -> None:
        self.real = json.JSONDecoder()
        self.skipped = 0

    def raw_decode(self, text: str, index: int = 0) -> tuple[Any, int]:
        value, end = self.real.raw_decode(text, index)
        self.skipped += end - index
        return value, end


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> CountingDecoder:
    decoder = CountingDecoder()
    monkeypatch.setattr(_locate, "_DECODER", decoder)
    monkeypatch.setattr(_locate, "STEPS", [0, 0])
    return decoder


@pytest.mark.parametrize("indent", [None, 1])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_locating_the_problems_of_a_file_at_the_size_cap_reads_it_once(
        shape: str, indent: int | None, counted: CountingDecoder) -> None:
    """Issue 7 item 4: each character is read a bounded number of times, however many
    problems; the walk per problem read the siblings before each one again (quadratic)."""
    data = at_size(SHAPES[shape], MAX_CONFIG_SIZE, indent=indent)
    assert len(data) > MAX_CONFIG_SIZE - 4096
    problems = load_problems(data)
    assert problems
    assert counted.skipped <= 2 * len(data)  # the plugins array may be skipped whole
    assert _locate.STEPS[0] <= len(data)


@pytest.mark.parametrize("shape", ["versions", "plugins", "nameservers", "ipam", "members"])
def test_problems_beyond_the_cap_are_counted_not_listed(shape: str) -> None:
    data = at_size(SHAPES[shape], MAX_CONFIG_SIZE)
    problems = load_problems(data)
    notes = [p for p in problems if p.rule == "more"]
    assert len(notes) == 1
    note = notes[0]
    assert note.pointer == ""
    assert (note.line, note.column) == (1, 1)
    same = [p for p in problems if p.severity is note.severity]
    assert len(same) == MAX_PROBLEMS + 1
    assert same[-1] is note
    assert int(note.message.split()[0]) > 1000


def test_a_capped_list_of_warnings_still_refuses_an_error_found_after_them() -> None:
    """The cap is per severity: errors beyond any number of warnings still refuse the file."""
    doc = SHAPES["nameservers"](5 * MAX_PROBLEMS)
    doc["plugins"].append({"type": "bridge", "ipam": {"type": ""}})
    with pytest.raises(ConfigValidationError) as caught:
        conflist_from_bytes(json.dumps(doc).encode())
    assert [p.pointer for p in caught.value.errors] == ["/plugins/1/ipam/type"]
    warnings = caught.value.warnings
    assert len(warnings) == MAX_PROBLEMS + 1
    assert warnings[-1].rule == "more"
    assert warnings[-1].message.startswith(f"{4 * MAX_PROBLEMS} more warnings not listed")


def test_a_few_problems_are_all_listed_with_no_note() -> None:
    problems = load_problems(json.dumps(SHAPES["versions"](3)).encode())
    assert [p.pointer for p in problems] == ["/cniVersions/0", "/cniVersions/1",
                                             "/cniVersions/2"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_loading_a_hostile_file_takes_bounded_memory(shape: str) -> None:
    """Peak memory is a bounded multiple of the file's size, however many problems (the
    decoded JSON itself is most of it: a nested list costs some 64 bytes for its 2
    characters)."""
    data = at_size(SHAPES[shape], MEMORY_CHECK_SIZE)
    tracemalloc.start()
    try:
        problems = load_problems(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems
    assert peak < 100 * len(data)


# -- the locator against the walk per pointer it replaced ---------------------------------

def naive_locate(text: str, pointers: list[str]) -> dict[str, tuple[int, int] | None]:
    """The former locator, one walk from the top per pointer: the oracle for the new one."""
    decoder = json.JSONDecoder()
    scan = json.decoder.scanstring  # type: ignore[attr-defined]

    def ws(i: int) -> int:
        while i < len(text) and text[i] in " \t\n\r":
            i += 1
        return i

    def find(pointer: str) -> int | None:
        i = ws(0)
        if i >= len(text):
            return None
        at = i
        if not pointer:
            return i
        for raw in pointer[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if text[i] == "{":
                found = None
                i = ws(i + 1)
                if text[i] != "}":
                    while True:
                        key_at = i
                        key, i = scan(text, i + 1)
                        i = ws(ws(i) + 1)
                        if key == token:
                            found = (key_at, i)
                        i = ws(decoder.raw_decode(text, i)[1])
                        if text[i] != ",":
                            break
                        i = ws(i + 1)
                if found is None:
                    return None
                at, i = found
            elif text[i] == "[" and token.isdigit() and str(int(token)) == token:
                i = ws(i + 1)
                if text[i] == "]":
                    return None
                for _ in range(int(token)):
                    i = ws(decoder.raw_decode(text, i)[1])
                    if text[i] != ",":
                        return None
                    i = ws(i + 1)
                at = i
            else:
                return None
        return at

    out: dict[str, tuple[int, int] | None] = {}
    for p in pointers:
        index = find(p)
        out[p] = None if index is None else _locate.line_column(text, index)
    return out


_keys = st.sampled_from(["a", "b", "a/b", "~", ""])
_docs = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(max_size=3)),
    # Lists of pairs, written as objects: duplicate keys included.
    lambda inner: st.one_of(st.lists(inner, max_size=4).map(lambda v: ("list", v)),
                            st.lists(st.tuples(_keys, inner), max_size=4).map(
                                lambda v: ("object", v))),
    max_leaves=20,
)


def _write(doc: Any, indent: str) -> str:
    if isinstance(doc, tuple):
        kind, items = doc
        sep = "," + indent
        if kind == "list":
            return "[" + indent + sep.join(_write(v, indent) for v in items) + "]"
        return "{" + indent + sep.join(f"{json.dumps(k)}: {_write(v, indent)}"
                                       for k, v in items) + "}"
    return json.dumps(doc)


_tokens = st.one_of(_keys.map(lambda k: k.replace("~", "~0").replace("/", "~1")),
                    st.sampled_from(["0", "1", "2", "01", "x"]))
_pointers = st.lists(st.lists(_tokens, max_size=4).map(lambda t: "".join("/" + x for x in t)),
                     max_size=12)


@given(doc=_docs, indent=st.sampled_from(["", "\n", "\n  "]), pointers=_pointers)
def test_one_walk_finds_what_a_walk_per_pointer_finds(doc: Any, indent: str,
                                                       pointers: list[str]) -> None:
    """Law: with duplicate keys (the last wins, also below it) and absent pointers."""
    text = _write(doc, indent)
    assert _locate.locate(text, pointers) == naive_locate(text, pointers)


def test_the_last_duplicate_wins_below_the_key_too() -> None:
    text = '{"a": {"b": 1, "c": [0]}, "a": {"c": [0, 1]}}'
    assert _locate.locate(text, ["/a/b", "/a/c/1", "/a/c/0"]) == {
        "/a/b": None, "/a/c/1": (1, 42), "/a/c/0": (1, 39)}


def test_severity_note_of_errors_is_an_error() -> None:
    problems = load_problems(json.dumps(SHAPES["versions"](MAX_PROBLEMS + 5)).encode())
    assert problems[-1].severity is Severity.ERROR
    assert problems[-1].message.startswith("5 more errors not listed")


# -- large results (issue 7 item 9) -------------------------------------------------------

def many_ips(count: int, version: str = "1.0.0") -> bytes:
    """A valid result of ``count`` IPv4 addresses, as the ``many-ips`` test plugin writes."""
    ips = ",".join(f'{{"address":"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/8",'
                   f'"interface":0}}' for i in range(count))
    return (f'{{"cniVersion":"{version}","interfaces":[{{"name":"eth0"}}],'
            f'"ips":[{ips}]}}').encode()


#: IPs of the large-result checks: the 300,000 of the issue (12.6 MB, under the 16 MiB output
#: cap) in the long variant.
RESULT_IPS = 300_000 if LONG else 20_000


def test_a_large_result_builds_one_network_object_per_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 7 item 9: 300,000 addresses of one /8 cost one IPv4Network, not 300,000 (the
    ipaddress constructors were three quarters of the time of ADD, cached query and DEL)."""
    from cnilib.types import common, parse_result

    built = [0]
    real = ipaddress.IPv4Network.__init__

    def counting(self: ipaddress.IPv4Network, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(ipaddress.IPv4Network, "__init__", counting)
    for memo in ("_parse_cidr", "_network4"):
        if hasattr(common, memo):
            getattr(common, memo).cache_clear()
    result = parse_result(many_ips(RESULT_IPS))
    assert len(result.ips) == RESULT_IPS  # type: ignore[union-attr]
    assert built[0] == 1
    assert str(result.ips[-1].address) == _last_address(RESULT_IPS)  # type: ignore[union-attr]


def _last_address(count: int) -> str:
    i = count - 1
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/8"


def test_a_large_result_round_trips_through_the_cache_format_in_bounded_memory() -> None:
    """Parse, convert back to JSON and encode as a cache entry: peak memory is a bounded
    multiple of the result's size (measured: about 12 times)."""
    from cnilib._cache.entry import decode, go_json
    from cnilib.types import parse_result

    data = many_ips(RESULT_IPS)
    tracemalloc.start()
    try:
        result = parse_result(data)
        text = go_json(result.to_dict())
        again = parse_result(decode(text.encode()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert again == result
    assert peak < 32 * len(data)
