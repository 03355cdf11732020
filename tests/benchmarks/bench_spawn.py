"""Starting a plugin: the ways to start a process with cnilib's guarantees, vs the bare floor.

Not a test. Needs the no-op plugin (``.ci/setup.sh`` builds it into ``.venv/bin/noop``)::

    .venv/bin/python tests/benchmarks/bench_spawn.py [--rounds N] [--runs N] [--threads N]
        [--tree DIR] [--gil]
    sudo .venv/bin/python tests/benchmarks/bench_spawn.py --reap [--rounds N] [--cycles N]

Each side runs the no-op plugin ``--runs`` times (one ADD request on stdin, its result read
back, the child reaped), from one thread and then from ``--threads`` threads at once:

* **floor**: ``os.posix_spawn`` with two pipes and a blocking read, nothing else;
* **posix_spawn**: ``os.posix_spawn`` with what cnilib promises of a start (a new process
  group, three pipes, every inheritable fd closed, SIGPIPE and SIGXFSZ at their defaults, no
  signal blocked), then the same blocking reads;
* **subprocess**: ``subprocess.Popen`` with the same promises (``process_group=0``,
  ``close_fds``, ``restore_signals``);
* **subprocess+setsid**: the same in a new session (``start_new_session``), as cnilib did
  before: with the kernel's autogroup scheduling each plugin is then a new scheduling group;
* **cnilib**: :class:`cnilib.invoke.SubprocessExecutor` (which starts with subprocess, and
  adds the deadline, the caps and the pidfd);
* **cnilib, base_env={}**: the same with only the ``CNI_*`` variables: the difference is what
  reading, checking and passing on the process environment costs per run;
* **tree** (with ``--tree DIR``): the executor of another cnilib checkout, run in a child
  interpreter: how the ctypes ``posix_spawn`` cnilib used before was measured
  (``mkdir -p build/old``, ``git archive 11afb7c cnilib schemas | tar -x -C build/old``,
  then ``--tree build/old``).

``--gil`` instead checks whether each way to start lets other threads run while it waits for
the child's ``exec``: a spinner thread counts during the start calls.

``--reap`` (root: a network namespace) instead runs the bridge + tuning + portmap chain
(Debian's plugins in /usr/lib/cni), ADD+CHECK+DEL, with the plugins reaped as cnilib does
(a little after their exit) and reaped at once (as before), alternated: our CPU and wall
time per cycle. Reaped at once, ``wait4`` spins in the kernel until the plugin's last thread
has finished its own cleanup.

The sides alternate within each round. Printed: the medians of the wall time per run, of the
CPU time our process spent per run (user + system, all threads) and of the ratio to the floor,
with the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
from tests.benchmarks.bench_overhead import find_noop, floor_call, loadavg  # noqa: E402

REQUEST = b'{"cniVersion":"1.0.0","name":"bench-noop","type":"noop"}'

# The child of a --tree side: time the executor of the tree first on sys.path.
TREE_SCRIPT = f"""
import os, sys, threading, time
import cnilib
from cnilib.invoke import SubprocessExecutor
from cnilib.protocol import Command, Invocation
assert cnilib.__file__.startswith(os.environ["PYTHONPATH"]), cnilib.__file__
path, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
inv = Invocation("noop", path, Command.ADD, {REQUEST!r}, {{"CNI_COMMAND": "ADD"}}, 30.0)
ex = SubprocessExecutor()
def work(n):
    for _ in range(n):
        assert ex.run(inv).exit_status == 0
work(5)
start, cpu = time.perf_counter(), time.process_time()
if threads == 1:
    work(runs)
