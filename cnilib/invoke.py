"""Finding plugin executables and running them: the only module that starts processes.

Rules of this file:

* It carries no meaning: an :class:`~cnilib.protocol.Invocation` (path, stdin, env, timeout)
  goes in, a :class:`~cnilib.protocol.Completed` (status, bounded output, timing) comes out.
  What the output means is decided by :mod:`cnilib.protocol`.
* ``run`` never raises because a plugin failed, hung or was killed; it raises
  :class:`~cnilib.errors.ExecutionError` only when the process cannot be started at all.
* Only files that are regular, executable and directly inside a configured absolute directory
  are ever executed, and only for a ``type`` that passes an ASCII allowlist (REFERENCE §10 G1,
  §9.1 CVE-2021-20206).
* Every run is bounded in time and memory and leaves no process behind (REFERENCE §10 G2,
  G3): see ``docs/execution.md``.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from . import _proc
from .errors import ConfigError, ExecutionError, PluginNotFoundError
from .identifiers import check_plugin_type
from .protocol import Completed, Invocation

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

__all__ = [
    "Executor",
    "AsyncExecutor",
    "SubprocessExecutor",
    "AsyncSubprocessExecutor",
    "find_plugin",
]

_ACCESS_EFFECTIVE = os.access in os.supports_effective_ids
_MAX_ETXTBSY_DELAY = 1.0
# Plugins started at once by the asyncio executor (each start takes a thread for ~1 ms).
_SPAWN_THREADS = 16


def find_plugin(plugin_type: str, paths: Sequence[str] | str) -> str:
    """Find the executable for ``plugin_type``, the first match in ``paths`` order.

    A candidate is ``<dir>/<type>``; it is taken if it is (or is a symlink to) a regular file
    that this process may execute. Unlike libcni, a non-executable file is skipped rather than
    returned (REFERENCE §4.1). Entries of ``paths`` that are empty, relative or hold NUL are
    ignored: libcni would resolve them against the current directory, which is how a plugin
    gets run from wherever the runtime happens to be (REFERENCE §9.1).

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

    def _prepare(self, inv: Invocation) -> tuple[dict[bytes, bytes], float | None]:
        _proc.check_path(inv.path)
        stdin: object = inv.stdin
        if not isinstance(stdin, bytes):
            what = type(stdin).__name__
            msg = f"cannot execute plugin {inv.path}: stdin must be bytes, not {what}"
            raise ExecutionError(msg)
        # G10: the computed CNI_* win and appear once.
        env = _proc.build_env(self.base_env, inv.env)
        timeout: object = inv.timeout
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or (
                math.isnan(timeout)
            ):
                msg = f"cannot execute plugin {inv.path}: invalid timeout {timeout!r}"
                raise ExecutionError(msg)
            return env, None if timeout == math.inf else float(timeout)
        return env, None

    def _limits(self) -> _proc.Limits:
        return _proc.Limits(
            max_stdout=self.max_stdout,
            max_stderr=self.max_stderr,
            kill_grace=self.kill_grace,
            drain_grace=self.drain_grace,
        )

    def _retry_delay(self, path: str, err: OSError, attempt: int, deadline: float | None) -> float:
        # REFERENCE §4.2: libcni retries "text file busy" (a plugin being installed while it
        # is run, cni#763). Unlike libcni, exhausting the retries is an error, not success.
        delay = min(self.etxtbsy_delay * 2.0**attempt, _MAX_ETXTBSY_DELAY)
        last = attempt + 1 >= self.etxtbsy_attempts
        late = deadline is not None and time.monotonic() + delay >= deadline
        if err.errno != errno.ETXTBSY or last or late:
            raise _proc.spawn_error(path, err) from err
        return delay


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
        env, timeout = self._prepare(inv)
        start = time.monotonic()
        if timeout is not None and timeout <= 0:
            return _expired(start)
        deadline = None if timeout is None else start + timeout
        attempt = 0
        while True:
            try:
                child = _proc.spawn(inv.path, env)
                break
            except OSError as err:
                time.sleep(self._retry_delay(inv.path, err, attempt, deadline))
                attempt += 1
        session = _proc.Session.begin(child, inv.stdin, start, timeout, self._limits())
        try:
            while True:
                wake = session.advance(time.monotonic())
                if session.done:
                    return session.completed()
                _proc.poll_once(session, None if wake is None else wake - time.monotonic())
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
        """Return the executable for ``plugin_type``: :func:`find_plugin`.

        Raises:
            InvalidPluginNameError: See :func:`find_plugin`.
            PluginNotFoundError: See :func:`find_plugin`.
        """
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

        env, timeout = self._prepare(inv)
        start = time.monotonic()
        if timeout is not None and timeout <= 0:
            return _expired(start)
        deadline = None if timeout is None else start + timeout
        attempt = 0
        while True:
            try:
                child = await _aspawn(inv.path, env)
                break
            except OSError as err:
                await asyncio.sleep(self._retry_delay(inv.path, err, attempt, deadline))
                attempt += 1
        session = _proc.Session.begin(child, inv.stdin, start, timeout, self._limits())
        return await _drive(session)


