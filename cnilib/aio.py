"""The asyncio runtime API: :class:`AsyncCNIConfig`, the coroutine twin of ``CNIConfig``.

Rules of this file:

* It is the second driver over the same pure plans as :mod:`cnilib.api`: the chain logic
  (ordering, version gates, request derivation, caching, rollback) is not repeated here.
  Only the loop differs: a plugin run is awaited on an asyncio subprocess.
* Cancelling a call kills the running plugin's whole process group (the executor's promise)
  and leaves nothing half-done: a cancelled ADD is rolled back like a failed one (DEL over
  the plugins that ran, in reverse) before :class:`asyncio.CancelledError` goes through; a
  cancelled DEL keeps its cache entry so it can be retried. Cache writes have no await in
  them, so a cancellation never cuts one in half.
* Locks are taken with ``asyncio.sleep`` polling, never by blocking the event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._exec.engine import Clock, Engine, Job
from ._plans import chains, netops, steps
from .protocol import Completed, GCAttachment, RuntimeConf

if TYPE_CHECKING:
    from .cache import CacheEntry, ResultCache
    from .config import NetworkConfigList, PluginConfig
    from .invoke import AsyncExecutor
    from .types import Result
    from .version import PluginInfo

__all__ = ["AsyncCNIConfig"]

T = TypeVar("T")


class AsyncCNIConfig(Engine["AsyncExecutor"]):
    """Run CNI plugin chains from asyncio code; every method of
    :class:`~cnilib.api.CNIConfig`, as a coroutine.

    Args:
        path: Plugin directories (see :class:`~cnilib.api.CNIConfig`).
        cache_dir: The result cache root.
        executor: How plugins are found and run; default
            :class:`~cnilib.invoke.AsyncSubprocessExecutor`. Tests pass
            :class:`cnilib.testing.AsyncFakeExecutor`.
        timeouts: Per-verb chain budgets (see :class:`~cnilib.api.CNIConfig`).
        cleanup_timeout: Budget of the rollback DEL after a failed or cancelled ADD.
        rollback: Undo a failed or cancelled ADD.
        strict: Derive requests as SPEC.md, Section 3: Execution of Network Configurations says
            (``False``: as libcni).
        on_invocation: Called after every plugin run with an
            :class:`~cnilib.protocol.InvocationRecord`.

    Raises:
        ConfigError: an option is out of range.
    """

    def _default_executor(self) -> AsyncExecutor:
        from .invoke import AsyncSubprocessExecutor

        return AsyncSubprocessExecutor()

    # --- the driver ---------------------------------------------------------------------------

    async def _perform(self, step: steps.Step, clock: Clock, network: str,
                       held: contextlib.AsyncExitStack, cache: ResultCache) -> object:
        if isinstance(step, steps.Lock):
            key, wait = self._lock_request(step, clock)
            return await held.enter_async_context(cache.agc_lock(timeout=wait) if key is None
                                                  else cache.alock(*key, timeout=wait))
        if isinstance(step, steps.SaveCache):
            # The one write that fsyncs (docs/cache.md): in a worker thread, so that one
            # attachment's wait for the disk never stalls the loop and every other attachment.
            return await _to_thread_whole(self._perform_local, step, cache)
        inv, outcome = self._start(step, clock, network, self.executor.find, cache)
        if inv is None:
            return outcome
        got: Completed | Exception
        try:
            got = await self.executor.run(inv)
        except Exception as err:
            got = err
        return self._ran(step, inv, got, network)

    async def _drive(self, job: Job[T]) -> T:
        plan = job.plan
        try:
            try:
                step = next(plan)  # validation happens here: before the lock, before any file
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            clock = Clock(job.timeout, self.cleanup_timeout)
            async with contextlib.AsyncExitStack() as held:  # the plan's locks, until it ends
                cache = held.enter_context(self.cache.operation())
                while True:
                    thrown: BaseException | None = None
                    outcome: object = None
                    try:
                        outcome = await self._perform(step, clock, job.network, held, cache)
                    except BaseException as err:  # CancelledError too: the plan rolls back
                        thrown = err
                    try:
                        step = plan.send(outcome) if thrown is None else plan.throw(thrown)
                    except StopIteration as stop:
                        return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    # --- lists ----------------------------------------------------------------------------------

    async def add_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        rollback: bool | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Result:
        """ADD an attachment (see :meth:`cnilib.api.CNIConfig.add_network_list`).

        A cancelled ADD is rolled back before the cancellation goes through.

        Raises:
            AttachmentExistsError: the attachment is cached, or an earlier ADD of it did
                not finish: nothing ran (DEL it first).
            AddError: a plugin (or the cache write) failed, with what the rollback did.
            InvalidIdentifierError: an identifier is invalid (nothing ran).
            LockTimeoutError: the attachment stayed locked past the deadline.
        """
        job = self._job_add(self._of_list(net), rt, timeout, rollback, trace_context)
        return await self._drive(job)

    async def check_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """CHECK an attachment (see :meth:`cnilib.api.CNIConfig.check_network_list`).

        Raises:
            IncompatibleVersionError: the network's version is below 0.4.0.
            PluginError: the first plugin that reported a problem.
        """
        await self._drive(self._job_check(self._of_list(net), rt, timeout, trace_context))

    async def del_network_list(
        self,
        net: NetworkConfigList,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """DEL an attachment (see :meth:`cnilib.api.CNIConfig.del_network_list`).

        Raises:
            PluginError: the first plugin that failed (the cache entry is kept).
        """
        await self._drive(self._job_del(self._of_list(net), rt, timeout, trace_context))

    async def gc_network_list(
        self,
        net: NetworkConfigList,
        valid_attachments: Iterable[GCAttachment | tuple[str, str]] | None = None,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Garbage-collect a network (see :meth:`cnilib.api.CNIConfig.gc_network_list`).

        Raises:
            MultipleErrors: every failure, after everything was tried.
        """
        await self._drive(self._job_gc(net, valid_attachments, timeout, trace_context))

    async def get_status_network_list(
        self,
        net: NetworkConfigList,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """STATUS of every plugin (see :meth:`cnilib.api.CNIConfig.get_status_network_list`).

        Raises:
            PluginError: the first plugin that is not ready.
        """
        await self._drive(self._job_status(net, timeout, trace_context))

    async def validate_network_list(
        self,
        net: NetworkConfigList,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> tuple[str, ...]:
        """Validate a list (see :meth:`cnilib.api.CNIConfig.validate_network_list`).

        Raises:
            MultipleErrors: every problem found.
        """
        return await self._drive(self._job_validate(self._of_list(net), timeout, trace_context))

    async def get_version_info(
        self,
        plugin_type: str,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> PluginInfo:
        """A plugin's VERSION answer (see :meth:`cnilib.api.CNIConfig.get_version_info`).

        Raises:
            PluginNotFoundError: no such plugin on the path.
            PluginError: the plugin failed or answered something else.
        """
        return await self._drive(self._job_version(plugin_type, timeout, trace_context))

    # --- single plugins -------------------------------------------------------------------

    async def add_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        rollback: bool | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Result:
        """ADD with one plugin configuration (see :meth:`cnilib.api.CNIConfig.add_network`).

        Raises:
            AttachmentExistsError: the attachment is cached or its ADD is unfinished.
            AddError: the plugin (or the cache write) failed.
        """
        return await self._drive(self._job_add(self._of_plugin(net), rt, timeout, rollback,
                                              trace_context))

    async def check_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """CHECK with one plugin configuration (see :meth:`cnilib.api.CNIConfig.check_network`).

        Raises:
            PluginError: the plugin reported a problem.
        """
        await self._drive(self._job_check(self._of_plugin(net), rt, timeout, trace_context))

    async def del_network(
        self,
        net: PluginConfig,
        rt: RuntimeConf,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """DEL with one plugin configuration (see :meth:`cnilib.api.CNIConfig.del_network`).

        Raises:
            PluginError: the plugin failed (the cache entry is kept).
        """
        await self._drive(self._job_del(self._of_plugin(net), rt, timeout, trace_context))

    async def validate_network(
        self,
        net: PluginConfig,
        *,
        timeout: float | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> tuple[str, ...]:
        """Validate one plugin configuration (see :meth:`cnilib.api.CNIConfig.validate_network`).

        Raises:
            CNIError: the problem found.
        """
        return await self._drive(self._job_validate(self._of_plugin(net), timeout, trace_context))

    # --- the cache ----------------------------------------------------------------------------

    async def get_network_list_cached_result(
        self, net: NetworkConfigList, rt: RuntimeConf
    ) -> Result | None:
        """The cached ADD result, in the network's version, or ``None``.

        Raises:
            CacheError: the entry is unreadable or cannot be converted.
        """
        view = self._of_list(net)
        return await self._drive(self._job_local(chains.cached_result_of(view, rt), view.name))

    async def get_network_cached_result(
        self, net: PluginConfig, rt: RuntimeConf
    ) -> Result | None:
        """The cached ADD result of a single-plugin attachment, or ``None``.

        Raises:
            CacheError: the entry is unreadable or cannot be converted.
        """
        view = self._of_plugin(net)
        return await self._drive(self._job_local(chains.cached_result_of(view, rt), view.name))

    async def get_network_list_cached_config(
        self, net: NetworkConfigList, rt: RuntimeConf
    ) -> tuple[bytes, RuntimeConf] | None:
        """The cached configuration bytes and the RuntimeConf to replay them.

        Raises:
            CacheError: the entry is unreadable.
        """
        view = self._of_list(net)
        return await self._drive(self._job_local(chains.cached_config_of(view, rt), view.name))

    async def get_network_cached_config(
        self, net: PluginConfig, rt: RuntimeConf
    ) -> tuple[bytes, RuntimeConf] | None:
        """As :meth:`get_network_list_cached_config`, for a single plugin configuration.

        Raises:
            CacheError: the entry is unreadable.
        """
        view = self._of_plugin(net)
        return await self._drive(self._job_local(chains.cached_config_of(view, rt), view.name))

    async def get_cached_attachments(self, container_id: str = "") -> tuple[CacheEntry, ...]:
        """Every cached attachment, or those of one container.

        ADDs that did not finish (their process died, or their rollback failed) are listed
        too, with ``in_progress=True``.

        Raises:
            InvalidIdentifierError: ``container_id`` is given and invalid.
            CacheError: the cache directory cannot be read.
        """
        job = self._job_local(netops.attachments(container_id))
        return await self._drive(job)  # type: ignore[arg-type]


async def _to_thread_whole(fn: Callable[[steps.Step, ResultCache], object], step: steps.Step,
                           cache: ResultCache) -> object:
    """``fn(step, cache)`` in a worker thread; a cancellation waits for it to finish, then
    goes on.

    The plan hears of the cancellation only once the write is whole or did not happen, so the
    rollback it decides on sees the cache as the write left it (docs/guarantees.md, G8).
    """
    import asyncio

    work = asyncio.ensure_future(asyncio.to_thread(fn, step, cache))
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait([work])  # never cancels ``work`` itself
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        work.exception()  # a failed write is the rollback's business, not a stray log line
        raise asyncio.CancelledError
    return work.result()
