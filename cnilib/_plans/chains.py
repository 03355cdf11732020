"""The attachment chains: ADD, CHECK and DEL, and reading what ADD cached (SPEC.md, Section 3:
Execution of Network Configurations).

Rules of this file:

* It is pure. Each plan is a generator over the steps of :mod:`cnilib._plans.steps`; it never
  spawns, never reads a file, never looks at a clock (h11's rule; docs/design.md, "One core, two
  drivers"). ``api.py`` and ``aio.py`` are two short loops that perform the steps.
* Every decision about an attachment lives here once: ordering (reverse for DEL), version
  gates, prevResult conversion, cache read/write/delete, and the rollback of a failed ADD.
* Identifiers are validated before the first step (G6 in docs/guarantees.md).
* Where a rule differs from libcni, the comment says so and ``docs/running.md`` lists it.
* Size (about 480 lines): ADD, its rollback, CHECK and DEL of one attachment chain are one
  decision table read together (what DEL undoes is what ADD did); they stay in one file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NoReturn, cast

import attrs

from cnilib._json import JSONObject
from cnilib.config import conf_from_bytes, conflist_from_bytes
from cnilib.errors import (
    AddError,
    AttachmentExistsError,
    CacheError,
    CNIError,
    ConfigError,
    ErrorCode,
    IncompatibleVersionError,
    LockTimeoutError,
)
from cnilib.protocol import Command, Completed, RuntimeConf
from cnilib.version import parse_version, supports_check

from .replies import cached_result, check_reply, parse_add_reply
from .steps import (
    CachedAttachment,
    Chain,
    Ctx,
    DeleteCache,
    DeletePending,
    LoadCache,
    LoadPending,
    Lock,
    Net,
    NotStarted,
    Plan,
    Run,
    SaveCache,
    SavePending,
    Warn,
    check_attachment,
    desc,
    find,
    make_ctx,
    run,
)

if TYPE_CHECKING:
    from cnilib.config import PluginConfig
    from cnilib.types import Result

__all__ = ["add", "check", "delete", "cached_result_of", "cached_config_of"]


def _to_version(result: Result, version: str) -> tuple[Result, str | None]:
    # Unlike libcni (docs/running.md, differences item 2): results travel in the network's
    # version, so the next plugin's prevResult and the caller's result match the
    # configuration. A result that cannot be expressed in it (e.g. no IP for 0.2.0) is kept
    # as the plugin wrote it.
    if result.cni_version == version:
        return result, None
    try:
        return result.as_version(version), None
    except CNIError as err:
        return result, (f"result in version {result.cni_version} kept: cannot convert it to "
                        f"the configuration's version {version!r}: {err}")


def _load_entry(ctx: Ctx) -> Plan[tuple[CachedAttachment | None, CNIError | None]]:
    """The attachment's cache entry, read once for what CHECK and DEL take from it (its
    arguments and its result), or the error that kept it from being read."""
    assert ctx.rt is not None
    try:
        entry = yield LoadCache(ctx.net.name, ctx.rt.container_id, ctx.rt.ifname)
    except CNIError as err:
        return None, err
    return cast("CachedAttachment | None", entry), None


def _cached_prev(ctx: Ctx, mode: Literal["check", "del"], entry: CachedAttachment | None,
                 unreadable: CNIError | None) -> Plan[JSONObject | None]:
    """The cached ADD result in the network's version; a bad entry never blocks (G8)."""
    assert ctx.rt is not None
    key = (ctx.net.name, ctx.rt.container_id, ctx.rt.ifname)
    try:
        if unreadable is not None:
            raise unreadable
        if entry is None or entry.result is None:
            return None
        return cached_result(entry.result, ctx.net.cni_version).to_dict()
    except CNIError as err:
        # DEL: libcni deletes the unusable entry and goes on (PR #1072/#1171). CHECK: libcni
        # fails for good (cni#1055); cnilib goes on without prevResult and warns
        # (docs/running.md, differences item 14).
        if mode == "del":
            yield from _delete_entry(*key)
        yield Warn(f'{mode.upper()} of network "{ctx.net.name}" for {key[1]}/{key[2]}: '
                   f"unusable cached result ignored: {err}")
        return None


