"""The plugin side: cnilib.skel's pure dispatcher and its I/O shell.

SPEC.md "Execution Protocol" and "Result Types"; libcni's pkg/skel/skel.go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._json import JSONObject
from cnilib.errors import CNIError, ConfigError, ErrorCode, InvalidJSONError, ResultError
from cnilib.skel import CmdArgs, CNIFuncs, PluginOutput, dispatch, parse_netconf, same_netns
from cnilib.version import SUPPORTED_VERSIONS, PluginInfo, plugin_supports

ALL = plugin_supports(*SUPPORTED_VERSIONS)
BASE_ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/var/run/netns/c1",
    "CNI_IFNAME": "eth0",
    "CNI_ARGS": "K=V;A=B",
    "CNI_PATH": "/opt/cni/bin",
}


def conf(version: str | None = "1.1.0", **extra: Any) -> bytes:
    body: dict[str, Any] = {"name": "net1", "type": "x"}
    if version is not None:
        body["cniVersion"] = version
    body.update(extra)
    return json.dumps(body).encode()


def env(**changes: str | None) -> dict[str, str]:
    out = dict(BASE_ENV)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class Recorder:
    """Callbacks that remember what they were given."""

    def __init__(self, output: PluginOutput = None, error: BaseException | None = None) -> None:
        self.calls: list[tuple[str, CmdArgs]] = []
        self.output = output
        self.error = error

    def cb(self, verb: str) -> Any:
        def call(args: CmdArgs) -> PluginOutput:
            self.calls.append((verb, args))
            if self.error is not None:
                raise self.error
            return self.output

        return call

    def funcs(self) -> CNIFuncs:
        return CNIFuncs(add=self.cb("ADD"), check=self.cb("CHECK"), delete=self.cb("DEL"),
                        gc=self.cb("GC"), status=self.cb("STATUS"))


def error_of(out: bytes) -> dict[str, Any]:
    body = json.loads(out)
    assert isinstance(body, dict)
    return body


def run(
    environ: Mapping[str, str],
    stdin: bytes = b"",
    rec: Recorder | None = None,
    info: PluginInfo = ALL,
    about: str = "",
    **kw: Any,
) -> tuple[int, bytes, bytes]:
    funcs = (rec or Recorder()).funcs()
    return dispatch(environ, stdin, funcs, info, about, **kw)


# --- step 1: required variables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        ("ADD", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
        ("CHECK", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
        ("DEL", "CNI_CONTAINERID,CNI_IFNAME,CNI_PATH"),
        ("GC", "CNI_PATH"),
        ("STATUS", "CNI_PATH"),
    ],
)
def test_required_variables_listed_in_fixed_order(command: str, missing: str) -> None:
    code, out, err = run({"CNI_COMMAND": command}, conf())
    assert (code, err) == (1, b"")
    body = error_of(out)
    assert body["code"] == 4
    assert f"required env variables [{missing}] missing" == body["msg"]


@pytest.mark.parametrize("command", ["VERSION", "BOGUS"])
def test_version_and_unknown_verbs_need_only_the_command(command: str) -> None:
    code, out, _ = run({"CNI_COMMAND": command}, conf())
    if command == "VERSION":
        assert code == 0
    else:
        assert (code, error_of(out)["msg"]) == (1, "unknown CNI_COMMAND: BOGUS")


def test_empty_value_counts_as_missing() -> None:
    _, out, _ = run(env(CNI_IFNAME=""), conf())
    assert error_of(out)["msg"] == "required env variables [CNI_IFNAME] missing"


def test_netns_optional_for_del() -> None:
    rec = Recorder()
    code, _, _ = run(env(CNI_COMMAND="DEL", CNI_NETNS=None), conf(), rec)
    assert code == 0
    assert rec.calls[0][1].netns == ""


@pytest.mark.parametrize(
    ("changes", "code", "msg"),
    [
        ({"CNI_CONTAINERID": "a b"}, 4, "invalid characters in containerID"),
        ({"CNI_IFNAME": "x" * 16}, 4, "interface name is too long"),
        ({"CNI_IFNAME": "a/b"}, 4, "interface name contains / or : or whitespace characters"),
        ({"CNI_IFNAME": ".."}, 4, "interface name is . or .."),
    ],
)
def test_identifiers_are_validated(changes: dict[str, str], code: int, msg: str) -> None:
    rec = Recorder()
    _, out, _ = run(env(**changes), conf(), rec)
    body = error_of(out)
    assert (code, msg) == (body["code"], body["msg"])
    assert rec.calls == []


def test_validation_stops_at_first_bad_value_before_missing_list() -> None:
    # libcni validates while reading: the bad container ID wins over the missing ifname.
    _, out, _ = run(env(CNI_CONTAINERID="-x", CNI_IFNAME=None), conf())
    assert error_of(out)["msg"] == "invalid characters in containerID"


def test_identifiers_not_validated_where_not_required() -> None:
    rec = Recorder()
    code, _, _ = run(env(CNI_COMMAND="GC", CNI_CONTAINERID="a b", CNI_IFNAME="x/y"), conf(), rec)
    assert code == 0
    assert rec.calls[0][1].container_id == "a b"


# --- step 2: about -------------------------------------------------------------------------


def test_about_printed_without_command() -> None:
    code, out, err = run({}, b"", about="CNI plugin demo v1")
    assert (code, out) == (0, b"")
    expected = ("CNI plugin demo v1\nCNI protocol versions supported: "
                "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n")
    assert expected == err.decode()


def test_no_about_means_missing_command_error() -> None:
    code, out, _ = run({}, b"")
    assert code == 1
    assert error_of(out)["msg"] == "required env variables [CNI_COMMAND] missing"


# --- step 3: the request -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdin", "code", "msg_start"),
    [
        (b"{not json", 6, "error unmarshall network config:"),
        (b"[1, 2]", 6, "error unmarshall network config:"),
        (b'{"name": 5}', 6, "error unmarshall network config:"),
        (b'{"cniVersion": "1.0.0"}', 7, "missing network name"),
        (b'{"name": ""}', 7, "missing network name"),
        (b'{"name": "a/b"}', 7, "invalid characters found in network name"),
    ],
)
@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", "BOGUS"])
def test_request_decoded_and_named(stdin: bytes, code: int, msg_start: str, command: str) -> None:
    rec = Recorder()
    rc, out, _ = run(env(CNI_COMMAND=command), stdin, rec)
    body = error_of(out)
    assert (1, code) == (rc, body["code"])
    assert body["msg"].startswith(msg_start)
    assert rec.calls == []


def test_bad_network_name_details() -> None:
    _, out, _ = run(env(), b'{"name": "a b"}')
    assert error_of(out)["details"] == "a b"


# --- step 4: versions and dispatch ---------------------------------------------------------


def test_add_passes_every_parameter() -> None:
    rec = Recorder()
    stdin = conf()
    code, out, err = run(env(CNI_NETNS_OVERRIDE="1"), stdin, rec)
    assert (code, out, err) == (0, b"", b"")
    expected = CmdArgs(container_id="c1", netns="/var/run/netns/c1", ifname="eth0",
                       args="K=V;A=B", path="/opt/cni/bin", netns_override="1", stdin_data=stdin)
    assert [("ADD", expected)] == rec.calls


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_incompatible_version(command: str) -> None:
    rec = Recorder()
    info = plugin_supports("0.3.1", "0.4.0")
    _, out, _ = run(env(CNI_COMMAND=command), conf("1.0.0"), rec, info)
    body = error_of(out)
    assert body["code"] == 1
    assert body["msg"] == "incompatible CNI versions"
    assert body["details"] == 'config is "1.0.0", plugin supports ["0.3.1" "0.4.0"]'
    assert body["cniVersion"] == "1.0.0"
    assert rec.calls == []


def test_missing_version_means_010() -> None:
    _, out, _ = run(env(), conf(None), info=plugin_supports("1.0.0"))
    assert error_of(out)["details"] == 'config is "0.1.0", plugin supports ["1.0.0"]'
    code, _, _ = run(env(), conf(None), info=plugin_supports("0.1.0"))
    assert code == 0


def test_supported_means_exact_string() -> None:
    # "1.0" equals 1.0.0 numerically but is not supported (libcni pkg/version).
    _, out, _ = run(env(), conf("1.0"))
    assert error_of(out)["code"] == 1


def test_non_string_version_is_decoding_failure() -> None:
    _, out, _ = run(env(), conf(None, cniVersion=1))
    assert error_of(out)["code"] == 6


@pytest.mark.parametrize(
    ("command", "minimum"), [("CHECK", "0.4.0"), ("GC", "1.1.0"), ("STATUS", "1.1.0")]
)
def test_verb_gates(command: str, minimum: str) -> None:
    rec = Recorder()
    below = {"0.4.0": "0.3.1", "1.1.0": "1.0.0"}[minimum]
    _, out, _ = run(env(CNI_COMMAND=command), conf(below), rec)
    assert (1, f"config version does not allow {command}") == (
        error_of(out)["code"], error_of(out)["msg"])
    _, out, _ = run(env(CNI_COMMAND=command), conf(minimum), rec,
                    plugin_supports("0.1.0", "0.3.1"))
    assert (1, f"plugin version does not allow {command}") == (
        error_of(out)["code"], error_of(out)["msg"])
    _, out, _ = run(env(CNI_COMMAND=command), conf("x.y"), rec)
    assert error_of(out)["code"] == 6
    assert rec.calls == []
    code, _, _ = run(env(CNI_COMMAND=command), conf(minimum), rec)
    assert code == 0
    assert [command] == [verb for verb, _ in rec.calls]


def test_check_gate_then_exact_match() -> None:
    # A plugin version >= the config's opens the gate, but the match must still be exact.
    _, out, _ = run(env(CNI_COMMAND="CHECK"), conf("0.4.0"), info=plugin_supports("1.0.0"))
    assert error_of(out)["msg"] == "incompatible CNI versions"


def test_gc_and_status_get_empty_attachment_fields() -> None:
    rec = Recorder()
    code, _, _ = run({"CNI_COMMAND": "STATUS", "CNI_PATH": "/bin"}, conf(), rec)
    assert code == 0
    assert CmdArgs(path="/bin", stdin_data=conf()) == rec.calls[0][1]


def test_version_reply() -> None:
    code, out, err = run({"CNI_COMMAND": "VERSION"}, b"",
                         info=plugin_supports("0.4.0", "1.0.0"))
    assert (code, err) == (0, b"")
    assert json.loads(out) == {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0"]}


@pytest.mark.parametrize("stdin", [b"", b"garbage", b"[]", b'{"cniVersion": 3}',
                                   b'{"cniVersion": "0.4.0"}'])
def test_version_reply_ignores_stdin(stdin: bytes) -> None:
    # VERSION never reads the request (libcni's skel neither): the reply is the plugin's own.
    code, out, _ = run({"CNI_COMMAND": "VERSION"}, stdin)
    assert code == 0
    assert {"cniVersion": "1.1.0", "supportedVersions": list(SUPPORTED_VERSIONS)} == \
        json.loads(out)


# --- callbacks -----------------------------------------------------------------------------


def test_missing_callback_is_a_silent_success() -> None:
    for command in ("ADD", "DEL", "CHECK", "GC", "STATUS"):
        assert dispatch(env(CNI_COMMAND=command), conf(), CNIFuncs(), ALL) == (0, b"", b"")


def test_cni_error_keeps_its_code() -> None:
    rec = Recorder(error=CNIError("not ready", code=50, details="daemon down"))
    code, out, _ = run({"CNI_COMMAND": "STATUS", "CNI_PATH": "/bin"}, conf(), rec)
    assert code == 1
    assert error_of(out) == \
        {"cniVersion": "1.1.0", "code": 50, "msg": "not ready", "details": "daemon down"}


def test_other_exception_is_internal_error() -> None:
    rec = Recorder(error=KeyError("boom"))
    code, out, _ = run(env(), conf("1.0.0"), rec)
    assert code == 1
    assert error_of(out) == {"cniVersion": "1.0.0", "code": 999, "msg": "'boom'"}


def test_keyboard_interrupt_is_not_swallowed() -> None:
    rec = Recorder(error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(env(), conf(), rec)


def test_dict_output_written_as_is() -> None:
    result: JSONObject = {"cniVersion": "0.4.0", "ips": []}
    code, out, _ = run(env(), conf("1.0.0"), Recorder(output=result))
    assert code == 0
    assert result == json.loads(out)


def test_unencodable_output_is_internal_error() -> None:
    code, out, _ = run(env(), conf(), Recorder(output={"x": float("nan")}))
    assert (code, error_of(out)["code"]) == (1, 999)


class FakeResult:
    """A result object as cnilib.types gives: versioned, convertible, printable."""

    def __init__(self, version: str) -> None:
        self.cni_version = version

    def as_version(self, version: str) -> FakeResult:
        if version.startswith("0.1"):
            raise CNIError("cannot convert", code=1)
        return FakeResult(version)

    def to_json(self) -> str:
        return json.dumps({"cniVersion": self.cni_version})


def test_result_object_converted_to_request_version() -> None:
    code, out, _ = run(env(), conf("0.4.0"), Recorder(output=FakeResult("1.1.0")))
    assert (code, json.loads(out)) == (0, {"cniVersion": "0.4.0"})


def test_failed_conversion_is_an_error() -> None:
    code, out, _ = run(env(), conf("0.1.0"), Recorder(output=FakeResult("1.1.0")))
    assert (code, error_of(out)["code"], error_of(out)["msg"]) == (1, 1, "cannot convert")


# --- the namespace check -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK"])
def test_own_netns_refused_before_callback(command: str) -> None:
    rec = Recorder()
    _, out, _ = run(env(CNI_COMMAND=command), conf(), rec, same_netns=lambda _p: True)
    body = error_of(out)
    expected = (8, "plugin's netns and netns from CNI_NETNS should not be the same")
    assert expected == (body["code"], body["msg"])
    assert rec.calls == []


@pytest.mark.parametrize("override", ["1", "true", "TRUE", "True"])
def test_netns_override(override: str) -> None:
    rec = Recorder()
    code, _, _ = run(env(CNI_NETNS_OVERRIDE=override), conf(), rec, same_netns=lambda _p: True)
    assert code == 0
    assert len(rec.calls) == 1


def test_netns_check_given_the_path() -> None:
    seen: list[str] = []

    def check(path: str) -> bool:
        seen.append(path)
        return False

    assert run(env(), conf(), same_netns=check)[0] == 0
    assert seen == ["/var/run/netns/c1"]


def test_broken_netns_checker_is_internal_error() -> None:
    def broken(_path: str) -> bool:
        raise OSError("no /proc")

    rec = Recorder()
    code, out, _ = run(env(), conf(), rec, same_netns=broken)
    assert (code, error_of(out)["code"]) == (1, 999)
    assert rec.calls == []


def test_same_netns(tmp_path: Path) -> None:
    assert same_netns("/proc/self/ns/net")
    assert not same_netns(str(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    assert not same_netns(str(tmp_path / "file"))


# --- properties ----------------------------------------------------------------------------

_names = st.sampled_from(["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME",
                          "CNI_ARGS", "CNI_PATH", "CNI_NETNS_OVERRIDE", "OTHER"])
_commands = st.sampled_from(["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "", "add"])


@given(
    command=_commands,
    extra=st.dictionaries(_names, st.text(max_size=20), max_size=7),
    stdin=st.one_of(st.binary(max_size=60),
                    st.builds(conf, st.sampled_from([None, "", "0.3.1", "1.0.0", "1.1.0", "z"]))),
)
def test_every_outcome_is_success_or_error_object(
    command: str, extra: dict[str, str], stdin: bytes
) -> None:
    """A plugin must exit with a return code of 0 on success, and non-zero on failure.

    If the plugin encounters an error, it should output an "error" result structure
    (SPEC.md, section "Errors"): whatever the environment and stdin, dispatch answers with exit 0,
    or with exit 1 and an error object carrying an integer ``code`` and a ``msg``.
    """
    environ = {**extra, "CNI_COMMAND": command}
    code, out, _ = run(environ, stdin, Recorder(output={"cniVersion": "1.1.0"}))
    assert code in (0, 1)
    if code == 1:
        body = error_of(out)
        assert isinstance(body["code"], int)
        assert isinstance(body["msg"], str)
        assert isinstance(body["cniVersion"], str)


@given(st.sampled_from(["ADD", "DEL", "CHECK", "GC", "STATUS"]),
       st.sampled_from(list(SUPPORTED_VERSIONS)))
def test_callback_runs_only_when_versions_allow(command: str, version: str) -> None:
    """spec-v0.4.0: "Introduce the CHECK command and passing prevResult on DEL".

    (SPEC "Released versions"; GC and STATUS arrived with 1.1.0, SPEC.md, Section 2: Execution
    Protocol.) The callback runs exactly when the verb exists at the config's version.
    """
    rec = Recorder()
    code, _, _ = run(env(CNI_COMMAND=command), conf(version), rec)
    minimum = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}.get(command, "0.1.0")
    allowed = SUPPORTED_VERSIONS.index(version) >= SUPPORTED_VERSIONS.index(minimum)
    assert (0 if allowed else 1) == code
    assert allowed == bool(rec.calls)


# --- parse_netconf -------------------------------------------------------------------------


def test_parse_netconf_fields() -> None:
    nc = parse_netconf(conf("1.0.0", runtimeConfig={"mac": "00:11:22:33:44:55"}, extra=1))
    assert (nc.cni_version, nc.name, nc.type, nc.prev_result) == ("1.0.0", "net1", "x", None)
    assert nc.runtime_config == {"mac": "00:11:22:33:44:55"}
    assert nc.raw["extra"] == 1
    assert parse_netconf(b'{"name": "n"}').cni_version == "0.1.0"


@pytest.mark.parametrize(
    ("stdin", "error"),
    [
        (b"{", InvalidJSONError),
        (b"[]", ConfigError),
        (b'{"name": 1}', ConfigError),
        (b'{"cniVersion": null}', ConfigError),
        (b'{"runtimeConfig": []}', ConfigError),
        (b'{"cniVersion": "1.0.0", "prevResult": {"cniVersion": "1.0.0", "ips": 5}}',
         ResultError),
        (b'{"cniVersion": "1.0.0", "prevResult": []}', ResultError),
    ],
)
def test_parse_netconf_errors_are_typed(stdin: bytes, error: type[CNIError]) -> None:
    with pytest.raises(error):
        parse_netconf(stdin)


def test_parse_netconf_prev_result() -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
            "ips": [{"address": "10.0.0.2/24", "interface": 0}]}
    nc = parse_netconf(conf("1.0.0", prevResult=prev))
    assert nc.prev_result is not None
    assert nc.prev_result.cni_version == "1.0.0"
    assert prev == json.loads(nc.prev_result.to_json())


def test_parse_netconf_prev_result_assumes_request_version() -> None:
    prev = {"ips": [{"address": "10.0.0.2/24", "version": "4"}]}
    nc = parse_netconf(conf("0.4.0", prevResult=prev))
    assert nc.prev_result is not None
    assert nc.prev_result.cni_version == "0.4.0"


# --- plugin_main, as a real process --------------------------------------------------------

_PLUGIN = textwrap.dedent(
    """
    from cnilib.errors import CNIError
    from cnilib.skel import CNIFuncs, plugin_main
    from cnilib.version import plugin_supports

    def add(args):
        return {"cniVersion": "1.0.0", "seen": args.stdin_data.decode()}

    def delete(args):
        raise CNIError("cannot", code=11, details="later")

    plugin_main(CNIFuncs(add=add, delete=delete), plugin_supports("1.0.0"), "CNI plugin demo")
    """
)


def _main(environ: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    full.update(environ)
    return subprocess.run([sys.executable, "-c", _PLUGIN], input=stdin, env=full,
                          capture_output=True, timeout=60, check=False)


def test_plugin_main_success() -> None:
    stdin = conf("1.0.0")
    done = _main(env(CNI_NETNS="/nonexistent/ns"), stdin)
    assert (done.returncode, done.stderr) == (0, b"")
    assert {"cniVersion": "1.0.0", "seen": stdin.decode()} == json.loads(done.stdout)


def test_plugin_main_error_exits_1() -> None:
    done = _main(env(CNI_COMMAND="DEL"), conf("1.0.0"))
    assert done.returncode == 1
    assert json.loads(done.stdout) == \
        {"cniVersion": "1.0.0", "code": 11, "msg": "cannot", "details": "later"}


def test_plugin_main_about_does_not_read_stdin() -> None:
    # stdin is inherited and never closed: the plugin must answer without reading it.
    full = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    with subprocess.Popen([sys.executable, "-c", _PLUGIN], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdin is not None
        assert proc.wait(timeout=60) == 0
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.stdin.close()
    assert out == b""
    assert err.startswith(b"CNI plugin demo\nCNI protocol versions supported: 1.0.0\n")


def test_plugin_main_version_does_not_read_stdin() -> None:
    # As Go's skel: run by hand with CNI_COMMAND=VERSION, the plugin answers at once, although
    # its stdin is a pipe that is never written to nor closed.
    full = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    full["CNI_COMMAND"] = "VERSION"
    with subprocess.Popen([sys.executable, "-c", _PLUGIN], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full) as proc:
        assert proc.stdout is not None
        assert proc.stdin is not None
        try:
            status = proc.wait(timeout=60)
        finally:
            proc.stdin.close()
        out = proc.stdout.read()
    assert status == 0
    assert json.loads(out) == {"cniVersion": "1.1.0", "supportedVersions": ["1.0.0"]}


def test_plugin_main_exits_quietly_when_the_runtime_stops_reading() -> None:
    """A runtime that closes the plugin's stdout (cnilib's executors cap the output) gets the
    plugin's own exit code, and no traceback on stderr."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    full.update(env())
    # The reply echoes its request: 1 MiB, more than a pipe holds.
    stdin = conf("1.0.0", pad="x" * (1 << 20))
    with subprocess.Popen([sys.executable, "-c", _PLUGIN], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()  # before the plugin can write anything
        proc.stdin.write(stdin)
        proc.stdin.close()
        status = proc.wait(timeout=60)
        err = proc.stderr.read()
    assert (status, err) == (0, b"")


def test_plugin_main_refuses_own_netns() -> None:
    done = _main(env(CNI_NETNS="/proc/self/ns/net"), conf("1.0.0"))
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == ErrorCode.INVALID_NETNS