else:
    ts = [threading.Thread(target=work, args=(runs // threads,)) for _ in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def in_threads(work: Callable[[int], None], runs: int, threads: int) -> float:
    """Seconds for ``runs`` calls of the work split over ``threads`` threads."""
    start = time.perf_counter()
    if threads == 1:
        work(runs)
    else:
        pool = [threading.Thread(target=work, args=(runs // threads,)) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    return time.perf_counter() - start


def _pipes() -> tuple[int, int, int, int, int, int]:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.write(in_w, REQUEST)
    os.close(in_w)
    return in_r, out_r, out_w, err_r, err_w, -1


def _finish(pid: int, fds: tuple[int, ...], out_r: int, err_r: int) -> None:
    for fd in fds:
        os.close(fd)
    while os.read(out_r, 65536):
        pass
    os.close(out_r)
    os.close(err_r)
    os.waitpid(pid, 0)


def posix_spawn_call(path: bytes, env: dict[bytes, bytes]) -> None:
    """One run started by ``os.posix_spawn`` with cnilib's start promises."""
    in_r, out_r, out_w, err_r, err_w, _ = _pipes()
    actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, in_r, 0),
                                      (os.POSIX_SPAWN_DUP2, out_w, 1),
                                      (os.POSIX_SPAWN_DUP2, err_w, 2)]
    for name in os.listdir("/proc/self/fd"):  # Python 3.11 has no POSIX_SPAWN_CLOSEFROM
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:
                pass
    pid = os.posix_spawn(path, [path], env, file_actions=actions, setpgroup=0,
                         setsigdef=(signal.SIGPIPE, signal.SIGXFSZ), setsigmask=())
    _finish(pid, (in_r, out_w, err_w), out_r, err_r)


def subprocess_call(path: bytes, env: dict[bytes, bytes], *, session: bool = False) -> None:
    """One run started by ``subprocess.Popen`` with cnilib's start promises."""
    in_r, out_r, out_w, err_r, err_w, _ = _pipes()
    group = {"start_new_session": True} if session else {"process_group": 0}
    popen = subprocess.Popen([path], stdin=in_r, stdout=out_w, stderr=err_w, env=env,
                             close_fds=True, **group)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    while os.read(out_r, 65536):
        pass
    os.close(out_r)
    os.close(err_r)
    popen.wait()


def gil_check(path: bytes, env: dict[bytes, bytes], runs: int) -> None:
    """Does a start let other threads run? A spinner thread counts while each start runs."""
    import contextlib

    count = [0]
    stop = [False]

    def spin() -> None:
        while not stop[0]:
            count[0] += 1

    def popen(stdio: tuple[int, int, int]) -> int:
        proc = subprocess.Popen([path], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                                env=env, close_fds=True, process_group=0)
        proc.returncode = 0  # reaped below with waitpid; subprocess must not warn
        return proc.pid

    def spawn(stdio: tuple[int, int, int]) -> int:
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        return os.posix_spawn(path, [path], env, file_actions=actions, setpgroup=0)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)  # let the spinner take the GIL whenever it is free
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        before = count[0]
        time.sleep(0.2)
        print(f"-- GIL: spinner alone {(count[0] - before) / 0.2 / 1e6:.2f} M/s")
        for name, start in (("subprocess", popen), ("posix_spawn", spawn)):
            progress, spent = 0, 0.0
            for _ in range(runs):
                in_r, out_r, out_w, err_r, err_w, _ = _pipes()
                before, t0 = count[0], time.perf_counter()
                pid = start((in_r, out_w, err_w))
                spent += time.perf_counter() - t0
                progress += count[0] - before
                with contextlib.suppress(ChildProcessError):
                    _finish(pid, (in_r, out_w, err_w), out_r, err_r)
            print(f"{name:12s} start call {spent / runs * 1e3:.3f} ms; spinner during it "
                  f"{progress / spent / 1e6:.2f} M/s")
    finally:
        stop[0] = True
        spinner.join()
        sys.setswitchinterval(old_interval)


def reap_what_if(rounds: int, cycles: int) -> None:
    """The bridge chain with the plugins reaped a little later (now) and at once (before)."""
    import json
    import secrets
    import shutil
    import tempfile

    from cnilib import CNIConfig, RuntimeConf, conflist_from_file
    from cnilib._exec import spawn
    from tests.benchmarks.bench_engine import conflist, ip

    if os.geteuid() != 0:
        sys.exit("--reap needs root (a network namespace)")
    tag = secrets.token_hex(2)
    netns, bridge = f"cnreap{tag}", f"cnrp{tag}"
    work = Path(tempfile.mkdtemp(prefix="cnilib-bench-reap-"))
    settle = spawn.Child.settle

    def at_once(child: spawn.Child, code: int) -> None:
        child.returncode = None
        child.reap()

    def cycle(r: int, later: bool) -> tuple[float, float]:
        setattr(spawn.Child, "settle", settle if later else at_once)  # noqa: B010
        try:
            cni = CNIConfig(["/usr/lib/cni"], cache_dir=str(work / f"cache-{r}-{later}"))
            start, used = time.perf_counter(), cpu()
            for i in range(cycles):
                rt = RuntimeConf(container_id=f"reap-{r}-{later}-{i}",
                                 netns=f"/var/run/netns/{netns}", ifname="eth0")
                cni.add_network_list(net, rt)
                cni.check_network_list(net, rt)
                cni.del_network_list(net, rt)
            return (time.perf_counter() - start) / cycles, (cpu() - used) / cycles
        finally:
            setattr(spawn.Child, "settle", settle)  # noqa: B010

    try:
        ip("netns", "add", netns)
        path = work / "reap.conflist"
        path.write_text(json.dumps(conflist(bridge, "10.233.0.0/16", str(work / "ipam"))))
        net = conflist_from_file(str(path))
        cycle(-1, True)
        cycle(-1, False)
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        print(f"-- bridge chain, reaped later vs at once; load average {loadavg()}")
        for r in range(rounds):
            for later in (True, False) if r % 2 else (False, True):
                results[later].append(cycle(r, later))
        for later, name in ((True, "reaped later (now)"), (False, "reaped at once")):
            walls = [w for w, _ in results[later]]
            cpus = [c for _, c in results[later]]
            print(f"{name:20s} wall {statistics.median(walls) * 1e3:.1f} ms per cycle, our CPU "
                  f"{statistics.median(cpus) * 1e3:.2f} ms per cycle (rounds "
                  f"{min(cpus) * 1e3:.2f} to {max(cpus) * 1e3:.2f})")
        print(f"   load average after: {loadavg()}")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        shutil.rmtree(work)


def cpu() -> float:
    """CPU seconds (user + system) of this process so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Alternate the sides over the rounds and print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noop", default=None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=200, help="plugin runs per side and round")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--tree", default=None, help="another cnilib checkout to time as well")
    ap.add_argument("--gil", action="store_true",
                    help="only check whether each start lets other threads run")
    ap.add_argument("--reap", action="store_true",
                    help="only the bridge chain, plugins reaped later vs at once (root)")
    ap.add_argument("--cycles", type=int, default=8, help="bridge cycles per side (--reap)")
    args = ap.parse_args()
    if args.reap:
        reap_what_if(args.rounds, args.cycles)
        return
    noop = find_noop(args.noop)

    from cnilib.invoke import SubprocessExecutor
    from cnilib.protocol import Command, Invocation

    inv = Invocation("noop", noop, Command.ADD, REQUEST, {"CNI_COMMAND": "ADD"}, 30.0)
    executor = SubprocessExecutor()
    bare = SubprocessExecutor(base_env={})  # what the base environment costs per run
    env = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    env[b"CNI_COMMAND"] = b"ADD"
    path = os.fsencode(noop)
    if args.gil:
        gil_check(path, env, args.runs)
        return

    def repeat(call: Callable[[], object]) -> Callable[[int], None]:
        def work(n: int) -> None:
            for _ in range(n):
                call()
        return work

    def local(work: Callable[[int], None], threads: int) -> Callable[[int], tuple[float, float]]:
        def side(n: int) -> tuple[float, float]:
            before = cpu()
            wall = in_threads(work, n, threads)
            return wall, cpu() - before
        return side

    def tree(threads: int) -> Callable[[int], tuple[float, float]]:
        def side(n: int) -> tuple[float, float]:
            # -P: the current directory (this checkout) must not come before the tree.
            env_ = dict(os.environ, PYTHONPATH=os.path.abspath(args.tree))
            out = subprocess.run([sys.executable, "-P", "-c", TREE_SCRIPT, noop, str(n),
                                  str(threads)], check=True, capture_output=True, text=True,
                                 env=env_).stdout
            wall, used = out.split()
            return float(wall), float(used)
        return side

    works = {
        "floor": repeat(lambda: floor_call(path, REQUEST, env)),
        "posix_spawn": repeat(lambda: posix_spawn_call(path, env)),
        "subprocess": repeat(lambda: subprocess_call(path, env)),
        "subprocess+setsid": repeat(lambda: subprocess_call(path, env, session=True)),
        "cnilib": repeat(lambda: executor.run(inv)),
        "cnilib, base_env={}": repeat(lambda: bare.run(inv)),
    }
    for threads in (1, args.threads):
        sides = {name: local(work, threads) for name, work in works.items()}
        if args.tree:
            sides["tree"] = tree(threads)
        for side in sides.values():
            side(10)
        walls: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        order = list(sides)
        print(f"-- {threads} thread(s), load average {loadavg()}")
        for _ in range(args.rounds):
            for name in order:
                wall, used = sides[name](args.runs)
                walls[name].append(wall / args.runs)
                cpus[name].append(used / args.runs)
            order = order[1:] + order[:1]
        for name in sides:
            ratios = [v / f for v, f in zip(walls[name], walls["floor"], strict=True)]
            print(f"{name:20s} wall {statistics.median(walls[name]) * 1e3:.3f} ms per run "
                  f"(/floor {statistics.median(ratios):.2f}, rounds {min(ratios):.2f} to "
                  f"{max(ratios):.2f}); our CPU {statistics.median(cpus[name]) * 1e3:.3f} ms "
                  f"per run")
        print(f"   load average after: {loadavg()}")


if __name__ == "__main__":
    main()
