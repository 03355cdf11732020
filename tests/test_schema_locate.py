"""cnilib._schema.locate: JSON pointers to lines and columns, for located problems."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cnilib._schema.locate import line_column, locate

documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=15,
)


def pointers(doc: Any, prefix: str = "") -> list[tuple[str, Any, str | None]]:
    """Every (pointer, value, key) in ``doc``; key is set for object members."""
    out: list[tuple[str, Any, str | None]] = [(prefix, doc, None)] if not prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            p = prefix + "/" + k.replace("~", "~0").replace("/", "~1")
            out.append((p, v, k))
            out += pointers(v, p)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            p = f"{prefix}/{i}"
            out.append((p, v, None))
            out += pointers(v, p)
    return out


def index_of(text: str, line: int, column: int) -> int:
    return sum(len(s) + 1 for s in text.split("\n")[: line - 1]) + column - 1


@given(doc=documents, indent=st.sampled_from([None, 0, 2, "\t"]),
       ascii_only=st.booleans())
def test_every_pointer_is_found_where_its_value_is_written(doc: Any, indent: Any,
                                                           ascii_only: bool) -> None:
    """SPEC.md, Section 1: Network configuration format: configurations are JSON text; each value of
    the text can be pointed at."""
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    found = locate(text, [p for p, _, _ in pointers(doc)])
    decoder = json.JSONDecoder()
    for ptr, value, key in pointers(doc):
        where = found[ptr]
        assert where is not None
        i = index_of(text, *where)
        if key is not None:
            assert text[i] == '"'
            assert key == json.decoder.scanstring(text, i + 1)[0]  # type: ignore[attr-defined]
        else:
            assert json.dumps(value) == json.dumps(decoder.raw_decode(text, i)[0])


def test_bytes_and_positions() -> None:
    text = '{\n  "a": [1,\n    {"b\\u00e9": true}],\n  "é": 2}'
    found = locate(text.encode(), ["", "/a", "/a/1", "/a/1/b\u00e9", "/\u00e9", "/a/2",
                                   "/x", "/a/x", "/a/1/b\u00e9/c"])
    assert found == {
        "": (1, 1), "/a": (2, 3), "/a/1": (3, 5), "/a/1/b\u00e9": (3, 6), "/\u00e9": (4, 3),
        "/a/2": None, "/x": None, "/a/x": None, "/a/1/b\u00e9/c": None,
    }


def test_the_last_duplicate_key_wins_as_in_json_loads() -> None:
    assert locate('{"a": 1, "a": 2}', ["/a"]) == {"/a": (1, 10)}


def test_text_that_is_not_json_gives_no_position() -> None:
    found = locate('{"a": [1, 2,, 3], "b": ', ["/a/3", "/b", "/c", ""])
    assert found == {"/a/3": None, "/b": None, "/c": None, "": (1, 1)}
    assert locate("   ", [""]) == {"": None}
    assert locate('{"a" 1}', ["/a"]) == {"/a": None}
    assert locate("[]", ["/0"]) == {"/0": None}
    assert locate("{}", ["/a"]) == {"/a": None}


def test_line_column() -> None:
    assert line_column("abc", 0) == (1, 1)
    assert line_column("a\nbc", 3) == (2, 2)
