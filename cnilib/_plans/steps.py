"""The vocabulary of the chain plans: steps, the network view, and the chain's context.

Rules of this file:

* It is pure: values and tiny sub-plans, no I/O (docs/design.md, "One core, two drivers").
* A plan (:mod:`cnilib._plans.chains`, :mod:`cnilib._plans.netops`) is a generator that
  *yields* the steps defined here and *receives* their outcomes through ``send()``; a failed
  step comes back through ``throw()``. The drivers (``api.py``, ``aio.py``) perform the steps.
* :func:`make_ctx` validates everything a chain is given before its first step (G6 in
  docs/guarantees.md): no step is ever asked with an unchecked identifier.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar, cast

import attrs

from cnilib._json import JSON, JSONObject, dumps
from cnilib.errors import CNIError, ConfigError, InvalidIdentifierError
from cnilib.identifiers import (
    check_container_id,
    check_interface_name,
    check_network_name,
    format_cni_args,
)
from cnilib.protocol import (
    Command,
    Completed,
    GCAttachment,
    Invocation,
    RuntimeConf,
    build_request,
    cni_env,
    trace_env,
)

if TYPE_CHECKING:
    from cnilib.config import NetworkConfigList, PluginConfig

__all__ = [
    "Find", "Run", "NotStarted", "Lock", "LoadCache", "SaveCache", "DeleteCache", "ListCache",
    "LoadPending", "SavePending", "DeletePending", "IsLocked", "SweepCache", "Warn",
    "Step", "Plan", "CachedAttachment", "Net", "Chain", "Ctx",
    "find", "run", "desc", "check_attachment", "make_ctx",
]

T = TypeVar("T")


# --- steps ------------------------------------------------------------------------------------

@attrs.frozen
class Find:
    """Resolve a plugin ``type`` on the plugin path; outcome: the executable's path."""

    plugin_type: str


@attrs.frozen
class Run:
    """Run one plugin; outcome: :class:`~cnilib.protocol.Completed` or :class:`NotStarted`.

    The driver fills in ``timeout`` from the chain's deadline; ``rollback`` runs get a fresh
    cleanup deadline (G2).
    """

    invocation: Invocation
    rollback: bool = False


@attrs.frozen
class NotStarted:
    """Outcome of a :class:`Run` whose plugin never started (deadline passed, exec failed)."""

    error: CNIError


@attrs.frozen
class Lock:
    """Take a lock and hold it until the plan ends; may throw CacheError.

    Outcome: the descriptor of an attachment's lock (for the plugins to inherit), ``None``
    for GC's.

    An attachment's lock (with GC's, shared) when ``gc`` is false, else GC's exclusive lock
    (SPEC.md, section "Lifecycle & Ordering"). The wait counts against the chain's deadline
    (:class:`~cnilib.errors.LockTimeoutError`).
    """

    network: str = ""
    container_id: str = ""
    ifname: str = ""
    gc: bool = False


@attrs.frozen
class LoadCache:
    """Read one attachment's cache entry; outcome: the entry or ``None``; may throw CacheError."""

    network: str
    container_id: str
    ifname: str


@attrs.frozen
class _Record:
    # What a cache entry and an "ADD in progress" record both keep of an attachment: what a
    # later CHECK or DEL needs to run the chain again. Neither save step is the other's kind.

    network: str
    container_id: str
    ifname: str
    config: bytes
    netns: str
    cni_args: tuple[tuple[str, str], ...]
    capability_args: Mapping[str, JSON]


@attrs.frozen
class SaveCache(_Record):
    """Write one attachment's cache entry (libcni ``cniCacheV1``, ``libcni/api.go``)."""

    result: JSONObject | None


@attrs.frozen
class DeleteCache:
    """Delete one attachment's cache entry (a missing entry is fine).

    ``batch``: one of a GC pass's deletes, which neither look for the entry's temp files nor
    sync the folder: the pass's :class:`SweepCache` does both once (a GC of N entries would
    otherwise list the folder N times: quadratic).
    """

    network: str
    container_id: str
    ifname: str
    batch: bool = False


