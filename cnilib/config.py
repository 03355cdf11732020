"""Network configurations: parsing, version selection, drop-in plugins, lookup by name (SPEC.md,
Section 1: Network configuration format).

Rules of this file:

* It owns SPEC.md "Network configuration format" and libcni's ``libcni/conf.go``: the values
  :class:`PluginConfig` and :class:`NetworkConfigList` and every loader. Names mirror libcni.
  It is longer than the ~400 lines of a module here (about 600, a third of them docstrings)
  because it is the public face: the two values, the builders that must sit next to their
  classes, and a dozen documented loaders. The machinery is in ``cnilib._config``: libcni's
  structural rules (``rules``) and the files (``files``).
* Bytes are the source of truth: a file's bytes are kept verbatim; an inlined plugin's bytes
  are its compact re-serialisation with keys in their original order and numbers exact
  (libcni re-encodes through float64 and sorts keys; we keep the bytes).
* libcni's structural rules are always enforced; the spec's schema (``cnilib.schema``) runs
  too unless ``validate=False``. Every refusal is located: file, JSON pointer, line, column.
* Its only I/O is reading files, through ``cnilib._config.files.read_file``: regular files
  only, never blocking (``O_NONBLOCK`` + ``fstat``), at most :data:`MAX_CONFIG_SIZE` bytes (G12
  in docs/guarantees.md).
* Only :class:`~cnilib.errors.CNIError` subclasses leave it, whatever the bytes.
"""

from __future__ import annotations

import builtins
import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring as _encode_str
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from ._config.files import MAX_CONFIG_SIZE as _MAX_SIZE
from ._config.files import (
    as_bytes,
    check_lookup,
    dirname,
    find,
    fspath,
    join,
    list_files,
    may_exist,
    no_configs,
    not_found,
    read_file,
)
from ._config.rules import Prob, Probs, check_list, check_plugin, failure, not_object
from ._json import JSON, JSONObject, dumps, loads
from ._schema.locate import locate
from .errors import (
    ConfigError,
    InvalidIdentifierError,
    InvalidJSONError,
    Problem,
    Severity,
)
from .identifiers import check_network_name

if TYPE_CHECKING:
    from .schema import Kind

__all__ = [
    "MAX_CONFIG_SIZE",
    "PluginConfig",
    "NetworkConfigList",
    "conf_from_bytes",
    "conf_from_file",
    "conflist_from_bytes",
    "conflist_from_file",
    "conflist_from_conf",
    "conf_files",
    "load_conf",
    "load_conflist",
    "inject_conf",
    "describe",
]

#: Configuration files larger than this are refused (G3, G12).
MAX_CONFIG_SIZE: Final = _MAX_SIZE

_StrPath: TypeAlias = "str | os.PathLike[str]"


@attrs.frozen(kw_only=True, eq=False)
class PluginConfig:
    """One plugin configuration object (SPEC.md, Section 1: Network configuration format; libcni
    ``PluginConfig``).

    Equality and hashing use ``type``, ``name``, ``cni_version``, ``bytes`` and ``source``:
    every other field is derived from ``bytes``. Treat ``raw`` as read-only; change a
    configuration with :func:`inject_conf`. Built without ``bytes``, it serialises ``raw``.

    Attributes:
        type: The plugin executable's name (checked against an allowlist at load).
        name: The ``name`` key, ``""`` when absent (inlined plugins usually have none).
        cni_version: The ``cniVersion`` key, ``""`` when absent.
        capabilities: The ``capabilities`` map (SPEC.md, section "Deriving runtimeConfig").
        ipam: The ``ipam`` object, if any.
        dns: The ``dns`` object, if any.
        raw: The parsed object, every key kept.
        bytes: The JSON sent to the plugin: the file's bytes verbatim, or, for an inlined
            plugin, its compact re-serialisation (original key order, exact numbers),
            computed on first use.
        source: The file it came from, if any.
        warnings: What validation found that the spec frowns on but does not forbid.
    """

    type: str
    name: str = ""
    cni_version: str = ""
    capabilities: Mapping[str, bool] = attrs.field(factory=dict)
    ipam: JSONObject | None = None
    dns: JSONObject | None = None
    raw: JSONObject = attrs.field(repr=False)
    _bytes: builtins.bytes | None = attrs.field(default=None, alias="bytes", repr=False)
    source: str | None = None
    warnings: tuple[Problem, ...] = ()

    # Documented under Attributes. Lazy because re-serialising every inlined plugin would be
    # a third of the cost of loading a list, and the engine builds requests from ``raw``.
    @functools.cached_property
    def bytes(self) -> builtins.bytes:
        return self._bytes if self._bytes is not None else dumps(self.raw)

    def _key(self) -> tuple[str, str, str, str | None, builtins.bytes]:
        return (self.type, self.name, self.cni_version, self.source, self.bytes)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, PluginConfig) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())


