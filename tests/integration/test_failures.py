"""Failure cases with real processes: each ends in its documented typed error, leaving nothing.

"Nothing" means: no cache entry, every plugin that ADDed was given its DEL (the rollback), no
process left running, and, with real plugins, no interface and no IPAM reservation.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cnilib.errors import (
    AddError,
    CacheError,
    PluginError,
    PluginNotFoundError,
    PluginOutputError,
    PluginTimeoutError,
)
from cnilib.protocol import RuntimeConf
from cnilib.testing import RECORD, read_log
from tests.integration.helpers import (
    Runtime,
    Scene,
    assert_nothing_left,
    cache_files,
    unique_id,
)
from tests.netns import Netns
from tests.plugins import MISBEHAVE

NETNS = "/var/run/netns/not-used-by-the-test-plugins"


def misbehave(scene: Scene, mode: str, **extra: Any) -> dict[str, Any]:
    """cnilib-misbehave (``which`` "m") in ``mode`` on ADD, logging to the scene's record file."""
    return {"type": MISBEHAVE, "recordFile": str(scene.record_file), "which": "m",
            "mode": mode, "on": ["ADD"], **extra}


def ledger(scene: Scene) -> list[tuple[str, str]]:
    """(command, plugin ``which``) of every ADD and DEL recorded, in order."""
    return [(r["command"], r["stdin"].get("which", ""))
            for r in read_log(scene.record_file) if r["command"] in ("ADD", "DEL")]


def assert_rolled_back(scene: Scene) -> None:
    """Every plugin that got ADD later got DEL (the ledger balances), and nothing is cached."""
    added: list[str] = []
    for command, which in ledger(scene):
        if command == "ADD":
            added.append(which)
        elif which in added:
            added.remove(which)
    assert added == [], f"ADD without DEL: {added}; ledger {ledger(scene)}"
    assert cache_files(scene) == []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(") ", 1)[-1][0] != "Z"


@pytest.fixture
def pid_file(scene: Scene) -> Iterator[Path]:
    """Where misbehave writes its grandchildren's pids; any survivor is killed (and fails)."""
    path = scene.root / "grandchildren"
    yield path
    survivors = [int(p) for p in path.read_text().split()] if path.exists() else []
    survivors = [p for p in survivors if alive(p)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"processes left running: {survivors}"


def test_missing_plugin(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist([scene.record("a"), {"type": "cnilib-no-such-plugin"}])
    rt = RuntimeConf(unique_id(), NETNS, "eth0")

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, rt)

    assert isinstance(info.value.cause, PluginNotFoundError)
    assert info.value.cause.plugin == "cnilib-no-such-plugin"
    assert ledger(scene) == [("ADD", "a"), ("DEL", "a")]
    assert info.value.rolled_back == (RECORD,)
    assert_rolled_back(scene)


def test_plugin_error_with_code(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist([
        scene.record("a"),
        scene.record("b", ADD={"error": {"code": 117, "msg": "no more addresses",
                                         "details": "pool 10.0.0.0/30 is full"}}),
    ])

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))

    cause = info.value.cause
    assert isinstance(cause, PluginError)
    assert (cause.code, cause.msg, cause.details) == (117, "no more addresses",
                                                      "pool 10.0.0.0/30 is full")
    assert (cause.plugin, cause.command, cause.exit_status) == (RECORD, "ADD", 1)
    assert info.value.code == 117
    assert ledger(scene) == [("ADD", "a"), ("ADD", "b"), ("DEL", "b"), ("DEL", "a")]
    assert_rolled_back(scene)


@pytest.mark.parametrize("kind", ["non-JSON", "huge-64MiB"])
def test_unusable_output(runtime: Runtime, scene: Scene, kind: str) -> None:
    bad = (scene.record("m", ADD={"stdout": "this is not JSON {"}) if kind == "non-JSON"
           else misbehave(scene, "huge"))
    net = scene.conflist([scene.record("a"), bad])

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))

    cause = info.value.cause
    assert isinstance(cause, PluginOutputError), repr(cause)
    assert (cause.plugin, cause.command) == (bad["type"], "ADD")
    assert ledger(scene) == [("ADD", "a"), ("ADD", "m"), ("DEL", "m"), ("DEL", "a")]
    assert_rolled_back(scene)