@attrs.frozen
class LoadPending:
    """Read one attachment's "ADD in progress" record; outcome: the record or ``None``."""

    network: str
    container_id: str
    ifname: str


@attrs.frozen
class SavePending(_Record):
    """Record that an ADD is starting, with what a DEL needs to undo it (before any plugin)."""


@attrs.frozen
class DeletePending:
    """Remove one attachment's "ADD in progress" record (a missing one is fine)."""

    network: str
    container_id: str
    ifname: str


@attrs.frozen
class IsLocked:
    """Whether an attachment's lock is held right now; outcome: a ``bool``."""

    network: str
    container_id: str
    ifname: str


@attrs.frozen
class SweepCache:
    """Remove crash leftovers (temp files, unheld lock files); outcome: the paths removed."""


@attrs.frozen
class ListCache:
    """List cached attachments (of one container, or all); outcome: a tuple of entries."""

    container_id: str = ""


@attrs.frozen
class Warn:
    """Something the driver logs at WARNING: the chain went on despite it."""

    message: str


Step: TypeAlias = (Find | Run | Lock | LoadCache | SaveCache | DeleteCache | ListCache
                   | LoadPending | SavePending | DeletePending | IsLocked | SweepCache | Warn)
Plan: TypeAlias = Generator[Step, object, T]


class CachedAttachment(Protocol):
    """What a plan reads from a cache entry (``cnilib.cache.CacheEntry`` has these)."""

    @property
    def network_name(self) -> str: ...
    @property
    def container_id(self) -> str: ...
    @property
    def ifname(self) -> str: ...
    @property
    def config(self) -> bytes: ...
    @property
    def netns(self) -> str: ...
    @property
    def cni_args(self) -> Sequence[tuple[str, str]]: ...
    @property
    def capability_args(self) -> Mapping[str, JSON]: ...
    @property
    def result(self) -> JSONObject | None: ...
    @property
    def in_progress(self) -> bool: ...


# --- the network a chain runs over ----------------------------------------------------------

@attrs.frozen(kw_only=True)
class Net:
    """A network as the plans see it: a list, or one plugin run as a list of one.

    Attributes:
        name: The network name (the list's, or the single plugin's ``name``).
        cni_version: The version requests are made in.
        plugins: The plugins, in ADD order.
        config: The bytes cached with the result (the list's or the plugin's, verbatim).
        disable_check: ``disableCheck`` (SPEC.md, Section 1: Network configuration format).
        disable_gc: ``disableGC`` (SPEC.md, Section 1: Network configuration format).
        single: Built from one plugin configuration (``add_network`` and friends).
    """

    name: str
    cni_version: str
    plugins: tuple[PluginConfig, ...]
    config: bytes
    disable_check: bool = False
    disable_gc: bool = False
    single: bool = False

    @classmethod
    def of_list(cls, net: NetworkConfigList) -> Net:
        """The view of a network configuration list."""
        return cls(name=net.name, cni_version=net.cni_version or "", plugins=tuple(net.plugins),
                   config=net.bytes, disable_check=bool(net.disable_check),
                   disable_gc=bool(net.disable_gc))

    @classmethod
    def of_plugin(cls, plugin: PluginConfig) -> Net:
        """The view of one plugin configuration (libcni ``AddNetwork`` and friends)."""
        return cls(name=plugin.name or "", cni_version=plugin.cni_version or "",
                   plugins=(plugin,), config=plugin.bytes, single=True)


@attrs.frozen(kw_only=True)
class Chain:
    """Everything a plan needs besides the network: where plugins are, and how to ask.

    Attributes:
        paths: The plugin directories (``CNI_PATH``).
        strict: Follow SPEC.md, Section 3: Execution of Network Configurations and drop reserved
            keys (see :func:`cnilib.protocol.build_request`).
        rollback: Undo a failed ADD (DEL over what ran, in reverse).
        trace_context: W3C trace context for this call (overrides the RuntimeConf's).
    """

    paths: tuple[str, ...]
    strict: bool = True
    rollback: bool = True
    trace_context: Mapping[str, str] | None = None


