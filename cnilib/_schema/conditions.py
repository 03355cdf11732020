"""Each assertion keyword of cnilib's schemas as a Python condition, for generated code.

Rules of this file:

* Each keyword means what it means to ``jsonschema.Draft202012Validator``: the same type
  rules (``1.0`` is an integer, ``True`` is not), the same equality for ``enum`` and
  ``const``, and ``pattern`` is :func:`re.search`. An ``enum`` or ``const`` must hold only
  strings, only numbers, or one boolean (what cnilib's schemas use): anything else is refused
  as a bad schema rather than compiled by a general path no shipped schema runs.
* A condition assumes the instance has the JSON type its keyword applies to
  (:data:`KEYWORD_KIND`); the compiler guards it with :data:`GUARDS` where that is not known.
* Constants (sets, pattern matchers) live in the generated code's namespace
  (:class:`Namespace`), never in its source.
* It is pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from .graph import Node, bad_schema

__all__ = ["GUARDS", "KEYWORD_KIND", "ORDER", "Namespace", "condition", "key_test",
           "known_after"]

_MEMO_LIMIT: Final = 4096
_LITERAL_PREFIX: Final = re.compile(r"\^((?:[A-Za-z0-9_/:@-]|\\\.)+)")


def _memo_search(pattern: str) -> tuple[set[str], Callable[[str], bool]]:
    """``(matched, search)``: ``search`` runs the regex and remembers matching strings in
    ``matched``, which generated code tests first (CNI documents repeat the same few strings:
    plugin types, versions). The regex is compiled on first use: the IP address patterns
    take milliseconds to compile and many documents never need them."""
    compiled: list[Callable[[str], re.Match[str] | None]] = []
    matched: set[str] = set()

    def match(text: str) -> bool:
        if not compiled:
            try:
                compiled.append(re.compile(pattern).search)
            except re.error as err:  # tests compile every pattern; this is a safety net
                raise bad_schema(repr(pattern), f"bad pattern: {err}") from err
        if compiled[0](text) is None:
            return False
        if len(matched) < _MEMO_LIMIT:
            matched.add(text)
        return True

    return matched, match


def _is_integer(x: object) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


_TYPE_TESTS: Final = {
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
    "string": "isinstance({0}, str)",
    "boolean": "({0} is True or {0} is False)",
    "null": "{0} is None",
    "number": "(isinstance({0}, (int, float)) and {0} is not True and {0} is not False)",
    "integer": "_is_integer({0})",
}
# Which keywords apply to which instance type, and the guard that selects that type.
GUARDS: Final = {
    "string": "isinstance({0}, str)",
    "number": "(isinstance({0}, (int, float)) and {0} is not True and {0} is not False)",
    "array": "isinstance({0}, list)",
    "object": "isinstance({0}, dict)",
}
KEYWORD_KIND: Final = {
    "pattern": "string", "minLength": "string", "maxLength": "string",
    "minimum": "number", "maximum": "number",
    "minItems": "array", "maxItems": "array", "items": "array",
    "required": "object", "properties": "object", "patternProperties": "object",
    "additionalProperties": "object",
}
ORDER: Final = (
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "minItems", "maxItems", "required", "properties", "patternProperties",
    "additionalProperties", "items", "$ref", "allOf", "anyOf", "not", "if",
)


def known_after(types: object) -> str | None:
    """The guard kind a passed ``type`` assertion establishes, if it is a single one."""
    if types == "integer":
        return "number"
    if isinstance(types, str) and types in GUARDS:
        return types
    return None


class Namespace:
    """The globals of the generated code: its helpers, then each constant under a name.

    Attributes:
        globals: A plain :class:`dict` (the generated code runs in it: a subclass of dict
            would make every global lookup of the generated code slower, about 3 times).
    """

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"_is_integer": _is_integer}
        self._patterns: dict[str, tuple[str, str]] = {}
        self._consts = 0

    def const(self, value: object) -> str:
        """A new global holding ``value``; its name, for generated source."""
        self._consts += 1
        name = f"_c{self._consts}"
        self.globals[name] = value
        return name

    def search(self, pattern: str) -> tuple[str, str]:
        """The globals ``(matched, search)`` of :func:`_memo_search` for ``pattern``."""
        names = self._patterns.get(pattern)
        if names is None:
            matched, search = _memo_search(pattern)
            names = self._patterns[pattern] = (self.const(matched), self.const(search))
        return names


def _pattern(pattern: object, node: Node, var: str, ns: Namespace) -> str:
    """A test that ``var`` (a string) matches ``pattern`` (``re.search``, as jsonschema)."""
    if not isinstance(pattern, str):
        raise bad_schema(node.where, "pattern must be a string")
    matched, search = ns.search(pattern)
    return f"({var} in {matched} or {search}({var}))"


def key_test(pattern: str, node: Node, var: str, ns: Namespace) -> str:
    """A test that the key ``var`` (a string) matches a ``patternProperties`` pattern: a
    literal prefix is a plain ``startswith()`` (it runs on every key)."""
    m = _LITERAL_PREFIX.fullmatch(pattern)
    if m:
        literal = m.group(1).replace("\\.", ".")
        return f"{var}.startswith({literal!r})"
    return _pattern(pattern, node, var, ns)


def _type_test(types: object, node: Node, var: str) -> str:
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, list) or not names or not all(
            isinstance(t, str) and t in _TYPE_TESTS for t in names):
        raise bad_schema(node.where, f"bad type {types!r}")
    return "(" + " or ".join(_TYPE_TESTS[t].format(var) for t in names) + ")"


def _equal_test(values: Sequence[object], node: Node, var: str, ns: Namespace) -> str:
    if all(isinstance(v, str) for v in values):
        return f"(isinstance({var}, str) and {var} in {ns.const(frozenset(values))})"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        number = GUARDS["number"].format(var)
        return f"({number} and {var} in {ns.const(frozenset(values))})"
    if len(values) == 1 and isinstance(values[0], bool):
        return f"({var} is {values[0]!r})"
    raise bad_schema(node.where,
                     "enum and const values must be all strings, all numbers or one boolean")


def condition(keyword: str, value: object, node: Node, var: str, ns: Namespace) -> str:
    """The condition (Python source) under which assertion ``keyword`` holds for ``var``,
    its type guard excluded."""
    where = node.where
    if keyword == "type":
        return _type_test(value, node, var)
    if keyword == "enum":
        if not isinstance(value, list) or not value:
            raise bad_schema(where, "enum must be a non-empty array")
        return _equal_test(value, node, var, ns)
    if keyword == "const":
        return _equal_test([value], node, var, ns)
    if keyword == "pattern":
        return _pattern(value, node, var, ns)
    if keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_schema(where, f"{keyword} must be a non-negative integer")
        op = ">=" if keyword.startswith("min") else "<="
        return f"len({var}) {op} {value}"
    if keyword in ("minimum", "maximum"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad_schema(where, f"{keyword} must be a number")
        op = ">=" if keyword == "minimum" else "<="
        return f"{var} {op} {value!r}"
    if keyword == "required":
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            raise bad_schema(where, "required must be an array of strings")
        if not value:
            return "True"
        return "(" + " and ".join(f"{k!r} in {var}" for k in value) + ")"
    raise bad_schema(where, f"{keyword} is not an assertion")  # pragma: no cover
