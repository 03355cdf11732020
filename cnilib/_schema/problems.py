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
from collections.abc import Sequence
from typing import Any, Final

from cnilib.errors import MAX_PROBLEMS, Problem, Severity

from .graph import Node, RawError
from .locate import locate

__all__ = ["build", "describe", "pointer"]

_DEFAULTS = {
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
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string",
            "boolean": "a boolean", "number": "a number", "integer": "an integer",
            "null": "null"}


def pointer(path: Sequence[str | int]) -> str:
    """The RFC 6901 JSON pointer of an instance path."""
    tokens = [str(t) for t in path]
    if any("/" in t or "~" in t for t in tokens):
        tokens = [t.replace("~", "~0").replace("/", "~1") for t in tokens]
    return "".join("/" + t for t in tokens)


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


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


class _Fields(dict[str, str]):
    """Template fields, each computed only if the template uses it."""

    def __init__(self, node: Node, keyword: str, path: tuple[str | int, ...], arg: Any,
                 version: str) -> None:
        super().__init__(version=version)
        self.node = node
        self.keyword = keyword
        self.path = path
        self.arg = arg

    def __missing__(self, name: str) -> str:
        arg = self.arg
        schema = self.node.schema if isinstance(self.node.schema, dict) else {}
        value = schema.get(self.keyword)
        if name == "where":
            return describe(self.path)
        if name == "key":
            return str(self.path[-1]) if self.path else ""
        if name == "value":
            return _short(arg)
        if name == "kind":
            return _kind(arg)
        if name == "arg":
            return json.dumps(arg, ensure_ascii=False) if isinstance(arg, str) else _short(arg)
        if name == "expected":
            names = [value] if isinstance(value, str) else list(value or [])
            return " or ".join(_ARTICLE.get(str(n), str(n)) for n in names)
        if name == "choices":
            choices = value if self.keyword == "enum" else [value]
            return ", ".join(_short(c) for c in choices or [])
        if name in ("pattern", "limit"):
            return str(value)
        return "{" + name + "}"


def _message(node: Node, keyword: str, path: tuple[str | int, ...], arg: Any,
             version: str) -> str:
    fields = _Fields(node, keyword, path, arg, version)
    template = node.message(keyword) or _DEFAULTS.get(keyword, "{where} is not valid")
    try:
        text = template.format_map(fields)
    except (ValueError, IndexError, AttributeError):
        text = _DEFAULTS.get(keyword, "{where} is not valid").format_map(fields)
    if keyword == "required" and not path:
        text = text.replace(" in the document", "")
    return text


_SLOTS: Final = {name: getattr(Problem, name) for name in Problem.__slots__}


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
            # All of the document's problems at once: one walk of the text per pointer.
            self.positions = locate(self.text, [pointer(p) for p in self.paths])
        return self.positions.get(where)


