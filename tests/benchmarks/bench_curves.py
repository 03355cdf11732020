"""Curves: how cnilib's cost grows with the work, next to Go libcni where goref has the operation.

Not a test. Needs Go's ``goref`` and the no-op plugin (``.ci/setup.sh`` builds both); no
root. Writes markdown tables and SVG plots into ``docs/performance/`` (embedded by
``docs/performance.md``)::

    .venv/bin/python tests/benchmarks/bench_curves.py [--rounds N] [--sizes 10,100,1000,10000]
        [--widths 1,8,32,128] [--only load,cache,gc,concurrency]

* **load**: :func:`cnilib.load_conflist` by name in a directory of N files, the wanted network
  in the last file in sorted order (both libcni and cnilib read the lists in that order, so
  this is the whole directory); Go: ``goref load DIR 1``, which reads every file once, as
  libcni's ``LoadConfList`` does when the name is in the last file.
* **cache**: :meth:`cnilib.CNIConfig.get_cached_attachments` with N cached attachments
  (goref 1.1.2 has no such call).
* **gc**: :meth:`cnilib.CNIConfig.gc_network_list` over N stale cached attachments of a 1.1.0
  network of three plugins. The plugins are :class:`cnilib.testing.FakeExecutor` functions:
  the curve is about cnilib's own cost per attachment (lock, cache read, DEL plan, cache
  delete), not about starting N x 3 processes.
* **concurrency**: N attachments of the three no-op plugins at once (ADD all, then DEL all),
  with asyncio (:class:`cnilib.AsyncCNIConfig`) and with N threads
  (:class:`cnilib.CNIConfig`); Go: ``goref par`` (one goroutine each).

GC and the asyncio side of the concurrency curve are also run with ``os.fsync`` made a no-op
in this process: what the durable cache costs them.

Each point is the median over the rounds; the sides alternate within each round. The load
average is printed and written with every table.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
from tests.benchmarks.bench_foundation import find_goref  # noqa: E402
from tests.benchmarks.bench_overhead import (  # noqa: E402
    FIXED_RESULT,
    NETNS,
    find_noop,
    loadavg,
    noop_setup,
    without,
)

OUT = REPO / "docs" / "performance"

Series = dict[str, list[tuple[float, float]]]


# -- plots ---------------------------------------------------------------------------------

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def svg_plot(title: str, xlabel: str, ylabel: str, series: Series) -> str:
    """A log-log line plot of ``series`` (name -> [(x, y)]) as a standalone SVG document."""
    width, height, left, right, top, bottom = 640, 400, 80, 150, 40, 50
    points = [p for values in series.values() for p in values if p[0] > 0 and p[1] > 0]
    xs = [math.log10(x) for x, _ in points]
    ys = [math.log10(y) for _, y in points]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - (math.log10(y) - y0) / (y1 - y0) * (height - top - bottom)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'),
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for e in range(x0, x1 + 1):
        x = left + (e - x0) / (x1 - x0) * (width - left - right)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                   f'{10 ** e:g}</text>')
    for e in range(y0, y1 + 1):
        y = height - bottom - (e - y0) / (y1 - y0) * (height - top - bottom)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" '
               f'text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="18" y="{(top + height - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {(top + height - bottom) / 2})">{ylabel}</text>')
    for i, (name, values) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in values if x > 0 and y > 0)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                   'stroke-width="2"/>')
        for x, y in values:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + 18 * i
        out.append(f'<line x1="{width - right + 10}" y1="{ly}" x2="{width - right + 30}" '
                   f'y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 35}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], note: str) -> str:
    """A markdown table with a one-line note under it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{note}\n"


