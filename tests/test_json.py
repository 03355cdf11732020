"""Strict JSON decoding: only RFC 8259 JSON gets through, and only typed errors escape."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnilib
import cnilib.version
from cnilib._json import JSON, MAX_DEPTH, dumps, loads
from cnilib.errors import InvalidJSONError
from cnilib.testing.strategies import json_values


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [(b'{\n  "a": }', 2, 8), (b"{'a': 1}", 1, 2), (b'{"a": 1,}', 1, 9)],
)
def test_syntax_errors_are_located(data: bytes, line: int, column: int) -> None:
    with pytest.raises(InvalidJSONError) as exc:
        loads(data, source="x.conf")
    assert (exc.value.file, exc.value.line, exc.value.column) == ("x.conf", line, column)
    assert str(exc.value).startswith(f"x.conf:{line}:{column}: ")


@pytest.mark.parametrize(
    "data",
    [b"NaN", b"[Infinity]", b"[-Infinity]", b"1e400", b'"\\ud800"', b"\xff\xfe", b"\xef\xbb\xbf{}",
     b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b"1" * 5000],
)
def test_python_leniencies_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidJSONError):
        loads(data)


def test_big_integers_are_exact() -> None:
    value = loads(b'{"big": 12345678901234567890}')
    assert value == {"big": 12345678901234567890}
    assert dumps(value) == b'{"big":12345678901234567890}'


def test_dumps_keeps_order_and_utf8() -> None:
    assert dumps({"z": "é", "a": [1, 2.5]}) == '{"z":"é","a":[1,2.5]}'.encode()


@given(json_values)
def test_round_trip(value: JSON) -> None:
    """What dumps writes, loads reads back equal."""
    assert value == loads(dumps(value))
    assert json.loads(dumps(value)) == loads(dumps(value))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_typed_errors(data: bytes) -> None:
    """For arbitrary bytes, loading either succeeds or raises InvalidJSONError."""
    with contextlib.suppress(InvalidJSONError):
        loads(data)


# Go's names anywhere, and Python's where a message names the type of a value.
_GO_OR_PYTHON_TYPE = re.compile(
    r"float64|interface \{\}|map\[string\]|<nil>"
    r"|(?:got|type|not|\d:) (?:dict|list|int|float|NoneType|bool|str)\b")


@pytest.mark.parametrize(("call", "kind"), [
    (lambda: cnilib.conflist_from_bytes(b'{"name": 1, "plugins": [{"type": "a"}]}'), "number"),
    (lambda: cnilib.conflist_from_bytes(b'{"name": "n", "plugins": {}}'), "object"),
    (lambda: cnilib.conflist_from_bytes(b'{"name": "n", "disableGC": null}'), "null"),
    (lambda: cnilib.conf_from_bytes(b'{"type": "a", "cniVersion": []}'), "array"),
    (lambda: cnilib.version.select_version(None, [1]), "number"),  # type: ignore[list-item]
    (lambda: cnilib.version.parse_plugin_info(b"[1]"), "array"),
    (lambda: cnilib.parse_result(b"[1]", "1.0.0"), "array"),
    (lambda: cnilib.parse_result(b'{"cniVersion": "1.0.0", "ips": [{"address": 5}]}',
                                 "1.0.0"), "number"),
])
def test_messages_name_json_types(call: Callable[[], object], kind: str) -> None:
    """A type error about JSON input names the JSON type, never Go's or Python's."""
    with pytest.raises(cnilib.CNIError) as caught:
        call()
    text = str(caught.value)
    assert kind in text
    assert _GO_OR_PYTHON_TYPE.search(text) is None


def _outcome(data: bytes | str) -> object:
    try:
        return ("value", loads(data))
    except InvalidJSONError as err:
        return ("error", str(err), err.line, err.column)


_EDGES = [b"", b" ", b"1", b" 1 ", b"1 x", b'{"a": 1} ', b'{"a": 1}\n\n', b'{"a": 1}}',
          b"[1,]", b"\t[]", b"nul", b'"\\ud800"', b"1e400", b"NaN", "{\u00e9}", b"[1] [2]"]


@pytest.mark.parametrize("data", _EDGES)
def test_the_public_decoder_fallback_gives_the_same_outcome(
        data: bytes | str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``loads`` calls the decoder's undocumented ``scan_once`` where it can; without it,
    ``JSONDecoder.decode`` gives the same values and the same errors."""
    import cnilib._json

    assert cnilib._json._SCAN is not None  # CPython has it: the fast path is the one in use
    fast = _outcome(data)
    monkeypatch.setattr(cnilib._json, "_SCAN", None)
    assert _outcome(data) == fast


@given(st.one_of(json_values.map(lambda v: json.dumps(v, indent=1)), st.text(max_size=30),
                 st.binary(max_size=30)))
def test_the_fallback_agrees_on_anything(data: str | bytes) -> None:
    import cnilib._json

    scan = cnilib._json._SCAN
    fast = _outcome(data)
    cnilib._json._SCAN = None
    try:
        slow = _outcome(data)
    finally:
        cnilib._json._SCAN = scan
    assert slow == fast


def test_the_fallback_agrees_on_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    import cnilib._json
    from tests.paths import corpus_files

    files = [p.read_bytes() for folder in ("configs", "invalid", "results")
             for p in corpus_files(folder)]
    fast = [_outcome(data) for data in files]
    monkeypatch.setattr(cnilib._json, "_SCAN", None)
    assert [_outcome(data) for data in files] == fast
