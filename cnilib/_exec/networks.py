"""What :class:`~cnilib.networks.Networks` and :class:`~cnilib.aionetworks.AsyncNetworks` share.

Rules of this file:

* It holds the state and the decisions that are not plans: the loaded directory (swapped
  whole on reload, so a setup never sees half of one), the default selection, building the
  attachments of a setup from the loaded networks and of a teardown from the cache, the
  per-container lock's path, and the static part of readiness. The plans are in
  :mod:`cnilib._plans.sandbox`; the two drivers only perform steps.
* A teardown, a check and a GC use what the cache holds (the network's bytes and the
  RuntimeConf of its ADD), so they work after the file changed or was removed (G14 in
  docs/guarantees.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from cnilib._cache import locks as _lock
from cnilib._plans import sandbox as pod
from cnilib.confdir import LoadedNetwork, fingerprint, load_directory
from cnilib.config import NetworkConfigList, conflist_from_bytes
from cnilib.errors import CNIError, ConfigError, ConfigNotFoundError
from cnilib.identifiers import check_container_id
from cnilib.protocol import GCAttachment, RuntimeConf

from .engine import LOGGER
from .loopback import bring_up_lo

if TYPE_CHECKING:
    from cnilib.aio import AsyncCNIConfig
    from cnilib.api import CNIConfig
    from cnilib.cache import CacheEntry, ResultCache
    from cnilib.invoke import AsyncExecutor, Executor

__all__ = ["LOOPBACK_NETWORK", "POLL_INTERVAL", "Fingerprint", "NetworksCore", "Settle",
           "deadline_of", "remaining"]

#: The network that brings ``lo`` up (go-cni's ``cni-loopback``).
LOOPBACK_NETWORK: Final = "cni-loopback"
_LOOPBACK_BYTES: Final = (b'{"cniVersion":"1.0.0","name":"cni-loopback",'
                          b'"plugins":[{"type":"loopback"}]}')
#: Seconds between two looks at the directories in ``watch()``.
POLL_INTERVAL: Final = 0.2


#: What :func:`cnilib.confdir.fingerprint` returns.
Fingerprint: TypeAlias = frozenset[tuple[str, int, int, int]]


class Settle:
    """When a watcher reloads: once the directories changed, then stayed the same for one look.

    Pure: both ``watch()`` methods hand it each new fingerprint and reload when it says so,
    so a file being written is not read half-way.
    """

    def __init__(self, start: Fingerprint) -> None:
        self.loaded = start
        self.seen = start

    def changed(self, now: Fingerprint) -> bool:
        """Whether to reload now, given the directories' fingerprint of this look."""
        if now != self.seen:  # changing: wait until it stays the same for one interval
            self.seen = now
            return False
        if now == self.loaded:
            return False
        self.loaded = now
        return True


