"""GC and STATUS (spec 1.1.0) end to end, through the recording test plugins as real processes.

Debian's plugins stop at spec 1.0.0, so the 1.1.0 verbs are exercised with the shipped
``cnilib-test-record`` (cnilib.testing), once through CNIConfig and once through AsyncCNIConfig.
"""

from __future__ import annotations

from typing import Any

import pytest

from cnilib.errors import MultipleErrors, PluginError
from cnilib.protocol import GCAttachment, RuntimeConf
from cnilib.testing import RECORD, read_log
from tests.integration.helpers import Runtime, Scene, cache_files, unique_id

NETNS = "/var/run/netns/not-used-by-the-recorder"
NOT_READY: dict[str, Any] = {"STATUS": {"error": {"code": 50, "msg": "not ready"}}}


def recorders(scene: Scene, *control: dict[str, Any]) -> list[dict[str, Any]]:
    """Two recording plugins in a chain, both logging to the scene's record file; ``control``
    holds the control of each in turn."""
    return [scene.record(f"p{index}", **(control[index] if index < len(control) else {}))
            for index in range(2)]


def calls(scene: Scene, *commands: str) -> list[tuple[str, str, str, str]]:
    """(command, which plugin, container, ifname) of each recorded call, in order."""
    out = []
    for record in read_log(scene.record_file):
        if commands and record["command"] not in commands:
            continue
        stdin = record["stdin"]
        env = record["env"]
        out.append((record["command"], stdin.get("which", ""), env.get("CNI_CONTAINERID", ""),
                    env.get("CNI_IFNAME", "")))
    return out


def add(runtime: Runtime, scene: Scene, net: Any, *attachments: tuple[str, str]) -> None:
    for cid, ifname in attachments:
        runtime.add_network_list(net, RuntimeConf(cid, NETNS, ifname))
    scene.record_file.unlink()


def test_gc_deletes_stale_attachments_then_sends_gc(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene), version="1.1.0")
    keep, stale1, stale2 = unique_id(), unique_id(), unique_id()
    add(runtime, scene, net, (keep, "eth0"), (stale1, "eth0"), (stale2, "eth1"))

    runtime.gc_network_list(net, [GCAttachment(keep, "eth0")])

    # Stale attachments get a DEL each (plugins in reverse), then every plugin one GC.
    dels = calls(scene, "DEL")
    assert sorted(dels) == sorted([("DEL", "p1", stale1, "eth0"), ("DEL", "p0", stale1, "eth0"),
                                   ("DEL", "p1", stale2, "eth1"), ("DEL", "p0", stale2, "eth1")])
    for cid in (stale1, stale2):
        assert [w for _, w, c, _ in dels if c == cid] == ["p1", "p0"]
    assert calls(scene, "GC") == [("GC", "p0", "", ""), ("GC", "p1", "", "")]
    for record in read_log(scene.record_file):
        if record["command"] == "GC":
            valid = record["stdin"]["cni.dev/valid-attachments"]
            assert valid == [{"containerID": keep, "ifname": "eth0"}]
            assert record["env"]["CNI_PATH"] == ":".join(scene.path)
            assert "prevResult" not in record["stdin"]
    assert cache_files(scene) == [f"{net.name}-{keep}-eth0"]


def test_gc_keeps_other_networks(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene), version="1.1.0")
    other = scene.conflist(recorders(scene), version="1.1.0", name=unique_id("other"))
    cid = unique_id()
    add(runtime, scene, other, (cid, "eth0"))

    runtime.gc_network_list(net, [])

    assert calls(scene, "DEL") == []
    assert cache_files(scene) == [f"{other.name}-{cid}-eth0"]


def test_gc_disabled(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene), version="1.1.0", disableGC=True)
    add(runtime, scene, net, (unique_id(), "eth0"))

    runtime.gc_network_list(net, [])

    assert calls(scene) == []
    assert len(cache_files(scene)) == 1


def test_gc_below_110_only_deletes(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene), version="1.0.0")
    cid = unique_id()
    add(runtime, scene, net, (cid, "eth0"))

    runtime.gc_network_list(net, [])

    assert calls(scene) == [("DEL", "p1", cid, "eth0"), ("DEL", "p0", cid, "eth0")]
    assert cache_files(scene) == []


def test_gc_collects_every_error(runtime: Runtime, scene: Scene) -> None:
    failing = {"GC": {"error": {"code": 123, "msg": "gc broke"}}}
    net = scene.conflist(recorders(scene, failing), version="1.1.0")

    with pytest.raises(MultipleErrors) as info:
        runtime.gc_network_list(net, [])

    # SPEC.md, section "GC": continue, and report the errors; the second plugin still got its GC.
    assert calls(scene, "GC") == [("GC", "p0", "", ""), ("GC", "p1", "", "")]
    (error,) = info.value.exceptions
    assert isinstance(error, PluginError)
    assert (error.code, error.msg, error.plugin) == (123, "gc broke", RECORD)


def test_status_ready(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene), version="1.1.0")

    runtime.get_status_network_list(net)

    assert calls(scene) == [("STATUS", "p0", "", ""), ("STATUS", "p1", "", "")]


@pytest.mark.parametrize("code", [50, 51])
def test_status_not_available(runtime: Runtime, scene: Scene, code: int) -> None:
    not_ready = {"STATUS": {"error": {"code": code, "msg": "plugin not available"}}}
    net = scene.conflist(recorders(scene, {}, not_ready), version="1.1.0")

    with pytest.raises(PluginError) as info:
        runtime.get_status_network_list(net)

    assert info.value.code == code
    assert (info.value.plugin, info.value.command) == (RECORD, "STATUS")
    assert calls(scene) == [("STATUS", "p0", "", ""), ("STATUS", "p1", "", "")]


def test_status_stops_at_first_error(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene, NOT_READY), version="1.1.0")

    with pytest.raises(PluginError):
        runtime.get_status_network_list(net)

    assert calls(scene) == [("STATUS", "p0", "", "")]


def test_status_below_110_runs_nothing(runtime: Runtime, scene: Scene) -> None:
    net = scene.conflist(recorders(scene, NOT_READY), version="1.0.0")

    runtime.get_status_network_list(net)

    assert calls(scene) == []
