"""Attachment and GC locks across threads and processes (G7 in docs/guarantees.md).

Rules of this file:

* The second process is ``tests/helpers/lock_worker.py``, run with this interpreter and the
  cnilib under test; it reports by exit status (0 had, 3 timed out).
* A lock that is held is shown to exclude by a short timeout in the other party; nothing is
  timed from below.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import cnilib
from cnilib._cache.locks import GC_GATE, attachment_lock_name, is_held, sweep
from cnilib.cache import ResultCache
from cnilib.errors import CacheError, InvalidIdentifierError, LockTimeoutError

WORKER = Path(__file__).resolve().parent / "helpers" / "lock_worker.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(cnilib.__file__).resolve().parent.parent)}
TIMED_OUT = 3


def worker(*args: str) -> int:
    """Run the worker to completion and return its exit status."""
    proc = subprocess.run(
        [sys.executable, str(WORKER), *args], env=ENV, capture_output=True, timeout=120,
        check=False,
    )
    assert proc.returncode in (0, TIMED_OUT), proc.stderr.decode()
    return proc.returncode


@pytest.fixture
def cache(tmp_path: Path) -> ResultCache:
    return ResultCache(tmp_path / "cni", lock_timeout=30.0)


@pytest.fixture
def holder(cache: ResultCache) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of (n1, c1, eth0) until we write a line to it."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", cache.root, "n1", "c1", "eth0"],
        env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        proc.communicate("release\n", timeout=60)


def test_lock_excludes_another_process(cache: ResultCache) -> None:
    """The container runtime must not invoke parallel operations for the same container."""
    with cache.lock("n1", "c1", "eth0"):
        assert worker("lock", cache.root, "n1", "c1", "eth0", "0.2") == TIMED_OUT
        assert worker("lock", cache.root, "n1", "c2", "eth0", "10") == 0  # other containers run
    assert worker("lock", cache.root, "n1", "c1", "eth0", "10") == 0


def test_lock_held_by_another_process_excludes_us(
    cache: ResultCache, holder: subprocess.Popen[str]
) -> None:
    """The exclusion works in the other direction too, and ends when the holder lets go."""
    with pytest.raises(LockTimeoutError), cache.lock("n1", "c1", "eth0", timeout=0.2):
        pass
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    with cache.lock("n1", "c1", "eth0", timeout=30):
        pass


def test_gc_is_exclusive(cache: ResultCache) -> None:
    """The runtime must exclusively execute either gc or add and delete."""
    with cache.gc_lock():
        assert worker("lock", cache.root, "n1", "c1", "eth0", "0.2") == TIMED_OUT
        assert worker("gc", cache.root, "0.2") == TIMED_OUT
    with cache.lock("n1", "c1", "eth0"):
        assert worker("gc", cache.root, "0.2") == TIMED_OUT
    assert worker("gc", cache.root, "10") == 0


def test_many_processes_never_overlap(cache: ResultCache, tmp_path: Path) -> None:
    """G7 stress: read-modify-write under the lock from 4 processes loses no update."""
    counter = tmp_path / "counter"
    counter.write_text("0", encoding="utf-8")
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), "count", cache.root, str(counter), "40"],
                         env=ENV, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert counter.read_text(encoding="utf-8") == "160"


def test_threads_of_one_process_exclude_each_other(cache: ResultCache) -> None:
    """flock belongs to the open file description, so two threads conflict like two processes."""
    entered = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with cache.lock("n1", "c1", "eth0"):
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(30)
        with pytest.raises(LockTimeoutError), cache.lock("n1", "c1", "eth0", timeout=0.2):
            pass
        with cache.lock("n1", "c2", "eth0", timeout=10):
            pass
    finally:
        leave.set()
        thread.join()
    with cache.lock("n1", "c1", "eth0", timeout=10):
        pass


def test_thread_counter_under_the_lock(cache: ResultCache) -> None:
    """8 threads incrementing a shared value under the lock lose nothing."""
    box = [0]

    def bump() -> None:
        for _ in range(50):
            with cache.lock("n", "c", "eth0"):
                value = box[0]
                os.sched_yield()
                box[0] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box[0] == 400


def test_default_and_expired_timeouts(tmp_path: Path) -> None:
    """No timeout given: the cache's lock_timeout applies; a spent deadline still tries once."""
    bounded = ResultCache(tmp_path / "cni", lock_timeout=0.2)
    with bounded.lock("n1", "c1", "eth0", timeout=0):  # free: had at the one try
        with pytest.raises(LockTimeoutError), bounded.lock("n1", "c1", "eth0"):
            pass
        with pytest.raises(LockTimeoutError), bounded.lock("n1", "c1", "eth0", timeout=-1):
            pass
    assert ResultCache(tmp_path).lock_timeout is None  # by default the caller's deadline rules


