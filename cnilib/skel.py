"""The plugin side: write a CNI plugin in Python (SPEC.md "Execution Protocol";
libcni ``pkg/skel/skel.go``).

Rules of this file:

* :func:`dispatch` is pure: the environment and stdin come in as values, and the exit code,
  stdout and stderr go out as values. It reads no variable, file or stream, so every decision of
  the protocol (required variables, identifier rules, version gates, error JSON) is tested
  without a process.
* :func:`plugin_main` is the only I/O: it reads ``os.environ`` and stdin, calls
  :func:`dispatch`, writes the two streams and exits.
* Every failure leaves as the spec's error object on stdout with exit code 1 (SPEC.md, section
  "Errors", SPEC.md, section "Error"); a callback's :class:`~cnilib.errors.CNIError` keeps its code,
  any other exception becomes code 999 (``INTERNAL``), as libcni's skel does.
* Deviations from libcni's skel are deliberate and listed in :func:`dispatch`'s docstring.
* Size (about 550 lines): it is the whole public plugin side (arguments, request parsing,
  dispatch, ``plugin_main``) that a plugin author reads as one page, like libcni's skel.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeAlias, runtime_checkable

import attrs

from ._json import JSON, JSONObject, dumps, loads
from .errors import CNIError, ConfigError, ErrorCode, InvalidJSONError
from .identifiers import check_container_id, check_interface_name, check_network_name
from .version import PluginInfo, greater_than_or_equal_to

if TYPE_CHECKING:
    from ._exec.delegate import (
        delegate_add,
        delegate_check,
        delegate_del,
        delegate_gc,
        delegate_status,
    )
    from .types import Result

__all__ = [
    "CmdArgs",
    "CNIFuncs",
    "SupportsToJSON",
    "PluginOutput",
    "Callback",
    "dispatch",
    "plugin_main",
    "NetConf",
    "parse_netconf",
    "same_netns",
    "delegate_add",
    "delegate_check",
    "delegate_del",
    "delegate_gc",
    "delegate_status",
]

# The delegation helpers run other plugins, so they need the executor: they live in
# cnilib._exec.delegate, imported on first use (PEP 562) so that a plugin that never delegates
# never loads it.
_DELEGATION = frozenset({"delegate_add", "delegate_check", "delegate_del", "delegate_gc",
                         "delegate_status"})


def __getattr__(name: str) -> object:
    if name in _DELEGATION:
        from ._exec import delegate as _delegate

        value = getattr(_delegate, name)
        globals()[name] = value
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | _DELEGATION)


@attrs.frozen(kw_only=True)
class CmdArgs:
    """What a plugin callback is given (libcni ``skel.CmdArgs``).

    Attributes:
        container_id: ``CNI_CONTAINERID`` (``""`` for GC and STATUS).
        netns: ``CNI_NETNS`` (may be ``""`` for DEL, GC and STATUS).
        ifname: ``CNI_IFNAME`` (``""`` for GC and STATUS).
        args: ``CNI_ARGS`` as written (``K=V;K=V``).
        path: ``CNI_PATH`` as written (``:``-separated).
        netns_override: ``CNI_NETNS_OVERRIDE`` as written.
        stdin_data: The request bytes (the plugin configuration, SPEC.md, Section 3: Execution of
            Network Configurations).
    """

    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: str = ""
    path: str = ""
    netns_override: str = ""
    stdin_data: bytes = b""


class SupportsToJSON(Protocol):
    """Anything that renders itself as JSON text: every :mod:`cnilib.types` result."""

    def to_json(self) -> str:
        """The JSON text."""
        ...


@runtime_checkable
class _Versioned(Protocol):
    # A cnilib result: it knows its version and converts (SPEC.md, section "Version").
    @property
    def cni_version(self) -> str: ...

    def as_version(self, version: str) -> Result: ...


#: What a callback may return: a result object, a JSON object written as is, or nothing.
PluginOutput: TypeAlias = "SupportsToJSON | JSONObject | None"

#: A plugin callback: it returns its output or raises (a CNIError keeps its code).
Callback: TypeAlias = Callable[[CmdArgs], PluginOutput]


@attrs.frozen(kw_only=True)
class CNIFuncs:
    """The callbacks of a plugin, one per verb (libcni ``skel.CNIFuncs``).

    A verb without a callback succeeds with no output, as in libcni.

    Attributes:
        add: ``ADD``; returns the result (SPEC.md, section "ADD Success").
        check: ``CHECK``; returns nothing, raises when the attachment is not as expected.
        delete: ``DEL``; returns nothing and should succeed when things are already gone.
        gc: ``GC``; returns nothing (SPEC.md, section "GC": "No output on success").
        status: ``STATUS``; raises a :class:`~cnilib.errors.CNIError` with code 50 or 51 when
            the plugin cannot serve ADD (SPEC.md, section "STATUS").
    """

    add: Callback | None = None
    check: Callback | None = None
    delete: Callback | None = None
    gc: Callback | None = None
    status: Callback | None = None


# The variables in libcni's fixed reading order, and the verbs that require each
# (pkg/skel/skel.go). CNI_COMMAND is required for every verb, known or not.
_VARS = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH",
         "CNI_NETNS_OVERRIDE")
_ATTACH = frozenset({"ADD", "CHECK", "DEL"})
_REQUIRED: Mapping[str, frozenset[str]] = {
    "CNI_CONTAINERID": _ATTACH,
    # SPEC.md, Section 2: Execution Protocol: optional for DEL
    "CNI_NETNS": frozenset({"ADD", "CHECK"}), "CNI_IFNAME": _ATTACH,
    "CNI_PATH": frozenset({"ADD", "CHECK", "DEL", "GC", "STATUS"}),
}
_VALIDATORS: Mapping[str, Callable[[str], object]] = {
    "CNI_CONTAINERID": check_container_id,
    "CNI_IFNAME": check_interface_name,
}
# Verbs that exist only from a spec version on (SPEC.md, section "CHECK", "GC", "STATUS").
_MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}
_NETNS_MSG = "plugin's netns and netns from CNI_NETNS should not be the same"


class _AbortError(Exception):
    # Internal: carries a CNIError out of the helpers to the one place that renders it.
    def __init__(self, error: CNIError) -> None:
        super().__init__(str(error))
        self.error = error


def _error(code: int, msg: str, details: str = "") -> _AbortError:
    return _AbortError(CNIError(msg, code=code, details=details))


def _read_env(environ: Mapping[str, str]) -> tuple[str, CmdArgs]:
    cmd = environ.get("CNI_COMMAND", "")
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in _VARS:
        value = environ.get(name, "")
        values[name] = value
        required = name == "CNI_COMMAND" or cmd in _REQUIRED.get(name, ())
        if value == "":
            if required:
                missing.append(name)
        elif required and name in _VALIDATORS:
            # libcni validates as it reads and stops at the first bad value.
            try:
                _VALIDATORS[name](value)
            except CNIError as err:
                raise _AbortError(err) from err
    if missing:
        msg = f"required env variables [{','.join(missing)}] missing"
        raise _error(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, msg)
    return cmd, CmdArgs(
        container_id=values["CNI_CONTAINERID"],
        netns=values["CNI_NETNS"],
        ifname=values["CNI_IFNAME"],
        args=values["CNI_ARGS"],
        path=values["CNI_PATH"],
        netns_override=values["CNI_NETNS_OVERRIDE"],
    )


def _decode_request(stdin: bytes) -> JSONObject:
    # libcni's validateConfig: the request must decode and carry a valid network name.
    try:
        conf = loads(stdin)
    except InvalidJSONError as err:
        msg = f"error unmarshall network config: {err}"
        raise _error(ErrorCode.DECODING_FAILURE, msg) from err
    if not isinstance(conf, dict):
        msg = f"error unmarshall network config: expected a JSON object, got {_kind(conf)}"
        raise _error(ErrorCode.DECODING_FAILURE, msg)
    name = conf.get("name", "")
    if not isinstance(name, str):
        msg = f"error unmarshall network config: name must be a string, got {_kind(name)}"
        raise _error(ErrorCode.DECODING_FAILURE, msg)
    if name == "":
        raise _error(ErrorCode.INVALID_NETWORK_CONFIG, "missing network name")
    try:
        check_network_name(name)
    except CNIError as err:
        raise _AbortError(err) from err
    return conf


def _kind(value: JSON) -> str:
    return "null" if value is None else type(value).__name__


def _config_version(conf: JSONObject) -> str:
    # A missing cniVersion means 0.1.0 (SPEC.md, Section 1: Network configuration format); a
    # non-string one does not decode.
    version = conf.get("cniVersion", "")
    if not isinstance(version, str):
        msg = ("decoding version from network config: cniVersion must be a string, "
               f"got {_kind(version)}")
        raise _error(ErrorCode.DECODING_FAILURE, msg)
    return version or "0.1.0"


def _gate(cmd: str, version: str, info: PluginInfo) -> None:
    # CHECK from 0.4.0, GC and STATUS from 1.1.0, for the config and for the plugin
    # (pkg/skel/skel.go); the exact-match check follows in _call.
    minimum = _MIN_VERSION[cmd]
    try:
        if not greater_than_or_equal_to(version, minimum):
            msg = f"config version does not allow {cmd}"
            raise _error(ErrorCode.INCOMPATIBLE_CNI_VERSION, msg)
        for supported in info.supported_versions:
            if greater_than_or_equal_to(supported, version):
                return
    except CNIError as err:
        raise _error(ErrorCode.DECODING_FAILURE, str(err)) from err
    msg = f"plugin version does not allow {cmd}"
    raise _error(ErrorCode.INCOMPATIBLE_CNI_VERSION, msg)


def _encode(output: PluginOutput, version: str) -> bytes:
    if output is None:
        return b""
    if isinstance(output, dict):
        return dumps(output, indent=4)
    if isinstance(output, _Versioned) and output.cni_version != version:
        # SPEC.md, Section 5: Result Types: a result carries "the same version supplied on input".
        return output.as_version(version).to_json().encode("utf-8")
    return output.to_json().encode("utf-8")


def _call(
    callback: Callback | None,
    args: CmdArgs,
    version: str,
    info: PluginInfo,
    same_ns: Callable[[str], bool] | None,
) -> bytes:
    try:
        info.check(version)
    except CNIError as err:
        raise _AbortError(err) from err
    override = args.netns_override.lower() in ("1", "true")
    if args.netns and same_ns is not None and not override:
        try:
            same = same_ns(args.netns)
        except Exception as err:  # a broken checker must not take the plugin down untyped
            msg = f"checking CNI_NETNS failed: {err}"
            raise _error(ErrorCode.INTERNAL, msg) from err
        if same:
            raise _error(ErrorCode.INVALID_NETNS, _NETNS_MSG)
    if callback is None:
        return b""
    try:
        return _encode(callback(args), version)
    except CNIError as err:
        raise _AbortError(err) from err
    except Exception as err:  # libcni skel: any other error becomes code 999
        raise _error(ErrorCode.INTERNAL, str(err) or type(err).__name__) from err


def _render_error(err: CNIError, version: str) -> bytes:
    return dumps(err.to_dict(version), indent=4)


def _about(about: str, info: PluginInfo) -> bytes:
    versions = ", ".join(info.supported_versions)
    return f"{about}\nCNI protocol versions supported: {versions}\n".encode()


def _version_reply(info: PluginInfo) -> bytes:
    # libcni's skel never reads stdin for VERSION, so a plugin run by hand answers at once;
    # the reply is written in the plugin's own version (SPEC.md, section *VERSION Success*).
    return dumps(info.to_dict()) + b"\n"


def dispatch(
    environ: Mapping[str, str],
    stdin: bytes,
    funcs: CNIFuncs,
    version_info: PluginInfo,
    about: str = "",
    *,
    same_netns: Callable[[str], bool] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run one plugin invocation, purely (libcni ``skel.PluginMainFuncs`` without the I/O).

    The algorithm is libcni's (``pkg/skel/skel.go``):

    1. Read ``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_ARGS``,
       ``CNI_PATH``, ``CNI_NETNS_OVERRIDE`` in that order. An empty value is missing. A
       present value required by the verb is validated at once (container ID, interface name:
       codes 3/4). Missing required variables give code 4
       ``required env variables [A,B] missing``.
    2. With no ``CNI_COMMAND`` and a non-empty ``about``: ``about`` and the supported versions
       go to stderr, exit 0.
    3. Every verb but VERSION decodes the request (code 6) and checks its ``name`` (code 7),
       unknown verbs included.
    4. ADD and DEL: the config's ``cniVersion`` (missing means 0.1.0) must be one the plugin
       supports, by exact string (code 1 ``incompatible CNI versions``). CHECK needs a config
       at 0.4.0 or later and a plugin version at least the config's; GC and STATUS the same
       from 1.1.0 (code 1 ``config|plugin version does not allow <VERB>``). VERSION writes the
       plugin's versions without looking at stdin. Any other verb: code 4
       ``unknown CNI_COMMAND: <verb>``.

    Deviations from libcni, on purpose:

    * The netns check (code 8, CNI_NETNS is the plugin's own namespace) runs *before* the
      callback, so a plugin never configures the runtime's namespace; libcni runs it after.
      It runs only when ``same_netns`` is given (:func:`plugin_main` gives :func:`same_netns`).
    * A result object is converted to the request's version before it is written
      (SPEC.md, Section 5: Result Types: "cniVersion: The same version supplied on input"); libcni
      plugins call ``types.PrintResult`` for this themselves. A plain JSON object is written as is.
    * The error object carries ``cniVersion`` (SPEC.md, section "Error"): the request's when it has
      one, else the plugin's own. libcni omits it; runtimes ignore it.

    Args:
        environ: The process environment (only the ``CNI_*`` variables are read).
        stdin: The request bytes (never looked at by VERSION).
        funcs: The plugin's callbacks.
        version_info: The versions the plugin supports (:func:`~cnilib.version.plugin_supports`).
        about: Text shown when the plugin is run by hand, without ``CNI_COMMAND``.
        same_netns: ``same_netns(path)`` is true when ``path`` is the plugin's own network
            namespace; ``None`` skips the check (it needs I/O).

    Returns:
        ``(exit_code, stdout, stderr)``: 0 and the output on success, 1 and the error object
        on failure.
    """
    version = version_info.cni_version
    try:
        try:
            cmd, args = _read_env(environ)
        except _AbortError as failure:
            if (environ.get("CNI_COMMAND", "") == "" and about
                    and failure.error.code == ErrorCode.INVALID_ENVIRONMENT_VARIABLES):
                return 0, b"", _about(about, version_info)
            raise
        if cmd == "VERSION":
            return 0, _version_reply(version_info), b""
        conf = _decode_request(stdin)
        args = attrs.evolve(args, stdin_data=stdin)
        if cmd not in ("ADD", "DEL", "CHECK", "GC", "STATUS"):
            msg = f"unknown CNI_COMMAND: {cmd}"
            raise _error(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, msg)
        raw_version = conf.get("cniVersion")
        if isinstance(raw_version, str) and raw_version:
            version = raw_version
        config_version = _config_version(conf)
        if cmd in _MIN_VERSION:
            _gate(cmd, config_version, version_info)
        callback = {
            "ADD": funcs.add,
            "DEL": funcs.delete,
            "CHECK": funcs.check,
            "GC": funcs.gc,
            "STATUS": funcs.status,
        }[cmd]
        out = _call(callback, args, config_version, version_info, same_netns)
    except _AbortError as failure:
        return 1, _render_error(failure.error, version), b""
    return 0, out, b""


