"""Lint network configuration files: every problem as a value (what ``cnilib validate`` prints).

Rules of this file:

* It returns :class:`~cnilib.errors.Problem` values, each located (file, line, column, JSON
  pointer) and each found once; it raises only for bad arguments. A file that does not load
  is a problem of that file, not an exception, so one bad file never hides the others.
* It finds what loading finds (:mod:`cnilib.config`, :mod:`cnilib.schema`), plus what only a
  look at several files or at the plugins can find: two files of one directory naming one
  network, a ``.conf`` holding a ``plugins`` list, plugin keys the plugin does not know or
  cannot use (:mod:`cnilib._schema.plugin`), and, on request, plugins missing from the plugin
  path or not speaking the network's version.
* It reads files, and runs plugins' VERSION only when asked (``plugins=True``), through
  :class:`~cnilib.api.CNIConfig`: it starts no process itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from ._json import JSONObject, loads
from ._schema.locate import locate
from ._schema.plugin import SchemaSet, load_schema_file
from .config import (
    NetworkConfigList,
    PluginConfig,
    conf_files,
    conflist_from_conf,
    conflist_from_file,
)
from .errors import (
    CNIError,
    ConfigError,
    ConfigValidationError,
    InvalidJSONError,
    PluginNotFoundError,
    Problem,
    Severity,
)

if TYPE_CHECKING:
    from .invoke import Executor

__all__ = ["lint_paths", "lint_network", "has_failures", "LINT_RULES", "SCHEMAS_KEY"]

#: The rules of the problems only the linter finds (loading's own rules are the schema
#: keywords, ``libcni``, ``json``...). ``docs/cli.md`` describes each.
LINT_RULES: Final = {
    "read": "a file or directory that cannot be read, or a directory with no configuration",
    "conf-with-plugins": "a .conf/.json file holding a 'plugins' list (libcni reads one plugin)",
    "duplicate-network": "a second file in one directory naming an already defined network",
    "plugin-unknown-key": "a key the plugin's schema does not know (the plugin ignores it)",
    "plugin-schema": "a plugin key of the wrong type or form (prefix of plugin-schema/<keyword>)",
    "plugin-missing": "a plugin type not found on the plugin path",
    "plugin-version": "a plugin whose VERSION answer lacks the network's version",
    "schema-file": f"a schema named by a network's {'cnilibSchemas'!r} that cannot be used",
}
#: A network list's own schemas for third-party plugins: ``{"cnilibSchemas": {TYPE: FILE}}``,
#: each FILE relative to the list's file. A list's top-level keys never reach a plugin (SPEC.md,
#: "Deriving execution configuration from plugin configuration"), so the key changes nothing
#: when the network runs. Schemas the caller gives (``schemas=``, ``--schema``) win over it.
SCHEMAS_KEY: Final = "cnilibSchemas"
_EXTENSIONS: Final = (".conf", ".conflist", ".json")


def has_failures(problems: Iterable[Problem], *, strict: bool = False) -> bool:
    """Whether ``problems`` should fail a check: any error, or with ``strict`` any problem."""
    return any(strict or p.severity is Severity.ERROR for p in problems)


def _files(paths: Sequence[str | os.PathLike[str]], out: list[Problem]) -> list[str]:
    files: list[str] = []
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            try:
                found = conf_files(path, _EXTENSIONS)
            except ConfigError as err:
                out.append(Problem("", str(err), file=path, rule="read"))
                continue
            if not found:
                # A gate must not pass because it looked in the wrong place.
                out.append(Problem("", "no configuration files (.conf, .conflist, .json) here",
                                   file=path, rule="read"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            out.append(Problem("", "no such file or directory", file=path, rule="read"))
    return list(dict.fromkeys(files))


def _load(path: str, out: list[Problem]) -> NetworkConfigList | None:
    from ._config.files import read_file
    from .config import conf_from_bytes

    try:
        if path.endswith(".conflist"):
            return conflist_from_file(path)
        # The loaders' own reader: regular files only, never blocking, size-capped (G12).
        data = read_file(path)
        doc = loads(data, source=path)
        if isinstance(doc, dict) and "plugins" in doc:
            where = locate(data, ("/plugins",))["/plugins"] or (None, None)
            out.append(Problem(
                "/plugins", "a .conf file holding a 'plugins' list: libcni reads it as one "
                "plugin configuration and never runs the list; name it .conflist",
                file=path, line=where[0], column=where[1], rule="conf-with-plugins"))
        return conflist_from_conf(conf_from_bytes(data, source=path))
    except InvalidJSONError as err:
        out.append(err.problem)
    except ConfigValidationError as err:
        out.extend(err.problems)
    except (CNIError, OSError) as err:
        out.append(Problem("", str(err) if isinstance(err, CNIError) else
                           f"error reading {path}: {err.strerror or err}", file=path,
                           rule="read"))
    return None


def _plugin_places(net: NetworkConfigList) -> list[tuple[PluginConfig, tuple[str | int, ...],
                                                          bytes]]:
    """Each plugin with its path in the document it was written in, and that document."""
    placed: list[tuple[PluginConfig, tuple[str | int, ...], bytes]] = []
    if net.source is not None and not net.source.endswith(".conflist"):
        # A single-plugin file (.conf, .json) wrapped into a list: the file is the plugin.
        return [(plugin, (), plugin.bytes) for plugin in net.plugins]
    inlined = net.raw.get("plugins") if "plugins" in net.raw else None
    count = len(inlined) if isinstance(inlined, list) else 0
    for i, plugin in enumerate(net.plugins):
        if i < count:
            placed.append((plugin, ("plugins", i), net.bytes))
        elif plugin.source is not None and plugin.source != net.source:
            placed.append((plugin, (), plugin.bytes))  # a drop-in: its own file
        else:
            placed.append((plugin, (), net.bytes))  # a .conf wrapped into a list
    return placed


def lint_network(net: NetworkConfigList, *,
                 schemas: Mapping[str, str | os.PathLike[str] | JSONObject] | None = None,
                 plugin_path: Sequence[str] | None = None, plugins: bool = False,
                 executor: Executor | None = None) -> tuple[Problem, ...]:
    """The problems of a loaded network beyond loading's own (its ``warnings``).

    Args:
        net: The network.
        schemas: Extra plugin schemas, as for :func:`lint_paths`.
        plugin_path: Where plugins are (default as :class:`~cnilib.api.CNIConfig`).
        plugins: Also check that every plugin (and IPAM plugin) is on the plugin path and
            that its VERSION answer lists the network's version.
        executor: How plugins are found and run for that check.

    Returns:
        The network's warnings, then what the plugin schemas and the plugin check find.

    Raises:
        ConfigError: a schema given in ``schemas`` is unusable.
    """
    return _lint_network(net, _schema_set(schemas), plugin_path, plugins, executor)


def _schema_set(schemas: Mapping[str, str | os.PathLike[str] | JSONObject] | None) -> SchemaSet:
    return SchemaSet({kind: (load_schema_file(value) if not isinstance(value, dict) else value)
                      for kind, value in (schemas or {}).items()})


def _own_schemas(net: NetworkConfigList, schemas: SchemaSet,
                 out: list[Problem]) -> SchemaSet:
    """``schemas`` over the network's own (:data:`SCHEMAS_KEY`); what is unusable goes to
    ``out`` as a located problem, and its plugin is then checked without that schema."""
    given = net.raw.get(SCHEMAS_KEY)
    if given is None:
        return schemas

    def problem(pointer: str, message: str) -> None:
        line, column = locate(net.bytes, (pointer,))[pointer] or (None, None)
        out.append(Problem(pointer, message, file=net.source, line=line, column=column,
                           rule="schema-file"))

    if not isinstance(given, dict):
        problem(f"/{SCHEMAS_KEY}", f"{SCHEMAS_KEY} must be an object of plugin type to "
                "schema file")
        return schemas
    base = os.path.dirname(os.path.abspath(net.source)) if net.source else os.getcwd()
    own: dict[str, JSONObject] = {}
    for plugin_type, path in given.items():
        pointer = f"/{SCHEMAS_KEY}/{plugin_type.replace('~', '~0').replace('/', '~1')}"
        if not isinstance(path, str) or not path:
            problem(pointer, "a schema file must be named by a non-empty string")
            continue
        try:
            schema = load_schema_file(os.path.join(base, path))
            SchemaSet({plugin_type: schema})  # refuses a schema that is not a JSON Schema
        except ConfigError as err:
            problem(pointer, err.msg)
            continue
        own[plugin_type] = schema
    return schemas.under(own)


def _lint_network(net: NetworkConfigList, schemas: SchemaSet,
                  plugin_path: Sequence[str] | None, plugins: bool,
                  executor: Executor | None) -> tuple[Problem, ...]:
    out: list[Problem] = list(net.warnings)
    schemas = _own_schemas(net, schemas, out)
    for plugin, at, text in _plugin_places(net):
        source = plugin.source or net.source
        if plugin.type in schemas.types() and not schemas.is_ipam(plugin.type):
            out += schemas.check(plugin.raw, plugin.type, at=at, source=source, text=text)
        ipam_type = plugin.ipam.get("type") if plugin.ipam is not None else None
        if isinstance(ipam_type, str) and ipam_type in schemas.types():
            out += schemas.check(plugin.ipam, ipam_type, at=(*at, "ipam"), source=source,
                                 text=text)
    if plugins:
        out += _check_plugins(net, plugin_path, executor)
    return tuple(out)


def _check_plugins(net: NetworkConfigList, plugin_path: Sequence[str] | None,
                   executor: Executor | None) -> list[Problem]:
    from .api import CNIConfig

    cni = CNIConfig(list(plugin_path) if plugin_path is not None else None, executor=executor)
    version = net.cni_version or "0.1.0"  # a plugin reads a missing cniVersion as 0.1.0
    out: list[Problem] = []
    answers: dict[str, object] = {}
    for plugin, at, text in _plugin_places(net):
        source = plugin.source or net.source
        kinds: list[tuple[str, tuple[str | int, ...]]] = [(plugin.type, (*at, "type"))]
        ipam_type = plugin.ipam.get("type") if plugin.ipam is not None else None
        if isinstance(ipam_type, str) and ipam_type:
            kinds.append((ipam_type, (*at, "ipam", "type")))
        for kind, path in kinds:
            if kind not in answers:
                try:
                    answers[kind] = cni.get_version_info(kind)
                except CNIError as err:  # not found, or no usable answer
                    answers[kind] = err
            answer = answers[kind]
            ptr = "".join(f"/{t}" for t in path)
            line, column = locate(text, (ptr,))[ptr] or (None, None)
            if isinstance(answer, PluginNotFoundError):
                message = (f"plugin {kind!r} is not on the plugin path "
                           f"({os.pathsep.join(cni.path)})")
                rule = "plugin-missing"
            elif isinstance(answer, CNIError):
                message = f"plugin {kind!r} did not answer VERSION: {answer}"
                rule = "plugin-version"
            elif not answer.supports(version):  # type: ignore[attr-defined]
                listed = ", ".join(answer.supported_versions)  # type: ignore[attr-defined]
                message = (f"plugin {kind!r} does not support the network's version "
                           f"{version} (it supports {listed})")
                rule = "plugin-version"
            else:
                continue
            out.append(Problem(ptr, message, file=source, line=line, column=column, rule=rule))
    return out


def _duplicates(nets: list[NetworkConfigList]) -> list[Problem]:
    # In one directory the network a name means is the first .conflist in file-name order,
    # else the first .conf/.json (libcni LoadNetworkConf): every other file of that name is
    # never loaded by name.
    def order(net: NetworkConfigList) -> tuple[bool, str]:
        source = net.source or ""
        return (not source.endswith(".conflist"), os.path.basename(source))

    out: list[Problem] = []
    seen: dict[tuple[str, str], NetworkConfigList] = {}
    for net in sorted(nets, key=order):
        key = (os.path.dirname(os.path.abspath(net.source or "")), net.name)
        first = seen.setdefault(key, net)
        if first is net:
            continue
        line, column = locate(net.bytes, ("/name",))["/name"] or (None, None)
        out.append(Problem(
            "/name", f'network "{net.name}" is also defined by {first.source}, which is '
            "loaded instead (libcni takes the first: .conflist files in file-name order, "
            "then .conf/.json)", file=net.source, line=line, column=column,
            rule="duplicate-network"))
    return out


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    schemas: Mapping[str, str | os.PathLike[str] | JSONObject] | None = None,
    plugins: bool = False,
    plugin_path: Sequence[str] | None = None,
    executor: Executor | None = None,
) -> tuple[Problem, ...]:
    """Every problem of the configuration files at ``paths``, each once.

    Args:
        paths: Files, or directories whose ``.conf``, ``.conflist`` and ``.json`` files are
            read (not recursively; a ``.conflist``'s drop-in folder is read with it).
        schemas: Plugin type to a JSON Schema (a file path or a decoded object) for
            third-party plugins, or to replace a bundled one (``docs/cli.md``).
        plugins: Also check the plugins on the plugin path (runs their VERSION).
        plugin_path: Plugin directories for that check (default as
            :class:`~cnilib.api.CNIConfig`: ``$CNI_PATH``, else the standard ones).
        executor: How plugins are found and run for that check.

    Returns:
        Per file in order, errors before warnings; ``()`` when all is clean.

    Raises:
        ConfigError: ``paths`` is empty, or a schema given in ``schemas`` is unusable.
    """
    if not paths:
        msg = "lint needs at least one file or directory"
        raise ConfigError(msg)
    schema_set = _schema_set(schemas)
    found: list[Problem] = []
    nets: list[NetworkConfigList] = []
    for path in _files(paths, found):
        net = _load(path, found)
        if net is not None:
            nets.append(net)
            found += _lint_network(net, schema_set, plugin_path, plugins, executor)
    found += _duplicates(nets)
    order: dict[str | None, int] = {}
    for problem in found:
        order.setdefault(problem.file, len(order))
    unique = list(dict.fromkeys(found))
    unique.sort(key=lambda p: (order[p.file], p.severity is not Severity.ERROR,
                               p.line or 0, p.column or 0))
    return tuple(unique)