def write(name: str, title: str, labels: tuple[str, str], series: Series, *,
          table: tuple[Sequence[str], Sequence[Sequence[str]]], note: str) -> None:
    """Write ``docs/performance/<name>.md`` and ``<name>.svg``."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.svg").write_text(svg_plot(title, labels[0], labels[1], series))
    (OUT / f"{name}.md").write_text(md_table(table[0], table[1], note))
    print(f"wrote {OUT / name}.md and .svg")


def growth(points: list[tuple[float, float]]) -> str:
    """The exponent of the power law through the first and last point (1: linear)."""
    (x_a, y_a), (x_b, y_b) = points[0], points[-1]
    return f"{math.log(y_b / y_a) / math.log(x_b / x_a):.2f}"


def median_of(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Median seconds of each side over ``rounds``, the sides alternating."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for _ in range(rounds):
        for name in order:
            times[name].append(sides[name]())
        order = order[1:] + order[:1]
    return {name: statistics.median(values) for name, values in times.items()}


def goref_time(binary: str, *args: str, plugins: str = "") -> float:
    """Seconds reported by ``goref``."""
    env = dict(os.environ, CNI_PATH=plugins) if plugins else None
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True,
                         env=env).stdout
    return float(out.split()[2])


# -- the curves ----------------------------------------------------------------------------

CONFLIST = {
    "cniVersion": "1.0.0",
    "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "subnet": "10.22.0.0/16",
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}


def curve_load(work: Path, binary: str, sizes: list[int], rounds: int) -> None:
    """load_conflist by name in directories of ``sizes`` files."""
    from cnilib import load_conflist

    rows: list[list[str]] = []
    cn: list[tuple[float, float]] = []
    cn_cpu: list[tuple[float, float]] = []
    go: list[tuple[float, float]] = []
    for n in sizes:
        folder = work / f"load-{n}"
        folder.mkdir()
        for i in range(n):
            doc = dict(CONFLIST, name=f"net-{i:05d}")
            (folder / f"{i:05d}-net.conflist").write_text(json.dumps(doc, indent=2))
        wanted = f"net-{n - 1:05d}"
        reps = max(1, 2000 // n)

        cpu: list[float] = []

        def cnilib_side(folder: Path = folder, wanted: str = wanted, reps: int = reps,
                        cpu: list[float] = cpu) -> float:
            start, used = time.perf_counter(), time.process_time()
            for _ in range(reps):
                load_conflist(folder, wanted)
            cpu.append((time.process_time() - used) / reps)
            return (time.perf_counter() - start) / reps

        def go_side(folder: Path = folder, reps: int = reps) -> float:
            return goref_time(binary, "load", str(folder), str(reps)) / reps

        cnilib_side()
        go_side()
        cpu.clear()
        med = median_of(rounds, {"cnilib": cnilib_side, "go": go_side})
        cn.append((n, med["cnilib"] * 1e3))
        cn_cpu.append((n, statistics.median(cpu) * 1e3))
        go.append((n, med["go"] * 1e3))
        rows.append([f"{n:,}", f"{med['cnilib'] * 1e3:.2f}", f"{cn_cpu[-1][1]:.2f}",
                     f"{med['go'] * 1e3:.2f}",
                     f"{med['cnilib'] / n * 1e6:.1f}", f"{med['go'] / n * 1e6:.1f}",
                     f"{med['cnilib'] / med['go']:.2f}"])
        print(f"load {n}: cnilib {med['cnilib'] * 1e3:.2f} ms, go {med['go'] * 1e3:.2f} ms "
              f"(load {loadavg()})")
        shutil.rmtree(folder)
    write("load", "load_conflist by name (the last of N files)",
          ("files in the directory", "ms per call"),
          {"cnilib": cn, "cnilib CPU": cn_cpu, "Go libcni": go},
          table=(["files", "cnilib ms", "cnilib CPU ms", "Go ms", "cnilib µs/file",
                  "Go µs/file", "cnilib/Go"], rows),
          note=f"Medians of {rounds} rounds (wall time; CPU: this process); growth exponent "
          f"cnilib {growth(cn)} (CPU {growth(cn_cpu)}), Go {growth(go)} (1 = linear); load "
          f"average {loadavg()} at the end.")


def _fill_cache(root: Path, network: str, conflist: bytes, n: int) -> None:
    """``n`` cached attachments of ``network``, written as cnilib writes them (no fsync)."""
    from cnilib.cache import CacheEntry, ResultCache

    cache = ResultCache(str(root))
    result = json.loads(FIXED_RESULT)
    first = cache.path_for(network, "c-00000", "eth0")
    os.makedirs(os.path.dirname(first), exist_ok=True)
    for i in range(n):
        entry = CacheEntry(network_name=network, container_id=f"c-{i:05d}", ifname="eth0",
                           config=conflist, netns=NETNS, result=result)
        Path(cache.path_for(network, entry.container_id, "eth0")).write_bytes(
            entry.to_bytes())


def curve_cache(work: Path, sizes: list[int], rounds: int) -> None:
    """get_cached_attachments with ``sizes`` cached attachments."""
    from cnilib import CNIConfig

    rows: list[list[str]] = []
    cn: list[tuple[float, float]] = []
    cn_cpu: list[tuple[float, float]] = []
    for n in sizes:
        root = work / f"cache-{n}"
        _fill_cache(root, "curve", b"{}", n)
        cni = CNIConfig(["/nonexistent"], cache_dir=root)
        reps = max(1, 1000 // n)

        cpu: list[float] = []

        def side(cni: CNIConfig = cni, reps: int = reps, n: int = n,
                 cpu: list[float] = cpu) -> float:
            start, used = time.perf_counter(), time.process_time()
            for _ in range(reps):
                if len(cni.get_cached_attachments()) != n:
                    sys.exit("the cache lost entries")
            cpu.append((time.process_time() - used) / reps)
            return (time.perf_counter() - start) / reps

        side()
        cpu.clear()
        med = median_of(rounds, {"cnilib": side})["cnilib"]
        cn.append((n, med * 1e3))
        cn_cpu.append((n, statistics.median(cpu) * 1e3))
        rows.append([f"{n:,}", f"{med * 1e3:.2f}", f"{cn_cpu[-1][1]:.2f}",
                     f"{med / n * 1e6:.1f}", f"{cn_cpu[-1][1] / n * 1e3:.1f}"])
        print(f"cache {n}: {med * 1e3:.2f} ms (load {loadavg()})")
        shutil.rmtree(root)
    write("cache", "get_cached_attachments (N cached attachments)",
          ("cached attachments", "ms per call"), {"cnilib": cn, "cnilib CPU": cn_cpu},
          table=(["attachments", "cnilib ms", "cnilib CPU ms", "µs/attachment",
                  "CPU µs/attachment"], rows),
          note=f"Medians of {rounds} rounds (wall time; CPU: this process); growth exponent "
          f"{growth(cn)} (CPU {growth(cn_cpu)}); Go libcni 1.1.2 has no such call; load "
          f"average {loadavg()} at the end.")


def curve_gc(work: Path, sizes: list[int], rounds: int) -> None:
    """GC of ``sizes`` stale cached attachments (plugins: FakeExecutor functions)."""
    from cnilib import CNIConfig, conflist_from_bytes
    from cnilib.protocol import Completed, Invocation
    from cnilib.testing import FakeExecutor

    raw = json.dumps({"cniVersion": "1.1.0", "name": "curve",
                      "plugins": [{"type": "noop-a"}, {"type": "noop-b"},
                                  {"type": "noop-c"}]}).encode()
    net = conflist_from_bytes(raw)

    def handler(inv: Invocation) -> Completed:
        return Completed(0, b"", b"", 0.0)

    rows: list[list[str]] = []
    cn: list[tuple[float, float]] = []
    cn_cpu: list[tuple[float, float]] = []
    cn_nf: list[tuple[float, float]] = []
    warm = work / "gc-warm"  # the first GC builds the converters: not part of the curve
    _fill_cache(warm, "curve", raw, 3)
    CNIConfig(["/nonexistent"], cache_dir=warm, executor=FakeExecutor(handler)).gc_network_list(
        net)
    def one_gc(root: Path, n: int) -> tuple[float, float]:
        _fill_cache(root, "curve", raw, n)
        cni = CNIConfig(["/nonexistent"], cache_dir=root, executor=FakeExecutor(handler))
        start, used = time.perf_counter(), time.process_time()
        cni.gc_network_list(net)
        took = time.perf_counter() - start, time.process_time() - used
        if cni.get_cached_attachments():
            sys.exit("GC left cached attachments")
        shutil.rmtree(root)
        return took

    for n in sizes:
        spent, cpu, spent_nf = [], [], []
        for r in range(rounds):
            wall, used = one_gc(work / f"gc-{n}-{r}", n)
            spent.append(wall)
            cpu.append(used)
            # What the durable deletes cost: the same GC with fsync made a no-op.
            spent_nf.append(without(functools.partial(
                lambda root, n: one_gc(root, n)[0], work / f"gcnf-{n}-{r}", n), fsync=True))
        med = statistics.median(spent)
        cn.append((n, med * 1e3))
        cn_cpu.append((n, statistics.median(cpu) * 1e3))
        cn_nf.append((n, statistics.median(spent_nf) * 1e3))
        rows.append([f"{n:,}", f"{med * 1e3:.1f}", f"{cn_cpu[-1][1]:.1f}", f"{med / n * 1e6:.0f}",
                     f"{cn_cpu[-1][1] / n * 1e3:.0f}", f"{cn_nf[-1][1] / n * 1e3:.0f}"])
        print(f"gc {n}: {med * 1e3:.1f} ms (load {loadavg()})")
    write("gc", "GC of N stale attachments (3 fake plugins)",
          ("stale cached attachments", "ms per GC"),
          {"cnilib": cn, "cnilib CPU": cn_cpu, "fsync a no-op": cn_nf},
          table=(["attachments", "cnilib ms", "cnilib CPU ms", "µs/attachment",
                  "CPU µs/attachment", "µs/attachment, fsync a no-op"], rows),
          note=f"Medians of {rounds} rounds (wall time; CPU: this process); growth exponent "
          f"{growth(cn)} (CPU {growth(cn_cpu)}, fsync a no-op {growth(cn_nf)}); the plugins are "
          f"FakeExecutor functions (cnilib's own cost only); Go libcni 1.1.2 has no GC; "
          f"load average {loadavg()} at the end.")


def curve_concurrency(work: Path, binary: str, noop: str, widths: list[int],
                      rounds: int) -> None:
    """``widths`` attachments of the no-op chain at once: asyncio, threads, goroutines."""
    from cnilib import AsyncCNIConfig, CNIConfig, RuntimeConf, conflist_from_file

    plugins, conflist = noop_setup(work / "par", noop)
    net = conflist_from_file(str(conflist))
    counter = [0]

    def runtime_confs(n: int) -> list[RuntimeConf]:
        counter[0] += 1
        return [RuntimeConf(container_id=f"par-{counter[0]}-{i}", netns=NETNS, ifname="eth0")
                for i in range(n)]

    def asyncio_side(n: int) -> float:
        cni = AsyncCNIConfig([plugins], cache_dir=work / "par" / "cache-a")
        rts = runtime_confs(n)

        async def go() -> None:
            await asyncio.gather(*(cni.add_network_list(net, rt) for rt in rts))
            await asyncio.gather(*(cni.del_network_list(net, rt) for rt in rts))

        start = time.perf_counter()
        asyncio.run(go())
        return time.perf_counter() - start

    def threads_side(n: int) -> float:
        cni = CNIConfig([plugins], cache_dir=work / "par" / "cache-t")
        rts = runtime_confs(n)

        def each(call: Callable[..., object]) -> None:
            pool = [threading.Thread(target=call, args=(net, rt)) for rt in rts]
            for t in pool:
                t.start()
            for t in pool:
                t.join()

        start = time.perf_counter()
        each(cni.add_network_list)
        each(cni.del_network_list)
        return time.perf_counter() - start

    def go_side(n: int) -> float:
        return goref_time(binary, "par", str(conflist), NETNS, str(n), plugins=plugins)

    rows = []
    series: Series = {"cnilib asyncio": [], "cnilib threads": [], "Go libcni": [],
                      "asyncio, fsync a no-op": []}
    for n in widths:
        med = median_of(rounds, {
            "asyncio": functools.partial(asyncio_side, n),
            "threads": functools.partial(threads_side, n),
            "go": functools.partial(go_side, n),
            # What the loop's durable cache writes cost asyncio.
            "asyncio-nf": functools.partial(without, functools.partial(asyncio_side, n),
                                            fsync=True),
        })
        for key, name in (("asyncio", "cnilib asyncio"), ("threads", "cnilib threads"),
                          ("go", "Go libcni"), ("asyncio-nf", "asyncio, fsync a no-op")):
            series[name].append((n, med[key] * 1e3))
        rows.append([str(n), f"{med['asyncio'] * 1e3:.1f}", f"{med['threads'] * 1e3:.1f}",
                     f"{med['go'] * 1e3:.1f}", f"{med['asyncio-nf'] * 1e3:.1f}",
                     f"{med['asyncio'] / n * 1e3:.2f}", f"{med['threads'] / n * 1e3:.2f}",
                     f"{med['go'] / n * 1e3:.2f}", f"{med['asyncio'] / med['go']:.2f}",
                     f"{med['threads'] / med['go']:.2f}"])
        print(f"concurrency {n}: asyncio {med['asyncio'] * 1e3:.1f} ms, threads "
              f"{med['threads'] * 1e3:.1f} ms, go {med['go'] * 1e3:.1f} ms (load {loadavg()})")
    write("concurrency", "N attachments at once (ADD all, then DEL all; 3 no-op plugins)",
          ("attachments at once", "ms for all"), series,
          table=(["N", "asyncio ms", "threads ms", "Go ms", "asyncio ms, fsync a no-op",
                  "asyncio ms/att.", "threads ms/att.", "Go ms/att.", "asyncio/Go",
                  "threads/Go"], rows),
          note=f"Medians of {rounds} rounds; growth exponents asyncio "
          f"{growth(series['cnilib asyncio'])}, threads {growth(series['cnilib threads'])}, "
          f"Go {growth(series['Go libcni'])}; load average {loadavg()} at the end.")


def main() -> None:
    """Measure the curves and write the tables and plots."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goref", default=None)
    ap.add_argument("--noop", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--widths", default="1,8,32,128")
    ap.add_argument("--only", default="load,cache,gc,concurrency")
    args = ap.parse_args()
    binary = find_goref(args.goref)
    noop = find_noop(args.noop)
    sizes = [int(s) for s in args.sizes.split(",")]
    widths = [int(s) for s in args.widths.split(",")]
    only = set(args.only.split(","))
    print(f"load average before: {loadavg()}")
    work = Path(tempfile.mkdtemp(prefix="cnilib-curves-"))
    try:
        if "load" in only:
            curve_load(work, binary, sizes, args.rounds)
        if "cache" in only:
            curve_cache(work, sizes, args.rounds)
        if "gc" in only:
            curve_gc(work, sizes, args.rounds)
        if "concurrency" in only:
            curve_concurrency(work, binary, noop, widths, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