def test_lock_files_are_private_and_removed_after_use(cache: ResultCache) -> None:
    """The attachment's lock file goes away on release; the GC lock file stays; both 0600."""
    locks = Path(cache.root) / "locks"
    name = attachment_lock_name("n1", "c1", "eth0")
    with cache.lock("n1", "c1", "eth0"):
        assert sorted(os.listdir(locks)) == sorted([name, "gc"])
        assert (locks / name).stat().st_mode & 0o777 == 0o600
        assert locks.stat().st_mode & 0o777 == 0o700
    assert os.listdir(locks) == ["gc"]


def test_lock_names_do_not_collide_like_cache_names() -> None:
    """(a-b, c) and (a, b-c) share a cache file name but never a lock."""
    assert attachment_lock_name("a-b", "c", "eth0") != attachment_lock_name("a", "b-c", "eth0")


def test_lock_fds_are_not_inherited(cache: ResultCache) -> None:
    """Lock fds are O_CLOEXEC: a child exec'd while a lock is held does not keep it."""
    code = (
        "import os\n"
        "print('\\n'.join(os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd')"
        " if os.path.exists(f'/proc/self/fd/{fd}')))\n"
    )
    with cache.lock("n1", "c1", "eth0"):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, close_fds=False,
            timeout=60, check=True,
        ).stdout
    assert "locks" not in out


def test_identifiers_are_checked_before_locking(cache: ResultCache) -> None:
    """G6: a bad identifier is refused before any lock file is made."""
    with pytest.raises(InvalidIdentifierError), cache.lock("n1", "../c", "eth0"):
        pass
    assert not Path(cache.root).exists()


