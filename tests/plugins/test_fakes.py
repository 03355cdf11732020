"""The test plugins themselves, run as real processes: they must do what their docs say."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins import MISBEHAVE, RECORDER, install_plugin, install_plugins, read_records

ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/nope", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/nonexistent"}


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    install_plugins(tmp_path / "bin")
    return tmp_path / "bin"


@pytest.fixture
def pidfile(tmp_path: Path) -> Iterator[Path]:
    """Where misbehave writes its grandchildren's pids; every one is killed afterwards."""
    path = tmp_path / "pids"
    yield path
    for pid in _pids(path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[-1][0] != "Z"


def call(
    plugin: Path, command: str, conf: dict[str, Any] | None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "CNILIB_"))}
    full.update(ENV)
    full.update(env)
    full["CNI_COMMAND"] = command
    stdin = b"" if conf is None else json.dumps(conf).encode()
    return subprocess.run([str(plugin)], input=stdin, env=full, capture_output=True,
                          timeout=60, check=False)


def base(tmp_path: Path, version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "testnet", "type": RECORDER,
            "recordFile": str(tmp_path / "calls.jsonl"), **extra}


def test_recorder_records_every_call(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / RECORDER, "ADD", base(tmp_path), CNI_ARGS="A=B")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/nope"}],
        "ips": [],
    }
    call(bindir / RECORDER, "DEL", base(tmp_path))
    records = read_records(tmp_path / "calls.jsonl")
    assert [r["command"] for r in records] == ["ADD", "DEL"]
    assert records[0]["env"] == {**ENV, "CNI_COMMAND": "ADD", "CNI_ARGS": "A=B"}
    assert records[0]["stdin"] == base(tmp_path)


def test_recorder_records_rejected_calls(bindir: Path, tmp_path: Path) -> None:
    # Recording happens before validation, so a call skel refuses is still seen.
    done = call(bindir / RECORDER, "ADD", base(tmp_path), CNI_CONTAINERID="bad id")
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == 4
    assert [r["command"] for r in read_records(tmp_path / "calls.jsonl")] == ["ADD"]


def test_recorder_echoes_prev_result(bindir: Path, tmp_path: Path) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
            "ips": [{"address": "10.1.2.3/24", "interface": 0}]}
    done = call(bindir / RECORDER, "ADD", base(tmp_path, "1.0.0", prevResult=prev))
    assert json.loads(done.stdout) == prev


def test_recorder_converts_prev_result_to_request_version(bindir: Path, tmp_path: Path) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
            "ips": [{"address": "10.1.2.3/24", "interface": 0}]}
    done = call(bindir / RECORDER, "ADD", base(tmp_path, "0.4.0", prevResult=prev))
    assert done.returncode == 0, done.stdout
    out = json.loads(done.stdout)
    assert out["cniVersion"] == "0.4.0"
    assert out["ips"] == [{"version": "4", "address": "10.1.2.3/24", "interface": 0}]


def test_recorder_configured_result(bindir: Path, tmp_path: Path) -> None:
    result = {"ips": [{"address": "10.9.9.9/32"}]}
    done = call(bindir / RECORDER, "ADD", base(tmp_path, result=result))
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0", **result}


@pytest.mark.parametrize("verb", ["ADD", "CHECK", "DEL", "GC", "STATUS"])
def test_recorder_fails_on_request(bindir: Path, tmp_path: Path, verb: str) -> None:
    conf = base(tmp_path, failOn=[verb], errorCode=117, errorMsg="nope", errorDetails="why")
    done = call(bindir / RECORDER, verb, conf)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0", "code": 117, "msg": "nope",
                                       "details": "why"}
    other = "DEL" if verb != "DEL" else "ADD"
    assert call(bindir / RECORDER, other, conf).returncode == 0


@pytest.mark.parametrize("code", [50, 51])
def test_recorder_status_codes(bindir: Path, tmp_path: Path, code: int) -> None:
    done = call(bindir / RECORDER, "STATUS", base(tmp_path, statusCode=code))
    assert (done.returncode, json.loads(done.stdout)["code"]) == (1, code)
    assert call(bindir / RECORDER, "STATUS", base(tmp_path)).returncode == 0


def test_recorder_gc_records_valid_attachments(bindir: Path, tmp_path: Path) -> None:
    valid = [{"containerID": "c1", "ifname": "eth0"}]
    done = call(bindir / RECORDER, "GC", {**base(tmp_path), "cni.dev/valid-attachments": valid},
                CNI_CONTAINERID="", CNI_IFNAME="", CNI_NETNS="")
    assert (done.returncode, done.stdout) == (0, b"")
    (record,) = read_records(tmp_path / "calls.jsonl")
    assert record["validAttachments"] == valid