def same_netns(path: str) -> bool:
    """True when ``path`` is the calling process's own network namespace.

    Namespaces are compared by device and inode, as ``ns.CheckNetNS`` does. A path that cannot
    be opened is not the plugin's namespace (libcni: "an unopenable path is fine").

    Args:
        path: The ``CNI_NETNS`` value.

    Returns:
        Whether the two namespaces are the same.
    """
    try:
        own = os.stat("/proc/self/ns/net")
        other = os.stat(path)
    except (OSError, ValueError):
        return False
    return (own.st_dev, own.st_ino) == (other.st_dev, other.st_ino)


def plugin_main(funcs: CNIFuncs, version_info: PluginInfo, about: str = "") -> None:
    """The ``main`` of a plugin: environment and stdin in, stdout, stderr and exit code out.

    stdin is not read for VERSION (as libcni's skel: a plugin run by hand with
    ``CNI_COMMAND=VERSION`` answers at once), when there is no ``CNI_COMMAND`` (the plugin was
    run by hand) or when it is a terminal.

    Args:
        funcs: The plugin's callbacks.
        version_info: The versions the plugin supports.
        about: Text shown when the plugin is run by hand (``"CNI plugin foo v1.0"``).

    Raises:
        SystemExit: always, with the exit code.
    """
    environ = dict(os.environ)
    stdin = b""
    command = environ.get("CNI_COMMAND", "")
    try:
        if command not in ("", "VERSION") and sys.stdin is not None and not sys.stdin.isatty():
            stdin = sys.stdin.buffer.read()
    except (OSError, ValueError) as err:
        error = CNIError(f"error reading from stdin: {err}", code=ErrorCode.IO_FAILURE)
        code, out, errout = 1, _render_error(error, version_info.cni_version), b""
    else:
        code, out, errout = dispatch(environ, stdin, funcs, version_info, about,
                                     same_netns=same_netns)
    _emit(code, out, errout)


