"""Delegation from a plugin to another (cnilib.skel.delegate_*): the environment rules of libcni's
delegates, the result in the request's version, typed errors; through a fake executor, then
through real processes (a skel plugin delegating to cnilib-test-record)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib import skel
from cnilib._json import JSONObject
from cnilib.errors import (
    InvalidJSONError,
    InvalidPluginNameError,
    PluginError,
    PluginNotFoundError,
    PluginOutputError,
)
from cnilib.protocol import Command, Completed, Invocation
from cnilib.testing import (
    CONTROL_ENV,
    RECORD,
    FakeExecutor,
    error_reply,
    install_plugin,
    make_result,
    read_log,
    success,
    write_control,
)
from cnilib.types import Result040, Result100

CALLER_ENV = {"CNI_COMMAND": "CHECK", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x",
              "CNI_IFNAME": "eth0", "CNI_ARGS": "K=V", "CNI_PATH": "/opt/a:/opt/b"}
REQUEST: JSONObject = {"cniVersion": "1.0.0", "name": "net", "type": "outer",
           "ipam": {"type": "my-ipam", "subnet": "10.0.0.0/24"}}


@pytest.fixture
def caller_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the calling plugin."""
    for key in list(os.environ):
        if key.startswith("CNI_"):
            monkeypatch.delenv(key)
    for key, value in CALLER_ENV.items():
        monkeypatch.setenv(key, value)
    return CALLER_ENV


def test_the_helpers_are_loaded_on_first_use() -> None:
    code = ("import sys, cnilib.skel as s\n"
            "assert 'cnilib._exec.delegate' not in sys.modules\n"
            "assert 'cnilib.invoke' not in sys.modules\n"
            "f = s.delegate_add\n"
            "assert 'cnilib._exec.delegate' in sys.modules and s.delegate_add is f\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="delegate_nothing"):
        getattr(skel, "delegate_nothing")  # noqa: B009 (the lazy __getattr__ itself)


@pytest.mark.parametrize(
    ("helper", "command"),
    [(skel.delegate_check, Command.CHECK), (skel.delegate_del, Command.DEL),
     (skel.delegate_gc, Command.GC), (skel.delegate_status, Command.STATUS)],
)
def test_environment_is_inherited_with_the_verb_overridden(
    caller_env: dict[str, str], helper: Any, command: Command
) -> None:
    fake = FakeExecutor()
    stdin = json.dumps(REQUEST).encode()
    assert helper("my-ipam", stdin, executor=fake, timeout=5) is None
    (inv,) = fake.invocations
    assert inv.path == "/opt/a/my-ipam"  # found on CNI_PATH
    assert (inv.command, inv.stdin, inv.timeout) == (command, stdin, 5)
    assert inv.env == {**caller_env, "CNI_COMMAND": str(command)}
    assert os.environ["CNI_COMMAND"] == "CHECK"  # the caller's own environment is unchanged


_values = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1,
                  max_size=20)
_HELPERS = {"ADD": skel.delegate_add, "CHECK": skel.delegate_check, "DEL": skel.delegate_del,
            "GC": skel.delegate_gc, "STATUS": skel.delegate_status}


@given(
    caller=st.dictionaries(st.sampled_from(["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
                                            "CNI_IFNAME", "CNI_ARGS", "CNI_NETNS_OVERRIDE"]),
                           _values),
    other=_values,
    verb=st.sampled_from(sorted(_HELPERS)),
)
def test_delegate_environment_law(caller: dict[str, str], other: str, verb: str) -> None:
    """Whatever the caller's environment, the delegate gets its CNI_* variables with only
    CNI_COMMAND replaced by the verb, and the caller's own environment stays as it was."""
    before = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env = {**before, **caller, "CNI_PATH": "/opt/cni", "OTHER_VARIABLE": other}
    fake = FakeExecutor()
    with mock.patch.dict(os.environ, env, clear=True):
        _HELPERS[verb]("my-ipam", REQUEST, executor=fake)
        assert dict(os.environ) == env
    (inv,) = fake.invocations
    assert inv.env == {**caller, "CNI_PATH": "/opt/cni", "CNI_COMMAND": verb}


