"""Turn raw schema failures into :class:`~cnilib.errors.Problem` values people can act on.

Rules of this file:

* A message comes from the failing subschema's ``x-message`` (a string, or an object keyed by
  keyword), else from a default for the keyword. Templates may use ``{where}`` (the value's
  path, e.g. ``plugins[1].ipam.type``), ``{key}``, ``{value}``, ``{kind}`` (its JSON type),
  ``{arg}`` (the missing or unknown key), ``{version}``, ``{limit}``, ``{expected}``,
  ``{choices}`` and ``{pattern}``.
* ``additionalProperties: false`` gives one problem per unknown key, located at that key.
* Errors come before warnings; duplicates are dropped, and so is a warning at the very
  pointer of an error (the error already says what to fix there).
* At most :data:`~cnilib.errors.MAX_PROBLEMS` problems of each severity are listed; one more
  problem of that severity (rule ``"more"``, at the document) counts the rest. Work and
  memory stay linear in the document however many problems it has.
* Pointers, messages, lines and columns are worked out when first read, so a document whose
  warnings nobody prints costs little more than a valid one.
* It is pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cnilib._json import json_pointer, json_type, pointer_tokens
from cnilib.errors import MAX_PROBLEMS, Problem, Severity

from .graph import Node, RawError
from .locate import locate

__all__ = ["DEFAULTS", "build", "describe", "short", "a_json_type", "word"]

#: The message of each failing keyword, unless the schema's ``x-message`` says otherwise.
DEFAULTS: Final = {
    "type": "{where} must be {expected}, not {kind}",
    "enum": "{where} is {value}; expected one of {choices}",
    "const": "{where} is {value}; it must be {choices}",
    "pattern": "{where} is {value}, which does not match the pattern {pattern}",
    "minLength": "{where} must be at least {limit} characters long",
    "maxLength": "{where} must be at most {limit} characters long",
    "minimum": "{where} is {value}; the minimum is {limit}",
    "maximum": "{where} is {value}; the maximum is {limit}",
    "minItems": "{where} must have at least {limit} item(s)",
    "maxItems": "{where} must have at most {limit} item(s)",
    "required": "missing required key {arg} in {where}",
    "additionalProperties": "unknown key {arg} in {where}",
    "anyOf": "{where} matches none of the allowed forms",
    "not": "{where} is not allowed here",
    "false": "{where} is not allowed here",
}
_ARTICLE: Final = {"object": "an object", "array": "an array", "string": "a string",
                   "boolean": "a boolean", "number": "a number", "integer": "an integer",
                   "null": "null"}


def a_json_type(name: object) -> str:
    """A JSON Schema type name with its article, for messages: ``"an object"``, ``"null"``."""
    return _ARTICLE.get(str(name)) or f"a {name}"


def describe(path: Sequence[str | int]) -> str:
    """A path as people write it: ``plugins[1].ipam.type``; ``the document`` for the root."""
    if not path:
        return "the document"
    out = ""
    for token in path:
        if isinstance(token, int):
            out += f"[{token}]"
        elif token.replace("_", "a").replace("-", "a").isalnum() and token.isascii():
            out += f".{token}" if out else token
        else:
            out += f"[{json.dumps(token, ensure_ascii=False)}]"
    return out


def short(value: Any) -> str:
    """A value as JSON, cut to 60 characters, for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields(dict[str, str]):
    """The fields of a message template; a field nobody gave is left as written."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def word(template: object, keyword: str, fields: Mapping[str, str]) -> str:
    """A message: ``template`` (an ``x-message``, or ``None``) filled from ``fields``, else
    the default for ``keyword`` (:data:`DEFAULTS`)."""
    default = DEFAULTS.get(keyword, "{where} is not valid")
    try:
        return (template if isinstance(template, str) else default).format_map(fields)
    except (ValueError, IndexError, AttributeError):  # a template that does not format
        return default.format_map(fields)


class _SchemaFields(Fields):
    """The fields of a compiled schema's failure, each worked out only if the template uses
    it."""

    def __init__(self, node: Node, keyword: str, path: tuple[str | int, ...], arg: Any,
                 version: str) -> None:
        super().__init__(version=version)
        self.node = node
        self.keyword = keyword
        self.path = path
        self.arg = arg

    def __missing__(self, name: str) -> str:
        arg = self.arg
        value = self.node.schema.get(self.keyword) if isinstance(self.node.schema, dict) else None
        if name == "where":
            return describe(self.path)
        if name == "key":
            return str(self.path[-1]) if self.path else ""
        if name == "value":
            return short(arg)
        if name == "kind":
            return a_json_type(json_type(arg))
        if name == "arg":
            return json.dumps(arg, ensure_ascii=False) if isinstance(arg, str) else short(arg)
        if name == "expected":
            names = [value] if isinstance(value, str) else list(value or [])
            return " or ".join(a_json_type(n) for n in names)
        if name == "choices":
            choices = value if self.keyword == "enum" else [value]
            return ", ".join(short(c) for c in choices or [])
        if name in ("pattern", "limit"):
            return str(value)
        return super().__missing__(name)


class _Document:
    """What the problems of one document share: its text, positions once computed."""

    __slots__ = ("paths", "positions", "text")

    def __init__(self, text: str | bytes | None) -> None:
        self.text = text
        self.paths: list[tuple[str | int, ...]] = []
        self.positions: dict[str, tuple[int, int] | None] | None = None

    def position(self, where: str) -> tuple[int, int] | None:
        if self.text is None:
            return None
        if self.positions is None:
            # All of the document's problems at once: one walk of the text per document.
            self.positions = locate(self.text, [json_pointer(p) for p in self.paths])
        return self.positions.get(where)


#: What a lazy problem is made of: ``(path, severity, file, rule, cause, document)``; the
#: cause is a ready message, or ``(node, path, argument, version)`` to word one from.
_Cause = tuple[tuple[str | int, ...], Severity, "str | None", str,
               "tuple[Node, tuple[str | int, ...], Any, str] | str", _Document]


class _LazyProblem(Problem):
    """A :class:`~cnilib.errors.Problem` whose fields are worked out on first access.

    A document with only warnings is usually loaded and never printed, so the cost of wording
    and locating its problems is only paid by whoever reads them. The fields are Problem's
    own slots, left empty: reading an empty slot falls back to :meth:`__getattr__`, which
    fills it. Nothing of Problem is overridden, so it is a plain Problem in every other way
    (equality, hash, pickling as a Problem, immutability).
    """

    __slots__ = ("_cause",)
    _cause: _Cause

    def __init__(self, cause: _Cause) -> None:
        # Not Problem.__init__, which sets every field: here they stay empty until read.
        _set_cause(self, cause)

    def __getattr__(self, name: str) -> Any:
        if name not in _FIELDS:
            msg = f"{type(self).__name__!r} object has no attribute {name!r}"
            raise AttributeError(msg)
        path, severity, file, rule, cause, document = self._cause
        fill = object.__setattr__  # Problem's own way of setting its frozen fields
        if name in ("line", "column"):
            found = document.position(self.pointer)
            fill(self, "line", found[0] if found else None)
            fill(self, "column", found[1] if found else None)
        elif name == "message":
            fill(self, "message", cause if isinstance(cause, str) else _message(rule, *cause))
        else:
            fill(self, "pointer", json_pointer(path))
            fill(self, "severity", severity)
            fill(self, "file", file)
            fill(self, "rule", rule)
        return object.__getattribute__(self, name)


_FIELDS: Final = frozenset(Problem.__slots__)
_set_cause = _LazyProblem.__dict__["_cause"].__set__


def _message(keyword: str, node: Node, path: tuple[str | int, ...], arg: Any,
             version: str) -> str:
    text = word(node.message(keyword), keyword, _SchemaFields(node, keyword, path, arg, version))
    if keyword == "required" and not path:
        text = text.replace(" in the document", "")
    return text


def _capped(problems: list[_LazyProblem], more: int, severity: Severity, source: str | None,
            document: _Document) -> list[_LazyProblem]:
    more += max(0, len(problems) - MAX_PROBLEMS)
    if not more:
        return problems
    kind = "errors" if severity is Severity.ERROR else "warnings"
    note = (f"{more} more {kind} not listed (at most {MAX_PROBLEMS} {kind} are reported for "
            "one document)")
    return [*problems[:MAX_PROBLEMS], _LazyProblem(((), severity, source, "more", note, document))]


def build(
    raw: Sequence[RawError],
    nodes: Sequence[Node],
    version: str,
    *,
    extra: Problem | None = None,
    source: str | None = None,
    text: str | bytes | None = None,
) -> tuple[Problem, ...]:
    """Problems from raw failures: messages, severities, file, and (with ``text``) positions.

    Messages, lines and columns are computed when first read.

    Args:
        raw: The compiled validator's failures.
        nodes: The compiler's node table (``RawError`` refers to it by index).
        version: The spec version of the schema used, for messages.
        extra: A problem found outside the schema (the version check), put first.
        source: The file name.
        text: The document as written, to compute lines and columns.
    """
    document = _Document(text)
    found: tuple[list[_LazyProblem], list[_LazyProblem]] = ([], [])  # errors, warnings
    if extra is not None:
        found[extra.severity is Severity.WARNING].append(_LazyProblem(
            (pointer_tokens(extra.pointer), extra.severity, source, extra.rule, extra.message,
             document)))
    seen: set[tuple[object, ...]] = set()
    # [errors, warnings] found but not listed; the raw failures may have been capped already.
    more = list(getattr(raw, "more", (0, 0)))
    for path, keyword, node_id, warn, arg in raw:
        keys = arg if keyword == "additionalProperties" else (None,)
        for key in keys:
            if len(found[warn]) >= 2 * MAX_PROBLEMS:
                more[warn] += 1  # (some would be duplicates: the count is an upper bound)
                continue
            where = path if key is None else (*path, key)
            ident = (where, keyword, node_id, arg if isinstance(arg, str) else None)
            if ident in seen:
                continue
            seen.add(ident)
            cause = (nodes[node_id], path, arg if key is None else key, version)
            found[warn].append(_LazyProblem(
                (where, Severity.WARNING if warn else Severity.ERROR, source, keyword, cause,
                 document)))
    errors, warnings = found
    if errors and warnings:
        # A warning at the very place of an error adds nothing: the error says what to fix.
        wrong = {e._cause[0] for e in errors}
        warnings = [w for w in warnings if w._cause[0] not in wrong]
    listed = (*_capped(errors, more[0], Severity.ERROR, source, document),
              *_capped(warnings, more[1], Severity.WARNING, source, document))
    if text is not None:
        document.paths = [p._cause[0] for p in listed]
    return listed
