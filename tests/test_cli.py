"""The ``cnilib`` command line: cnitool's verbs and environment, ``validate`` and ``version``.

The verbs run real plugin processes (the recorder test plugin, on cnilib.skel) with a scratch
cache; no namespace is needed because the recorder does not touch the network.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from cnilib.cli import container_id_for, run
from cnilib.testing import RECORD, install_plugins, read_log, write_control

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the command line with its own streams."""
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), environ=environ or {}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("netns", "expected"),
    [("/var/run/netns/testing", "cnitool-77383ca0a0715733ca6f"),
     ("/var/run/netns/cnitest", "cnitool-20c433bb2b1d6ede56d6")],
)
def test_container_id_matches_cnitool(netns: str, expected: str) -> None:
    """The container ID is cnitool's, so both tools address one attachment."""
    assert expected == container_id_for(netns)


def test_validate_bundled_examples() -> None:
    # Named explicitly: validate never falls back to the bundled examples.
    status, out, _ = cli("validate", str(EXAMPLES))
    assert (status, out) == (0, "0 error(s), 0 warning(s)\n")


def test_validate_reports_located_errors(tmp_path: Path) -> None:
    bad = tmp_path / "10-bad.conflist"
    bad.write_text('{"cniVersion": "1.0.0", "name": "n",\n "plugins": [{"type": "../x"}]}')
    status, out, _ = cli("validate", str(tmp_path), "--json")
    assert status == 1
    problems = json.loads(out)
    assert {(p["file"], p["line"], p["pointer"], p["severity"]) for p in problems} == {
        (str(bad), 2, "/plugins/0/type", "error")}
    assert set(problems[0]) == {"file", "line", "column", "pointer", "severity", "rule",
                                "message"}


def test_usage_error_is_status_2() -> None:
    status, out, err = cli("frobnicate")
    assert (status, out) == (2, "")
    assert "invalid choice" in err
    assert "Traceback" not in err


def test_verbs_run_the_chain(tmp_path: Path) -> None:
    """add, check, del, status and gc, with CNI_ARGS, CAP_ARGS and CNI_IFNAME as cnitool reads
    them."""
    bin_dir = tmp_path / "bin"
    install_plugins(bin_dir)
    netdir = tmp_path / "net.d"
    netdir.mkdir()
    record = tmp_path / "calls.jsonl"
    control = write_control(tmp_path / "control.json", {"log": str(record)})
    (netdir / "10-clinet.conflist").write_text(json.dumps({
        "cniVersion": "1.1.0", "name": "clinet",
        "plugins": [{"type": RECORD, "controlFile": str(control),
                     "capabilities": {"portMappings": True}}],
    }))
    env = {"NETCONFPATH": str(netdir), "CNI_PATH": str(bin_dir), "CNI_IFNAME": "net1",
           "CNI_ARGS": "K8S_POD_NAME=web", "CAP_ARGS": '{"portMappings": [{"hostPort": 8080}]}'}
    common = ("clinet", "/var/run/netns/clitest", "--cache-dir", str(tmp_path / "cache"))
    status, out, err = cli("add", *common, environ=env)
    assert (status, err) == (0, "")
    assert json.loads(out)["cniVersion"] == "1.1.0"
    for verb in ("check", "status", "del", "gc"):
        assert cli(verb, *common, environ=env) == (0, "", ""), verb
    calls = read_log(record)
    assert [c["command"] for c in calls] == ["ADD", "CHECK", "STATUS", "DEL", "GC"]
    add = calls[0]
    assert add["env"]["CNI_CONTAINERID"] == container_id_for("/var/run/netns/clitest")
    assert add["env"]["CNI_IFNAME"] == "net1"
    assert add["env"]["CNI_ARGS"] == "K8S_POD_NAME=web"
    assert add["stdin"]["runtimeConfig"] == {"portMappings": [{"hostPort": 8080}]}


