"""Compile cnilib's JSON Schemas (draft 2020-12) into fast Python validators.

Rules of this file:

* It supports exactly the keywords cnilib's schemas use (``cnilib._schema.graph``); a schema
  with any other keyword is refused at compile time.
* Verdicts equal ``jsonschema.Draft202012Validator``'s, keyword by keyword: the same
  ``(instance path, keyword)`` failures (tests/test_schema_differential.py proves it).
* Each schema becomes two generated functions, compiled once: ``v<N>(x) -> bool`` (the
  fast path, no allocation) and ``e<N>(x, p, out, w)``, which appends every failure as a
  :data:`RawError`; it is generated on the first failure and only run when ``v`` says no.
  ``<N>`` is the subschema's node id.
* One inliner: a child subschema is written in place, as statements, down to
  :data:`INLINE_DEPTH` levels; deeper, and wherever a child must be a condition (``anyOf``,
  ``not``, ``if``), its ``v`` function is called. A child that always passes is left out, and
  one that always fails is a plain ``return False`` (:meth:`Graph.verdict`).
* Severity is the ``x-severity`` annotation of the nearest enclosing subschema on the
  evaluation path (through ``$ref``), ``"error"`` when none says otherwise.
* It is pure: schemas come in through the ``load`` callable; nothing here reads files.

``docs/schema-compiler.md`` shows the generated code and how to print it (:meth:`source`).
"""

from __future__ import annotations

import linecache
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from .conditions import GUARDS, KEYWORD_KIND, ORDER, Namespace, condition, key_test, known_after
from .graph import ASSERTIONS, Graph, Node, RawError, RawErrors

__all__ = ["Compiler", "RawError", "Node", "INLINE_DEPTH"]

#: How deep child subschemas are written in place rather than called.
INLINE_DEPTH: Final = 8


