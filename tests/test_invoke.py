"""Finding and running plugins with real processes (G1, G2, G3, G10 in docs/guarantees.md).

Rules of this file:

* Plugins are small ``/bin/sh`` or Python scripts written to ``tmp_path`` by fixtures.
* Every test that lets a plugin leave processes behind proves, afterwards, that no process of
  the plugin's group is alive. The test process is made a child subreaper so that orphans come
  back to it and are reaped here, instead of piling up as zombies under PID 1.
* Time is only ever bounded from above, generously ("returns in < 10 s").
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import math
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnilib._exec import spawn
from cnilib._json import loads
from cnilib.errors import (
    CNIError,
    ConfigError,
    ExecutionError,
    InvalidIdentifierError,
    InvalidPluginNameError,
    PluginNotFoundError,
)
from cnilib.invoke import (
    AsyncExecutor,
    AsyncSubprocessExecutor,
    Executor,
    SubprocessExecutor,
    find_plugin,
)
from cnilib.protocol import Command, Completed, Invocation

PR_SET_CHILD_SUBREAPER = 36
FAST = SubprocessExecutor(kill_grace=0.5, drain_grace=0.3)
AFAST = AsyncSubprocessExecutor(kill_grace=0.5, drain_grace=0.3)

MakePlugin = Callable[[str, str], str]


# -- process bookkeeping ---------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, ppid, pgrp)`` of ``pid`` from /proc, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def _members(pgid: int) -> dict[int, str]:
    """Every process of group ``pgid`` and its state letter (``Z`` for a zombie)."""
    out: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _proc_stat(int(entry))
            if info is not None and info[2] == pgid:
                out[int(entry)] = info[0]
    return out


def _reap_orphans() -> None:
    """Reap zombies reparented to us (we are a subreaper); never our own group's."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _proc_stat(int(entry))
            if info is not None and info[1] == me and info[0] == "Z" and info[2] != os.getpgrp():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(int(entry), 0)


def assert_group_gone(pgid: int) -> None:
    """No process of ``pgid`` is alive (zombies are reaped first, then the group is empty)."""
    deadline = time.monotonic() + 10
    while any(state != "Z" for state in _members(pgid).values()):
        # SIGKILL is delivered asynchronously; the run has returned, death is imminent.
        assert time.monotonic() < deadline, f"alive in group {pgid}: {_members(pgid)}"
        time.sleep(0.01)
    _reap_orphans()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


