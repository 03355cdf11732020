"""The shipped test plugins (cnilib.testing.plugins), run as real processes: they do what their
docs say, by path (a wrapper from install_plugin) and as console scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cnilib.errors import ConfigError, InvalidIdentifierError, InvalidPluginNameError
from cnilib.testing import (
    CONTROL_ENV,
    DEBUG,
    PLUGINS,
    RECORD,
    SLEEP,
    install_plugin,
    install_plugins,
    read_log,
    write_control,
)
from cnilib.version import SUPPORTED_VERSIONS

ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/nope", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/nonexistent"}
PREV = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
        "ips": [{"address": "10.1.2.3/24", "interface": 0}]}


def call(plugin: Path | str, command: str, conf: dict[str, Any] | None,
         **env: str) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "CNILIB_"))}
    full.update(ENV)
    full.update(env)
    full["CNI_COMMAND"] = command
    stdin = b"" if conf is None else json.dumps(conf).encode()
    return subprocess.run([str(plugin)], input=stdin, env=full, capture_output=True,
                          timeout=60, check=False)


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    install_plugins(tmp_path / "bin")
    return tmp_path / "bin"


def request(tmp_path: Path, version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "testnet", "type": RECORD,
            "controlFile": str(tmp_path / "control.json"), **extra}


def control(tmp_path: Path, **keys: Any) -> Path:
    return write_control(tmp_path / "control.json", {"log": str(tmp_path / "log"), **keys})


# --- installing -----------------------------------------------------------------------------


def test_install_plugins_writes_executable_wrappers(tmp_path: Path) -> None:
    paths = install_plugins(tmp_path / "bin")
    assert set(paths) == set(PLUGINS) == {RECORD, SLEEP, DEBUG}
    for name, path in paths.items():
        assert path == tmp_path / "bin" / name
        assert os.access(path, os.X_OK)
        assert path.read_text().startswith(f"#!{sys.executable}\n")
        done = call(path, "VERSION", None)
        assert (done.returncode, json.loads(done.stdout)) == (
            0, {"cniVersion": "1.1.0", "supportedVersions": list(SUPPORTED_VERSIONS)})


def test_install_under_another_name_with_environment(tmp_path: Path) -> None:
    ctl = write_control(tmp_path / "old.json", {"supportedVersions": ["0.3.1", "0.4.0"]})
    plugin = install_plugin(tmp_path / "bin", RECORD, name="old-plugin",
                            environ={CONTROL_ENV: str(ctl)})
    assert plugin.name == "old-plugin"
    done = call(plugin, "VERSION", None)
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0",
                                       "supportedVersions": ["0.3.1", "0.4.0"]}
    done = call(plugin, "ADD", {"cniVersion": "1.0.0", "name": "n", "type": "old-plugin"})
    assert (done.returncode, json.loads(done.stdout)["code"]) == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"plugin": "cnilib-test-nope"}, ConfigError),
        ({"plugin": RECORD, "name": "../evil"}, InvalidPluginNameError),
        ({"plugin": RECORD, "python": "/opt/my python/bin/python"}, ConfigError),
        ({"plugin": RECORD, "environ": {"A=B": "x"}}, InvalidIdentifierError),
    ],
)
def test_install_refuses(tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        install_plugin(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_console_scripts(plugin: str) -> None:
    script = Path(sys.executable).parent / plugin
    done = call(script, "VERSION", None)
    assert done.returncode == 0
    assert json.loads(done.stdout)["supportedVersions"] == list(SUPPORTED_VERSIONS)
    about = subprocess.run([str(script)], capture_output=True, timeout=60, check=False,
                           env={k: v for k, v in os.environ.items() if not k.startswith("CNI_")},
                           stdin=subprocess.DEVNULL)
    assert about.returncode == 0
    assert about.stderr.startswith(f"CNI test plugin {plugin}\n".encode())


def test_write_control_replaces_whole_file(tmp_path: Path) -> None:
    path = write_control(tmp_path / "c.json", {"ADD": {"sleep": 1}})
    write_control(path, {"DEL": {}})
    assert json.loads(path.read_text()) == {"DEL": {}}
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


# --- cnilib-test-record ---------------------------------------------------------------------


def test_record_logs_every_call(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path)
    done = call(bindir / RECORD, "ADD", request(tmp_path), CNI_ARGS="A=B")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout) == {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/nope"}],
        "ips": [],
    }
    call(bindir / RECORD, "DEL", request(tmp_path))
    log = read_log(tmp_path / "log")
    assert [(e["plugin"], e["command"]) for e in log] == [(RECORD, "ADD"), (RECORD, "DEL")]
    assert log[0]["env"] == {**ENV, "CNI_COMMAND": "ADD", "CNI_ARGS": "A=B"}
    assert log[0]["stdin"] == request(tmp_path)
    assert isinstance(log[0]["pid"], int)


def test_record_logs_rejected_calls(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path)
    done = call(bindir / RECORD, "ADD", request(tmp_path), CNI_CONTAINERID="bad id")
    assert (done.returncode, json.loads(done.stdout)["code"]) == (1, 4)
    assert [e["command"] for e in read_log(tmp_path / "log")] == ["ADD"]


def test_record_control_from_environment(bindir: Path, tmp_path: Path) -> None:
    ctl = control(tmp_path, ADD={"error": {"code": 11, "msg": "later"}})
    conf = {"cniVersion": "1.0.0", "name": "n", "type": RECORD}
    done = call(bindir / RECORD, "ADD", conf, **{CONTROL_ENV: str(ctl)})
    assert json.loads(done.stdout) == {"cniVersion": "1.0.0", "code": 11, "msg": "later"}


def test_record_passes_prev_result_through(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / RECORD, "ADD", request(tmp_path, "1.0.0", prevResult=PREV))
    assert json.loads(done.stdout) == PREV
    done = call(bindir / RECORD, "ADD", request(tmp_path, "0.4.0", prevResult=PREV))
    out = json.loads(done.stdout)
    assert out["cniVersion"] == "0.4.0"
    assert out["ips"] == [{"version": "4", "address": "10.1.2.3/24", "interface": 0}]


def test_record_configured_result(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path, ADD={"result": {"ips": [{"address": "10.9.9.9/32"}]}})
    done = call(bindir / RECORD, "ADD", request(tmp_path, prevResult=PREV))
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0",
                                       "ips": [{"address": "10.9.9.9/32"}]}


@pytest.mark.parametrize("verb", ["ADD", "CHECK", "DEL", "GC", "STATUS"])
def test_record_error_per_verb(bindir: Path, tmp_path: Path, verb: str) -> None:
    control(tmp_path, **{verb: {"error": {"code": 117, "msg": "nope", "details": "why"}}})
    env = {"CNI_CONTAINERID": "", "CNI_IFNAME": "", "CNI_NETNS": ""} if verb in (
        "GC", "STATUS") else {}
    done = call(bindir / RECORD, verb, request(tmp_path), **env)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0", "code": 117, "msg": "nope",
                                       "details": "why"}
    other = "DEL" if verb != "DEL" else "ADD"
    assert call(bindir / RECORD, other, request(tmp_path)).returncode == 0


def test_record_default_entry_and_rewrite(bindir: Path, tmp_path: Path) -> None:
    # "*" applies to every verb without an entry of its own; the file is read at each call.
    control(tmp_path, **{"*": {"error": {"code": 50, "msg": "down"}}, "DEL": {}})
    assert json.loads(call(bindir / RECORD, "CHECK", request(tmp_path)).stdout)["code"] == 50
    assert call(bindir / RECORD, "DEL", request(tmp_path)).returncode == 0
    control(tmp_path)
    assert call(bindir / RECORD, "CHECK", request(tmp_path)).returncode == 0


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        ({"stdout": "this is not JSON {"}, (0, b"this is not JSON {", b"")),
        ({"stdout": "null"}, (0, b"null", b"")),
        ({"stdout": ""}, (0, b"", b"")),
        ({"exitCode": 3}, (3, b"", b"")),
        ({"stderr": "broken", "exitCode": 1}, (1, b"", b"broken")),
        ({"stdout": "{}", "exitCode": 2}, (2, b"{}", b"")),
    ],
)
def test_record_raw_output(bindir: Path, tmp_path: Path, action: dict[str, Any],
                           outcome: tuple[int, bytes, bytes]) -> None:
    control(tmp_path, ADD=action)
    done = call(bindir / RECORD, "ADD", request(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == outcome


def test_record_error_with_exit_status_0(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path, ADD={"error": {"code": 11, "msg": "odd"}, "exitCode": 0})
    done = call(bindir / RECORD, "ADD", request(tmp_path))
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0", "code": 11, "msg": "odd"}


def test_record_stderr_with_a_normal_answer(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path, DEL={"stderr": "a warning"})
    done = call(bindir / RECORD, "DEL", request(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"a warning")


def test_record_signal(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path, ADD={"signal": 9})
    done = call(bindir / RECORD, "ADD", request(tmp_path))
    assert (done.returncode, done.stdout) == (-signal.SIGKILL, b"")
    assert [e["command"] for e in read_log(tmp_path / "log")] == ["ADD"]


def test_record_sleep(bindir: Path, tmp_path: Path) -> None:
    control(tmp_path, ADD={"sleep": 0.5})
    start = time.monotonic()
    done = call(bindir / RECORD, "ADD", request(tmp_path))
    assert time.monotonic() - start >= 0.5
    assert json.loads(done.stdout)["cniVersion"] == "1.1.0"


def test_record_version_from_control(bindir: Path, tmp_path: Path) -> None:
    # VERSION reads no request: the control file comes from the environment only.
    ctl = control(tmp_path, supportedVersions=["1.0.0"], VERSION={"stdout": "garbage"})
    done = call(bindir / RECORD, "VERSION", None, **{CONTROL_ENV: str(ctl)})
    assert done.stdout == b"garbage"
    assert read_log(tmp_path / "log")[0]["stdin"] is None
    done = call(bindir / RECORD, "ADD", request(tmp_path, "1.1.0"))
    assert json.loads(done.stdout)["code"] == 1  # 1.1.0 is not supported
    done = call(bindir / RECORD, "ADD", request(tmp_path, "1.0.0"))
    assert done.returncode == 0


def test_record_version_does_not_read_stdin(bindir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env["CNI_COMMAND"] = "VERSION"
    with subprocess.Popen([str(bindir / RECORD)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            status = proc.wait(timeout=60)
        finally:
            proc.stdin.close()
        assert status == 0
        assert json.loads(proc.stdout.read())["cniVersion"] == "1.1.0"


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"supportedVersions": []}', '{"ADD": {"bogus": 1}}', '{"log": 3}',
     '{"add": {}}', '{"ADD": {"sleep": "long"}}', '{"DEL": {"exitCode": true}}',
     '{"*": {"error": "broken"}}'],
)
def test_record_bad_control_file(bindir: Path, tmp_path: Path, content: str) -> None:
    (tmp_path / "control.json").write_text(content)
    done = call(bindir / RECORD, "ADD", request(tmp_path))
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["code"] == 7
    assert error["msg"].startswith(f"control file {tmp_path / 'control.json'}: ")


# --- cnilib-test-sleep ----------------------------------------------------------------------


def test_sleep_sleeps_then_passes_through(bindir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    conf = {"cniVersion": "1.0.0", "name": "n", "type": SLEEP, "sleepSeconds": 0.5,
            "pidFile": str(pid_file), "prevResult": PREV}
    start = time.monotonic()
    done = call(bindir / SLEEP, "ADD", conf)
    assert time.monotonic() - start >= 0.5
    assert (done.returncode, json.loads(done.stdout)) == (0, PREV)
    assert len(pid_file.read_text().split()) == 1
    done = call(bindir / SLEEP, "STATUS", {**conf, "cniVersion": "1.1.0", "sleepSeconds": 0},
                CNI_CONTAINERID="", CNI_IFNAME="", CNI_NETNS="")
    assert (done.returncode, done.stdout) == (0, b"")


def test_sleep_refuses_a_bad_duration(bindir: Path) -> None:
    conf = {"cniVersion": "1.0.0", "name": "n", "type": SLEEP, "sleepSeconds": "long"}
    done = call(bindir / SLEEP, "DEL", conf)
    assert (done.returncode, json.loads(done.stdout)["code"]) == (1, 7)


# --- cnilib-test-debug ----------------------------------------------------------------------


def test_debug_logs_and_passes_prev_result(bindir: Path, tmp_path: Path) -> None:
    out = tmp_path / "debug.txt"
    conf = {"cniVersion": "0.4.0", "name": "n", "type": DEBUG, "cniOutput": str(out),
            "prevResult": PREV}
    done = call(bindir / DEBUG, "ADD", conf, CNI_ARGS="K=V")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["cniVersion"] == "0.4.0"
    assert result["ips"] == [{"version": "4", "address": "10.1.2.3/24", "interface": 0}]
    gc = {"cniVersion": "1.1.0", "name": "n", "type": DEBUG, "cniOutput": str(out)}
    done = call(bindir / DEBUG, "GC", gc, CNI_CONTAINERID="", CNI_IFNAME="", CNI_NETNS="")
    assert (done.returncode, done.stdout) == (0, b"")
    assert out.read_text() == (
        "CmdAdd\nContainerID: c1\nNetns: /var/run/netns/nope\nIfName: eth0\nArgs: K=V\n"
        f"Path: /nonexistent\nStdinData: {json.dumps(conf)}\n----------------------\n"
        "CmdGc\nContainerID: \nNetns: \nIfName: \nArgs: \n"
        f"Path: /nonexistent\nStdinData: {json.dumps(gc)}\n----------------------\n"
    )


def test_debug_without_prev_result_or_output(bindir: Path) -> None:
    done = call(bindir / DEBUG, "ADD", {"cniVersion": "1.0.0", "name": "n", "type": DEBUG})
    assert (done.returncode, json.loads(done.stdout)) == (0, {"cniVersion": "1.0.0"})