def _with_cached_args(ctx: Ctx, entry: CachedAttachment | None) -> Ctx:
    """The context with the ADD's cached capability args and CNI_ARGS where the caller gave none.

    EXCEED (docs/running.md, deviations): libcni sends DEL and CHECK only what the caller
    passes, so a DEL without the ADD's ``portMappings`` leaves portmap's rules behind. What
    the caller passes still wins; no entry (or an unreadable one) changes nothing.
    """
    rt = ctx.rt
    assert rt is not None
    if entry is None or (rt.capability_args and rt.args):
        return ctx
    replay = attrs.evolve(rt, capability_args=rt.capability_args or entry.capability_args,
                          args=rt.args or tuple(entry.cni_args))
    return attrs.evolve(make_ctx(ctx.net, ctx.chain, replay), lock_fd=ctx.lock_fd)


def _delete_entry(network: str, container_id: str, ifname: str, *,
                  batch: bool = False) -> Plan[None]:
    try:
        yield DeleteCache(network, container_id, ifname, batch)
    except CNIError as err:
        # libcni ignores this error; cnilib says so (a stale entry is what GC cleans up).
        yield Warn(f"could not delete cache entry {network}/{container_id}/{ifname}: {err}")


def _drop_pending(network: str, container_id: str, ifname: str) -> Plan[None]:
    try:
        yield DeletePending(network, container_id, ifname)
    except CNIError as err:
        # Harmless once the entry is cached or the plugins are undone: the next DEL or GC of
        # the attachment removes it.
        yield Warn(f"could not remove the ADD-in-progress record of {network}/{container_id}/"
                   f"{ifname}: {err}")


def _hold(ctx: Ctx, verb: str, *, required: bool) -> Plan[Ctx]:
    """Take the attachment's lock, which the plugins will inherit (a plugin outliving its
    runtime keeps it, so recovery cannot overtake it); DEL and CHECK go on without it when
    the cache is unusable."""
    assert ctx.rt is not None
    try:
        fd = yield Lock(ctx.net.name, ctx.rt.container_id, ctx.rt.ifname)
        return attrs.evolve(ctx, lock_fd=fd) if isinstance(fd, int) else ctx
    except LockTimeoutError:
        raise
    except CacheError as err:
        if required:
            raise
        # libcni has no lock and ignores cache errors on DEL: a read-only or broken cache
        # must not keep addresses and interfaces allocated (documented in docs/running.md).
        yield Warn(f'{verb} of network "{ctx.net.name}" for {ctx.rt.container_id}/'
                   f"{ctx.rt.ifname} runs without the attachment lock: {err}")
        return ctx


# --- ADD --------------------------------------------------------------------------------------

def _unusable_cache(err: CacheError) -> None:
    """A cache that cannot be read (not a corrupt entry) fails the ADD before anything runs."""
    if err.code != ErrorCode.DECODING_FAILURE:
        msg = f"reading the result cache failed: {err}; nothing ran"
        raise AddError(msg, cause=err, outcome="nothing ran") from err


def _refuse_existing(ctx: Ctx) -> Plan[None]:
    """Refuse an ADD over a cached or unfinished attachment, before any plugin runs."""
    assert ctx.rt is not None
    key = (ctx.net.name, ctx.rt.container_id, ctx.rt.ifname)
    who = f'attachment {key[1]}/{key[2]} of network "{key[0]}"'
    # Deviation: libcni runs the ADD, whose failure (e.g. "eth0 already exists") is then
    # rolled back by a DEL that tears down the live attachment (docs/running.md).
    try:
        entry = yield LoadCache(*key)
    except CacheError as err:
        _unusable_cache(err)
        msg = f"{who} has a cache entry, unusable: DEL it before adding it again"
        raise AttachmentExistsError(msg, network=key[0], container_id=key[1], ifname=key[2],
                                    details=str(err)) from err
    if entry is not None:
        msg = f"{who} is already added (its result is cached): DEL it before adding it again"
        raise AttachmentExistsError(msg, network=key[0], container_id=key[1], ifname=key[2])
    try:
        record = yield LoadPending(*key)
    except CacheError as err:
        _unusable_cache(err)
        record, details = True, str(err)
    else:
        details = ""
    if record is not None:
        msg = (f"an earlier ADD of {who} did not finish (its process died, or its rollback "
               "was interrupted): DEL it before adding it again")
        raise AttachmentExistsError(msg, network=key[0], container_id=key[1], ifname=key[2],
                                    in_progress=True, details=details)


