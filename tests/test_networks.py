"""The runtime layer (Networks, AsyncNetworks) over in-process fake plugins (G13, G14 in
docs/guarantees.md).

Rules of this file:

* Plugins are :class:`cnilib.testing.FakeExecutor` handlers: the plans of ``cnilib._plans.sandbox``
  and both drivers run for real, no process starts. ``tests/integration/test_networks_netns.py``
  runs the same layer over Debian's plugins in real namespaces.
* Every scenario that both drivers share runs through both (``nets`` is parametrised).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cnilib._cache import locks as _lock
from cnilib._json import JSONObject
from cnilib.aionetworks import AsyncNetworks
from cnilib.errors import (
    ConfigError,
    ConfigNotFoundError,
    LockTimeoutError,
    MultipleErrors,
    NotReadyError,
    SetupError,
    TeardownError,
)
from cnilib.networks import Networks
from cnilib.protocol import Command, Invocation
from cnilib.testing import (
    AsyncFakeExecutor,
    FakeExecutor,
    Reply,
    default_handler,
    error_reply,
    request_of,
)

A = {"cniVersion": "1.0.0", "name": "neta",
     "plugins": [{"type": "pa", "capabilities": {"portMappings": True}}]}
B = {"cniVersion": "1.0.0", "name": "netb",
     "plugins": [{"type": "pb1"}, {"type": "pb2", "capabilities": {"bandwidth": True}}]}
C = {"cniVersion": "1.1.0", "name": "netc", "plugins": [{"type": "pc"}]}


def write(folder: Path, name: str, body: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(body) if not isinstance(body, str) else body)
    return path


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "net.d"
    folder.mkdir()
    write(folder, "10-a.conflist", A)
    write(folder, "20-b.conflist", B)
    write(folder, "30-c.conflist", C)
    return folder


class Face:
    """One synchronous face over Networks or AsyncNetworks (as tests/integration does)."""

    def __init__(self, kind: str, conf_dir: Path, cache_dir: Path,
                 handler: Callable[[Invocation], Reply] | None = None, **options: Any) -> None:
        self.kind = kind
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        self.executor: FakeExecutor | AsyncFakeExecutor
        self.target: Any
        if kind == "sync":
            self.executor = FakeExecutor(handler)
            self.target = Networks(conf_dir, ["/fake/bin"], cache_dir, executor=self.executor,
                                   **options)
        else:
            self.executor = AsyncFakeExecutor(handler)
            self.target = AsyncNetworks(conf_dir, ["/fake/bin"], cache_dir,
                                        executor=self.executor, **options)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)
        if self.loop is None or not inspect.iscoroutinefunction(method):
            return method  # reload() and default_selection() are plain calls in both
        loop = self.loop

        def call(*args: Any, **kwargs: Any) -> Any:
            return loop.run_until_complete(method(*args, **kwargs))

        return call

    def calls(self, *commands: Command) -> list[tuple[str, str]]:
        """``(plugin, ifname)`` of the recorded invocations of these verbs."""
        return [(i.plugin_type, i.env.get("CNI_IFNAME", "")) for i in self.executor.invocations
                if i.command in commands]

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def make(request: pytest.FixtureRequest, conf_dir: Path,
         tmp_path: Path) -> Iterator[Callable[..., Face]]:
    faces: list[Face] = []

    def factory(handler: Callable[[Invocation], Reply] | None = None, **options: Any) -> Face:
        face = Face(request.param, conf_dir, tmp_path / "cache", handler, **options)
        faces.append(face)
        return face

    yield factory
    for face in faces:
        face.close()


def failing(plugin: str, command: Command = Command.ADD) -> Callable[[Invocation], Reply]:
    def handler(inv: Invocation) -> Reply:
        if inv.plugin_type == plugin and inv.command is command:
            return error_reply(11, f"{plugin} is busy")
        return default_handler(inv)

    return handler


def cached(tmp_path: Path) -> list[str]:
    results = tmp_path / "cache" / "results"
    return sorted(os.listdir(results)) if results.exists() else []


# --- setup --------------------------------------------------------------------------------------

def test_default_setup_attaches_loopback_then_the_first_network(make: Callable[..., Face],
                                                                 tmp_path: Path) -> None:
    nets = make()
    pod = nets.setup("c1", "/run/netns/x")
    assert nets.calls(Command.ADD) == [("loopback", "lo"), ("pa", "eth0")]
    assert [(r.network, r.ifname) for r in pod.results] == [("cni-loopback", "lo"),
                                                             ("neta", "eth0")]
    assert str(pod.interfaces["eth0"].ips[0].address) == "10.0.0.2/24"
    assert cached(tmp_path) == ["cni-loopback-c1-lo", "neta-c1-eth0"]


def test_setup_names_networks_and_splits_arguments(make: Callable[..., Face]) -> None:
    nets = make(loopback=False)
    caps = {"neta": {"portMappings": [{"hostPort": 1, "containerPort": 2, "protocol": "tcp"}]},
            "netb": {"bandwidth": {"ingressRate": 5}}}
    nets.setup("c1", "/run/netns/x", networks=["netb", ("neta", "net1"), "netc"],
               capability_args=caps, args={"netb": [("K", "V")]})
    assert nets.calls(Command.ADD) == [("pb1", "eth0"), ("pb2", "eth0"), ("pa", "net1"),
                                       ("pc", "eth1")]
    requests = {i.plugin_type: (request_of(i), i.env["CNI_ARGS"])
                for i in nets.executor.invocations}
    assert requests["pa"][0]["runtimeConfig"] == caps["neta"]
    assert requests["pb2"][0]["runtimeConfig"] == caps["netb"]
    assert "runtimeConfig" not in requests["pc"][0]
    assert requests["pb1"][1] == "K=V"
    assert requests["pa"][1] == ""


@pytest.mark.parametrize("parallel", [False, True])
def test_failed_setup_rolls_back_in_reverse(make: Callable[..., Face], tmp_path: Path,
                                            parallel: bool) -> None:
    nets = make(failing("pc"), max_networks=0)
    with pytest.raises(SetupError) as info:
        nets.setup("c9", "/run/netns/x", parallel=parallel)
    err = info.value
    assert (err.network, err.ifname, err.container_id) == ("netc", "eth2", "c9")
    assert err.rolled_back == (("netb", "eth1"), ("neta", "eth0"), ("cni-loopback", "lo"))
    assert 'network "netc" (interface eth2)' in str(err)
    assert "rolled back netb/eth1, neta/eth0, cni-loopback/lo" in str(err)
    assert err.cause.code == 11
    deleted = nets.calls(Command.DEL)
    # pc's own chain rolls itself back first; then the layer undoes the others, in reverse.
    assert deleted == [("pc", "eth2"), ("pb2", "eth1"), ("pb1", "eth1"), ("pa", "eth0"),
                       ("loopback", "lo")]
    assert cached(tmp_path) == []


def test_a_parallel_setup_that_cannot_start_a_thread_rolls_back(
        conf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    executor = FakeExecutor()
    nets = Networks(conf_dir, ["/fake/bin"], tmp_path / "cache", executor=executor,
                    max_networks=0)
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(RuntimeError, match="start new thread"):
        nets.setup("c1", "/run/netns/x", parallel=True)
    # lo and neta (on the calling thread) were attached, netb and netc never ran.
    assert [(i.plugin_type, i.command) for i in executor.invocations] == [
        ("loopback", Command.ADD), ("pa", Command.ADD), ("pa", Command.DEL),
        ("loopback", Command.DEL)]
    assert cached(tmp_path) == []


def test_setup_refuses_bad_requests_before_running_anything(make: Callable[..., Face]) -> None:
    nets = make()
    with pytest.raises(ConfigNotFoundError):
        nets.setup("c1", "/run/netns/x", networks=["nope"])
    with pytest.raises(ConfigError, match="more than once"):
        nets.setup("c1", "/run/netns/x", networks=[("neta", "x0"), ("netb", "x0")])
    with pytest.raises(ConfigError, match="netns"):
        nets.setup("c1", "", networks=["neta"])
    assert nets.executor.invocations == []


def test_setup_of_one_container_is_serialised(conf_dir: Path, tmp_path: Path) -> None:
    active: list[int] = [0]
    overlap: list[bool] = []
    guard = threading.Lock()

    def slow(inv: Invocation) -> Reply:
        if inv.command is Command.ADD:
            with guard:
                active[0] += 1
                overlap.append(active[0] > 1)
            time.sleep(0.02)
            with guard:
                active[0] -= 1
        return default_handler(inv)

    nets = Networks(conf_dir, ["/fake/bin"], tmp_path / "cache", executor=FakeExecutor(slow),
                    loopback=False, max_networks=0)
    threads = [threading.Thread(target=lambda i=i: nets.setup("same", "/run/netns/x",
                                                              networks=[("neta", f"e{i}")]))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlap) == 4
    assert not any(overlap)


def test_a_held_container_lock_times_out(make: Callable[..., Face], tmp_path: Path) -> None:
    nets = make()
    path = str(tmp_path / "cache" / "locks" / _lock.container_lock_name("c1"))
    with _lock.hold(path, exclusive=True, transient=True, deadline=None), \
            pytest.raises(LockTimeoutError):
        nets.setup("c1", "/run/netns/x", timeout=0.2)
    assert nets.executor.invocations == []


def test_the_container_lock_file_lives_from_setup_to_teardown(make: Callable[..., Face],
                                                               tmp_path: Path) -> None:
    """Kept after a setup and a check that ended well (no file made and removed per call),
    removed by a whole teardown and by a failed setup; a partial teardown keeps it."""
    nets = make(failing("pc"), max_networks=0)
    locks = tmp_path / "cache" / "locks"
    pod_lock = _lock.container_lock_name("c1")
    nets.setup("c1", "/run/netns/x", networks=["neta", "netb"])
    assert pod_lock in os.listdir(locks)
    nets.check("c1", "")
    assert pod_lock in os.listdir(locks)
    nets.teardown("c1", "", networks=["netb"])
    assert pod_lock in os.listdir(locks)
    nets.teardown("c1", "")
    assert pod_lock not in os.listdir(locks)
    with pytest.raises(SetupError):
        nets.setup("c1", "/run/netns/x")  # netc fails: everything is rolled back
    assert pod_lock not in os.listdir(locks)
    assert not _lock.is_held(str(tmp_path / "cache"), pod_lock)


# --- teardown, check ----------------------------------------------------------------------------

def test_teardown_uses_the_cache_after_the_file_is_gone(make: Callable[..., Face],
                                                        conf_dir: Path, tmp_path: Path) -> None:
    nets = make(max_networks=2)
    caps = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    nets.setup("c1", "/run/netns/x", capability_args=caps, args=[("A", "1")])
    (conf_dir / "10-a.conflist").unlink()
    nets.reload()
    nets.executor.invocations.clear()

    nets.teardown("c1", "/run/netns/x")

    assert nets.calls(Command.DEL) == [("pb2", "eth1"), ("pb1", "eth1"), ("pa", "eth0"),
                                       ("loopback", "lo")]
    pa = next(i for i in nets.executor.invocations if i.plugin_type == "pa")
    assert request_of(pa)["runtimeConfig"] == caps
    assert pa.env["CNI_ARGS"] == "A=1"
    assert pa.env["CNI_NETNS"] == ""  # /run/netns/x does not exist: left out
    assert cached(tmp_path) == []
    nets.teardown("c1", "/run/netns/x")  # nothing left: nothing to do


def test_teardown_tries_every_network_and_raises_all(make: Callable[..., Face],
                                                     tmp_path: Path) -> None:
    def handler(inv: Invocation) -> Reply:
        if inv.command is Command.DEL and inv.plugin_type in ("pa", "pc"):
            return error_reply(5, f"{inv.plugin_type} cannot")
        return default_handler(inv)

    nets = make(handler, max_networks=0)
    nets.setup("c1", "/run/netns/x")
    with pytest.raises(TeardownError) as info:
        nets.teardown("c1", "/run/netns/x")
    assert isinstance(info.value, MultipleErrors)
    assert len(info.value.exceptions) == 2
    notes = [n for e in info.value.exceptions for n in getattr(e, "__notes__", [])]
    assert "network netc, interface eth2" in notes
    assert "network neta, interface eth0" in notes
    assert ("loopback", "lo") in nets.calls(Command.DEL)
    assert cached(tmp_path) == ["neta-c1-eth0", "netc-c1-eth2"]


def test_teardown_of_some_networks(make: Callable[..., Face], tmp_path: Path) -> None:
    nets = make(max_networks=0)
    nets.setup("c1", "/run/netns/x")
    nets.teardown("c1", "", networks=["netb"])
    assert cached(tmp_path) == ["cni-loopback-c1-lo", "neta-c1-eth0", "netc-c1-eth2"]


def test_check_uses_the_cached_runtime_config(make: Callable[..., Face]) -> None:
    nets = make(loopback=False)
    caps = {"portMappings": [{"hostPort": 1, "containerPort": 2, "protocol": "udp"}]}
    nets.setup("c1", "/run/netns/x", capability_args=caps)
    nets.check("c1", "")
    (inv,) = [i for i in nets.executor.invocations if i.command is Command.CHECK]
    assert request_of(inv)["runtimeConfig"] == caps
    assert inv.env["CNI_NETNS"] == "/run/netns/x"


def test_check_raises_every_failure(make: Callable[..., Face]) -> None:
    nets = make(failing("pa", Command.CHECK), loopback=False)
    nets.setup("c1", "/run/netns/x")
    with pytest.raises(MultipleErrors, match="check of container"):
        nets.check("c1", "/run/netns/x")


# --- status, GC, reload ---------------------------------------------------------------------

def test_status_is_ready_with_plugins_and_status(make: Callable[..., Face]) -> None:
    assert make(max_networks=3).status() == ("neta", "netb", "netc")


def test_status_names_every_problem(make: Callable[..., Face], conf_dir: Path) -> None:
    with pytest.raises(NotReadyError) as info:
        make(max_networks=4).status()
    assert "3 valid network(s) loaded" in str(info.value)
    assert info.value.code == 50
    nets = make(failing("pc", Command.STATUS), default_network="netc")
    with pytest.raises(NotReadyError, match="netc"):
        nets.status()


def test_status_needs_every_plugin(conf_dir: Path, tmp_path: Path) -> None:
    nets = Networks(conf_dir, ["/fake/bin"], tmp_path, executor=FakeExecutor(missing=["pa"]))
    with pytest.raises(NotReadyError, match='plugin "pa" not found'):
        nets.status()


def test_gc_keeps_the_valid_containers(make: Callable[..., Face], tmp_path: Path) -> None:
    nets = make(max_networks=0)
    nets.setup("keep", "/run/netns/x")
    nets.setup("gone", "/run/netns/y")
    nets.gc(["keep"])
    assert all("-keep-" in name for name in cached(tmp_path))
    (gc_c,) = [request_of(i) for i in nets.executor.invocations if i.command is Command.GC]
    assert gc_c["cni.dev/valid-attachments"] == [{"containerID": "keep", "ifname": "eth2"}]


def test_reload_skips_bad_files_with_a_located_reason(make: Callable[..., Face], conf_dir: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    write(conf_dir, "05-bad.conflist", '{"name": "bad",\n "plugins": [}')
    write(conf_dir, "40-dup.conflist", {**A, "plugins": [{"type": "other"}]})
    with caplog.at_level(logging.WARNING, logger="cnilib"):
        nets = make()
    loaded = {Path(n.source).name: n for n in nets.networks}
    assert not loaded["05-bad.conflist"].valid
    assert loaded["05-bad.conflist"].problems[0].line == 2
    assert not loaded["40-dup.conflist"].valid
    assert "already defined" in loaded["40-dup.conflist"].problems[0].message
    assert nets.default_selection() == ("neta",)
    assert sum("05-bad.conflist:2" in r.getMessage() for r in caplog.records) == 1
    nets.reload()  # reported once, not on every reload
    assert sum("05-bad.conflist:2" in r.getMessage() for r in caplog.records) == 1


def test_an_undeclared_capability_is_logged_once(make: Callable[..., Face],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    nets = make()
    with caplog.at_level(logging.WARNING, logger="cnilib"):
        nets.setup("c1", "/run/netns/x", capability_args={"madeUp": 1, "portMappings": []})
        nets.setup("c2", "/run/netns/x", capability_args={"madeUp": 1})
    said = [r.getMessage() for r in caplog.records if "madeUp" in r.getMessage()]
    assert len(said) == 1
    assert not any("portMappings" in r.getMessage() for r in caplog.records)


# --- watch --------------------------------------------------------------------------------------

def _wait(predicate: Callable[[], bool], limit: float = 10.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_watch_reloads_and_never_sees_a_half_written_file(conf_dir: Path,
                                                          tmp_path: Path) -> None:
    nets = Networks(conf_dir, ["/fake/bin"], tmp_path, executor=FakeExecutor())
    seen: list[tuple[bool, ...]] = []
    body = json.dumps({**C, "name": "netd"}, indent=2)
    with nets.watch(lambda networks: seen.append(tuple(n.valid for n in networks))) as watcher:
        with (conf_dir / "50-d.conflist").open("w") as out:
            for i in range(0, len(body), 8):  # a slow writer
                out.write(body[i:i + 8])
                out.flush()
                time.sleep(0.005)
        assert _wait(lambda: "netd" in {n.name for n in nets.networks})
    assert watcher.reloads >= 1
    assert all(all(valid) for valid in seen)
    assert not watcher._thread.is_alive()


def test_async_watch_yields_reloads_and_stops(conf_dir: Path, tmp_path: Path) -> None:
    nets = AsyncNetworks(conf_dir, ["/fake/bin"], tmp_path, executor=AsyncFakeExecutor())

    async def scenario() -> set[str]:
        async def edit() -> None:
            await asyncio.sleep(0.3)
            tmp = conf_dir / ".tmp"
            tmp.write_text(json.dumps({**C, "name": "nete"}))
            tmp.rename(conf_dir / "60-e.conflist")

        task = asyncio.ensure_future(edit())
        async for networks in nets.watch(interval=0.05):
            names = {n.name for n in networks}
            if "nete" in names:
                break
        await task
        return names

    assert "nete" in asyncio.run(asyncio.wait_for(scenario(), 20))


# --- the single-network API uses the cache too --------------------------------------------------

def test_del_network_list_replays_cached_capability_args(conf_dir: Path, tmp_path: Path) -> None:
    from cnilib.api import CNIConfig
    from cnilib.config import load_conflist
    from cnilib.protocol import RuntimeConf

    executor = FakeExecutor()
    cni = CNIConfig(["/fake/bin"], tmp_path, executor=executor)
    net = load_conflist(conf_dir, "neta")
    caps: JSONObject = {"portMappings": [{"hostPort": 9, "containerPort": 9,
                                          "protocol": "tcp"}]}
    cni.add_network_list(net, RuntimeConf("c1", "/run/netns/x", "eth0", [("K", "V")], caps))
    cni.check_network_list(net, RuntimeConf("c1", "/run/netns/x", "eth0"))
    cni.del_network_list(net, RuntimeConf("c1", "/run/netns/x", "eth0"))
    check, delete = executor.invocations[1:]
    for inv in (check, delete):
        assert request_of(inv)["runtimeConfig"] == caps
        assert inv.env["CNI_ARGS"] == "K=V"
    # What the caller passes still wins.
    other: JSONObject = {"portMappings": []}
    cni.add_network_list(net, RuntimeConf("c2", "/run/netns/x", "eth0", (), caps))
    cni.del_network_list(net, RuntimeConf("c2", "/run/netns/x", "eth0", (), other))
    assert request_of(executor.invocations[-1])["runtimeConfig"] == other


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("slow", ["pa", "pb2"])  # parallel: the setup's own task, another task
def test_a_cancelled_async_setup_is_rolled_back(conf_dir: Path, tmp_path: Path,
                                                parallel: bool, slow: str) -> None:
    started = asyncio.Event()

    async def handler(inv: Invocation) -> Reply:
        if inv.plugin_type == slow and inv.command is Command.ADD:
            started.set()
            await asyncio.sleep(60)
        return default_handler(inv)

    executor = AsyncFakeExecutor(handler)
    nets = AsyncNetworks(conf_dir, ["/fake/bin"], tmp_path / "cache", executor=executor,
                         max_networks=0)

    async def scenario() -> None:
        task = asyncio.ensure_future(nets.setup("c1", "/run/netns/x", parallel=parallel))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    added = {(i.plugin_type, i.env["CNI_IFNAME"]) for i in executor.invocations
             if i.command is Command.ADD}
    deleted = [(i.plugin_type, i.env["CNI_IFNAME"]) for i in executor.invocations
               if i.command is Command.DEL]
    assert set(deleted) == added  # everything that ran was undone
    assert deleted[-1] == ("loopback", "lo")  # the first attached is the last removed
    assert cached(tmp_path) == []


def test_parallel_setup_attaches_lo_first_then_the_networks_at_once(conf_dir: Path,
                                                                   tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def handler(inv: Invocation) -> Reply:
        if inv.command is Command.ADD:
            seen.append(("start", inv.plugin_type))
            await asyncio.sleep(0.01)
            seen.append(("end", inv.plugin_type))
        return default_handler(inv)

    nets = AsyncNetworks(conf_dir, ["/fake/bin"], tmp_path / "cache",
                         executor=AsyncFakeExecutor(handler), max_networks=0)
    asyncio.run(nets.setup("c1", "/run/netns/x", parallel=True))
    assert seen[:2] == [("start", "loopback"), ("end", "loopback")]
    # Then the three networks overlap: each one's first plugin starts before any ends.
    assert [event for event, _ in seen[2:5]] == ["start", "start", "start"]


def test_without_the_loopback_plugin_lo_is_set_up_directly(conf_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[str] = []
    monkeypatch.setattr(Networks, "_bring_up_lo", staticmethod(raised.append))
    executor = FakeExecutor(missing=["loopback"])
    nets = Networks(conf_dir, ["/fake/bin"], tmp_path / "cache", executor=executor)
    pod = nets.setup("c1", "/run/netns/x")
    assert raised == ["/run/netns/x"]
    assert [r.network for r in pod.results] == ["neta"]
    assert cached(tmp_path) == ["neta-c1-eth0"]
    assert nets.status() == ("neta",)  # a missing loopback plugin is no reason to be unready


def test_lo_failing_without_a_plugin_fails_the_setup_first(conf_dir: Path,
                                                           tmp_path: Path) -> None:
    executor = FakeExecutor(missing=["loopback"])
    nets = Networks(conf_dir, ["/fake/bin"], tmp_path / "cache", executor=executor)
    with pytest.raises(SetupError, match="failed on lo") as info:
        nets.setup("c1", str(tmp_path / "no-such-netns"))
    assert info.value.ifname == "lo"
    assert executor.invocations == []


def test_watch_follows_the_plugin_directories_too(conf_dir: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nets = Networks(conf_dir, [str(bin_dir)], tmp_path / "cache", executor=FakeExecutor())
    with nets.watch(interval=0.05) as watcher:
        (bin_dir / "newplugin").write_bytes(b"#!/bin/sh\n")
        assert _wait(lambda: watcher.reloads >= 1)
        reloads = watcher.reloads
        time.sleep(0.3)
        assert watcher.reloads == reloads  # nothing changed since: no reload
