"""Compile cnilib's JSON Schemas (draft 2020-12) into fast Python validators.

Rules of this file:

* It supports exactly the keywords cnilib's schemas use (``cnilib._schema.graph``); a schema
  with any other keyword is refused at compile time.
* Verdicts equal ``jsonschema.Draft202012Validator``'s, keyword by keyword: the same
  ``(instance path, keyword)`` failures (tests/test_schema_differential.py proves it).
* Each schema becomes two generated functions, compiled once: ``v<N>(x) -> bool`` (the
  fast path, no allocation) and ``e<N>(x, p, out, w)``, which appends every failure as a
  :data:`RawError`; it is generated on the first failure and only run when ``v`` says no.
  Subschemas are written in place rather than called, down to a fixed depth.
* Severity is the ``x-severity`` annotation of the nearest enclosing subschema on the
  evaluation path (through ``$ref``), ``"error"`` when none says otherwise.
* It is pure: schemas come in through the ``load`` callable; nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .conditions import GUARDS, KEYWORD_KIND, ORDER, Expressions, known_after
from .graph import ASSERTIONS, Node, RawError, RawErrors

__all__ = ["Compiler", "RawError", "Node"]

#: How deep child subschemas are written in place rather than called.
_INLINE_DEPTH: Final = 8


class Compiler(Expressions):
    """Compiles schemas on demand into one shared namespace of generated functions.

    Args:
        load: Returns the schema resource whose ``$id`` is the given URI (no fragment).

    Thread-safe: compilation holds a lock; the generated functions are pure.
    """

    def compile(self, uri: str) -> tuple[Callable[[object], bool],
                                         Callable[[object], list[RawError]]]:
        """Compile the schema resource ``uri``; return ``(is_valid, errors)``.

        ``errors(instance)`` returns every :data:`RawError`, in schema order, as a
        :class:`~cnilib._schema.graph.RawErrors` (which keeps a bounded number of them).

        Raises:
            ConfigError: the schema uses something this compiler does not support.
        """
        with self._lock:
            root = self._node(uri, "")
            valid_name = self._fn("v", root)
            self._flush()
            valid = self._ns[valid_name]
        collectors: list[Callable[..., None]] = []

        def errors(instance: object) -> list[RawError]:
            if not collectors:
                # Generated on first failure: a run of valid documents never pays for it.
                with self._lock:
                    name = self._fn("e", root)
                    self._flush()
                    collectors.append(self._ns[name])
            out = RawErrors()
            collectors[0](instance, (), out, False)
            return out

        return valid, errors

    def _flush(self) -> None:
        lines: list[str] = []
        while self._pending:
            name = self._pending.pop()
            node = self.nodes[int(name[1:])]
            lines += self._gen_v(node) if name[0] == "v" else self._gen_e(node)
        if lines:
            # The source is generated from cnilib's own schema files, never from input data:
            # instance values only ever reach the generated functions as arguments.
            code = compile("\n".join(lines) + "\n", "<cnilib-schema>", "exec")
            exec(code, self._ns)

    def _gen_v(self, node: Node) -> list[str]:
        out = [f"def v{node.id}(x):"]
        if isinstance(node.schema, bool):
            return [*out, f"    return {node.schema!r}"]
        self._validate_applicators(node, self._check_keywords(node))
        return [*out, *self._emit_v(node.id, "x", "    ", None, 0, inline=False),
                "    return True"]

    def _emit_v(self, node_id: int, var: str, ind: str, known: str | None, depth: int,
                *, inline: bool = True) -> list[str]:
        """Statements that ``return False`` unless ``var`` is valid under the node.

        Child subschemas are emitted in place (no call) down to :data:`_INLINE_DEPTH`.
        """
        node = self.nodes[node_id]
        if node.schema is True:
            return []
        if node.schema is False:
            return [f"{ind}return False"]
        if inline:
            expr = self._expr(node_id, var, known)
            if expr is not None:
                return [] if expr == "True" else [f"{ind}if not {expr}:", f"{ind}    return False"]
            if depth > _INLINE_DEPTH:
                call = self._fn("v", self._target(node_id))
                return [f"{ind}if not {call}({var}):", f"{ind}    return False"]
        schema = self._check_keywords(node)
        self._validate_applicators(node, schema)
        body: list[str] = []
        for key in ORDER:
            if key not in schema or (key == "additionalProperties" and schema[key] is True):
                continue
            value = schema[key]
            kind = KEYWORD_KIND.get(key)
            guarded = kind is not None and kind != known
            at = ind + "    " if guarded else ind
            chunk: list[str] = []
            if key in ASSERTIONS:
                chunk.append(f"{at}if not {self._simple_test(key, value, node, var)}:")
                chunk.append(f"{at}    return False")
                if key == "type":
                    known = known_after(value) or known
            elif key == "properties":
                chunk = self._emit_properties(node, value, var, at, depth)
            elif key == "patternProperties":
                for pat in value:
                    child = self._child(node, "patternProperties", pat)
                    test = self._key_test(pat, node, "_k")
                    if self._expr(child, "_") == "False":  # any matching key is invalid
                        chunk.append(f"{at}for _k in {var}:")
                        chunk.append(f"{at}    if isinstance(_k, str) and {test}:")
                        chunk.append(f"{at}        return False")
                        continue
                    y = self._var()
                    inner = self._emit_v(child, y, at + "        ", None, depth + 1)
                    if inner:
                        chunk.append(f"{at}for _k, {y} in {var}.items():")
                        chunk.append(f"{at}    if isinstance(_k, str) and {test}:")
                        chunk += inner
            elif key == "additionalProperties":
                y = self._var()
                extra = self._extra_test(node, schema, "_k")
                inner = ([f"{at}        return False"] if value is False else
                         self._emit_v(self._child(node, key), y, at + "        ", None,
                                      depth + 1))
                if inner and extra == "True":
                    chunk.append(f"{at}for {y} in {var}.values():")
                    chunk += [line[4:] for line in inner]
                elif inner:
                    chunk.append(f"{at}for _k, {y} in {var}.items():")
                    chunk.append(f"{at}    if {extra}:")
                    chunk += inner
            elif key == "items":
                y = self._var()
                inner = self._emit_v(self._child(node, key), y, at + "    ", None, depth + 1)
                if inner:
                    chunk.append(f"{at}for {y} in {var}:")
                    chunk += inner
            elif key == "$ref":
                chunk = self._emit_v(self._ref(node, value), var, at, known, depth + 1)
            elif key == "allOf":
                for i in range(len(value)):
                    chunk += self._emit_v(self._child(node, key, i), var, at, known, depth + 1)
            elif key == "anyOf":
                checks = [self._child_check(self._child(node, key, i), var, known)
                          for i in range(len(value))]
                chunk.append(f"{at}if not ({' or '.join(checks)}):")
                chunk.append(f"{at}    return False")
            elif key == "not":
                chunk.append(f"{at}if {self._child_check(self._child(node, key), var, known)}:")
                chunk.append(f"{at}    return False")
            elif key == "if":
                chunk = self._emit_if_v(node, schema, var, at, known=known, depth=depth)
            if chunk and guarded:
                body.append(f"{ind}if {GUARDS[kind or ''].format(var)}:")
            body += chunk
        return body

    def _emit_properties(self, node: Node, props: dict[str, Any], var: str, ind: str,
                         depth: int) -> list[str]:
        body: list[str] = []
        forbidden = []
        for prop in props:
            child = self._child(node, "properties", prop)
            if self._expr(child, "_") == "False":
                forbidden.append(prop)  # present at all means invalid: test them together
                continue
            y = self._var()
            inner = self._emit_v(child, y, ind + "    ", None, depth + 1)
            if inner:
                # Most properties of a schema are absent from a given document: a membership
                # test is all they cost (jsonschema also tests `in`, then subscripts).
                body.append(f"{ind}if {prop!r} in {var}:")
                body.append(f"{ind}    {y} = {var}[{prop!r}]")
                body += inner
        if forbidden:
            names = self._const(frozenset(forbidden))
            body[:0] = [f"{ind}if not {names}.isdisjoint({var}):", f"{ind}    return False"]
        return body

    def _emit_if_v(self, node: Node, schema: dict[str, Any], var: str, ind: str, *,
                   known: str | None, depth: int) -> list[str]:
        lines = [f"{ind}if {self._child_check(self._child(node, 'if'), var, known)}:"]
        then = (self._emit_v(self._child(node, "then"), var, ind + "    ", known, depth + 1)
                if "then" in schema else [])
        lines += then or [f"{ind}    pass"]
        if "else" in schema:
            other = self._emit_v(self._child(node, "else"), var, ind + "    ", known,
                                 depth + 1)
            if other:
                lines.append(f"{ind}else:")
                lines += other
        return lines

    def _extra_test(self, node: Node, schema: dict[str, Any], var: str) -> str:
        props = schema.get("properties", {})
        tests = [f"{var} not in {self._const(frozenset(props))}"] if props else []
        for pat in schema.get("patternProperties", {}):
            tests.append(f"not (isinstance({var}, str) and {self._key_test(pat, node, var)})")
        return " and ".join(tests) or "True"

    def _gen_e(self, node: Node) -> list[str]:
        return [f"def e{node.id}(x, p, out, w):",
                *self._emit_e(node.id, "x", (), "    ", w="w", depth=0), "    return"]

    def _emit_e(self, node_id: int, var: str, path: tuple[str, ...], ind: str, *, w: str,
                depth: int) -> list[str]:
        """Statements appending every failure of ``var`` under the node to ``out``.

        ``path`` holds the source of the path tokens below ``p``; the path tuple is only
        built when a failure is recorded. ``w`` is the source of the severity flag: the
        runtime ``w``, or a constant once an ``x-severity`` is crossed. Children
        are written in place down to :data:`_INLINE_DEPTH` (a valid subtree then costs what
        the ``v`` functions cost), and called below that only when their ``v`` check fails.
        """
        node = self.nodes[node_id]
        nid = node.id
        where = "p" if not path else f"(*p, {', '.join(path)})"
        if node.schema is True:
            return []
        if node.schema is False:
            return [f"{ind}out.append(({where}, 'false', {nid}, {w}, {var}))"]
        schema = self._check_keywords(node)
        if depth > _INLINE_DEPTH:
            return [f"{ind}if not {self._child_check(node_id, var)}:",
                    f"{ind}    {self._fn('e', self._target_e(node_id))}({var}, {where}, out, {w})"]
        if schema.get("x-severity") is not None:
            w = repr(schema["x-severity"] == "warning")
        body: list[str] = []
        for key in ORDER:
            if key not in schema or (key == "additionalProperties" and schema[key] is True):
                continue
            value = schema[key]
            kind = KEYWORD_KIND.get(key)
            at = ind + "    " if kind is not None else ind
            chunk: list[str] = []
            if key == "required":
                k = self._var()
                chunk.append(f"{at}for {k} in {tuple(value)!r}:")
                chunk.append(f"{at}    if {k} not in {var}:")
                chunk.append(f"{at}        out.append(({where}, 'required', {nid}, {w}, {k}))")
            elif key in ASSERTIONS:
                chunk.append(f"{at}if not {self._simple_test(key, value, node, var)}:")
                chunk.append(f"{at}    out.append(({where}, {key!r}, {nid}, {w}, {var}))")
            elif key == "properties":
                for prop in value:
                    child = self._child(node, "properties", prop)
                    y = self._var()
                    inner = self._emit_e(child, y, (*path, repr(prop)), at + "    ", w=w,
                                         depth=depth + 1)
                    if inner:
                        chunk.append(f"{at}if {prop!r} in {var}:")
                        chunk.append(f"{at}    {y} = {var}[{prop!r}]")
                        chunk += inner
            elif key == "patternProperties":
                for pat in value:
                    child = self._child(node, "patternProperties", pat)
                    k, y = self._var(), self._var()
                    inner = self._emit_e(child, y, (*path, k), at + "        ", w=w,
                                         depth=depth + 1)
                    if inner:
                        chunk.append(f"{at}for {k}, {y} in {var}.items():")
                        chunk.append(f"{at}    if isinstance({k}, str) and "
                                     f"{self._key_test(pat, node, k)}:")
                        chunk += inner
            elif key == "additionalProperties":
                k = self._var()
                extra = self._extra_test(node, schema, k)
                if value is False:
                    x = self._var()
                    chunk.append(f"{at}{x} = tuple({k} for {k} in {var} if {extra})")
                    chunk.append(f"{at}if {x}:")
                    chunk.append(f"{at}    out.append(({where}, 'additionalProperties', {nid}, "
                                 f"{w}, {x}))")
                else:
                    child = self._child(node, key)
                    y = self._var()
                    inner = self._emit_e(child, y, (*path, k), at + "        ", w=w,
                                         depth=depth + 1)
                    if inner:
                        chunk.append(f"{at}for {k}, {y} in {var}.items():")
                        chunk.append(f"{at}    if {extra}:")
                        chunk += inner
            elif key == "items":
                child = self._child(node, key)
                i, y = self._var(), self._var()
                inner = self._emit_e(child, y, (*path, i), at + "    ", w=w, depth=depth + 1)
                if inner:
                    chunk.append(f"{at}for {i}, {y} in enumerate({var}):")
                    chunk += inner
            elif key in ("$ref", "allOf"):
                children = ([self._ref(node, value)] if key == "$ref" else
                            [self._child(node, key, i) for i in range(len(value))])
                for child in children:
                    chunk += self._emit_e(child, var, path, at, w=w, depth=depth + 1)
            elif key == "anyOf":
                checks = [self._child_check(self._child(node, key, i), var)
                          for i in range(len(value))]
                chunk.append(f"{at}if not ({' or '.join(checks)}):")
                chunk.append(f"{at}    out.append(({where}, 'anyOf', {nid}, {w}, {var}))")
            elif key == "not":
                chunk.append(f"{at}if {self._child_check(self._child(node, key), var)}:")
                chunk.append(f"{at}    out.append(({where}, 'not', {nid}, {w}, {var}))")
            elif key == "if":
                chunk.append(f"{at}if {self._child_check(self._child(node, 'if'), var)}:")
                if "then" in schema:
                    then = self._child(node, "then")
                    chunk.append(f"{at}    if not {self._child_check(then, var)}:")
                    chunk += self._emit_e(then, var, path, at + "        ", w=w, depth=depth + 1)
                else:
                    chunk.append(f"{at}    pass")
                if "else" in schema:
                    other = self._child(node, "else")
                    chunk.append(f"{at}elif not {self._child_check(other, var)}:")
                    chunk += self._emit_e(other, var, path, at + "    ", w=w, depth=depth + 1)
            if chunk and kind is not None:
                body.append(f"{ind}if {GUARDS[kind].format(var)}:")
            body += chunk
        return body
