"""Loop-free subschemas as single Python boolean expressions, for inlining.

Rules of this file:

* Each keyword means what it means to ``jsonschema.Draft202012Validator``: the same type
  rules (``1.0`` is an integer, ``True`` is not), the same equality for ``enum`` and
  ``const``, and ``pattern`` is :func:`re.search`. An ``enum`` or ``const`` must hold only
  strings, only numbers, or one boolean (what cnilib's schemas use): anything else is refused
  as a bad schema rather than compiled by a general path no shipped schema runs.
* A keyword that only applies to one JSON type is guarded by that type's test, unless the
  enclosing code has already established the type.
* Constants (sets, pattern matchers) live in the generated code's namespace, never in its
  source; generated functions are named ``v<N>`` (is it valid?) and ``e<N>`` (collect the
  failures) after their node, and only generated when something refers to them.
* It is pure.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .graph import ASSERTIONS, Graph, Node, bad_schema

__all__ = ["GUARDS", "KEYWORD_KIND", "ORDER", "Expressions", "join", "known_after"]

_MISSING: Final = object()
# Stands for the instance variable in memoised expressions: repr() escapes NUL, so it can
# never appear in a generated literal.
_VAR: Final = "\x00"
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


def join(op: str, parts: list[str]) -> str:
    """Python source joining boolean ``parts`` with `` and `` / `` or ``, folding constants."""
    unit, zero = ("True", "False") if op == " and " else ("False", "True")
    if zero in parts:
        return zero
    parts = [p for p in parts if p != unit]
    if not parts:
        return unit
    return parts[0] if len(parts) == 1 else "(" + op.join(parts) + ")"


def known_after(types: object) -> str | None:
    """The guard kind a passed ``type`` assertion establishes, if it is a single one."""
    if types == "integer":
        return "number"
    if isinstance(types, str) and types in GUARDS:
        return types
    return None


class Expressions(Graph):
    """Turns schema nodes into Python expressions over a variable.

    Args:
        load: Returns the schema resource whose ``$id`` is the given URI (no fragment).
    """

    def __init__(self, load: Callable[[str], Mapping[str, Any]]) -> None:
        super().__init__(load)
        self._lock = threading.RLock()
        # Functions referenced by generated code (or asked for) but not generated yet.
        self._pending: list[str] = []
        self._generated: set[str] = set()
        self._ns: dict[str, Any] = {
            "_M": _MISSING,
            "_is_integer": _is_integer,
        }
        self._consts = 0
        self._tmp = 0
        self._patterns: dict[str, tuple[str, str]] = {}
        self._exprs: dict[tuple[int, str | None], str | None] = {}
        self._expanding: set[int] = set()

    def _fn(self, prefix: str, node_id: int) -> str:
        """The name of the generated function ``v<N>``/``e<N>``, generating it if needed."""
        name = f"{prefix}{node_id}"
        if name not in self._generated:
            self._generated.add(name)
            self._pending.append(name)
        return name

    def _const(self, value: object) -> str:
        name = f"_c{self._consts}"
        self._consts += 1
        self._ns[name] = value
        return name

    def _var(self) -> str:
        self._tmp += 1
        return f"y{self._tmp}"

    def _pattern(self, pattern: object, node: Node, var: str) -> str:
        """A test that ``var`` (a string) matches ``pattern`` (``re.search``, as jsonschema)."""
        if not isinstance(pattern, str):
            raise bad_schema(f"{node.uri}#{node.pointer}", "pattern must be a string")
        names = self._patterns.get(pattern)
        if names is None:
            matched, search = _memo_search(pattern)
            names = (self._const(matched), self._const(search))
            self._patterns[pattern] = names
        return f"({var} in {names[0]} or {names[1]}({var}))"

    def _key_test(self, pattern: str, node: Node, var: str) -> str:
        # patternProperties run on every key: a literal prefix is a plain startswith().
        m = _LITERAL_PREFIX.fullmatch(pattern)
        if m:
            literal = m.group(1).replace("\\.", ".")
            return f"{var}.startswith({literal!r})"
        return self._pattern(pattern, node, var)

    def _type_test(self, types: object, node: Node, var: str) -> str:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not names or not all(
                isinstance(t, str) and t in _TYPE_TESTS for t in names):
            raise bad_schema(f"{node.uri}#{node.pointer}", f"bad type {types!r}")
        return "(" + " or ".join(_TYPE_TESTS[t].format(var) for t in names) + ")"

    def _equal_test(self, values: Sequence[object], node: Node, var: str) -> str:
        if all(isinstance(v, str) for v in values):
            return f"(isinstance({var}, str) and {var} in {self._const(frozenset(values))})"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            number = GUARDS["number"].format(var)
            return f"({number} and {var} in {self._const(frozenset(values))})"
        if len(values) == 1 and isinstance(values[0], bool):
            return f"({var} is {values[0]!r})"
        raise bad_schema(f"{node.uri}#{node.pointer}",
                         "enum and const values must be all strings, all numbers or one boolean")

    def _simple_test(self, keyword: str, value: object, node: Node, var: str) -> str:
        """The condition (as Python source) under which ``keyword`` holds, type-guard excluded."""
        where = f"{node.uri}#{node.pointer}"
        if keyword == "type":
            return self._type_test(value, node, var)
        if keyword == "enum":
            if not isinstance(value, list) or not value:
                raise bad_schema(where, "enum must be a non-empty array")
            return self._equal_test(value, node, var)
        if keyword == "const":
            return self._equal_test([value], node, var)
        if keyword == "pattern":
            return self._pattern(value, node, var)
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

    # An expression for a whole subschema when it has no loops, so that parents inline it
    # instead of paying a call; None when the subschema needs a function. ``known`` is the
    # instance type already asserted by the enclosing code, whose type guards can be skipped.
    def _expr(self, node_id: int, var: str, known: str | None = None,
              depth: int = 0) -> str | None:
        key = (node_id, known)
        if key not in self._exprs:
            if node_id in self._expanding:
                return None  # a recursive schema needs a function
            self._expanding.add(node_id)
            try:
                self._exprs[key] = self._make_expr(node_id, _VAR, known, depth)
            finally:
                self._expanding.discard(node_id)
        found = self._exprs[key]
        return None if found is None else found.replace(_VAR, var)

    def _make_expr(self, node_id: int, var: str, known: str | None, depth: int) -> str | None:
        node = self.nodes[node_id]
        if node.schema is True:
            return "True"
        if node.schema is False:
            return "False"
        schema = self._check_keywords(node)
        parts: list[str] = []
        for key in ORDER:
            if key not in schema:
                continue
            value = schema[key]
            kind = KEYWORD_KIND.get(key)
            if key in ASSERTIONS:
                test = self._simple_test(key, value, node, var)
                if kind is not None and kind != known:
                    test = f"(not {GUARDS[kind].format(var)} or {test})"
                parts.append(test)
                if key == "type":
                    known = known_after(value) or known
            elif key == "properties":
                tests = []
                for prop in value:
                    y = self._var()
                    sub = self._expr(self._child(node, key, prop), y, None, depth + 1)
                    if sub is None:
                        return None
                    if sub != "True":
                        tests.append(f"(({y} := {var}.get({prop!r}, _M)) is _M or {sub})")
                if tests:
                    test = " and ".join(tests)
                    if kind != known:
                        test = f"(not {GUARDS['object'].format(var)} or ({test}))"
                    parts.append(test)
            elif key == "$ref":
                sub = self._expr(self._ref(node, value), var, known, depth + 1)
                if sub is None:
                    return None
                parts.append(sub)
            elif key in ("allOf", "anyOf"):
                subs = [self._expr(self._child(node, key, i), var, known, depth + 1)
                        for i in range(len(value))]
                if any(s is None for s in subs):
                    return None
                parts.append(join(" and " if key == "allOf" else " or ",
                                   [s for s in subs if s is not None]))
            elif key == "not":
                sub = self._expr(self._child(node, "not"), var, known, depth + 1)
                if sub is None:
                    return None
                parts.append({"True": "False", "False": "True"}.get(sub, f"(not {sub})"))
            else:
                return None
        return join(" and ", parts)

    def _child_check(self, child: int, var: str, known: str | None = None) -> str:
        """Source of a boolean test that ``var`` is valid under node ``child``."""
        expr = self._expr(child, var, known)
        return expr if expr is not None else f"{self._fn('v', self._target(child))}({var})"

