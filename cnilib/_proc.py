"""One plugin process: how it is started, its pipes, caps, deadline and kill policy.

Rules of this file:

* :func:`spawn` starts the child in its own session and process group, with three fresh pipes
  as its stdio and no other fd, SIGPIPE and SIGXFSZ back to their defaults and no signal
  blocked. With glibc it calls ``posix_spawn`` through ctypes, which releases the GIL while the
  kernel clones and execs, so the asyncio driver can spawn from a worker thread and its loop
  keeps running (G2 in docs/guarantees.md); elsewhere it falls back to :mod:`subprocess`.
* :class:`Session` owns a started child and decides everything about it (what to read, when
  to signal, when it is over); it never blocks. The sync and async drivers in ``invoke.py``
  are two thin loops that wait for the fds and the clock and then call it.
* The child is detected as exited *without* being reaped (``waitid(WNOWAIT)``, woken by a
  pidfd), so its pid, hence its process-group id, cannot be reused while the group is killed.
* Memory is bounded: stdout up to a cap (then discarded and flagged), stderr as a tail
  (G3).
* Only typed errors leave: a bad environment is :class:`~cnilib.errors.InvalidIdentifierError`,
  a child that cannot start is :class:`~cnilib.errors.ExecutionError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ExecutionError, InvalidIdentifierError
from .protocol import Completed

__all__ = [
    "Child", "Limits", "Session", "build_env", "check_path", "discard", "poll_once", "spawn",
    "spawn_error",
]

_CHUNK = 65536
# Without a pidfd the exit of the child does not wake the poller; poll for it this often.
_EXIT_POLL = 0.02
# Bound on the final non-blocking reads after the group has been killed.
_FINAL_READS = 64
# glibc <spawn.h>: POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK, POSIX_SPAWN_SETSID.
_SPAWN_FLAGS = 0x04 | 0x08 | 0x80
# posix_spawn_file_actions_addclosefrom_np, which closes every inherited fd, is glibc 2.34.
_GLIBC_MIN = (2, 34)


@attrs.frozen(kw_only=True)
class Limits:
    """The bounds one plugin run is held to (see ``docs/execution.md``)."""

    max_stdout: int
    max_stderr: int
    kill_grace: float
    drain_grace: float


def _lay(env: dict[bytes, bytes], source: object) -> None:
    if not isinstance(source, Mapping):
        msg = f"the environment must be a mapping, not {type(source).__name__}"
        raise InvalidIdentifierError(msg)
    items: Iterable[tuple[object, object]] = source.items()
    for key, value in items:
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            msg = f"invalid environment variable name {key!r}"
            raise InvalidIdentifierError(msg)
        if not isinstance(value, str) or "\0" in value:
            msg = f"invalid value for environment variable {key}: {value!r}"
            raise InvalidIdentifierError(msg)
        env[os.fsencode(key)] = os.fsencode(value)


def build_env(base: Mapping[str, str] | None, overlay: Mapping[str, str]) -> dict[bytes, bytes]:
    """``base`` (``None``: ``os.environ`` now) with ``overlay`` laid over it, encoded.

    The overlay wins and each key appears once.

    Raises:
        InvalidIdentifierError: A key that is empty or holds ``=`` or NUL, a value that holds
            NUL, or a key or value that is not a string (G4: Python would raise a
            bare ``ValueError`` at exec time).
    """
    if base is None:
        # The process environment cannot hold NUL, nor "=" in a name (putenv refuses them);
        # only an empty name can come in from our own exec. os.environ keeps it encoded in a
        # plain dict: copying that costs 0.3 µs where walking the mapping costs 30.
        data: object = getattr(os.environ, "_data", None)
        env = data.copy() if isinstance(data, dict) and os.supports_bytes_environ else (
            os.environb.copy())
        if b"" in env:
            msg = "invalid environment variable name ''"
            raise InvalidIdentifierError(msg)
    else:
        env = {}
        _lay(env, base)
    _lay(env, overlay)
    return env


def check_path(path: object) -> None:
    """Refuse an executable path that could not name a file we mean to run.

    A relative path would make :mod:`subprocess` search ``$PATH`` (G1).

    Raises:
        ExecutionError: ``path`` is not an absolute path without NUL.
    """
    if not isinstance(path, str) or not os.path.isabs(path) or "\0" in path:
        msg = f"cannot execute plugin {path!r}: the path must be absolute"
        raise ExecutionError(msg)


# -- starting ----------------------------------------------------------------------------------


class _PosixSpawn:
    """glibc's ``posix_spawn`` through ctypes (which drops the GIL for the call)."""

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        ptr, cint = ctypes.c_void_p, ctypes.c_int
        self._c = ctypes
        self._call = libc.posix_spawn
        self._call.argtypes = [ctypes.POINTER(cint), ctypes.c_char_p, ptr, ptr, ptr, ptr]
        self._init, self._dup2 = libc.posix_spawn_file_actions_init, (
            libc.posix_spawn_file_actions_adddup2)
        self._closefrom = libc.posix_spawn_file_actions_addclosefrom_np
        self._destroy = libc.posix_spawn_file_actions_destroy
        for fn, args in ((self._init, (ptr,)), (self._destroy, (ptr,)),
                         (self._dup2, (ptr, cint, cint)), (self._closefrom, (ptr, cint))):
            fn.argtypes, fn.restype = args, cint
        # Opaque glibc structs (80, 336 and 128 bytes on x86-64), 8-byte aligned, with room.
        self._actions = ctypes.c_uint64 * 64
        self._attr = (ctypes.c_uint64 * 128)()
        defaults, mask = (ctypes.c_uint64 * 32)(), (ctypes.c_uint64 * 32)()
        _ok(libc.sigemptyset(defaults), libc.sigemptyset(mask),
            libc.sigaddset(defaults, signal.SIGPIPE), libc.sigaddset(defaults, signal.SIGXFSZ),
            libc.posix_spawnattr_init(self._attr),
            libc.posix_spawnattr_setsigdefault(self._attr, defaults),
            libc.posix_spawnattr_setsigmask(self._attr, mask),
            libc.posix_spawnattr_setflags(self._attr, ctypes.c_short(_SPAWN_FLAGS)))

    def __call__(self, path: bytes, stdio: Sequence[int], env: Mapping[bytes, bytes],
                 keep: Sequence[int] = ()) -> int:
        c = self._c
        actions = self._actions()
        _ok(self._init(actions))
        try:
            # The fds are >= 3, so no dup2 overwrites a later source; then close the rest.
            # A kept fd goes to 3, 4...: after stdio, whose sources were already copied.
            fds = list(stdio) + list(keep)
            _ok(*(self._dup2(actions, fd, target) for target, fd in enumerate(fds)),
                self._closefrom(actions, len(fds)))
            argv = (c.c_char_p * 2)(path)
            envp = (c.c_char_p * (len(env) + 1))(*[k + b"=" + v for k, v in env.items()])
            pid = c.c_int()
            err = self._call(c.byref(pid), path, actions, self._attr, argv, envp)
        finally:
            self._destroy(actions)
        if err:
            raise OSError(err, os.strerror(err), os.fsdecode(path))
        return int(pid.value)