def _in_order(schema: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    """``(keyword, value, the JSON type it applies to)`` for each keyword of ``schema`` that
    generates code, in the order checks are written (:data:`ORDER`)."""
    return [(key, schema[key], KEYWORD_KIND.get(key)) for key in ORDER
            if key in schema and not (key == "additionalProperties" and schema[key] is True)]


class Compiler:
    """Compiles schemas on demand into one shared namespace of generated functions.

    Args:
        load: Returns the schema resource whose ``$id`` is the given URI (no fragment).

    Thread-safe: compilation holds a lock; the generated functions are pure.

    Attributes:
        graph: The subschemas met so far (:class:`~cnilib._schema.graph.Graph`).
        nodes: ``graph.nodes``, the table a :data:`RawError` refers to by index.
    """

    def __init__(self, load: Callable[[str], Mapping[str, Any]]) -> None:
        self.graph = Graph(load)
        self.nodes = self.graph.nodes
        self._ns = Namespace()
        self._lock = threading.RLock()
        self._pending: list[str] = []  # functions referred to but not generated yet
        self._generated: set[str] = set()
        self._sources: dict[str, str] = {}
        self._tmp = 0

    def compile(self, uri: str) -> tuple[Callable[[object], bool],
                                         Callable[[object], list[RawError]]]:
        """Compile the schema resource ``uri``; return ``(is_valid, errors)``.

        ``errors(instance)`` returns every :data:`RawError`, in schema order, as a
        :class:`~cnilib._schema.graph.RawErrors` (which keeps a bounded number of them).

        Raises:
            ConfigError: the schema uses something this compiler does not support.
        """
        with self._lock:
            root = self.graph.node(uri, "")
            valid = self._function("v", root)
        collectors: list[Callable[..., None]] = []

        def errors(instance: object) -> list[RawError]:
            if not collectors:
                # Generated on first failure: a run of valid documents never pays for it.
                with self._lock:
                    collectors.append(self._function("e", root))
            out = RawErrors()
            collectors[0](instance, (), out, False)
            return out

        return valid, errors

    def source(self, uri: str) -> str:
        """The Python source of schema ``uri``'s ``v`` and ``e`` functions (generated now if
        need be), after every function this compiler generated before: for debugging. A
        fresh compiler gives exactly the functions of one schema."""
        with self._lock:
            root = self.graph.node(uri, "")
            self._function("v", root)
            self._function("e", root)
            return "\n\n".join(self._sources.values())

    def _function(self, prefix: str, node_id: int) -> Any:
        name = self._name(prefix, node_id)
        self._flush()
        return self._ns.globals[name]

    def _name(self, prefix: str, node_id: int) -> str:
        """The name of the generated function ``v<N>``/``e<N>``, queued for generation."""
        name = f"{prefix}{node_id}"
        if name not in self._generated:
            self._generated.add(name)
            self._pending.append(name)
        return name

    def _var(self) -> str:
        self._tmp += 1
        return f"y{self._tmp}"

    def _flush(self) -> None:
        lines: list[str] = []
        while self._pending:
            name = self._pending.pop()
            node = self.nodes[int(name[1:])]
            source = self._gen_v(node) if name[0] == "v" else self._gen_e(node)
            self._sources[name] = "\n".join(source)
            lines += source
        if lines:
            # The source is generated from cnilib's own schema files, never from input data:
            # instance values only ever reach the generated functions as arguments. It is
            # registered with linecache, so that tracebacks and pdb show the generated lines.
            text = "\n".join(lines) + "\n"
            filename = f"<cnilib-schema {len(self._sources)}>"
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
            exec(compile(text, filename, "exec"), self._ns.globals)

    def _check(self, node_id: int, var: str) -> str:
        """A condition that ``var`` is valid under node ``node_id``."""
        verdict = self.graph.verdict(node_id)
        if verdict is not None:
            return repr(verdict)
        return f"{self._name('v', self.graph.target(node_id))}({var})"

    def _gen_v(self, node: Node) -> list[str]:
        out = [f"def v{node.id}(x):"]
        if isinstance(node.schema, bool):
            return [*out, f"    return {node.schema!r}"]
        return [*out, *self._emit_v(node.id, "x", "    ", None, 0), "    return True"]

    def _emit_v(self, node_id: int, var: str, ind: str, known: str | None,
                depth: int) -> list[str]:
        """Statements that ``return False`` unless ``var`` is valid under the node; ``known``
        is the JSON type the enclosing code has established (its guards are left out)."""
        verdict = self.graph.verdict(node_id)
        if verdict is not None:
            return [] if verdict else [f"{ind}return False"]
        if depth > INLINE_DEPTH:
            return [f"{ind}if not {self._check(node_id, var)}:", f"{ind}    return False"]
        node = self.nodes[node_id]
        schema = self.graph.keywords(node)
        body: list[str] = []
        for key, value, kind in _in_order(schema):
            guarded = kind is not None and kind != known
            at = ind + "    " if guarded else ind
            chunk: list[str] = []
            if key in ASSERTIONS:
                chunk = [f"{at}if not {condition(key, value, node, var, self._ns)}:",
                         f"{at}    return False"]
                if key == "type":
                    known = known_after(value) or known
            elif key == "properties":
                chunk = self._emit_properties_v(node, value, var, at, depth)
            elif key in ("patternProperties", "additionalProperties"):
                for test, child in self._key_rules(node, schema, key, "_k"):
                    y = self._var()
                    inner = self._emit_v(child, y, at + "        ", None, depth + 1)
                    if inner and test == "True":
                        chunk += [f"{at}for {y} in {var}.values():", *(s[4:] for s in inner)]
                    elif inner:
                        chunk += [f"{at}for _k, {y} in {var}.items():", f"{at}    if {test}:",
                                  *inner]
            elif key == "items":
                y = self._var()
                inner = self._emit_v(self.graph.child(node, key), y, at + "    ", None,
                                     depth + 1)
                chunk = [f"{at}for {y} in {var}:", *inner] if inner else []
            elif key in ("$ref", "allOf"):
                for child in self._subschemas(node, key, value):
                    chunk += self._emit_v(child, var, at, known, depth + 1)
            elif key in ("anyOf", "not"):
                chunk = [f"{at}if {self._combined(node, key, value, var)}:",
                         f"{at}    return False"]
            elif key == "if":
                chunk = self._emit_if_v(node, schema, var, at, known=known, depth=depth)
            if chunk and guarded:
                body.append(f"{ind}if {GUARDS[kind or ''].format(var)}:")
            body += chunk
        return body

    def _subschemas(self, node: Node, key: str, value: Any) -> list[int]:
        """The children a ``$ref``, ``allOf`` or ``anyOf`` of ``node`` applies."""
        if key == "$ref":
            return [self.graph.ref(node, value)]
        return [self.graph.child(node, key, i) for i in range(len(value))]

    def _combined(self, node: Node, key: str, value: Any, var: str) -> str:
        """The condition under which an ``anyOf`` or a ``not`` of ``node`` fails."""
        if key == "not":
            return self._check(self.graph.child(node, key), var)
        checks = [self._check(c, var) for c in self._subschemas(node, key, value)]
        return "True" if all(c == "False" for c in checks) else f"not ({' or '.join(checks)})"

    def _key_rules(self, node: Node, schema: dict[str, Any], key: str,
                   k: str) -> list[tuple[str, int]]:
        """``(test of key k, child)`` for each subschema that ``patternProperties`` or
        ``additionalProperties`` applies to the members whose key passes the test."""
        if key == "patternProperties":
            return [(f"isinstance({k}, str) and {key_test(pat, node, k, self._ns)}",
                     self.graph.child(node, key, pat)) for pat in schema[key]]
        props = schema.get("properties", {})
        tests = [f"{k} not in {self._ns.const(frozenset(props))}"] if props else []
        tests += [f"not (isinstance({k}, str) and {key_test(pat, node, k, self._ns)})"
                  for pat in schema.get("patternProperties", {})]
        return [(" and ".join(tests) or "True", self.graph.child(node, key))]

    def _emit_properties_v(self, node: Node, props: dict[str, Any], var: str, ind: str,
                           depth: int) -> list[str]:
        body: list[str] = []
        forbidden = []
        for prop in props:
            child = self.graph.child(node, "properties", prop)
            if self.graph.verdict(child) is False:
                forbidden.append(prop)  # present at all means invalid: test them together
                continue
            y = self._var()
            inner = self._emit_v(child, y, ind + "    ", None, depth + 1)
            if inner:
                # Most properties of a schema are absent from a given document: a membership
                # test is all they cost (jsonschema also tests `in`, then subscripts).
                body += [f"{ind}if {prop!r} in {var}:", f"{ind}    {y} = {var}[{prop!r}]",
                         *inner]
        if forbidden:
            names = self._ns.const(frozenset(forbidden))
            body[:0] = [f"{ind}if not {names}.isdisjoint({var}):", f"{ind}    return False"]
        return body

    def _emit_if_v(self, node: Node, schema: dict[str, Any], var: str, ind: str, *,
                   known: str | None, depth: int) -> list[str]:
        lines = [f"{ind}if {self._check(self.graph.child(node, 'if'), var)}:"]
        then = (self._emit_v(self.graph.child(node, "then"), var, ind + "    ", known,
                             depth + 1) if "then" in schema else [])
        lines += then or [f"{ind}    pass"]
        if "else" in schema:
            other = self._emit_v(self.graph.child(node, "else"), var, ind + "    ", known,
                                 depth + 1)
            if other:
                lines += [f"{ind}else:", *other]
        return lines

    def _gen_e(self, node: Node) -> list[str]:
        return [f"def e{node.id}(x, p, out, w):",
                *self._emit_e(node.id, "x", (), "    ", w="w", depth=0), "    return"]

    def _emit_e(self, node_id: int, var: str, path: tuple[str, ...], ind: str, *, w: str,
                depth: int) -> list[str]:
        """Statements appending every failure of ``var`` under the node to ``out``.

        ``path`` holds the source of the path tokens below ``p``; the path tuple is only
        built when a failure is recorded. ``w`` is the source of the severity flag: the
        runtime ``w``, or a constant once an ``x-severity`` is crossed. Below
        :data:`INLINE_DEPTH` the child's ``e`` function is called when its ``v`` says no.
        """
        node = self.nodes[node_id]
        where = "p" if not path else f"(*p, {', '.join(path)})"
        if node.schema is True:
            return []
        if node.schema is False:
            return [f"{ind}out.append(({where}, 'false', {node_id}, {w}, {var}))"]
        schema = self.graph.keywords(node)
        if depth > INLINE_DEPTH:
            collect = self._name("e", self.graph.target(node_id, severity=True))
            return [f"{ind}if not {self._check(node_id, var)}:",
                    f"{ind}    {collect}({var}, {where}, out, {w})"]
        if schema.get("x-severity") is not None:
            w = repr(schema["x-severity"] == "warning")

        def fail(at: str, keyword: str, arg: str) -> str:
            return f"{at}out.append(({where}, {keyword!r}, {node_id}, {w}, {arg}))"

        body: list[str] = []
        for key, value, kind in _in_order(schema):
            at = ind + "    " if kind is not None else ind
            chunk: list[str] = []
            if key == "required":
                k = self._var()
                chunk = [f"{at}for {k} in {tuple(value)!r}:", f"{at}    if {k} not in {var}:",
                         fail(at + "        ", key, k)]
            elif key in ASSERTIONS:
                chunk = [f"{at}if not {condition(key, value, node, var, self._ns)}:",
                         fail(at + "    ", key, var)]
            elif key == "properties":
                for prop in value:
                    y = self._var()
                    inner = self._emit_e(self.graph.child(node, key, prop), y,
                                         (*path, repr(prop)), at + "    ", w=w,
                                         depth=depth + 1)
                    if inner:
                        chunk += [f"{at}if {prop!r} in {var}:", f"{at}    {y} = {var}[{prop!r}]",
                                  *inner]
            elif key == "additionalProperties" and value is False:
                k, x = self._var(), self._var()
                [(test, _)] = self._key_rules(node, schema, key, k)
                chunk = [f"{at}{x} = tuple({k} for {k} in {var} if {test})", f"{at}if {x}:",
                         fail(at + "    ", key, x)]
            elif key == "items":
                i, y = self._var(), self._var()
                inner = self._emit_e(self.graph.child(node, key), y, (*path, i), at + "    ",
                                     w=w, depth=depth + 1)
                chunk = [f"{at}for {i}, {y} in enumerate({var}):", *inner] if inner else []
            elif key in ("patternProperties", "additionalProperties"):
                k, y = self._var(), self._var()
                for test, child in self._key_rules(node, schema, key, k):
                    inner = self._emit_e(child, y, (*path, k), at + "        ", w=w,
                                         depth=depth + 1)
                    if inner:
                        chunk += [f"{at}for {k}, {y} in {var}.items():", f"{at}    if {test}:",
                                  *inner]
            elif key in ("$ref", "allOf"):
                for child in self._subschemas(node, key, value):
                    chunk += self._emit_e(child, var, path, at, w=w, depth=depth + 1)
            elif key in ("anyOf", "not"):
                failed = self._combined(node, key, value, var)
                chunk = ([fail(at, key, var)] if failed == "True" else
                         [f"{at}if {failed}:", fail(at + "    ", key, var)])
            elif key == "if":
                chunk = self._emit_if_e(node, schema, var, path, at, w=w, depth=depth)
            if chunk and kind is not None:
                body.append(f"{ind}if {GUARDS[kind].format(var)}:")
            body += chunk
        return body

    def _emit_if_e(self, node: Node, schema: dict[str, Any], var: str, path: tuple[str, ...],
                   at: str, *, w: str, depth: int) -> list[str]:
        chunk = [f"{at}if {self._check(self.graph.child(node, 'if'), var)}:"]
        if "then" in schema:
            then = self.graph.child(node, "then")
            chunk.append(f"{at}    if not {self._check(then, var)}:")
            chunk += (self._emit_e(then, var, path, at + "        ", w=w, depth=depth + 1)
                      or [f"{at}        pass"])
        else:
            chunk.append(f"{at}    pass")
        if "else" in schema:
            other = self.graph.child(node, "else")
            chunk.append(f"{at}elif not {self._check(other, var)}:")
            chunk += (self._emit_e(other, var, path, at + "    ", w=w, depth=depth + 1)
                      or [f"{at}    pass"])
        return chunk
