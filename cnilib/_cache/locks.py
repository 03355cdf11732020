"""File locks that serialise cache users across threads and processes (G7, docs/guarantees.md).

Rules of this file:

* A lock is an ``flock`` on a file under ``<root>/locks/``, taken on a file descriptor opened
  for that one acquisition (``O_CLOEXEC``: a plugin inherits only the attachment lock that the
  runtime API passes to it on purpose, G16 in docs/guarantees.md), through a descriptor
  on ``locks/`` opened without following links (:mod:`cnilib._cache.fs`). ``flock`` locks
  belong to the open file description, so two acquisitions conflict whether they come from two
  processes or from two threads of one.
* Lock order: the global GC lock (``locks/gc``) first, shared for ADD/CHECK/DEL and exclusive
  for GC; then the attachment's lock (``locks/<sha256 of the triple>``), exclusive. Nothing
  takes them in the other order, so there is no deadlock between cnilib users.
* A waiting GC is not overtaken: the GC lock has a *gate* (``locks/gc-wait``). A GC that
  cannot have ``locks/gc`` at once makes the gate and holds it exclusively while it waits; a
  shared taker first looks at the gate and, while someone holds it, waits as if ``locks/gc``
  were taken. So the GC waits only for the operations already running, not for a stream of
  new ones (``flock`` itself lets shared takers overtake an exclusive waiter for ever). The
  GC removes the gate once it has ``locks/gc`` (or gives up), while still holding it; a gate
  left by a killed GC is held by nobody and stops nobody. Shared takers never create it and
  never hold it longer than a look, so no operation holding ``locks/gc`` shared ever waits at
  the gate for itself: none takes ``locks/gc`` twice.
* Waiting is bounded: polls with ``LOCK_NB`` and a growing sleep until the deadline, then
  :class:`~cnilib.errors.LockTimeoutError`. Locks are not re-entrant.
* A lock file that holders may remove (``transient``: an attachment's, a sandbox's) is
  checked once locked: if a holder removed it meanwhile (its link count is 0) the acquirer
  locks the file now at the path instead. Who removes it is the caller's choice (``remove``):
  the runtime API keeps an attachment's file for the attachment's life and removes it when
  neither its entry nor its ADD-in-progress record is left (docs/cache.md). A holder killed
  before its release leaves the file; GC removes it (:func:`sweep`) when nobody holds it.
* A caller that holds the folder's descriptor (one operation of the runtime API) passes it
  (``dir_fd``), so that no acquisition opens the folder again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TypedDict

from cnilib.errors import CacheError, LockTimeoutError

from . import fs as _cachefs

__all__ = [
    "GC_GATE",
    "GC_LOCK",
    "Hold",
    "LOCKS_DIR",
    "attachment_lock_name",
    "container_lock_name",
    "hold",
    "ahold",
    "is_held",
    "sweep",
]

#: The folder, under the cache root, that holds the lock files.
LOCKS_DIR = "locks"
#: The name of the global GC lock file (never a sha256 hex digest).
GC_LOCK = "gc"
#: The GC lock's gate: held exclusively by a GC waiting for ``GC_LOCK`` (see the rules above).
GC_GATE = "gc-wait"

_FIRST_SLEEP = 0.001
_MAX_SLEEP = 0.05


class Hold(TypedDict):
    """What :func:`hold` and :func:`ahold` are asked to take (all but the folder)."""

    path: str
    exclusive: bool
    transient: bool
    deadline: float | None
    remove: Callable[[], bool] | None
    gate: str | None


def attachment_lock_name(network_name: str, container_id: str, ifname: str) -> str:
    """The lock file name of one attachment: the hex sha256 of the NUL-joined triple.

    Valid identifiers hold no NUL, so distinct triples get distinct names (unlike the cache
    file name, where ``a-b``/``c`` and ``a``/``b-c`` meet).
    """
    key = f"{network_name}\0{container_id}\0{ifname}".encode()
    return hashlib.sha256(key).hexdigest()


def container_lock_name(container_id: str) -> str:
    """The lock file name of one container's sandbox (the runtime layer's setup/teardown).

    ``pod-`` and the hex sha256 of the container ID: never a triple's name, never ``gc``.
    """
    return "pod-" + hashlib.sha256(container_id.encode()).hexdigest()


class _Attempt:
    """One acquisition: an fd on the lock file and non-blocking tries to lock it."""

    def __init__(self, path: str, *, exclusive: bool, transient: bool,
                 dir_fd: int | None = None, remove: Callable[[], bool] | None = None,
                 gate: str | None = None) -> None:
        # <root>/<folder>/<name>: the folder is opened without following a link, unless the
        # caller holds it open already (``dir_fd``, then not ours to close).
        self.path = path
        self.name = os.path.basename(path)
        self.op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        self.transient = transient
        self.remove = remove
        self.dir_fd = dir_fd
        self.own_dir = dir_fd is None
        self.fd: int | None = None
        self.gate = gate
        # An exclusive taker's attempt on the gate (a transient lock file) while it waits...
        self.gate_attempt: _Attempt | None = None
        self.gate_held = False  # ... and whether it holds it (it waits behind another if not)

    def _folder(self) -> int:
        if self.dir_fd is None:
            folder = os.path.dirname(self.path)
            self.dir_fd = _cachefs.open_folder(os.path.dirname(folder), os.path.basename(folder),
                                               create=True, action="open lock folder")
            assert self.dir_fd is not None
        return self.dir_fd

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            return os.open(self.name, flags, 0o600, dir_fd=self._folder())
        except OSError as err:
            raise _cachefs.io_error("open lock file", self.path, err) from err

    def try_once(self) -> bool:
        """Try to take the lock without waiting; True when held.

        With a gate (see the rules above), a shared taker first looks whether an exclusive
        one waits, and an exclusive taker that did not get the lock holds the gate until it
        does (the first try makes no gate: an uncontended GC creates no file).
        """
        if self.gate is not None and self.op == fcntl.LOCK_SH and self._gate_held_by_other():
            return False
        while True:
            if self.fd is None:
                self.fd = self._open()
            try:
                fcntl.flock(self.fd, self.op | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR):
                    if self.gate is not None and self.op == fcntl.LOCK_EX:
                        self._hold_gate()
                    return False
                msg = f"cannot lock {self.path}: {err.strerror or err}"
                raise CacheError(msg) from err
            # Nobody links a lock file anywhere else, so a link count of 0 means that the
            # previous holder removed it after we opened it: lock the file now at the path.
            if not self.transient or os.fstat(self.fd).st_nlink:
                self._leave_gate()
                return True
            self._close_file()

    # The gate only orders the takers: whatever keeps it from being made or looked at (a
    # read-only folder, a link in its place) leaves the order to flock, never an error.

    def _gate_held_by_other(self) -> bool:
        # One look (nothing created, nothing kept): an exclusive taker holds the gate.
        assert self.gate is not None
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(self.gate, flags, dir_fd=self._folder())
        except OSError:
            return False  # no gate: nobody waits
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            return err.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        finally:
            os.close(fd)  # the look is over: the shared hold goes with the descriptor
        return False

    def _hold_gate(self) -> None:
        # Make and hold the gate, unless another exclusive taker holds it (then this one
        # waits behind it and tries again at its next try). The gate is a transient lock:
        # one made again after its holder removed it, removed by its holder at release.
        if self.gate_held:
            return
        if self.gate_attempt is None:
            assert self.gate is not None
            gate = os.path.join(os.path.dirname(self.path), self.gate)
            self.gate_attempt = _Attempt(gate, exclusive=True, transient=True,
                                         dir_fd=self._folder())
        with contextlib.suppress(CacheError):  # no gate to be had: the order stays flock's
            self.gate_held = self.gate_attempt.try_once()

    def _leave_gate(self) -> None:
        # The holder removes the gate while still holding it (a taker who opened it meanwhile
        # sees its link count at 0) and lets it go; one that waited behind another exclusive
        # taker's gate only closes its descriptor.
        if self.gate_attempt is not None:
            with contextlib.suppress(OSError):
                if self.gate_held:
                    self.gate_attempt.release()
            self.gate_attempt.close()
            self.gate_attempt = None
            self.gate_held = False

    @contextlib.contextmanager
    def held(self) -> Iterator[int]:
        """The descriptor of the lock had, for a ``with`` body; released when it ends."""
        assert self.fd is not None
        try:
            yield self.fd
        finally:
            self.release()

    def release(self) -> None:
        """Drop the lock (removing a transient lock file first if asked, while still holding it)."""
        if self.fd is not None and self.transient and (self.remove is None or self.remove()):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)
        self.close()

    def _close_file(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last fd of the description releases the flock
            self.fd = None

    def close(self) -> None:
        self._close_file()
        self._leave_gate()  # gave up while waiting at the gate: its gate goes
        if self.own_dir and self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


def _try_unheld(dir_fd: int, name: str) -> int | None:
    # An fd holding ``name`` exclusively, or None when someone holds it or it is gone.
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK,
                     dir_fd=dir_fd)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def is_held(root: str, name: str) -> bool:
    """Whether someone (a process, or a plugin that inherited the lock) holds ``name`` now.

    Raises:
        CacheError: ``locks/`` is a symbolic link or cannot be opened.
    """
    with _cachefs.folder(root, LOCKS_DIR, create=False, action="open lock folder") as dir_fd:
        if dir_fd is None:
            return False
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError as err:
            raise _cachefs.io_error("open lock file", os.path.join(root, LOCKS_DIR, name),
                                    err) from err
        fd = _try_unheld(dir_fd, name)
        if fd is None:
            return True
        os.close(fd)
        return False


def sweep(root: str) -> list[str]:
    """Remove the attachment lock files nobody holds (left by a killed holder, or kept for the
    life of an attachment).

    Each is removed while locked, so a waiter that had opened it notices (its inode is gone
    from the path) and locks a new file, as after a normal release. The GC lock file stays.

    Returns:
        The names removed.

    Raises:
        CacheError: ``locks/`` is a symbolic link or cannot be listed.
    """
    removed: list[str] = []
    with _cachefs.folder(root, LOCKS_DIR, create=False, action="open lock folder") as dir_fd:
        if dir_fd is None:
            return removed
        for name in _cachefs.names(dir_fd, os.path.join(root, LOCKS_DIR)):
            if name == GC_LOCK:
                continue
            fd = _try_unheld(dir_fd, name)
            if fd is None:
                continue
            try:
                os.unlink(name, dir_fd=dir_fd)
                removed.append(name)
            except OSError:
                pass  # another sweeper or holder removed it first
            finally:
                os.close(fd)
    return removed


def _timeout_error(path: str) -> LockTimeoutError:
    msg = f"timed out waiting for lock {path}"
    return LockTimeoutError(msg, details="another operation holds it; try again later")


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _pauses(attempt: _Attempt, deadline: float | None) -> Generator[float, None, None]:
    """The polling plan :func:`hold` and :func:`ahold` both follow, without the sleeping.

    Tries the lock, then yields how long to sleep before the next try (growing from
    ``_FIRST_SLEEP`` to ``_MAX_SLEEP``, never past ``deadline``), until the lock is had (the
    generator ends). Whatever ends it otherwise closes the attempt: the deadline
    (:class:`~cnilib.errors.LockTimeoutError`), an error, or the caller's sleep interrupted
    (a signal, a cancelled task), which closes the generator (``contextlib.closing``).
    """
    delay = _FIRST_SLEEP
    try:
        while not attempt.try_once():
            left = _remaining(deadline)
            if left is not None and left <= 0:
                raise _timeout_error(attempt.path)
            yield delay if left is None else min(delay, left)
            delay = min(delay * 2, _MAX_SLEEP)
    except BaseException:  # GeneratorExit included: the caller stopped waiting
        attempt.close()
        raise


@contextlib.contextmanager
def hold(
    path: str, *, exclusive: bool, transient: bool, deadline: float | None,
    dir_fd: int | None = None, remove: Callable[[], bool] | None = None,
    gate: str | None = None,
) -> Iterator[int]:
    """Hold the lock on ``path`` for the ``with`` body; wait until ``deadline``.

    ``path`` is ``<root>/<folder>/<name>``; the folder may not be a symbolic link.

    Yields the descriptor that holds it (a plugin that inherits it keeps the lock held).

    Args:
        path: The lock file.
        exclusive: Exclusive (else shared).
        transient: Holders may remove the file: check that the file locked is still linked.
        deadline: A :func:`time.monotonic` value (``None``: no limit).
        dir_fd: The folder, already open (the caller closes it); ``None``: opened here.
        remove: For a transient lock, asked at release whether to remove the file (``None``:
            always).
        gate: The name of the lock's gate in the same folder (:data:`GC_GATE` for the GC
            lock): an exclusive taker holds it while it waits, shared takers wait while it
            is held. ``None``: no gate.

    Raises:
        LockTimeoutError: Not had by the deadline.
        CacheError: The lock file cannot be created or locked.
    """
    attempt = _Attempt(path, exclusive=exclusive, transient=transient, dir_fd=dir_fd,
                       remove=remove, gate=gate)
    with contextlib.closing(_pauses(attempt, deadline)) as pauses:
        for pause in pauses:
            time.sleep(pause)
    with attempt.held() as fd:
        yield fd


@contextlib.asynccontextmanager
async def ahold(
    path: str, *, exclusive: bool, transient: bool, deadline: float | None,
    dir_fd: int | None = None, remove: Callable[[], bool] | None = None,
    gate: str | None = None,
) -> AsyncIterator[int]:
    """:func:`hold` for asyncio: the waiting is ``asyncio.sleep``, never a blocked loop.

    Raises:
        LockTimeoutError: Not had by the deadline.
        CacheError: The lock file cannot be created or locked.
    """
    import asyncio  # only asyncio users pay for importing it

    attempt = _Attempt(path, exclusive=exclusive, transient=transient, dir_fd=dir_fd,
                       remove=remove, gate=gate)
    with contextlib.closing(_pauses(attempt, deadline)) as pauses:
        for pause in pauses:
            await asyncio.sleep(pause)
    with attempt.held() as fd:
        yield fd
