"""The conformance checker's judging of single replies and its report, without processes.

The end-to-end runs (tests/integration/test_conformance*.py) meet most verdicts on real
plugins; the cases here are the ones no plugin at hand produces on demand.
"""

from __future__ import annotations

import json

import pytest

from cnilib._json import JSONObject
from cnilib.errors import ErrorCode, ExecutionError
from cnilib.protocol import Command, Completed, Invocation, InvocationRecord
from cnilib.testing import error_reply, make_result, success, timed_out, version_reply
from cnilib.testing._verdicts import judge, judge_bad_config
from cnilib.testing.report import Check, Report, Verdict


def record(command: Command, completed: Completed | None, *,
           request: str = '{"cniVersion": "1.0.0", "name": "n", "type": "p"}') -> InvocationRecord:
    inv = Invocation("p", "/bin/p", command, request.encode(), {})
    error = ExecutionError("permission denied") if completed is None else None
    return InvocationRecord(invocation=inv, completed=completed, error=error, network="n")


def test_a_plugin_that_could_not_start_fails() -> None:
    check = judge("ADD", record(Command.ADD, None), "1.0.0")
    assert check == Check("ADD", "p", Verdict.FAIL, "could not be started: permission denied")


def test_a_plugin_killed_at_its_deadline_fails() -> None:
    check = judge("DEL", record(Command.DEL, timed_out(duration=2.5)), "1.0.0")
    assert check == Check("DEL", "p", Verdict.FAIL, "killed at its deadline after 2.5s")


def test_a_failure_without_an_error_object_quotes_stderr() -> None:
    done = Completed(2, b"", b"starting\npanic: runtime error\n", 0.1)
    check = judge("CHECK", record(Command.CHECK, done), "1.0.0")
    assert check.reason == ("exit status 2, error reply invalid: no output; "
                            "stderr: panic: runtime error")


def test_an_error_object_that_breaks_its_schema_is_named() -> None:
    done = Completed(1, json.dumps({"cniVersion": "1.0.0", "code": "7"}).encode(), b"", 0.1)
    check = judge("ADD", record(Command.ADD, done), "1.0.0")
    assert check.verdict is Verdict.FAIL
    assert check.reason.startswith("[7] ; error reply invalid: ")


def test_a_valid_error_object_gives_code_message_and_details() -> None:
    done = error_reply(11, "busy", "try later", cni_version="1.0.0")
    assert judge("DEL", record(Command.DEL, done), "1.0.0").reason == "[11] busy: try later"


def test_version_replies() -> None:
    good = judge("VERSION", record(Command.VERSION, success(version_reply("0.4.0", "1.0.0"))),
                 "1.0.0")
    assert good == Check("VERSION", "p", Verdict.PASS, "supports 0.4.0, 1.0.0")
    old = judge("VERSION", record(Command.VERSION, success(version_reply("0.3.1"))), "1.0.0")
    assert old == Check("VERSION", "p", Verdict.FAIL,
                        "does not support cniVersion 1.0.0 (supports 0.3.1)")
    bad = judge("VERSION", record(Command.VERSION, success({"cniVersion": "1.0.0"})), "1.0.0")
    assert bad.verdict is Verdict.FAIL
    assert bad.reason.startswith("invalid VERSION reply: ")


@pytest.mark.parametrize(("reply", "reason"), [
    (make_result("0.4.0"), "result is cniVersion '0.4.0', request was '1.0.0'"),
    ({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1"}]}, "invalid 1.0.0 result: "),
    ({"cniVersion": "1.0.0", "code": 7, "msg": "no"},
     "printed an error object with exit status 0: [7] no"),
])
def test_add_results_are_checked_against_the_request(reply: JSONObject, reason: str) -> None:
    check = judge("ADD", record(Command.ADD, success(reply)), "1.0.0")
    assert check.verdict is Verdict.FAIL
    assert check.reason.startswith(reason)


def test_a_good_result_passes() -> None:
    check = judge("ADD", record(Command.ADD, success(make_result("1.0.0"))), "1.0.0")
    assert check == Check("ADD", "p", Verdict.PASS)


def test_bad_configs_must_be_refused_with_the_expected_code() -> None:
    wrong = judge_bad_config("bad", "p", error_reply(7, "bad config"), "1.0.0",
                             ErrorCode.INCOMPATIBLE_CNI_VERSION)
    assert wrong.reason == "code 7, expected 1 (INCOMPATIBLE_CNI_VERSION): [7] bad config"
    right = judge_bad_config("bad", "p", error_reply(1, "incompatible"), "1.0.0",
                             ErrorCode.INCOMPATIBLE_CNI_VERSION)
    assert right == Check("bad", "p", Verdict.PASS, "[1] incompatible")
    hung = judge_bad_config("bad", "p", timed_out(), "1.0.0", ErrorCode.DECODING_FAILURE)
    assert hung.reason == "killed at its deadline"


def test_the_report_renders_as_a_table_and_as_json() -> None:
    report = Report("p", "n", "1.0.0", (
        Check("ADD", "p", Verdict.PASS), Check("CHECK", "", Verdict.FAIL, "cache unreadable"),
        Check("GC", "p", Verdict.SKIP, "no GC"),
    ))
    assert not report.passed
    assert report.table().splitlines() == [
        "STEP   PLUGIN     VERDICT  REASON",
        "ADD    p          PASS",
        "CHECK  (runtime)  FAIL     cache unreadable",
        "GC     p          SKIP     no GC",
        "p at cniVersion 1.0.0: FAIL (1 passed, 1 failed, 1 skipped)",
    ]
    assert report.to_dict() == {
        "plugin": "p", "network": "n", "cniVersion": "1.0.0", "netns": "", "passed": False,
        "checks": [
            {"step": "ADD", "plugin": "p", "verdict": "pass", "reason": ""},
            {"step": "CHECK", "plugin": "", "verdict": "fail", "reason": "cache unreadable"},
            {"step": "GC", "plugin": "p", "verdict": "skip", "reason": "no GC"},
        ],
    }
