"""Library overhead: a chain of three no-op plugins, cnilib vs Go libcni vs the bare floor.

Not a test (the suite never times anything). Needs Go's ``goref`` and the no-op plugin
(``.ci/setup.sh`` builds both into ``.venv/bin``); no root::

    .venv/bin/python tests/benchmarks/bench_overhead.py [--rounds N] [--cycles N] [--what-if]
        [--tree DIR]
    .venv/bin/python tests/benchmarks/bench_overhead.py --profile [--rounds N] [--cycles N]

Three sides run the same work, one after the other, in an order that rotates every round:

* **go**: ``goref cycle`` (Go libcni's ``AddNetworkList``, ``CheckNetworkList``,
  ``DelNetworkList``) on the conflist of three no-op plugins;
* **cnilib**: :class:`cnilib.CNIConfig` doing the same cycles, in this process;
* **floor**: the cheapest way this machine can start a process, feed it stdin and read its
  stdout: ``os.posix_spawn`` with two pipes and no library, replaying the exact requests and
  environments cnilib sent (9 calls per cycle, as the chain makes: 3 ADD, 3 CHECK, 3 DEL).

The no-op plugin answers at once, so its own time is small and constant and what differs
between the sides is the runtime. Per round each side's time per plugin call is printed; at
the end the medians of the per-round ratios cnilib/go and cnilib/floor (goals: <= 0.90 and
<= 1.10), with the load average before and after, and where each side's CPU goes per cycle:
the runtime's own (this process for cnilib and the floor; ``goref`` less its plugins for Go)
and the plugins' (from ``getrusage(RUSAGE_CHILDREN)``, counted once each plugin is reaped).
A side whose wall time is below its runtime's CPU plus its plugins' ran them side by side
with its own work; one whose wall time is their sum ran them one after the other.

``--tree DIR`` adds the cnilib of another checkout as a side, run in a child interpreter (how
the library before this work was measured: ``mkdir -p build/old``, ``git archive 11afb7c
cnilib schemas | tar -x -C build/old``, then ``--tree build/old``). ``--what-if`` adds two
cnilib sides with parts of the cache's durability turned off in this
process only (``os.fsync`` made a no-op; then also no attachment lock): what those guarantees
cost, measured. ``--profile`` prints instead where one cycle's time goes (processes, engine,
``fsync``, locks; wall and CPU), the system calls per verb, and a cProfile listing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
from tests.benchmarks.bench_foundation import find_goref  # noqa: E402

#: The names the no-op plugin is installed under: a chain of three distinct plugins.
NOOP_TYPES = ("noop-a", "noop-b", "noop-c")
#: A namespace path nobody enters (the no-op plugin never looks at it).
NETNS = "/var/run/netns/cnilib-bench-noop"


def find_noop(explicit: str | None) -> str:
    """The no-op plugin binary: --noop, $CNILIB_NOOP, .venv/bin/noop, or on PATH."""
    for cand in (explicit, os.environ.get("CNILIB_NOOP"), str(REPO / ".venv" / "bin" / "noop"),
                 shutil.which("noop")):
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("noop not found: run .ci/setup.sh (it builds tests/helpers/noop), or pass --noop")


def noop_setup(work: Path, noop: str) -> tuple[str, Path]:
    """Install the plugin as the chain's three types in ``work``; return (plugin dir, conflist)."""
    plugins = work / "plugins"
    plugins.mkdir(parents=True)
    for name in NOOP_TYPES:
        shutil.copy2(noop, plugins / name)
    conflist = work / "noop.conflist"
    doc = {"cniVersion": "1.0.0", "name": "bench-noop",
           "plugins": [{"type": name} for name in NOOP_TYPES]}
    conflist.write_text(json.dumps(doc))
    return str(plugins), conflist


def loadavg() -> str:
    """The 1-minute load average now."""
    return f"{os.getloadavg()[0]:.2f}"