def add(net: Net, rt: RuntimeConf, chain: Chain) -> Plan[Result]:
    """ADD every plugin in order, chaining results; cache the final one (SPEC.md, section "Adding an
    attachment").

    Under the attachment's lock: an attachment already cached, or whose earlier ADD did not
    finish, is refused before anything runs (it is never torn down). Then an "ADD in progress"
    record (the config and runtime config) is written, so that DEL and GC can undo this ADD
    if its process dies; it is removed when the result is cached or the rollback is done.

    On any way out but success (a plugin, a missing executable, a cache write, a cancellation,
    an interrupt), the plugins that ran are rolled back with DEL in reverse order, the failing
    one included, as it may have done part of its work (DEL is idempotent, SPEC.md, Section 2:
    Execution Protocol), and a result already cached is deleted, unless ``chain.rollback`` is false
    (libcni's behaviour; the record then stays for the caller's DEL). The cache is written only on
    success (as libcni's ``AddNetworkList`` does).

    Raises:
        AddError: what failed (``cause``) and what the rollback did.
        AttachmentExistsError: the attachment is cached or an earlier ADD is unfinished.
        InvalidIdentifierError: an identifier is invalid (nothing ran).
        ConfigError: the network has no plugins.
    """
    ctx = make_ctx(net, chain, rt)
    if not net.plugins:
        # libcni returns a nil result and caches nothing useful; an ADD that attaches nothing
        # is a configuration mistake, so cnilib says so (documented deviation).
        msg = f'network "{net.name}" has no plugins to ADD'
        raise ConfigError(msg)
    key = (net.name, rt.container_id, rt.ifname)
    ctx = yield from _hold(ctx, "ADD", required=True)
    yield from _refuse_existing(ctx)
    prev: Result | None = None
    started: list[PluginConfig] = []
    saved = False
    what = "recording the ADD as in progress failed"
    try:
        try:
            yield SavePending(*key, net.config, rt.netns, rt.args, rt.capability_args)
        except CNIError as err:
            raise _cache_failure(f'failed to record the ADD of network "{net.name}" as in '
                                 f"progress: {err}", err) from err
        for plugin in net.plugins:
            what = f"plugin {desc(plugin)} failed (add)"
            path = yield from find(plugin.type)
            prev_dict = prev.to_dict() if prev is not None else None
            inv = ctx.invocation(plugin, Command.ADD, path, prev=prev_dict)
            started.append(plugin)
            out = yield Run(inv)
            if isinstance(out, NotStarted):
                started.pop()
                raise out.error
            result = parse_add_reply(inv, cast(Completed, out), net.cni_version)
            prev, note = _to_version(result, net.cni_version)
            if note is not None:
                yield Warn(f"ADD {desc(plugin)}: {note}")
        assert prev is not None
        what = "caching the ADD result failed"
        saved = True  # from here on the entry may exist, even if the step is interrupted
        try:
            yield SaveCache(*key, net.config, rt.netns, rt.args, rt.capability_args,
                            prev.to_dict())
        except CNIError as err:
            raise _cache_failure(f'failed to set network "{net.name}" cached result: {err}',
                                 err) from err
        what = "finishing the ADD failed"
        yield from _drop_pending(*key)
    except BaseException as err:
        if isinstance(err, GeneratorExit):
            raise  # the driver gave up on the plan: the record stays for DEL or GC
        yield from _abort(ctx, started, prev, err, what, saved=saved)
    assert prev is not None
    return prev


def _cache_failure(msg: str, err: CNIError) -> CacheError:
    cause = CacheError(msg, code=int(err.code), details=err.details)
    cause.__cause__ = err
    return cause


