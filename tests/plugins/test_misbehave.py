"""The misbehaving test plugin itself, run as a real process: it must do what its docs say."""

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

from cnilib.testing import read_log
from tests.plugins import MISBEHAVE, install_misbehave

ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/nope", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/nonexistent"}


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return install_misbehave(tmp_path / "bin")


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


def _env(command: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update(ENV, CNI_COMMAND=command)
    return env


def call(plugin: Path, command: str, conf: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(plugin)], input=json.dumps(conf).encode(), env=_env(command),
                          capture_output=True, timeout=60, check=False)


def base(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"cniVersion": "1.1.0", "name": "testnet", "type": MISBEHAVE,
            "recordFile": str(tmp_path / "calls.jsonl"), **extra}


def test_polite_on_other_verbs_and_logs(plugin: Path, tmp_path: Path) -> None:
    conf = base(tmp_path, mode="huge", size=1024, on=["DEL"])
    done = call(plugin, "ADD", conf)
    assert (done.returncode, json.loads(done.stdout)) == (0, {"cniVersion": "1.1.0"})
    assert len(call(plugin, "DEL", conf).stdout) == 1024
    log = read_log(tmp_path / "calls.jsonl")
    assert [(e["plugin"], e["command"]) for e in log] == [(MISBEHAVE, "ADD"), (MISBEHAVE, "DEL")]
    assert log[0]["stdin"] == conf


def test_huge_default_is_64_mib(plugin: Path, tmp_path: Path) -> None:
    done = call(plugin, "ADD", base(tmp_path, mode="huge"))
    assert done.returncode == 0
    assert len(done.stdout) == 64 * 1024 * 1024
    assert json.loads(done.stdout)["cniVersion"] == "1.1.0"


def test_hang_with_grandchild(plugin: Path, tmp_path: Path, pidfile: Path) -> None:
    conf = base(tmp_path, mode="hang", seconds=30, pidFile=str(pidfile))
    with subprocess.Popen([str(plugin)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          env=_env("DEL"), start_new_session=True) as proc:
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


def test_partial_kill(plugin: Path, tmp_path: Path) -> None:
    done = call(plugin, "ADD", base(tmp_path, mode="partial-kill", signal="SIGTERM"))
    assert done.returncode == -signal.SIGTERM
    assert done.stdout.startswith(b'{"cniVersion": "1.1.0"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(done.stdout)


def test_many_ips(plugin: Path, tmp_path: Path) -> None:
    done = call(plugin, "ADD", base(tmp_path, mode="many-ips", count=70000))
    assert done.returncode == 0
    ips = json.loads(done.stdout)["ips"]
    assert len(ips) == 70000
    assert len({ip["address"] for ip in ips}) == 70000