@pytest.fixture(autouse=True)
def subreaper() -> Iterator[None]:
    """Make orphaned plugin grandchildren our children, and reap them after the test."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        _reap_orphans()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture
def make_plugin(tmp_path: Path) -> MakePlugin:
    """Write an executable script (``#!`` line included in ``text``) and return its path."""

    def make(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
        return str(path)

    return make


def sh(body: str) -> str:
    return "#!/bin/sh\n" + body


def py(body: str) -> str:
    return f"#!{sys.executable}\n" + body


def inv(
    path: str,
    *,
    stdin: bytes = b"{}",
    env: dict[str, str] | None = None,
    timeout: float | None = 30.0,
    command: Command = Command.ADD,
) -> Invocation:
    return Invocation(
        plugin_type=os.path.basename(path),
        path=path,
        command=command,
        stdin=stdin,
        env={"CNI_COMMAND": command.value} if env is None else env,
        timeout=timeout,
    )


def read_pid(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, "plugin never wrote its pid"
        time.sleep(0.01)
    return int(path.read_text())


# -- the seam --------------------------------------------------------------------------------


def test_the_executors_satisfy_the_protocols() -> None:
    """SubprocessExecutor is an Executor and AsyncSubprocessExecutor an AsyncExecutor."""
    sync_exec: Executor = SubprocessExecutor()
    async_exec: AsyncExecutor = AsyncSubprocessExecutor()
    assert callable(sync_exec.run)
    assert asyncio.iscoroutinefunction(async_exec.run)


@pytest.mark.parametrize(
    ("option", "value"),
    [("kill_grace", -1.0), ("drain_grace", float("nan")), ("max_stdout", 0),
     ("max_stderr", True), ("etxtbsy_attempts", 0), ("etxtbsy_delay", float("inf"))],
)
def test_options_out_of_range_are_config_errors(option: str, value: float) -> None:
    """A bad executor option is refused with a typed error, not a bare ValueError."""
    with pytest.raises(ConfigError, match=option):
        SubprocessExecutor(**{option: value})  # type: ignore[arg-type]


# -- running ---------------------------------------------------------------------------------


def test_success_returns_stdout_stderr_and_status(make_plugin: MakePlugin) -> None:
    """stdin reaches the plugin; stdout, stderr and the exit status come back."""
    path = make_plugin("echo", sh("cat\necho note >&2\n"))
    done = FAST.run(inv(path, stdin=b'{"cniVersion":"1.0.0"}'))
    assert done.exit_status == 0
    assert done.stdout == b'{"cniVersion":"1.0.0"}'
    assert done.stderr == b"note\n"
    assert (done.timed_out, done.truncated) == (False, False)
    assert 0 <= done.duration < 10


def test_failure_with_error_json_is_returned_not_raised(make_plugin: MakePlugin) -> None:
    """A non-zero exit is an outcome (protocol.py gives it meaning), not an exception."""
    path = make_plugin("fail", sh("echo '{\"code\":7,\"msg\":\"bad config\"}'\nexit 1\n"))
    done = FAST.run(inv(path))
    assert done.exit_status == 1
    assert loads(done.stdout) == {"code": 7, "msg": "bad config"}
    assert done.timed_out is False


def test_large_stdin_both_ways(make_plugin: MakePlugin) -> None:
    """A request larger than a pipe buffer is written while the reply is read (no deadlock)."""
    path = make_plugin("cat", sh("exec cat\n"))
    big = b"x" * (3 * 1024 * 1024 + 7)
    done = FAST.run(inv(path, stdin=big))
    assert done.exit_status == 0
    assert done.stdout == big


def test_plugin_that_ignores_stdin_is_fine(make_plugin: MakePlugin) -> None:
    """A plugin that exits without reading stdin does not make run() fail (EPIPE is its right)."""
    path = make_plugin("deaf", sh("exit 0\n"))
    done = FAST.run(inv(path, stdin=b"y" * (2 * 1024 * 1024)))
    assert done.exit_status == 0


def test_huge_stdout_is_truncated_and_flagged(make_plugin: MakePlugin) -> None:
    """G3: stdout over the cap is read to the end but kept only up to the cap."""
    path = make_plugin("flood", sh("head -c 20000000 /dev/zero\necho done >&2\n"))
    executor = SubprocessExecutor(max_stdout=1024 * 1024)
    done = executor.run(inv(path))
    assert done.exit_status == 0
    assert done.truncated is True
    assert len(done.stdout) == 1024 * 1024
    assert done.stderr == b"done\n"


def test_stderr_keeps_a_bounded_tail(make_plugin: MakePlugin) -> None:
    """G3: stderr keeps its last max_stderr bytes."""
    path = make_plugin("noisy", py(
        "import sys\nsys.stderr.write('a' * 300000 + 'THE END')\n"))
    done = SubprocessExecutor(max_stderr=4096).run(inv(path))
    assert len(done.stderr) == 4096
    assert done.stderr.endswith(b"aaaTHE END")
    assert done.truncated is False


def test_killed_plugin_reports_the_signal(make_plugin: MakePlugin) -> None:
    """A plugin killed by a signal has a negative exit status and did not time out."""
    path = make_plugin("suicide", sh("kill -9 $$\n"))
    done = FAST.run(inv(path))
    assert done.exit_status == -signal.SIGKILL
    assert done.timed_out is False


def test_hung_plugin_is_terminated_at_its_deadline(make_plugin: MakePlugin, tmp_path: Path) -> None:
    """G2: at the deadline the group gets SIGTERM; a plugin that dies of it is reported so."""
    pidfile = tmp_path / "pid"
    path = make_plugin("hang", sh(f"echo $$ > {pidfile}\nexec sleep 1000\n"))
    start = time.monotonic()
    done = FAST.run(inv(path, timeout=0.5))
    assert time.monotonic() - start < 10
    assert done.timed_out is True
    assert done.exit_status == -signal.SIGTERM
    assert_group_gone(read_pid(pidfile))


def test_hung_plugin_with_grandchild_holding_stdout(
    make_plugin: MakePlugin, tmp_path: Path
) -> None:
    """G2: a plugin and a grandchild that ignore SIGTERM and hold stdout are all killed in time."""
    pidfile = tmp_path / "pid"
    path = make_plugin("stubborn", sh(
        f"echo $$ > {pidfile}\ntrap '' TERM\n(sleep 1000; echo late) &\necho partial\nsleep 1000\n"
    ))
    start = time.monotonic()
    done = FAST.run(inv(path, timeout=0.5))
    assert time.monotonic() - start < 10  # deadline 0.5 + grace 0.5, generously bounded
    assert done.timed_out is True
    assert done.exit_status == -signal.SIGKILL
    assert done.stdout == b"partial\n"
    assert_group_gone(read_pid(pidfile))


def test_exited_plugin_whose_grandchild_holds_stdout(
    make_plugin: MakePlugin, tmp_path: Path
) -> None:
    """G2: the plugin exited; a grandchild holding stdout cannot hang the call."""
    pidfile = tmp_path / "pid"
    path = make_plugin("leaky", sh(f"echo $$ > {pidfile}\n(exec sleep 1000) &\necho '{{}}'\n"))
    start = time.monotonic()
    done = FAST.run(inv(path, timeout=None))
    assert time.monotonic() - start < 10
    assert done.exit_status == 0
    assert done.stdout == b"{}\n"
    assert done.timed_out is False
    assert_group_gone(read_pid(pidfile))


def test_detached_helper_that_closed_the_pipes_is_left_alone(
    make_plugin: MakePlugin, tmp_path: Path
) -> None:
    """Only a group still holding our pipes is killed after exit; a daemon that let go is not."""
    pidfile = tmp_path / "pid"
    path = make_plugin("daemonizer", sh(
        f"echo $$ > {pidfile}\nsleep 1000 </dev/null >/dev/null 2>&1 &\necho '{{}}'\n"
    ))
    # A long drain grace: the helper must have let go of the pipes, not been too slow to.
    done = SubprocessExecutor(drain_grace=30).run(inv(path))
    assert done.exit_status == 0
    pgid = read_pid(pidfile)
    try:
        assert any(state != "Z" for state in _members(pgid).values())
    finally:
        os.killpg(pgid, signal.SIGKILL)
    assert_group_gone(pgid)


def test_expired_deadline_starts_nothing(make_plugin: MakePlugin, tmp_path: Path) -> None:
    """A timeout of zero has already passed: the plugin is not started (Go: deadline exceeded)."""
    canary = tmp_path / "ran"
    path = make_plugin("canary", sh(f"touch {canary}\n"))
    done = FAST.run(inv(path, timeout=0))
    assert done.timed_out is True
    assert done.exit_status == -signal.SIGKILL
    assert not canary.exists()


def _counting_waitid(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of ``os.waitid`` (the executor's "has it exited?") from now on."""
    calls: list[int] = []
    real = os.waitid

    def waitid(idtype: int, ident: int, options: int) -> object:
        calls.append(ident)
        return real(idtype, ident, options)

    monkeypatch.setattr(os, "waitid", waitid)
    return calls


def _run_with(driver: str, invocation: Invocation) -> Completed:
    """Run with the sync or the asyncio executor."""
    if driver == "sync":
        return FAST.run(invocation)
    return asyncio.run(AFAST.run(invocation))


CHATTY = sh("for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; sleep 0.05; done\n")


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_exit_is_asked_only_when_it_may_have_happened(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    """A plugin that wakes us ten times costs at most two waitid, not one per wake.

    The pidfd (or both pipes at EOF) says when the exit may have happened; before, every
    wake asked the kernel.
    """
    path = make_plugin("chatty", CHATTY)
    calls = _counting_waitid(monkeypatch)
    done = _run_with(driver, inv(path))
    assert done.exit_status == 0
    assert done.stdout == b"".join(b"out%d\n" % i for i in range(1, 6))
    assert done.stderr == b"".join(b"err%d\n" % i for i in range(1, 6))
    assert 1 <= len(calls) <= 2


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_without_pidfd_the_exit_is_still_seen(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, driver: str
) -> None:
    """G2 with no pidfd (old kernel, seccomp): the exit is polled for, the drain grace holds."""

    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "pidfd_open")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    pidfile = tmp_path / "pid"
    path = make_plugin("leaky", sh(f"echo $$ > {pidfile}\n(exec sleep 1000) &\necho '{{}}'\n"))
    start = time.monotonic()
    done = _run_with(driver, inv(path, timeout=None))
    assert time.monotonic() - start < 10
    assert (done.exit_status, done.stdout, done.timed_out) == (0, b"{}\n", False)
    assert_group_gone(read_pid(pidfile))
    plain = make_plugin("chatty", CHATTY)
    assert FAST.run(inv(plain)).stdout.count(b"out") == 5


def test_the_plugin_is_reaped_soon_after_its_run(make_plugin: MakePlugin) -> None:
    """The status comes with the exit; the zombie is reaped soon after, with no other start.

    Reaping at once raced the kernel's cleanup of the plugin's last thread (a spin of up to
    milliseconds in wait4): the reap comes ``_REAP_AFTER`` later, from the reaper thread here.
    """
    path = make_plugin("pid", sh("echo $$\nexit 3\n"))
    done = FAST.run(inv(path))
    pid = int(done.stdout)
    assert done.exit_status == 3
    deadline = time.monotonic() + 5
    while _proc_stat(pid) is not None:
        assert time.monotonic() < deadline, f"{pid} never reaped: {_proc_stat(pid)}"
        time.sleep(0.01)
    assert pid not in spawn.REAPER.pending()


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_the_next_start_reaps_the_zombies_due(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    """When runs follow one another, a zombie waits for the next start, not for the thread."""
    reaper = spawn._Reaper()
    monkeypatch.setattr(spawn, "REAPER", reaper)
    monkeypatch.setattr(spawn, "_REAP_IDLE", 3600.0)  # its thread never gets to it
    path = make_plugin("pid", sh("echo $$\n"))
    first = int(_run_with(driver, inv(path)).stdout)
    time.sleep(0.05)  # past _REAP_AFTER
    assert reaper.pending() == [first]
    assert _proc_stat(first) is not None  # a zombie still
    second = int(_run_with(driver, inv(path)).stdout)
    assert reaper.pending() == [second]
    assert _proc_stat(first) is None
    reaper.due(math.inf)
    assert reaper.pending() == []
    assert _proc_stat(second) is None


# -- environment -----------------------------------------------------------------------------

ENV_DUMP = py(
    "import json, sys\n"
    "raw = open('/proc/self/environ', 'rb').read().split(b'\\0')\n"
    "print(json.dumps([e.decode() for e in raw if e]))\n"
)


def _env_of(done: Completed) -> list[str]:
    value = loads(done.stdout)
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_computed_cni_variables_win_and_appear_once(make_plugin: MakePlugin) -> None:
    """G10: the CNI_* of the invocation override the base environment and appear once."""
    path = make_plugin("envdump", ENV_DUMP)
    executor = SubprocessExecutor(
        base_env={"CNI_COMMAND": "DEL", "CNI_IFNAME": "stale", "KEEP": "kept"}
    )
    done = executor.run(inv(path, env={"CNI_COMMAND": "ADD", "CNI_IFNAME": "eth0"}))
    env = _env_of(done)
    assert sorted(env) == ["CNI_COMMAND=ADD", "CNI_IFNAME=eth0", "KEEP=kept"]


def test_default_base_environment_is_os_environ(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As libcni: the plugin inherits the caller's environment, read at each run."""
    path = make_plugin("envdump", ENV_DUMP)
    monkeypatch.setenv("CNILIB_TEST_MARKER", "inherited")
    monkeypatch.setenv("CNI_NETNS", "/from/parent")
    env = _env_of(FAST.run(inv(path, env={"CNI_NETNS": "/run/netns/x"})))
    assert "CNILIB_TEST_MARKER=inherited" in env
    assert [e for e in env if e.startswith("CNI_NETNS=")] == ["CNI_NETNS=/run/netns/x"]


@pytest.mark.parametrize(
    "env",
    [{"CNI_ARGS": "IP=1\0"}, {"BAD\0KEY": "x"}, {"A=B": "x"}, {"": "x"}],
)
def test_unrepresentable_environment_is_refused_before_start(
    make_plugin: MakePlugin, tmp_path: Path, env: dict[str, str]
) -> None:
    """G4: NUL or '=' in the environment is a typed error, and nothing runs."""
    canary = tmp_path / "ran"
    path = make_plugin("canary", sh(f"touch {canary}\n"))
    with pytest.raises(InvalidIdentifierError):
        FAST.run(inv(path, env=env))
    assert not canary.exists()


# -- how a plugin starts ---------------------------------------------------------------------

STARTED_ALONE = py(
    "import json, os\n"
    "open_fds = []\n"
    "for fd in range(3, 1024):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "    except OSError:\n"
    "        continue\n"
    "    open_fds.append(fd)\n"
    "print(json.dumps({'fds': open_fds, 'pid': os.getpid(), 'sid': os.getsid(0),\n"
    "                  'pgid': os.getpgrp()}))\n"
)
# grep, not Python (which ignores SIGPIPE and SIGXFSZ itself) nor the shell (which blocks
# signals around its own children): exec keeps the mask and the ignored signals.
SIGNAL_STATE = sh("exec grep -E '^Sig(Blk|Ign):' /proc/self/status\n")


def _in_thread_blocking(signals: set[signal.Signals], run: Callable[[], Completed]) -> Completed:
    """``run()`` from a new thread that blocks ``signals`` (the test's thread is untouched)."""
    out: list[Completed] = []

    def body() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        out.append(run())

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert len(out) == 1
    return out[0]


# Both ways a plugin is started: subprocess, and posix_spawn from a thread that blocks signals.
BLOCKED = pytest.mark.parametrize("blocked", [set(), {signal.SIGTERM, signal.SIGUSR1}],
                                  ids=["no-mask", "masked-thread"])


@BLOCKED
def test_plugin_starts_alone_in_its_own_process_group(
    make_plugin: MakePlugin, blocked: set[signal.Signals]
) -> None:
    """Its own group (G2's group kill), in our session; no fd but its stdio, even inheritable."""
    path = make_plugin("alone", STARTED_ALONE)
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        done = _in_thread_blocking(blocked, lambda: FAST.run(inv(path)))
    finally:
        os.close(leaked)
    assert done.exit_status == 0, done.stderr
    seen = loads(done.stdout)
    assert isinstance(seen, dict)
    assert seen["fds"] == []
    assert seen["pgid"] == seen["pid"]
    assert seen["sid"] == os.getsid(0)  # not a new session (docs/performance.md)


@BLOCKED
def test_passed_descriptor_is_the_only_one_inherited_and_keeps_its_number(
    make_plugin: MakePlugin, blocked: set[signal.Signals]
) -> None:
    """``Invocation.pass_fds`` (the attachment's lock, G16) reaches the plugin as it is."""
    path = make_plugin("alone", STARTED_ALONE)
    passed = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        run = attrs.evolve(inv(path), pass_fds=(passed,))
        done = _in_thread_blocking(blocked, lambda: FAST.run(run))
        assert not os.get_inheritable(passed)  # as it was before the run
    finally:
        os.close(passed)
        os.close(leaked)
    assert done.exit_status == 0, done.stderr
    seen = loads(done.stdout)
    assert isinstance(seen, dict)
    assert seen["fds"] == [passed]


@BLOCKED
def test_plugin_starts_with_no_signal_blocked_and_pipe_signals_at_default(
    make_plugin: MakePlugin, blocked: set[signal.Signals]
) -> None:
    """SIGPIPE and SIGXFSZ (ignored by Python) are back to their defaults; none is blocked."""
    path = make_plugin("signals", SIGNAL_STATE)
    done = _in_thread_blocking(blocked, lambda: FAST.run(inv(path)))
    assert done.exit_status == 0, done.stderr
    state = dict(line.split(":") for line in done.stdout.decode().splitlines())
    assert int(state["SigBlk"], 16) == 0
    ignored = int(state["SigIgn"], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGUSR1):
        assert not ignored & (1 << (sig - 1)), sig


# -- start failures --------------------------------------------------------------------------


def test_missing_executable_is_an_execution_error(tmp_path: Path) -> None:
    """A plugin that vanished after find() cannot be started: ExecutionError naming it."""
    path = str(tmp_path / "gone")
    with pytest.raises(ExecutionError, match="gone") as info:
        FAST.run(inv(path))
    assert info.value.errno == errno.ENOENT


def test_non_executable_file_is_an_execution_error(tmp_path: Path) -> None:
    """EACCES at exec (even root needs an execute bit) is ExecutionError."""
    path = tmp_path / "plain"
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ExecutionError, match="plain") as info:
        FAST.run(inv(str(path)))
    assert info.value.errno == errno.EACCES


def test_bad_format_is_an_execution_error(make_plugin: MakePlugin) -> None:
    """ENOEXEC (no #! line, not an ELF) is ExecutionError."""
    path = make_plugin("garbage", "\x7fnot an executable format\n")
    with pytest.raises(ExecutionError) as info:
        FAST.run(inv(path))
    assert info.value.errno == errno.ENOEXEC


def test_relative_path_is_refused(make_plugin: MakePlugin) -> None:
    """A relative path would be searched in $PATH by the OS: refused (G1)."""
    with pytest.raises(ExecutionError, match="absolute"):
        FAST.run(inv("bridge"))


def _busy_script(tmp_path: Path) -> tuple[str, int]:
    path = tmp_path / "busy"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, b"#!/bin/sh\necho ok\n")
    return str(path), fd


def test_text_file_busy_is_retried(tmp_path: Path) -> None:
    """As libcni (containernetworking/cni#763): ETXTBSY (a plugin still being written) is
    retried until it can run."""
    path, fd = _busy_script(tmp_path)
    closer = threading.Timer(0.3, os.close, args=(fd,))
    closer.start()
    try:
        done = SubprocessExecutor(etxtbsy_attempts=30, etxtbsy_delay=0.02).run(inv(path))
    finally:
        closer.join()
    assert done.exit_status == 0
    assert done.stdout == b"ok\n"


def test_text_file_busy_for_good_is_an_execution_error(tmp_path: Path) -> None:
    """Unlike libcni (which then reports success with empty output), exhaustion is an error."""
    path, fd = _busy_script(tmp_path)
    try:
        with pytest.raises(ExecutionError, match="busy") as info:
            SubprocessExecutor(etxtbsy_attempts=3, etxtbsy_delay=0.01).run(inv(path))
    finally:
        os.close(fd)
    assert info.value.errno == errno.ETXTBSY


# -- asyncio ---------------------------------------------------------------------------------


def test_async_success(make_plugin: MakePlugin) -> None:
    """The asyncio executor returns what the sync one does."""
    path = make_plugin("echo", sh("cat\necho note >&2\nexit 4\n"))
    done = asyncio.run(AFAST.run(inv(path, stdin=b"hello")))
    assert (done.exit_status, done.stdout, done.stderr) == (4, b"hello", b"note\n")


def test_async_runs_concurrently(make_plugin: MakePlugin) -> None:
    """Several plugins run at once on one loop: the loop is never blocked waiting for one."""
    path = make_plugin("nap", sh("sleep 2\necho '{}'\n"))

    async def main() -> list[Completed]:
        return await asyncio.gather(*(AFAST.run(inv(path)) for _ in range(8)))

    start = time.monotonic()
    results = asyncio.run(main())
    assert time.monotonic() - start < 10  # one after the other would take 16 s
    assert [r.stdout for r in results] == [b"{}\n"] * 8


def test_async_timeout_kills_the_group(make_plugin: MakePlugin, tmp_path: Path) -> None:
    """G2, asyncio: SIGTERM then SIGKILL to the group, grandchild included."""
    pidfile = tmp_path / "pid"
    path = make_plugin("stubborn", sh(
        f"echo $$ > {pidfile}\ntrap '' TERM\n(sleep 1000) &\nsleep 1000\n"))
    start = time.monotonic()
    done = asyncio.run(AFAST.run(inv(path, timeout=0.5)))
    assert time.monotonic() - start < 10
    assert done.timed_out is True
    assert done.exit_status == -signal.SIGKILL
    assert_group_gone(read_pid(pidfile))


def test_async_grandchild_holding_stdout(make_plugin: MakePlugin, tmp_path: Path) -> None:
    """G2, asyncio: the drain grace applies after the plugin exits."""
    pidfile = tmp_path / "pid"
    path = make_plugin("leaky", sh(f"echo $$ > {pidfile}\n(exec sleep 1000) &\necho '{{}}'\n"))
    done = asyncio.run(AFAST.run(inv(path, timeout=None)))
    assert (done.exit_status, done.stdout, done.timed_out) == (0, b"{}\n", False)
    assert_group_gone(read_pid(pidfile))


def test_async_cancellation_kills_the_group(make_plugin: MakePlugin, tmp_path: Path) -> None:
    """Cancelling run() SIGKILLs the whole group, reaps it, and re-raises CancelledError."""
    pidfile = tmp_path / "pid"
    path = make_plugin("hang", sh(f"echo $$ > {pidfile}\n(sleep 1000) &\nsleep 1000\n"))

    async def main() -> None:
        task = asyncio.ensure_future(AFAST.run(inv(path, timeout=None)))
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert_group_gone(read_pid(pidfile))


def test_async_start_failure_is_an_execution_error(tmp_path: Path) -> None:
    """The asyncio executor raises ExecutionError for a plugin that cannot start."""
    with pytest.raises(ExecutionError, match="gone"):
        asyncio.run(AFAST.run(inv(str(tmp_path / "gone"))))


def test_async_text_file_busy_is_retried(tmp_path: Path) -> None:
    """ETXTBSY retries sleep on the loop, not in it."""
    path, fd = _busy_script(tmp_path)

    async def main() -> Completed:
        asyncio.get_running_loop().call_later(0.3, os.close, fd)
        return await AsyncSubprocessExecutor(etxtbsy_attempts=30, etxtbsy_delay=0.02).run(
            inv(path)
        )

    assert asyncio.run(main()).stdout == b"ok\n"


# -- finding ---------------------------------------------------------------------------------


@pytest.fixture
def bins(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "bin1", tmp_path / "bin2"
    first.mkdir()
    second.mkdir()
    return first, second


def _exe(path: Path, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_find_takes_the_first_directory_in_order(bins: tuple[Path, Path]) -> None:
    """Directories are searched in order; the first regular executable wins."""
    first, second = bins
    _exe(first / "bridge")
    _exe(second / "bridge")
    assert find_plugin("bridge", [str(first), str(second)]) == str(first / "bridge")
    assert SubprocessExecutor().find("bridge", [str(second)]) == str(second / "bridge")


def test_find_skips_what_cannot_be_executed(bins: tuple[Path, Path]) -> None:
    """A non-executable file or a directory is skipped (libcni would return it), and said so."""
    first, second = bins
    _exe(first / "ptp", mode=0o644)
    (first / "vlan").mkdir()
    _exe(second / "ptp")
    assert find_plugin("ptp", [str(first), str(second)]) == str(second / "ptp")
    with pytest.raises(PluginNotFoundError) as info:
        find_plugin("vlan", [str(first), str(second)])
    assert "not a regular file" in info.value.details


def test_find_follows_symlinks_to_regular_files(bins: tuple[Path, Path]) -> None:
    """A symlink in a plugin directory is fine if it resolves to a regular executable file."""
    first, second = bins
    target = _exe(second / "real")
    (first / "alias").symlink_to(target)
    (first / "dirlink").symlink_to(second)
    (first / "dangling").symlink_to(second / "nothing")
    assert find_plugin("alias", [str(first)]) == str(first / "alias")
    for name in ("dirlink", "dangling"):
        with pytest.raises(PluginNotFoundError):
            find_plugin(name, [str(first)])


def test_find_message_is_libcnis(bins: tuple[Path, Path]) -> None:
    """libcni FindInPath's message: failed to find plugin "<t>" in path [<p1> <p2>]."""
    first, second = bins
    with pytest.raises(PluginNotFoundError) as info:
        find_plugin("macvlan", [str(first), str(second)])
    assert str(info.value) == f'failed to find plugin "macvlan" in path [{first} {second}]'
    assert info.value.plugin == "macvlan"
    assert info.value.paths == (str(first), str(second))
    assert isinstance(info.value, FileNotFoundError)


def test_find_ignores_relative_and_empty_directories(
    bins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """G1: relative or empty CNI_PATH entries would search the current directory."""
    first, _ = bins
    _exe(first / "host-local")
    monkeypatch.chdir(first)
    with pytest.raises(PluginNotFoundError) as info:
        find_plugin("host-local", ["", ".", "bin1"])
    assert "not an absolute path" in info.value.details
    assert find_plugin("host-local", f"::{first}") == str(first / "host-local")


def test_find_without_paths() -> None:
    """libcni: no paths provided."""
    with pytest.raises(PluginNotFoundError, match="no paths provided"):
        find_plugin("bridge", [])


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../bridge", "a/b", "a\\b", "-rf", "x\0y", "bridge\n", "é", "a b"]
)
def test_find_refuses_unsafe_names_before_looking(
    name: str, bins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """G1: a type outside the allowlist is refused before any file is looked at."""
    first, _ = bins

    def no_stat(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the file system was consulted")

    monkeypatch.setattr(os, "stat", no_stat)
    with pytest.raises(InvalidPluginNameError):
        find_plugin(name, [str(first)])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(
    st.text(max_size=20),
    st.sampled_from(["bridge", "../bridge", "bin2/bridge", "./bridge", "bridge/", "..", "."]),
))
def test_find_only_returns_files_inside_the_configured_directory(
    name: str, bins: tuple[Path, Path]
) -> None:
    """Matches the name of the CNI plugin binary on disk. Must not contain characters disallowed in file paths for the system (e.g. / or \\)."""  # noqa: E501
    first, second = bins
    if not (first / "bridge").exists():
        _exe(first / "bridge")
        _exe(second / "bridge")
    try:
        found = find_plugin(name, [str(first)])
    except (InvalidPluginNameError, PluginNotFoundError):
        return
    except CNIError as err:  # pragma: no cover - shown if it ever happens
        pytest.fail(f"unexpected {err!r}")
    assert os.path.dirname(found) == str(first)
    assert stat.S_ISREG(os.stat(found).st_mode)