@attrs.frozen(kw_only=True)
class NetworkConfigList:
    """A network configuration: a named list of plugins (SPEC.md, Section 1: Network configuration
    format; libcni ``NetworkConfigList``).

    ``disable_check``, ``disable_gc`` and ``load_only_inlined_plugins`` may be overridden
    with :func:`attrs.evolve`, as libcni callers assign them.

    Attributes:
        name: The network name.
        cni_version: The version selected from ``cniVersion`` and ``cniVersions``
            (SPEC.md, section "Version considerations").
        cni_versions: The ``cniVersions`` array as written (empty when absent).
        disable_check: Runtimes must not call CHECK (SPEC.md, Section 1: Network configuration
            format).
        disable_gc: Runtimes must not call GC (SPEC.md, Section 1: Network configuration format).
        load_only_inlined_plugins: Drop-in plugins from ``<dir>/<name>/`` are ignored.
        plugins: The inlined plugins, then the drop-ins.
        raw: The parsed object.
        bytes: The file's bytes verbatim (what the result cache stores).
        source: The file it came from, if any.
        warnings: Validation warnings, and files skipped while looking the network up.
    """

    name: str
    cni_version: str
    cni_versions: tuple[str, ...] = ()
    disable_check: bool = False
    disable_gc: bool = False
    load_only_inlined_plugins: bool = False
    plugins: tuple[PluginConfig, ...] = ()
    raw: JSONObject = attrs.field(eq=False, repr=False)
    bytes: builtins.bytes = attrs.field(repr=False)
    source: str | None = None
    warnings: tuple[Problem, ...] = attrs.field(default=(), eq=False)


# The loaders build their values field by field, from JSON they have just checked: through
# the slots' own setters, which is what the attrs constructor does (through
# object.__setattr__, which looks each name up first), at half the cost.
_new: Final = object.__new__


def _slot_setters(cls: type, names: str) -> tuple[Callable[[object, object], None], ...]:
    return tuple(getattr(cls, name).__set__ for name in names.split())


(_p_type, _p_name, _p_version, _p_caps, _p_ipam, _p_dns, _p_raw, _p_data, _p_source,
 _p_warnings, _p_bytes) = _slot_setters(
    PluginConfig, "type name cni_version capabilities ipam dns raw _bytes source warnings bytes")
(_n_name, _n_version, _n_versions, _n_check, _n_gc, _n_inlined, _n_plugins, _n_raw, _n_bytes,
 _n_source, _n_warnings) = _slot_setters(
    NetworkConfigList, "name cni_version cni_versions disable_check disable_gc "
    "load_only_inlined_plugins plugins raw bytes source warnings")


def _plugin(obj: dict[str, Any], data: builtins.bytes | None, source: str | None,
            warnings: tuple[Problem, ...] = ()) -> PluginConfig:
    # What PluginConfig(...) would build; rules.check_plugin has made sure that type, name and
    # cniVersion are strings (or null, Go's "").
    caps = obj.get("capabilities")
    ipam = obj.get("ipam")
    dns = obj.get("dns")
    self = _new(PluginConfig)
    _p_type(self, obj["type"])
    _p_name(self, obj.get("name") or "")
    _p_version(self, obj.get("cniVersion") or "")
    if type(caps) is dict:
        # rules.check_plugin has let through only true, false and null (Go's false).
        _p_caps(self, dict(caps) if None not in caps.values() else
                {k: v is True for k, v in caps.items()})
    else:
        _p_caps(self, {})
    _p_ipam(self, ipam if type(ipam) is dict else None)
    _p_dns(self, dns if type(dns) is dict else None)
    _p_raw(self, obj)
    _p_data(self, data)
    _p_source(self, source)
    _p_warnings(self, warnings)
    if data is not None:
        _p_bytes(self, data)  # the cached property's value, known already
    return self


