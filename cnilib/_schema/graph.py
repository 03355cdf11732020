"""The graph of cnilib's JSON Schemas: subschemas as numbered nodes, ``$ref``s resolved.

Rules of this file:

* It supports exactly the keywords cnilib's schemas use (:data:`ASSERTIONS`,
  :data:`APPLICATORS`, :data:`ANNOTATIONS`); a schema with any other keyword, or a ``$ref``
  that is not a JSON pointer, is refused with :class:`~cnilib.errors.ConfigError`, so a
  verdict can never silently differ from a standard validator's.
* A node is identified by its schema resource (``$id``) and JSON pointer; the same subschema
  reached twice is one node.
* Which subschemas always pass or always fail is worked out here (:meth:`Graph.verdict`), so
  that the compiler writes no check for them.
* It is pure: schemas come in through the ``load`` callable; nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from cnilib._json import escape_token, pointer_tokens
from cnilib.errors import MAX_PROBLEMS, ConfigError

__all__ = ["ASSERTIONS", "APPLICATORS", "ANNOTATIONS", "RawError", "RawErrors", "Node", "Graph",
           "bad_schema", "x_message"]

#: Keywords that test the instance itself.
ASSERTIONS: Final = frozenset({
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "minItems", "maxItems", "required",
})
#: Keywords that apply subschemas.
APPLICATORS: Final = frozenset({
    "properties", "patternProperties", "additionalProperties", "items", "allOf", "anyOf",
    "not", "if", "then", "else", "$ref",
})
#: Keywords that never fail (``x-severity`` and ``x-message`` are cnilib's own annotations).
ANNOTATIONS: Final = frozenset({
    "$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default",
    "deprecated", "x-severity", "x-message",
})

#: ``(instance path, keyword, node id, is_warning, argument)``. The argument is the missing
#: key for ``required``, the tuple of unknown keys for ``additionalProperties: false``, and the
#: failing value otherwise.
RawError = tuple[tuple[str | int, ...], str, int, bool, Any]


class RawErrors(list[RawError]):
    """The failures of one document: at most ``limit`` of each severity kept, the rest counted.

    The limit is a little above :data:`~cnilib.errors.MAX_PROBLEMS`, since some raw failures
    are dropped as duplicates later. ``more`` counts ``[errors, warnings]`` not kept.
    """

    __slots__ = ("kept", "limit", "more")

    def __init__(self, limit: int = 2 * MAX_PROBLEMS) -> None:
        super().__init__()
        self.limit = limit
        self.kept = [0, 0]
        self.more = [0, 0]

    def append(self, item: RawError) -> None:
        """Keep ``item``, or only count it when its severity is full."""
        which = 1 if item[3] else 0
        if self.kept[which] < self.limit:
            self.kept[which] += 1
            super().append(item)
        else:
            self.more[which] += 1


class Node:
    """One compiled subschema: where it is, and what people are told when it fails.

    Attributes:
        id: Index in :attr:`Graph.nodes`.
        uri: The schema resource it lives in.
        pointer: Its JSON pointer inside that resource.
        schema: The subschema itself (a mapping, or a boolean schema).
        where: ``uri#pointer``, for messages about the schema itself.
    """

    __slots__ = ("id", "pointer", "schema", "uri", "where")

    def __init__(self, id: int, uri: str, pointer: str, schema: object) -> None:
        self.id = id
        self.uri = uri
        self.pointer = pointer
        self.schema = schema
        self.where = f"{uri}#{pointer}"

    def message(self, keyword: str) -> str | None:
        """The ``x-message`` template for a failure of ``keyword`` here, if any."""
        return x_message(self.schema, keyword)


def x_message(schema: object, keyword: str) -> str | None:
    """A subschema's ``x-message`` for a failure of ``keyword``: the string, or the entry of
    an object keyed by keyword; ``None`` when it gives none."""
    found = schema.get("x-message") if isinstance(schema, dict) else None
    if isinstance(found, dict):
        found = found.get(keyword)
    return found if isinstance(found, str) else None


def bad_schema(where: str, why: str) -> ConfigError:
    """The error for a schema this compiler cannot handle (a bug in cnilib's schemas)."""
    msg = f"cnilib schema {where} cannot be compiled: {why}"
    return ConfigError(msg)


class Graph:
    """The nodes of every schema loaded so far.

    Args:
        load: Returns the schema resource whose ``$id`` is the given URI (no fragment).
    """

    def __init__(self, load: Callable[[str], Mapping[str, Any]]) -> None:
        self._load = load
        self._ids: dict[tuple[str, str], int] = {}
        self._verdicts: dict[int, bool | None] = {}
        self.nodes: list[Node] = []

    def node(self, uri: str, pointer: str) -> int:
        """The id of the subschema at ``pointer`` in resource ``uri``, made on first use."""
        key = (uri, pointer)
        found = self._ids.get(key)
        if found is not None:
            return found
        schema: object = self._load(uri)
        for token in pointer_tokens(pointer):
            if isinstance(schema, dict) and token in schema:
                schema = schema[token]
            elif isinstance(schema, list) and token.isdigit() and int(token) < len(schema):
                schema = schema[int(token)]
            else:
                raise bad_schema(f"{uri}#{pointer}", "the pointer leads nowhere")
        if not isinstance(schema, dict | bool):
            raise bad_schema(f"{uri}#{pointer}", "a schema must be an object or a boolean")
        node_id = len(self.nodes)
        self.nodes.append(Node(node_id, uri, pointer, schema))
        self._ids[key] = node_id
        return node_id

    def child(self, node: Node, *tokens: str | int) -> int:
        """The id of the subschema below ``node`` at ``tokens`` (``"properties", "name"``)."""
        return self.node(node.uri, node.pointer + "".join("/" + escape_token(t) for t in tokens))

    def ref(self, node: Node, ref: object) -> int:
        """The id of the subschema a ``$ref`` of ``node`` names."""
        if not isinstance(ref, str):
            raise bad_schema(node.where, "$ref must be a string")
        base, _, fragment = ref.partition("#")
        if fragment and not fragment.startswith("/"):
            raise bad_schema(node.where, "only JSON-pointer $refs are used")
        return self.node(base or node.uri, fragment)

    def keywords(self, node: Node) -> dict[str, Any]:
        """The object schema of ``node``, its keywords checked (:data:`ASSERTIONS`...)."""
        schema = node.schema
        if not isinstance(schema, dict):
            raise bad_schema(node.where, "expected an object schema")
        for key in schema:
            if key not in ASSERTIONS and key not in APPLICATORS and key not in ANNOTATIONS:
                raise bad_schema(node.where, f"unsupported keyword {key!r}")
        if schema.get("x-severity") not in (None, "error", "warning"):
            raise bad_schema(node.where, "x-severity is error or warning")
        for key in ("allOf", "anyOf"):
            if key in schema and (not isinstance(schema[key], list) or not schema[key]):
                raise bad_schema(node.where, f"{key} must be a non-empty array")
        for key in ("properties", "patternProperties"):
            if key in schema and not isinstance(schema[key], dict):
                raise bad_schema(node.where, f"{key} must be an object")
        if ("then" in schema or "else" in schema) and "if" not in schema:
            raise bad_schema(node.where, "then/else without if")
        return schema

    def target(self, node_id: int, *, severity: bool = False) -> int:
        """The node a chain of bare ``$ref`` subschemas (a ``$ref`` plus annotations) ends at.

        With ``severity``, a ``$ref`` that carries an ``x-severity`` is not skipped: failures
        collected below it take that severity.
        """
        seen = {node_id}
        while True:
            schema = self.nodes[node_id].schema
            if (not isinstance(schema, dict) or "$ref" not in schema
                    or (severity and "x-severity" in schema)
                    or any(k not in ANNOTATIONS for k in schema if k != "$ref")):
                return node_id
            node_id = self.ref(self.nodes[node_id], schema["$ref"])
            if node_id in seen:  # a $ref cycle: left to the generated functions to call
                return node_id
            seen.add(node_id)

    def verdict(self, node_id: int) -> bool | None:
        """``True`` when the subschema passes every value, ``False`` when it fails every
        value, ``None`` otherwise (or when unsure): ``true``, ``false``, annotations only,
        ``not`` of either, ``$ref`` and ``allOf`` of such.
        """
        if node_id in self._verdicts:
            return self._verdicts[node_id]
        self._verdicts[node_id] = None  # while working it out: a cycle is "unsure"
        node = self.nodes[node_id]
        found: bool | None
        if isinstance(node.schema, bool):
            found = node.schema
        else:
            schema = self.keywords(node)
            parts: list[bool | None] = []
            for key in schema:
                if key in ("$ref", "not"):
                    sub = self.verdict(self.ref(node, schema[key]) if key == "$ref"
                                       else self.child(node, key))
                    parts.append(sub if key == "$ref" or sub is None else not sub)
                elif key == "allOf":
                    parts += [self.verdict(self.child(node, key, i))
                              for i in range(len(schema[key]))]
                elif key not in ANNOTATIONS:
                    parts.append(None)
            found = False if False in parts else None if None in parts else True
        self._verdicts[node_id] = found
        return found