def test_error_object_with_exit_status_0(runtime: Runtime, scene: Scene) -> None:
    # libcni takes this for an empty success (pkg/invoke/raw_exec.go); cnilib believes the error.
    error = {"code": 11, "msg": "error printed with exit status 0"}
    net = scene.conflist([scene.record("a"), scene.record("m", ADD={"error": error,
                                                                    "exitCode": 0})])

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))

    cause = info.value.cause
    assert isinstance(cause, PluginError)
    assert (cause.code, cause.msg, cause.exit_status) == (11, "error printed with exit status 0",
                                                          0)
    assert ledger(scene) == [("ADD", "a"), ("ADD", "m"), ("DEL", "m"), ("DEL", "a")]
    assert_rolled_back(scene)


def test_hung_plugin_with_grandchild(runtime: Runtime, scene: Scene, pid_file: Path) -> None:
    net = scene.conflist([scene.record("a"),
                          misbehave(scene, "hang", seconds=300, pidFile=str(pid_file))])
    start = time.monotonic()

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"), timeout=3)

    assert time.monotonic() - start < 30
    cause = info.value.cause
    assert isinstance(cause, PluginTimeoutError)
    assert isinstance(cause, TimeoutError)
    assert (cause.plugin, cause.command) == (MISBEHAVE, "ADD")
    # The plugin and the grandchild holding its stdout are both gone.
    hung = [r["pid"] for r in read_log(scene.record_file) if r["command"] == "ADD"]
    grandchildren = [int(p) for p in pid_file.read_text().split()]
    assert len(grandchildren) == 1
    assert [p for p in [*hung, *grandchildren] if alive(p)] == []
    assert ledger(scene) == [("ADD", "a"), ("ADD", "m"), ("DEL", "m"), ("DEL", "a")]
    assert_rolled_back(scene)


def test_killed_plugin(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist([scene.record("a"), scene.record("m", ADD={"signal": 9})])

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))

    cause = info.value.cause
    assert isinstance(cause, PluginError)
    assert cause.exit_status == -signal.SIGKILL
    assert ledger(scene) == [("ADD", "a"), ("ADD", "m"), ("DEL", "m"), ("DEL", "a")]
    assert_rolled_back(scene)


def test_corrupt_cache(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist([scene.record("a")])
    rt = RuntimeConf(unique_id(), NETNS, "eth0")
    runtime.add_network_list(net, rt)
    (entry,) = cache_files(scene)
    (scene.cache_dir / "results" / entry).write_bytes(b'{"kind": "cniCacheV1", "resu')

    with pytest.raises(CacheError):
        runtime.get_network_list_cached_result(net, rt)
    # DEL tolerates it (libcni main too, containernetworking/cni#1072): the plugins run
    # without prevResult and the unusable entry is gone afterwards.
    runtime.del_network_list(net, rt)

    (delete,) = [r for r in read_log(scene.record_file) if r["command"] == "DEL"]
    assert "prevResult" not in delete["stdin"]
    assert cache_files(scene) == []
    assert runtime.get_network_list_cached_result(net, rt) is None


def test_unwritable_cache(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist([scene.record("a"), scene.record("b")])
    scene.cache_dir.mkdir()
    # Root ignores permission bits: a file where the results directory should be stops it,
    # before any plugin runs (the ADD reads the cache first, to refuse a second ADD).
    (scene.cache_dir / "results").write_text("not a directory")

    with pytest.raises(AddError, match="nothing ran") as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))

    assert isinstance(info.value.cause, CacheError)
    assert ledger(scene) == []
    assert (scene.cache_dir / "results").read_text() == "not a directory"


@pytest.mark.netns
def test_rollback_after_second_of_three_fails(
    runtime: Runtime,
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    ns, br = make_netns(), make_bridge_name()
    net = scene.conflist([
        {"type": "bridge", "bridge": br, "isGateway": True, "ipMasq": False,
         "ipam": scene.host_local(make_subnet())},
        scene.record("second", ADD={"error": {"code": 11, "msg": "try later"}}),
        scene.record("third"),
    ])
    rt = RuntimeConf(unique_id(), ns.path, "eth0")

    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, rt)

    assert isinstance(info.value.cause, PluginError)
    assert info.value.cause.retryable
    assert info.value.rolled_back == (RECORD, "bridge")
    assert info.value.rollback_errors == ()
    # The third plugin never ran; the second got its DEL; bridge undid its veth and address.
    assert ledger(scene) == [("ADD", "second"), ("DEL", "second")]
    assert_nothing_left(runtime, scene, rt, ns)
