"""Strict JSON in and compact JSON out: the one place bytes become values.

Rules of this file:

* :func:`loads` accepts exactly RFC 8259 JSON in UTF-8 and raises
  :class:`~cnilib.errors.InvalidJSONError` (with line and column) for anything else, including
  what Python's ``json`` would let through: ``NaN``/``Infinity``, lone surrogates, numbers that
  overflow a float, integers beyond Python's digit limit, and nesting that exhausts the stack
  (G4 in docs/guarantees.md). No other exception leaves it, whatever the bytes.
* Integers are kept exact (libcni loses precision above 2**53; cnilib passes them through).
* :func:`dumps` writes compact UTF-8 with keys in their original order.
* It is pure.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any, TypeAlias

from .errors import InvalidJSONError

__all__ = ["JSON", "JSONObject", "loads", "dumps", "MAX_DEPTH", "json_type", "escape_token",
           "unescape_token", "json_pointer", "pointer_tokens", "line_column",
           "line_columns"]

#: Any JSON value, as :func:`json.loads` returns it.
JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
#: A JSON object.
JSONObject: TypeAlias = "dict[str, JSON]"

#: Nesting deeper than this is refused; no CNI document comes near it.
MAX_DEPTH = 256


class _RejectedError(ValueError):
    pass


def _parse_constant(name: str) -> float:
    msg = f"{name} is not JSON"
    raise _RejectedError(msg)


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        msg = f"number {text[:40]} is out of range for a JSON number"
        raise _RejectedError(msg)
    return value


_DECODER = json.JSONDecoder(parse_constant=_parse_constant, parse_float=_parse_float)
# JSONDecoder.decode is its (undocumented) ``scan_once`` between two whitespace regexes;
# calling the scanner directly on a document that starts with its value saves 0.35 to 0.5 us
# of the 4 us a corpus document takes, 9 to 12% (tests/benchmarks/bench_json_internals.py).
# Without the attribute, decode() is used (tests/test_json.py forces that path and compares).
_SCAN: Callable[[str, int], tuple[Any, int]] | None = getattr(_DECODER, "scan_once", None)
_JSON_SPACE = " \t\n\r"


# A JSON string (or one left open at the end, a lone backslash last included), and a run of
# anything but brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _depth_ok(text: str) -> bool:
    # Cheap bound on nesting: count brackets outside strings only when the text is bracket-rich.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return True
    # The brackets outside strings, then the running depth: regular expressions and
    # itertools, no Python loop per character (a 16 MiB plugin output is read here).
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) <= MAX_DEPTH


_NEWLINE = re.compile("\n")


def line_columns(text: str, indexes: Iterable[int]) -> list[tuple[int, int]]:
    """The 1-based ``(line, column)`` of ``text[index]`` for each index; columns count
    characters. One pass over the text's line breaks (up to the last index), then a
    bisection per index: linear however many indexes there are."""
    indexes = list(indexes)
    if not indexes:
        return []
    starts = [m.end() for m in _NEWLINE.finditer(text, 0, max(indexes))]
    out = []
    for index in indexes:
        line = bisect_right(starts, index)
        out.append((line + 1, index - (starts[line - 1] if line else 0) + 1))
    return out


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based ``(line, column)`` of ``text[index]`` (:func:`line_columns` of one)."""
    return line_columns(text, (index,))[0]


def escape_token(token: str | int) -> str:
    """One RFC 6901 reference token: ``~`` written ``~0`` and ``/`` written ``~1``."""
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def unescape_token(token: str) -> str:
    """The key an RFC 6901 reference token names (:func:`escape_token` undone)."""
    return token.replace("~1", "/").replace("~0", "~") if "~" in token else token


def json_pointer(path: Iterable[str | int]) -> str:
    """The RFC 6901 JSON pointer of a path of keys and indexes (``""`` for the document)."""
    return "".join("/" + escape_token(token) for token in path)


def pointer_tokens(pointer: str) -> tuple[str, ...]:
    """The unescaped tokens of a JSON pointer (``()`` for ``""``)."""
    return tuple(unescape_token(t) for t in pointer.split("/")[1:]) if pointer else ()


def loads(data: bytes | bytearray | memoryview | str, *, source: str | None = None) -> JSON:
    """Decode strict JSON.

    Args:
        data: UTF-8 bytes or text.
        source: A file name to put in error messages.

    Raises:
        InvalidJSONError: the input is not strict JSON; the error has ``line`` and ``column``.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        raw = data if type(data) is bytes else bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            msg = "a byte order mark is not allowed in JSON (RFC 8259 §8.1)"
            raise InvalidJSONError(msg, file=source, line=1, column=1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line, col = line_column(raw[: err.start].decode("utf-8", "replace"), err.start)
            msg = f"invalid UTF-8 at byte {err.start}"
            raise InvalidJSONError(msg, file=source, line=line, column=col) from None
    elif isinstance(data, str):
        text = data
    else:
        msg = f"expected bytes or str, got {type(data).__name__}"
        raise InvalidJSONError(msg, file=source)
    if not _depth_ok(text):
        msg = f"nesting deeper than {MAX_DEPTH} levels"
        raise InvalidJSONError(msg, file=source, line=1, column=1)
    try:
        value: JSON = _decode(text)
    except json.JSONDecodeError as err:
        raise InvalidJSONError(err.msg, file=source, line=err.lineno, column=err.colno) from None
    except _RejectedError as err:
        raise InvalidJSONError(str(err), file=source) from None
    except (ValueError, RecursionError, OverflowError) as err:
        # int() beyond sys.get_int_max_str_digits, or a stack exhausted despite the bound.
        msg = f"value out of bounds: {str(err)[:120]}"
        raise InvalidJSONError(msg, file=source) from None
    if "\\u" in text:
        try:
            text_out = json.dumps(value, ensure_ascii=False)
            text_out.encode("utf-8")
        except UnicodeEncodeError:
            msg = "a string contains a lone surrogate escape, which is not Unicode"
            raise InvalidJSONError(msg, file=source) from None
    return value


def _decode(text: str) -> JSON:
    # _DECODER.decode(text), the same value or the same exception: anything but a document
    # that starts with its value and ends with it or with JSON whitespace goes through it.
    if _SCAN is not None and text and text[0] not in _JSON_SPACE:
        try:
            found = _SCAN(text, 0)
        except Exception:  # redone below, for decode()'s own exception
            pass
        else:
            end = found[1]
            if end == len(text) or not text[end:].strip(_JSON_SPACE):
                value: JSON = found[0]
                return value
    decoded: JSON = _DECODER.decode(text)
    return decoded


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: JSON, *, indent: int | None = None) -> bytes:
    """Encode as UTF-8 JSON: compact (or indented), keys in their original order."""
    if indent is None:
        return _COMPACT.encode(value).encode("utf-8")
    return json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False).encode("utf-8")


def json_type(value: object) -> str:
    """JSON's name for a decoded value's type (``null``, ``boolean``, ``number``, ``string``,
    ``array``, ``object``), for messages: people write JSON, not Go (``float64``) or Python
    (``dict``). Anything that is not a JSON value is named by its Python type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
