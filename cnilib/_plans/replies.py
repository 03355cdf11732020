"""What a plugin's reply means: a result, an error, or version info (SPEC.md "Result Types").

Rules of this file:

* It is pure: a :class:`~cnilib.protocol.Completed` in, a value or a typed error out.
* Every error it builds is a :class:`~cnilib.errors.PluginError` (or subclass) carrying the
  plugin's own ``code``/``msg``/``details`` and the runtime context: plugin type, verb, exit
  status and a bounded stderr tail (httpx's "context attached at the boundary").
* Messages keep libcni's wording where libcni has one (``pkg/invoke/raw_exec.go``), so logs read
  alike.
* No input, however odd, makes anything but a :class:`~cnilib.errors.CNIError` escape.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from cnilib._json import JSON, JSONObject, json_type, loads
from cnilib.errors import CNIError, PluginError, PluginOutputError, PluginTimeoutError
from cnilib.protocol import Completed, Invocation
from cnilib.version import PluginInfo, parse_plugin_info, plugin_supports

if TYPE_CHECKING:
    from cnilib.types import Result

__all__ = [
    "STDERR_TAIL",
    "EXCERPT",
    "exit_text",
    "reply_error",
    "parse_add_reply",
    "parse_version_reply",
    "check_reply",
    "cached_result",
]

#: Bytes of stderr kept on an error (G3 in docs/guarantees.md: bounded memory and log size).
STDERR_TAIL = 4096
#: Characters of stdout quoted in an error message.
EXCERPT = 512

_SIGNALS = {1: "hangup", 2: "interrupt", 6: "aborted", 9: "killed", 11: "segmentation fault",
            13: "broken pipe", 15: "terminated"}


def exit_text(status: int) -> str:
    """Go's ``*exec.ExitError`` text: ``exit status 3`` or ``signal: killed``."""
    if status < 0:
        return f"signal: {_SIGNALS.get(-status, f'signal {-status}')}"
    return f"exit status {status}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _text(data: bytes, limit: int) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


def _quote(text: str) -> str:
    # Go's %q, close enough: double quotes, backslash escapes.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _fail(
    cls: type[PluginError],
    msg: str,
    inv: Invocation,
    done: Completed,
    *,
    code: int | None = None,
    details: str = "",
) -> PluginError:
    return cls(msg, code=code, details=details, plugin=inv.plugin_type,
               command=str(inv.command), exit_status=done.exit_status,
               stderr=done.stderr[-STDERR_TAIL:])


def _error_object(obj: JSONObject, inv: Invocation, done: Completed) -> PluginError:
    # SPEC.md, section "Error": {code, msg, details}; extra keys (cniVersion) are ignored as libcni
    # does.
    code, msg, details = obj.get("code", 0), obj.get("msg", ""), obj.get("details", "")
    if (not isinstance(code, int) or isinstance(code, bool) or code < 0
            or not isinstance(msg, str) or not isinstance(details, str)):
        text = _text(done.stdout, EXCERPT)
        m = (f"netplugin failed but error parsing its diagnostic message {_quote(text)}: "
             "code must be a non-negative integer, msg and details strings")
        return _fail(PluginOutputError, m, inv, done)
    if not msg:
        # Unlike libcni, which turns {} into an empty message (docs/running.md, differences item 9).
        msg = f"netplugin failed with an empty error message: {exit_text(done.exit_status)}"
    return _fail(PluginError, msg, inv, done, code=code, details=details)


def _decode(data: bytes) -> tuple[JSON, str | None]:
    try:
        return loads(data), None
    except CNIError as err:
        return None, err.msg


def _is_error_shaped(obj: JSON) -> bool:
    return isinstance(obj, dict) and "code" in obj and "msg" in obj