# --- small typed sub-plans ------------------------------------------------------------------

def find(plugin_type: str) -> Plan[str]:
    """Sub-plan: resolve a plugin type (use with ``yield from``)."""
    return cast(str, (yield Find(plugin_type)))


def run(inv: Invocation, *, rollback: bool = False) -> Plan[Completed]:
    """Sub-plan: run one plugin; a run that never started raises its error."""
    out = yield Run(inv, rollback)
    if isinstance(out, NotStarted):
        raise out.error
    return cast(Completed, out)


def desc(plugin: PluginConfig) -> str:
    """``type="<t>"`` or ``type="<t>" name="<n>"``, libcni's way of naming a plugin."""
    # libcni's wording: type="<t>" name="<n>" (``AddNetworkList`` in ``libcni/api.go``).
    name = getattr(plugin, "name", None)
    return f'type="{plugin.type}"' + (f' name="{name}"' if name else "")


def check_attachment(name: str, rt: RuntimeConf) -> str:
    """Validate an attachment before anything is touched; return its ``CNI_ARGS``.

    Raises:
        InvalidIdentifierError: an identifier or ``CNI_ARGS`` is invalid.
        ConfigError: the capability arguments are not JSON.
    """
    # Same order as libcni's ADD: container ID, network name, interface name
    # (libcni ``addNetwork``).
    check_container_id(rt.container_id)
    check_network_name(name)
    check_interface_name(rt.ifname)
    netns: object = rt.netns  # checked: a caller may pass anything
    if not isinstance(netns, str) or "\x00" in netns:
        msg = "invalid netns path"
        raise InvalidIdentifierError(msg, details=repr(rt.netns)[:200])
    try:
        dumps(dict(rt.capability_args))
    except (TypeError, ValueError, RecursionError) as err:
        msg = "capability arguments must be JSON values"
        raise ConfigError(msg, details=str(err)[:200]) from None
    return format_cni_args(rt.args)


@attrs.frozen(kw_only=True)
class Ctx:
    """One chain's fixed inputs: network, options, attachment, and what was derived from them.

    Attributes:
        net: The network.
        chain: The call's options.
        rt: The attachment (``None`` for GC, STATUS, VERSION).
        cni_args: ``CNI_ARGS``, already validated and formatted.
        trace: The validated trace variables.
        lock_fd: The descriptor of the attachment's lock, which every plugin inherits, so
            that a plugin outliving a killed runtime keeps the attachment locked.
    """

    net: Net
    chain: Chain
    rt: RuntimeConf | None
    cni_args: str
    trace: Mapping[str, str]
    lock_fd: int | None = None

    def invocation(
        self,
        plugin: PluginConfig,
        command: Command,
        path: str,
        *,
        prev: JSONObject | None = None,
        valid: Sequence[GCAttachment] | None = None,
    ) -> Invocation:
        """The invocation of ``plugin`` for ``command``: request on stdin, CNI_* and trace env."""
        request = build_request(
            plugin.raw, command=command, name=self.net.name, cni_version=self.net.cni_version,
            capabilities=plugin.capabilities,
            capability_args=self.rt.capability_args if self.rt is not None else None,
            prev_result=prev, valid_attachments=valid, strict=self.chain.strict)
        env = cni_env(command, self.rt, self.chain.paths, cni_args=self.cni_args)
        env.update(self.trace)
        keep = () if self.lock_fd is None else (self.lock_fd,)
        return Invocation(plugin.type, path, command, dumps(request), env, pass_fds=keep)


def make_ctx(net: Net, chain: Chain, rt: RuntimeConf | None) -> Ctx:
    """Validate what a chain is given (G6) and fix it in a :class:`Ctx`.

    Raises:
        InvalidIdentifierError: an identifier, ``CNI_ARGS`` or the trace context is invalid.
        ConfigError: the capability arguments are not JSON.
    """
    cni_args = check_attachment(net.name, rt) if rt is not None else ""
    return Ctx(net=net, chain=chain, rt=rt, cni_args=cni_args,
                trace=trace_env(rt, chain.trace_context))