def cpu_ticks() -> tuple[int, int]:
    """Ticks of all CPUs so far, ``(stolen, total)``, from ``/proc/stat`` (``(0, 0)`` if none).

    Stolen ticks are those a virtual machine's host ran something else while this machine had
    work: the noise no alternation of the sides removes.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal guest guest_nice (guests are in user)
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def stolen_since(start: tuple[int, int]) -> str:
    """The share of the CPU time since ``start`` (a :func:`cpu_ticks`) the host took."""
    steal, total = (now - then for now, then in zip(cpu_ticks(), start, strict=True))
    return f"{100 * steal / total:.0f} %" if total > 0 else "unknown"


# The child of a --tree side: the same cycles with the cnilib of another checkout.
TREE_CYCLE = """
import os, sys, time
import cnilib
from cnilib import CNIConfig, RuntimeConf, conflist_from_file
assert cnilib.__file__.startswith(os.environ["PYTHONPATH"]), cnilib.__file__
plugins, conflist, netns, cache, tag, cycles = sys.argv[1:7]
net = conflist_from_file(conflist)
cni = CNIConfig([plugins], cache_dir=cache)
start = time.perf_counter()
for i in range(int(cycles)):
    rt = RuntimeConf(container_id=f"tree-{tag}-{i}", netns=netns, ifname="eth0")
    cni.add_network_list(net, rt)
    cni.check_network_list(net, rt)
    cni.del_network_list(net, rt)
print(time.perf_counter() - start)
"""


def tree_cycle(tree: str, plugins: str, conflist: Path, cycles: int, *, cache: str,
               tag: str) -> float:
    """Seconds the cnilib of checkout ``tree`` took for the cycles (timed in a child)."""
    # -P: the current directory (this checkout) must not come before the tree.
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-P", "-c", TREE_CYCLE, plugins, str(conflist), NETNS,
                          cache, tag, str(cycles)], check=True, capture_output=True, text=True,
                         env=env).stdout
    return float(out)


def go_cycle(binary: str, plugins: str, conflist: Path, cycles: int) -> float:
    """Seconds Go libcni took for ``cycles`` ADD+CHECK+DEL (timed inside goref)."""
    env = dict(os.environ, CNI_PATH=plugins)
    out = subprocess.run([binary, "cycle", str(conflist), NETNS, str(cycles)], check=True,
                         capture_output=True, text=True, env=env).stdout
    return float(out.split()[2])


def cpu_seconds(who: int) -> float:
    """User plus system CPU seconds of ``who`` (``resource.RUSAGE_SELF`` or ``_CHILDREN``)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cpu_split(run: Callable[[], float]) -> tuple[float, float, float]:
    """``run()``'s seconds, and the CPU seconds of this process and of its reaped children.

    Waits a little after the run, so that cnilib's reaper (which reaps a settled plugin
    within 0.1 s when no start comes) has counted the last plugins in the children's CPU.
    """
    own, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    wall = run()
    time.sleep(0.2)
    return (wall, cpu_seconds(resource.RUSAGE_SELF) - own,
            cpu_seconds(resource.RUSAGE_CHILDREN) - children)


def cnilib_cycle(plugins: str, conflist: Path, cycles: int, cache: str, tag: str) -> float:
    """Seconds cnilib took for ``cycles`` ADD+CHECK+DEL."""
    from cnilib import CNIConfig, RuntimeConf, conflist_from_file

    net = conflist_from_file(str(conflist))
    cni = CNIConfig([plugins], cache_dir=cache)
    start = time.perf_counter()
    for i in range(cycles):
        rt = RuntimeConf(container_id=f"bench-{tag}-{i}", netns=NETNS, ifname="eth0")
        cni.add_network_list(net, rt)
        cni.check_network_list(net, rt)
        cni.del_network_list(net, rt)
    return time.perf_counter() - start


Call = tuple[bytes, bytes, dict[bytes, bytes]]  # path, stdin, environment


def record_calls(plugins: str, conflist: Path, cache: str) -> list[Call]:
    """The 9 plugin calls of one cnilib cycle, exactly as sent (for the floor to replay)."""
    from cnilib import CNIConfig, RuntimeConf, conflist_from_file
    from cnilib.protocol import InvocationRecord

    calls: list[Call] = []

    def hook(record: InvocationRecord) -> None:
        inv = record.invocation
        env = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
        env.update({os.fsencode(k): os.fsencode(v) for k, v in inv.env.items()})
        calls.append((os.fsencode(inv.path), inv.stdin, env))

    net = conflist_from_file(str(conflist))
    cni = CNIConfig([plugins], cache_dir=cache, on_invocation=hook)
    rt = RuntimeConf(container_id="bench-record", netns=NETNS, ifname="eth0")
    cni.add_network_list(net, rt)
    cni.check_network_list(net, rt)
    cni.del_network_list(net, rt)
    if len(calls) != 3 * len(NOOP_TYPES):
        sys.exit(f"expected 9 plugin calls per cycle, saw {len(calls)}")
    return calls


