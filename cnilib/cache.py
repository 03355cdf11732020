"""The result cache: libcni's ``cniCacheV1`` files, written atomically, read defensively.

Rules of this file:

* The format is byte-compatible with Go libcni (``libcni/api.go``): the same path
  (``<root>/results/<net>-<cid>-<ifname>``), key order, base64 ``config``, omitted empties,
  sorted keys inside ``result`` and ``capabilityArgs``, Go's escaping of ``<``, ``>``, ``&``.
* The three identifiers are checked before any path is built, on every call (G6 in
  docs/guarantees.md), and a file is only taken for the attachment its stored triple names.
* Writes are atomic and durable: temp file in the same folder (0600), fsync, rename, fsync of
  the folder (G5). Reads refuse symlinks, non-regular files and oversized files.
* Unusable entries raise :class:`~cnilib.errors.CacheError`, never pass silently: code
  ``DECODING_FAILURE`` for a corrupt or unknown entry, ``IO_FAILURE`` for an I/O failure.
* Locks (:meth:`ResultCache.lock`, :meth:`ResultCache.gc_lock`) are ``flock`` files beside
  ``results/``; see :mod:`cnilib._lock` for their order.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping

import attrs

from . import _cachefmt, _lock
from ._json import JSONObject
from .errors import CacheError, CNIError, ErrorCode, InvalidIdentifierError
from .identifiers import check_container_id, check_interface_name, check_network_name

__all__ = ["CacheEntry", "ResultCache"]

_RESULTS = "results"
_MAX_ENTRY = 32 * 1024 * 1024


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        value = list(value.items())
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        msg = f"invalid CNI_ARGS pairs {value!r}: expected (key, value) pairs"
        raise InvalidIdentifierError(msg)
    out: list[tuple[str, str]] = []
    for pair in value:
        kv: tuple[object, ...] = tuple(pair) if isinstance(pair, tuple | list) else ()
        if len(kv) != 2 or not isinstance(kv[0], str) or not isinstance(kv[1], str):
            msg = f"invalid CNI_ARGS pair {pair!r}: expected two strings"
            raise InvalidIdentifierError(msg)
        out.append((kv[0], kv[1]))
    return tuple(out)


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
    cni_args: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    capability_args: JSONObject = attrs.field(factory=dict)
    result: JSONObject | None = None
    legacy: bool = False

    def __attrs_post_init__(self) -> None:
        check_network_name(self.network_name)
        check_container_id(self.container_id)
        check_interface_name(self.ifname)
        checks: tuple[tuple[str, object, type | tuple[type, ...]], ...] = (
            ("config", self.config, bytes),
            ("netns", self.netns, str),
            ("capability_args", self.capability_args, dict),
            ("result", self.result, (dict, type(None))),
            ("legacy", self.legacy, bool),
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
            live in ``<root>/results/``, lock files in ``<root>/locks/``.
        lock_timeout: Seconds :meth:`lock` and :meth:`gc_lock` wait when the call gives no
            ``timeout``; ``None`` (the default): no limit, the caller's deadline rules.
        max_entry_size: Entries larger than this many bytes are refused when read.
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
        self._locks = os.path.join(self.root, _lock.LOCKS_DIR)

    def __repr__(self) -> str:
        return f"ResultCache({self.root!r})"

    # -- paths -----------------------------------------------------------------------------

    def path_for(self, network_name: str, container_id: str, ifname: str) -> str:
        """The file of one attachment: ``<root>/results/<net>-<cid>-<ifname>`` (libcni's).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule; checked before anything
                else, so no crafted name can point outside ``results/`` (G6).
        """
        check_network_name(network_name)
        check_container_id(container_id)
        check_interface_name(ifname)
        return os.path.join(self._results, f"{network_name}-{container_id}-{ifname}")

    # -- reading ---------------------------------------------------------------------------

    def _read(self, path: str) -> bytes | None:
        return _cachefmt.read_file(path, self.max_entry_size)

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
            CacheError: The file is unreadable (code ``IO_FAILURE``), or empty, corrupt or of
                an unknown ``kind`` (code ``DECODING_FAILURE``); the message names the path.
        """
        path = self.path_for(network_name, container_id, ifname)
        data = self._read(path)
        if data is None:
            return None
        try:
            obj = _cachefmt.decode(data)
            if "kind" not in obj:
                return CacheEntry(
                    network_name=network_name,
                    container_id=container_id,
                    ifname=ifname,
                    result=obj,
                    legacy=True,
                )
            entry = CacheEntry.from_bytes(data)
        except CacheError as err:
            msg = f"cache entry {path} is unusable: {err.msg}"
            raise CacheError(msg, code=err.code, details=err.details) from err
        if (entry.network_name, entry.container_id, entry.ifname) != (
            network_name, container_id, ifname,
        ):
            return None
        return entry

    def _owner(self, path: str) -> tuple[str, str, str] | None:
        # The triple a readable cniCacheV1 file at ``path`` belongs to; None if unknown.
        try:
            data = self._read(path)
            return None if data is None else _triple(CacheEntry.from_bytes(data))
        except CacheError:
            return None

    def attachments(self, container_id: str = "") -> tuple[CacheEntry, ...]:
        """Every cached attachment, or those of one container (libcni GetCachedAttachments).

        Files that are unreadable, legacy, corrupt, not named after their own triple, or of
        another container are skipped (as libcni skips them).

        Args:
            container_id: Only this container's attachments; ``""`` for all.

        Returns:
            The entries, sorted by file name.

        Raises:
            InvalidIdentifierError: ``container_id`` is given and breaks its rule.
            CacheError: ``<root>/results`` exists but cannot be listed.
        """
        if container_id:
            check_container_id(container_id)
        try:
            names = sorted(os.listdir(self._results))
        except (FileNotFoundError, NotADirectoryError):
            return ()
        except OSError as err:
            msg = f"failed to list cache folder {self._results}: {err.strerror or err}"
            raise CacheError(msg) from err
        marker = f"-{container_id}-"
        out: list[CacheEntry] = []
        for name in names:
            if container_id and marker not in name:
                continue
            try:
                data = self._read(os.path.join(self._results, name))
                entry = None if data is None else CacheEntry.from_bytes(data)
            except CacheError:
                continue
            if entry is None or (container_id and entry.container_id != container_id):
                continue
            if name != f"{entry.network_name}-{entry.container_id}-{entry.ifname}":
                continue
            out.append(entry)
        return tuple(out)

    # -- writing ---------------------------------------------------------------------------

    def save(self, entry: CacheEntry) -> str:
        """Write ``entry`` atomically and durably, replacing the attachment's previous one.

        Args:
            entry: The entry to store.

        Returns:
            The path written.

        Raises:
            CacheError: The folder or file cannot be written (the message names the path and
                the system's reason), or the file holds another attachment's entry (their
                names map to the same file). The previous entry, if any, is left intact.
        """
        path = self.path_for(entry.network_name, entry.container_id, entry.ifname)
        data = entry.to_bytes()
        owner = self._owner(path)
        if owner is not None and owner != _triple(entry):
            msg = f"cache entry {path} belongs to attachment {owner}, not {_triple(entry)}"
            raise CacheError(msg, code=ErrorCode.IO_FAILURE)
        _cachefmt.write_file(path, data)
        return path

    def delete(self, network_name: str, container_id: str, ifname: str) -> None:
        """Remove one attachment's entry; nothing to remove is not an error.

        A file that holds another attachment's entry is left alone.

        Raises:
            InvalidIdentifierError: An identifier breaks its rule (no file is touched).
            CacheError: The file exists but cannot be removed.
        """
        path = self.path_for(network_name, container_id, ifname)
        owner = self._owner(path)
        if owner is not None and owner != (network_name, container_id, ifname):
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as err:
            raise _cachefmt.io_error("remove", path, err) from err
        with contextlib.suppress(OSError):
            _cachefmt.fsync_dir(self._results)

    # -- locks -----------------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        limit = self.lock_timeout if timeout is None else timeout
        if limit is None or limit == math.inf:
            return None
        return time.monotonic() + limit

    def _lock_paths(self, network_name: str, container_id: str, ifname: str) -> tuple[str, str]:
        check_network_name(network_name)
        check_container_id(container_id)
        check_interface_name(ifname)
        name = _lock.attachment_lock_name(network_name, container_id, ifname)
        return os.path.join(self._locks, _lock.GC_LOCK), os.path.join(self._locks, name)

    @contextlib.contextmanager
    def lock(
        self,
        network_name: str,
        container_id: str,
        ifname: str,
        *,
        timeout: float | None = None,
    ) -> Iterator[None]:
        """Hold one attachment for an ADD, CHECK or DEL, against other threads and processes.

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
        gc_path, path = self._lock_paths(network_name, container_id, ifname)
        deadline = self._deadline(timeout)
        with (
            _lock.hold(gc_path, exclusive=False, transient=False, deadline=deadline),
            _lock.hold(path, exclusive=True, transient=True, deadline=deadline),
        ):
            yield

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
        path = os.path.join(self._locks, _lock.GC_LOCK)
        with _lock.hold(path, exclusive=True, transient=False, deadline=self._deadline(timeout)):
            yield

    @contextlib.asynccontextmanager
    async def alock(
        self,
        network_name: str,
        container_id: str,
        ifname: str,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[None]:
        """:meth:`lock` for asyncio (waits with ``asyncio.sleep``, never blocks the loop).

        Raises:
            InvalidIdentifierError: An identifier breaks its rule.
            LockTimeoutError: The locks were not had in time.
            CacheError: The lock files cannot be created or locked.
        """
        gc_path, path = self._lock_paths(network_name, container_id, ifname)
        deadline = self._deadline(timeout)
        async with (
            _lock.ahold(gc_path, exclusive=False, transient=False, deadline=deadline),
            _lock.ahold(path, exclusive=True, transient=True, deadline=deadline),
        ):
            yield

    @contextlib.asynccontextmanager
    async def agc_lock(self, *, timeout: float | None = None) -> AsyncIterator[None]:
        """:meth:`gc_lock` for asyncio.

        Raises:
            LockTimeoutError: The lock was not had in time.
            CacheError: The lock file cannot be created or locked.
        """
        path = os.path.join(self._locks, _lock.GC_LOCK)
        async with _lock.ahold(
            path, exclusive=True, transient=False, deadline=self._deadline(timeout)
        ):
            yield


def _triple(entry: CacheEntry) -> tuple[str, str, str]:
    return (entry.network_name, entry.container_id, entry.ifname)
