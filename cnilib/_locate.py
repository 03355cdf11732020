"""Find where a JSON pointer points in a JSON text: line and column, for error messages.

Rules of this file:

* It only ever runs for documents that have problems, so it favours simplicity over speed:
  it walks the text along each pointer, skipping sibling values with the C decoder.
* An object member is located at its key (where an editor should put the cursor); an array
  element, or the document itself, at its first character. With duplicate keys the last one
  wins, as in :func:`json.loads`.
* Lines and columns are 1-based; columns count characters (code points), not bytes.
* It never raises: a pointer it cannot follow (the text and the value disagree, the text is
  not JSON) gives ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

__all__ = ["locate", "line_column"]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# The C string scanner json itself uses; typeshed does not declare it.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip_ws(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # "*" always matches


def _skip_value(text: str, i: int) -> int:
    # The C scanner is the fastest correct way past a value; its result is discarded.
    return _DECODER.raw_decode(text, i)[1]


def _member(text: str, i: int, token: str) -> tuple[int, int] | None:
    """In the object starting at ``text[i] == "{"``, find member ``token``.

    Returns ``(key_index, value_index)`` of its last occurrence, or ``None``.
    """
    found: tuple[int, int] | None = None
    i = _skip_ws(text, i + 1)
    if text[i] == "}":
        return None
    while True:
        if text[i] != '"':
            return None
        key_at = i
        key, i = _scanstring(text, i + 1)
        i = _skip_ws(text, i)
        if text[i] != ":":
            return None
        i = _skip_ws(text, i + 1)
        if key == token:
            found = (key_at, i)
        i = _skip_ws(text, _skip_value(text, i))
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        return found


def _element(text: str, i: int, index: int) -> int | None:
    """In the array starting at ``text[i] == "["``, find the start of element ``index``."""
    i = _skip_ws(text, i + 1)
    if text[i] == "]":
        return None
    for _ in range(index):
        i = _skip_ws(text, _skip_value(text, i))
        if text[i] != ",":
            return None
        i = _skip_ws(text, i + 1)
    return i


def _find(text: str, pointer: str) -> int | None:
    i = _skip_ws(text, 0)
    if i >= len(text):
        return None
    if not pointer:
        return i
    at = i
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if text[i] == "{":
            hit = _member(text, i, token)
            if hit is None:
                return None
            at, i = hit
        elif text[i] == "[" and token.isdigit():
            found = _element(text, i, int(token))
            if found is None:
                return None
            at = i = found
        else:
            return None
    return at


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based ``(line, column)`` of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def locate(text: str | bytes, pointers: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """Map each RFC 6901 pointer to the ``(line, column)`` where it starts in ``text``.

    Args:
        text: The JSON document as written (bytes are decoded as UTF-8).
        pointers: JSON pointers, e.g. ``"/plugins/1/type"``; ``""`` is the whole document.

    Returns:
        ``{pointer: (line, column)}``, with ``None`` for a pointer that cannot be found.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", "replace")
    result: dict[str, tuple[int, int] | None] = {}
    for pointer in pointers:
        if pointer in result:
            continue
        try:
            index = _find(text, pointer)
        except (ValueError, IndexError, RecursionError):
            index = None
        result[pointer] = None if index is None else line_column(text, index)
    return result