def test_unusable_lock_folder_is_a_cache_error(tmp_path: Path) -> None:
    """A lock file that cannot be created is a CacheError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    cache = ResultCache(blocker)
    with pytest.raises(CacheError, match="lock"), cache.gc_lock():
        pass


# -- asyncio ---------------------------------------------------------------------------------


def test_async_lock_waits_without_blocking_the_loop(cache: ResultCache) -> None:
    """alock polls with asyncio.sleep: other tasks run while it waits, and it gets the lock."""
    order: list[str] = []

    async def main() -> None:
        async with cache.alock("n1", "c1", "eth0"):
            waiter = asyncio.ensure_future(second())
            for _ in range(5):
                await asyncio.sleep(0.01)
                order.append("tick")  # the loop keeps running while `second` waits
            order.append("release")
        await waiter

    async def second() -> None:
        async with cache.alock("n1", "c1", "eth0", timeout=30):
            order.append("second")

    asyncio.run(main())
    assert order == ["tick"] * 5 + ["release", "second"]


def test_async_lock_times_out_and_gc_excludes(cache: ResultCache) -> None:
    """alock and agc_lock raise LockTimeoutError in time, against a thread of this process."""

    async def main() -> None:
        async with cache.agc_lock():
            with pytest.raises(LockTimeoutError):
                async with cache.alock("n1", "c1", "eth0", timeout=0.2):
                    pass
        async with cache.alock("n1", "c1", "eth0"):
            with pytest.raises(LockTimeoutError):
                async with cache.agc_lock(timeout=0.2):
                    pass

    asyncio.run(main())


def test_cancelled_waiter_leaves_no_fd(cache: ResultCache) -> None:
    """Cancelling a task waiting for a lock closes its lock file descriptor."""

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def main() -> None:
        async with cache.alock("n1", "c1", "eth0"):
            before = fds()
            task = asyncio.ensure_future(_wait(cache))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert fds() == before

    asyncio.run(main())


async def _wait(cache: ResultCache) -> None:
    async with cache.alock("n1", "c1", "eth0", timeout=30):
        pass


def test_polling_plan_backs_off_and_closes_when_abandoned(cache: ResultCache) -> None:
    """The plan hold() and ahold() share: pauses double up to a cap and never pass the
    deadline; a waiter that stops waiting (the plan closed) or times out keeps no descriptor."""
    from cnilib._cache.locks import _Attempt, _pauses

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    path = os.path.join(cache.root, "locks", attachment_lock_name("n1", "c1", "eth0"))
    with cache.lock("n1", "c1", "eth0"):
        before = fds()
        plan = _pauses(_Attempt(path, exclusive=True, transient=True), None)
        pauses = [next(plan) for _ in range(8)]
        assert pauses == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]
        assert fds() > before  # the attempt's descriptors, while it waits
        plan.close()
        assert fds() == before
        soon = _pauses(_Attempt(path, exclusive=True, transient=True), time.monotonic() + 60)
        assert 0 < next(soon) <= 0.001
        soon.close()
        late = _pauses(_Attempt(path, exclusive=True, transient=True), time.monotonic() - 1)
        with pytest.raises(LockTimeoutError):
            next(late)
        assert fds() == before
    # Free, the lock is had at once: the plan yields no pause.
    attempt = _Attempt(path, exclusive=True, transient=True)
    assert list(_pauses(attempt, None)) == []
    assert attempt.fd is not None
    attempt.release()


def _descriptors_on(path: str) -> int:
    """How many descriptors of this process are open on ``path``."""
    out = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            out += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:
            continue
    return out


def test_a_waiter_whose_lock_file_was_removed_locks_the_new_one(cache: ResultCache) -> None:
    """A waiter opens the lock file, then its holder removes it at release: the waiter must
    not hold the removed file (a later taker would create and lock another one beside it)."""
    path = os.path.join(cache.root, "locks", attachment_lock_name("n1", "c1", "eth0"))
    had, leave = threading.Event(), threading.Event()

    def wait_for_it() -> None:
        with cache.lock("n1", "c1", "eth0", timeout=30):
            had.set()
            leave.wait(30)

    with cache.lock("n1", "c1", "eth0"):  # removes its file at release (outside an operation)
        thread = threading.Thread(target=wait_for_it)
        thread.start()
        deadline = time.monotonic() + 30
        while _descriptors_on(path) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)  # until the waiter has opened the file we hold
        assert _descriptors_on(path) == 2
    try:
        assert had.wait(30)
        assert os.path.exists(path)
        with pytest.raises(LockTimeoutError), cache.lock("n1", "c1", "eth0", timeout=0.2):
            pass
    finally:
        leave.set()
        thread.join()


# -- the GC lock's gate: a waiting GC is not overtaken ------------------------------------------


def _gate_held(cache: ResultCache) -> bool:
    """Wait (at most 30 s) until someone holds the GC lock's gate; whether someone does."""
    deadline = time.monotonic() + 30
    while not is_held(cache.root, GC_GATE):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_a_waiting_gc_is_not_overtaken_by_new_operations(
    cache: ResultCache, holder: subprocess.Popen[str]
) -> None:
    """Another process holds an attachment (so the GC lock shared); a GC in a third process
    waits for it. An operation that starts now waits behind that GC instead of overtaking it
    (flock alone would let it in), and runs once the GC is done."""
    gc = subprocess.Popen([sys.executable, str(WORKER), "gc", cache.root, "30"], env=ENV,
                          stderr=subprocess.PIPE)
    try:
        assert _gate_held(cache)
        with pytest.raises(LockTimeoutError), cache.lock("n1", "c2", "eth0", timeout=0.3):
            pass
        assert gc.poll() is None  # still waiting for the holder
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        _, err = gc.communicate(timeout=60)
        assert gc.returncode == 0, err.decode()
    finally:
        if gc.poll() is None:
            gc.kill()
            gc.wait(60)
    with cache.lock("n1", "c2", "eth0", timeout=10):
        pass
    assert GC_GATE not in os.listdir(os.path.join(cache.root, "locks"))  # removed by its GC