async def _aspawn(path: str, env: Mapping[bytes, bytes]) -> _proc.Child:
    # Where the spawn releases the GIL, it runs on a worker thread: the event loop goes on
    # serving the other plugins while the kernel clones and execs, as Go's runtime does
    # (REFERENCE §10 G2). Elsewhere it runs on the loop, as asyncio's own subprocesses do.
    import asyncio

    if not _proc.spawn_releases_gil():
        return _proc.spawn(path, env)
    job = _spawn_pool().submit(_proc.spawn, path, env)
    try:
        return await asyncio.wrap_future(job)
    except asyncio.CancelledError:
        # The spawn cannot be interrupted; it takes milliseconds. Wait for it, and kill what
        # it started before the cancellation goes through.
        if not job.cancel():
            with contextlib.suppress(OSError):
                _proc.discard(job.result())
        raise


_POOL: list[tuple[int, concurrent.futures.ThreadPoolExecutor]] = []
_POOL_LOCK = threading.Lock()


def _spawn_pool() -> concurrent.futures.ThreadPoolExecutor:
    # One pool per process (a pool inherited through fork has no threads).
    import concurrent.futures

    pid = os.getpid()
    with _POOL_LOCK:
        if not _POOL or _POOL[0][0] != pid:
            _POOL[:] = [(pid, concurrent.futures.ThreadPoolExecutor(
                max_workers=_SPAWN_THREADS, thread_name_prefix="cnilib-spawn"))]
        return _POOL[0][1]


async def _drive(session: _proc.Session) -> Completed:
    # The asyncio loop: register the session's fds with the running loop, wake on readiness
    # or on the session's next deadline, and unregister each fd before the session closes it.
    import asyncio

    loop = asyncio.get_running_loop()
    readers: set[int] = set()
    writer: list[int] = []
    waiter: list[asyncio.Future[None]] = []

    def wake() -> None:
        if waiter and not waiter[-1].done():
            waiter[-1].set_result(None)

    def readable(fd: int) -> None:
        if fd in session.readers:
            session.on_read(fd)
        wake()

    def writable() -> None:
        session.on_write()
        wake()

    def forget(fd: int) -> None:
        if fd in readers:
            readers.discard(fd)
            loop.remove_reader(fd)
        if writer and writer[0] == fd:
            writer.clear()
            loop.remove_writer(fd)

    session.before_close = forget
    try:
        while True:
            wake_at = session.advance(time.monotonic())
            if session.done:
                return session.completed()
            want = set(session.readers)
            if session.pidfd is not None and not session.exited:
                want.add(session.pidfd)
            for fd in readers - want:
                forget(fd)
            for fd in want - readers:
                loop.add_reader(fd, readable, fd)
                readers.add(fd)
            if session.writer is not None and not writer:
                loop.add_writer(session.writer, writable)
                writer.append(session.writer)
            waiter.append(loop.create_future())
            timer = None
            if wake_at is not None:
                timer = loop.call_later(max(wake_at - time.monotonic(), 0.0), wake)
            try:
                await waiter[-1]
            finally:
                waiter.clear()
                if timer is not None:
                    timer.cancel()
    except BaseException:
        # Cancellation (or anything unexpected): nothing of the plugin may survive us.
        session.abort()
        raise
    finally:
        for fd in list(readers):
            forget(fd)
        if writer:
            forget(writer[0])
