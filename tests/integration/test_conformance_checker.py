"""The conformance checker itself: its verdicts on the shipped test plugins, its command line,
and its refusals (not root, a configuration without the plugin).

The shipped test plugins (:mod:`cnilib.testing.plugins`) run as real processes and speak
1.1.0, so GC and STATUS run too; ``cnilib-test-record``'s control file provides the failures
no Debian plugin shows.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest

from cnilib import cli
from cnilib.errors import CNIError
from cnilib.testing import DEBUG, RECORD, SLEEP, read_log
from cnilib.testing.conformance import check_plugin
from cnilib.testing.errors import ConformanceError, NotRootError
from cnilib.testing.report import Report, Verdict
from tests.integration.helpers import Scene, unique_id

pytestmark = pytest.mark.netns

P, F, S = Verdict.PASS, Verdict.FAIL, Verdict.SKIP


def clean_110(plugin: str) -> list[tuple[str, str, Verdict]]:
    """Every row of a 1.1.0 plugin that does everything right (and has no packaged schema)."""
    steps = ["VERSION", "ADD", "CHECK", "DEL", "DEL again", "GC", "STATUS",
             "bad config: not JSON", "bad config: unsupported version"]
    return [("config", plugin, S), *((step, plugin, P) for step in steps)]


def check(scene: Scene, conf: dict[str, Any], *, version: str = "1.1.0") -> Report:
    net = scene.conflist([conf], version=version)
    report = check_plugin(conf["type"], net, path=scene.path, container_id=unique_id())
    print(report.table())
    assert report.netns.startswith("/run/netns/cnicf-")
    assert not os.path.exists(report.netns)
    return report


@pytest.mark.parametrize("plugin", [RECORD, SLEEP, DEBUG])
def test_the_shipped_test_plugins_pass_every_step_gc_and_status_included(
        scene: Scene, plugin: str) -> None:
    extra: dict[str, dict[str, Any]] = {
        SLEEP: {"sleepSeconds": 0}, DEBUG: {"cniOutput": str(scene.root / "debug.log")}}
    conf = scene.record() if plugin == RECORD else {"type": plugin, **extra[plugin]}
    report = check(scene, conf)
    assert report.verdicts() == clean_110(plugin)
    assert report.passed


def test_the_recording_plugin_sees_every_verb(scene: Scene) -> None:
    check(scene, scene.record())
    log = read_log(scene.record_file)
    # VERSION reads no request, so it finds no control file, and neither does the ADD that is
    # not JSON; the ADD at an unsupported version is logged before skel refuses it.
    assert [e["command"] for e in log] == ["ADD", "CHECK", "DEL", "DEL", "GC", "STATUS", "ADD"]
    assert log[4]["stdin"]["cni.dev/valid-attachments"] == []
    assert "prevResult" not in log[3]["stdin"]  # DEL again: the cache entry is gone


def test_versions_gate_the_verbs(scene: Scene) -> None:
    report = check(scene, scene.record(), version="0.3.1")
    assert report.verdicts() == [
        ("config", RECORD, S), ("VERSION", RECORD, P), ("ADD", RECORD, P),
        ("CHECK", RECORD, S), ("DEL", RECORD, P), ("DEL again", RECORD, P),
        ("GC", RECORD, S), ("STATUS", RECORD, S),
        ("bad config: not JSON", RECORD, P), ("bad config: unsupported version", RECORD, P),
    ]
    skipped = {c.step: c.reason for c in report.checks if c.verdict is S}
    assert skipped == {"config": f"no packaged schema for {RECORD}",
                       "CHECK": "cniVersion 0.3.1 has no CHECK (from 0.4.0)",
                       "GC": "cniVersion 0.3.1 has no GC (from 1.1.0)",
                       "STATUS": "cniVersion 0.3.1 has no STATUS (from 1.1.0)"}


def test_without_a_config_the_newest_shared_version_is_used(scene: Scene) -> None:
    report = check_plugin(RECORD, path=scene.path)
    assert (report.network, report.cni_version) == ("cnilib-conformance", "1.1.0")
    assert report.verdicts() == clean_110(RECORD)


def test_a_failing_del_fails_both_dels(scene: Scene) -> None:
    report = check(scene, scene.record(DEL={"error": {"code": 11, "msg": "busy"}}))
    # The result stays cached, so GC finds a stale attachment and DELs it: failing again.
    assert report.verdicts() == [
        ("config", RECORD, S), ("VERSION", RECORD, P), ("ADD", RECORD, P), ("CHECK", RECORD, P),
        ("DEL", RECORD, F), ("DEL again", RECORD, F), ("GC (DEL)", RECORD, F),
        ("GC", RECORD, P), ("STATUS", RECORD, P),
        ("bad config: not JSON", RECORD, P), ("bad config: unsupported version", RECORD, P),
    ]
    assert {c.reason for c in report.failures} == {"[11] busy"}


def test_an_error_object_with_exit_status_0_is_not_a_result(scene: Scene) -> None:
    report = check(scene, scene.record(ADD={"error": {"code": 7, "msg": "no"}, "exitCode": 0}))
    assert report.verdicts() == [
        ("config", RECORD, S), ("VERSION", RECORD, P), ("ADD", RECORD, F),
        ("ADD rollback", RECORD, P),
        ("CHECK", RECORD, S), ("DEL", RECORD, P), ("DEL again", RECORD, P),
        ("GC", RECORD, P), ("STATUS", RECORD, P),
        ("bad config: not JSON", RECORD, P),
        # It also "succeeds" on the ADD it should refuse (with its error object, exit 0).
        ("bad config: unsupported version", RECORD, F),
    ]
    assert [c.reason for c in report.failures] == [
        "printed an error object with exit status 0: [7] no", "accepted it (exit status 0)"]


def test_output_on_a_successful_del_is_a_failure(scene: Scene) -> None:
    report = check(scene, scene.record(DEL={"stdout": "done\n"}))
    failed = {c.step: c.reason for c in report.failures}
    assert failed == {"DEL": "printed 5 bytes on success (it must print nothing)",
                      "DEL again": "printed 5 bytes on success (it must print nothing)"}


def test_an_add_without_a_result_fails(scene: Scene) -> None:
    report = check(scene, scene.record(ADD={"exitCode": 0}))
    rows = {c.step: (c.verdict, c.reason) for c in report.checks}
    assert rows["ADD"] == (F, "ADD succeeded without a result: no output")
    assert rows["bad config: unsupported version"] == (F, "accepted it (exit status 0)")


def test_a_missing_plugin_fails_version_and_nothing_else_runs(scene: Scene) -> None:
    report = check_plugin("cnilib-nosuch", path=scene.path)
    assert report.verdicts() == [("VERSION", "cnilib-nosuch", F), ("ADD", "cnilib-nosuch", S)]
    assert report.failures[0].reason.startswith('failed to find plugin "cnilib-nosuch" in path')
    assert report.cni_version == ""


def test_a_config_without_the_plugin_is_refused(scene: Scene) -> None:
    net = scene.conflist([{"type": "ptp"}])
    with pytest.raises(ConformanceError, match="has no plugin of type 'bridge'"):
        check_plugin("bridge", net, path=scene.path)


def test_not_root_is_refused_before_anything_runs(scene: Scene,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NotRootError) as info:
        check_plugin(RECORD, path=scene.path)
    assert isinstance(info.value, CNIError)
    assert isinstance(info.value, PermissionError)


def _cli(argv: list[str], scene: Scene) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, environ={"CNI_PATH": ":".join(scene.path)}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_the_table_and_exits_0(scene: Scene) -> None:
    code, out, err = _cli(["conformance", RECORD], scene)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["STEP", "PLUGIN", "VERDICT", "REASON"]
    assert lines[-1] == f"{RECORD} at cniVersion 1.1.0: PASS (9 passed, 0 failed, 1 skipped)"


def test_cli_json_and_failure_exit_status(scene: Scene) -> None:
    conf = scene.root / "bad.conf"
    plugin = scene.record(STATUS={"error": {"code": 50, "msg": "plugin not available"}})
    conf.write_text(json.dumps({"cniVersion": "1.1.0", "name": unique_id("net"), **plugin}))
    code, out, err = _cli(["conformance", RECORD, "--config", str(conf), "--format", "json"],
                          scene)
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert doc["passed"] is False
    assert not os.path.exists(doc["netns"])
    assert [c for c in doc["checks"] if c["verdict"] == "fail"] == [
        {"step": "STATUS", "plugin": RECORD, "verdict": "fail",
         "reason": "[50] plugin not available"}]


def test_cli_errors_are_one_line(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _cli(["conformance", RECORD, "--format", "xml"], scene)
    assert (code, out) == (2, "")
    missing = scene.root / "missing.conflist"
    code, out, err = _cli(["conformance", RECORD, "--config", str(missing)], scene)
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert err.startswith("cnilib conformance: ")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, out, err = _cli(["conformance", RECORD], scene)
    assert (code, out) == (1, "")
    assert err == ("cnilib conformance: [0] the conformance checker needs root: it runs the "
                   "plugin in a scratch network namespace; run it as root (for example with "
                   "sudo)\n")

