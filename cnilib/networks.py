"""The synchronous runtime layer: :class:`Networks`, a sandbox on several networks at once.

What containerd gets from go-cni and CRI-O from ocicni: attach a sandbox to its default
network and extra ones, undo a half-done attach, tear down from what was cached, report
readiness, follow the configuration directory. See ``docs/runtimes.md``.

Rules of this file:

* It is a driver, not a brain: the plans of :mod:`cnilib._plans.sandbox` decide (order,
  interface names, rollback, error collection); this class performs their steps with a
  :class:`~cnilib.api.CNIConfig`, and :class:`~cnilib.aionetworks.AsyncNetworks` performs the
  same ones with an :class:`~cnilib.aio.AsyncCNIConfig`.
* Setup, teardown and check of one container hold its lock (a file under the cache's
  ``locks/``) for their whole run, across threads and processes.
* ``parallel=True`` attaches the networks of one setup at once: the first on the calling
  thread, each other one on a thread of its own.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

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
from .api import CNIConfig
from .errors import CNIError

if TYPE_CHECKING:
    from .confdir import LoadedNetwork
    from .invoke import Executor
    from .pod import PodResult
    from .protocol import Command

__all__ = ["Networks", "Watcher"]

T = TypeVar("T")


class Networks(NetworksCore):
    """Attach sandboxes to the networks of a configuration directory (go-cni, ocicni).

    Args:
        conf_dir: The configuration directory, loaded now (see :meth:`reload`).
        plugin_dirs: Plugin directories, as :class:`~cnilib.api.CNIConfig`'s ``path``.
        cache_dir: The result cache root (libcni's).
        default_network: The network attached first; ``None``: the first valid file in
            libcni's sort order (ocicni's rule).
        max_networks: How many networks of the directory :meth:`setup` attaches by default
            (1, go-cni's default; 0: all).
        ifname_prefix: Interfaces are named ``<prefix>0``, ``<prefix>1``... in attach order.
        loopback: Also bring ``lo`` up in the sandbox: the ``loopback`` plugin, as network
            ``cni-loopback``, attached first and removed last; where the plugin is missing,
            cnilib sets ``lo`` up itself (nothing to cache or undo).
        executor: How plugins are found and run (default
            :class:`~cnilib.invoke.SubprocessExecutor`).
        timeouts: Per-verb budgets, as :class:`~cnilib.api.CNIConfig`'s.

    Attributes:
        cni: The :class:`~cnilib.api.CNIConfig` every network runs through.

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
        executor: Executor | None = None,
        timeouts: Mapping[Command | str, float | None] | None = None,
    ) -> None:
        self.cni = CNIConfig(plugin_dirs, cache_dir, executor=executor, timeouts=timeouts)
        self._init_core(self.cni, conf_dir, default_network=default_network,
                        max_networks=max_networks, ifname_prefix=ifname_prefix,
                        loopback=loopback)

    # --- the driver ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _container_locked(self, container_id: str, deadline: float | None, *,
                          keep: bool) -> Iterator[None]:
        hold, ended = self._pod_lock(container_id, deadline, keep=keep)
        with _lock.hold(**hold):
            yield
            ended[0] = True

    def _add(self, att: pod.Attachment, deadline: float | None) -> object:
        try:
            return self.cni.add_network_list(att.net, att.rt, timeout=remaining(deadline))
        except BaseException as err:
            return err

    def _add_all(self, group: tuple[pod.Attachment, ...], deadline: float | None) -> tuple[
            object, ...]:
        # The calling thread attaches the first network itself and one thread each takes the
        # others: a parallel setup of two networks starts one thread, not a pool of two
        # (tests/benchmarks/bench_networks.py --layer, threads parallel: the layer's own CPU
        # per sandbox went from 313-351 us to 239-243 us).
        outcomes: list[object] = [None] * len(group)

        def add(index: int) -> None:
            outcomes[index] = self._add(group[index], deadline)

        others: list[threading.Thread] = []
        try:
            for index in range(1, len(group)):
                thread = threading.Thread(target=add, args=(index,), name="cnilib-setup")
                try:
                    thread.start()
                except RuntimeError as err:  # no thread to be had: the plan rolls back
                    outcomes[index] = err
                else:
                    others.append(thread)
            add(0)
        finally:
            for thread in others:
                thread.join()
        return tuple(outcomes)

    def _perform(self, step: pod.PodStep, deadline: float | None) -> object:
        if isinstance(step, pod.Add):
            return self._add_all(step.attachments, deadline)
        left = remaining(deadline)
        if isinstance(step, pod.Remove):
            self.cni.del_network_list(step.attachment.net, step.attachment.rt, timeout=left)
        elif isinstance(step, pod.Check):
            self.cni.check_network_list(step.attachment.net, step.attachment.rt, timeout=left)
        elif isinstance(step, pod.Collect):
            self.cni.gc_network_list(step.net, step.valid, timeout=left)
        elif isinstance(step, pod.Status):
            self.cni.get_status_network_list(step.net, timeout=left)
        else:
            self._bring_up_lo(step.netns)
        return None

    def _drive(self, plan: pod.PodPlan, deadline: float | None) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    outcome = self._perform(step, deadline)
                except CNIError as err:
                    step = plan.throw(err)
                else:
                    step = plan.send(outcome)
        except StopIteration as stop:
            return stop.value
        finally:
            plan.close()

    # --- operations ---------------------------------------------------------------------------

    def setup(
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
        """Attach a sandbox to its networks; all of them, or none.

        Args:
            container_id: The sandbox's container ID.
            netns: Its network namespace path.
            networks: Network names, or ``(name, ifname)`` pairs, in attach order; ``None``:
                the default selection (:meth:`default_selection`). Bare names get
                ``<ifname_prefix><n>``.
            capability_args: Capability arguments for every network (see
                :func:`cnilib.capabilities.capability_args`), or a mapping from network name
                to each network's own.
            args: ``CNI_ARGS`` pairs for every network, or a mapping from network name to
                each network's own.
            parallel: Attach the networks concurrently (go-cni's ``Setup``); by default one
                after the other (SPEC.md, section *Lifecycle & Ordering*: no parallel
                operations for one container, across its attachments too).
            timeout: Seconds for the whole setup (``None``: each network's ADD has the
                default budget).

        Returns:
            The aggregate of the results.

        Raises:
            SetupError: a network failed; every network attached by this call was removed
                again, in reverse order (the message says which).
            ConfigNotFoundError: a network asked for is not loaded.
            ConfigError: a malformed request (nothing ran).
            InvalidIdentifierError: an invalid container ID, network or interface name.
            LockTimeoutError: the container stayed locked past ``timeout``.
        """
        deadline = deadline_of(timeout)
        plan = self._setup_plan(container_id, netns, networks, capability_args=capability_args,
                                args=args, parallel=parallel)
        with self._container_locked(container_id, deadline, keep=True):
            return self._drive(plan, deadline)  # type: ignore[no-any-return]

    def teardown(
        self,
        container_id: str,
        netns: str,
        *,
        networks: Sequence[str | tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Remove a sandbox from its networks, with what their ADD cached.

        Each network is deleted with the configuration bytes and the RuntimeConf (capability
        arguments, ``CNI_ARGS``) cached at its ADD, so the caller passes neither and it works
        after the file changed or was removed; in reverse setup order; a namespace that is
        gone is left out of the requests; every network is tried.

        Args:
            container_id: The sandbox's container ID.
            netns: Its namespace path (may be gone, or ``""``).
            networks: Only these networks (names or ``(name, ifname)`` pairs); ``None``: every
                attachment the cache holds for the container.
            timeout: Seconds for the whole teardown.

        Raises:
            TeardownError: every network that could not be removed (an ``ExceptionGroup``);
                those stay cached so that the teardown can be retried.
            InvalidIdentifierError: an invalid container ID.
            LockTimeoutError: the container stayed locked past ``timeout``.
        """
        deadline = deadline_of(timeout)
        with self._container_locked(container_id, deadline, keep=networks is not None):
            self._drive(self._teardown_plan(container_id, netns, networks), deadline)

    def check(
        self,
        container_id: str,
        netns: str,
        *,
        networks: Sequence[str | tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """CHECK every attached network with the RuntimeConf its ADD cached.

        Args:
            container_id: The sandbox's container ID.
            netns: Its namespace path (``""``: the cached one).
            networks: Only these networks; ``None``: every cached attachment.
            timeout: Seconds for the whole check.

        Raises:
            MultipleErrors: every network whose CHECK failed, each with a note naming it.
        """
        deadline = deadline_of(timeout)
        with self._container_locked(container_id, deadline, keep=True):
            self._drive(self._check_plan(container_id, netns, networks), deadline)

    def status(self, *, timeout: float | None = None) -> tuple[str, ...]:
        """Whether sandboxes can be attached now (a CRI runtime's "network ready").

        Ready means: at least ``max_networks`` valid networks are loaded (at least one when
        it is 0), every plugin of the default selection (and ``loopback``) is on the plugin
        path, and STATUS passes for those of version 1.1.0 and later.

        Args:
            timeout: Seconds for each network's STATUS.

        Returns:
            The networks of the default selection.

        Raises:
            NotReadyError: every reason it is not (code 50).
        """
        plan, names = self._status_plan()
        self._drive(plan, deadline_of(timeout))
        return names

    def gc(self, valid_container_ids: Sequence[str], *, timeout: float | None = None) -> None:
        """Garbage-collect every loaded network, once each (SPEC.md, section *GC*).

        The valid attachments of each network are the cached attachments of the containers
        in ``valid_container_ids``; the other cached ones are deleted, and plugins of 1.1.0
        and later get GC with the valid list.

        Args:
            valid_container_ids: The containers whose sandboxes still exist.
            timeout: Seconds for the whole GC.

        Raises:
            MultipleErrors: every failure, after every network was tried.
        """
        self._drive(self._gc_plan(valid_container_ids), deadline_of(timeout))

    def watch(self, on_change: Callable[[tuple[LoadedNetwork, ...]], None] | None = None,
              *, interval: float = POLL_INTERVAL) -> Watcher:
        """Reload whenever the configuration or plugin directories change, on a thread.

        Use it as a context manager (``with nets.watch(): ...``) or call
        :meth:`Watcher.stop`. A change is picked up within about twice ``interval`` and
        loaded once the directories have stayed unchanged for one interval, so a file being
        written is not read half-way (``docs/design.md`` says why this polls).

        Args:
            on_change: Called with the new :attr:`networks` after each reload (on the
                watcher's thread; its exceptions are logged).
            interval: Seconds between two looks.

        Returns:
            The running watcher.
        """
        watcher = Watcher(self, on_change, interval)
        watcher.start()
        return watcher


class Watcher:
    """The thread behind :meth:`Networks.watch`; a context manager that stops it on exit."""

    def __init__(self, owner: Networks,
                 on_change: Callable[[tuple[LoadedNetwork, ...]], None] | None,
                 interval: float) -> None:
        self._owner = owner
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cnilib-watch", daemon=True)
        self._start: Fingerprint = frozenset()
        #: How many reloads the watcher has made.
        self.reloads = 0

    def start(self) -> None:
        """Start watching (done by :meth:`Networks.watch`).

        The directories' state is taken before this returns, so a change made right after is
        never mistaken for the starting state.
        """
        self._start = self._owner._fingerprint()
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        owner = self._owner
        settle = Settle(self._start)
        while not self._stop.wait(self._interval):
            if not settle.changed(owner._fingerprint()):
                continue
            try:
                networks = owner.reload()
                self.reloads += 1
                if self._on_change is not None:
                    self._on_change(networks)
            except Exception:  # a watcher must survive a bad directory or callback
                LOGGER.exception("reloading %s failed", owner.conf_dir)
