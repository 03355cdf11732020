"""The code of ``cnilib-misbehave`` (see ``tests/plugins/__init__.py``): run as a plugin process.

It reads the environment, stdin and files, and exits. On the verbs its ``mode`` does not apply
to, it answers as a polite plugin through :func:`cnilib.skel.dispatch`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, NoReturn

from cnilib.skel import CmdArgs, CNIFuncs, PluginOutput, dispatch, parse_netconf
from cnilib.version import SUPPORTED_VERSIONS, plugin_supports

_MiB = 1024 * 1024
_VERBS = ("ADD", "CHECK", "DEL", "GC", "STATUS")


def _log(conf: dict[str, Any], command: str, stdin: bytes) -> None:
    # The shape cnilib.testing.read_log reads (the recording plugin's log).
    path = conf.get("recordFile")
    if not isinstance(path, str) or not path:
        return
    entry = {"plugin": os.path.basename(sys.argv[0]), "command": command,
             "env": {k: v for k, v in os.environ.items() if k.startswith("CNI_")},
             "stdin": conf, "pid": os.getpid(), "time": time.time()}
    with open(path, "ab") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write((json.dumps(entry, sort_keys=True) + "\n").encode())


def _write(data: bytes) -> None:
    try:
        out = sys.stdout.buffer
        for start in range(0, len(data), _MiB):
            out.write(data[start:start + _MiB])
        out.flush()
    except BrokenPipeError:
        os._exit(0)  # the runtime stopped reading (its size cap): its right


def _grandchild(conf: dict[str, Any], seconds: float) -> None:
    # A grandchild in our process group that keeps our stdout open.
    child = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL)
    pid_file = conf.get("pidFile")
    if isinstance(pid_file, str) and pid_file:
        with open(pid_file, "a", encoding="utf-8") as fh:
            fh.write(f"{child.pid}\n")


def _misbehave(conf: dict[str, Any], mode: str, version: str) -> NoReturn:
    seconds = float(conf.get("seconds", 600))
    if mode == "huge":
        size = int(conf.get("size", 64 * _MiB))
        head = json.dumps({"cniVersion": version, "pad": ""}).encode()[:-2]
        _write(head + b"x" * max(0, size - len(head) - 2) + b'"}')
        sys.exit(0)
    if mode == "hang":
        _grandchild(conf, seconds)
        time.sleep(seconds)
        sys.exit(0)
    if mode == "partial-kill":
        whole = json.dumps({"cniVersion": version, "interfaces": [{"name": "eth0"}],
                            "ips": [{"address": "10.1.2.3/24", "interface": 0}]}).encode()
        _write(whole[:len(whole) // 2])
        os.kill(os.getpid(), signal.Signals[str(conf.get("signal", "SIGKILL"))])
        time.sleep(60)  # a signal that does not kill must not pass for an exit 0
        sys.exit(0)
    if mode == "many-ips":
        count = int(conf.get("count", 300_000))
        ips = ",".join(
            f'{{"address":"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/8","interface":0}}'
            for i in range(count))
        _write(f'{{"cniVersion":"{version}","interfaces":[{{"name":"eth0"}}],'
               f'"ips":[{ips}]}}'.encode())
        sys.exit(0)
    sys.stderr.write(f"cnilib-misbehave: unknown mode {mode!r}\n")
    sys.exit(2)


def _add(args: CmdArgs) -> PluginOutput:
    conf = parse_netconf(args.stdin_data)
    return conf.prev_result if conf.prev_result is not None else {"cniVersion": conf.cni_version}


def main() -> NoReturn:
    """Run one call and exit."""
    command = os.environ.get("CNI_COMMAND", "")
    reads = command not in ("", "VERSION") and not sys.stdin.isatty()
    stdin = sys.stdin.buffer.read() if reads else b""
    try:
        conf = json.loads(stdin) if stdin else {}
    except ValueError:
        conf = {}
    conf = conf if isinstance(conf, dict) else {}
    _log(conf, command, stdin)
    mode, on = conf.get("mode"), conf.get("on") or list(_VERBS)
    if isinstance(mode, str) and mode and command in on:
        _misbehave(conf, mode, str(conf.get("cniVersion") or "1.1.0"))
    code, out, err = dispatch(os.environ, stdin, CNIFuncs(add=_add),
                              plugin_supports(*SUPPORTED_VERSIONS), "CNI test plugin misbehave")
    _write(out)
    sys.stderr.buffer.write(err)
    sys.exit(code)


if __name__ == "__main__":
    main()
