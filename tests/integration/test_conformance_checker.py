"""The conformance checker itself: its verdicts on the skel test plugins, its command line,
and its refusals (not root, a configuration without the plugin).

The test plugins (tests/plugins/) run as real processes and speak 1.1.0, so GC and STATUS
run too; ``cnilib-misbehave`` provides the failures no Debian plugin shows.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cnilib import cli
from cnilib.errors import CNIError
from cnilib.testing.conformance import check_plugin
from cnilib.testing.errors import ConformanceError, NotRootError
from cnilib.testing.report import Report, Verdict
from tests.integration.helpers import Scene, unique_id
from tests.plugins import MISBEHAVE, RECORDER, read_records
from tests.test_docs import _fences

pytestmark = pytest.mark.netns

P, F, S = Verdict.PASS, Verdict.FAIL, Verdict.SKIP

#: Every row of a 1.1.0 plugin that does everything right.
CLEAN_110 = [
    ("VERSION", RECORDER, P), ("ADD", RECORDER, P), ("CHECK", RECORDER, P),
    ("DEL", RECORDER, P), ("DEL again", RECORDER, P), ("GC", RECORDER, P),
    ("STATUS", RECORDER, P), ("bad config: not JSON", RECORDER, P),
    ("bad config: unsupported version", RECORDER, P),
]


def check(scene: Scene, plugin: str, conf: dict[str, Any], *, version: str = "1.1.0",
          ) -> Report:
    net = scene.conflist([{"type": plugin, "recordFile": str(scene.record_file), **conf}],
                         version=version)
    report = check_plugin(plugin, net, path=scene.path, container_id=unique_id())
    print(report.table())
    return report


def test_a_good_110_plugin_passes_every_step_gc_and_status_included(scene: Scene) -> None:
    report = check(scene, RECORDER, {})
    assert report.verdicts() == CLEAN_110
    assert report.passed
    commands = [r["command"] for r in read_records(scene.record_file)]
    # The recorder finds its record file in the config, so VERSION (no config) and the ADD
    # that is not JSON are not recorded; the ADD at an unsupported version is, before skel
    # refuses it.
    assert commands == ["ADD", "CHECK", "DEL", "DEL", "GC", "STATUS", "ADD"]
    gc = read_records(scene.record_file)[4]
    assert gc["validAttachments"] == []


def test_versions_gate_the_verbs(scene: Scene) -> None:
    report = check(scene, RECORDER, {}, version="0.3.1")
    assert report.verdicts() == [
        ("VERSION", RECORDER, P), ("ADD", RECORDER, P),
        ("CHECK", RECORDER, S), ("DEL", RECORDER, P), ("DEL again", RECORDER, P),
        ("GC", RECORDER, S), ("STATUS", RECORDER, S),
        ("bad config: not JSON", RECORDER, P), ("bad config: unsupported version", RECORDER, P),
    ]
    skipped = {c.step: c.reason for c in report.checks if c.verdict is S}
    assert skipped == {"CHECK": "cniVersion 0.3.1 has no CHECK (from 0.4.0)",
                       "GC": "cniVersion 0.3.1 has no GC (from 1.1.0)",
                       "STATUS": "cniVersion 0.3.1 has no STATUS (from 1.1.0)"}


def test_without_a_config_the_newest_shared_version_is_used(scene: Scene) -> None:
    report = check_plugin(RECORDER, path=scene.path)
    assert (report.network, report.cni_version) == ("cnilib-conformance", "1.1.0")
    assert report.verdicts() == CLEAN_110


def test_a_failing_del_fails_both_dels(scene: Scene) -> None:
    report = check(scene, RECORDER, {"failOn": ["DEL"], "errorCode": 11,
                                     "errorMsg": "busy"})
    # The result stays cached, so GC finds a stale attachment and DELs it: failing again.
    assert report.verdicts() == [
        ("VERSION", RECORDER, P), ("ADD", RECORDER, P), ("CHECK", RECORDER, P),
        ("DEL", RECORDER, F), ("DEL again", RECORDER, F), ("GC (DEL)", RECORDER, F),
        ("GC", RECORDER, P), ("STATUS", RECORDER, P),
        ("bad config: not JSON", RECORDER, P), ("bad config: unsupported version", RECORDER, P),
    ]
    assert {c.reason for c in report.failures} == {"[11] busy"}


def test_an_error_object_with_exit_status_0_is_not_a_result(scene: Scene) -> None:
    report = check(scene, MISBEHAVE, {"mode": "error-exit0", "on": ["ADD"], "errorMsg": "no"})
    assert report.verdicts() == [
        ("VERSION", MISBEHAVE, P), ("ADD", MISBEHAVE, F), ("ADD rollback", MISBEHAVE, P),
        ("CHECK", MISBEHAVE, S), ("DEL", MISBEHAVE, P), ("DEL again", MISBEHAVE, P),
        ("GC", MISBEHAVE, P), ("STATUS", MISBEHAVE, P),
        ("bad config: not JSON", MISBEHAVE, P),
        # It also "succeeds" on the ADD it should refuse (with its error object, exit 0).
        ("bad config: unsupported version", MISBEHAVE, F),
    ]
    assert [c.reason for c in report.failures] == [
        "printed an error object with exit status 0: [7] no", "accepted it (exit status 0)"]


def test_output_on_a_successful_del_is_a_failure(scene: Scene) -> None:
    report = check(scene, MISBEHAVE, {"mode": "nonjson", "on": ["DEL"]})
    failed = {c.step: c.reason for c in report.failures}
    assert set(failed) == {"DEL", "DEL again"}
    assert "on success (it must print nothing)" in failed["DEL"]


def test_a_plugin_that_accepts_a_bad_config_fails_that_row(scene: Scene) -> None:
    # The misbehaving plugin answers every ADD with a result, even one that is not JSON.
    report = check(scene, MISBEHAVE, {"mode": "empty", "on": ["CHECK"]})
    assert report.passed
    nonjson = check(scene, MISBEHAVE, {"mode": "exit", "exitCode": 0, "on": ["ADD"]})
    rows = {c.step: (c.verdict, c.reason) for c in nonjson.checks}
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
        check_plugin(RECORDER, path=scene.path)
    assert isinstance(info.value, CNIError)
    assert isinstance(info.value, PermissionError)
    assert not scene.record_file.exists()


def _cli(argv: list[str], scene: Scene) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, environ={"CNI_PATH": ":".join(scene.path)}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_the_table_and_exits_0(scene: Scene) -> None:
    code, out, err = _cli(["conformance", RECORDER], scene)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["STEP", "PLUGIN", "VERDICT", "REASON"]
    assert lines[-1] == f"{RECORDER} at cniVersion 1.1.0: PASS (9 passed, 0 failed, 0 skipped)"


def test_cli_json_and_failure_exit_status(scene: Scene) -> None:
    conf = scene.root / "bad.conf"
    conf.write_text(json.dumps({"cniVersion": "1.1.0", "name": unique_id("net"),
                                "type": RECORDER, "statusCode": 50}))
    code, out, err = _cli(["conformance", RECORDER, "--config", str(conf), "--format", "json"],
                          scene)
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert doc["passed"] is False
    assert [c for c in doc["checks"] if c["verdict"] == "fail"] == [
        {"step": "STATUS", "plugin": RECORDER, "verdict": "fail",
         "reason": "[50] plugin not available"}]


def test_cli_errors_are_one_line(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _cli(["conformance", RECORDER, "--format", "xml"], scene)
    assert (code, out) == (2, "")
    missing = scene.root / "missing.conflist"
    code, out, err = _cli(["conformance", RECORDER, "--config", str(missing)], scene)
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert err.startswith("cnilib conformance: ")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, out, err = _cli(["conformance", RECORDER], scene)
    assert (code, out) == (1, "")
    assert err == ("cnilib conformance: the conformance checker needs root: it runs the plugin "
                   "in a scratch network namespace; run it as root (for example with sudo)\n")


def test_the_testing_kit_page_runs_and_prints_what_it_shows() -> None:
    """docs/testing-kit.md's worked example: every python block runs, in order, in one
    namespace, and prints exactly the text block under it (the checker part needs root)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "testing-kit.md"
    text = page.read_text(encoding="utf-8")
    fences = _fences(text)
    namespace: dict[str, object] = {"__name__": "testing_kit"}
    ran = 0
    for i, (info, body, _, end) in enumerate(fences):
        if info != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(body, f"docs/testing-kit.md python block {ran + 1}", "exec"), namespace)
        ran += 1
        nxt_info, nxt_body, nxt_start, _ = fences[i + 1]
        assert (nxt_info, text[end:nxt_start].strip()) == ("text", "")
        assert out.getvalue() == nxt_body
    assert ran == 4
