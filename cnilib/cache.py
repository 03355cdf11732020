"""The result cache: libcni's ``cniCacheV1`` files, written atomically, read defensively.

Rules of this file:

* The format is byte-compatible with Go libcni (``libcni/api.go``): the same path
  (``<root>/results/<net>-<cid>-<ifname>``), key order, base64 ``config``, omitted empties,
  sorted keys inside ``result`` and ``capabilityArgs``, Go's escaping of ``<``, ``>``, ``&``.
* The three identifiers are checked before any path is built, on every call (G6 in
  docs/guarantees.md), and a file is only taken for the attachment its stored triple names.
* Writes are atomic: temp file in the same folder (0600), rename; result entries are also
  durable (fsync of the file and the folder, G5). Nothing else is synced: removals and the
  ADD-in-progress records only matter to a process that is killed, which loses nothing the
  kernel holds (docs/cache.md, "Which writes are synced, and why"). Nothing under the root
  is followed if it is a symbolic link (:mod:`cnilib._cache.fs`); reads also refuse
  non-regular and oversized files.
* An ADD in progress is recorded in ``<root>/inprogress/`` (same name and format as its entry,
  without a result) before its first plugin runs, and removed when the result is cached or
  the rollback is done, so that DEL and GC can undo an ADD whose process died (G14).
* Unusable entries raise :class:`~cnilib.errors.CacheError`, never pass silently: code
  ``DECODING_FAILURE`` for a corrupt or unknown entry, ``IO_FAILURE`` for an I/O failure.
* Locks (:meth:`ResultCache.lock`, :meth:`ResultCache.gc_lock`) are ``flock`` files beside
  ``results/``; see :mod:`cnilib._cache.locks` for their order.
* Size (about 560 lines): the file format is :mod:`cnilib._cache.entry`, the safe file system
  calls :mod:`cnilib._cache.fs`, the locks :mod:`cnilib._cache.locks`; what remains is the public
  :class:`ResultCache` (entries, ADD-in-progress records, sync and async locks), each method
  documented, which is most of the lines.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator

import attrs

from ._cache import entry as _cachefmt
from ._cache import fs as _cachefs
from ._cache import locks as _lock
from ._json import JSONObject
from .errors import CacheError, CNIError, ErrorCode
from .identifiers import (
    _cni_arg_pairs,
    check_container_id,
    check_interface_name,
    check_network_name,
)

__all__ = ["CacheEntry", "ResultCache"]

_RESULTS = "results"
_PENDING = "inprogress"
_MAX_ENTRY = 32 * 1024 * 1024


@attrs.frozen(kw_only=True)
class CacheEntry:
    """One cached attachment: libcni's ``cniCacheV1`` record (``libcni/api.go``).

    Args:
        network_name: The network (list) name.
        container_id: The container ID.
        ifname: The interface name inside the container.
        config: The configuration bytes, verbatim (``NetworkConfigList.bytes`` for a list,
            ``PluginConfig.bytes`` for a single plugin).
        netns: The netns path given at ADD (``""`` if none).
        cni_args: ``CNI_ARGS`` pairs, in order (a mapping is taken in its order).
        capability_args: The runtime's whole capability arguments (not filtered).
        result: The final result as a JSON object, or ``None`` (e.g. an empty plugin list).
        legacy: Read from a pre-2019 file that holds only the bare result: ``config`` is
            empty and unknown (as libcni's ``getCachedResult`` reads it).
        in_progress: An "ADD in progress" record, not a finished attachment: the ADD that
            wrote it has not (yet) cached its result or finished its rollback; ``result`` is
            ``None``. Only :meth:`ResultCache.attachments` and :meth:`ResultCache.pending`
            return such entries.

    Raises:
        InvalidIdentifierError: An identifier breaks its rule, or a ``cni_args`` pair is not
            two strings.
        CacheError: Another field has the wrong type.
    """

    network_name: str
    container_id: str
    ifname: str
    config: bytes = b""
    netns: str = ""
    cni_args: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_cni_arg_pairs)
    capability_args: JSONObject = attrs.field(factory=dict)
    result: JSONObject | None = None
    legacy: bool = False
    in_progress: bool = False

    def __attrs_post_init__(self) -> None:
        _names(self.network_name, self.container_id, self.ifname)  # checks each identifier
        checks: tuple[tuple[str, object, type | tuple[type, ...]], ...] = (
            ("config", self.config, bytes),
            ("netns", self.netns, str),
            ("capability_args", self.capability_args, dict),
            ("result", self.result, (dict, type(None))),
            ("legacy", self.legacy, bool),
            ("in_progress", self.in_progress, bool),
        )
        for name, value, kind in checks:
            if not isinstance(value, kind):
                msg = f"CacheEntry.{name} cannot be a {type(value).__name__}"
                raise CacheError(msg)

    def to_bytes(self) -> bytes:
        """The entry in libcni's exact ``cniCacheV1`` encoding, as :meth:`ResultCache.save` writes.

        Returns:
            Compact JSON, keys in libcni's order, empty optional fields left out.

        Raises:
            CacheError: ``result`` or ``capability_args`` holds something JSON cannot carry.
        """
        return _cachefmt.encode(
            container_id=self.container_id,
            config=self.config,
            ifname=self.ifname,
            network_name=self.network_name,
            netns=self.netns,
            cni_args=self.cni_args,
            capability_args=self.capability_args,
            result=self.result,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        """Parse a ``cniCacheV1`` entry (not a legacy one; see :meth:`ResultCache.load`).

        Args:
            data: The file's bytes.

        Returns:
            The entry. Keys libcni does not know are ignored, as Go does.

        Raises:
            CacheError: Code ``DECODING_FAILURE``: empty, not JSON, not an object, another
                ``kind``, a field of the wrong type, bad base64, or invalid identifiers.
        """
        fields = _cachefmt.fields_of(_cachefmt.decode(data))
        try:
            return cls(**fields)
        except CNIError as err:  # invalid identifiers stored in the file
            msg = f"cache entry is invalid: {err}"
            raise _cachefmt.corrupt(msg, err) from err


class ResultCache:
    """The cache of results, configs and runtime arguments of attachments (docs/cache.md).

    Args:
        root: The cache root (libcni's ``CacheDir``, by default ``/var/lib/cni``). Entries
            live in ``<root>/results/``, "ADD in progress" records in ``<root>/inprogress/``,
            lock files in ``<root>/locks/``.
        lock_timeout: Seconds :meth:`lock` and :meth:`gc_lock` wait when the call gives no
            ``timeout``; ``None`` (the default): no limit, the caller's deadline rules.
        max_entry_size: Entries larger than this many bytes are refused when read.

    The methods that change one attachment's files (:meth:`save`, :meth:`delete`,
    :meth:`begin`, :meth:`finish`) are meant to be called under its :meth:`lock`, as the
    runtime API does: whoever holds it may remove the temp files a crashed writer of that
    attachment left.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        lock_timeout: float | None = None,
        max_entry_size: int = _MAX_ENTRY,
    ) -> None:
        self.root = os.fspath(root)
        self.lock_timeout = lock_timeout
        self.max_entry_size = max_entry_size
        self._results = os.path.join(self.root, _RESULTS)
        # One operation's view (:meth:`operation`): its open folders ("" is the root), and
        # what it knows of its files: (folder, name) -> the triple stored, None if absent.
        self._open: dict[str, int] | None = None
        self._known: dict[tuple[str, str], tuple[str, str, str] | None] | None = None

    def __repr__(self) -> str:
        return f"ResultCache({self.root!r})"

    # -- one operation -------------------------------------------------------------------------

    @contextlib.contextmanager
    def operation(self) -> Iterator[ResultCache]:
        """This cache for the ``with`` body, as one operation of the runtime API uses it.

        The view opens each folder (and the root) once and keeps it open until the body ends,
        instead of once per call, and remembers what it read, wrote and removed, so that a
        removal does not read again a file it just read or wrote, nor remove one it knows is
        not there. What it knows holds only while the body holds the attachment's
        :meth:`lock` (or :meth:`gc_lock`): nobody else changes those files meanwhile. Its
        attachment lock file is kept at release while the attachment may have an entry or an
        ADD-in-progress record, and removed once the view knows it has neither (a DEL).
        The view is not shared between threads.

        Yields:
            The view (a :class:`ResultCache` of the same root and options).
        """
        view = copy.copy(self)
        view._open, view._known = {}, {}
        try:
            yield view
        finally:
            for fd in view._open.values():
                os.close(fd)
            view._open = view._known = None

    def _learn(self, folder: str, name: str, owner: tuple[str, str, str] | None) -> None:
        # Within an operation: the file is absent (None), or holds ``owner``'s entry.
        if self._known is not None:
            self._known[folder, name] = owner

    def _folder(self, folder: str, *, create: bool, action: str,
                shown: str = "") -> contextlib.AbstractContextManager[int | None]:
        # <root>/<folder>, opened for this call, or once for the whole operation (then the
        # ``with`` has nothing to close: a nullcontext, where a generator-based context
        # manager cost about 3 us per use, and an ADD+DEL makes about 20 uses).
        if self._open is None:
            return _cachefs.folder(self.root, folder, create=create, action=action,
                                   shown=shown)
        return contextlib.nullcontext(self._opened(folder, create=create, action=action,
                                                   shown=shown))

    def _opened(self, folder: str, *, create: bool, action: str, shown: str) -> int | None:
        # The operation's descriptor of <root>/<folder>, opened the first time it is needed.
        assert self._open is not None
        dir_fd = self._open.get(folder)
        if dir_fd is None:
            root_fd = self._open.get("")
            if root_fd is None:
                root_fd = _cachefs.open_root(self.root, create=create, action=action,
                                             shown=shown or os.path.join(self.root, folder))
                if root_fd is not None:
                    self._open[""] = root_fd
            if root_fd is not None:
                dir_fd = _cachefs.open_folder(self.root, folder, create=create, action=action,
                                              shown=shown, root_fd=root_fd)
            if dir_fd is not None:
                self._open[folder] = dir_fd
        return dir_fd

    # -- paths -----------------------------------------------------------------------------

    def path_for(self, network_name: str, container_id: str, ifname: str) -> str:
        """The file of one attachment: ``<root>/results/<net>-<cid>-<ifname>`` (libcni's).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule; checked before anything
                else, so no crafted name can point outside ``results/`` (G6).
        """
        return os.path.join(self._results, _name(network_name, container_id, ifname))

    # -- reading ---------------------------------------------------------------------------

    def _load(self, folder: str, key: tuple[str, str, str]) -> CacheEntry | None:
        name = _name(*key)
        path = os.path.join(self.root, folder, name)
        with self._folder(folder, create=False, action="read cache entry",
                          shown=path) as dir_fd:
            data = None if dir_fd is None else _cachefs.read_file(
                dir_fd, name, self.max_entry_size, path)
        if data is None:
            self._learn(folder, name, None)
            return None
        try:
            obj = _cachefmt.decode(data)
            if "kind" not in obj and folder == _RESULTS:
                return CacheEntry(network_name=key[0], container_id=key[1], ifname=key[2],
                                  result=obj, legacy=True)
            entry = CacheEntry.from_bytes(data)
        except CacheError as err:
            msg = f"cache entry {path} is unusable: {err.msg}"
            raise CacheError(msg, code=err.code, details=err.details) from err
        self._learn(folder, name, _triple(entry))
        if _triple(entry) != key:
            return None
        return attrs.evolve(entry, in_progress=True) if folder == _PENDING else entry

    def load(self, network_name: str, container_id: str, ifname: str) -> CacheEntry | None:
        """The cached entry of one attachment.

        A legacy file (the bare result JSON, no ``kind``) is returned with ``legacy=True`` and
        an empty ``config`` (libcni still reads its result).

        Returns:
            The entry, or ``None`` when there is none, or when the file holds the entry of
            another attachment whose name maps to the same file (``a-b``/``c`` and
            ``a``/``b-c``).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule (no file is touched).
            CacheError: The file is unreadable (code ``IO_FAILURE``: a symbolic link, not a
                regular file...), or empty, corrupt or of an unknown ``kind`` (code
                ``DECODING_FAILURE``); the message names the path.
        """
        return self._load(_RESULTS, (network_name, container_id, ifname))

    def pending(self, network_name: str, container_id: str, ifname: str) -> CacheEntry | None:
        """The "ADD in progress" record of one attachment (``in_progress=True``), or ``None``.

        Raises:
            InvalidIdentifierError: An identifier breaks its rule (no file is touched).
            CacheError: The record is unreadable or corrupt.
        """
        return self._load(_PENDING, (network_name, container_id, ifname))

    def _listed(self, folder: str, container_id: str) -> dict[str, CacheEntry]:
        path = os.path.join(self.root, folder)
        out: dict[str, CacheEntry] = {}
        with self._folder(folder, create=False, action="list cache folder") as dir_fd:
            if dir_fd is None:
                return out
            marker = f"-{container_id}-"
            for name in _cachefs.names(dir_fd, path):
                if container_id and marker not in name:
                    continue
                try:
                    data = _cachefs.read_file(dir_fd, name, self.max_entry_size,
                                              os.path.join(path, name))
                    entry = None if data is None else CacheEntry.from_bytes(data)
                except CacheError:
                    continue
                if entry is None or (container_id and entry.container_id != container_id):
                    continue
                if name != _name(*_triple(entry)):
                    continue  # a temp file, a copy, or another attachment's name
                out[name] = entry
        return out

    def attachments(self, container_id: str = "") -> tuple[CacheEntry, ...]:
        """Every cached attachment, or those of one container (libcni GetCachedAttachments).

        Files that are unreadable, legacy, corrupt, not named after their own triple (a temp
        file left by a crash), or of another container are skipped (as libcni skips them). ADDs
        in progress (or whose process died) that have no entry yet are listed too, flagged
        ``in_progress=True``.

        Args:
            container_id: Only this container's attachments; ``""`` for all.

        Returns:
            The entries, sorted by file name.

        Raises:
            InvalidIdentifierError: ``container_id`` is given and breaks its rule.
            CacheError: ``<root>/results`` (or ``inprogress``) exists but cannot be listed: a
                plain file, a symbolic link, unreadable.
        """
        if container_id:
            check_container_id(container_id)
        done = self._listed(_RESULTS, container_id)
        for name, entry in self._listed(_PENDING, container_id).items():
            done.setdefault(name, attrs.evolve(entry, in_progress=True))
        return tuple(done[name] for name in sorted(done))

    # -- writing ---------------------------------------------------------------------------

    def _owner(self, dir_fd: int, name: str, path: str) -> tuple[str, str, str] | None:
        # The triple a readable cniCacheV1 file belongs to; None if unknown.
        try:
            data = _cachefs.read_file(dir_fd, name, self.max_entry_size, path)
            return None if data is None else _triple(CacheEntry.from_bytes(data))
        except CacheError:
            return None

    def _write(self, folder: str, entry: CacheEntry, *, durable: bool) -> str:
        name = _name(*_triple(entry))
        path = os.path.join(self.root, folder, name)
        data = entry.to_bytes()
        with self._folder(folder, create=True, action="write cache entry",
                          shown=path) as dir_fd:
            assert dir_fd is not None
            # Read even when this operation knows the file is absent: an attachment whose
            # name maps to the same file has its own lock and may have written it since.
            owner = self._owner(dir_fd, name, path)
            if owner is not None and owner != _triple(entry):
                msg = f"cache entry {path} belongs to attachment {owner}, not {_triple(entry)}"
                raise CacheError(msg, code=ErrorCode.IO_FAILURE)
            _cachefs.write_file(dir_fd, name, data, path, durable=durable,
                                tag=_temp_tag(*_triple(entry)))
        self._learn(folder, name, _triple(entry))
        return path

    def save(self, entry: CacheEntry) -> str:
        """Write ``entry`` atomically and durably, replacing the attachment's previous one.

        Args:
            entry: The entry to store.

        Returns:
            The path written.

        Raises:
            CacheError: The folder or file cannot be written (the message names the path and
                the system's reason), a symbolic link is in the way, or the file holds
                another attachment's entry (their names map to the same file). The previous
                entry, if any, is left intact.
        """
        return self._write(_RESULTS, entry, durable=True)

    def begin(self, entry: CacheEntry) -> str:
        """Record that an ADD of ``entry``'s attachment is starting (``entry.result`` unused).

        One atomic write, not fsynced: a killed process loses nothing the kernel holds, and a
        power loss takes the namespaces and links the ADD made with it. Temp files a crashed
        writer of this attachment left in ``inprogress/`` are removed first.

        Returns:
            The path written.

        Raises:
            CacheError: The record cannot be written.
        """
        record = attrs.evolve(entry, result=None, legacy=False, in_progress=False)
        self._remove_temp(_PENDING, _triple(entry))
        return self._write(_PENDING, record, durable=False)

    def _remove(self, folder: str, key: tuple[str, str, str]) -> None:
        name = _name(*key)
        path = os.path.join(self.root, folder, name)
        # What this operation read or wrote under the lock: absent, or whose it is.
        known = () if self._known is None else self._known.get((folder, name), ())
        if known is None or known not in ((), key):
            return
        with self._folder(folder, create=False, action="open cache folder") as dir_fd:
            if dir_fd is None:
                return
            owner = self._owner(dir_fd, name, path) if known == () else key
            if owner is not None and owner != key:
                return
            _cachefs.remove(dir_fd, name, path)
        self._learn(folder, name, None)

    def delete(self, network_name: str, container_id: str, ifname: str, *,
               batch: bool = False) -> None:
        """Remove one attachment's entry; nothing to remove is not an error.

        A file that holds another attachment's entry is left alone. Temp files a crashed
        writer of this attachment left in ``results/`` are removed too. Not synced: after a
        power loss the entry may be back, which costs one more DEL or GC of an attachment
        whose namespace the power loss removed anyway (docs/cache.md).

        Args:
            network_name: The network name.
            container_id: The container ID.
            ifname: The interface name.
            batch: One delete of many under :meth:`gc_lock`: the temp files are left to
                :meth:`sweep`, which lists the folder once for all of them.

        Raises:
            InvalidIdentifierError: An identifier breaks its rule (no file is touched).
            CacheError: The file exists but cannot be removed.
        """
        key = (network_name, container_id, ifname)
        self._remove(_RESULTS, key)
        if not batch:
            self._remove_temp(_RESULTS, key)

    def finish(self, network_name: str, container_id: str, ifname: str) -> None:
        """Remove the "ADD in progress" record of one attachment (missing is fine).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule (no file is touched).
            CacheError: The record exists but cannot be removed.
        """
        self._remove(_PENDING, (network_name, container_id, ifname))

    def _remove_temp(self, folder: str, key: tuple[str, str, str]) -> None:
        # The temp file an attachment's writers use first (the one a crash of theirs left);
        # the caller holds the attachment's lock, so it is stale. One unlink, no listing: a
        # DEL among 5,000 entries listed the folder for 2.2 to 2.6 ms of CPU
        # (tests/benchmarks/bench_cache_ops.py --entries 5000). A temp file with other digits
        # (this name was taken when it was written, or an older cnilib wrote it) is GC's.
        name = _cachefs.temp_name(_name(*key), _temp_tag(*key))
        with self._folder(folder, create=False, action="clean cache folder") as dir_fd:
            if dir_fd is not None:
                _cachefs.remove(dir_fd, name, os.path.join(self.root, folder, name))

    def _remove_temps(self, folder: str) -> list[str]:
        # Every temp file in ``folder``: the caller (GC) holds the exclusive GC lock.
        path = os.path.join(self.root, folder)
        removed: list[str] = []
        with self._folder(folder, create=False, action="list cache folder") as dir_fd:
            if dir_fd is None:
                return removed
            for name in _cachefs.names(dir_fd, path):
                if _cachefs.temp_owner(name) is not None and _cachefs.remove(
                        dir_fd, name, os.path.join(path, name)):
                    removed.append(os.path.join(path, name))
        return removed

    def sweep(self) -> tuple[str, ...]:
        """Remove what crashed processes left: temp files, and lock files nobody holds.

        Only safe under :meth:`gc_lock` (no cnilib operation then runs); GC calls it.

        Returns:
            The paths removed.

        Raises:
            CacheError: A folder is a symbolic link, or cannot be listed or cleaned.
        """
        removed = self._remove_temps(_RESULTS) + self._remove_temps(_PENDING)
        removed += [os.path.join(self.root, _lock.LOCKS_DIR, name)
                    for name in _lock.sweep(self.root)]
        return tuple(removed)

    # -- locks -----------------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        limit = self.lock_timeout if timeout is None else timeout
        if limit is None or limit == math.inf:
            return None
        return time.monotonic() + limit

    def _lock_path(self, name: str) -> str:
        return os.path.join(self.root, _lock.LOCKS_DIR, name)

    def _holds(self, key: tuple[str, str, str] | None,
               timeout: float | None) -> list[_lock.Hold]:
        """The locks to take, in the lock order (:mod:`cnilib._lock`): GC's, shared for an
        attachment's ``key`` (checked before anything else) and exclusive for GC (no
        ``key``), then the attachment's."""
        name = None if key is None else _lock_name(*key)
        deadline = self._deadline(timeout)
        holds = [_lock.Hold(path=self._lock_path(_lock.GC_LOCK), exclusive=name is None,
                            transient=False, deadline=deadline, remove=None,
                            gate=_lock.GC_GATE)]
        if key is not None and name is not None:
            holds.append(_lock.Hold(path=self._lock_path(name), exclusive=True, transient=True,
                                    deadline=deadline, remove=self._gone(_name(*key)),
                                    gate=None))
        return holds

    def _gone(self, name: str) -> Callable[[], bool]:
        # Whether an attachment's lock file goes at release: always outside an operation (as
        # before it existed); in one, once it knows there is neither entry nor record left.
        def gone() -> bool:
            if self._known is None:
                return True
            known = self._known.get
            return known((_RESULTS, name), ()) is None and known((_PENDING, name), ()) is None
        return gone

    def _locks_folder(self) -> contextlib.AbstractContextManager[int | None]:
        return self._folder(_lock.LOCKS_DIR, create=True, action="open lock folder")

    def is_locked(self, network_name: str, container_id: str, ifname: str) -> bool:
        """Whether the attachment's lock is held right now (by an operation or its plugin).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule.
            CacheError: ``locks/`` is a symbolic link or cannot be opened.
        """
        return _lock.is_held(self.root, _lock_name(network_name, container_id, ifname))

    @contextlib.contextmanager
    def lock(
        self,
        network_name: str,
        container_id: str,
        ifname: str,
        *,
        timeout: float | None = None,
    ) -> Iterator[int]:
        """Hold one attachment for an ADD, CHECK or DEL, against other threads and processes.

        Yields the descriptor of the attachment's lock: a process that inherits it (the
        runtime API passes it to the plugins) keeps the attachment locked until it exits, so
        that no recovery overtakes a plugin whose runtime died.

        Takes the GC lock shared, then the attachment's lock exclusive (SPEC: operations on
        one container are serialised; GC runs alone). Not re-entrant.

        Args:
            network_name: The network name.
            container_id: The container ID.
            ifname: The interface name.
            timeout: Seconds to wait for both locks together (zero or less: the deadline has
                passed, try once); ``None``: the cache's ``lock_timeout`` (by default no limit).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule.
            LockTimeoutError: The locks were not had in time.
            CacheError: The lock files cannot be created or locked.
        """
        gc, mine = self._holds((network_name, container_id, ifname), timeout)
        with self._locks_folder() as dir_fd, _lock.hold(**gc, dir_fd=dir_fd), \
                _lock.hold(**mine, dir_fd=dir_fd) as fd:
            yield fd

    @contextlib.contextmanager
    def gc_lock(self, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the cache exclusively, for a GC pass: waits for every attachment lock holder.

        Args:
            timeout: Seconds to wait; ``None``: the cache's ``lock_timeout`` (by default no
                limit).

        Raises:
            LockTimeoutError: The lock was not had in time.
            CacheError: The lock file cannot be created or locked.
        """
        (gc,) = self._holds(None, timeout)
        with self._locks_folder() as dir_fd, _lock.hold(**gc, dir_fd=dir_fd):
            yield None

    @contextlib.asynccontextmanager
    async def alock(
        self,
        network_name: str,
        container_id: str,
        ifname: str,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[int]:
        """:meth:`lock` for asyncio (waits with ``asyncio.sleep``, never blocks the loop).

        Yields the descriptor of the attachment's lock, as :meth:`lock` does.

        Raises:
            InvalidIdentifierError: An identifier breaks its rule.
            LockTimeoutError: The locks were not had in time.
            CacheError: The lock files cannot be created or locked.
        """
        gc, mine = self._holds((network_name, container_id, ifname), timeout)
        with self._locks_folder() as dir_fd:
            async with _lock.ahold(**gc, dir_fd=dir_fd), _lock.ahold(**mine, dir_fd=dir_fd) as fd:
                yield fd

    @contextlib.asynccontextmanager
    async def agc_lock(self, *, timeout: float | None = None) -> AsyncIterator[None]:
        """:meth:`gc_lock` for asyncio.

        Raises:
            LockTimeoutError: The lock was not had in time.
            CacheError: The lock file cannot be created or locked.
        """
        (gc,) = self._holds(None, timeout)
        with self._locks_folder() as dir_fd:
            async with _lock.ahold(**gc, dir_fd=dir_fd):
                yield


def _triple(entry: CacheEntry) -> tuple[str, str, str]:
    return (entry.network_name, entry.container_id, entry.ifname)


def _name(network_name: str, container_id: str, ifname: str) -> str:
    # libcni's file name, after checking each identifier (no crafted name leaves the folder).
    return _names(network_name, container_id, ifname)[0]


def _lock_name(network_name: str, container_id: str, ifname: str) -> str:
    return _names(network_name, container_id, ifname)[1]


def _temp_tag(network_name: str, container_id: str, ifname: str) -> str:
    # The attachment's own temp file digits: the start of its lock name (a sha256 of the
    # triple), so two attachments whose entries share a file name (``a-b``/``c`` and
    # ``a``/``b-c``) have distinct temp files too, but for a 1 in 2**32 chance.
    return _names(network_name, container_id, ifname)[1][:_cachefs.TEMP_DIGITS]


def _names(network_name: str, container_id: str, ifname: str) -> tuple[str, str]:
    if type(network_name) is str and type(container_id) is str and type(ifname) is str:
        return _checked_names(network_name, container_id, ifname)
    return _checked_names.__wrapped__(network_name, container_id, ifname)  # it raises


# An operation names its attachment five to ten times (each cache step, its lock); checking
# the identifiers is pure, so a valid triple is checked once (a bad one raises, and is never
# kept). Saves about 4 % of the engine's CPU per ADD+CHECK+DEL cycle (cProfile of the
# FakeExecutor cycle, tests/benchmarks/bench_cache_ops.py).
@functools.lru_cache(maxsize=1024)
def _checked_names(network_name: str, container_id: str, ifname: str) -> tuple[str, str]:
    """The attachment's cache file name (libcni's) and its lock file name.

    Raises:
        InvalidIdentifierError: An identifier breaks its rule.
    """
    check_network_name(network_name)
    check_container_id(container_id)
    check_interface_name(ifname)
    return (f"{network_name}-{container_id}-{ifname}",
            _lock.attachment_lock_name(network_name, container_id, ifname))
