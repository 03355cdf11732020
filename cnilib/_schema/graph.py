"""The graph of cnilib's JSON Schemas: subschemas as numbered nodes, ``$ref``s resolved.

Rules of this file:

* It supports exactly the keywords cnilib's schemas use (:data:`ASSERTIONS`,
  :data:`APPLICATORS`, :data:`ANNOTATIONS`); a schema with any other keyword, or a ``$ref``
  that is not a JSON pointer, is refused with :class:`~cnilib.errors.ConfigError`, so a
  verdict can never silently differ from a standard validator's.
* A node is identified by its schema resource (``$id``) and JSON pointer; the same subschema
  reached twice is one node.
* It is pure: schemas come in through the ``load`` callable; nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from cnilib.errors import MAX_PROBLEMS, ConfigError

__all__ = ["ASSERTIONS", "APPLICATORS", "ANNOTATIONS", "RawError", "RawErrors", "Node", "Graph",
           "bad_schema"]

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
    """

    __slots__ = ("id", "pointer", "schema", "uri")

    def __init__(self, id: int, uri: str, pointer: str, schema: object) -> None:
        self.id = id
        self.uri = uri
        self.pointer = pointer
        self.schema = schema

    def message(self, keyword: str) -> str | None:
        """The ``x-message`` template for a failure of ``keyword`` here, if any."""
        if not isinstance(self.schema, dict):
            return None
        found = self.schema.get("x-message")
        if isinstance(found, str):
            return found
        if isinstance(found, dict):
            text = found.get(keyword)
            return text if isinstance(text, str) else None
        return None


def bad_schema(where: str, why: str) -> ConfigError:
    """The error for a schema this compiler cannot handle (a bug in cnilib's schemas)."""
    msg = f"cnilib schema {where} cannot be compiled: {why}"
    return ConfigError(msg)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Graph:
    """The nodes of every schema loaded so far.

    Args:
        load: Returns the schema resource whose ``$id`` is the given URI (no fragment).
    """

    def __init__(self, load: Callable[[str], Mapping[str, Any]]) -> None:
        self._load = load
        self._ids: dict[tuple[str, str], int] = {}
        self.nodes: list[Node] = []

    def _resolve_pointer(self, uri: str, pointer: str) -> object:
        node: object = self._load(uri)
        if pointer:
            for raw in pointer.lstrip("/").split("/"):
                token = raw.replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and token in node:
                    node = node[token]
                elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    node = node[int(token)]
                else:
                    raise bad_schema(f"{uri}#{pointer}", "the pointer leads nowhere")
        return node

    def _node(self, uri: str, pointer: str) -> int:
        key = (uri, pointer)
        found = self._ids.get(key)
        if found is not None:
            return found
        schema = self._resolve_pointer(uri, pointer)
        if not isinstance(schema, dict | bool):
            raise bad_schema(f"{uri}#{pointer}", "a schema must be an object or a boolean")
        node_id = len(self.nodes)
        self.nodes.append(Node(node_id, uri, pointer, schema))
        self._ids[key] = node_id
        return node_id

    def _child(self, node: Node, *tokens: str | int) -> int:
        pointer = node.pointer + "".join("/" + _escape(str(t)) for t in tokens)
        return self._node(node.uri, pointer)

    def _ref(self, node: Node, ref: object) -> int:
        if not isinstance(ref, str):
            raise bad_schema(f"{node.uri}#{node.pointer}", "$ref must be a string")
        base, _, fragment = ref.partition("#")
        uri = base or node.uri
        if fragment and not fragment.startswith("/"):
            raise bad_schema(f"{node.uri}#{node.pointer}", "only JSON-pointer $refs are used")
        return self._node(uri, fragment)

    def _check_keywords(self, node: Node) -> dict[str, Any]:
        schema = node.schema
        if not isinstance(schema, dict):
            raise bad_schema(f"{node.uri}#{node.pointer}", "expected an object schema")
        for key in schema:
            if key not in ASSERTIONS and key not in APPLICATORS and key not in ANNOTATIONS:
                raise bad_schema(f"{node.uri}#{node.pointer}", f"unsupported keyword {key!r}")
        severity = schema.get("x-severity")
        if severity not in (None, "error", "warning"):
            raise bad_schema(f"{node.uri}#{node.pointer}", "x-severity is error or warning")
        return schema

    def _validate_applicators(self, node: Node, schema: dict[str, Any]) -> None:
        where = f"{node.uri}#{node.pointer}"
        for key in ("allOf", "anyOf"):
            if key in schema and (not isinstance(schema[key], list) or not schema[key]):
                raise bad_schema(where, f"{key} must be a non-empty array")
        for key in ("properties", "patternProperties"):
            if key in schema and not isinstance(schema[key], dict):
                raise bad_schema(where, f"{key} must be an object")
        if ("then" in schema or "else" in schema) and "if" not in schema:
            raise bad_schema(where, "then/else without if")

    def _target(self, node_id: int) -> int:
        """Skip subschemas that are only a ``$ref`` (plus annotations): call the target."""
        for _ in range(8):
            schema = self.nodes[node_id].schema
            if not isinstance(schema, dict) or "$ref" not in schema or any(
                    k not in ANNOTATIONS for k in schema if k != "$ref"):
                break
            node_id = self._ref(self.nodes[node_id], schema["$ref"])
        return node_id

    def _target_e(self, node_id: int) -> int:
        """Like :meth:`_target`, for error collection: a ``$ref`` that carries an
        ``x-severity`` must be entered, since it changes the severity below it."""
        for _ in range(8):
            schema = self.nodes[node_id].schema
            if not isinstance(schema, dict) or "$ref" not in schema or "x-severity" in schema \
                    or any(k not in ANNOTATIONS for k in schema if k != "$ref"):
                break
            node_id = self._ref(self.nodes[node_id], schema["$ref"])
        return node_id