def _ok(*codes: int) -> None:
    for code in codes:
        if code:
            raise OSError(code, os.strerror(code))


_SPAWNER: list[_PosixSpawn | None] = []
_SPAWNER_LOCK = threading.Lock()


def _posix_spawner() -> _PosixSpawn | None:
    if not _SPAWNER:
        with _SPAWNER_LOCK:
            if not _SPAWNER:
                _SPAWNER.append(_load_spawner())
    return _SPAWNER[0]


def _load_spawner() -> _PosixSpawn | None:
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") if sys.platform == "linux" else None
        name, _, version = (libc or "").partition(" ")
        if name != "glibc" or tuple(map(int, version.split(".")[:2])) < _GLIBC_MIN:
            return None
        return _PosixSpawn()
    except (ImportError, OSError, AttributeError, ValueError, TypeError):
        return None  # no usable libc symbols: subprocess does it


class Child:
    """A started plugin: its pid, our (non-blocking) ends of its pipes, stdin not yet sent.

    ``stdin`` is ``None`` when the whole request went into the pipe before the start.
    """

    def __init__(self, pid: int, stdin: int | None, stdout: int, stderr: int, *,
                 unsent: memoryview, popen: Any = None) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.unsent = unsent
        self.returncode: int | None = None
        self._popen = popen  # the subprocess fallback keeps its own bookkeeping

    def settle(self, status: int) -> bool:
        """Take ``status`` (read from the zombie) as the outcome; False: reap it now instead."""
        if self._popen is not None:
            return False  # subprocess must see the reap, or it warns the child still runs
        self.returncode = status
        return True

    def reap(self) -> int:
        """Wait for the child (already exited or killed) and return its status."""
        if self.returncode is None:
            if self._popen is not None:
                self.returncode = int(self._popen.wait())
            else:
                try:
                    status = os.waitpid(self.pid, 0)[1]
                except ChildProcessError:  # reaped by a foreign SIGCHLD handler (as Popen: 0)
                    status = 0
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _pipe(owned: list[int]) -> tuple[int, int]:
    # Close-on-exec ends; the child gets dups of its ends as 0, 1, 2. If our own stdio was
    # closed, a pipe end may land on 0-2, where one dup2 would overwrite the source of the
    # next: move such an end up.
    ends = []
    for fd in os.pipe():
        owned.append(fd)
        if fd < 3:
            owned[-1] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
        ends.append(owned[-1])
    return ends[0], ends[1]


