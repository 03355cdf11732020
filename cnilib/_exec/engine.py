"""What the sync and async drivers share: options, jobs, and performing the non-process steps.

Rules of this file:

* It decides nothing about chains (that is :mod:`cnilib._plans.chains`); it turns a public call into
  a :class:`Job` (a plan, its lock, its deadline) and performs the steps that are the same for
  both drivers: plugin lookup, cache reads and writes, warnings, and the bookkeeping around a
  plugin run (its timeout, logging, the ``on_invocation`` hook).
* Only ``Run`` differs between the drivers (a blocking call or an ``await``), so the loops in
  ``api.py`` and ``aio.py`` are a dozen lines each.
* Cache steps are performed synchronously even by the async driver: they are small local file
  operations, and having no await inside them means a cancellation can never cut one in half.
* Every exception leaving a step is typed: executor and cache surprises become
  :class:`~cnilib.errors.ExecutionError` and :class:`~cnilib.errors.CacheError`.
* Size (about 450 lines): one job builder per public verb plus the step performers they share;
  split, the two halves would import each other, and each builder is a few lines.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar

import attrs

from cnilib._json import JSONObject
from cnilib._plans import chains, netops, steps
from cnilib._plans.replies import reply_error
from cnilib.errors import (
    CacheError,
    CNIError,
    ConfigError,
    ExecutionError,
    PluginNotFoundError,
    PluginTimeoutError,
)
from cnilib.protocol import (
    Command,
    Completed,
    GCAttachment,
    Invocation,
    InvocationRecord,
    RuntimeConf,
)

if TYPE_CHECKING:
    from cnilib.cache import CacheEntry, ResultCache
    from cnilib.config import NetworkConfigList, PluginConfig
    from cnilib.types import Result
    from cnilib.version import PluginInfo

__all__ = [
    "LOGGER",
    "DEFAULT_PATH",
    "DEFAULT_TIMEOUTS",
    "CLEANUP_TIMEOUT",
    "Hook",
    "Job",
    "Clock",
    "Engine",
]

#: The logger of every plugin run: INFO one line per run, DEBUG the exact stdin and env.
LOGGER = logging.getLogger("cnilib")

#: Plugin directories when neither ``path`` nor ``CNI_PATH`` says otherwise.
DEFAULT_PATH = ("/opt/cni/bin", "/usr/lib/cni")

#: Seconds a whole chain may take, per verb (G2 in docs/guarantees.md; kubelet allows 220 s
#: for a pod's network setup, containerd gives teardown one minute).
DEFAULT_TIMEOUTS: Mapping[Command, float | None] = {
    Command.ADD: 120.0,
    Command.DEL: 120.0,
    Command.CHECK: 60.0,
    Command.GC: 300.0,
    Command.STATUS: 10.0,
    Command.VERSION: 10.0,
}

#: Seconds the rollback of a failed ADD may take; its own, fresh deadline (as containerd's
#: fix for lost IPs, containerd/containerd#5438).
CLEANUP_TIMEOUT = 60.0

#: The observability hook: called after every plugin run with what happened.
Hook = Callable[[InvocationRecord], None]

T = TypeVar("T")


def _expect(value: object, cls: type[T]) -> T:
    """``value``, checked to be a ``cls`` (callers pass whatever they like at run time).

    Raises:
        ConfigError: it is not.
    """
    if not isinstance(value, cls):
        msg = f"expected a {cls.__name__}, got {type(value).__name__}"
        raise ConfigError(msg)
    return value


@attrs.frozen
class Job(Generic[T]):
    """One public call, ready to drive: its plan, verb and time budget.

    The plan asks for the lock it needs with a :class:`~cnilib._plans.steps.Lock` step (G7); the
    driver holds it until the plan ends.
    """

    plan: steps.Plan[T]
    command: Command
    network: str
    timeout: float | None


class Clock:
    """The deadlines of one job: the chain's, and the rollback's fresh one."""

    def __init__(self, timeout: float | None, cleanup: float | None) -> None:
        now = time.monotonic()
        self.timeout = timeout
        self.deadline = None if timeout is None else now + timeout
        self.cleanup = cleanup
        self.cleanup_deadline: float | None = None

    def remaining(self, rollback: bool = False) -> float | None:
        """Seconds left for the next run (``None``: unlimited)."""
        now = time.monotonic()
        if rollback:
            if self.cleanup is None:
                return None
            if self.cleanup_deadline is None:
                self.cleanup_deadline = now + self.cleanup
            return self.cleanup_deadline - now
        return None if self.deadline is None else self.deadline - now


def _check_timeout(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or (
            value <= 0):
        msg = f"{name} must be a number of seconds > 0 or None, not {value!r}"
        raise ConfigError(msg)
    return None if value == math.inf else float(value)


def _paths(path: str | Sequence[str] | None) -> tuple[str, ...]:
    if path is None:
        env = os.environ.get("CNI_PATH", "")
        found = tuple(p for p in env.split(os.pathsep) if p)
        return found or DEFAULT_PATH
    entries: list[object] = list(path.split(os.pathsep) if isinstance(path, str) else path)
    out: list[str] = []
    for entry in entries:
        if not isinstance(entry, str) or "\x00" in entry or os.pathsep in entry:
            msg = f"invalid plugin directory {entry!r}"
            raise ConfigError(msg, details="CNI_PATH entries are joined with ':'")
        if entry:
            out.append(entry)
    return tuple(out)


#: The executor a driver runs plugins with (:class:`~cnilib.invoke.Executor` or
#: :class:`~cnilib.invoke.AsyncExecutor`).
X = TypeVar("X")


class Engine(Generic[X]):
    """The state and the step logic both :class:`~cnilib.api.CNIConfig` drivers share.

    Args:
        path: Plugin directories; ``None`` means ``CNI_PATH`` from the environment, else
            ``/opt/cni/bin`` and ``/usr/lib/cni``. A string is split on ``:``.
        cache_dir: The result cache root (libcni's ``/var/lib/cni``).
        executor: How plugins are found and run; ``None``: the driver's
            :meth:`_default_executor`.
        timeouts: Per-verb chain budgets in seconds, merged over :data:`DEFAULT_TIMEOUTS`
            (``None``: no limit).
        cleanup_timeout: Budget of an ADD rollback (fresh, after the failure).
        rollback: Roll back a failed ADD (``False``: libcni's behaviour, nothing is undone).
        strict: Derive requests as SPEC.md, Section 3: Execution of Network Configurations says
            (``False``: as libcni, which also sends the plugin's ``capabilities`` and static
            reserved keys).
        on_invocation: Called after every plugin run with an :class:`InvocationRecord`.

    Raises:
        ConfigError: an option is out of range.
    """

    def __init__(
        self,
        path: str | Sequence[str] | None = None,
        cache_dir: str | os.PathLike[str] = "/var/lib/cni",
        *,
        executor: X | None = None,
        timeouts: Mapping[Command | str, float | None] | None = None,
        cleanup_timeout: float | None = CLEANUP_TIMEOUT,
        rollback: bool = True,
        strict: bool = True,
        on_invocation: Hook | None = None,
    ) -> None:
        from cnilib.cache import ResultCache

        self.path = _paths(path)
        self.cache_dir = os.fspath(cache_dir)
        self.cache: ResultCache = ResultCache(self.cache_dir)
        self.timeouts = dict(DEFAULT_TIMEOUTS)
        for verb, value in (timeouts or {}).items():
            try:
                command = Command(str(verb).upper())
            except ValueError:
                msg = f"unknown verb {verb!r} in timeouts"
                raise ConfigError(msg) from None
            self.timeouts[command] = _check_timeout(f"timeouts[{command}]", value)
        self.cleanup_timeout = _check_timeout("cleanup_timeout", cleanup_timeout)
        self.rollback = bool(rollback)
        self.strict = bool(strict)
        self.on_invocation = on_invocation
        self.executor: X = self._default_executor() if executor is None else executor

    def _default_executor(self) -> X:
        """The executor when the caller gives none (each driver's subprocess executor)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={list(self.path)!r}, cache_dir={self.cache_dir!r})"

    # --- jobs ---------------------------------------------------------------------------------

    def _chain(self, *, rollback: bool | None = None,
              trace_context: Mapping[str, str] | None = None) -> steps.Chain:
        """The per-call chain options."""
        return steps.Chain(paths=self.path, strict=self.strict,
                            rollback=self.rollback if rollback is None else bool(rollback),
                            trace_context=trace_context)

    def _timeout(self, command: Command, timeout: float | None) -> float | None:
        # None: the verb's default; math.inf: no limit.
        if timeout is None:
            return self.timeouts[command]
        return _check_timeout("timeout", timeout)

    @staticmethod
    def _runtime(rt: RuntimeConf) -> RuntimeConf:
        if not isinstance(rt, RuntimeConf):
            msg = f"expected a RuntimeConf, got {type(rt).__name__}"
            raise ConfigError(msg)
        return rt

    def _job_add(self, net: steps.Net, rt: RuntimeConf, timeout: float | None,
                rollback: bool | None, trace: Mapping[str, str] | None) -> Job[Result]:
        """The job of an ADD."""
        plan = chains.add(net, self._runtime(rt),
                          self._chain(rollback=rollback, trace_context=trace))
        return Job(plan, Command.ADD, net.name, self._timeout(Command.ADD, timeout))

    def _job_check(self, net: steps.Net, rt: RuntimeConf, timeout: float | None,
                  trace: Mapping[str, str] | None) -> Job[None]:
        """The job of a CHECK."""
        plan = chains.check(net, self._runtime(rt), self._chain(trace_context=trace))
        return Job(plan, Command.CHECK, net.name, self._timeout(Command.CHECK, timeout))

    def _job_del(self, net: steps.Net, rt: RuntimeConf, timeout: float | None,
                trace: Mapping[str, str] | None) -> Job[None]:
        """The job of a DEL."""
        plan = chains.delete(net, self._runtime(rt), self._chain(trace_context=trace))
        return Job(plan, Command.DEL, net.name, self._timeout(Command.DEL, timeout))

    def _job_gc(self, net: NetworkConfigList,
               valid: Iterable[GCAttachment | tuple[str, str]] | None,
               timeout: float | None,
               trace: Mapping[str, str] | None) -> Job[None]:
        """The job of a GC: exclusive of every ADD, CHECK and DEL (SPEC.md, Section 3: Execution of
        Network Configurations)."""
        view = self._of_list(net)
        plan = netops.gc(view, valid, self._chain(trace_context=trace))
        return Job(plan, Command.GC, view.name, self._timeout(Command.GC, timeout))

    def _job_status(self, net: NetworkConfigList, timeout: float | None,
                   trace: Mapping[str, str] | None) -> Job[None]:
        """The job of a STATUS."""
        view = self._of_list(net)
        return Job(netops.status(view, self._chain(trace_context=trace)), Command.STATUS,
                   view.name, self._timeout(Command.STATUS, timeout))

    def _job_version(self, plugin_type: str, timeout: float | None,
                    trace: Mapping[str, str] | None) -> Job[PluginInfo]:
        """The job of a VERSION query."""
        return Job(netops.version_info(plugin_type, self._chain(trace_context=trace)),
                   Command.VERSION, "", self._timeout(Command.VERSION, timeout))

    def _job_validate(self, net: steps.Net, timeout: float | None,
                     trace: Mapping[str, str] | None) -> Job[tuple[str, ...]]:
        """The job of a validation (VERSION of each plugin)."""
        return Job(netops.validate(net, self._chain(trace_context=trace)), Command.VERSION,
                   net.name, self._timeout(Command.VERSION, timeout))

    @staticmethod
    def _job_local(plan: steps.Plan[T], network: str = "") -> Job[T]:
        """A job that only reads the cache (no lock: entries are replaced atomically)."""
        return Job(plan, Command.VERSION, network, None)

    @staticmethod
    def _of_list(net: NetworkConfigList) -> steps.Net:
        """The plans' view of a list.

        Raises:
            ConfigError: ``net`` is not a :class:`~cnilib.config.NetworkConfigList`.
        """
        from cnilib.config import NetworkConfigList

        return steps.Net.of_list(_expect(net, NetworkConfigList))

    @staticmethod
    def _of_plugin(plugin: PluginConfig) -> steps.Net:
        """The plans' view of one plugin configuration.

        Raises:
            ConfigError: ``plugin`` is not a :class:`~cnilib.config.PluginConfig`.
        """
        from cnilib.config import PluginConfig

        return steps.Net.of_plugin(_expect(plugin, PluginConfig))

    # --- steps ----------------------------------------------------------------------------

    def _start(self, step: steps.Step, clock: Clock, network: str,
               finder: Callable[[str, Sequence[str]], str],
               cache: ResultCache) -> tuple[Invocation | None, object]:
        """Perform ``step`` up to what only a driver can do (both drivers call it).

        A :class:`~cnilib._plans.steps.Lock` is the driver's own business and never comes here.
        ``cache`` is the job's view of the cache (:meth:`~cnilib.cache.ResultCache.operation`).

        Returns:
            ``(invocation, None)`` when the driver must now run that invocation (and hand
            what came of it to :meth:`_ran`); otherwise ``(None, outcome)``, the step done.
        """
        if isinstance(step, steps.Find):
            return None, self._find(finder, step)
        if not isinstance(step, steps.Run):
            return None, self._perform_local(step, cache)
        prepared = self._prepare(step, clock)
        if isinstance(prepared, steps.NotStarted):
            self._record(step.invocation, prepared, network, step.rollback)
            return None, prepared
        return prepared, None

    def _ran(self, step: steps.Step, inv: Invocation, got: Completed | Exception,
             network: str) -> Completed | steps.NotStarted:
        """The outcome of the run :meth:`_start` asked for, recorded.

        ``got`` is what the executor returned, or the exception it raised (which becomes a
        typed :class:`~cnilib._plans.steps.NotStarted`).
        """
        outcome = self._not_started(inv, got) if isinstance(got, Exception) else got
        self._record(inv, outcome, network, isinstance(step, steps.Run) and step.rollback)
        return outcome

    def _find(self, finder: Callable[[str, Sequence[str]], str], step: steps.Find) -> str:
        """Perform a :class:`~cnilib._plans.chains.Find` with the executor's ``find``."""
        try:
            return finder(step.plugin_type, self.path)
        except CNIError:
            raise
        except Exception as err:
            msg = f'failed to find plugin "{step.plugin_type}": {err}'
            raise PluginNotFoundError(msg, plugin=step.plugin_type, paths=self.path) from err

    def _prepare(self, step: steps.Run, clock: Clock) -> Invocation | steps.NotStarted:
        """Give a run its share of the deadline, or say it cannot start any more."""
        inv = step.invocation
        left = clock.remaining(step.rollback)
        if left is not None and left <= 0:
            budget = clock.cleanup if step.rollback else clock.timeout
            msg = (f"the {inv.command} chain's deadline of {budget:g}s passed before plugin "
                   f"{inv.plugin_type!r} could start")
            return steps.NotStarted(PluginTimeoutError(
                msg, plugin=inv.plugin_type, command=str(inv.command)))
        return Invocation(inv.plugin_type, inv.path, inv.command, inv.stdin, inv.env, left,
                          pass_fds=inv.pass_fds)

    @staticmethod
    def _not_started(inv: Invocation, err: Exception) -> steps.NotStarted:
        """The outcome of a run whose executor raised (typed, whatever it raised)."""
        if isinstance(err, CNIError):
            return steps.NotStarted(err)
        msg = f"cannot execute plugin {inv.path}: {err}"
        failure = ExecutionError(msg)
        failure.__cause__ = err
        return steps.NotStarted(failure)

    def _record(self, inv: Invocation, outcome: Completed | steps.NotStarted, network: str,
               rollback: bool) -> None:
        """Log one run and call the ``on_invocation`` hook (whose own failures are logged)."""
        completed = None if isinstance(outcome, steps.NotStarted) else outcome
        if LOGGER.isEnabledFor(logging.INFO):
            if completed is None:
                LOGGER.info("%s %s (network %r): not started: %s", inv.command,
                            inv.plugin_type, network, _error_of(outcome))
            else:
                LOGGER.info("%s %s (network %r): exit status %d in %.3fs%s%s", inv.command,
                            inv.plugin_type, network, completed.exit_status,
                            completed.duration, " (timed out)" if completed.timed_out else "",
                            " (rollback)" if rollback else "")
        if LOGGER.isEnabledFor(logging.DEBUG):
            if completed is not None and completed.stderr:
                LOGGER.debug("%s %s stderr: %s", inv.command, inv.plugin_type,
                             completed.stderr[-4096:].decode("utf-8", "replace"))
            LOGGER.debug("%s %s path=%s env=%s stdin=%s", inv.command, inv.plugin_type,
                         inv.path, dict(inv.env), inv.stdin.decode("utf-8", "replace"))
        if self.on_invocation is not None:
            # What the reply means is worked out here only for a hook that wants it; the plan
            # works it out once for itself.
            error = _error_of(outcome) if completed is None else reply_error(inv, completed)
            record = InvocationRecord(invocation=inv, completed=completed, error=error,
                                      network=network, rollback=rollback)
            try:
                self.on_invocation(record)
            except Exception:
                LOGGER.exception("the on_invocation hook failed")

    def _perform_local(self, step: steps.Step, cache: ResultCache) -> object:
        """Perform every step but ``Find`` and ``Run``: cache requests and warnings.

        Raises:
            CacheError: the cache failed (whatever it raised).
        """
        if isinstance(step, steps.Warn):
            LOGGER.warning("%s", step.message)
            return None
        try:
            return self._cache_step(step, cache)
        except CNIError:
            raise
        except Exception as err:
            msg = f"result cache failure: {err}"
            raise CacheError(msg) from err

    @staticmethod
    def _lock_request(step: steps.Lock,
                      clock: Clock) -> tuple[tuple[str, str, str] | None, float | None]:
        """What a :class:`~cnilib._plans.steps.Lock` step asks a driver to hold: the attachment
        (``None``: the whole cache, for GC), and how long it may wait for it."""
        return (None if step.gc else _key(step)), clock.remaining()

    @staticmethod
    def _cache_step(step: steps.Step, cache: ResultCache) -> object:
        if isinstance(step, steps.LoadCache):
            return cache.load(*_key(step))
        if isinstance(step, steps.SaveCache):
            cache.save(_entry(step, step.result))
            return None
        if isinstance(step, steps.DeleteCache):
            cache.delete(*_key(step), batch=step.batch)
            return None
        if isinstance(step, steps.ListCache):
            return cache.attachments(step.container_id)
        if isinstance(step, steps.LoadPending):
            return cache.pending(*_key(step))
        if isinstance(step, steps.SavePending):
            cache.begin(_entry(step, None))
            return None
        if isinstance(step, steps.DeletePending):
            cache.finish(*_key(step))
            return None
        if isinstance(step, steps.IsLocked):
            return cache.is_locked(*_key(step))
        if isinstance(step, steps.SweepCache):
            return cache.sweep()
        msg = f"unknown step {step!r}"  # pragma: no cover - the plans yield only the above
        raise CacheError(msg)


def _error_of(outcome: Completed | steps.NotStarted) -> CNIError | None:
    return outcome.error if isinstance(outcome, steps.NotStarted) else None


_Keyed: TypeAlias = (steps.Lock | steps.LoadCache | steps.DeleteCache | steps.LoadPending
                    | steps.DeletePending | steps.IsLocked)


def _key(step: _Keyed) -> tuple[str, str, str]:
    """The attachment a cache or lock step is about."""
    return step.network, step.container_id, step.ifname


def _entry(step: steps.SaveCache | steps.SavePending, result: JSONObject | None) -> CacheEntry:
    from cnilib.cache import CacheEntry

    return CacheEntry(network_name=step.network, container_id=step.container_id,
                      ifname=step.ifname, config=step.config, netns=step.netns,
                      cni_args=step.cni_args, capability_args=dict(step.capability_args),
                      result=result)
