"""The pure protocol core: the values a chain is made of and the request each plugin gets.

Rules of this file:

* It is pure: no process, no file, no clock. Values in, values out (h11's rule).
* :class:`Invocation` is everything an executor needs to run one plugin once;
  :class:`Completed` is everything it brings back. Nothing else crosses the executor seam.
* Request derivation follows SPEC.md, section "Deriving request configuration from plugin
  configuration"; where libcni's ``buildOneConfig`` (``libcni/api.go``) differs, the
  difference is opt-in through ``strict=False`` and listed in ``docs/running.md``.
* The environment is built exactly as libcni builds it (``pkg/invoke/args.go``): all six
  ``CNI_*`` variables, every time, plus the W3C trace variables when the caller supplies them.
* What a reply *means* (result, error, version info) lives in :mod:`cnilib._plans.replies`.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ._json import JSON, JSONObject
from .errors import CNIError, ConfigError, InvalidIdentifierError
from .identifiers import _cni_arg_pairs

__all__ = [
    "Command",
    "RuntimeConf",
    "GCAttachment",
    "Invocation",
    "Completed",
    "InvocationRecord",
    "VERSION_REQUEST",
    "runtime_config",
    "build_request",
    "cni_env",
    "check_trace_context",
]


class Command(enum.StrEnum):
    """The operations a runtime asks a plugin to perform (SPEC.md, Section 2: Execution Protocol,
    ``CNI_COMMAND``)."""

    ADD = "ADD"
    CHECK = "CHECK"
    DEL = "DEL"
    GC = "GC"
    STATUS = "STATUS"
    VERSION = "VERSION"


#: The VERSION request: always the newest version cnilib speaks (as libcni's
#: ``GetVersionInfo``).
VERSION_REQUEST = b'{"cniVersion":"1.1.0"}'

_ATTACHMENT_COMMANDS = frozenset({Command.ADD, Command.CHECK, Command.DEL})


def _mapping(value: object, what: str) -> dict[str, JSON]:
    try:
        out: dict[str, JSON] = dict(value)  # type: ignore[call-overload]
    except (TypeError, ValueError) as err:
        msg = f"{what} must be a mapping: {err}"
        raise ConfigError(msg) from None
    if not all(isinstance(k, str) for k in out):
        msg = f"{what} keys must be strings"
        raise ConfigError(msg)
    return out


def _freeze_mapping(value: Mapping[str, JSON] | None) -> Mapping[str, JSON]:
    return types.MappingProxyType(_mapping(value or {}, "capability_args"))


def _freeze_trace(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if value is None:
        return None
    return types.MappingProxyType(_mapping(value, "trace_context"))  # type: ignore[arg-type]


@attrs.frozen
class RuntimeConf:
    """What the runtime knows about one attachment (libcni ``RuntimeConf``).

    Args:
        container_id: ``CNI_CONTAINERID``.
        netns: ``CNI_NETNS`` (may be empty for DEL, SPEC.md, Section 2: Execution Protocol).
        ifname: ``CNI_IFNAME``.
        args: ``CNI_ARGS`` pairs, in order (a mapping is taken in its iteration order).
        capability_args: Values for the capabilities a plugin declares, keyed by their
            CONVENTIONS.md name (``portMappings``, ``ipRanges``, ``mac``...); any JSON value.
        trace_context: W3C trace context to pass to the plugins, keys ``traceparent``,
            ``tracestate`` and ``baggage`` (see :func:`check_trace_context`).

    Raises:
        InvalidIdentifierError: ``args`` is not a sequence of pairs of strings (what the
            strings may hold is checked when a plan sends them, by
            :func:`~cnilib.identifiers.format_cni_args`).
        ConfigError: ``capability_args`` or ``trace_context`` is not a string-keyed mapping.
    """

    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_cni_arg_pairs)
    capability_args: Mapping[str, JSON] = attrs.field(
        factory=dict, converter=_freeze_mapping, hash=False
    )
    trace_context: Mapping[str, str] | None = attrs.field(
        default=None, converter=_freeze_trace, hash=False, kw_only=True
    )


@attrs.frozen
class GCAttachment:
    """One still-valid attachment named in a GC request (SPEC.md, section "GC").

    Args:
        container_id: The ``CNI_CONTAINERID`` of the ADD.
        ifname: The ``CNI_IFNAME`` of the ADD.
    """

    container_id: str
    ifname: str

    def to_dict(self) -> JSONObject:
        """The wire form: ``{"containerID": ..., "ifname": ...}``."""
        return {"containerID": self.container_id, "ifname": self.ifname}


@attrs.frozen
class Invocation:
    """One plugin run, fully described (the executor seam's input).

    Attributes:
        plugin_type: The plugin's ``type`` (the executable's name).
        path: The resolved executable.
        command: The verb.
        stdin: The request bytes.
        env: Only the ``CNI_*`` (and trace) variables; the executor merges them over
            ``os.environ`` so the computed ones win and appear once.
        timeout: Seconds the plugin may run, or ``None`` for no limit.
        pass_fds: Descriptors the plugin inherits: the attachment's lock, so that the lock
            stays held while a plugin whose runtime died still runs (recovery waits for it).
            Not part of equality or ``repr``: the numbers differ from run to run.
    """

    plugin_type: str
    path: str
    command: Command
    stdin: bytes
    env: Mapping[str, str]
    timeout: float | None = None
    pass_fds: tuple[int, ...] = attrs.field(default=(), eq=False, repr=False, kw_only=True)


@attrs.frozen
class Completed:
    """What one plugin run produced (the executor seam's output).

    Attributes:
        exit_status: The exit code; negative means killed by that signal.
        stdout: The bytes the plugin wrote on stdout (bounded by the executor).
        stderr: The bytes the plugin wrote on stderr (bounded by the executor).
        duration: Wall time in seconds.
        timed_out: The executor killed the plugin at its deadline.
        truncated: stdout went over the executor's size cap and was cut.
    """

    exit_status: int
    stdout: bytes
    stderr: bytes
    duration: float
    timed_out: bool = False
    truncated: bool = False


@attrs.frozen(kw_only=True)
class InvocationRecord:
    """What the ``on_invocation`` hook receives after every plugin run (for metrics, tracing).

    Attributes:
        invocation: What was run (its ``timeout`` is the one actually given).
        completed: What came back, or ``None`` when the plugin could not be started.
        error: The error the reply itself reports (failure exit, error object, timeout,
            cut output) or that kept it from starting; ``None`` otherwise. A result that
            does not parse is reported by the operation, not here.
        network: The network (list) name.
        rollback: True for the DEL runs of an ADD rollback.
    """

    invocation: Invocation
    completed: Completed | None
    error: CNIError | None
    network: str
    rollback: bool = False


def runtime_config(
    capabilities: Mapping[str, bool], capability_args: Mapping[str, JSON]
) -> JSONObject:
    """The ``runtimeConfig`` a plugin gets (SPEC.md, section "Deriving runtimeConfig").

    Every capability the plugin declares ``true`` *and* the runtime supplies is copied, under
    its CONVENTIONS.md name; capabilities set to ``false`` and arguments the plugin did not
    declare are left out (libcni's ``injectRuntimeConfig``).
    """
    return {
        cap: capability_args[cap]
        for cap, enabled in capabilities.items()
        if enabled is True and cap in capability_args
    }


def _reserved(key: str) -> bool:
    # SPEC.md, section "Reserved keys" and Section 3: Execution of Network Configurations:
    # capabilities must not be set; runtimeConfig and prevResult are generated by the runtime;
    # cni.dev/* keys belong to the protocol.
    return key in ("capabilities", "runtimeConfig", "prevResult") or key.startswith("cni.dev/")


def build_request(
    plugin: Mapping[str, JSON],
    *,
    command: Command,
    name: str,
    cni_version: str,
    capabilities: Mapping[str, bool] | None = None,
    capability_args: Mapping[str, JSON] | None = None,
    prev_result: JSONObject | None = None,
    valid_attachments: Sequence[GCAttachment] | None = None,
    strict: bool = True,
) -> JSONObject:
    """Derive the request one plugin receives on stdin (SPEC.md "Deriving request
    configuration from plugin configuration"; libcni ``buildOneConfig``).

    ``cniVersion`` and ``name`` are always inserted, even when empty. For ADD, CHECK and DEL,
    ``runtimeConfig`` is the declared capabilities ∩ the capability arguments (left out when
    empty) and ``prevResult`` is set when given. For GC, ``cni.dev/valid-attachments`` (and its
    alias ``cni.dev/attachments``, which libcni also sends, cni#1101) list the valid attachments
    when the caller gave a list. Every other key passes through unchanged, in its order.

    With ``strict`` (the default, following SPEC.md, Section 3: Execution of Network Configurations)
    the reserved keys of the plugin's own configuration (``capabilities``, ``runtimeConfig``,
    ``prevResult``, ``cni.dev/*``) are not sent. With ``strict=False`` they pass through as libcni
    lets them, and only the keys it injects are replaced (G9 in docs/guarantees.md).

    Args:
        plugin: The plugin's configuration object as written.
        command: The verb the request is for.
        name: The network (list) name.
        cni_version: The version selected for the network.
        capabilities: The plugin's declared capabilities.
        capability_args: The runtime's capability arguments.
        prev_result: The previous result, already in the network's version.
        valid_attachments: For GC: the still-valid attachments, or ``None`` to send none.
        strict: Drop the reserved keys of the plugin configuration.

    Returns:
        The request object, ready for :func:`cnilib._json.dumps`.
    """
    out: JSONObject = {"cniVersion": cni_version, "name": name}
    for key, value in plugin.items():
        if key in ("cniVersion", "name") or (strict and _reserved(key)):
            continue
        out[key] = value
    if command in _ATTACHMENT_COMMANDS:
        rc = runtime_config(capabilities or {}, capability_args or {})
        if rc:
            out["runtimeConfig"] = rc
        if prev_result is not None:
            out["prevResult"] = prev_result
    elif command is Command.GC and valid_attachments is not None:
        wire: list[JSON] = [a.to_dict() for a in valid_attachments]
        out["cni.dev/valid-attachments"] = wire
        out["cni.dev/attachments"] = list(wire)
    return out


def cni_env(
    command: Command,
    rt: RuntimeConf | None,
    paths: Sequence[str],
    *,
    cni_args: str = "",
) -> dict[str, str]:
    """The six ``CNI_*`` variables of one run, as libcni sets them (``pkg/invoke/args.go``).

    All six are always present, possibly empty: ADD, CHECK and DEL carry the attachment; GC and
    STATUS carry only the verb and ``CNI_PATH``; VERSION carries ``dummy`` values for old skel
    versions that insisted on them.

    Args:
        command: The verb.
        rt: The attachment (ignored for GC, STATUS and VERSION).
        paths: The plugin directories, joined with ``:`` into ``CNI_PATH``.
        cni_args: ``CNI_ARGS`` already formatted (see :func:`cnilib.identifiers.format_cni_args`).
    """
    if command is Command.VERSION:
        return {"CNI_COMMAND": "VERSION", "CNI_CONTAINERID": "", "CNI_NETNS": "dummy",
                "CNI_IFNAME": "dummy", "CNI_ARGS": "", "CNI_PATH": "dummy"}
    joined = ":".join(paths)
    if command in _ATTACHMENT_COMMANDS and rt is not None:
        return {"CNI_COMMAND": str(command), "CNI_CONTAINERID": rt.container_id,
                "CNI_NETNS": rt.netns, "CNI_IFNAME": rt.ifname, "CNI_ARGS": cni_args,
                "CNI_PATH": joined}
    return {"CNI_COMMAND": str(command), "CNI_CONTAINERID": "", "CNI_NETNS": "",
            "CNI_IFNAME": "", "CNI_ARGS": "", "CNI_PATH": joined}


_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACE_KEYS = {"traceparent": "TRACEPARENT", "tracestate": "TRACESTATE", "baggage": "BAGGAGE"}
# W3C Trace Context §3.3: at most 32 list members of at most 256 chars; Baggage: 8192 bytes.
_TRACE_LIMITS = {"TRACEPARENT": 55 + 200, "TRACESTATE": 512 * 2, "BAGGAGE": 8192}


def check_trace_context(trace_context: Mapping[str, str]) -> dict[str, str]:
    """Validate W3C trace context and return it as environment variables.

    Keys are ``traceparent``, ``tracestate`` and ``baggage`` in any case (the W3C header
    names); the result maps ``TRACEPARENT``, ``TRACESTATE`` and ``BAGGAGE``, the variables
    libcni ``main`` sets (containernetworking/cni#1173). ``traceparent`` must follow W3C
    Trace Context §3.2 (``00-<32 hex>-<16 hex>-<2 hex>``, not all-zero ids, version not
    ``ff``); ``tracestate`` needs a ``traceparent``.

    Raises:
        InvalidIdentifierError: an unknown key, a malformed value, or a value with control
            characters (it would break the environment).
    """
    env: dict[str, str] = {}
    items: Iterable[tuple[object, object]] = trace_context.items()  # checked: any input
    for key, value in items:
        var = _TRACE_KEYS.get(key.lower()) if isinstance(key, str) else None
        if var is None:
            msg = f"unknown trace context key {key!r}"
            raise InvalidIdentifierError(msg, details="expected traceparent, tracestate, baggage")
        if not isinstance(value, str) or not value.isprintable() or not value.isascii():
            msg = f"trace context {key} must be printable ASCII text"
            raise InvalidIdentifierError(msg, details=repr(value)[:200])
        if len(value) > _TRACE_LIMITS[var]:
            msg = f"trace context {key} is longer than {_TRACE_LIMITS[var]} characters"
            raise InvalidIdentifierError(msg)
        env[var] = value
    parent = env.get("TRACEPARENT")
    if parent is not None:
        m = _TRACEPARENT.fullmatch(parent)
        if (m is None or m.group(1) == "ff" or (m.group(1) == "00" and m.group(5))
                or set(m.group(2)) == {"0"} or set(m.group(3)) == {"0"}):
            msg = "invalid traceparent"
            raise InvalidIdentifierError(msg, details=parent)
    elif "TRACESTATE" in env:
        msg = "tracestate given without traceparent"
        raise InvalidIdentifierError(msg)
    return env


def trace_env(
    rt: RuntimeConf | None, trace_context: Mapping[str, str] | None
) -> dict[str, str]:
    """The trace variables of one run: the call's ``trace_context``, else the RuntimeConf's.

    Raises:
        InvalidIdentifierError: see :func:`check_trace_context`.
    """
    chosen = trace_context if trace_context is not None else (
        rt.trace_context if rt is not None else None)
    return check_trace_context(chosen) if chosen else {}