def _network(*, name: str, version: str, versions: tuple[str, ...], flags: Sequence[bool],
             plugins: tuple[PluginConfig, ...], raw: JSONObject, data: builtins.bytes,
             source: str | None, warnings: tuple[Problem, ...]) -> NetworkConfigList:
    # What NetworkConfigList(...) would build (it has no converter and no validator).
    self = _new(NetworkConfigList)
    _n_name(self, name)
    _n_version(self, version)
    _n_versions(self, versions)
    _n_check(self, flags[0])
    _n_gc(self, flags[1])
    _n_inlined(self, flags[2])
    _n_plugins(self, plugins)
    _n_raw(self, raw)
    _n_bytes(self, data)
    _n_source(self, source)
    _n_warnings(self, warnings)
    return self


@functools.cache
def _schema_checker() -> Callable[..., tuple[Problem, ...]]:
    # cnilib.schema is imported on first use, once: an import statement per call costs as
    # much as validating a small document.
    from .schema import check

    return check


def _schema_check(obj: JSONObject, kind: Kind, version: str, source: str | None,
                  data: builtins.bytes) -> tuple[Problem, ...]:
    return _schema_checker()(obj, kind, version, source=source, text=data)


def _conf_from_obj(obj: JSON, data: builtins.bytes, source: str | None,
                   validate: bool) -> PluginConfig:
    if not isinstance(obj, dict):
        raise failure([not_object(obj)], "error parsing configuration", source, data)
    probs = check_plugin(obj)
    if probs:
        raise failure(probs, "error parsing configuration", source, data)
    # check_plugin has made sure it is a string or null (a typing.cast would cost a call).
    version: str = obj.get("cniVersion") or ""  # type: ignore[assignment]
    warnings = _schema_check(obj, "netconf", version, source, data) if validate else ()
    return _plugin(obj, data, source, warnings)


def _conflist_from_obj(obj: JSON, data: builtins.bytes, source: str | None,
                       validate: bool) -> NetworkConfigList:
    prefix = "error parsing configuration list"
    if not isinstance(obj, dict):
        raise failure([not_object(obj)], prefix, source, data)
    probs: list[Prob] = Probs()
    name, version, versions, flags, items = check_list(obj, probs)
    if probs or not isinstance(name, str):
        raise failure(probs, prefix, source, data)
    plugins = tuple([_plugin(item, None, source) for item in items])
    warnings = _schema_check(obj, "netconflist", version, source, data) if validate else ()
    return _network(name=name, version=version, versions=versions, flags=flags,
                    plugins=plugins, raw=obj, data=data, source=source, warnings=warnings)


def conf_from_bytes(data: builtins.bytes | bytearray | memoryview | str, *,
                    source: str | None = None, validate: bool = True) -> PluginConfig:
    """Parse one plugin configuration (a ``.conf`` file; libcni ``ConfFromBytes``).

    Args:
        data: The JSON document.
        source: A file name for error locations.
        validate: Also check the spec's rules (``cnilib.schema``, kind ``netconf``). libcni's
            own rules (``type`` present, field types) and the ``type`` allowlist always apply.

    Returns:
        The configuration; ``bytes`` is ``data`` verbatim.

    Raises:
        InvalidJSONError: not strict JSON (with line and column).
        ConfigValidationError: a rule is broken; ``problems`` locates every one.
    """
    raw = as_bytes(data, source)
    return _conf_from_obj(loads(raw, source=source), raw, source, validate)


