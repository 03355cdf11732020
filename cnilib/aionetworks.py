"""The asyncio runtime layer: :class:`AsyncNetworks`, the coroutine twin of ``Networks``.

Rules of this file:

* It is the second driver over the plans of :mod:`cnilib._plans.sandbox`, with an
  :class:`~cnilib.aio.AsyncCNIConfig`: the order, interface names, rollback and error
  collection are not repeated here.
* ``parallel=True`` attaches a sandbox's networks at once: the first in the calling task,
  each other one as a task of its own. Cancelling a setup lets each running ADD roll itself
  back, then removes the networks already attached, in reverse, before
  :class:`asyncio.CancelledError` goes through.
* Container locks are waited for with ``asyncio.sleep``, never by blocking the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._cache import locks as _lock
from ._exec.engine import LOGGER
from ._exec.networks import (
    POLL_INTERVAL,
    Fingerprint,
    NetworksCore,
    Settle,
    deadline_of,
    remaining,
)
from ._plans import sandbox as pod
from .aio import AsyncCNIConfig
from .errors import CNIError

if TYPE_CHECKING:
    from .confdir import LoadedNetwork
    from .invoke import AsyncExecutor
    from .pod import PodResult
    from .protocol import Command

__all__ = ["AsyncNetworks"]


class AsyncNetworks(NetworksCore):
    """Attach sandboxes to networks from asyncio code; every method of
    :class:`~cnilib.networks.Networks`, as a coroutine.

    Args:
        conf_dir: The configuration directory, loaded now.
        plugin_dirs: Plugin directories.
        cache_dir: The result cache root.
        default_network: The network attached first (``None``: the first valid file).
        max_networks: How many networks :meth:`setup` attaches by default (0: all).
        ifname_prefix: Interfaces are ``<prefix>0``, ``<prefix>1``...
        loopback: Also bring ``lo`` up in the sandbox (the ``loopback`` plugin, or cnilib
            itself where the plugin is missing).
        executor: How plugins are found and run (default
            :class:`~cnilib.invoke.AsyncSubprocessExecutor`).
        timeouts: Per-verb budgets.

    Attributes:
        cni: The :class:`~cnilib.aio.AsyncCNIConfig` every network runs through.

    Raises:
        ConfigError: an option is out of range, or the directory cannot be listed.
    """

    def __init__(
        self,
        conf_dir: str | os.PathLike[str] = "/etc/cni/net.d",
        plugin_dirs: str | Sequence[str] | None = None,
        cache_dir: str | os.PathLike[str] = "/var/lib/cni",
        *,
        default_network: str | None = None,
        max_networks: int = 1,
        ifname_prefix: str = "eth",
        loopback: bool = True,
        executor: AsyncExecutor | None = None,
        timeouts: Mapping[Command | str, float | None] | None = None,
    ) -> None:
        self.cni = AsyncCNIConfig(plugin_dirs, cache_dir, executor=executor, timeouts=timeouts)
        self._init_core(self.cni, conf_dir, default_network=default_network,
                        max_networks=max_networks, ifname_prefix=ifname_prefix,
                        loopback=loopback)

    # --- the driver ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _container_locked(self, container_id: str, deadline: float | None, *,
                                keep: bool) -> AsyncIterator[None]:
        hold, ended = self._pod_lock(container_id, deadline, keep=keep)
        async with _lock.ahold(**hold):
            yield
            ended[0] = True

    async def _add(self, att: pod.Attachment, deadline: float | None) -> object:
        try:
            return await self.cni.add_network_list(att.net, att.rt, timeout=remaining(deadline))
        except Exception as err:
            return err

    async def _add_all(self, group: tuple[pod.Attachment, ...],
                       deadline: float | None) -> tuple[object, ...] | pod.Interrupted:
        # This task attaches the first network itself and one task each takes the others: a
        # setup one network at a time makes no task at all (tests/benchmarks/bench_networks.py
        # --layer, asyncio serial: the layer's own CPU per sandbox went from 184-197 us to
        # 136-137 us).
        others = [asyncio.ensure_future(self._add(a, deadline)) for a in group[1:]]
        interrupted: BaseException | None = None
        try:
            first: object = await self._add(group[0], deadline)
        except asyncio.CancelledError as err:  # its ADD rolled itself back
            interrupted = first = err
        while not all(task.done() for task in others):
            if interrupted is not None:
                # Each task rolls back its own ADD when cancelled; wait for that, then hand
                # the plan what finished, so it removes those too before the cancellation
                # goes on.
                for task in others:
                    task.cancel()
            try:
                await asyncio.wait(others)
            except asyncio.CancelledError as err:
                interrupted = err
        outcomes = (first, *(asyncio.CancelledError() if t.cancelled() else t.result()
                             for t in others))
        return outcomes if interrupted is None else pod.Interrupted(outcomes, interrupted)

    async def _perform(self, step: pod.PodStep, deadline: float | None) -> object:
        if isinstance(step, pod.Add):
            return await self._add_all(step.attachments, deadline)
        left = remaining(deadline)
        if isinstance(step, pod.Remove):
            await self.cni.del_network_list(step.attachment.net, step.attachment.rt,
                                            timeout=left)
        elif isinstance(step, pod.Check):
            await self.cni.check_network_list(step.attachment.net, step.attachment.rt,
                                              timeout=left)
        elif isinstance(step, pod.Collect):
            await self.cni.gc_network_list(step.net, step.valid, timeout=left)
        elif isinstance(step, pod.Status):
            await self.cni.get_status_network_list(step.net, timeout=left)
        else:
            await asyncio.to_thread(self._bring_up_lo, step.netns)
        return None

    async def _drive(self, plan: pod.PodPlan, deadline: float | None) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    outcome = await self._perform(step, deadline)
                except CNIError as err:
                    step = plan.throw(err)
                else:
                    step = plan.send(outcome)
        except StopIteration as stop:
            return stop.value
        finally:
            plan.close()

    # --- operations ---------------------------------------------------------------------------

    async def setup(
        self,
        container_id: str,
        netns: str,
        *,
        networks: Sequence[str | tuple[str, str]] | None = None,
        capability_args: Mapping[str, Any] | None = None,
        args: Any = None,
        parallel: bool = False,
        timeout: float | None = None,
    ) -> PodResult:
        """Attach a sandbox to its networks (see :meth:`cnilib.networks.Networks.setup`).

        Raises:
            SetupError: a network failed; the others were removed again, in reverse.
            ConfigNotFoundError: a network asked for is not loaded.
            ConfigError: a malformed request (nothing ran).
            LockTimeoutError: the container stayed locked past ``timeout``.
        """
        deadline = deadline_of(timeout)
        plan = self._setup_plan(container_id, netns, networks, capability_args=capability_args,
                                args=args, parallel=parallel)
        async with self._container_locked(container_id, deadline, keep=True):
            return await self._drive(plan, deadline)  # type: ignore[no-any-return]

    async def teardown(
        self,
        container_id: str,
        netns: str,
        *,
        networks: Sequence[str | tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Remove a sandbox from its networks (see :meth:`cnilib.networks.Networks.teardown`).

        Raises:
            TeardownError: every network that could not be removed.
            LockTimeoutError: the container stayed locked past ``timeout``.
        """
        deadline = deadline_of(timeout)
        async with self._container_locked(container_id, deadline, keep=networks is not None):
            await self._drive(self._teardown_plan(container_id, netns, networks), deadline)

    async def check(
        self,
        container_id: str,
        netns: str,
        *,
        networks: Sequence[str | tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """CHECK every attached network (see :meth:`cnilib.networks.Networks.check`).

        Raises:
            MultipleErrors: every network whose CHECK failed.
        """
        deadline = deadline_of(timeout)
        async with self._container_locked(container_id, deadline, keep=True):
            await self._drive(self._check_plan(container_id, netns, networks), deadline)

    async def status(self, *, timeout: float | None = None) -> tuple[str, ...]:
        """Readiness (see :meth:`cnilib.networks.Networks.status`).

        Raises:
            NotReadyError: every reason it is not ready.
        """
        plan, names = self._status_plan()
        await self._drive(plan, deadline_of(timeout))
        return names

    async def gc(self, valid_container_ids: Sequence[str], *,
                 timeout: float | None = None) -> None:
        """GC every loaded network once (see :meth:`cnilib.networks.Networks.gc`).

        Raises:
            MultipleErrors: every failure, after every network was tried.
        """
        await self._drive(self._gc_plan(valid_container_ids), deadline_of(timeout))

    def watch(self, *, interval: float = POLL_INTERVAL) -> AsyncIterator[
            tuple[LoadedNetwork, ...]]:
        """Reload on every change of the configuration or plugin directories.

        An async iterator: each item is the new ``networks`` after a reload. Stop by
        leaving the ``async for`` (or cancelling its task); nothing keeps running. Changes
        are picked up as by :meth:`cnilib.networks.Networks.watch`.

        Args:
            interval: Seconds between two looks.

        Returns:
            The iterator; the directories' state is taken before this returns, so a change
            made right after is never mistaken for the starting state.
        """
        return self._watch(self._fingerprint(), interval)

    async def _watch(self, start: Fingerprint,
                     interval: float) -> AsyncIterator[tuple[LoadedNetwork, ...]]:
        settle = Settle(start)
        while True:
            await asyncio.sleep(interval)
            if not settle.changed(self._fingerprint()):
                continue
            try:
                networks = self.reload()
            except CNIError:
                LOGGER.exception("reloading %s failed", self.conf_dir)
                continue
            yield networks