def spawn(path: str, env: Mapping[bytes, bytes], stdin: bytes,
          keep: Sequence[int] = ()) -> Child:
    """Start ``path`` (no arguments) in a new session with three pipes; one attempt.

    ``keep`` are descriptors the plugin inherits (from 3 on with ``posix_spawn``, under their
    own numbers with :mod:`subprocess`); every other descriptor is closed in the child.

    The request goes into the stdin pipe *before* the start, and that pipe is closed when it
    all fits (up to 64 KiB): the plugin never waits for us to feed it.

    Raises:
        OSError: The child could not be started (``errno`` says why).
    """
    owned: list[int] = []
    try:
        in_r, in_w = _pipe(owned)
        out_r, out_w = _pipe(owned)
        err_r, err_w = _pipe(owned)
        for fd in (in_w, out_r, err_r):
            os.set_blocking(fd, False)
        unsent = memoryview(stdin)
        with contextlib.suppress(BlockingIOError):  # a full pipe: the session sends the rest
            while unsent:
                unsent = unsent[os.write(in_w, unsent[:_CHUNK]):]
        writer: int | None = in_w
        if not unsent:
            owned.remove(in_w)
            os.close(in_w)
            writer = None
        spawner = _posix_spawner()
        if spawner is not None:
            pid, popen = spawner(os.fsencode(path), (in_r, out_w, err_w), env, keep), None
        else:
            popen = subprocess.Popen(
                [path], stdin=in_r, stdout=out_w, stderr=err_w, env=env, close_fds=True,
                pass_fds=tuple(keep), start_new_session=True)
            pid = popen.pid
    except BaseException:
        for fd in owned:
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return Child(pid, writer, out_r, err_r, unsent=unsent, popen=popen)


def spawn_error(path: str, err: OSError) -> ExecutionError:
    """The typed error for a plugin that could not be started, keeping ``errno``."""
    reason = err.strerror or str(err)
    out = ExecutionError(f"cannot execute plugin {path}: {reason}")
    out.errno = err.errno
    out.strerror = err.strerror
    out.filename = path
    return out


_REAPER: list[tuple[int, queue.SimpleQueue[int]]] = []


def _reap_later(pid: int) -> None:
    # Reaping costs the kernel milliseconds of CPU for a plugin that entered namespaces (it
    # walks the /proc entries the process left), and nobody needs to wait for it once the
    # zombie has given its status and the last signal to its group has been sent: a thread
    # of our own reaps it, on the other CPU, while the chain goes on.
    if not _REAPER or _REAPER[0][0] != os.getpid():  # first use, or a forked child
        jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
        try:
            threading.Thread(target=_reap_forever, args=(jobs,), name="cnilib-reaper",
                             daemon=True).start()
        except RuntimeError:  # interpreter shutting down: no new threads
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return
        _REAPER[:] = [(os.getpid(), jobs)]
    _REAPER[0][1].put(pid)