def test_verb_errors_go_to_stderr(tmp_path: Path) -> None:
    status, out, err = cli("add", "missing", "/var/run/netns/x",
                           environ={"NETCONFPATH": str(tmp_path)})
    assert (status, out) == (1, "")
    assert err.startswith("cnilib add: ")


def _network(tmp_path: Path, control: dict[str, Any] | None = None,
             **plugin: object) -> dict[str, str]:
    """A one-plugin network of the recording test plugin in a fresh NETCONFPATH, logging to
    ``tmp_path/calls.jsonl`` and doing what ``control`` says; returns the environment."""
    bin_dir = tmp_path / "bin"
    install_plugins(bin_dir)
    netdir = tmp_path / "net.d"
    netdir.mkdir()
    ctl = write_control(tmp_path / "control.json",
                        {"log": str(tmp_path / "calls.jsonl"), **(control or {})})
    (netdir / "10-clinet.conflist").write_text(json.dumps({
        "cniVersion": "1.1.0", "name": "clinet",
        "plugins": [{"type": RECORD, "controlFile": str(ctl), **plugin}],
    }))
    return {"NETCONFPATH": str(netdir), "CNI_PATH": str(bin_dir)}


def _failing(code: int, msg: str, details: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "msg": msg}
    if details:
        error["details"] = details
    return {"ADD": {"error": error}}


def test_plugin_error_is_one_line_with_its_code(tmp_path: Path) -> None:
    """The plugin's code, type and message, each once; the rollback's outcome after them."""
    env = _network(tmp_path, _failing(7, "bad bridge", "no such bridge"))
    status, out, err = cli("add", "clinet", "/var/run/netns/x", "--cache-dir",
                           str(tmp_path / "cache"), environ=env)
    assert (status, out) == (1, "")
    assert err == (f"cnilib add: [7] {RECORD}: bad bridge; no such bridge; "
                   f"rolled back {RECORD}\n")


def test_add_error_str_says_each_thing_once(tmp_path: Path) -> None:
    """str(AddError) names the plugin's details once, then what the rollback did."""
    from cnilib.api import CNIConfig
    from cnilib.config import load_conflist
    from cnilib.errors import AddError
    from cnilib.protocol import RuntimeConf

    env = _network(tmp_path, _failing(7, "bad bridge", "no such bridge"))
    cni = CNIConfig([env["CNI_PATH"]], cache_dir=str(tmp_path / "cache"))
    net = load_conflist(env["NETCONFPATH"], "clinet")
    with pytest.raises(AddError) as caught:
        cni.add_network_list(net, RuntimeConf("c1", "/var/run/netns/x", "eth0"))
    text = str(caught.value)
    assert text.count("no such bridge") == 1
    assert text.endswith(f"rolled back {RECORD}")


def test_json_prints_the_result_and_the_error_object(tmp_path: Path) -> None:
    env = _network(tmp_path)
    common = ("clinet", "/var/run/netns/x", "--cache-dir", str(tmp_path / "cache"), "--json")
    status, out, _ = cli("add", *common, environ=env)
    assert status == 0
    assert json.loads(out)["cniVersion"] == "1.1.0"
    assert "\n" not in out.rstrip("\n")
    assert cli("del", *common, environ=env) == (
        0, '{"network": "clinet", "command": "DEL", "ok": true}\n', "")
    failing = _network(tmp_path / "f", _failing(11, "later"))
    status, out, err = cli("add", *common, environ=failing)
    assert status == 1
    error = json.loads(out)
    assert error["code"] == 11
    assert error["msg"].endswith(f"later; rolled back {RECORD}")
    assert err.startswith("cnilib add: [11] ")


