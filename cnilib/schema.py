"""Validate CNI documents against cnilib's JSON Schemas (SPEC.md sections
"Network configuration format" and "Result Types"; libcni's cache entry).

Rules of this file:

* It owns the ``schemas/`` folder: finding it (:func:`schema_dir`), reading each file once,
  and one compiled validator per ``(kind, version)``. Nothing else in cnilib reads a packaged
  schema (``cnilib._schema.plugin`` asks this module for the plugin schemas).
* Every problem is reported, located by JSON pointer (and by line and column when the text is
  given), with the severity the schema declares (``"x-severity": "warning"``): an ERROR
  means loading refuses, a WARNING means the spec frowns on it but libcni accepts it.
* Validation is compiled Python (``cnilib._schema.compiler``), not jsonschema: a valid document
  costs a few microseconds, against about 250 for jsonschema. jsonschema is imported only on
  request: :func:`standard_validator` and :func:`schema_registry` hand the packaged schemas
  to it for callers who want a standard validator (and ``cnilib._schema.plugin`` runs the
  plugin schemas with it); ``tests/test_schema_differential.py`` proves the compiled
  validators agree with it.
* It is pure apart from reading the packaged schemas.
* Size (about 500 lines): the spec's schemas, the plugin schemas and the standard validator
  share one loader, one id scheme and one version mapping; about half the lines are the
  public functions' documentation.

Which schema validates a document (documented in ``docs/schemas.md``): ``""`` (no
``cniVersion``) means 0.1.0, as in libcni. A version that parses but was never released is
validated by the newest released version not above it (0.1.0 for anything lower), with a
warning; one that does not parse is validated by the newest schema, whose ``cniVersion``
rule then reports it.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from ._json import JSON, JSONObject
from .errors import (
    ConfigError,
    ConfigValidationError,
    InvalidVersionError,
    Problem,
    Severity,
)
from .version import SPEC_VERSION, SUPPORTED_VERSIONS, parse_version

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "Kind",
    "KINDS",
    "validate",
    "check",
    "schema_version",
    "schema_path",
    "schema_dir",
    "load_schema",
    "plugin_schema",
    "plugin_schema_types",
    "common_schema",
    "schema_registry",
    "standard_validator",
]

#: One kind of document per schema file (a ``.conflist``, a single-plugin ``.conf``, an ADD
#: result, an error object, a VERSION reply, or a libcni cache entry).
Kind = Literal["netconflist", "netconf", "result", "error", "version", "cache"]
#: Every :data:`Kind`, in that order.
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

_RELEASED: Final = frozenset(SUPPORTED_VERSIONS)
_LOCK: Final = threading.Lock()
_SCHEMAS: dict[str, JSONObject] = {}
_VALIDATORS: dict[tuple[str, str], Any] = {}


@functools.cache
def _schema_root() -> Traversable:
    """Where the schemas are: inside the installed package, else in the source checkout.

    A wheel carries them as ``cnilib/schemas`` (pyproject.toml force-includes the top-level
    ``schemas/`` there): that is ``importlib.resources.files("cnilib") / "schemas"``. Running
    from a checkout, that folder does not exist and the top-level ``schemas/`` next to
    ``cnilib/`` is used instead. For the usual case of a package installed as a directory
    the two candidates are checked with :mod:`os.path` first (see :func:`_schema_folder`),
    which gives the same answer without importing :mod:`importlib.resources` (about 10 ms);
    other loaders (zip imports) go through :mod:`importlib.resources`. Looked up once.
    """
    folder = _schema_folder()
    if folder is not None:
        from pathlib import Path

        return Path(folder)
    import importlib.resources

    return importlib.resources.files("cnilib") / "schemas"


@functools.cache
def _schema_folder() -> str | None:
    # The plain-directory answer of _schema_root, as a string: reading files by os path
    # spares importing pathlib when validating.
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "schemas")
    if os.path.isdir(packaged):
        return packaged
    checkout = os.path.join(os.path.dirname(here), "schemas")
    if os.path.isfile(os.path.join(checkout, "common.json")):
        return checkout
    return None


def schema_dir() -> Traversable:
    """The folder holding cnilib's schemas (``<version>/<kind>.json``, ``common.json``).

    Returns:
        A :class:`~importlib.resources.abc.Traversable` (a real directory in a checkout or an
        unpacked wheel).
    """
    return _schema_root()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        msg = f"unknown schema kind {kind!r}; expected one of {', '.join(KINDS)}"
        raise ConfigError(msg)


def schema_version(version: str) -> str:
    """The released spec version whose schemas validate a document declaring ``version``.

    ``""`` is 0.1.0 (SPEC.md, Section 1: Network configuration format, libcni). A version that
    parses is mapped to the newest released version not above it (``"1.2.3"`` to 1.1.0, ``"0.1"`` to
    0.1.0); one that does not parse to the newest, :data:`~cnilib.version.SPEC_VERSION`.

    Args:
        version: The ``cniVersion`` as written.

    Returns:
        One of :data:`~cnilib.version.SUPPORTED_VERSIONS`.
    """
    if version in _RELEASED:
        return version
    try:
        key = parse_version(version)
    except InvalidVersionError:
        return SPEC_VERSION
    best = SUPPORTED_VERSIONS[0]
    for candidate in SUPPORTED_VERSIONS:
        if parse_version(candidate) <= key:
            best = candidate
    return best


def _relative_path(kind: str, version: str) -> str:
    return "cache.json" if kind == "cache" else f"{schema_version(version)}/{kind}.json"


def schema_path(kind: Kind, version: str) -> Traversable:
    """The schema file that validates ``kind`` documents of ``version``.

    Args:
        kind: One of :data:`KINDS`.
        version: A spec version, mapped as :func:`schema_version` does (ignored for
            ``"cache"``, whose format is not versioned).

    Raises:
        ConfigError: ``kind`` is not one of :data:`KINDS`.
    """
    _check_kind(kind)
    return _schema_root().joinpath(*_relative_path(kind, version).split("/"))


def _uri_path(uri: str) -> str:
    # urn:cnilib:common, urn:cnilib:cache, urn:cnilib:<version>:<kind>
    parts = uri.split(":")
    if len(parts) == 3 and parts[:2] == ["urn", "cnilib"]:
        return f"{parts[2]}.json"
    if len(parts) == 4 and parts[:2] == ["urn", "cnilib"] and parts[2] in _RELEASED:
        return f"{parts[2]}/{parts[3]}.json"
    if (len(parts) == 4 and parts[:3] == ["urn", "cnilib", "plugins"]
            and parts[3] in plugin_schema_types()):
        return f"plugins/{parts[3]}.json"
    msg = f"no cnilib schema has the id {uri!r}"
    raise ConfigError(msg)


def _load(uri: str) -> JSONObject:
    found = _SCHEMAS.get(uri)
    if found is not None:
        return found
    relative = _uri_path(uri)
    try:
        folder = _schema_folder()
        if folder is not None:
            with open(os.path.join(folder, *relative.split("/")), encoding="utf-8") as f:
                text = f.read()
        else:
            text = _schema_root().joinpath(*relative.split("/")).read_text("utf-8")
        schema = json.loads(text)
    except (OSError, ValueError) as err:
        msg = f"cannot read cnilib's schema {relative}: {err}"
        raise ConfigError(msg) from err
    if not isinstance(schema, dict) or schema.get("$id") != uri:
        msg = f"cnilib's schema {relative} does not declare $id {uri!r}"
        raise ConfigError(msg)
    _SCHEMAS[uri] = schema
    return schema


def _uri(kind: str, version: str) -> str:
    return "urn:cnilib:cache" if kind == "cache" else f"urn:cnilib:{version}:{kind}"


def load_schema(kind: Kind, version: str) -> JSONObject:
    """The schema for ``kind`` documents of ``version``, as a fresh JSON object.

    Raises:
        ConfigError: unknown ``kind``, or the packaged schema is missing or unreadable.
    """
    _check_kind(kind)
    schema: JSONObject = json.loads(json.dumps(_load(_uri(kind, schema_version(version)))))
    return schema


def _validator(kind: str, version: str) -> Any:
    found = _VALIDATORS.get((kind, version))
    if found is not None:
        return found
    _check_kind(kind)
    with _LOCK:  # the compiler is made, and compiles, under the lock
        compiled = _compiler().compile(_uri(kind, version))
        _VALIDATORS[(kind, version)] = compiled
    return compiled


@functools.cache
def _compiler() -> Any:
    # One compiler for every schema (they share its nodes); first called under _LOCK.
    from ._schema.compiler import Compiler

    return Compiler(_load)


_VERSION_NOTES: dict[str, tuple[str, str]] = {}


@functools.cache
def _build() -> Callable[..., tuple[Problem, ...]]:
    # Lazily: a document with no problem never needs the wording machinery.
    from ._schema.problems import build

    return build


def _version_note(version: str) -> tuple[str, str]:
    """``(schema version, note)``: note is ``""``, ``"unknown"`` or ``"unparseable"``."""
    found = _VERSION_NOTES.get(version)
    if found is not None:
        return found
    resolved = schema_version(version)
    try:
        key = parse_version(version)
    except InvalidVersionError:
        note = "unparseable"
    else:
        # A released version spelled oddly ("0.1") is the schema's cniVersion rule's business.
        released = any(parse_version(v) == key for v in SUPPORTED_VERSIONS)
        note = "" if released else "unknown"
    if len(_VERSION_NOTES) < 256:  # versions come from documents: bound the memo
        _VERSION_NOTES[version] = (resolved, note)
    return resolved, note


def _version_problem(instance: JSON, version: str, resolved: str, note: str) -> Problem | None:
    """A problem with the version itself, beyond what the schema's cniVersion rule says."""
    declared = instance.get("cniVersion") if isinstance(instance, dict) else None
    pointer = "/cniVersion" if declared == version else ""
    if note == "unparseable":
        if declared == version:
            return None  # the schema's own cniVersion rule reports it, located
        msg = f"version {version!r} is not a CNI version; validated against the {resolved} schema"
        return Problem(pointer, msg, rule="cniVersion")
    if note == "unknown":
        msg = (f"cniVersion {version!r} is not a released CNI spec version "
               f"({', '.join(SUPPORTED_VERSIONS)}); validated against the {resolved} schema")
        return Problem(pointer, msg, severity=Severity.WARNING, rule="cniVersion")
    return None