def test_version_list_baked_by_installer(tmp_path: Path) -> None:
    plugin = install_plugin(tmp_path / "bin", "old", "recorder",
                            environ={"CNILIB_PLUGIN_VERSIONS": "0.3.1,0.4.0"})
    done = call(plugin, "VERSION", {"cniVersion": "1.1.0"})
    assert json.loads(done.stdout) == {"cniVersion": "1.1.0",
                                       "supportedVersions": ["0.3.1", "0.4.0"]}
    done = call(plugin, "ADD", base(tmp_path, "1.0.0"))
    assert json.loads(done.stdout)["code"] == 1


def test_launcher_refuses_unusable_interpreter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shebang"):
        install_plugin(tmp_path, "x", "recorder", python="/opt/my python/bin/python")


@pytest.mark.parametrize(
    ("mode", "returncode", "stdout"),
    [
        ("nonjson", 0, b"this is not JSON {"),
        ("null", 0, b"null"),
        ("empty", 0, b""),
        ("exit", 3, b""),
        ("stderr", 1, b""),
    ],
)
def test_misbehave_simple_modes(
    bindir: Path, tmp_path: Path, mode: str, returncode: int, stdout: bytes
) -> None:
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode=mode))
    assert (done.returncode, done.stdout) == (returncode, stdout)
    if mode == "stderr":
        assert done.stderr == b"something went wrong on stderr"


def test_misbehave_only_on_selected_verbs(bindir: Path, tmp_path: Path) -> None:
    conf = base(tmp_path, mode="nonjson", on=["DEL"])
    assert json.loads(call(bindir / MISBEHAVE, "ADD", conf).stdout)["cniVersion"] == "1.1.0"
    assert call(bindir / MISBEHAVE, "DEL", conf).stdout == b"this is not JSON {"
    assert len(read_records(tmp_path / "calls.jsonl")) == 2


def test_misbehave_mode_from_environment(tmp_path: Path) -> None:
    plugin = install_plugin(tmp_path / "bin", "badver", "misbehave",
                            environ={"CNILIB_MISBEHAVE_MODE": "nonjson",
                                     "CNILIB_MISBEHAVE_ON": "VERSION"})
    assert call(plugin, "VERSION", {"cniVersion": "1.1.0"}).stdout == b"this is not JSON {"
    assert call(plugin, "DEL", base(tmp_path)).returncode == 0


def test_misbehave_huge(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode="huge", size=3 * 1024 * 1024))
    assert done.returncode == 0
    assert len(done.stdout) == 3 * 1024 * 1024
    assert json.loads(done.stdout)["cniVersion"] == "1.1.0"


def test_misbehave_huge_default_is_64_mib(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode="huge"))
    assert len(done.stdout) == 64 * 1024 * 1024


def test_misbehave_sigkill(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode="sigkill"))
    assert (done.returncode, done.stdout) == (-signal.SIGKILL, b"")


def test_misbehave_error_with_exit_0(bindir: Path, tmp_path: Path) -> None:
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode="error-exit0", errorCode=11))
    assert done.returncode == 0
    assert json.loads(done.stdout)["code"] == 11


def test_misbehave_sleep_then_result(bindir: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    done = call(bindir / MISBEHAVE, "ADD", base(tmp_path, mode="sleep", seconds=0.5))
    assert time.monotonic() - start >= 0.5
    assert json.loads(done.stdout)["cniVersion"] == "1.1.0"


def test_misbehave_orphan_holds_stdout(bindir: Path, tmp_path: Path, pidfile: Path) -> None:
    conf = base(tmp_path, mode="orphan", seconds=30, pidFile=str(pidfile))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update(ENV, CNI_COMMAND="ADD")
    with subprocess.Popen([str(bindir / MISBEHAVE)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, env=env, start_new_session=True) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps(conf).encode())
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        (grandchild,) = _pids(pidfile)
        assert _alive(grandchild)
        assert os.getpgid(grandchild) == proc.pid  # killable with the plugin's group
        os.killpg(proc.pid, signal.SIGKILL)
        assert json.loads(proc.stdout.read()) == {"cniVersion": "1.1.0"}


def test_misbehave_hang_with_grandchild(bindir: Path, tmp_path: Path, pidfile: Path) -> None:
    conf = base(tmp_path, mode="hang", seconds=30, pidFile=str(pidfile))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update(ENV, CNI_COMMAND="DEL")
    with subprocess.Popen([str(bindir / MISBEHAVE)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, env=env, start_new_session=True) as proc:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(conf).encode())
        proc.stdin.close()
        deadline = time.monotonic() + 30
        while not _pids(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        (grandchild,) = _pids(pidfile)
        assert os.getpgid(grandchild) == proc.pid
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