@pytest.mark.parametrize("verb", ["add", "check", "del"])
def test_dry_run_prints_every_invocation_and_runs_nothing(tmp_path: Path, verb: str) -> None:
    env = _network(tmp_path)
    cache = tmp_path / "cache"
    status, out, err = cli(verb, "clinet", "/var/run/netns/x", "--cache-dir", str(cache),
                           "--dry-run", "--json", environ=env)
    assert (status, err) == (0, "")
    (call,) = json.loads(out)
    assert call["command"] == verb.upper()
    assert call["path"] == str(Path(env["CNI_PATH"]) / RECORD)
    assert call["env"]["CNI_COMMAND"] == verb.upper()
    assert call["env"]["CNI_CONTAINERID"] == container_id_for("/var/run/netns/x")
    assert call["stdin"]["name"] == "clinet"
    assert not (tmp_path / "calls.jsonl").exists()  # the plugin never ran
    assert not cache.exists()  # and no cache was written


def test_dry_run_human_output_and_cached_prev_result(tmp_path: Path) -> None:
    """A dry-run DEL sends the cached ADD result, read from (not written to) the cache."""
    env = _network(tmp_path)
    common = ("clinet", "/var/run/netns/x", "--cache-dir", str(tmp_path / "cache"))
    assert cli("add", *common, environ=env)[0] == 0
    status, out, _ = cli("del", *common, "--dry-run", environ=env)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"# 1. DEL {RECORD}: {Path(env['CNI_PATH']) / RECORD}"
    assert "CNI_COMMAND=DEL" in lines
    assert json.loads(lines[-1])["prevResult"]["cniVersion"] == "1.1.0"
    assert [c["command"] for c in read_log(tmp_path / "calls.jsonl")] == ["ADD"]
    assert cli("check", *common, environ=env) == (0, "", "")  # the entry is still there


@pytest.mark.parametrize(
    ("environ", "needle"),
    [({"CNI_IFNAME": ""}, "CNI_IFNAME is set but empty"),
     ({"CNI_ARGS": "novalue"}, "CNI_ARGS"),
     ({"CNI_ARGS": "A=1;A=2;"}, "CNI_ARGS"),
     ({"CAP_ARGS": "{not json"}, "CAP_ARGS is not JSON"),
     ({"CAP_ARGS": "[1]"}, "CAP_ARGS must be a JSON object")],
)
def test_bad_environment_is_a_usage_error(tmp_path: Path, environ: dict[str, str],
                                          needle: str) -> None:
    env = {**_network(tmp_path), **environ}
    status, out, err = cli("add", "clinet", "/var/run/netns/x", environ=env)
    assert (status, out) == (2, "")
    assert err.startswith("cnilib add: ")
    assert needle in err
    assert err.count("\n") == 1
    assert not (tmp_path / "calls.jsonl").exists()


def test_unknown_network_is_one_line(tmp_path: Path) -> None:
    env = _network(tmp_path)
    status, out, err = cli("check", "nonet", "/var/run/netns/x", environ=env)
    assert (status, out) == (1, "")
    assert err == (f'cnilib check: [7] no net configuration with name "nonet" in '
                   f'{env["NETCONFPATH"]}\n')


@pytest.mark.parametrize("option", [["--ifname", "eth1"], ["-i", "eth1"],
                                    ["--container-id", "c1"]])
def test_gc_refuses_options_naming_one_attachment(tmp_path: Path, option: list[str]) -> None:
    env = _network(tmp_path)
    status, _, err = cli("gc", "clinet", *option, environ=env)
    assert status == 2
    assert "gc ignores the namespace" in err


def test_gc_help_says_it_ignores_the_namespace() -> None:
    status, out, _ = cli("gc", "--help")
    assert status == 0
    assert "ignores the namespace" in " ".join(out.split())


def test_help_lists_the_exit_codes_and_version() -> None:
    status, out, _ = cli("--help")
    assert status == 0
    assert "exit status:" in out
    assert all(f"  {code}  " in out for code in (0, 1, 2))
    status, out, _ = cli("--version")
    assert (status, out) == (0, "cnilib 0.1.0\n")


