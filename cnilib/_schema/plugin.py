"""Check a plugin's own configuration keys against a JSON Schema (``schemas/plugins/``).

Rules of this file:

* The spec's schemas (:mod:`cnilib.schema`) check what every plugin configuration shares;
  this module checks what belongs to one plugin: ``bridge``'s ``isGateway``, ``host-local``'s
  ``ranges``. The bundled schemas cover the reference plugins; a caller may add its own for
  a third-party plugin (``cnilib validate --schema TYPE=FILE``, ``docs/cli.md``).
* Here jsonschema earns its place as a dependency: these schemas are data a user may extend,
  so they are run by jsonschema (imported on first use), not compiled like the spec's.
* Severity: a key the schema does not know is a WARNING (plugins decode their configuration
  into Go structs and ignore unknown keys, so a typo such as ``isGatway`` silently does
  nothing); a documented key of the wrong type or form is an ERROR (the plugin refuses it).
  A subschema may say ``"x-severity": "warning"`` and ``"x-message"``, as in ``schemas/``.
* It is pure apart from reading schema files, which :mod:`cnilib.schema` does for it: the
  one import that reaches up from ``cnilib._schema``, made inside the functions that need it
  (cnilib.schema itself compiles with this package).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cnilib._json import JSON, JSONObject, json_pointer, json_type, loads
from cnilib.errors import ConfigError, Problem, Severity

from .graph import x_message
from .locate import locate
from .problems import DEFAULTS, Fields, a_json_type, describe, short, word

__all__ = ["SchemaSet", "load_schema_file"]


def load_schema_file(path: str | os.PathLike[str]) -> JSONObject:
    """Read a user's JSON Schema for a plugin's configuration.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or is not a JSON object.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        msg = f"cannot read the schema {os.fspath(path)}: {err.strerror or err}"
        raise ConfigError(msg) from err
    # InvalidJSONError (a ConfigError) says where the text stops being JSON.
    schema = loads(data, source=os.fspath(path))
    if not isinstance(schema, dict):
        msg = f"the schema {os.fspath(path)} is not a JSON object"
        raise ConfigError(msg)
    return schema


class SchemaSet:
    """The plugin schemas in force: the bundled ones, then the caller's (which win).

    Args:
        extra: Plugin type to JSON Schema (a decoded object) for third-party plugins, or to
            replace a bundled one. Such a schema may ``$ref`` the bundled building blocks
            (``urn:cnilib:common#/$defs/cidr``...); without ``$schema`` it is read as
            draft 2020-12.

    Raises:
        ConfigError: a schema is not a valid JSON Schema.
    """

    def __init__(self, extra: Mapping[str, JSONObject] | None = None) -> None:
        self._extra = dict(extra or {})
        self._validators: dict[str, Any] = {}
        for plugin_type in self._extra:
            self._validator(plugin_type)  # refuse a broken schema before any file is read

    def under(self, defaults: Mapping[str, JSONObject]) -> SchemaSet:
        """These schemas over ``defaults``: a set where ``defaults`` (a network's own
        schemas) apply to the types this set was not given.

        Raises:
            ConfigError: a schema of ``defaults`` is not a valid JSON Schema.
        """
        return SchemaSet({**defaults, **self._extra})

    def types(self) -> frozenset[str]:
        """Every plugin type with a schema."""
        from cnilib.schema import plugin_schema_types

        return frozenset(plugin_schema_types()) | frozenset(self._extra)

    def _schema(self, plugin_type: str) -> JSONObject | None:
        from cnilib.schema import plugin_schema

        return self._extra.get(plugin_type) or plugin_schema(plugin_type)

    def _validator(self, plugin_type: str) -> Any:
        found = self._validators.get(plugin_type)
        if found is not None:
            return found
        schema = self._schema(plugin_type)
        if schema is None:
            return None
        import jsonschema

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as err:
            msg = (f"the schema for plugin type {plugin_type!r} is not a valid JSON Schema: "
                   f"{err.message}")
            raise ConfigError(msg) from err
        # The bundled building blocks (ip, cidr, routes, dns) are shared with the spec's
        # schemas: one definition of "an IP address as Go reads it".
        from cnilib.schema import schema_registry

        validator = cls(schema, registry=schema_registry())
        self._validators[plugin_type] = validator
        return validator

    def is_ipam(self, plugin_type: str) -> bool:
        """Whether the schema of ``plugin_type`` describes an ``ipam`` object."""
        schema = self._schema(plugin_type)
        return bool(schema and schema.get("x-cnilib-role") == "ipam")

    def check(self, obj: JSON, plugin_type: str, *, at: tuple[str | int, ...] = (),
              source: str | None = None, text: bytes | None = None) -> list[Problem]:
        """Every problem of ``obj`` (found at path ``at`` of the document) for ``plugin_type``.

        Returns:
            Errors and warnings, located in ``text`` when it is given; ``[]`` when no schema
            exists for the type.
        """
        validator = self._validator(plugin_type)
        if validator is None:
            return []
        found: list[_Found] = []
        for error in validator.iter_errors(obj):
            found.extend(_explain(error, plugin_type, at))
        where = (locate(text, (json_pointer(p) for p, _, _, _ in found)) if text is not None
                 else {})
        problems = []
        for path, message, severity, rule in found:
            ptr = json_pointer(path)
            line, column = where.get(ptr) or (None, None)
            problems.append(Problem(ptr, message, severity=severity, file=source, line=line,
                                    column=column, rule=rule))
        return problems


_Found = tuple[tuple[str | int, ...], str, Severity, str]


def _explain(error: Any, plugin_type: str, at: tuple[str | int, ...]) -> Iterable[_Found]:
    path = at + tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = error.validator
    severity = Severity.WARNING if schema.get("x-severity") == "warning" else Severity.ERROR
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(
            error.instance, dict):
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in error.instance:
            if key in known or any(re.search(p, key) for p in patterns):
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            what = f"{plugin_type} configuration" if len(path) == len(at) else describe(path)
            message = (f"unknown key {json.dumps(key, ensure_ascii=False)} in {what}: "
                       f"the plugin ignores it{hint}")
            yield (*path, key), message, Severity.WARNING, "plugin-unknown-key"
        return
    value = error.validator_value
    # JSON's type names (cnilib._json.json_type), with JSON Schema's "integer" beside
    # "number": a plugin schema may ask for either.
    kind = "integer" if type(error.instance) is int else json_type(error.instance)
    fields = Fields(where=describe(path), value=short(error.instance), kind=a_json_type(kind),
                    limit=str(value), pattern=str(value))
    if keyword == "type":
        fields["expected"] = " or ".join(a_json_type(n) for n in
                                         (value if isinstance(value, list) else [value]))
    if keyword in ("enum", "const"):
        fields["choices"] = ", ".join(short(v) for v in (value if keyword == "enum" else [value]))
    if keyword == "required":
        missing = [k for k in value if k not in (error.instance or {})]
        fields["arg"] = ", ".join(json.dumps(k) for k in missing)
    custom = x_message(schema, keyword)
    message = (f"{describe(path)}: {error.message}" if custom is None and keyword not in DEFAULTS
               else word(custom, keyword, fields))
    yield path, f"{plugin_type}: {message}", severity, f"plugin-schema/{keyword}"