def test_add_returns_the_result_in_the_request_version(caller_env: dict[str, str]) -> None:
    fake = FakeExecutor(lambda inv: make_result("0.4.0", address="10.0.0.5/24"))
    result = skel.delegate_add("my-ipam", REQUEST, executor=fake)
    assert isinstance(result, Result100)
    assert result.cni_version == "1.0.0"
    assert [str(ip.address) for ip in result.ips] == ["10.0.0.5/24"]
    (inv,) = fake.invocations
    assert inv.env["CNI_COMMAND"] == "ADD"
    assert json.loads(inv.stdin) == REQUEST


def test_add_reads_a_result_without_version_in_the_request_version(
    caller_env: dict[str, str]
) -> None:
    body: JSONObject = {"ips": [{"version": "4", "address": "10.0.0.6/24"}]}
    fake = FakeExecutor(lambda inv: body)
    result = skel.delegate_add("my-ipam", {**REQUEST, "cniVersion": "0.4.0"}, executor=fake)
    assert isinstance(result, Result040)
    assert result.cni_version == "0.4.0"


def test_add_result_that_cannot_be_expressed(caller_env: dict[str, str]) -> None:
    # A result without addresses has no 0.2.0 form (ip4 or ip6 is required).
    fake = FakeExecutor(lambda inv: {"cniVersion": "1.0.0", "interfaces": [{"name": "x"}]})
    with pytest.raises(PluginOutputError) as info:
        skel.delegate_add("my-ipam", {**REQUEST, "cniVersion": "0.2.0"}, executor=fake)
    assert (info.value.plugin, info.value.command) == ("my-ipam", "ADD")


def test_delegate_error_keeps_its_code(caller_env: dict[str, str]) -> None:
    fake = FakeExecutor(lambda inv: error_reply(11, "no addresses", "pool full"))
    with pytest.raises(PluginError) as info:
        skel.delegate_add("my-ipam", REQUEST, executor=fake)
    err = info.value
    assert (err.code, err.msg, err.details) == (11, "no addresses", "pool full")
    assert (err.plugin, err.command, err.exit_status) == ("my-ipam", "ADD", 1)
    with pytest.raises(PluginError) as info:
        skel.delegate_status("my-ipam", REQUEST, executor=FakeExecutor(
            lambda inv: error_reply(50, "not ready")))
    assert info.value.code == 50


def test_add_output_that_is_not_a_result(caller_env: dict[str, str]) -> None:
    def garbage(inv: Invocation) -> Completed:
        return success(None) if inv.command is Command.DEL else Completed(0, b"nope", b"", 0.1)

    with pytest.raises(PluginOutputError):
        skel.delegate_add("my-ipam", REQUEST, executor=FakeExecutor(garbage))


@pytest.mark.parametrize("cni_path", ["", "relative/dir"])
def test_not_found_on_cni_path(monkeypatch: pytest.MonkeyPatch, cni_path: str) -> None:
    monkeypatch.setenv("CNI_PATH", cni_path)
    with pytest.raises(PluginNotFoundError):
        skel.delegate_del("host-local", REQUEST)


def test_bad_requests_and_names(caller_env: dict[str, str]) -> None:
    with pytest.raises(InvalidJSONError):
        skel.delegate_add("my-ipam", b"{", executor=FakeExecutor())
    with pytest.raises(InvalidPluginNameError):
        skel.delegate_del("../my-ipam", REQUEST, executor=FakeExecutor())


# --- real processes: a skel plugin delegating to cnilib-test-record ---------------------------

_OUTER = textwrap.dedent(
    """
    from cnilib.skel import CNIFuncs, delegate_add, delegate_del, parse_netconf, plugin_main
    from cnilib.version import plugin_supports

    def add(args):
        ipam = parse_netconf(args.stdin_data).raw["ipam"]["type"]
        return delegate_add(ipam, args.stdin_data)

    def delete(args):
        delegate_del(parse_netconf(args.stdin_data).raw["ipam"]["type"], args.stdin_data)

    plugin_main(CNIFuncs(add=add, delete=delete), plugin_supports("1.0.0"), "outer")
    """
)


