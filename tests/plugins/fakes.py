"""The code of the test plugins ``cnilib-recorder`` and ``cnilib-misbehave`` (on cnilib.skel).

Rules of this file:

* It is run as a plugin process (through a launcher that :func:`tests.plugins.install_plugin`
  writes), never imported by a test: it may read the environment, stdin and files, and exit.
* Both plugins record every call (before anything is validated) as one JSON line in the file
  named by the ``recordFile`` config key or the ``CNILIB_RECORD_FILE`` variable.
* Everything a test wants to vary is a config key; what VERSION must see (it has no config)
  is a ``CNILIB_*`` variable that the installer bakes into the launcher.

``cnilib-recorder`` config keys:

* ``recordFile``: where calls are recorded.
* ``result``: the object ADD returns (its ``cniVersion`` defaults to the request's). Without
  it ADD echoes ``prevResult`` (converted to the request's version), else returns a minimal
  result naming ``CNI_IFNAME``.
* ``failOn``: verbs that fail, with ``errorCode`` (default 100), ``errorMsg``, ``errorDetails``.
* ``statusCode``: STATUS fails with this code (50 or 51, SPEC §2 "STATUS").
* ``CNILIB_PLUGIN_VERSIONS`` (variable): comma-separated supported versions (default: all).

``cnilib-misbehave`` takes the same keys, plus ``mode`` (or ``CNILIB_MISBEHAVE_MODE``) applied
to the verbs in ``on`` (or ``CNILIB_MISBEHAVE_ON``; default every verb but VERSION):

* ``nonjson``: exit 0 with text that is not JSON. ``null``: exit 0 with ``null``.
  ``empty``: exit 0 with no output.
* ``huge``: exit 0 with a valid JSON result ``size`` bytes long (default 64 MiB).
* ``hang``: start a grandchild that holds stdout, then sleep; both for ``seconds``
  (default 600); the grandchild's pid goes to ``pidFile``.
* ``orphan``: start the same grandchild, print a valid result and exit 0 at once.
* ``sigkill``: kill itself with SIGKILL.
* ``error-exit0``: print an error object (``errorCode``, default 7) and exit 0.
* ``sleep``: sleep ``seconds`` then behave like the recorder.
* ``stderr``: write ``errorMsg`` on stderr and exit 1 with no stdout.
* ``exit``: exit with ``exitCode`` (default 3) and no output.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from cnilib.errors import CNIError
from cnilib.skel import (
    Callback,
    CmdArgs,
    CNIFuncs,
    PluginOutput,
    dispatch,
    parse_netconf,
    same_netns,
)
from cnilib.version import SUPPORTED_VERSIONS, PluginInfo, plugin_supports, result_family

__all__ = ["main"]

_MiB = 1024 * 1024
_VERBS = ("ADD", "CHECK", "DEL", "GC", "STATUS")


def _config(stdin: bytes) -> dict[str, Any]:
    try:
        conf = json.loads(stdin)
    except ValueError:
        return {}
    return conf if isinstance(conf, dict) else {}


def _record(conf: dict[str, Any], stdin: bytes) -> None:
    path = conf.get("recordFile") or os.environ.get("CNILIB_RECORD_FILE")
    if not isinstance(path, str) or not path:
        return
    parsed: Any
    try:
        parsed = json.loads(stdin) if stdin else None
    except ValueError:
        parsed = stdin.decode("utf-8", "replace")
    line: dict[str, Any] = {
        "command": os.environ.get("CNI_COMMAND", ""),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("CNI_", "TRACE", "BAGGAGE"))},
        "stdin": parsed,
        "pid": os.getpid(),
        "time": time.time(),
    }
    if line["command"] == "GC" and isinstance(parsed, dict):
        line["validAttachments"] = parsed.get("cni.dev/valid-attachments")
    data = (json.dumps(line, sort_keys=True) + "\n").encode()
    with open(path, "ab") as fh:
        # One line per call even when many plugins run at once.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(data)
        fh.flush()


def _version_info() -> PluginInfo:
    wanted = os.environ.get("CNILIB_PLUGIN_VERSIONS", "")
    versions = [v for v in wanted.split(",") if v] or list(SUPPORTED_VERSIONS)
    return plugin_supports(*versions)


def _fail_if_asked(conf: dict[str, Any], verb: str) -> None:
    fail_on = conf.get("failOn", [])
    if isinstance(fail_on, list) and verb in fail_on:
        code = conf.get("errorCode", 100)
        msg = conf.get("errorMsg", f"{verb} failed as configured")
        details = conf.get("errorDetails", "")
        raise CNIError(str(msg), code=int(code), details=str(details))


def _add(args: CmdArgs) -> PluginOutput:
    conf = _config(args.stdin_data)
    _fail_if_asked(conf, "ADD")
    version = conf.get("cniVersion") or "0.1.0"
    fixed = conf.get("result")
    if isinstance(fixed, dict):
        out: dict[str, Any] = dict(fixed)
        out.setdefault("cniVersion", version)
        return out
    prev = conf.get("prevResult")
    if isinstance(prev, dict):
        if prev.get("cniVersion") == version:
            return prev
        # SPEC §5: output prevResult, in the request's version (skel converts the object).
        return parse_netconf(args.stdin_data).prev_result
    if result_family(version) == "020":
        return {"cniVersion": version}
    return {
        "cniVersion": version,
        "interfaces": [{"name": args.ifname, "sandbox": args.netns}],
        "ips": [],
    }


def _verb(verb: str) -> Callback:
    def call(args: CmdArgs) -> PluginOutput:
        conf = _config(args.stdin_data)
        _fail_if_asked(conf, verb)
        if verb == "STATUS" and conf.get("statusCode") is not None:
            code = int(conf["statusCode"])
            what = "not available" if code == 50 else "not available, limited connectivity"
            raise CNIError(f"plugin {what}", code=code, details=str(conf.get("errorDetails", "")))
        return None

    return call


FUNCS = CNIFuncs(add=_add, check=_verb("CHECK"), delete=_verb("DEL"), gc=_verb("GC"),
                 status=_verb("STATUS"))


def _write(data: bytes) -> None:
    try:
        out = sys.stdout.buffer
        for start in range(0, len(data), _MiB):
            out.write(data[start:start + _MiB])
        out.flush()
    except BrokenPipeError:
        # The runtime stopped reading (size cap): that is its right; leave quietly.
        os._exit(0)


def _grandchild(conf: dict[str, Any], seconds: float) -> None:
    # A grandchild in our process group that keeps our stdout open (G2 in docs/guarantees.md).
    child = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL)
    pid_file = conf.get("pidFile")
    if isinstance(pid_file, str) and pid_file:
        with open(pid_file, "a") as fh:
            fh.write(f"{child.pid}\n")


def _misbehave(conf: dict[str, Any], mode: str, version: str) -> None:
    seconds = float(conf.get("seconds", 600))
    if mode == "nonjson":
        _write(b"this is not JSON {")
        sys.exit(0)
    if mode == "null":
        _write(b"null")
        sys.exit(0)
    if mode == "empty":
        sys.exit(0)
    if mode == "huge":
        size = int(conf.get("size", 64 * _MiB))
        head = json.dumps({"cniVersion": version, "pad": ""}).encode()[:-2]
        pad = max(0, size - len(head) - 2)
        _write(head + b"x" * pad + b'"}')
        sys.exit(0)
    if mode == "hang":
        _grandchild(conf, seconds)
        time.sleep(seconds)
        sys.exit(0)
    if mode == "orphan":
        _grandchild(conf, seconds)
        _write(json.dumps({"cniVersion": version}).encode())
        sys.exit(0)
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "error-exit0":
        body = {"cniVersion": version, "code": int(conf.get("errorCode", 7)),
                "msg": str(conf.get("errorMsg", "error printed with exit status 0"))}
        _write(json.dumps(body).encode())
        sys.exit(0)
    if mode == "sleep":
        time.sleep(seconds)
        return
    if mode == "stderr":
        sys.stderr.write(str(conf.get("errorMsg", "something went wrong on stderr")))
        sys.stderr.flush()
        sys.exit(1)
    if mode == "exit":
        sys.exit(int(conf.get("exitCode", 3)))
    sys.stderr.write(f"cnilib-misbehave: unknown mode {mode!r}\n")
    sys.exit(2)


def main(role: str) -> None:
    """Run as the plugin ``role`` (``"recorder"`` or ``"misbehave"``) and exit."""
    command = os.environ.get("CNI_COMMAND", "")
    stdin = b"" if not command or sys.stdin.isatty() else sys.stdin.buffer.read()
    conf = _config(stdin)
    _record(conf, stdin)
    if role == "misbehave":
        mode = conf.get("mode") or os.environ.get("CNILIB_MISBEHAVE_MODE", "")
        on = conf.get("on")
        if on is None:
            on = [v for v in os.environ.get("CNILIB_MISBEHAVE_ON", "").split(",") if v]
        verbs = on or list(_VERBS)
        if isinstance(mode, str) and mode and command in verbs:
            _misbehave(conf, mode, str(conf.get("cniVersion") or "1.1.0"))
    code, out, err = dispatch(os.environ, stdin, FUNCS, _version_info(),
                              f"CNI test plugin cnilib-{role}", same_netns=same_netns)
    if out:
        _write(out)
    if err:
        sys.stderr.buffer.write(err)
        sys.stderr.buffer.flush()
    sys.exit(code)
