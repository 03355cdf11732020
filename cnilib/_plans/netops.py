"""Whole-network and plugin operations: GC, STATUS, VERSION, validation, listing attachments.

Rules of this file:

* It is pure, like :mod:`cnilib._plans.chains`: plans yield the steps of :mod:`cnilib._plans.steps`.
* GC collects every error and goes on (SPEC.md, section "Garbage-collecting a network"); its stale
  attachments are deleted with the very DEL plan of :mod:`cnilib._plans.chains`.
* Version gates follow SPEC.md, Section 2: Execution Protocol: GC and STATUS exist from 1.1.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from cnilib.errors import CNIError, IncompatibleVersionError, InvalidIdentifierError, MultipleErrors
from cnilib.identifiers import check_container_id, check_interface_name, check_network_name
from cnilib.protocol import (
    VERSION_REQUEST,
    Command,
    GCAttachment,
    Invocation,
    RuntimeConf,
    cni_env,
    trace_env,
)
from cnilib.version import PluginInfo, supports_gc, supports_status

from .chains import delete
from .replies import check_reply, parse_version_reply
from .steps import (
    CachedAttachment,
    Chain,
    IsLocked,
    ListCache,
    Lock,
    Net,
    Plan,
    SweepCache,
    Warn,
    find,
    make_ctx,
    run,
)

__all__ = ["gc", "status", "version_info", "validate", "attachments"]


# --- GC, STATUS -----------------------------------------------------------------------------

def _gc_attachment(item: GCAttachment | tuple[str, str]) -> GCAttachment:
    given: object = item  # checked: a caller may pass anything
    if isinstance(given, GCAttachment):
        att = given
    elif isinstance(given, tuple | list) and len(given) == 2:
        att = GCAttachment(given[0], given[1])
    else:
        msg = f"invalid valid attachment {item!r}: expected (container_id, ifname)"
        raise InvalidIdentifierError(msg)
    check_container_id(att.container_id)
    check_interface_name(att.ifname)
    return att


def gc(
    net: Net, valid: Iterable[GCAttachment | tuple[str, str]] | None, chain: Chain
) -> Plan[None]:
    """DEL stale cached attachments, then GC every plugin (SPEC.md, section "GC", SPEC.md, section
    "Garbage-collecting a network").

    Runs under GC's exclusive lock. An attachment is stale when it is cached for this network
    and not in ``valid`` (all are, when ``valid`` is ``None``, as in libcni); an ADD that never
    finished (an "ADD in progress" record whose lock nobody holds) is stale whatever ``valid``
    says, and is deleted with the configuration it recorded. An attachment whose lock is held
    (by a plugin that outlived its killed runtime) is left for the next GC. Last, the temp and
    lock files that killed processes left are removed. GC requests carry
    ``cni.dev/valid-attachments`` and its alias ``cni.dev/attachments`` when ``valid`` is given.
    Below 1.1.0 plugins get no GC. Every failure is collected and execution continues (SPEC.md,
    Section 3: Execution of Network Configurations).

    Raises:
        MultipleErrors: every failure, after everything was tried.
    """
    ctx = make_ctx(net, chain, None)
    check_network_name(net.name)
    try:
        keep = None if valid is None else tuple(_gc_attachment(v) for v in valid)
    except TypeError as err:
        msg = "valid attachments must be GCAttachment values or (container_id, ifname) pairs"
        raise InvalidIdentifierError(msg, details=str(err)) from None
    if net.disable_gc:
        return
    yield Lock(gc=True)
    errors: list[CNIError] = []
    entries: Sequence[CachedAttachment] = ()
    try:
        # libcni silently skips GC when the cache cannot be listed (docs/running.md,
        # differences item 20).
        entries = cast("Sequence[CachedAttachment]", (yield ListCache("")))
    except CNIError as err:
        err.add_note("while listing cached attachments for GC")
        errors.append(err)
    valid_set = {(a.container_id, a.ifname) for a in keep or ()}
    for entry in entries:
        if entry.network_name != net.name:
            continue
        try:
            # An ADD that never finished is stale whatever the valid set says.
            if not entry.in_progress and (entry.container_id, entry.ifname) in valid_set:
                continue
            # GC excludes every operation, so a held attachment lock means a plugin of a
            # killed runtime still runs (it inherited the lock): never overtake it.
            if (yield IsLocked(entry.network_name, entry.container_id, entry.ifname)):
                yield Warn(f"GC of network {net.name!r} left {entry.container_id} "
                           f"{entry.ifname} alone: a plugin of an operation whose runtime "
                           "died still runs; the next GC collects it")
                continue
            stale = RuntimeConf(entry.container_id, entry.netns, entry.ifname,
                                tuple(entry.cni_args), entry.capability_args,
                                trace_context=chain.trace_context)
            yield from delete(net, stale, chain, locked=True)
        except CNIError as err:
            err.add_note(f"failed to delete stale attachment {entry.container_id} "
                         f"{entry.ifname}")
            errors.append(err)
    if supports_gc(net.cni_version):
        for plugin in net.plugins:
            try:
                path = yield from find(plugin.type)
                inv = ctx.invocation(plugin, Command.GC, path, valid=keep)
                check_reply(inv, (yield from run(inv)))
            except CNIError as err:
                err.add_note(f"failed to GC plugin {plugin.type}")
                errors.append(err)
    try:
        yield SweepCache()  # temp files and lock files left by killed processes
    except CNIError as err:
        err.add_note("while removing what crashed operations left in the cache")
        errors.append(err)
    if errors:
        msg = f'GC of network "{net.name}" failed'
        raise MultipleErrors(msg, errors)


def status(net: Net, chain: Chain) -> Plan[None]:
    """STATUS every plugin in order; the first error is the answer (SPEC.md, section "STATUS").

    Below 1.1.0 nothing is run (libcni does the same: STATUS did not exist).

    Raises:
        PluginError: the first plugin that is not ready (code 50 or 51 by SPEC.md, Section 2:
            Execution Protocol).
    """
    ctx = make_ctx(net, chain, None)
    if not supports_status(net.cni_version):
        return
    for plugin in net.plugins:
        path = yield from find(plugin.type)
        inv = ctx.invocation(plugin, Command.STATUS, path)
        check_reply(inv, (yield from run(inv)))


# --- VERSION, validation ----------------------------------------------------------------------

def version_info(plugin_type: str, chain: Chain) -> Plan[PluginInfo]:
    """Ask one plugin which versions it supports (SPEC.md, section "VERSION"; libcni
    ``GetVersionInfo`` in ``pkg/invoke/exec.go``)."""
    trace = trace_env(None, chain.trace_context)
    path = yield from find(plugin_type)
    env = cni_env(Command.VERSION, None, chain.paths)
    env.update(trace)
    inv = Invocation(plugin_type, path, Command.VERSION, VERSION_REQUEST, env)
    return parse_version_reply(inv, (yield from run(inv)))


def validate(net: Net, chain: Chain) -> Plan[tuple[str, ...]]:
    """VERSION every plugin and check it supports the network's version exactly.

    Returns the capability names the plugins declare ``true``, de-duplicated, in order
    (libcni's order is random; docs/running.md, differences item 21).

    Raises:
        MultipleErrors: for a list, every problem found (each plugin is asked).
        CNIError: for a single plugin, its one problem.
    """
    errors: list[CNIError] = []
    try:
        check_network_name(net.name)
    except CNIError as err:
        errors.append(err)
    caps: dict[str, None] = {}
    version = net.cni_version or "0.1.0"
    for plugin in net.plugins:
        caps.update((c, None) for c, on in plugin.capabilities.items() if on is True)
        try:
            info = yield from version_info(plugin.type, chain)
            if not info.supports(version):
                msg = f'plugin {plugin.type} does not support config version "{version}"'
                details = f"plugin supports {', '.join(info.supported_versions)}"
                raise IncompatibleVersionError(msg, details=details)
        except CNIError as err:
            errors.append(err)
    if errors:
        if net.single and len(errors) == 1:
            raise errors[0]
        msg = f'network "{net.name}" failed validation'
        raise MultipleErrors(msg, errors)
    return tuple(caps)


def attachments(container_id: str = "") -> Plan[tuple[CachedAttachment, ...]]:
    """Every cached attachment, or those of one container (libcni ``GetCachedAttachments``)."""
    if container_id:
        check_container_id(container_id)
    return tuple(cast("Sequence[CachedAttachment]", (yield ListCache(container_id))))