def test_skel_plugin_delegates_to_a_process(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    script = tmp_path / "outer.py"
    script.write_text(_OUTER)
    outer = install_plugin(bindir, script)
    control = write_control(tmp_path / "control.json", {
        "log": str(tmp_path / "log"),
        "ADD": {"result": {"ips": [{"address": "10.0.0.9/24"}]}, "stderr": "ipam says hello"},
        "DEL": {"error": {"code": 11, "msg": "busy"}, "stderr": "ipam is busy"},
    })
    install_plugin(bindir, RECORD, name="my-ipam", environ={CONTROL_ENV: str(control)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({**CALLER_ENV, "CNI_COMMAND": "ADD", "CNI_PATH": f"/nonexistent:{bindir}",
                "TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    stdin = json.dumps({**REQUEST, "type": "outer"}).encode()

    added = subprocess.run([str(outer)], input=stdin, env=env, capture_output=True,
                           timeout=60, check=False)
    deleted = subprocess.run([str(outer)], input=stdin, env={**env, "CNI_COMMAND": "DEL"},
                             capture_output=True, timeout=60, check=False)

    assert added.returncode == 0, added.stdout
    # The delegate's stderr reaches the caller's, on success and on failure alike.
    assert (added.stderr, deleted.stderr) == (b"ipam says hello", b"ipam is busy")
    assert json.loads(added.stdout) == {"cniVersion": "1.0.0",
                                        "ips": [{"address": "10.0.0.9/24"}]}
    # The delegate's error reaches the runtime with its own code.
    assert deleted.returncode == 1
    assert json.loads(deleted.stdout) == {"cniVersion": "1.0.0", "code": 11, "msg": "busy"}
    log = read_log(tmp_path / "log")
    assert [(e["plugin"], e["command"]) for e in log] == [("my-ipam", "ADD"), ("my-ipam", "DEL")]
    for entry, verb in zip(log, ("ADD", "DEL"), strict=True):
        assert entry["env"] == {**CALLER_ENV, "CNI_COMMAND": verb,
                                "CNI_PATH": f"/nonexistent:{bindir}",
                                "TRACEPARENT": env["TRACEPARENT"]}
        assert entry["stdin"] == json.loads(stdin)


_OUTER_SLEEPING = textwrap.dedent(
    """
    from cnilib.skel import CNIFuncs, delegate_add, plugin_main
    from cnilib.version import plugin_supports

    plugin_main(CNIFuncs(add=lambda args: delegate_add("cnilib-test-sleep", args.stdin_data)),
                plugin_supports("1.0.0"), "outer")
    """
)


def test_sigterm_to_the_caller_reaches_the_delegate(tmp_path: Path) -> None:
    # The runtime stops a plugin at its deadline with SIGTERM to its process group; the
    # delegate, in a group of its own, must not outlive it.
    bindir = tmp_path / "bin"
    script = tmp_path / "outer.py"
    script.write_text(_OUTER_SLEEPING)
    outer = install_plugin(bindir, script)
    install_plugin(bindir, "cnilib-test-sleep")
    pid_file = tmp_path / "pids"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({**CALLER_ENV, "CNI_COMMAND": "ADD", "CNI_PATH": str(bindir)})
    stdin = json.dumps({**REQUEST, "sleepSeconds": 120, "pidFile": str(pid_file)}).encode()
    sleeper: int | None = None
    try:
        with subprocess.Popen([str(outer)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env, start_new_session=True) as proc:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
            deadline = time.monotonic() + 60
            while not pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            (sleeper,) = [int(p) for p in pid_file.read_text().split()]
            assert os.getpgid(sleeper) != proc.pid  # its own group: killpg cannot reach it
            os.killpg(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=60) == -signal.SIGTERM
        assert not _alive(sleeper)
    finally:
        if sleeper is not None and _alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(") ", 1)[-1][0] != "Z"
    except FileNotFoundError:
        return False