def validate(instance: JSON, kind: Kind, version: str, *, source: str | None = None,
             text: str | bytes | None = None) -> tuple[Problem, ...]:
    """Every problem of ``instance`` as a ``kind`` document of spec ``version``.

    Args:
        instance: The decoded JSON document.
        kind: One of :data:`KINDS`.
        version: The spec version the document is used at (for a configuration, the
            version :func:`~cnilib.version.select_version` picked; ``""`` means 0.1.0).
            Ignored for ``"cache"``.
        source: The file name, copied into each problem.
        text: The document as written; when given, each problem gets its line and column.

    Returns:
        Errors first, then warnings; ``()`` for a clean document.

    Raises:
        ConfigError: ``kind`` is not one of :data:`KINDS`, or the packaged schemas are
            missing.
    """
    extra: Problem | None = None
    if version in _RELEASED:
        resolved = version
    elif kind == "cache":
        resolved = ""  # the cache format is not versioned: one validator for any version
    else:
        resolved, note = _version_note(version)
        if note:
            extra = _version_problem(instance, version, resolved, note)
    is_valid, errors = _validator(kind, resolved)
    if is_valid(instance):
        if extra is None:
            return ()
        raw = []
    else:
        raw = errors(instance)
    return _build()(raw, _compiler().nodes, resolved, extra=extra, source=source, text=text)