def conf_from_file(path: _StrPath, *, validate: bool = True) -> PluginConfig:
    """Read and parse one plugin configuration file (libcni ``ConfFromFile``).

    Args:
        path: The file.
        validate: As in :func:`conf_from_bytes`.

    Returns:
        The configuration, with ``source`` set to ``path``.

    Raises:
        ConfigNotFoundError: the file does not exist.
        ConfigError: it cannot be read, is not a regular file, or is over
            :data:`MAX_CONFIG_SIZE`; or what :func:`conf_from_bytes` raises.
    """
    name = fspath(path, "path")
    data = read_file(name)  # what conf_from_bytes does, minus its input checks
    return _conf_from_obj(loads(data, source=name), data, name, validate)


def conflist_from_bytes(data: builtins.bytes | bytearray | memoryview | str, *,
                        source: str | None = None, validate: bool = True) -> NetworkConfigList:
    """Parse a network configuration list (libcni ``ConfListFromBytes``).

    Selects the version (SPEC.md, Section 1: Network configuration format: "the highest supported
    version" of ``cniVersion`` and ``cniVersions``). Drop-in plugins are a property of files: see
    :func:`conflist_from_file`.

    Args:
        data: The JSON document.
        source: A file name for error locations.
        validate: Also check the spec's rules (``cnilib.schema``, kind ``netconflist``).

    Returns:
        The network; its ``bytes`` are ``data`` verbatim, each plugin's the compact JSON of
        its element. It may have no plugins if ``plugins`` is absent (they may come from
        drop-ins).

    Raises:
        InvalidJSONError: not strict JSON (with line and column).
        ConfigValidationError: a rule is broken; ``problems`` locates every one.
    """
    raw = as_bytes(data, source)
    return _conflist_from_obj(loads(raw, source=source), raw, source, validate)


def _with_dropins(net: NetworkConfigList, folder: str) -> NetworkConfigList:
    # SPEC.md loadOnlyInlinedPlugins; libcni NetworkPluginConfsFromFiles (libcni/conf.go).
    extra: list[PluginConfig] = []
    notes: list[Problem] = []
    if not net.load_only_inlined_plugins:
        try:
            # The name comes from the file: never let it build a path outside `folder`.
            check_network_name(net.name)
        except InvalidIdentifierError as err:
            line, column = locate(net.bytes, ("/name",))["/name"] or (None, None)
            notes.append(Problem("/name", f"drop-in plugins not loaded: {err}",
                                 severity=Severity.WARNING, file=net.source, line=line,
                                 column=column, rule="dropin-name"))
        else:
            dropdir = join(folder, net.name)
            maybe = may_exist(dropdir, net.name)
            for path in list_files(dropdir, (".conf",)) if maybe else ():
                data = read_file(path, missing=ConfigError)
                extra.append(_conf_from_obj(loads(data, source=path), data, path, False))
    if not net.plugins and not extra:
        raise failure([("", "no plugin configs found", "libcni")],
                       "error parsing configuration list", net.source, net.bytes)
    if not extra and not notes:
        return net
    return attrs.evolve(net, plugins=net.plugins + tuple(extra),
                        warnings=net.warnings + tuple(notes))


def conflist_from_file(path: _StrPath, *, validate: bool = True) -> NetworkConfigList:
    """Read a ``.conflist`` and its drop-in plugins (libcni ``ConfListFromFile``).

    Unless ``loadOnlyInlinedPlugins`` is true, the ``.conf`` files of ``<dir>/<name>/`` are
    appended after the inlined plugins, sorted by file name (SPEC.md, Section 1: Network
    configuration format). The name is checked first: a name that is not a valid network
    name loads no drop-ins (a warning says so).

    Args:
        path: The file.
        validate: As in :func:`conflist_from_bytes`; drop-ins always get libcni's rules.

    Returns:
        The network, with ``source`` set to ``path``.

    Raises:
        ConfigNotFoundError: the file does not exist.
        ConfigError: unreadable or oversized file or drop-in, or no plugins at all; or what
            :func:`conflist_from_bytes` raises.
    """
    name = fspath(path, "path")
    data = read_file(name)  # what conflist_from_bytes does, minus its input checks
    net = _conflist_from_obj(loads(data, source=name), data, name, validate)
    return _with_dropins(net, dirname(name))


