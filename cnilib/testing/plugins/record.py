"""``cnilib-test-record``: a plugin that logs every call and does what a control file says.

It speaks every spec version up to 1.1.0 (GC and STATUS included) through
:func:`cnilib.skel.dispatch`. Each call is appended to the control file's ``log`` as one JSON
line *before* anything is checked, so a call the skeleton refuses is still seen (read the log
with :func:`cnilib.testing.read_log`).

The control file is named by the request's ``controlFile`` key, else by the
``CNILIB_TEST_CONTROL`` variable (VERSION reads no request: it only has the variable, which
:func:`cnilib.testing.install_plugin` can bake into a wrapper). A control file that does not
exist (yet) is an empty one; one that is not a JSON object with only the keys below makes every
call fail with code 7. It is read at every call, so a test may rewrite it between calls
(:func:`cnilib.testing.write_control` does so atomically)::

    {
      "log": "/tmp/t/calls.jsonl",
      "supportedVersions": ["1.0.0", "1.1.0"],
      "*":   {"sleep": 0.1},
      "ADD": {"result": {"ips": [{"address": "10.0.0.2/24"}]}},
      "DEL": {"error": {"code": 11, "msg": "busy", "details": "try later"}}
    }

Top-level keys:

* ``log``: where calls are logged (none when absent).
* ``supportedVersions``: what VERSION answers and the skeleton accepts (default: every
  version from 0.1.0 to 1.1.0).
* ``"*"`` and one key per verb (``ADD``, ``CHECK``, ``DEL``, ``GC``, ``STATUS``,
  ``VERSION``): what to do; a verb's own entry, when present, replaces ``"*"``.

What to do, applied in this order:

* ``sleep``: seconds to sleep first.
* ``stderr``: text written to stderr.
* ``signal``: the plugin kills itself with this signal (``9`` for SIGKILL).
* ``stdout``: text written on stdout *instead of* the answer, then exit ``exitCode``
  (default 0); the skeleton's checks are skipped (for output no well-behaved plugin writes).
* ``error``: ``{"code", "msg", "details"}``; the verb fails with this error, after the
  skeleton's checks, with exit status 1. With ``exitCode`` as well, the error object is
  written at once with that exit status (``0`` makes an error with a success status).
* ``exitCode`` alone: exit with it, with nothing on stdout.
* ``result`` (ADD): the result written, its ``cniVersion`` defaulting to the request's.
  Without it ADD passes ``prevResult`` through, converted to the request's version; with no
  ``prevResult`` it answers a result with one interface, ``CNI_IFNAME`` in ``CNI_NETNS``,
  and no address.

Other verbs succeed with no output unless told otherwise, as the spec wants.

Rules of this file:

* It runs as a plugin process (a console script, or a wrapper from
  :func:`~cnilib.testing.install_plugin`): it reads the environment, stdin and files, and exits.
  The protocol decisions are :func:`cnilib.skel.dispatch`'s, as for any skel plugin.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from typing import Any, NoReturn

from cnilib.errors import CNIError, ConfigError
from cnilib.skel import (
    CmdArgs,
    CNIFuncs,
    PluginOutput,
    _emit,
    dispatch,
    parse_netconf,
    same_netns,
)
from cnilib.version import SPEC_VERSION, SUPPORTED_VERSIONS, plugin_supports, result_family

__all__ = ["main"]

_CONTROL_ENV = "CNILIB_TEST_CONTROL"  # cnilib.testing.plugins.CONTROL_ENV
_VERBS = ("ADD", "CHECK", "DEL", "GC", "STATUS", "VERSION")
# Each action key, with the JSON types it takes (bool is never a number here).
_ACTION_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "sleep": ((int, float), "a number"),
    "stderr": ((str,), "a string"),
    "signal": ((int,), "an integer"),
    "stdout": ((str,), "a string"),
    "error": ((dict,), "an object"),
    "exitCode": ((int,), "an integer"),
    "result": ((dict,), "an object"),
}
_LOGGED_ENV = ("CNI_", "TRACEPARENT", "TRACESTATE", "BAGGAGE")


def _request(stdin: bytes) -> dict[str, Any]:
    try:
        conf = json.loads(stdin) if stdin else None
    except ValueError:
        return {}
    return conf if isinstance(conf, dict) else {}


def _bad_control(path: str, why: str) -> ConfigError:
    return ConfigError(f"control file {path}: {why}")


def _load_control(request: dict[str, Any]) -> dict[str, Any]:
    path = request.get("controlFile") or os.environ.get(_CONTROL_ENV, "")
    if not isinstance(path, str):
        msg = "controlFile must be a string"
        raise ConfigError(msg)
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            control = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise _bad_control(path, str(err)) from err
    if not isinstance(control, dict):
        raise _bad_control(path, "not a JSON object")
    unknown = sorted(set(control) - {"log", "supportedVersions", "*", *_VERBS})
    if unknown:
        raise _bad_control(path, f"unknown keys {', '.join(unknown)}")
    versions = control.get("supportedVersions", list(SUPPORTED_VERSIONS))
    if not (isinstance(versions, list) and versions
            and all(isinstance(v, str) for v in versions)):
        raise _bad_control(path, "supportedVersions must be a non-empty list of strings")
    for key in ("*", *_VERBS):
        action = control.get(key, {})
        if not isinstance(action, dict) or not set(action) <= set(_ACTION_TYPES):
            raise _bad_control(path, f"{key!r} must be an object with keys among "
                                     f"{', '.join(sorted(_ACTION_TYPES))}")
        for name, value in action.items():
            kinds, what = _ACTION_TYPES[name]
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise _bad_control(path, f"{key}.{name} must be {what}")
    log = control.get("log", "")
    if not isinstance(log, str):
        raise _bad_control(path, "log must be a string")
    return control


def _log(control: dict[str, Any], command: str, stdin: bytes) -> None:
    path = control.get("log")
    if not path:
        return
    parsed: Any = None
    if stdin:
        try:
            parsed = json.loads(stdin)
        except ValueError:
            parsed = stdin.decode("utf-8", "replace")
    entry = {
        "plugin": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "",
        "command": command,
        "env": {k: v for k, v in os.environ.items() if k.startswith(_LOGGED_ENV)},
        "stdin": parsed,
        "pid": os.getpid(),
        "time": time.time(),
    }
    data = (json.dumps(entry, sort_keys=True) + "\n").encode()
    with open(path, "ab") as fh:
        # One whole line per call, even when many plugins run at once.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(data)
        fh.flush()


def _error(action: dict[str, Any]) -> CNIError:
    spec = action["error"]
    code = spec.get("code", 100)
    return CNIError(str(spec.get("msg", "failed as the control file says")),
                    code=code if isinstance(code, int) else 100,
                    details=str(spec.get("details", "")))


def _add(action: dict[str, Any]) -> Any:
    def add(args: CmdArgs) -> PluginOutput:
        if "error" in action:
            raise _error(action)
        conf = parse_netconf(args.stdin_data)
        if "result" in action:
            return {"cniVersion": conf.cni_version, **action["result"]}
        if conf.prev_result is not None:
            return conf.prev_result  # skel converts it to the request's version
        if result_family(conf.cni_version) == "020":
            return {"cniVersion": conf.cni_version}
        return {"cniVersion": conf.cni_version,
                "interfaces": [{"name": args.ifname, "sandbox": args.netns}], "ips": []}

    return add


def _other(action: dict[str, Any]) -> Any:
    def call(_args: CmdArgs) -> PluginOutput:
        if "error" in action:
            raise _error(action)
        return None

    return call


def main() -> NoReturn:
    """Run one call of ``cnilib-test-record`` and exit (the console script's entry point)."""
    command = os.environ.get("CNI_COMMAND", "")
    reads = command not in ("", "VERSION") and not sys.stdin.isatty()
    stdin = sys.stdin.buffer.read() if reads else b""
    request = _request(stdin)
    version = request.get("cniVersion") if isinstance(request.get("cniVersion"), str) else None
    try:
        control = _load_control(request if command != "VERSION" else {})
    except CNIError as failure:
        body = json.dumps(failure.to_dict(version or SPEC_VERSION), indent=4).encode()
        _emit(1, body)
    _log(control, command, stdin)
    action: dict[str, Any] = control.get(command, control.get("*", {}))
    if action.get("sleep"):
        time.sleep(float(action["sleep"]))
    if action.get("stderr"):
        sys.stderr.write(str(action["stderr"]))
        sys.stderr.flush()
    if action.get("signal"):
        os.kill(os.getpid(), int(action["signal"]))  # a signal that does not kill: go on
    if "stdout" in action:
        _emit(int(action.get("exitCode", 0)), str(action["stdout"]).encode())
    if "exitCode" in action:
        out = b""
        if "error" in action:
            out = json.dumps(_error(action).to_dict(version or SPEC_VERSION)).encode()
        _emit(int(action["exitCode"]), out)
    funcs = CNIFuncs(add=_add(action), check=_other(action), delete=_other(action),
                     gc=_other(action), status=_other(action))
    info = plugin_supports(*control.get("supportedVersions", SUPPORTED_VERSIONS))
    code, out, err = dispatch(os.environ, stdin, funcs, info,
                              "CNI test plugin cnilib-test-record", same_netns=same_netns)
    _emit(code, out, err)


if __name__ == "__main__":  # pragma: no cover - run as a script
    main()