def check(instance: JSON, kind: Kind, version: str, *, source: str | None = None,
          text: str | bytes | None = None) -> tuple[Problem, ...]:
    """Like :func:`validate`, but refuse a document that has any ERROR.

    Returns:
        The warnings (possibly ``()``).

    Raises:
        ConfigValidationError: at least one ERROR; ``problems`` lists every problem found
            (errors and warnings), each located.
        ConfigError: ``kind`` is not one of :data:`KINDS`.
    """
    if version in _RELEASED:
        # The common case first: a released version whose validator is compiled already,
        # and a valid document (what validate() would find, minus its bookkeeping).
        compiled = _VALIDATORS.get((kind, version))
        if compiled is not None and compiled[0](instance):
            return ()
    problems = validate(instance, kind, version, source=source, text=text)
    if not problems:
        return problems
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        where = f"{first.location or source}: " if source is not None else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        msg = f"{where}invalid {kind}: {first.message} (at {first.pointer or '/'}){more}"
        raise ConfigValidationError(msg, problems)
    return problems


@functools.cache
def plugin_schema_types() -> tuple[str, ...]:
    """The plugin types that have a bundled configuration schema (``schemas/plugins/``).

    These are the reference plugins of containernetworking/plugins, each schema written from
    the plugin's documented fields (``docs/cli.md`` says how ``cnilib validate`` uses them).

    Returns:
        The types, sorted (``"bandwidth"``, ``"bridge"``, ... ``"vrf"``).
    """
    folder = _schema_root().joinpath("plugins")
    names = [entry.name for entry in folder.iterdir()] if folder.is_dir() else []
    return tuple(sorted(n[:-5] for n in names if n.endswith(".json")))