def _abort(
    ctx: Ctx, started: list[PluginConfig], prev: Result | None, err: BaseException, what: str,
    *, saved: bool,
) -> Plan[NoReturn]:
    assert ctx.rt is not None
    key = (ctx.net.name, ctx.rt.container_id, ctx.rt.ifname)
    rolled: list[str] = []
    problems: list[CNIError] = []
    if ctx.chain.rollback:
        prev_dict = prev.to_dict() if prev is not None else None
        for plugin in reversed(started):
            try:
                path = yield from find(plugin.type)
                inv = ctx.invocation(plugin, Command.DEL, path, prev=prev_dict)
                check_reply(inv, (yield from run(inv, rollback=True)))
                rolled.append(plugin.type)
            except CNIError as problem:
                # Best effort: keep undoing the others (SPEC.md, Section 2: Execution Protocol: DEL
                # is best-effort).
                problems.append(problem)
        if not problems:
            if saved:
                yield from _delete_entry(*key)
            yield from _drop_pending(*key)
    elif not started:
        yield from _drop_pending(*key)  # nothing ran: nothing for a DEL to undo
    if not isinstance(err, CNIError):
        raise err  # cancellation or interrupt: the rollback ran, now let it through
    kept = "; the ADD stays recorded as in progress, so a DEL or GC can finish the cleanup"
    if not ctx.chain.rollback:
        outcome = "not rolled back (rollback disabled)" + (kept if started else "")
    elif not started:
        outcome = "nothing to roll back"
    elif problems:
        outcome = (f"rollback DEL failed for {len(problems)} of {len(started)} plugin(s): "
                   + "; ".join(str(p) for p in problems) + kept)
    else:
        outcome = f"rolled back {', '.join(rolled)}"
    # PluginError's own str() repeats plugin and verb; the base form is enough after `what`.
    msg = f"{what}: {CNIError.__str__(err)}; {outcome}"
    raise AddError(msg, cause=err, rolled_back=tuple(rolled),
                   rollback_errors=tuple(problems), outcome=outcome) from err


# --- CHECK, DEL -----------------------------------------------------------------------------

def check(net: Net, rt: RuntimeConf, chain: Chain) -> Plan[None]:
    """CHECK every plugin in order with the cached ADD result (SPEC.md, section "Checking an
    attachment").

    A cache that cannot be locked does not stop it: it runs unlocked, with a warning.

    Raises:
        IncompatibleVersionError: the network's version is below 0.4.0.
        PluginError: the first plugin that fails (the rest are not run, SPEC.md, Section 2:
            Execution Protocol CHECK).
    """
    ctx = make_ctx(net, chain, rt)
    if net.disable_check:
        # SPEC.md, Section 3: Execution of Network Configurations: "If the network configuration
        # defines disableCheck, then always return success". libcni checks the version first; cnilib
        # does not (docs/running.md, differences item 19).
        return
    parse_version(net.cni_version)
    if not supports_check(net.cni_version):
        msg = f'configuration version "{net.cni_version}" does not support the CHECK command'
        raise IncompatibleVersionError(msg)
    ctx = yield from _hold(ctx, "CHECK", required=False)
    entry, unreadable = yield from _load_entry(ctx)
    ctx = _with_cached_args(ctx, entry)
    prev = yield from _cached_prev(ctx, "check", entry, unreadable)
    for plugin in net.plugins:
        path = yield from find(plugin.type)
        inv = ctx.invocation(plugin, Command.CHECK, path, prev=prev)
        check_reply(inv, (yield from run(inv)))


def _replay(ctx: Ctx, record: CachedAttachment) -> Plan[Ctx]:
    """The DEL context of an ADD that never finished: the config and runtime it recorded."""
    assert ctx.rt is not None
    try:
        if ctx.net.single:
            net = Net.of_plugin(conf_from_bytes(record.config, validate=False))
        else:
            net = Net.of_list(conflist_from_bytes(record.config, validate=False))
        if net.name != ctx.net.name:
            msg = f'it names network "{net.name}"'
            raise ConfigError(msg)
        rt = RuntimeConf(record.container_id, record.netns, record.ifname,
                         tuple(record.cni_args), record.capability_args,
                         trace_context=ctx.rt.trace_context)
        replayed = attrs.evolve(make_ctx(net, ctx.chain, rt), lock_fd=ctx.lock_fd)
    except CNIError as err:
        yield Warn(f'DEL of network "{ctx.net.name}" for {ctx.rt.container_id}/'
                   f"{ctx.rt.ifname}: the unfinished ADD's record cannot be used ({err}); "
                   "deleting with the caller's configuration")
        return ctx
    yield Warn(f'DEL of network "{ctx.net.name}" for {ctx.rt.container_id}/{ctx.rt.ifname}: '
               "undoing an ADD that did not finish, with the configuration it recorded")
    return replayed


