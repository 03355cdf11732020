"""One running plugin process: pipes, caps, deadline and kill policy, but no waiting.

Rules of this file:

* :class:`Session` owns a started child and decides everything about it (what to read, when
  to signal, when it is over); it never blocks. The sync and async drivers in ``invoke.py``
  are two thin loops that wait for the fds and the clock and then call it (REFERENCE §10 G2).
* The child runs in its own session and process group, so every signal goes to the group.
* The child is detected as exited *without* being reaped (``waitid(WNOWAIT)``, woken by a
  pidfd), so its pid, hence its process-group id, cannot be reused while the group is killed.
* Memory is bounded: stdout up to a cap (then discarded and flagged), stderr as a tail
  (REFERENCE §10 G3).
* Only typed errors leave: a bad environment is :class:`~cnilib.errors.InvalidIdentifierError`,
  a child that cannot start is :class:`~cnilib.errors.ExecutionError`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping

import attrs

from .errors import ExecutionError, InvalidIdentifierError
from .protocol import Completed

__all__ = ["Limits", "Session", "build_env", "check_path", "poll_once", "spawn", "spawn_error"]

_CHUNK = 65536
# Without a pidfd the exit of the child does not wake the poller; poll for it this often.
_EXIT_POLL = 0.02
# Bound on the final non-blocking reads after the group has been killed.
_FINAL_READS = 64


@attrs.frozen(kw_only=True)
class Limits:
    """The bounds one plugin run is held to (see ``docs/execution.md``)."""

    max_stdout: int
    max_stderr: int
    kill_grace: float
    drain_grace: float


def build_env(base: Mapping[str, str], overlay: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``overlay`` laid over it: the overlay wins and each key appears once.

    Raises:
        InvalidIdentifierError: A key that is empty or holds ``=`` or NUL, a value that holds
            NUL, or a key or value that is not a string (REFERENCE §9.8: Python would raise a
            bare ``ValueError`` at exec time).
    """
    env: dict[str, str] = {}
    for source in (base, overlay):
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
            env[key] = value
    return env


def check_path(path: object) -> None:
    """Refuse an executable path that could not name a file we mean to run.

    A relative path would make :mod:`subprocess` search ``$PATH`` (REFERENCE §10 G1).

    Raises:
        ExecutionError: ``path`` is not an absolute path without NUL.
    """
    if not isinstance(path, str) or not os.path.isabs(path) or "\0" in path:
        msg = f"cannot execute plugin {path!r}: the path must be absolute"
        raise ExecutionError(msg)


def spawn(path: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``path`` (no arguments) in a new session with three pipes; one attempt."""
    return subprocess.Popen(
        [path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        close_fds=True,
        start_new_session=True,
    )


def spawn_error(path: str, err: OSError) -> ExecutionError:
    """The typed error for a plugin that could not be started, keeping ``errno``."""
    reason = err.strerror or str(err)
    out = ExecutionError(f"cannot execute plugin {path}: {reason}")
    out.errno = err.errno
    out.strerror = err.strerror
    out.filename = path
    return out


def _killpg(pgid: int, sig: signal.Signals) -> None:
    # ESRCH: every member is gone; EPERM: what is left is no longer ours to signal.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Session:
    """One started plugin, driven by a loop that calls :meth:`advance` and the I/O handlers.

    The drivers ask :attr:`readers` / :attr:`writer` which fds to wait on, wait until one is
    ready or until the time :meth:`advance` returned, call :meth:`on_read` / :meth:`on_write`,
    and loop until :attr:`done`. Phases: running → (deadline: SIGTERM to the group, then
    SIGKILL after ``kill_grace``) → exited → pipes drained or ``drain_grace`` over (then SIGKILL
    to the group, Go's ``WaitDelay``) → reaped.
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        stdin: bytes,
        *,
        start: float,
        timeout: float | None,
        limits: Limits,
    ) -> None:
        self.proc = proc
        self.pgid = proc.pid  # start_new_session: the child leads its own group
        self.limits = limits
        self.start = start
        self.deadline = None if timeout is None else start + timeout
        self.timed_out = False
        self.truncated = False
        self.done = False
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._input = memoryview(stdin)
        self._kill_at: float | None = None
        self._killed = False
        self._exited_at: float | None = None
        self._end: float | None = None
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        self.writer: int | None = proc.stdin.fileno()
        self._out_fd = proc.stdout.fileno()
        self.readers: list[int] = [self._out_fd, proc.stderr.fileno()]
        for fd in (*self.readers, self.writer):
            os.set_blocking(fd, False)
        #: Called with an fd just before the session closes it (the async driver unregisters it).
        self.before_close: Callable[[int], None] | None = None
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            # Old kernel, seccomp or not Linux: fall back to polling for the exit.
            self.pidfd = None
        if not stdin:
            self._close_writer()

    @classmethod
    def begin(
        cls,
        proc: subprocess.Popen[bytes],
        stdin: bytes,
        start: float,
        timeout: float | None,
        limits: Limits,
    ) -> Session:
        """A session for the just-started ``proc``; if even that fails, kill and reap it."""
        try:
            return cls(proc, stdin, start=start, timeout=timeout, limits=limits)
        except BaseException:
            _killpg(proc.pid, signal.SIGKILL)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            proc.wait()
            raise

    # -- I/O -------------------------------------------------------------------------------

    def on_write(self) -> None:
        """Write the next piece of stdin; close it when all is written or the child left."""
        if self.writer is None:
            return
        try:
            n = os.write(self.writer, self._input[:_CHUNK])
        except BlockingIOError:
            return
        except OSError:
            # EPIPE: the plugin exited or closed stdin without reading it all; its business.
            self._close_writer()
            return
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
            assert self.proc.stdin is not None
            self._notify(self.writer)
            self.proc.stdin.close()
            self.writer = None
            self._input = memoryview(b"")

    def _close_reader(self, fd: int) -> None:
        if fd in self.readers:
            self._notify(fd)
            self.readers.remove(fd)
            assert self.proc.stdout is not None
            assert self.proc.stderr is not None
            stream = self.proc.stdout if fd == self._out_fd else self.proc.stderr
            stream.close()

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
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True  # someone else reaped it (a foreign SIGCHLD handler)
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
        if self.proc.returncode is None:
            self.proc.wait()
        self.done = True

    def abort(self) -> None:
        """Kill the whole group at once and reap (cancellation or an unexpected error)."""
        if self.proc.returncode is None:
            _killpg(self.pgid, signal.SIGKILL)
        self.close()

    def completed(self) -> Completed:
        """The outcome; only meaningful once :attr:`done`."""
        status = self.proc.returncode
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

