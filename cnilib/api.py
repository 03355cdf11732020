"""The synchronous runtime API: :class:`CNIConfig`, libcni's ``CNIConfig`` in snake_case.

Rules of this file:

* It is a driver, not a brain: each method builds a job (:mod:`cnilib._exec.engine`) over a pure
  plan (:mod:`cnilib._plans.chains`) and runs the loop that performs its steps. Ordering, version
  gates, request derivation, caching and rollback are decided in the plans, once, for this
  class and for :class:`cnilib.aio.AsyncCNIConfig` alike.
* Identifiers are validated by the plan before the lock is taken or any file is touched.
* Operations on one attachment are serialised across threads and processes (the cache's file
  locks); GC runs exclusively; different attachments run in parallel.
* Only :class:`~cnilib.errors.CNIError` subclasses escape (and ``KeyboardInterrupt``, after an
  interrupted ADD was rolled back).
* Size (about 450 lines): libcni's public surface, one short documented method per
  ``CNIConfig`` method, mirrored by ``aio.py``; the code beside the façade is the dozen-line
  driver loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._exec.engine import Clock, Engine, Job
from ._plans import chains, netops, steps
from .protocol import Completed, GCAttachment, RuntimeConf

if TYPE_CHECKING:
    from .cache import CacheEntry, ResultCache
    from .config import NetworkConfigList, PluginConfig
    from .invoke import Executor
    from .types import Result
    from .version import PluginInfo

__all__ = ["CNIConfig"]

T = TypeVar("T")


class CNIConfig(Engine["Executor"]):
    """Run CNI plugin chains for a runtime (libcni ``CNIConfig``).

    Args:
        path: Plugin directories. ``None`` means ``CNI_PATH`` from the environment, else
            ``/opt/cni/bin`` and ``/usr/lib/cni``; a string is split on ``:``.
        cache_dir: The result cache root, shared with libcni (``/var/lib/cni``).
        executor: How plugins are found and run; default
            :class:`~cnilib.invoke.SubprocessExecutor`. Tests pass
            :class:`cnilib.testing.FakeExecutor`.
        timeouts: Per-verb budgets in seconds for a whole chain, over the defaults ADD/DEL
            120, CHECK 60, GC 300, STATUS/VERSION 10 (``None`` value: no limit).
        cleanup_timeout: Budget of the rollback DEL after a failed ADD (a fresh deadline).
        rollback: Undo a failed ADD with DEL over the plugins that ran (``False``: libcni's
            behaviour, the caller must DEL). Each call may override it.
        strict: Derive requests as SPEC.md, Section 3: Execution of Network Configurations says;
            ``False`` sends what libcni sends (the plugin's ``capabilities`` and static reserved
            keys). See ``docs/running.md``.
        on_invocation: Called after every plugin run with an
            :class:`~cnilib.protocol.InvocationRecord` (metrics, tracing); its exceptions are
            logged and ignored.

    Every operation method takes ``timeout=`` (seconds for the whole chain; ``None``: the
    verb's default; ``math.inf``: no limit) and ``trace_context=`` (W3C ``traceparent``,
    ``tracestate``, ``baggage``; overrides the RuntimeConf's), passed to plugins as
    ``TRACEPARENT``, ``TRACESTATE`` and ``BAGGAGE``.

    Raises:
        ConfigError: an option is out of range.
    """

    def _default_executor(self) -> Executor:
        from .invoke import SubprocessExecutor

        return SubprocessExecutor()

    # --- the driver ---------------------------------------------------------------------------

    def _perform(self, step: steps.Step, clock: Clock, network: str,
                 held: contextlib.ExitStack, cache: ResultCache) -> object:
        if isinstance(step, steps.Lock):
            key, wait = self._lock_request(step, clock)
            return held.enter_context(cache.gc_lock(timeout=wait) if key is None
                                      else cache.lock(*key, timeout=wait))
        inv, outcome = self._start(step, clock, network, self.executor.find, cache)
        if inv is None:
            return outcome
        got: Completed | Exception
        try:
            got = self.executor.run(inv)
        except Exception as err:
            got = err
        return self._ran(step, inv, got, network)

    def _drive(self, job: Job[T]) -> T:
        plan = job.plan
        try:
            try:
                step = next(plan)  # validation happens here: before the lock, before any file
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            clock = Clock(job.timeout, self.cleanup_timeout)
            with contextlib.ExitStack() as held:  # the locks the plan took, until it ends
                cache = held.enter_context(self.cache.operation())
                while True:
                    thrown: BaseException | None = None
                    outcome: object = None
                    try:
                        outcome = self._perform(step, clock, job.network, held, cache)
                    except BaseException as err:  # handed to the plan (it may roll back)
                        thrown = err
                    try:
                        step = plan.send(outcome) if thrown is None else plan.throw(thrown)
                    except StopIteration as stop:
                        return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    # --- lists ----------------------------------------------------------------------------------

    def add_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        rollback: bool | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Result:
        """ADD an attachment: every plugin in order, chaining results (SPEC.md, section "Adding an
        attachment").

        The final result is cached (libcni's ``cniCacheV1`` format) and returned in the
        network's version. If any step fails, the plugins that ran are rolled back with DEL
        in reverse (unless ``rollback=False``) and nothing is cached.

        Args:
            net: The network configuration list.
            rt: The attachment.
            timeout: Seconds for the whole chain (see the class).
            rollback: Override the instance's rollback choice for this call.
            trace_context: W3C trace context for the plugins.

        Returns:
            The final result, in the network's version.

        Raises:
            AttachmentExistsError: the attachment is cached, or an earlier ADD of it did
                not finish: nothing ran (DEL it first).
            AddError: a plugin (or the cache write) failed; says what and what the rollback
                did (``cause``, ``rolled_back``, ``rollback_errors``).
            InvalidIdentifierError: the container ID, network name, interface name,
                ``CNI_ARGS`` or trace context is invalid (nothing ran).
            LockTimeoutError: the attachment stayed locked past the deadline.
        """
        job = self._job_add(self._of_list(net), rt, timeout, rollback, trace_context)
        return self._drive(job)

    def check_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """CHECK an attachment with the cached ADD result (SPEC.md, section "Checking an
        attachment").

        Nothing runs when the network sets ``disableCheck``. An unusable cache entry is
        logged and the plugins are checked without prevResult.

        Args:
            net: The network configuration list.
            rt: The attachment, with the parameters of its ADD.
            timeout: Seconds for the whole chain.
            trace_context: W3C trace context for the plugins.

        Raises:
            IncompatibleVersionError: the network's version is below 0.4.0.
            PluginError: the first plugin that reported a problem.
            InvalidIdentifierError: an identifier is invalid.
        """
        self._drive(self._job_check(self._of_list(net), rt, timeout, trace_context))

    def del_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """DEL an attachment: plugins in reverse order with the cached result (SPEC.md, Section 3:
        Execution of Network Configurations).

        An unusable cache entry is deleted and the DEL goes on without prevResult. On
        success the entry is deleted; on failure it is kept so that the DEL can be retried. An
        attachment whose ADD did not finish is deleted with the configuration and runtime
        configuration that ADD recorded. A cache that cannot be locked or written does not
        stop the plugins: they run, and the problem is logged at WARNING.

        Args:
            net: The network configuration list.
            rt: The attachment.
            timeout: Seconds for the whole chain.
            trace_context: W3C trace context for the plugins.

        Raises:
            PluginError: the first plugin that failed (the rest did not run).
            InvalidIdentifierError: an identifier is invalid (nothing ran, no file touched).
        """
        self._drive(self._job_del(self._of_list(net), rt, timeout, trace_context))

    def gc_network_list(
        self,
        net: NetworkConfigList,
        valid_attachments: Iterable[GCAttachment | tuple[str, str]] | None = None,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Garbage-collect a network (SPEC.md, section "GC"), exclusive of every ADD, CHECK and DEL.

        Cached attachments of this network not in ``valid_attachments`` are deleted (DEL);
        then, from 1.1.0, every plugin gets GC with ``cni.dev/valid-attachments``. With
        ``valid_attachments=None`` every cached attachment is stale and the plugins get no
        list (libcni's behaviour). Nothing runs when the network sets ``disableGC``.

        Args:
            net: The network configuration list.
            valid_attachments: The attachments still in use, as
                :class:`~cnilib.protocol.GCAttachment` or ``(container_id, ifname)``.
            timeout: Seconds for the whole GC.
            trace_context: W3C trace context for the plugins.

        Raises:
            MultipleErrors: every failure, after everything was tried.
            InvalidIdentifierError: the network name or a valid attachment is invalid.
        """
        self._drive(self._job_gc(net, valid_attachments, timeout, trace_context))

    def get_status_network_list(
        self,
        net: NetworkConfigList,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Ask every plugin whether it is ready for ADD (SPEC.md, section "STATUS"); from 1.1.0.

        Args:
            net: The network configuration list.
            timeout: Seconds for the whole chain.
            trace_context: W3C trace context for the plugins.

        Raises:
            PluginError: the first plugin that is not ready (codes 50 and 51, SPEC.md, Section 2:
                Execution Protocol).
        """
        self._drive(self._job_status(net, timeout, trace_context))

    def validate_network_list(
        self,
        net: NetworkConfigList,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> tuple[str, ...]:
        """Check that every plugin exists and supports the network's version exactly.

        Args:
            net: The network configuration list.
            timeout: Seconds for all the VERSION queries.
            trace_context: W3C trace context for the plugins.

        Returns:
            The capability names the plugins declare, de-duplicated, in order.

        Raises:
            MultipleErrors: every problem found (each an ``IncompatibleVersionError``,
                ``PluginNotFoundError``, ``PluginError``...).
        """
        return self._drive(self._job_validate(self._of_list(net), timeout, trace_context))

    def get_version_info(
        self,
        plugin_type: str,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> PluginInfo:
        """Ask a plugin which spec versions it supports (SPEC.md, section "VERSION").

        Args:
            plugin_type: The plugin ``type``.
            timeout: Seconds for the query.
            trace_context: W3C trace context for the plugin.

        Returns:
            The plugin's answer.

        Raises:
            PluginNotFoundError: no such plugin on the path.
            PluginError: the plugin failed or answered something that is not version info.
        """
        return self._drive(self._job_version(plugin_type, timeout, trace_context))

    # --- single plugins -------------------------------------------------------------------

    def add_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        rollback: bool | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Result:
        """ADD with one plugin configuration; as :meth:`add_network_list` for a list of one.

        The network name and version are the plugin's own ``name`` and ``cniVersion``.

        Raises:
            AttachmentExistsError: the attachment is cached or its ADD is unfinished.
            AddError: the plugin (or the cache write) failed.
            InvalidIdentifierError: an identifier is invalid.
        """
        return self._drive(self._job_add(self._of_plugin(net), rt, timeout, rollback,
                                        trace_context))

    def check_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """CHECK with one plugin configuration; as :meth:`check_network_list`.

        Raises:
            IncompatibleVersionError: the version is below 0.4.0.
            PluginError: the plugin reported a problem.
        """
        self._drive(self._job_check(self._of_plugin(net), rt, timeout, trace_context))

    def del_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """DEL with one plugin configuration; as :meth:`del_network_list`.

        Raises:
            PluginError: the plugin failed (the cache entry is kept).
        """
        self._drive(self._job_del(self._of_plugin(net), rt, timeout, trace_context))

    def validate_network(
        self,
        net: PluginConfig,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> tuple[str, ...]:
        """Check one plugin configuration as :meth:`validate_network_list` does.

        Returns:
            The capability names the plugin declares.

        Raises:
            CNIError: the problem found (``IncompatibleVersionError``,
                ``PluginNotFoundError``...); ``MultipleErrors`` if there are several.
        """
        return self._drive(self._job_validate(self._of_plugin(net), timeout, trace_context))

    # --- the cache ----------------------------------------------------------------------------

    def get_network_list_cached_result(
        self, net: NetworkConfigList, rt: RuntimeConf
    ) -> Result | None:
        """The cached ADD result of an attachment, in the network's version, or ``None``.

        Raises:
            CacheError: the entry is unreadable or cannot be converted.
            InvalidIdentifierError: an identifier is invalid.
        """
        view = self._of_list(net)
        return self._drive(self._job_local(chains.cached_result_of(view, rt), view.name))

    def get_network_cached_result(self, net: PluginConfig, rt: RuntimeConf) -> Result | None:
        """The cached ADD result of a single-plugin attachment, or ``None``.

        Raises:
            CacheError: the entry is unreadable or cannot be converted.
        """
        view = self._of_plugin(net)
        return self._drive(self._job_local(chains.cached_result_of(view, rt), view.name))

    def get_network_list_cached_config(
        self, net: NetworkConfigList, rt: RuntimeConf
    ) -> tuple[bytes, RuntimeConf] | None:
        """The configuration bytes cached by ADD and the RuntimeConf to replay them.

        The returned RuntimeConf is ``rt`` with the cached ``args`` (when there are any),
        the cached ``capability_args``, and the cached ``netns`` when ``rt.netns`` is empty.

        Raises:
            CacheError: the entry is unreadable.
        """
        view = self._of_list(net)
        return self._drive(self._job_local(chains.cached_config_of(view, rt), view.name))

    def get_network_cached_config(
        self, net: PluginConfig, rt: RuntimeConf
    ) -> tuple[bytes, RuntimeConf] | None:
        """As :meth:`get_network_list_cached_config`, for a single plugin configuration.

        Raises:
            CacheError: the entry is unreadable.
        """
        view = self._of_plugin(net)
        return self._drive(self._job_local(chains.cached_config_of(view, rt), view.name))

    def get_cached_attachments(self, container_id: str = "") -> tuple[CacheEntry, ...]:
        """Every cached attachment, or those of one container (libcni ``GetCachedAttachments``).

        ADDs that did not finish (their process died, or their rollback failed) are listed
        too, with ``in_progress=True``.

        Raises:
            InvalidIdentifierError: ``container_id`` is given and invalid.
            CacheError: the cache directory cannot be read.
        """
        return self._drive(self._job_local(netops.attachments(container_id)))  # type: ignore[arg-type]
