"""The ``cnilib`` command line: cnitool's verbs and environment, ``validate`` and ``version``.

The verbs run real plugin processes (the recorder test plugin, on cnilib.skel) with a scratch
cache; no namespace is needed because the recorder does not touch the network.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

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
    # Named explicitly: under tox cnilib is the installed wheel, which has no examples/ beside
    # it (the default of ``validate`` is the checkout's examples/).
    status, out, _ = cli("validate", str(EXAMPLES))
    assert status == 0
    assert "network 'cnilib-demo'" in out
    assert out.rstrip().endswith("4 loaded, 0 failed")


def test_validate_reports_located_errors(tmp_path: Path) -> None:
    bad = tmp_path / "10-bad.conflist"
    bad.write_text('{"cniVersion": "1.0.0", "name": "n",\n "plugins": [{"type": "../x"}]}')
    status, out, _ = cli("validate", str(tmp_path), "--json")
    assert status == 1
    (entry,) = json.loads(out)
    assert entry["ok"] is False
    assert any(f"{bad}:2:" in p and "/plugins/0/type" in p for p in entry["problems"])


def test_usage_error_is_status_2() -> None:
    status, _, _ = cli("frobnicate")
    assert status == 2


def test_unknown_plugin_version_fails_cleanly(tmp_path: Path) -> None:
    status, _, err = cli("version", "nope", environ={"CNI_PATH": str(tmp_path)})
    assert status == 1
    assert err.startswith("cnilib version: ")
    assert '"nope"' in err


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