def _emit(code: int, out: bytes, err: bytes = b"") -> NoReturn:
    """Write a plugin's stdout and stderr bytes, then exit with ``code``.

    A runtime may stop reading (cnilib's executors cap a plugin's output): writing to its
    closed pipe then exits with ``code`` at once, without a traceback.

    Raises:
        SystemExit: always, with ``code``.
    """
    try:
        if out:
            sys.stdout.buffer.write(out)
            sys.stdout.buffer.flush()
        if err:
            sys.stderr.buffer.write(err)
            sys.stderr.buffer.flush()
    except BrokenPipeError:
        os._exit(code)  # the buffers hold what the closed pipe refused: do not flush them
    sys.exit(code)


@attrs.frozen(kw_only=True)
class NetConf:
    """A plugin's request, decoded (what libcni plugins get from ``types.NetConf``).

    Attributes:
        cni_version: ``cniVersion`` (``"0.1.0"`` when absent, SPEC.md, Section 1: Network
            configuration format).
        name: The network name.
        type: The plugin type.
        prev_result: The parsed ``prevResult``, or ``None`` when the request has none.
        runtime_config: ``runtimeConfig`` (SPEC.md, section "Deriving runtimeConfig"), ``{}`` if
            absent.
        raw: The whole request object, for the plugin's own keys.
    """

    cni_version: str
    name: str
    type: str
    prev_result: Result | None
    runtime_config: JSONObject
    raw: JSONObject