def floor_call(path: bytes, stdin: bytes, env: dict[bytes, bytes]) -> bytes:
    """Start ``path`` with ``stdin`` on a pipe, read its stdout to the end and reap it."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, stdin)  # fits in the pipe: the plugin never waits for us
    os.close(in_w)
    pid = os.posix_spawn(path, [path], env, file_actions=[
        (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
    os.close(in_r)
    os.close(out_w)
    chunks = []
    while chunk := os.read(out_r, 65536):
        chunks.append(chunk)
    os.close(out_r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


def floor_cycle(calls: list[Call], cycles: int) -> float:
    """Seconds the bare floor took for ``cycles`` replays of the 9 calls."""
    start = time.perf_counter()
    for _ in range(cycles):
        for path, stdin, env in calls:
            floor_call(path, stdin, env)
    return time.perf_counter() - start


# -- where the time goes (--profile) ---------------------------------------------------------

FIXED_RESULT = (b'{"cniVersion":"1.0.0","ips":[{"address":"10.99.0.2/24",'
                b'"gateway":"10.99.0.1"}],"dns":{}}')
#: The system calls counted per verb (cnilib calls them through the os and fcntl modules).
COUNTED = (("os", "fsync"), ("os", "open"), ("os", "replace"), ("os", "rename"),
           ("os", "unlink"), ("fcntl", "flock"), ("os", "pidfd_open"), ("os", "waitid"))


def _fake_cni(cache: str) -> object:
    """A CNIConfig whose three no-op plugins are Python functions: no process at all."""
    from cnilib import CNIConfig
    from cnilib.protocol import Command, Completed
    from cnilib.testing import FakeExecutor

    def handler(inv: object) -> Completed:
        add = getattr(inv, "command", None) == Command.ADD
        return Completed(0, FIXED_RESULT if add else b"", b"", 0.0)

    return CNIConfig(["/nonexistent"], cache_dir=cache, executor=FakeExecutor(handler))


def _verb_times(cni: object, conflist: Path, cycles: int, tag: str) -> dict[str, float]:
    """Milliseconds per ADD, CHECK and DEL of the chain, over ``cycles`` cycles."""
    from cnilib import RuntimeConf, conflist_from_file

    net = conflist_from_file(str(conflist))
    spent = {"add": 0.0, "check": 0.0, "del": 0.0}
    for i in range(cycles):
        rt = RuntimeConf(container_id=f"prof-{tag}-{i}", netns=NETNS, ifname="eth0")
        for verb in spent:
            start = time.perf_counter()
            getattr(cni, f"{verb}_network_list")(net, rt)
            spent[verb] += time.perf_counter() - start
    return {verb: t / cycles * 1e3 for verb, t in spent.items()}


def _count_calls(run: Callable[[], object]) -> dict[str, int]:
    """How many times ``run()`` called each system call of :data:`COUNTED`."""
    import fcntl

    modules = {"os": os, "fcntl": fcntl}
    counts = {name: 0 for _, name in COUNTED}
    saved = {}

    def counting(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(*a: object, **k: object) -> object:
            counts[name] += 1
            return real(*a, **k)
        return call

    for mod, name in COUNTED:
        saved[mod, name] = getattr(modules[mod], name)
        setattr(modules[mod], name, counting(name, saved[mod, name]))
    try:
        run()
    finally:
        for (mod, name), real in saved.items():
            setattr(modules[mod], name, real)
    return counts


def without(run: Callable[[], float], *, fsync: bool = False, locks: bool = False) -> float:
    """``run()`` with ``os.fsync`` made a no-op and/or the cache's locks removed (what-ifs)."""
    import contextlib

    from cnilib.cache import ResultCache

    real_fsync, real_lock = os.fsync, ResultCache.lock

    def nolock(*a: object, **k: object) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    if fsync:
        os.fsync = lambda fd: None
    if locks:
        ResultCache.lock = nolock  # type: ignore[method-assign,assignment]
    try:
        return run()
    finally:
        os.fsync = real_fsync
        ResultCache.lock = real_lock  # type: ignore[method-assign]