def test_list_shows_networks_versions_and_plugin_presence(tmp_path: Path) -> None:
    env = _network(tmp_path)
    (Path(env["NETCONFPATH"]) / "20-other.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "other",
        "plugins": [{"type": "nosuchplugin", "ipam": {"type": RECORD}}]}))
    status, out, _ = cli("list", "--json", environ=env)
    assert status == 1  # a plugin is missing
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["clinet"]["cniVersion"] == "1.1.0"
    assert rows["clinet"]["plugins"] == [{"type": RECORD, "present": True,
                                          "path": str(Path(env["CNI_PATH"]) / RECORD)}]
    assert [(p["type"], p["present"]) for p in rows["other"]["plugins"]] == [
        ("nosuchplugin", False), (RECORD, True)]
    status, out, _ = cli("list", environ=env)
    assert "nosuchplugin (missing)" in out


def test_version_network_against_debian_plugins(tmp_path: Path) -> None:
    """A 1.1.0 network over Debian's plugins (spec up to 1.0.0) is caught."""
    (tmp_path / "10-new.conflist").write_text(json.dumps({
        "cniVersion": "1.1.0", "name": "new",
        "plugins": [{"type": "bridge", "ipam": {"type": "host-local"}},
                    {"type": "portmap"}]}))
    env = {"NETCONFPATH": str(tmp_path), "CNI_PATH": "/usr/lib/cni"}
    status, out, _ = cli("version", "new", "--json", environ=env)
    assert status == 1
    rows = json.loads(out)
    assert [r["type"] for r in rows] == ["bridge", "host-local", "portmap"]
    assert all(r["ok"] is False and "1.0.0" in r["supportedVersions"] for r in rows)
    status, out, _ = cli("version", "new", "--plugin", "portmap", environ=env)
    assert status == 1
    assert out.startswith("portmap: supports ")
    assert "does NOT support 1.1.0" in out
    status, _, err = cli("version", "new", "--plugin", "tuning", environ=env)
    assert status == 1
    assert 'no plugin of type "tuning"' in err


def test_invalid_network_file_is_one_located_line(tmp_path: Path) -> None:
    netdir = tmp_path / "net.d"
    netdir.mkdir()
    bad = netdir / "10-bad.conflist"
    bad.write_text('{"cniVersion": "1.0.0", "name": "bad",\n "plugins": [{"type": "../x"},'
                   ' {"type": "a/b"}]}')
    status, out, err = cli("add", "bad", "/var/run/netns/x",
                           environ={"NETCONFPATH": str(netdir)})
    assert (status, out) == (1, "")
    assert err.startswith(f"cnilib add: [7] {bad}:2:")
    assert err.endswith("(and 1 more)\n")
    assert err.count("\n") == 1


def test_ifname_and_container_id_options_win(tmp_path: Path) -> None:
    env = {**_network(tmp_path), "CNI_IFNAME": "net9"}
    status, out, _ = cli("add", "clinet", "/var/run/netns/x", "--ifname", "net2",
                         "--container-id", "c-opt", "--dry-run", "--json", environ=env)
    assert status == 0
    (call,) = json.loads(out)
    assert (call["env"]["CNI_IFNAME"], call["env"]["CNI_CONTAINERID"]) == ("net2", "c-opt")


@pytest.mark.parametrize("argv", [
    ["add", "clinet", "/var/run/netns/x", "--timeout", "soon"],
    ["validate", ".", "--format", "xml"],
    ["add", "clinet"],
    ["version"],
    ["list", "extra"],
])
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    status, out, err = cli(*argv)
    assert (status, out) == (2, "")
    assert err.startswith("cnilib")
    assert err.count("\n") == 1
    assert "--help" in err


def test_list_reports_a_file_that_does_not_load(tmp_path: Path) -> None:
    env = _network(tmp_path)
    (Path(env["NETCONFPATH"]) / "30-broken.conflist").write_text("{")
    status, out, err = cli("list", environ=env)
    assert status == 1
    assert out.startswith("clinet\t1.1.0\t")
    assert err.startswith("cnilib list: ")
    assert "30-broken.conflist" in err
