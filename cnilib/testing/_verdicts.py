"""Judging one plugin run for the conformance checker: bytes and a verb in, a row out.

Rules of this file:

* Pure: it reads a :class:`~cnilib.protocol.InvocationRecord` (or a bare
  :class:`~cnilib.protocol.Completed`) and returns a :class:`~cnilib.testing.report.Check`.
* Every reply is checked against the packaged JSON Schemas through :mod:`cnilib.schema`: an
  ADD result (SPEC.md "ADD Success") at the request's version, a VERSION reply (SPEC.md
  "VERSION Success"), an error (SPEC.md "Error") at the version it names. Only ERROR problems
  fail a row; warnings are noted in its reason.
* CHECK, DEL, GC and STATUS print nothing on success (SPEC.md "CNI operations").
"""

from __future__ import annotations

from cnilib._json import JSON, loads
from cnilib.errors import CNIError, ErrorCode, Severity
from cnilib.protocol import Command, Completed, InvocationRecord
from cnilib.schema import Kind, validate

from .report import Check, Verdict

__all__ = ["judge", "judge_bad_config"]


def _request_version(stdin: bytes) -> str:
    try:
        request = loads(stdin)
    except CNIError:
        return ""
    version = request.get("cniVersion") if isinstance(request, dict) else None
    return version if isinstance(version, str) else ""


def _decode(stdout: bytes) -> tuple[JSON, str]:
    """The reply and ``""``, or ``None`` and why it is not a JSON object."""
    if not stdout.strip():
        return None, "no output"
    try:
        reply = loads(stdout)
    except CNIError as err:
        return None, f"reply is not JSON: {err.msg}"
    if not isinstance(reply, dict):
        return None, "reply is not a JSON object"
    return reply, ""


def _schema_problems(reply: JSON, kind: Kind, version: str) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` of ``reply`` as a ``kind`` document, as short strings."""
    errors: list[str] = []
    warnings: list[str] = []
    for p in validate(reply, kind, version):
        text = f"{p.message} (at {p.pointer or '/'})"
        (errors if p.severity is Severity.ERROR else warnings).append(text)
    return errors, warnings


def _error_reason(completed: Completed, version: str) -> tuple[str, int | None]:
    """Describe a failed run and check its error object; ``(reason, code)``."""
    reply, why = _decode(completed.stdout)
    status = f"exit status {completed.exit_status}"
    if not isinstance(reply, dict):
        stderr = completed.stderr.decode(errors="replace").strip().splitlines()
        tail = f"; stderr: {stderr[-1]}" if stderr else ""
        return f"{status}, error reply invalid: {why}{tail}", None
    named = reply.get("cniVersion")
    errors, _ = _schema_problems(reply, "error", named if isinstance(named, str) else version)
    code = reply.get("code")
    code_int = code if isinstance(code, int) and not isinstance(code, bool) else None
    text = f"[{code}] {reply.get('msg', '')}"
    if reply.get("details"):
        text += f": {reply['details']}"
    if errors:
        text += f"; error reply invalid: {errors[0]}"
    return text, (None if errors else code_int)


def judge(step: str, record: InvocationRecord, cni_version: str) -> Check:
    """The row for one plugin run of ``step`` in a network of version ``cni_version``."""
    inv, completed = record.invocation, record.completed
    plugin = inv.plugin_type
    if completed is None:
        return Check(step, plugin, Verdict.FAIL, f"could not be started: {record.error}")
    if completed.timed_out:
        return Check(step, plugin, Verdict.FAIL,
                     f"killed at its deadline after {completed.duration:.1f}s")
    version = _request_version(inv.stdin) or cni_version
    if completed.exit_status != 0:
        return Check(step, plugin, Verdict.FAIL, _error_reason(completed, version)[0])
    if inv.command is Command.VERSION:
        return _judge_version(step, plugin, completed, cni_version)
    if inv.command is Command.ADD:
        return _judge_result(step, plugin, completed, version)
    if completed.stdout.strip():
        return Check(step, plugin, Verdict.FAIL,
                     f"printed {len(completed.stdout)} bytes on success (it must print nothing)")
    return Check(step, plugin, Verdict.PASS)


def _judge_version(step: str, plugin: str, completed: Completed, cni_version: str) -> Check:
    reply, why = _decode(completed.stdout)
    if not isinstance(reply, dict):
        return Check(step, plugin, Verdict.FAIL, why)
    named = reply.get("cniVersion")
    errors, warnings = _schema_problems(reply, "version", named if isinstance(named, str) else "")
    if errors:
        return Check(step, plugin, Verdict.FAIL, f"invalid VERSION reply: {errors[0]}")
    supported = reply.get("supportedVersions")
    listed = [v for v in supported if isinstance(v, str)] if isinstance(supported, list) else []
    if cni_version and cni_version not in listed:
        return Check(step, plugin, Verdict.FAIL,
                     f"does not support cniVersion {cni_version} (supports {', '.join(listed)})")
    return Check(step, plugin, Verdict.PASS,
                 "; ".join([f"supports {', '.join(listed)}", *warnings]))


def _judge_result(step: str, plugin: str, completed: Completed, version: str) -> Check:
    reply, why = _decode(completed.stdout)
    if not isinstance(reply, dict):
        return Check(step, plugin, Verdict.FAIL, f"ADD succeeded without a result: {why}")
    if "code" in reply and "msg" in reply:
        return Check(step, plugin, Verdict.FAIL,
                     f"printed an error object with exit status 0: [{reply['code']}] "
                     f"{reply['msg']}")
    errors, warnings = _schema_problems(reply, "result", version)
    if errors:
        return Check(step, plugin, Verdict.FAIL, f"invalid {version} result: {errors[0]}")
    if reply.get("cniVersion") != version:
        return Check(step, plugin, Verdict.FAIL,
                     f"result is cniVersion {reply.get('cniVersion')!r}, request was {version!r}")
    return Check(step, plugin, Verdict.PASS, "; ".join(warnings))


def judge_bad_config(step: str, plugin: str, completed: Completed, version: str,
                     expected: ErrorCode) -> Check:
    """The row for an ADD with a configuration the plugin must refuse with ``expected``."""
    if completed.timed_out:
        return Check(step, plugin, Verdict.FAIL, "killed at its deadline")
    if completed.exit_status == 0:
        return Check(step, plugin, Verdict.FAIL, "accepted it (exit status 0)")
    reason, code = _error_reason(completed, version)
    if code is None:
        return Check(step, plugin, Verdict.FAIL, reason)
    if code != expected:
        return Check(step, plugin, Verdict.FAIL,
                     f"code {code}, expected {int(expected)} ({expected.name}): {reason}")
    return Check(step, plugin, Verdict.PASS, reason)