def delete(net: Net, rt: RuntimeConf, chain: Chain, *, locked: bool = False) -> Plan[None]:
    """DEL every plugin in reverse order with the cached ADD result (SPEC.md, section "Deleting an
    attachment").

    Below 0.4.0 no prevResult is sent and the cache is not read. An attachment whose ADD did
    not finish (an "ADD in progress" record and no entry) is deleted with the configuration
    and runtime configuration that ADD recorded. The first failure stops the chain and keeps
    the cache entry and the record, so the DEL can be retried; success deletes them. A cache
    that cannot be locked or written does not stop the plugins: it is reported in warnings.

    Args:
        net: The network.
        rt: The attachment.
        chain: The call's options.
        locked: The caller already holds the cache (GC's exclusive lock).

    Raises:
        PluginError: the first plugin that fails.
    """
    ctx = make_ctx(net, chain, rt)
    key = (net.name, rt.container_id, rt.ifname)
    if not locked:
        ctx = yield from _hold(ctx, "DEL", required=False)
    record: CachedAttachment | None = None
    try:
        record = cast("CachedAttachment | None", (yield LoadPending(*key)))
    except CNIError as err:
        yield Warn(f'DEL of network "{net.name}" for {key[1]}/{key[2]}: {err}')
    entry, unreadable = yield from _load_entry(ctx)
    if record is not None and unreadable is not None:
        yield Warn(f'DEL of network "{net.name}" for {key[1]}/{key[2]}: {unreadable}')
    elif record is not None and entry is not None:
        record = None  # the ADD cached its result and died before removing the record
    prev = None
    if record is not None:
        ctx = yield from _replay(ctx, record)
    else:
        ctx = _with_cached_args(ctx, entry)
        if supports_check(net.cni_version):
            prev = yield from _cached_prev(ctx, "del", entry, unreadable)
    for plugin in reversed(ctx.net.plugins):
        path = yield from find(plugin.type)
        inv = ctx.invocation(plugin, Command.DEL, path, prev=prev)
        check_reply(inv, (yield from run(inv)))
    yield from _delete_entry(*key, batch=locked)
    yield from _drop_pending(*key)


# --- what ADD cached ----------------------------------------------------------------------------

def _entry(net: Net, rt: RuntimeConf) -> Plan[CachedAttachment | None]:
    check_attachment(net.name, rt)
    return cast("CachedAttachment | None",
                (yield LoadCache(net.name, rt.container_id, rt.ifname)))


def cached_result_of(net: Net, rt: RuntimeConf) -> Plan[Result | None]:
    """The cached ADD result in the network's version, or ``None`` (libcni ``getCachedResult``).

    Raises:
        CacheError: the entry is unreadable or its result cannot be converted.
    """
    entry = yield from _entry(net, rt)
    if entry is None or entry.result is None:
        return None
    try:
        return cached_result(entry.result, net.cni_version)
    except CNIError as err:
        msg = (f'failed to convert cached result to config version "{net.cni_version}": '
               f"{err}")
        raise CacheError(msg) from err


def cached_config_of(net: Net, rt: RuntimeConf) -> Plan[tuple[bytes, RuntimeConf] | None]:
    """The cached configuration bytes and the RuntimeConf to replay them.

    As in libcni's ``getCachedConfig``, ``args`` come from the cache when it has some,
    ``capability_args`` always; unlike libcni (docs/running.md, differences item 17) an empty
    ``netns`` is filled from the cache.

    Raises:
        CacheError: the entry is unreadable.
    """
    entry = yield from _entry(net, rt)
    if entry is None:
        return None
    replay = attrs.evolve(rt, args=tuple(entry.cni_args) or rt.args,
                          capability_args=entry.capability_args,
                          netns=rt.netns or entry.netns)
    return entry.config, replay