def profile(plugins: str, conflist: Path, work: Path, cycles: int, rounds: int) -> None:
    """Print where one cycle's time goes: processes, engine, cache writes, locks, Python."""
    import cProfile
    import pstats

    from cnilib import RuntimeConf, conflist_from_file
    from cnilib.invoke import SubprocessExecutor
    from cnilib.protocol import Invocation, InvocationRecord

    invocations: list[Invocation] = []

    def keep(record: InvocationRecord) -> None:
        invocations.append(record.invocation)

    from cnilib import CNIConfig

    net = conflist_from_file(str(conflist))
    cni = CNIConfig([plugins], cache_dir=str(work / "prof-rec"), on_invocation=keep)
    rt = RuntimeConf(container_id="prof-rec", netns=NETNS, ifname="eth0")
    cni.add_network_list(net, rt)
    cni.check_network_list(net, rt)
    cni.del_network_list(net, rt)
    calls = record_calls(plugins, conflist, str(work / "prof-rec2"))
    executor = SubprocessExecutor()

    def executor_only(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            for inv in invocations:
                executor.run(inv)
        return (time.perf_counter() - start) / n

    def engine(n: int, *, fsync: bool = True, locks: bool = True) -> float:
        cni = _fake_cni(str(work / f"prof-fake-{time.perf_counter_ns()}"))
        return without(lambda: sum(_verb_times(cni, conflist, n, str(time.perf_counter_ns()))
                                   .values()) / 1e3, fsync=not fsync, locks=not locks)

    sides: dict[str, Callable[[int], float]] = {
        "floor (9 bare starts)": lambda n: floor_cycle(calls, n) / n,
        "executor only (9 runs)": executor_only,
        "whole chain": lambda n: cnilib_cycle(plugins, conflist, n,
                                              str(work / f"prof-{time.perf_counter_ns()}"),
                                              str(time.perf_counter_ns())) / n,
        "engine, no process": engine,
        "engine, no fsync": lambda n: engine(n, fsync=False),
        "engine, no fsync, no locks": lambda n: engine(n, fsync=False, locks=False),
    }
    for side in sides.values():
        side(3)
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            before = time.process_time()
            times[name].append(side(cycles))
            cpus[name].append((time.process_time() - before) / cycles)
    print(f"-- one ADD+CHECK+DEL cycle of the noop chain, medians of {rounds} rounds "
          f"(load {loadavg()}); CPU: this process only, plugins excluded")
    for name, values in times.items():
        print(f"{name:28s} wall {statistics.median(values) * 1e3:7.3f} ms, CPU "
              f"{statistics.median(cpus[name]) * 1e3:7.3f} ms per cycle")
    fake = _fake_cni(str(work / "prof-count"))
    print("-- system calls per verb (engine, no process; the cache's folders already made)")
    warm = RuntimeConf(container_id="prof-warm", netns=NETNS, ifname="eth0")
    for verb in ("add", "check", "del"):
        getattr(fake, f"{verb}_network_list")(net, warm)
    rt2 = RuntimeConf(container_id="prof-count", netns=NETNS, ifname="eth0")
    for verb in ("add", "check", "del"):
        method: Callable[..., object] = getattr(fake, f"{verb}_network_list")
        counts = _count_calls(functools.partial(method, net, rt2))
        print(f"{verb.upper():6s} " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    counts = _count_calls(lambda: executor.run(invocations[0]))
    print("one plugin run (executor) " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    per_verb = {"add": [], "check": [], "del": []}  # type: dict[str, list[float]]
    for r in range(rounds):
        for verb, t in _verb_times(_fake_cni(str(work / f"prof-v{r}")), conflist, cycles,
                                   f"v{r}").items():
            per_verb[verb].append(t)
    print("-- engine, no process, per verb: " + ", ".join(
        f"{v.upper()} {statistics.median(t):.3f} ms" for v, t in per_verb.items()))
    prof = cProfile.Profile()
    prof.enable()
    cnilib_cycle(plugins, conflist, cycles, str(work / "prof-cprofile"), "cprofile")
    prof.disable()
    print(f"-- cProfile of {cycles} real cycles, by own time (the profiler inflates Python)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    """Alternate the three sides over the rounds and print the median ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goref", default=None)
    ap.add_argument("--noop", default=None)
    ap.add_argument("--rounds", type=int, default=9, help="rounds (at least 7 for a figure)")
    ap.add_argument("--cycles", type=int, default=40, help="ADD+CHECK+DEL cycles per side")
    ap.add_argument("--tree", default=None,
                    help="also time the cnilib of another checkout (in a child interpreter)")
    ap.add_argument("--what-if", action="store_true",
                    help="also time cnilib with fsync made a no-op, and without the locks")
    ap.add_argument("--profile", action="store_true",
                    help="print where one cycle's time goes instead of the ratios")
    args = ap.parse_args()
    noop = find_noop(args.noop)
    binary = "" if args.profile else find_goref(args.goref)
    calls_per_cycle = 3 * len(NOOP_TYPES)
    per_call = args.cycles * calls_per_cycle
    work = Path(tempfile.mkdtemp(prefix="cnilib-bench-noop-"))
    try:
        plugins, conflist = noop_setup(work, noop)
        if args.profile:
            profile(plugins, conflist, work, args.cycles, args.rounds)
            return
        calls = record_calls(plugins, conflist, str(work / "cache-record"))
        sides: dict[str, Callable[[int], float]] = {
            "go": lambda r: go_cycle(binary, plugins, conflist, args.cycles),
            "cnilib": lambda r: cnilib_cycle(plugins, conflist, args.cycles,
                                             str(work / f"cache-{r}"), str(r)),
            "floor": lambda r: floor_cycle(calls, args.cycles),
        }
        if args.tree:
            sides["tree"] = lambda r: tree_cycle(args.tree, plugins, conflist, args.cycles,
                                                 cache=str(work / f"tree-{r}"), tag=str(r))
        if args.what_if:
            sides["no-fsync"] = lambda r: without(
                lambda: cnilib_cycle(plugins, conflist, args.cycles, str(work / f"nf-{r}"),
                                     f"nf{r}"), fsync=True)
            sides["no-fsync-no-locks"] = lambda r: without(
                lambda: cnilib_cycle(plugins, conflist, args.cycles, str(work / f"nl-{r}"),
                                     f"nl{r}"), fsync=True, locks=True)
        for side in sides.values():  # warm every side once (page cache, lazy imports)
            side(-1)
        print(f"load average before: {loadavg()}")
        ticks = cpu_ticks()
        times: dict[str, list[float]] = {name: [] for name in sides}
        # Per cycle: the runtime's own CPU and its plugins' (seconds), for the three sides.
        cpus: dict[str, list[tuple[float, float]]] = {"go": [], "cnilib": [], "floor": []}
        order = list(sides)
        for r in range(args.rounds):
            for name in order:
                wall, own, children = cpu_split(functools.partial(sides[name], r))
                times[name].append(wall / per_call)
                if name in cpus:
                    cpus[name].append((own / args.cycles, children / args.cycles))
            order = order[1:] + order[:1]
            g, c, f = (times[n][-1] * 1e3 for n in ("go", "cnilib", "floor"))
            print(f"round {r}: per plugin call go {g:.3f} ms, cnilib {c:.3f} ms, floor "
                  f"{f:.3f} ms (cnilib/go {c / g:.2f}, cnilib/floor {c / f:.2f}, "
                  f"floor/go {f / g:.2f}; load {loadavg()})")
        to_go = [c / g for c, g in zip(times["cnilib"], times["go"], strict=True)]
        to_floor = [c / f for c, f in zip(times["cnilib"], times["floor"], strict=True)]
        floor_go = [f / g for f, g in zip(times["floor"], times["go"], strict=True)]
        med = {n: statistics.median(v) * 1e3 for n, v in times.items()}
        print(f"median per plugin call: go {med['go']:.3f} ms, cnilib {med['cnilib']:.3f} ms, "
              f"floor {med['floor']:.3f} ms")
        print(f"noop chain x3 ADD+CHECK+DEL ({args.rounds} rounds of {args.cycles} cycles): "
              f"cnilib/go median ratio {statistics.median(to_go):.2f} "
              f"(rounds {min(to_go):.2f} to {max(to_go):.2f}); cnilib/floor median ratio "
              f"{statistics.median(to_floor):.2f} (rounds {min(to_floor):.2f} to "
              f"{max(to_floor):.2f}); floor/go {statistics.median(floor_go):.2f}")
        print("where the CPU goes, ms per cycle (9 plugin calls), medians: runtime's own + its "
              "plugins' = total, against the wall time")
        for name, rows in cpus.items():
            own = statistics.median(o for o, _ in rows) * 1e3
            kids = statistics.median(c for _, c in rows) * 1e3
            if name == "go":
                # goref is our child: its plugins are its children, counted in ours. Its own
                # CPU is the total less the plugins' as the floor measured them.
                floor_kids = statistics.median(c for _, c in cpus["floor"]) * 1e3
                own, kids = kids - floor_kids, floor_kids
            print(f"  {name:7s} runtime {own:6.2f} + plugins {kids:6.2f} = {own + kids:6.2f} ms; "
                  f"wall {med[name] * calls_per_cycle:6.2f} ms")
        for name in sides:
            if name.startswith("no-") or name == "tree":
                ratios = [w / g for w, g in zip(times[name], times["go"], strict=True)]
                floors = [w / f for w, f in zip(times[name], times["floor"], strict=True)]
                print(f"{'checkout ' + args.tree if name == 'tree' else 'what if'} ({name}): "
                      f"{med[name]:.3f} ms per call, /go median "
                      f"{statistics.median(ratios):.2f}, /floor median "
                      f"{statistics.median(floors):.2f}")
        print(f"load average after: {loadavg()}; CPU time stolen by the host during the "
              f"rounds: {stolen_since(ticks)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