def conflist_from_conf(conf: PluginConfig) -> NetworkConfigList:
    """Wrap one plugin configuration into a list (libcni ``ConfListFromConf``).

    The list's name and version are the plugin's. Its ``bytes`` are
    ``{"cniVersion":…,"name":…,"plugins":[<the plugin's bytes>]}``, with the plugin's bytes
    spliced in verbatim (libcni re-encodes them).

    Args:
        conf: The plugin configuration.

    Returns:
        A list of one plugin (``conf`` itself), carrying its ``source`` and ``warnings``.

    Raises:
        ConfigError: ``conf`` is not a :class:`PluginConfig`.
    """
    if not isinstance(conf, PluginConfig):
        msg = f"expected a PluginConfig, got {type(conf).__name__}"
        raise ConfigError(msg)
    name = conf.name
    version = conf.cni_version
    data = b"".join((b'{"cniVersion":', _json_str(version), b',"name":', _json_str(name),
                     b',"plugins":[', conf.bytes.strip(), b"]}"))
    raw: JSONObject = {"cniVersion": version, "name": name, "plugins": [conf.raw]}
    return _network(name=name, version=version, versions=(), flags=_NO_FLAGS,
                    plugins=(conf,), raw=raw, data=data, source=conf.source,
                    warnings=conf.warnings)


_NO_FLAGS: Final = (False, False, False)


def _json_str(value: str) -> builtins.bytes:
    # dumps(value) for a string, without the encoder's Python layers (what
    # json.JSONEncoder(ensure_ascii=False).encode does for a str); anything else is dumped.
    return _encode_str(value).encode("utf-8") if type(value) is str else dumps(value)


def conf_files(directory: _StrPath,
               extensions: Iterable[str] = (".conf", ".conflist", ".json")) -> tuple[str, ...]:
    """List the configuration files of a directory (libcni ``ConfFiles``).

    A file matches when the text from its last ``.`` equals one of ``extensions``
    (case-sensitive; the hidden file ``.conflist`` matches, as in Go). Only regular files
    (or links to them) are listed: libcni also lists links to directories and FIFOs, which
    then fail or block on read.

    Args:
        directory: The directory; a missing one has no files.
        extensions: The suffixes to keep, with their dot.

    Returns:
        The paths, sorted by file name.

    Raises:
        ConfigError: the directory cannot be read (e.g. it is a file).
    """
    return list_files(fspath(directory, "directory"), extensions)


def load_conf(directory: _StrPath, name: str, *, validate: bool = True) -> PluginConfig:
    """Find a single-plugin configuration by name among ``.conf``/``.json`` files (``LoadConf``).

    Args:
        directory: The configuration directory (not searched recursively).
        name: The network name.
        validate: As in :func:`conf_from_bytes`.

    Returns:
        The first file, in sorted order, whose ``name`` matches. Files skipped because they
        could not be read or parsed are added to its ``warnings``.

    Raises:
        NoConfigsFoundError: no ``.conf``/``.json`` file in the directory (or no directory).
        ConfigNotFoundError: none has that name; ``details`` lists the skipped files.
        ConfigError: the matching file is invalid.
    """
    check_lookup(name)
    folder = fspath(directory, "directory")
    files = list_files(folder, (".conf", ".json"))
    if not files:
        raise no_configs(folder, name)
    skipped: list[Problem] = []
    hit = find(files, name, skipped)
    if hit is None:
        raise not_found(folder, name, skipped)
    conf = _conf_from_obj(hit[2], hit[1], hit[0], validate)
    return attrs.evolve(conf, warnings=conf.warnings + tuple(skipped)) if skipped else conf