class _LazyProblem(Problem):
    """A :class:`~cnilib.errors.Problem` that works out its pointer, message, line and
    column on first access.

    A document with only warnings is usually loaded and never printed, so the cost of wording
    and locating its problems is only paid by whoever looks at them. Apart from that it is a
    plain Problem: same attributes, equality, hash and immutability.
    """

    __slots__ = ("_data",)
    # (path, severity, file, rule, cause, document); cause is a ready message or
    # (node, path, argument, version) to word one from.
    _data: tuple[tuple[str | int, ...], Severity, str | None, str,
                 tuple[Node, tuple[str | int, ...], Any, str] | str, _Document]

    def __init__(self, data: tuple[tuple[str | int, ...], Severity, str | None, str,
                                   tuple[Node, tuple[str | int, ...], Any, str] | str,
                                   _Document]) -> None:
        # Not Problem.__init__: its guarded __setattr__ costs more than the whole check.
        _set_data(self, data)

    def __setattr__(self, name: str, value: object) -> None:
        msg = "Problem is immutable"
        raise AttributeError(msg)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled (and copied) as the plain Problem it stands for, everything worked out.
        return _plain, ((self.pointer, self.message, self.severity, self.file, self.line,
                         self.column, self.rule),)

    def _cached(self, name: str) -> Any:
        try:
            return _SLOTS[name].__get__(self, Problem)
        except AttributeError:
            return _UNSET

    @property
    def pointer(self) -> str:  # type: ignore[override]
        """The RFC 6901 JSON pointer of the offending value."""
        found = self._cached("pointer")
        if found is _UNSET:
            found = pointer(self._data[0])
            _SLOTS["pointer"].__set__(self, found)
        return str(found)

    @property
    def severity(self) -> Severity:  # type: ignore[override]
        """:class:`~cnilib.errors.Severity`."""
        return self._data[1]

    @property
    def file(self) -> str | None:  # type: ignore[override]
        """The file the input came from, if any."""
        return self._data[2]

    @property
    def rule(self) -> str:  # type: ignore[override]
        """The schema keyword that failed."""
        return self._data[3]

    @property
    def message(self) -> str:  # type: ignore[override]
        """What is wrong, in words a person can act on."""
        found = self._cached("message")
        if found is _UNSET:
            cause = self._data[4]
            if isinstance(cause, str):
                found = cause
            else:
                node, path, arg, version = cause
                found = _message(node, self._data[3], path, arg, version)
            _SLOTS["message"].__set__(self, found)
        return str(found)

    def _located(self) -> tuple[int, int] | None:
        return self._data[5].position(self.pointer)

    @property
    def line(self) -> int | None:  # type: ignore[override]
        """1-based line of the offending value, when the text was given."""
        where = self._located()
        return where[0] if where else None

    @property
    def column(self) -> int | None:  # type: ignore[override]
        """1-based column of the offending value, when the text was given."""
        where = self._located()
        return where[1] if where else None


def _plain(fields: tuple[str, str, Severity, str | None, int | None, int | None, str]
           ) -> Problem:
    pointer, message, severity, file, line, column, rule = fields
    return Problem(pointer, message, severity=severity, file=file, line=line, column=column,
                   rule=rule)


_UNSET: Final = object()
_set_data = _LazyProblem.__dict__["_data"].__set__


def _capped(problems: list[Problem], more: int, severity: Severity, source: str | None,
            document: _Document) -> list[Problem]:
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
    errors: list[Problem] = []
    warnings: list[Problem] = []
    if extra is not None:
        tokens = tuple(t.replace("~1", "/").replace("~0", "~")
                       for t in extra.pointer.split("/")[1:])
        lazy = _LazyProblem((tokens, extra.severity, source, extra.rule, extra.message,
                             document))
        (warnings if extra.severity is Severity.WARNING else errors).append(lazy)
    seen: set[tuple[object, ...]] = set()
    # [errors, warnings] found but not listed; the raw failures may have been capped already.
    more = list(getattr(raw, "more", (0, 0)))
    for path, keyword, node_id, warn, arg in raw:
        keys = arg if keyword == "additionalProperties" else (None,)
        for key in keys:
            if len(warnings if warn else errors) >= 2 * MAX_PROBLEMS:
                more[warn] += 1  # (some would be duplicates: the count is an upper bound)
                continue
            where = path if key is None else (*path, key)
            ident = (where, keyword, node_id, arg if isinstance(arg, str) else None)
            if ident in seen:
                continue
            seen.add(ident)
            cause = (nodes[node_id], path, arg if key is None else key, version)
            problem = _LazyProblem((where, Severity.WARNING if warn else Severity.ERROR,
                                    source, keyword, cause, document))
            (warnings if warn else errors).append(problem)
    if errors and warnings:
        # A warning at the very place of an error adds nothing: the error says what to fix.
        wrong = {e._data[0] for e in errors}  # type: ignore[attr-defined]
        warnings = [w for w in warnings if w._data[0] not in wrong]  # type: ignore[attr-defined]
    found = (*_capped(errors, more[0], Severity.ERROR, source, document),
             *_capped(warnings, more[1], Severity.WARNING, source, document))
    if text is not None:
        document.paths = [p._data[0] for p in found]  # type: ignore[attr-defined]
    return found
