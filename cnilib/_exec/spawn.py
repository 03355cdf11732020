"""Starting one plugin process and reaping it: its environment, its pipes, its process group.

Rules of this file:

* :func:`spawn` starts the child in its own process group (not its own session: see
  :func:`spawn`), with three fresh pipes
  as its stdio and no other fd, SIGPIPE and SIGXFSZ back to their defaults and no signal
  blocked. :mod:`subprocess` starts it (a vfork and an exec, no Python in the child), except
  from a thread that blocks signals, which subprocess would pass on: there
  :func:`os.posix_spawn` starts it with an empty mask. ``docs/performance.md`` measures both
  against the ctypes ``posix_spawn`` used before, which gained nothing.
* What happens to the child once started is :class:`cnilib._exec.proc.Session`'s to decide,
  killing included. A settled child's zombie is reaped a little later (at the next start, at
  the latest by the reaper thread within ``_REAP_IDLE``): reaped at once it raced the kernel's
  cleanup of the plugin's last thread (see :class:`_Reaper`).
* Only typed errors leave: a bad environment is :class:`~cnilib.errors.InvalidIdentifierError`,
  a child that cannot start is :class:`~cnilib.errors.ExecutionError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from cnilib.errors import ExecutionError, InvalidIdentifierError

__all__ = [
    "REAPER", "Child", "build_env", "check_path", "spawn", "spawn_error",
]

# The most bytes one write of the request moves before the start (a pipe holds 64 KiB).
_CHUNK = 65536
# A zombie is reaped once it has been one this long (the kernel has long finished with it)...
_REAP_AFTER = 0.002
# ... by the next start, or by the reaper thread, which looks this often while zombies wait.
_REAP_IDLE = 0.1
# os.fsencode's codec, called directly: two Python calls fewer per variable.
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


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
        env[key.encode(_FS_ENCODING, _FS_ERRORS)] = value.encode(_FS_ENCODING, _FS_ERRORS)


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
        # only an empty name can come in from our own exec. dict(items()) is the quickest
        # public copy: 24 µs for 39 variables, where environb.copy() takes 40 (the private
        # dict behind os.environ would copy in 0.5 µs: not used, it is no API).
        env = dict(os.environb.items())
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


# -- starting ---------------------------------------------------------------------------------


class Child:
    """A started plugin: its pid, our (non-blocking) ends of its pipes, stdin not yet sent.

    ``stdin`` is ``None`` when the whole request went into the pipe before the start.
    """

    def __init__(self, pid: int, stdin: int | None, stdout: int, stderr: int, *,
                 unsent: memoryview, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.unsent = unsent
        self.returncode: int | None = None
        self._popen = popen  # told of the reap, or its finalizer would reap on its own

    def reap(self) -> int:
        """Wait for the child (already exited or killed) and return its status."""
        if self.returncode is None:
            self.returncode = self._wait()
        return self.returncode

    def settle(self, code: int) -> None:
        """Record the status of the exited child; :data:`REAPER` reaps the zombie soon."""
        self.returncode = code
        if self._popen is not None:
            self._popen.returncode = code  # Popen never waits for it
        REAPER.later(self.pid, time.monotonic())

    def _wait(self) -> int:
        # One waitpid for both start paths; Popen.wait (a lock, three calls) cost more.
        try:
            code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        except ChildProcessError:  # reaped by a foreign SIGCHLD handler (as Popen: 0)
            code = 0
        if self._popen is not None:
            self._popen.returncode = code  # Popen never waits for it again
        return code


class _Reaper:
    """Reaps the zombies of plugins whose status is already known, a little after their exit.

    Reaping a plugin as soon as its exit was seen raced the kernel's cleanup of the plugin's
    last thread: ``wait4`` then spun in the kernel (``release_task``, the ``/proc`` dentry
    invalidation, ``shrink_dcache_parent``) until that thread ran again: 1.3 to 1.9 ms of our
    CPU per bridge plugin on a loaded machine, against 0.1 to 0.3 ms reaped 1 ms later
    (docs/performance.md, "Starting a plugin"). So a zombie waits ``_REAP_AFTER``; the next
    start reaps those due, and a daemon thread, which wakes every ``_REAP_IDLE`` only while
    some wait, reaps them when no start comes. A zombie keeps its pid and process-group id
    reserved, nothing else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: deque[tuple[float, int]] = deque()
        self._thread: threading.Thread | None = None
        self._idle = False  # the thread waits for a zombie, with no time limit

    def later(self, pid: int, now: float) -> None:
        """Reap ``pid`` (an exited child of ours, status known) once it is due."""
        with self._lock:
            self._waiting.append((now + _REAP_AFTER, pid))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="cnilib-reaper", daemon=True)
                self._thread.start()
            elif self._idle:
                # Only an idle thread is woken: one already in its timed wait looks within
                # _REAP_IDLE anyway, and waking it at every run reaped early what the next
                # start was to reap (and cost a thread switch per run).
                self._idle = False
                self._wake.notify()

    def due(self, now: float) -> None:
        """Reap every zombie due by ``now``."""
        while True:
            with self._lock:
                if not self._waiting or self._waiting[0][0] > now:
                    return
                pid = self._waiting.popleft()[1]
            # WNOHANG: if a foreign SIGCHLD handler took it, never wait for whoever has
            # the pid now.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    def pending(self) -> list[int]:
        """The pids waiting to be reaped."""
        with self._lock:
            return [pid for _, pid in self._waiting]

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._idle = True
                    self._wake.wait()
                self._idle = False
                self._wake.wait(_REAP_IDLE)
            self.due(time.monotonic())

    def _after_fork(self) -> None:
        # The child of a fork has none of these children, nor the thread.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting = deque()
        self._thread = None
        self._idle = False