def test_a_stream_of_operations_does_not_starve_gc(cache: ResultCache) -> None:
    """Four threads take attachment locks one after the other, their holds overlapping, so
    that the GC lock is never free of shared holders; a GC still gets in while the stream
    goes on (before the gate it waited until its timeout), and the stream resumes after."""
    stop = threading.Event()
    done: list[int] = [0, 0, 0, 0]
    errors: list[BaseException] = []

    def stream(index: int) -> None:
        time.sleep(index * 0.008)  # staggered: some hold is always in progress
        k = 0
        try:
            while not stop.is_set():
                with cache.lock("n1", f"c{index}-{k}", "eth0", timeout=30):
                    time.sleep(0.03)
                done[index] += 1
                k += 1
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        with cache.gc_lock(timeout=10):
            at_gc = sum(done)
            assert not stop.is_set()
            assert all(t.is_alive() for t in threads)
        time.sleep(0.3)
        assert sum(done) > at_gc  # the operations that waited behind the GC went on
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert errors == []


def test_async_operations_wait_behind_a_waiting_gc(cache: ResultCache) -> None:
    """The same with asyncio tasks (``alock``, ``agc_lock``): a task's hold keeps the GC
    waiting, a task that starts then waits behind the GC, and both run once the hold ends."""
    order: list[str] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def hold() -> None:
            async with cache.alock("n1", "c1", "eth0", timeout=10):
                order.append("held")
                await release.wait()

        async def gc() -> None:
            async with cache.agc_lock(timeout=10):
                order.append("gc")

        holding = asyncio.create_task(hold())
        while order != ["held"]:
            await asyncio.sleep(0.001)
        collecting = asyncio.create_task(gc())
        while not is_held(cache.root, GC_GATE):
            await asyncio.sleep(0.001)
        with pytest.raises(LockTimeoutError):
            async with cache.alock("n1", "c2", "eth0", timeout=0.3):
                pass
        release.set()
        async with cache.alock("n1", "c2", "eth0", timeout=10):
            order.append("after")
        await asyncio.gather(holding, collecting)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert order == ["held", "gc", "after"]


def test_a_gate_left_by_a_killed_gc_stops_nobody(
    cache: ResultCache, holder: subprocess.Popen[str]
) -> None:
    """A GC killed while it waited leaves its gate behind, held by nobody: operations and the
    next GC go on as if there were none, and the sweep of unheld lock files removes it."""
    gc = subprocess.Popen([sys.executable, str(WORKER), "gc", cache.root, "30"], env=ENV)
    try:
        assert _gate_held(cache)
    finally:
        gc.kill()
        gc.wait(60)
    assert GC_GATE in os.listdir(os.path.join(cache.root, "locks"))
    with cache.lock("n1", "c2", "eth0", timeout=0.5):
        pass
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    holder.wait(60)  # released: the GC below has its lock at once and makes no gate
    with cache.gc_lock(timeout=10):
        assert GC_GATE in sweep(cache.root)


def test_a_waiting_gc_takes_over_a_stale_gate_and_removes_it(
    cache: ResultCache, holder: subprocess.Popen[str]
) -> None:
    """A gate nobody holds (left by a killed GC) is the one the next waiting GC holds: new
    operations wait behind it, and it is gone once that GC has its lock."""
    locks = os.path.join(cache.root, "locks")
    os.close(os.open(os.path.join(locks, GC_GATE), os.O_WRONLY | os.O_CREAT, 0o600))
    gc = subprocess.Popen([sys.executable, str(WORKER), "gc", cache.root, "30"], env=ENV)
    try:
        assert _gate_held(cache)
        with pytest.raises(LockTimeoutError), cache.lock("n1", "c2", "eth0", timeout=0.3):
            pass
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        assert gc.wait(60) == 0
    finally:
        if gc.poll() is None:
            gc.kill()
            gc.wait(60)
    assert GC_GATE not in os.listdir(locks)