def reply_error(inv: Invocation, done: Completed) -> PluginError | None:
    """The error a run reports, or ``None`` if it succeeded (libcni ``pluginErr``, in
    ``pkg/invoke/raw_exec.go``).

    * killed at its deadline: :class:`PluginTimeoutError`;
    * stdout cut at the executor's cap: :class:`PluginOutputError`;
    * non-zero exit: the error JSON on stdout (:class:`PluginError` with the plugin's own
      code, msg and details), else stderr quoted, else "no error message";
      stdout that is not a JSON error object gives :class:`PluginOutputError`, unless a
      signal killed the plugin: then a :class:`PluginError` names the signal and quotes the
      partial output;
    * exit 0 with an error-shaped object (``code`` and ``msg``) on stdout: that error
      (libcni takes it as an empty success; docs/running.md, differences item 8).
    """
    if done.timed_out:
        # The plan's own Invocation may not carry the driver's timeout; the run's duration does.
        limit = inv.timeout if inv.timeout is not None else done.duration
        msg = f"plugin timed out after {limit:.3g}s; its process group was killed"
        return _fail(PluginTimeoutError, msg, inv, done)
    if done.truncated:
        msg = "plugin output exceeds the size limit and was cut"
        return _fail(PluginOutputError, msg, inv, done, details=_text(done.stdout, EXCERPT))
    stdout = done.stdout.strip()
    if done.exit_status == 0:
        if stdout[:1] == b"{":
            obj, _ = _decode(stdout)
            if isinstance(obj, dict) and _is_error_shaped(obj):
                return _error_object(obj, inv, done)
        return None
    why = exit_text(done.exit_status)
    if not stdout:
        stderr = done.stderr.strip()
        if not stderr:
            msg = f"netplugin failed with no error message: {why}"
        else:
            msg = f"netplugin failed: {_quote(_text(stderr[-STDERR_TAIL:], STDERR_TAIL))}: {why}"
        return _fail(PluginError, msg, inv, done)
    obj, problem = _decode(stdout)
    if problem is not None or not isinstance(obj, dict):
        problem = problem or f"expected a JSON object, got {json_type(obj)}"
        if done.exit_status < 0:
            # Killed in the middle of writing: the signal is the news, the cut JSON its trace.
            msg = (f"netplugin was killed by signal {_signal_name(-done.exit_status)} "
                   f"({why}) after writing partial output {_quote(_text(stdout, EXCERPT))}: "
                   f"{problem}")
            return _fail(PluginError, msg, inv, done)
        msg = (f"netplugin failed but error parsing its diagnostic message "
               f"{_quote(_text(stdout, EXCERPT))}: {problem}")
        return _fail(PluginOutputError, msg, inv, done)
    return _error_object(obj, inv, done)


def _output_error(inv: Invocation, done: Completed, msg: str, details: str = "") -> PluginError:
    return _fail(PluginOutputError, msg, inv, done, details=details)


def parse_add_reply(inv: Invocation, done: Completed, conf_version: str) -> Result:
    """The result of a successful ADD (SPEC.md, section "ADD Success").

    A result without a (non-empty string) ``cniVersion`` is taken to be in the configuration's
    version, and ``null`` is an empty result (libcni ``fixupResultVersion``, cni#895).

    Raises:
        PluginError: the run failed (see :func:`reply_error`).
        PluginOutputError: stdout is not a result.
    """
    from cnilib.types import parse_result

    # A run that exited 0 is judged below, on the one decoding of its stdout.
    failed = done.timed_out or done.truncated or done.exit_status != 0
    err = reply_error(inv, done) if failed else None
    if err is not None:
        raise err
    stdout = done.stdout.strip()
    if not stdout:
        msg = "failed to unmarshal raw result: unexpected end of JSON input"
        raise _output_error(inv, done, msg)
    obj, problem = _decode(stdout)  # once: both the error check and the result read it
    if isinstance(obj, dict) and _is_error_shaped(obj):
        raise _error_object(obj, inv, done)  # exit 0 with an error object, as reply_error
    if problem is not None:
        raise _output_error(inv, done, f"failed to unmarshal raw result: {problem}",
                            _text(stdout, EXCERPT))
    if obj is not None and not isinstance(obj, dict):
        msg = f"failed to unmarshal raw result: expected a JSON object, got {json_type(obj)}"
        raise _output_error(inv, done, msg, _text(stdout, EXCERPT))
    try:
        return parse_result(obj, conf_version)  # the one cniVersion fix-up rule
    except CNIError as cause:
        raise _output_error(inv, done, f"invalid result: {cause.msg}", cause.details) from cause


def parse_version_reply(inv: Invocation, done: Completed) -> PluginInfo:
    """The plugin's VERSION answer (SPEC.md, section "VERSION Success"; libcni
    ``PluginDecoder`` in ``pkg/version/plugin.go``).

    A plugin so old that it answers ``unknown CNI_COMMAND: VERSION`` supports only 0.1.0.

    Raises:
        PluginError: the run failed.
        PluginOutputError: stdout is not a version reply.
    """
    err = reply_error(inv, done)
    if err is not None:
        if err.msg == "unknown CNI_COMMAND: VERSION":
            return plugin_supports("0.1.0")
        raise err
    try:
        return parse_plugin_info(done.stdout)
    except CNIError as cause:
        raise _output_error(inv, done, cause.msg, cause.details) from cause


def check_reply(inv: Invocation, done: Completed) -> None:
    """Accept the reply of CHECK, DEL, GC or STATUS: success carries no output (SPEC.md, Section 2:
    Execution Protocol).

    Raises:
        PluginError: the run failed.
    """
    err = reply_error(inv, done)
    if err is not None:
        raise err


def cached_result(data: JSONObject, conf_version: str) -> Result:
    """A cached result, converted to the network's version (libcni ``getCachedResult``).

    A cached result without ``cniVersion`` is 0.1.0, as libcni's ``CreateFromBytes`` reads it.

    Raises:
        CNIError: the result does not parse or cannot be converted
            (:class:`~cnilib.errors.ResultError`, :class:`~cnilib.errors.ConversionError`...).
    """
    from cnilib.types import parse_result

    result = parse_result(data, "0.1.0")
    return result.as_version(conf_version)