def plugin_schema(plugin_type: str) -> JSONObject | None:
    """The bundled JSON Schema of a reference plugin's configuration, as a fresh object.

    Its ``$id`` is ``urn:cnilib:plugins:<type>``; it may refer to ``urn:cnilib:common``.
    ``"x-cnilib-role": "ipam"`` marks the schemas of IPAM plugins, which describe the
    ``ipam`` object rather than a plugin configuration.

    Args:
        plugin_type: The plugin's ``type``.

    Returns:
        The schema, or ``None`` when cnilib has none for that type.

    Raises:
        ConfigError: the packaged schema is unreadable.
    """
    if plugin_type not in plugin_schema_types():
        return None
    found: JSONObject = json.loads(json.dumps(_load(f"urn:cnilib:plugins:{plugin_type}")))
    return found


def common_schema() -> JSONObject:
    """The building blocks the other schemas refer to (``urn:cnilib:common``), fresh.

    Raises:
        ConfigError: the packaged schema is missing or unreadable.
    """
    found: JSONObject = json.loads(json.dumps(_load("urn:cnilib:common")))
    return found


def _schema_ids() -> list[str]:
    ids = ["urn:cnilib:common", "urn:cnilib:cache"]
    ids += [_uri(kind, version) for version in SUPPORTED_VERSIONS
            for kind in KINDS if kind != "cache"]
    ids += [f"urn:cnilib:plugins:{plugin_type}" for plugin_type in plugin_schema_types()]
    return ids


@functools.cache
def schema_registry() -> Any:
    """Every packaged schema, as a ``referencing`` registry for jsonschema (imported here).

    Each schema is a resource under its ``$id``: ``urn:cnilib:common``, ``urn:cnilib:cache``,
    ``urn:cnilib:<version>:<kind>`` for every released version and every kind but
    ``"cache"``, and ``urn:cnilib:plugins:<type>`` for every type of
    :func:`plugin_schema_types`. A standard validator for any of them, plugin schemas
    included, is ``Draft202012Validator(registry.contents(uri), registry=registry)``.

    Returns:
        A ``referencing.Registry`` (immutable; built once).

    Raises:
        ConfigError: a packaged schema is missing or unreadable.
    """
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resources(
        (uri, DRAFT202012.create_resource(_load(uri))) for uri in _schema_ids())


def standard_validator(kind: Kind, version: str) -> Any:
    """A standard jsonschema validator for ``kind`` documents of ``version``.

    The slow but standard twin of :func:`validate`: a
    ``jsonschema.Draft202012Validator`` over the schema :func:`load_schema` returns, resolving
    ``$ref`` through :func:`schema_registry`. It reports the same failures as the compiled
    validators (the test suite checks it), but knows nothing of ``"x-severity"``: a warning
    is an error to it. Use it to cross-check cnilib, or to use jsonschema's own error
    reporting; :func:`validate` and :func:`check` stay the fast path.

    Args:
        kind: One of :data:`KINDS`.
        version: A spec version, mapped as :func:`schema_version` does (ignored for
            ``"cache"``).

    Returns:
        A ``jsonschema.Draft202012Validator`` (built once per schema).

    Raises:
        ConfigError: ``kind`` is not one of :data:`KINDS`, or the packaged schemas are
            missing.
    """
    _check_kind(kind)
    return _standard_validator(_uri(kind, schema_version(version)))


@functools.cache
def _standard_validator(uri: str) -> Any:
    from jsonschema import Draft202012Validator

    registry = schema_registry()
    return Draft202012Validator(registry.contents(uri), registry=registry)