def _prefix(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 10:
        msg = f"ifname_prefix must be a string of 1 to 10 characters, not {value!r}"
        raise ConfigError(msg)
    return value


class NetworksCore:
    """The state and decisions shared by the two runtime-layer drivers.

    Subclasses make their ``CNIConfig`` (or ``AsyncCNIConfig``) and hand it to
    :meth:`_init_core`; the plans they drive come from the ``_*_plan`` methods.
    """

    _path: tuple[str, ...]
    _cache: ResultCache
    _executor: Executor | AsyncExecutor
    #: How ``lo`` is brought up when the loopback plugin is missing (tests replace it).
    _bring_up_lo = staticmethod(bring_up_lo)

    def _init_core(self, cni: CNIConfig | AsyncCNIConfig, conf_dir: str | os.PathLike[str], *,
                   default_network: str | None, max_networks: object, ifname_prefix: str,
                   loopback: bool) -> None:
        self._path = cni.path
        self._cache = cni.cache
        self._executor = cni.executor
        if isinstance(max_networks, bool) or not isinstance(max_networks, int) or (
                max_networks < 0):
            msg = f"max_networks must be an integer >= 0, not {max_networks!r}"
            raise ConfigError(msg)
        if default_network is not None and not isinstance(default_network, str):
            msg = f"default_network must be a network name or None, not {default_network!r}"
            raise ConfigError(msg)
        self.conf_dir = os.fspath(conf_dir)
        self.default_network = default_network
        self.max_networks: int = max_networks
        self.ifname_prefix = _prefix(ifname_prefix)
        self.loopback = bool(loopback)
        self._loaded: tuple[LoadedNetwork, ...] = ()
        self._reported: set[tuple[str, str]] = set()
        self._warned_caps: set[str] = set()
        self._loopback_net = conflist_from_bytes(_LOOPBACK_BYTES, validate=False)
        self.reload()

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(conf_dir={self.conf_dir!r}, plugin_dirs={list(self._path)!r})"

    # --- the directory ------------------------------------------------------------------------

    @property
    def networks(self) -> tuple[LoadedNetwork, ...]:
        """Every file of the configuration directory as last loaded, with its problems."""
        return self._loaded

    def reload(self) -> tuple[LoadedNetwork, ...]:
        """Read the configuration directory again; invalid files are skipped and logged.

        A file's problems are logged at WARNING once (with file, line and column), not on
        every reload. The new set replaces the old one whole: a setup running meanwhile
        keeps the one it started with.

        Returns:
            The new :attr:`networks`.

        Raises:
            ConfigError: the directory cannot be listed (the previous set is kept).
        """
        loaded = load_directory(self.conf_dir)
        for item in loaded:
            if item.valid:
                continue
            for problem in item.problems:
                key = (item.source, str(problem))
                if key not in self._reported:
                    self._reported.add(key)
                    LOGGER.warning("network configuration skipped: %s", problem)
        self._loaded = loaded  # one reference swap: readers see the old set or the new one
        return loaded

    def _fingerprint(self) -> Fingerprint:
        return fingerprint(self.conf_dir, self._path)

    def _valid(self) -> dict[str, NetworkConfigList]:
        return {n.name: n.config for n in self._loaded if n.config is not None}

    def default_selection(self) -> tuple[str, ...]:
        """The networks :meth:`setup` attaches when given none, in order.

        The default network first (``default_network``, or the first valid file in libcni's
        order, as ocicni), then the next valid ones in that order, ``max_networks`` in all
        (0: every one).

        Raises:
            ConfigNotFoundError: ``default_network`` is not loaded, or nothing is.
        """
        return self._selection(self._valid())

    def _selection(self, loaded: Mapping[str, NetworkConfigList]) -> tuple[str, ...]:
        valid = list(loaded)
        if self.default_network is not None:
            if self.default_network not in valid:
                msg = f'default network "{self.default_network}" is not loaded from {self.conf_dir}'
                raise ConfigNotFoundError(msg, directory=self.conf_dir, name=self.default_network)
            valid.remove(self.default_network)
            valid.insert(0, self.default_network)
        if not valid:
            msg = f"no valid network configuration in {self.conf_dir}"
            raise ConfigNotFoundError(msg, directory=self.conf_dir)
        return tuple(valid if self.max_networks == 0 else valid[:self.max_networks])

    # --- setup --------------------------------------------------------------------------------

    def _setup_plan(self, container_id: str, netns: object,
                    networks: Sequence[pod.NetworkRequest] | None, *,
                    capability_args: Mapping[str, Any] | None, args: Any,
                    parallel: object) -> pod.PodPlan:
        """The plan of ``setup()``; a malformed request raises here, before anything runs."""
        atts, by_hand = self._setup_attachments(container_id, netns, networks,
                                                capability_args, args)
        return pod.setup(atts, parallel=bool(parallel), container_id=container_id,
                         loopback_netns=by_hand)

    def _setup_attachments(self, container_id: str, netns: object,
                           networks: Sequence[pod.NetworkRequest] | None,
                           capability_args: Mapping[str, Any] | None,
                           args: Any) -> tuple[tuple[pod.Attachment, ...], str | None]:
        check_container_id(container_id)
        if not isinstance(netns, str) or not netns:
            msg = f"setup needs the sandbox's netns path, not {netns!r}"
            raise ConfigError(msg)
        if isinstance(networks, str):
            networks = (networks,)
        valid = self._valid()  # one snapshot for the whole setup, whatever reloads meanwhile
        requests = self._selection(valid) if networks is None else tuple(networks)
        pairs = pod.allocate_ifnames(requests, self.ifname_prefix)
        names = {name for name, _ in pairs}
        out: list[pod.Attachment] = []
        by_hand: str | None = None
        if self.loopback and not self._has_loopback_plugin():
            by_hand = netns  # no plugin: cnilib sets lo up itself, nothing to cache or undo
        elif self.loopback:
            out.append(pod.Attachment(network=LOOPBACK_NETWORK, ifname="lo",
                                      net=self._loopback_net,
                                      rt=RuntimeConf(container_id, netns, "lo")))
        for name, ifname in pairs:
            net = valid.get(name)
            if net is None:
                msg = f'network "{name}" is not loaded from {self.conf_dir}'
                raise ConfigNotFoundError(msg, directory=self.conf_dir, name=name)
            caps = pod.for_network(capability_args, name, names) or {}
            if not isinstance(caps, Mapping):
                msg = f"capability_args for {name} must be a mapping, not {caps!r}"
                raise ConfigError(msg)
            self._warn_capabilities(caps)
            net_args = pod.for_network(args, name, names) or ()
            out.append(pod.Attachment(network=name, ifname=ifname, net=net,
                                      rt=RuntimeConf(container_id, netns, ifname, net_args,
                                                     caps)))
        return tuple(out), by_hand

    def _has_loopback_plugin(self) -> bool:
        try:
            self._executor.find("loopback", self._path)
        except Exception:
            return False
        return True

    def _warn_capabilities(self, caps: Mapping[str, Any]) -> None:
        unknown = [c for c in caps if c not in self._warned_caps]
        if not unknown:
            return
        declared = {cap for n in self._loaded if n.config is not None
                    for plugin in n.config.plugins
                    for cap, on in plugin.capabilities.items() if on is True}
        for cap in unknown:
            self._warned_caps.add(cap)
            if cap not in declared:
                LOGGER.warning("capability %r is passed but no loaded plugin declares it; "
                               "no plugin will receive it", cap)

    def _pod_lock(self, container_id: str, deadline: float | None, *,
                  keep: bool) -> tuple[_lock.Hold, list[bool]]:
        """The container lock to take, and the flag its driver sets once the call ended well.

        The lock file lives from the container's setup to its teardown: kept at the release of
        a setup or check that ended without an error when ``keep`` is asked, removed
        otherwise (a teardown, a failed call). Creating and removing it at every call cost a
        file creation and a removal per setup, teardown and check.
        """
        check_container_id(container_id)
        path = os.path.join(self._cache.root, _lock.LOCKS_DIR,
                            _lock.container_lock_name(container_id))
        ended = [False]
        return (_lock.Hold(path=path, exclusive=True, transient=True, deadline=deadline,
                           remove=lambda: not (keep and ended[0]), gate=None), ended)

    # --- teardown, check, GC: from the cache --------------------------------------------------

    def _replay(self, entry: CacheEntry, netns: str,
                valid: Mapping[str, NetworkConfigList]) -> pod.Attachment:
        """The attachment as it was added: its cached bytes and RuntimeConf."""
        loaded = valid.get(entry.network_name)
        if entry.network_name == LOOPBACK_NETWORK and entry.config == _LOOPBACK_BYTES:
            net = self._loopback_net
        elif loaded is not None and (loaded.bytes == entry.config or not entry.config):
            net = loaded  # the same bytes, with the drop-ins the file has
        elif entry.config:
            net = conflist_from_bytes(entry.config, validate=False)
        else:
            msg = (f'network "{entry.network_name}" is not loaded and its cache entry '
                   f"(legacy format) holds no configuration")
            raise ConfigNotFoundError(msg, directory=self.conf_dir, name=entry.network_name)
        rt = RuntimeConf(entry.container_id, netns, entry.ifname, entry.cni_args,
                         entry.capability_args)
        return pod.Attachment(network=entry.network_name, ifname=entry.ifname, net=net, rt=rt)

    def _teardown_plan(self, container_id: str, netns: str,
                       networks: Sequence[pod.NetworkRequest] | None) -> pod.PodPlan:
        """The plan of ``teardown()`` (called with the container locked)."""
        atts, problems = self._cached_attachments(container_id, netns, networks,
                                                  for_delete=True)
        return pod.teardown(atts, container_id=container_id, problems=problems)

    def _check_plan(self, container_id: str, netns: str,
                    networks: Sequence[pod.NetworkRequest] | None) -> pod.PodPlan:
        """The plan of ``check()`` (called with the container locked)."""
        atts, problems = self._cached_attachments(container_id, netns, networks,
                                                  for_delete=False)
        return pod.check(atts, container_id=container_id, problems=problems)

    def _cached_attachments(
        self, container_id: str, netns: str, networks: Sequence[pod.NetworkRequest] | None,
        *, for_delete: bool,
    ) -> tuple[tuple[pod.Attachment, ...], list[CNIError]]:
        check_container_id(container_id)
        if not isinstance(netns, str):
            msg = f"netns must be a path string, not {netns!r}"
            raise ConfigError(msg)
        entries = sorted(self._cache.attachments(container_id),
                         key=lambda e: pod.order_key(e.ifname))
        if networks is not None:
            if isinstance(networks, str):
                networks = (networks,)
            wanted = [(r, None) if isinstance(r, str) else (r[0], r[1]) for r in networks]
            entries = [e for e in entries if any(
                e.network_name == n and (i is None or e.ifname == i) for n, i in wanted)]
        out: list[pod.Attachment] = []
        problems: list[CNIError] = []
        valid = self._valid()
        given = _netns(netns, for_delete) if netns else None  # looked at once, not per entry
        for entry in entries:
            where = _netns(entry.netns, for_delete) if given is None else given
            try:
                out.append(self._replay(entry, where, valid))
            except CNIError as err:
                err.add_note(f"network {entry.network_name}, interface {entry.ifname}")
                problems.append(err)
        return tuple(out), problems

    def _gc_plan(self, valid_container_ids: Sequence[str]) -> pod.PodPlan:
        """The plan of ``gc()``; a malformed list raises here, before anything runs."""
        return pod.gc(self._gc_targets(valid_container_ids))

    def _gc_targets(self, valid_container_ids: Sequence[str]) -> list[
            tuple[NetworkConfigList, list[GCAttachment]]]:
        if isinstance(valid_container_ids, str):
            msg = "valid_container_ids is a collection of container IDs, not one string"
            raise ConfigError(msg)
        keep = set(valid_container_ids)
        for cid in keep:
            check_container_id(cid)
        entries = self._cache.attachments()
        nets = list(self._valid().values())
        if self.loopback:
            nets.insert(0, self._loopback_net)
        return [(net, [GCAttachment(e.container_id, e.ifname) for e in entries
                       if e.network_name == net.name and e.container_id in keep])
                for net in nets]

    # --- readiness ----------------------------------------------------------------------------

    def _status_plan(self) -> tuple[pod.PodPlan, tuple[str, ...]]:
        """The plan of ``status()`` and the networks it returns when ready."""
        problems, chosen = self._static_problems()
        names = tuple(net.name for net in chosen if net is not self._loopback_net)
        return pod.status(problems, chosen), names

    def _static_problems(self) -> tuple[list[str], list[NetworkConfigList]]:
        problems: list[str] = []
        valid = self._valid()
        want = max(self.max_networks, 1)
        if len(valid) < want:
            problems.append(f"{len(valid)} valid network(s) loaded from {self.conf_dir}, "
                            f"{want} needed")
        try:
            chosen = [valid[n] for n in self._selection(valid)]
        except ConfigNotFoundError as err:
            problems.append(str(err))
            chosen = []
        if self.loopback and self._has_loopback_plugin():
            chosen.insert(0, self._loopback_net)
        for net in chosen:
            for plugin in net.plugins:
                try:
                    self._executor.find(plugin.type, self._path)
                except Exception as err:
                    problems.append(f'network "{net.name}": plugin "{plugin.type}" not found '
                                    f"in {':'.join(self._path)}: {err}")
        return problems, chosen


def _netns(netns: str, for_delete: bool) -> str:
    if for_delete and netns and not os.path.exists(netns):
        # The node rebooted or the sandbox is gone: plugins release what they hold without
        # a namespace (SPEC.md, section *DEL*: clean up even when it no longer exists).
        LOGGER.info("netns %s is gone; deleting without it", netns)
        return ""
    return netns


def deadline_of(timeout: object) -> float | None:
    """The monotonic deadline of a whole call (``None``: each network its own default)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        msg = f"timeout must be a number of seconds > 0 or None, not {timeout!r}"
        raise ConfigError(msg)
    return time.monotonic() + timeout


def remaining(deadline: float | None) -> float | None:
    """Seconds left for the next network (at least a millisecond, so the call reports it)."""
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)