def load_conflist(directory: _StrPath, name: str, *, validate: bool = True) -> NetworkConfigList:
    """Find a network by name (libcni ``LoadNetworkConf``/``LoadConfList``).

    ``.conflist`` files are searched first, in sorted order, and the first with that name
    wins (with its drop-ins, see :func:`conflist_from_file`); else ``.conf``/``.json`` files,
    up-converted with :func:`conflist_from_conf`. A file that cannot be read or parsed is
    skipped (libcni aborts the whole search); the one that matches must be valid.

    Args:
        directory: The configuration directory.
        name: The network name.
        validate: As in :func:`conflist_from_bytes`.

    Returns:
        The network; skipped files are added to its ``warnings``.

    Raises:
        NoConfigsFoundError: ``no net configurations found in <dir>``: no configuration file
            at all (or no directory).
        ConfigNotFoundError: ``no net configuration with name "<n>" in <dir>``; ``details``
            lists the skipped files.
        ConfigError: the matching file (or one of its drop-ins) is invalid.
    """
    check_lookup(name)
    folder = fspath(directory, "directory")
    skipped: list[Problem] = []
    lists = list_files(folder, (".conflist",))
    hit = find(lists, name, skipped)
    if hit is not None:
        net = _conflist_from_obj(hit[2], hit[1], hit[0], validate)
        net = _with_dropins(net, folder)
    else:
        singles = list_files(folder, (".conf", ".json"))
        found = find(singles, name, skipped)
        if found is None:
            if not lists and not singles:
                raise no_configs(folder, name)
            raise not_found(folder, name, skipped)
        net = conflist_from_conf(_conf_from_obj(found[2], found[1], found[0], validate))
    return attrs.evolve(net, warnings=net.warnings + tuple(skipped)) if skipped else net


def inject_conf(conf: PluginConfig, values: Mapping[str, JSON], *,
                validate: bool = False) -> PluginConfig:
    """Set top-level keys of a plugin configuration (libcni ``InjectConf``).

    Existing keys keep their place; new ones are appended. The result is re-parsed, so it is
    checked like any configuration.

    Args:
        conf: The configuration.
        values: The keys to set. ``None`` is refused, as libcni refuses an untyped nil;
            ``None`` nested inside a value is JSON ``null``.
        validate: Also run the schema on the result.

    Returns:
        A new configuration whose ``bytes`` are the compact JSON of the result.

    Raises:
        ConfigError: ``keys cannot be empty``, ``key '<k>' value must not be null``, a value
            that is not JSON, or what :func:`conf_from_bytes` raises on the result.
    """
    if not isinstance(conf, PluginConfig):
        msg = f"expected a PluginConfig, got {type(conf).__name__}"
        raise ConfigError(msg)
    try:
        obj = loads(conf.bytes)
    except InvalidJSONError as err:
        msg = f"unmarshal existing network bytes: {err}"
        raise ConfigError(msg) from err
    if not isinstance(obj, dict) or not isinstance(values, Mapping):
        msg = "inject_conf needs a JSON object and a mapping of values"
        raise ConfigError(msg)
    pairs: Iterable[tuple[object, JSON]] = values.items()
    for key, value in pairs:
        if key == "":
            msg = "keys cannot be empty"
            raise ConfigError(msg)
        if not isinstance(key, str):
            msg = f"key {key!r} is not a string"
            raise ConfigError(msg)
        if value is None:
            msg = f"key '{key}' value must not be null"
            raise ConfigError(msg)
        obj[key] = value
    try:
        data = dumps(obj)
    except (TypeError, ValueError, RecursionError) as err:
        msg = f"injected values are not JSON: {err}"
        raise ConfigError(msg) from err
    return conf_from_bytes(data, source=conf.source, validate=validate)


def describe(net: NetworkConfigList) -> str:
    """A short human-readable summary of a loaded network (for CLIs and logs).

    Args:
        net: The network.

    Returns:
        Several lines: name, version, source, one line per plugin, then the warnings.
    """
    head = f"network {net.name!r} (cniVersion {net.cni_version or '(none: 0.1.0)'})"
    lines = [head + (f" from {net.source}" if net.source else "")]
    for i, plugin in enumerate(net.plugins, 1):
        extra = []
        if plugin.ipam is not None and isinstance(plugin.ipam.get("type"), str):
            extra.append(f"ipam {plugin.ipam['type']}")
        caps = sorted(k for k, on in plugin.capabilities.items() if on)
        if caps:
            extra.append("capabilities " + ", ".join(caps))
        if plugin.source != net.source:
            extra.append(f"drop-in {plugin.source}")
        lines.append(f"  {i}. {plugin.type}" + (f" ({'; '.join(extra)})" if extra else ""))
    lines.extend(f"  {p}" for p in net.warnings)
    return "\n".join(lines)