def parse_netconf(stdin_data: bytes | str) -> NetConf:
    """Decode a request and its ``prevResult`` (libcni ``version.ParsePrevResult``).

    A ``prevResult`` without ``cniVersion`` is read in the request's version, as libcni does.

    Args:
        stdin_data: :attr:`CmdArgs.stdin_data`.

    Returns:
        The decoded request.

    Raises:
        InvalidJSONError: the bytes are not JSON (code 6).
        ConfigError: not an object, or ``name``, ``type``, ``cniVersion`` or
            ``runtimeConfig`` of the wrong type (code 7).
        ResultError: ``prevResult`` is not a result (code 6).
    """
    conf = loads(stdin_data)
    if not isinstance(conf, dict):
        msg = f"network config must be a JSON object, got {_kind(conf)}"
        raise ConfigError(msg)
    fields: dict[str, str] = {}
    for key in ("cniVersion", "name", "type"):
        value = conf.get(key, "")
        if not isinstance(value, str):
            msg = f"network config key {key!r} must be a string, got {_kind(value)}"
            raise ConfigError(msg)
        fields[key] = value
    runtime_config = conf.get("runtimeConfig", {})
    if not isinstance(runtime_config, dict):
        msg = f"network config key 'runtimeConfig' must be an object, got {_kind(runtime_config)}"
        raise ConfigError(msg)
    version = fields["cniVersion"] or "0.1.0"
    prev: Result | None = None
    raw_prev = conf.get("prevResult")
    if raw_prev is not None:
        from .types import parse_result

        prev = parse_result(raw_prev, version)
    return NetConf(
        cni_version=version,
        name=fields["name"],
        type=fields["type"],
        prev_result=prev,
        runtime_config=runtime_config,
        raw=conf,
    )