def _reap_forever(jobs: queue.SimpleQueue[int]) -> None:
    while True:
        pid = jobs.get()
        with contextlib.suppress(ChildProcessError):  # a foreign handler reaped it
            os.waitpid(pid, 0)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    # ESRCH: every member is gone; EPERM: what is left is no longer ours to signal.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def discard(child: Child) -> None:
    """Kill the group of a child nobody will drive, close our pipe ends and reap it."""
    _killpg(child.pid, signal.SIGKILL)
    for fd in (child.stdin, child.stdout, child.stderr):
        if fd is not None:
            os.close(fd)
    child.reap()


class Session:
    """One started plugin, driven by a loop that calls :meth:`advance` and the I/O handlers.

    The drivers ask :attr:`readers` / :attr:`writer` which fds to wait on, wait until one is
    ready or until the time :meth:`advance` returned, call :meth:`on_read` / :meth:`on_write`,
    and loop until :attr:`done`. Phases: running → (deadline: SIGTERM to the group, then
    SIGKILL after ``kill_grace``) → exited → pipes drained or ``drain_grace`` over (then SIGKILL
    to the group, Go's ``WaitDelay``) → reaped.
    """

    def __init__(
        self, child: Child, *, start: float, timeout: float | None, limits: Limits
    ) -> None:
        self.child = child
        self.pgid = child.pid  # a new session: the child leads its own group
        self.limits = limits
        self.start = start
        self.deadline = None if timeout is None else start + timeout
        self.timed_out = False
        self.truncated = False
        self.done = False
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._input = child.unsent
        self._kill_at: float | None = None
        self._killed = False
        self._exited_at: float | None = None
        self._status: int | None = None  # from waitid, once the child is a zombie
        self._end: float | None = None
        self.writer: int | None = child.stdin
        self._out_fd = child.stdout
        self.readers: list[int] = [child.stdout, child.stderr]
        #: Called with an fd just before the session closes it (the async driver unregisters it).
        self.before_close: Callable[[int], None] | None = None
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(child.pid)
        except (AttributeError, OSError):
            # Old kernel, seccomp or not Linux: fall back to polling for the exit.
            self.pidfd = None
        if not self._input:
            self._close_writer()

    @classmethod
    def begin(
        cls, child: Child, start: float, timeout: float | None, limits: Limits
    ) -> Session:
        """A session for the just-started ``child``; if even that fails, kill and reap it."""
        try:
            return cls(child, start=start, timeout=timeout, limits=limits)
        except BaseException:
            discard(child)
            raise

    # -- I/O -------------------------------------------------------------------------------

    def on_write(self) -> None:
        """Write the next piece of stdin; close it when all is written or the child left."""
        if self.writer is None:
            return
        if self._input:
            try:
                n = os.write(self.writer, self._input[:_CHUNK])
            except BlockingIOError:
                return
            except OSError:
                # EPIPE: the plugin exited or closed stdin without reading it all; its business.
                n = len(self._input)
            self._input = self._input[n:]
        if not self._input:
            self._close_writer()

    def on_read(self, fd: int) -> None:
        """Read what is available on ``fd`` (stdout or stderr), within the caps."""
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close_reader(fd)
            return
        self._keep(fd, chunk)

    def _keep(self, fd: int, chunk: bytes) -> None:
        if fd == self._out_fd:
            room = self.limits.max_stdout - len(self._stdout)
            if len(chunk) > room:
                # G3: keep reading (so the plugin is not blocked) but keep nothing more.
                self.truncated = True
                chunk = chunk[: max(room, 0)]
            self._stdout += chunk
        else:
            self._stderr += chunk
            excess = len(self._stderr) - self.limits.max_stderr
            if excess > 0:
                del self._stderr[:excess]

    def _close_writer(self) -> None:
        if self.writer is not None:
            fd, self.writer = self.writer, None
            self._notify(fd)
            os.close(fd)
            self._input = memoryview(b"")

    def _close_reader(self, fd: int) -> None:
        if fd in self.readers:
            self._notify(fd)
            self.readers.remove(fd)
            os.close(fd)

    def _notify(self, fd: int) -> None:
        if self.before_close is not None:
            self.before_close(fd)

    # -- the clock -------------------------------------------------------------------------

    @property
    def exited(self) -> bool:
        """The child has exited (it may not be reaped yet)."""
        return self._exited_at is not None

    def _child_exited(self) -> bool:
        # waitid(WNOWAIT) sees the exit and leaves the zombie in place, so the group id
        # stays reserved until we reap it after the last killpg.
        try:
            info = os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True  # someone else reaped it (a foreign SIGCHLD handler)
        if info is not None:
            exited = info.si_code == os.CLD_EXITED
            self._status = info.si_status if exited else -info.si_status
        return info is not None

    def advance(self, now: float) -> float | None:
        """Apply the deadlines due at ``now``; return when to be called next (None: no limit).

        After the call, :attr:`done` says whether the run is over.
        """
        if self.done:
            return None
        if self._exited_at is None:
            if self._child_exited():
                self._exited_at = now
                if self.timed_out:
                    self._finish(now)
                    return None
            elif self.deadline is not None and now >= self.deadline and not self.timed_out:
                # G2: SIGTERM to the whole group, then SIGKILL after the grace.
                self.timed_out = True
                _killpg(self.pgid, signal.SIGTERM)
                self._kill_at = now + self.limits.kill_grace
            elif self._kill_at is not None and now >= self._kill_at and not self._killed:
                _killpg(self.pgid, signal.SIGKILL)
                self._killed = True
        if self._exited_at is not None:
            # The child is gone; a grandchild may still hold the pipes (Go's WaitDelay).
            drain_until = self._exited_at + self.limits.drain_grace
            if not self.readers or now >= drain_until:
                self._finish(now)
                return None
            return drain_until
        wakes = [t for t in (self.deadline if not self.timed_out else None, self._kill_at)
                 if t is not None and t > now]
        if self.pidfd is None:
            wakes.append(now + _EXIT_POLL)
        return min(wakes) if wakes else None

    def _finish(self, now: float) -> None:
        if self.readers or self.timed_out:
            # Whatever is left in the group holds our pipes or outlived a timeout: kill it
            # while the zombie leader still reserves the group id.
            _killpg(self.pgid, signal.SIGKILL)
            self._final_reads()
        self._end = now
        self.close()

    def _final_reads(self) -> None:
        for fd in list(self.readers):
            for _ in range(_FINAL_READS):
                try:
                    chunk = os.read(fd, _CHUNK)
                except OSError:
                    break
                if not chunk:
                    break
                self._keep(fd, chunk)

    def close(self) -> None:
        """Release every fd and reap the child; idempotent."""
        self._close_writer()
        for fd in list(self.readers):
            self._close_reader(fd)
        if self.pidfd is not None:
            self._notify(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None
        if self._status is not None and self.child.settle(self._status):
            _reap_later(self.child.pid)
        else:
            self.child.reap()
        self.done = True

    def abort(self) -> None:
        """Kill the whole group at once and reap (cancellation or an unexpected error)."""
        if self.child.returncode is None:
            _killpg(self.pgid, signal.SIGKILL)
        self.close()

    def completed(self) -> Completed:
        """The outcome; only meaningful once :attr:`done`."""
        status = self.child.returncode
        end = self._end if self._end is not None else self.start
        return Completed(
            exit_status=status if status is not None else -signal.SIGKILL,
            stdout=bytes(self._stdout),
            stderr=bytes(self._stderr),
            duration=max(end - self.start, 0.0),
            timed_out=self.timed_out,
            truncated=self.truncated,
        )


def poll_once(session: Session, timeout: float | None) -> None:
    """Wait (at most ``timeout`` seconds) for the session's fds and dispatch; sync driver."""
    poller = select.poll()
    for fd in session.readers:
        poller.register(fd, select.POLLIN)
    if session.writer is not None:
        poller.register(session.writer, select.POLLOUT)
    if session.pidfd is not None and not session.exited:
        poller.register(session.pidfd, select.POLLIN)
    ms = None if timeout is None else max(int(timeout * 1000) + 1, 0)
    try:
        events = poller.poll(ms)
    except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for old kernels
        return
    for fd, mask in events:
        if fd == session.writer:
            session.on_write()
        elif fd in session.readers and mask & (select.POLLIN | select.POLLHUP | select.POLLERR):
            session.on_read(fd)