#: The process's one reaper of settled plugins.
REAPER = _Reaper()
os.register_at_fork(after_in_child=REAPER._after_fork)


def _inheritable_fds() -> list[int] | None:
    """Our fds from 3 up that a child would inherit; None when /proc cannot say."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    out = []
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own fd, closed by now
                if os.get_inheritable(fd):
                    out.append(fd)
    return out


def _spawn_unmasked(path: str, stdio: tuple[int, int, int], env: Mapping[bytes, bytes],
                    keep: Sequence[int]) -> int | None:
    """Start with ``os.posix_spawn``, which can clear the signal mask; None: cannot here."""
    # subprocess passes the calling thread's blocked signals on to the child; posix_spawn can
    # start it with none blocked, but holds the GIL while it waits for the exec
    # (docs/performance.md), so it is only used from a thread that blocks signals.
    if not hasattr(os, "posix_spawn"):
        return None
    was = [os.get_inheritable(fd) for fd in keep]
    try:
        # The kept fds are inherited under their own numbers (as subprocess's pass_fds):
        # inheritable for the call, closed in no other child of ours (subprocess closes every
        # fd not passed; this path lists them afresh).
        for fd in keep:
            os.set_inheritable(fd, True)
        inherited = _inheritable_fds()
        if inherited is None:
            return None
        # The stdio fds are >= 3 (see _pipe), so no dup2 overwrites a later source.
        actions: list[tuple[int, ...]] = [
            (os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited if fd not in keep]
        return os.posix_spawn(path, [path], env, file_actions=actions, setpgroup=0,
                              setsigdef=(signal.SIGPIPE, signal.SIGXFSZ), setsigmask=())
    finally:
        for fd, inheritable in zip(keep, was, strict=True):
            os.set_inheritable(fd, inheritable)


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
    """Start ``path`` (no arguments) in a new process group with three pipes; one attempt.

    ``keep`` are descriptors the plugin inherits, under their own numbers; every other
    descriptor is closed in the child.

    The request goes into the stdin pipe *before* the start, and that pipe is closed when it
    all fits (up to 64 KiB): the plugin never waits for us to feed it.

    The group is what the deadline kills (G2). It is not a new session: with the kernel's
    autogroup scheduling a new session is a new scheduling group, which under load waited
    milliseconds for a CPU before it could even exec (docs/performance.md, "Starting a
    plugin").

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
        # subprocess: neither os.posix_spawn nor the ctypes posix_spawn used before was
        # measurably faster (docs/performance.md, "Starting a plugin"), and subprocess
        # closes every other fd and resets the signals by itself.
        pid = None
        popen = None
        if signal.pthread_sigmask(signal.SIG_BLOCK, ()):
            pid = _spawn_unmasked(path, (in_r, out_w, err_w), env, keep)
        if pid is None:
            popen = subprocess.Popen(
                [path], stdin=in_r, stdout=out_w, stderr=err_w, env=env, close_fds=True,
                pass_fds=tuple(keep), process_group=0)
            pid = popen.pid
    except BaseException:
        for fd in owned:
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    # Reaped once the child runs, not before its start: the reap then overlaps the plugin's
    # own start on another CPU instead of delaying it.
    REAPER.due(time.monotonic())
    return Child(pid, writer, out_r, err_r, unsent=unsent, popen=popen)


def spawn_error(path: str, err: OSError) -> ExecutionError:
    """The typed error for a plugin that could not be started, keeping ``errno``."""
    reason = err.strerror or str(err)
    out = ExecutionError(f"cannot execute plugin {path}: {reason}")
    out.errno = err.errno
    out.strerror = err.strerror
    out.filename = path
    return out
