"""One started plugin process: its pipes, caps, deadline and kill policy.

Rules of this file:

* :class:`Session` owns a child started by :func:`cnilib._exec.spawn.spawn` and decides
  everything about it (what to read, when to signal, when it is over); it never blocks. The
  sync and async drivers in ``invoke.py`` are two thin loops that wait for the fds and the
  clock and then call it.
* The child is detected as exited *without* being reaped (``waitid(WNOWAIT)``, woken by a
  pidfd), so its pid, hence its process-group id, cannot be reused while the group is killed.
  Its status comes from that same call, and the zombie is reaped a little later by
  :data:`cnilib._exec.spawn.REAPER`.
* Memory is bounded: stdout up to a cap (then discarded and flagged), stderr as a tail
  (G3).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from cnilib.protocol import Completed

if TYPE_CHECKING:
    from cnilib._exec.spawn import Child

__all__ = ["Limits", "Poller", "Session", "discard", "killpg"]

# The most bytes one read or write of a pipe moves.
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


def killpg(pgid: int, sig: signal.Signals) -> None:
    """Signal a plugin's process group, if anything of it is still ours to signal."""
    # ESRCH: every member is gone; EPERM: what is left is no longer ours to signal.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def discard(child: Child) -> None:
    """Kill the group of a child nobody will drive, close our pipe ends and reap it."""
    killpg(child.pid, signal.SIGKILL)
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
        self.pgid = child.pid  # the child leads its own group
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
        # The pidfd said the child exited (see exit_ready): only then is waitid worth a call.
        self._exit_reported = False
        # The exit status read with the exit (WNOWAIT): the zombie can be reaped later.
        self._status: int | None = None
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

    def exit_ready(self) -> None:
        """The driver saw the pidfd readable: the child has exited."""
        self._exit_reported = True

    def _may_have_exited(self) -> bool:
        # waitid is asked only when it may say yes: the pidfd woke us, both pipes are at EOF
        # (most children close them by exiting), or there is no pidfd to tell us. Asking on
        # every wake cost 3 waitid per run where 1 or 2 do (docs/performance.md).
        return self._exit_reported or not self.readers or self.pidfd is None

    def _child_exited(self) -> bool:
        # waitid(WNOWAIT) sees the exit and leaves the zombie in place, so the group id
        # stays reserved until we reap it after the last killpg.
        try:
            info = os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True  # someone else reaped it (a foreign SIGCHLD handler)
        if info is None:
            return False
        self._status = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        return True

    def advance(self, now: float) -> float | None:
        """Apply the deadlines due at ``now``; return when to be called next (None: no limit).

        After the call, :attr:`done` says whether the run is over.
        """
        if self.done:
            return None
        if self._exited_at is None:
            if self._may_have_exited() and self._child_exited():
                self._exited_at = now
                if self.timed_out:
                    self._finish(now)
                    return None
            elif self.deadline is not None and now >= self.deadline and not self.timed_out:
                # G2: SIGTERM to the whole group, then SIGKILL after the grace.
                self.timed_out = True
                killpg(self.pgid, signal.SIGTERM)
                self._kill_at = now + self.limits.kill_grace
            elif self._kill_at is not None and now >= self._kill_at and not self._killed:
                killpg(self.pgid, signal.SIGKILL)
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
            killpg(self.pgid, signal.SIGKILL)
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
        if self._status is not None and self.child.returncode is None:
            self.child.settle(self._status)  # reaped soon, not now: see _Reaper
        else:
            self.child.reap()
        self.done = True

    def abort(self) -> None:
        """Kill the whole group at once and reap (cancellation or an unexpected error)."""
        if self.child.returncode is None:
            killpg(self.pgid, signal.SIGKILL)
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


class Poller:
    """The sync driver's wait: one ``poll`` object per run, fds dropped as the session closes them.

    Building the poll set afresh for every wait cost about 5 µs per wake
    (docs/performance.md, "Starting a plugin").
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._poll = select.poll()
        self._pidfd = session.pidfd
        for fd in session.readers:
            self._poll.register(fd, select.POLLIN)
        if session.writer is not None:
            self._poll.register(session.writer, select.POLLOUT)
        if self._pidfd is not None:
            self._poll.register(self._pidfd, select.POLLIN)
        session.before_close = self._forget

    def _forget(self, fd: int) -> None:
        with contextlib.suppress(KeyError):
            self._poll.unregister(fd)

    def wait(self, timeout: float | None) -> None:
        """Wait (at most ``timeout`` seconds) for the session's fds and dispatch."""
        session = self.session
        if self._pidfd is not None and session.exited:
            self._forget(self._pidfd)  # stays readable: it has said what it had to say
            self._pidfd = None
        ms = None if timeout is None else max(int(timeout * 1000) + 1, 0)
        try:
            events = self._poll.poll(ms)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for old kernels
            return
        for fd, mask in events:
            if fd == session.writer:
                session.on_write()
            elif fd == self._pidfd:
                session.exit_ready()
            elif fd in session.readers and mask & (
                select.POLLIN | select.POLLHUP | select.POLLERR
            ):
                session.on_read(fd)
