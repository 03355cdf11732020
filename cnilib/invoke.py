"""Finding plugin executables and running them: the only module that starts processes.

Rules of this file:

* It carries no meaning: an :class:`~cnilib.protocol.Invocation` (path, stdin, env, timeout)
  goes in, a :class:`~cnilib.protocol.Completed` (status, bounded output, timing) comes out.
  What the output means is decided by :mod:`cnilib.protocol`.
* ``run`` never raises because a plugin failed, hung or was killed; it raises
  :class:`~cnilib.errors.ExecutionError` only when the process cannot be started at all.
* Only files that are regular, executable and directly inside a configured absolute directory
  are ever executed, and only for a ``type`` that passes an ASCII allowlist (G1 in
  docs/guarantees.md; CVE-2021-20206).
* Every run is bounded in time and memory and leaves no process behind (G2,
  G3): see ``docs/execution.md``.
* Size (about 420 lines): the public page of running a plugin, :func:`find_plugin` and the
  sync and async executors, twins over one set of options and one start; the process itself
  (started and reaped in ``_exec.spawn``, driven in ``_exec.proc``) lives below it.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import stat
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from ._exec import proc as _proc
from ._exec import spawn as _spawn
from .errors import ConfigError, ExecutionError, PluginNotFoundError
from .identifiers import check_plugin_type
from .protocol import Completed, Invocation

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "Executor",
    "AsyncExecutor",
    "SubprocessExecutor",
    "AsyncSubprocessExecutor",
    "find_plugin",
]

_ACCESS_EFFECTIVE = os.access in os.supports_effective_ids
_MAX_ETXTBSY_DELAY = 1.0


def find_plugin(plugin_type: str, paths: Sequence[str] | str) -> str:
    """Find the executable for ``plugin_type``, the first match in ``paths`` order.

    A candidate is ``<dir>/<type>``; it is taken if it is (or is a symlink to) a regular file
    that this process may execute. Unlike libcni, a non-executable file is skipped rather than
    returned (libcni's ``FindInPath``, ``pkg/invoke/find.go``). Entries of ``paths`` that are
    empty, relative or hold NUL are ignored: libcni would resolve them against the current
    directory, which is how a plugin gets run from wherever the runtime happens to be (G1).

    Args:
        plugin_type: The plugin ``type``.
        paths: The plugin directories, in order. A string is split on ``os.pathsep``, like
            ``CNI_PATH``.

    Returns:
        The path of the executable (directory joined with the type, not resolved further).

    Raises:
        InvalidPluginNameError: ``plugin_type`` is not in the allowlist of
            :func:`cnilib.identifiers.check_plugin_type` (checked before any file is looked at).
        PluginNotFoundError: No usable candidate; the message is libcni's
            ``failed to find plugin "<type>" in path [<p1> <p2>]``, the details say what was
            skipped and why.
    """
    check_plugin_type(plugin_type)
    given = tuple(paths.split(os.pathsep) if isinstance(paths, str) else paths)
    if not given:
        msg = "no paths provided"
        raise PluginNotFoundError(msg, plugin=plugin_type, paths=())
    notes: list[str] = []
    for entry in given:
        directory: object = entry
        if not isinstance(directory, str) or not os.path.isabs(directory) or "\0" in directory:
            notes.append(f"ignored path entry {directory!r}: not an absolute path")
            continue
        candidate = os.path.normpath(os.path.join(directory, plugin_type))
        try:
            st = os.stat(candidate)  # follows symlinks: the target must be a regular file
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            notes.append(f"{candidate}: not a regular file")
        elif not os.access(candidate, os.X_OK, effective_ids=_ACCESS_EFFECTIVE):
            notes.append(f"{candidate}: not executable")
        else:
            return candidate
    shown = " ".join(str(p) for p in given)
    msg = f'failed to find plugin "{plugin_type}" in path [{shown}]'
    err = PluginNotFoundError(msg, plugin=plugin_type, paths=tuple(str(p) for p in given))
    err.details = "; ".join(notes)
    raise err


class Executor(Protocol):
    """How the synchronous runtime finds and runs plugins (libcni's ``invoke.Exec`` seam).

    :class:`SubprocessExecutor` is the real one; :mod:`cnilib.testing` ships a fake.
    """

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        """Return the executable for ``plugin_type`` (see :func:`find_plugin`)."""
        ...

    def run(self, inv: Invocation) -> Completed:
        """Run one plugin once; raise only if it cannot be started."""
        ...


class AsyncExecutor(Protocol):
    """The asyncio counterpart of :class:`Executor`: ``find`` is sync, ``run`` a coroutine."""

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        """Return the executable for ``plugin_type`` (see :func:`find_plugin`)."""
        ...

    async def run(self, inv: Invocation) -> Completed:
        """Run one plugin once; raise only if it cannot be started."""
        ...


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        msg = f"{attribute.name} must be a finite number >= 0, not {value!r}"
        raise ConfigError(msg)


def _positive_int(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be an integer >= 1, not {value!r}"
        raise ConfigError(msg)


@attrs.frozen(kw_only=True)
class _Options:
    """The options both subprocess executors share, and their sync-free helpers."""

    base_env: Mapping[str, str] | None = None
    kill_grace: float = attrs.field(default=2.0, validator=_non_negative)
    drain_grace: float = attrs.field(default=0.5, validator=_non_negative)
    max_stdout: int = attrs.field(default=16 * 1024 * 1024, validator=_positive_int)
    max_stderr: int = attrs.field(default=64 * 1024, validator=_positive_int)
    etxtbsy_attempts: int = attrs.field(default=6, validator=_positive_int)
    etxtbsy_delay: float = attrs.field(default=0.05, validator=_non_negative)
    # Built once: an attrs instance per run cost 4 µs (docs/performance.md).
    _run_limits: _proc.Limits = attrs.field(init=False, repr=False, eq=False)

    @_run_limits.default
    def _limits(self) -> _proc.Limits:
        return _proc.Limits(
            max_stdout=self.max_stdout,
            max_stderr=self.max_stderr,
            kill_grace=self.kill_grace,
            drain_grace=self.drain_grace,
        )

    def _begin(self, inv: Invocation) -> _Start | Completed:
        """Check ``inv`` and prepare its start; a deadline already passed is its outcome."""
        _spawn.check_path(inv.path)
        stdin: object = inv.stdin
        if not isinstance(stdin, bytes):
            what = type(stdin).__name__
            msg = f"cannot execute plugin {inv.path}: stdin must be bytes, not {what}"
            raise ExecutionError(msg)
        # G10: the computed CNI_* win and appear once.
        env = _spawn.build_env(self.base_env, inv.env)
        timeout: object = inv.timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float)
            or math.isnan(timeout)
        ):
            msg = f"cannot execute plugin {inv.path}: invalid timeout {timeout!r}"
            raise ExecutionError(msg)
        limit = None if timeout is None or timeout == math.inf else float(timeout)
        start = time.monotonic()
        if limit is not None and limit <= 0:
            return _expired(start)
        return _Start(self, inv, env, start, limit)


class _Start:
    """The start of one run, shared by both drivers: each attempt, and the ETXTBSY retries.

    It never waits: :meth:`attempt` says how long to sleep and the driver sleeps its own way.
    """

    def __init__(self, options: _Options, inv: Invocation, env: dict[bytes, bytes],
                 start: float, timeout: float | None) -> None:
        self.options, self.inv, self.env = options, inv, env
        self.start, self.timeout = start, timeout
        self.deadline = None if timeout is None else start + timeout
        self.attempts = 0

    def attempt(self) -> _spawn.Child | float:
        """Start the plugin once: the child, or the seconds to sleep before the next attempt.

        Raises:
            ExecutionError: It cannot start, and retrying would not help or is over.
        """
        inv = self.inv
        try:
            return _spawn.spawn(inv.path, self.env, inv.stdin, inv.pass_fds)
        except OSError as err:
            # libcni's pkg/invoke/raw_exec.go retries "text file busy" (a plugin being
            # installed while it is run, cni#763). Unlike libcni, exhausting the retries is an
            # error, not success.
            options = self.options
            delay = min(options.etxtbsy_delay * 2.0**self.attempts, _MAX_ETXTBSY_DELAY)
            self.attempts += 1
            last = self.attempts >= options.etxtbsy_attempts
            late = self.deadline is not None and time.monotonic() + delay >= self.deadline
            if err.errno != errno.ETXTBSY or last or late:
                raise _spawn.spawn_error(inv.path, err) from err
            return delay

    def session(self, child: _spawn.Child) -> _proc.Session:
        """The session that drives the started ``child``."""
        return _proc.Session.begin(child, self.start, self.timeout, self.options._run_limits)


def _expired(start: float) -> Completed:
    # The deadline passed before the start (Go: "context deadline exceeded"): nothing runs,
    # and the outcome reads as a plugin killed at its deadline.
    return Completed(
        exit_status=-signal.SIGKILL,
        stdout=b"",
        stderr=b"",
        duration=time.monotonic() - start,
        timed_out=True,
    )


@attrs.frozen(kw_only=True)
class SubprocessExecutor(_Options):
    """The real :class:`Executor`: each plugin runs as a child process, bounded.

    Args:
        base_env: The environment the ``CNI_*`` variables are laid over; ``None`` (the
            default, as libcni) is ``os.environ`` at the time of each run, ``{}`` gives the
            plugin only the ``CNI_*`` variables.
        kill_grace: Seconds between SIGTERM and SIGKILL to the process group at the deadline.
        drain_grace: Seconds to keep reading the pipes after the plugin exited, for output
            still held by a grandchild (Go's ``WaitDelay``); then the group is killed.
        max_stdout: Bytes of stdout kept; beyond it the output is read and dropped and
            :attr:`~cnilib.protocol.Completed.truncated` is set.
        max_stderr: Bytes of stderr kept (the last ones).
        etxtbsy_attempts: Attempts to start a plugin whose file is busy being written.
        etxtbsy_delay: First sleep between those attempts (doubled each time, at most 1 s).

    Raises:
        ConfigError: An option out of range.
    """

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        """Return the executable for ``plugin_type``: :func:`find_plugin`.

        Raises:
            InvalidPluginNameError: See :func:`find_plugin`.
            PluginNotFoundError: See :func:`find_plugin`.
        """
        return find_plugin(plugin_type, paths)

    def run(self, inv: Invocation) -> Completed:
        """Run one plugin once and return what it did.

        Args:
            inv: What to run, with which stdin, environment and deadline. A timeout of zero or
                less has already passed: nothing is started and the result is timed out.

        Returns:
            The exit status (negative: killed by that signal), bounded stdout and stderr,
            the duration, and whether it timed out or its stdout was truncated.

        Raises:
            ExecutionError: The plugin could not be started (missing, not executable, bad
                format, still busy after the retries), or the path is not absolute.
            InvalidIdentifierError: An environment variable holds NUL or a bad name.
        """
        begun = self._begin(inv)
        if isinstance(begun, Completed):
            return begun
        while isinstance(child := begun.attempt(), float):
            time.sleep(child)
        session = begun.session(child)
        try:
            poller = _proc.Poller(session)
            while True:
                wake = session.advance(time.monotonic())
                if session.done:
                    return session.completed()
                poller.wait(None if wake is None else wake - time.monotonic())
        except BaseException:
            session.abort()
            raise


@attrs.frozen(kw_only=True)
class AsyncSubprocessExecutor(_Options):
    """The real :class:`AsyncExecutor`: like :class:`SubprocessExecutor`, as a coroutine.

    Cancelling :meth:`run` kills the plugin's whole process group with SIGKILL, reaps it, and
    lets the :class:`asyncio.CancelledError` through. The options are those of
    :class:`SubprocessExecutor`.

    Raises:
        ConfigError: An option out of range.
    """

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        """Return the executable for ``plugin_type``, as :meth:`SubprocessExecutor.find`."""
        return find_plugin(plugin_type, paths)

    async def run(self, inv: Invocation) -> Completed:
        """Run one plugin once and return what it did (see :meth:`SubprocessExecutor.run`).

        Args:
            inv: What to run, with which stdin, environment and deadline.

        Returns:
            The outcome, as :meth:`SubprocessExecutor.run` gives it.

        Raises:
            ExecutionError: The plugin could not be started.
            InvalidIdentifierError: An environment variable holds NUL or a bad name.
        """
        import asyncio  # only asyncio users pay for importing it

        begun = self._begin(inv)
        if isinstance(begun, Completed):
            return begun
        # On the loop, as asyncio's own subprocesses: the start is a few hundred µs of the
        # loop's time, and a worker thread would cost more CPU than it saves.
        while isinstance(child := begun.attempt(), float):
            await asyncio.sleep(child)
        session = begun.session(child)
        return await _drive(session)


async def _drive(session: _proc.Session) -> Completed:
    # The loop's own callbacks drive the session: each fd event or timer does the I/O,
    # advances the session and re-arms the one timer; the coroutine only waits for the end.
    # Every fd is unregistered before the session closes it.
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    watched: dict[int, bool] = {}  # fd -> watched for writing
    timer: list[asyncio.TimerHandle] = []
    armed: list[float | None] = [None]

    def forget(fd: int) -> None:
        writing = watched.pop(fd, None)
        if writing is not None:
            (loop.remove_writer if writing else loop.remove_reader)(fd)

    def step() -> None:
        try:
            wake_at = session.advance(time.monotonic())
        except Exception as err:  # pragma: no cover - advance handles what the OS may say
            if not done.done():
                done.set_exception(err)
            return
        if session.done:
            if not done.done():
                done.set_result(None)
            return
        if session.exited and session.pidfd in watched:
            forget(session.pidfd)  # stays readable: it has said what it had to say
        if wake_at != armed[0]:
            if timer:
                timer.pop().cancel()
            armed[0] = wake_at
            if wake_at is not None:
                timer.append(loop.call_later(max(wake_at - time.monotonic(), 0.0), step))

    def ready(fd: int) -> None:
        if fd == session.writer:
            session.on_write()
        elif fd in session.readers:
            session.on_read(fd)
        elif fd == session.pidfd:
            session.exit_ready()
        step()

    session.before_close = forget
    try:
        for fd in (*session.readers, session.pidfd):
            if fd is not None:
                loop.add_reader(fd, ready, fd)
                watched[fd] = False
        if session.writer is not None:
            loop.add_writer(session.writer, ready, session.writer)
            watched[session.writer] = True
        step()
        await done
        return session.completed()
    except BaseException:
        # Cancellation (or anything unexpected): nothing of the plugin may survive us.
        session.abort()
        raise
    finally:
        for fd in list(watched):
            forget(fd)
        if timer:
            timer.pop().cancel()
