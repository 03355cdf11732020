"""The pure core: request derivation, environment, trace context, reply meaning, plans.

Nothing here starts a process or touches a file: requests and replies are plain values, and the
plans are driven by hand (step in, outcome out), which is the point of the sans-IO core.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from cnilib._json import JSON, JSONObject, dumps, loads
from cnilib._plans import chains, steps
from cnilib._plans.replies import (
    check_reply,
    exit_text,
    parse_add_reply,
    parse_version_reply,
    reply_error,
)
from cnilib.config import conflist_from_bytes
from cnilib.errors import (
    AddError,
    CNIError,
    ErrorCode,
    InvalidIdentifierError,
    PluginError,
    PluginOutputError,
    PluginTimeoutError,
)
from cnilib.protocol import (
    VERSION_REQUEST,
    Command,
    Completed,
    GCAttachment,
    Invocation,
    RuntimeConf,
    build_request,
    check_trace_context,
    cni_env,
    runtime_config,
)
from cnilib.types import Result100

MAC = "00:11:22:33:44:66"
PORTS: list[JSON] = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _inv(command: Command = Command.ADD, plugin: str = "bridge") -> Invocation:
    return Invocation(plugin, f"/opt/cni/bin/{plugin}", command, b"{}", {}, 5.0)


def _done(exit_status: int = 0, stdout: bytes = b"", stderr: bytes = b"", **kw: Any) -> Completed:
    return Completed(exit_status, stdout, stderr, 0.01, **kw)


# --- request derivation (SPEC.md, libcni buildOneConfig; G9) ------------------------------------


def test_request_matches_libcni_golden_minus_documented_deviations() -> None:
    """The stdin Go libcni sent for this plugin, except: no ``capabilities`` (SPEC.md, Section 3:
    Execution of Network Configurations) and exact big integers (cnilib does not round through
    float64)."""
    plugin = loads(b'{"type": "recA", "bridge": "cni0", "html": "<a&b>", '
                   b'"big": 12345678901234567890, "f": 1.0, '
                   b'"capabilities": {"mac": true, "portMappings": false}}')
    assert isinstance(plugin, dict)
    caps = {"mac": True, "portMappings": False}
    cap_args: JSONObject = {"mac": MAC, "portMappings": PORTS, "unused": 1}
    golden = loads(
        b'{"big":12345678901234567000,"bridge":"cni0","capabilities":{"mac":true,'
        b'"portMappings":false},"cniVersion":"1.1.0","f":1,"html":"\\u003ca\\u0026b\\u003e",'
        b'"name":"dbnet","runtimeConfig":{"mac":"00:11:22:33:44:66"},"type":"recA"}'
    )
    assert isinstance(golden, dict)
    expected = {**golden, "big": 12345678901234567890}
    del expected["capabilities"]

    actual = build_request(plugin, command=Command.ADD, name="dbnet", cni_version="1.1.0",
                           capabilities=caps, capability_args=cap_args)

    assert expected == loads(dumps(actual))
    # Keys the runtime inserts come first, so the stdin reads like the SPEC's examples.
    assert list(actual)[:2] == ["cniVersion", "name"]


def test_request_libcni_mode_keeps_capabilities() -> None:
    """``strict=False`` sends what libcni sends: the plugin's ``capabilities`` too."""
    plugin: JSONObject = {"type": "recA", "capabilities": {"mac": True}}
    actual = build_request(plugin, command=Command.ADD, name="n", cni_version="1.0.0",
                           capabilities={"mac": True}, capability_args={"mac": MAC},
                           strict=False)
    assert actual["capabilities"] == {"mac": True}
    assert actual["runtimeConfig"] == {"mac": MAC}


def test_request_matches_spec_tuning_example() -> None:
    """SPEC appendix, ADD step 2: name, cniVersion, runtimeConfig and prevResult inserted,
    ``capabilities`` removed, the rest passed through."""
    net = conflist_from_bytes(SPEC_CONFIG, validate=False)
    tuning = net.plugins[1]
    prev: JSONObject = {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/16"}]}
    actual = build_request(tuning.raw, command=Command.ADD, name=net.name,
                           cni_version=net.cni_version, capabilities=tuning.capabilities,
                           capability_args={"mac": MAC, "portMappings": PORTS},
                           prev_result=prev)
    assert actual == {"cniVersion": "1.1.0", "name": "dbnet", "type": "tuning",
                      "sysctl": {"net.core.somaxconn": "500"},
                      "runtimeConfig": {"mac": MAC}, "prevResult": prev}


def test_runtime_config_is_declared_capabilities_intersect_arguments() -> None:
    """SPEC.md, section "Deriving runtimeConfig": only capabilities declared true and supplied."""
    caps = {"mac": True, "portMappings": False, "bandwidth": True, "ips": True}
    args: JSONObject = {"mac": MAC, "portMappings": PORTS, "ips": None, "aliases": ["x"]}
    assert runtime_config(caps, args) == {"mac": MAC, "ips": None}


def test_reserved_keys_of_the_config_are_not_sent() -> None:
    """SPEC.md, Section 1: Network configuration format reserved keys: a static prevResult never
    reaches the first ADD, a static runtimeConfig is not sent, cni.dev/ keys are dropped; ``args``
    passes through."""
    plugin: JSONObject = {"type": "t", "prevResult": {"x": 1}, "runtimeConfig": {"y": 2},
                          "cni.dev/foo": 3, "args": {"cni": {"labels": []}}, "name": "old",
                          "cniVersion": "0.3.1"}
    actual = build_request(plugin, command=Command.ADD, name="n", cni_version="1.0.0")
    assert actual == {"cniVersion": "1.0.0", "name": "n", "type": "t",
                      "args": {"cni": {"labels": []}}}


def test_gc_request_carries_valid_attachments_and_alias() -> None:
    """SPEC.md, Section 2: Execution Protocol GC: ``cni.dev/valid-attachments``; libcni also sends
    ``cni.dev/attachments`` (cni#1101). No runtimeConfig or prevResult for GC."""
    valid = [GCAttachment("c1", "eth0"), GCAttachment("c2", "net1")]
    actual = build_request({"type": "t", "capabilities": {"mac": True}}, command=Command.GC,
                           name="n", cni_version="1.1.0", capabilities={"mac": True},
                           capability_args={"mac": MAC}, prev_result={"a": 1},
                           valid_attachments=valid)
    wire = [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}]
    assert actual == {"cniVersion": "1.1.0", "name": "n", "type": "t",
                      "cni.dev/valid-attachments": wire, "cni.dev/attachments": wire}
    without = build_request({"type": "t"}, command=Command.GC, name="n", cni_version="1.1.0")
    assert without == {"cniVersion": "1.1.0", "name": "n", "type": "t"}


# --- environment (libcni pkg/invoke/args.go) ------------------------------------------------


def test_env_rows_are_libcni_rows() -> None:
    """All six CNI_* variables every time; GC/STATUS carry only verb and path; VERSION dummies."""
    rt = RuntimeConf("c1", "/run/netns/x", "eth0")
    paths = ["/opt/cni/bin", "/usr/lib/cni"]
    assert cni_env(Command.DEL, rt, paths, cni_args="A=b") == {
        "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x",
        "CNI_IFNAME": "eth0", "CNI_ARGS": "A=b", "CNI_PATH": "/opt/cni/bin:/usr/lib/cni"}
    assert cni_env(Command.GC, rt, paths) == {
        "CNI_COMMAND": "GC", "CNI_CONTAINERID": "", "CNI_NETNS": "", "CNI_IFNAME": "",
        "CNI_ARGS": "", "CNI_PATH": "/opt/cni/bin:/usr/lib/cni"}
    assert cni_env(Command.STATUS, None, paths)["CNI_COMMAND"] == "STATUS"
    assert cni_env(Command.VERSION, None, paths) == {
        "CNI_COMMAND": "VERSION", "CNI_CONTAINERID": "", "CNI_NETNS": "dummy",
        "CNI_IFNAME": "dummy", "CNI_ARGS": "", "CNI_PATH": "dummy"}
    assert json.loads(VERSION_REQUEST) == {"cniVersion": "1.1.0"}


def test_trace_context_becomes_env() -> None:
    """W3C header names (any case) become TRACEPARENT, TRACESTATE and BAGGAGE."""
    env = check_trace_context({"traceparent": TRACEPARENT, "TraceState": "congo=t61rcWkgMzE",
                               "baggage": "userId=alice"})
    assert env == {"TRACEPARENT": TRACEPARENT, "TRACESTATE": "congo=t61rcWkgMzE",
                   "BAGGAGE": "userId=alice"}


@pytest.mark.parametrize("context", [
    {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"},
    {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
    {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"},
    {"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
    {"traceparent": TRACEPARENT + "-extra"},
    {"traceparent": TRACEPARENT + "\n"},
    {"tracestate": "a=b"},
    {"traceid": TRACEPARENT},
    {"baggage": "a=b\x00c"},
])
def test_bad_trace_context_is_refused(context: dict[str, str]) -> None:
    """W3C Trace Context §3.2: malformed traceparent, tracestate alone, unknown keys and
    control characters are refused before anything runs."""
    with pytest.raises(InvalidIdentifierError):
        check_trace_context(context)


# --- replies (libcni pkg/invoke/raw_exec.go) ---------------------------------------------


def test_error_without_output() -> None:
    """Empty stdout and stderr: libcni's "no error message" with the exit status."""
    err = reply_error(_inv(), _done(3))
    assert isinstance(err, PluginError)
    assert err.msg == "netplugin failed with no error message: exit status 3"
    assert (err.plugin, err.command, err.exit_status, err.code) == ("bridge", "ADD", 3, 0)


def test_error_from_stderr_is_quoted_and_tail_bounded() -> None:
    """Empty stdout, stderr given: quoted stderr (main's wording) and a bounded tail kept."""
    err = reply_error(_inv(), _done(1, stderr=b"x" * 10000 + b"boom"))
    assert err is not None
    assert err.msg.startswith('netplugin failed: "')
    assert err.msg.endswith('boom": exit status 1')
    assert len(err.stderr) == 4096


def test_error_json_gives_the_plugins_code_msg_details() -> None:
    """SPEC.md, section "Error": the plugin's own triple; extra keys (cniVersion) ignored."""
    out = b'{"cniVersion":"1.1.0","code":7,"msg":"Invalid Configuration","details":"too small"}'
    err = reply_error(_inv(Command.DEL), _done(1, out, b"log line"))
    assert type(err) is PluginError
    assert (err.code, err.msg, err.details) == (ErrorCode.INVALID_NETWORK_CONFIG,
                                                "Invalid Configuration", "too small")
    assert (err.command, err.stderr) == ("DEL", b"log line")


def test_plugin_specific_codes_are_kept() -> None:
    """SPEC.md, Section 5: Result Types: codes of 100 and more are the plugin's own."""
    err = reply_error(_inv(), _done(1, b'{"code":142,"msg":"quota"}'))
    assert err is not None
    assert err.code == 142


def test_empty_error_object_still_says_something() -> None:
    """libcni turns ``{}`` into an empty message; cnilib does not (docs/running.md, item 9)."""
    err = reply_error(_inv(), _done(2, b"{}"))
    assert err is not None
    assert err.msg == "netplugin failed with an empty error message: exit status 2"


@pytest.mark.parametrize("stdout", [b"not json", b"[1,2]", b'"text"', b'{"code":"7","msg":"x"}',
                                    b'{"code":-1,"msg":"x"}', b'{"code":true,"msg":"x"}'])
def test_unusable_error_output(stdout: bytes) -> None:
    """A failing plugin whose stdout is not an error object: PluginOutputError, libcni wording."""
    err = reply_error(_inv(), _done(1, stdout))
    assert isinstance(err, PluginOutputError)
    assert err.msg.startswith("netplugin failed but error parsing its diagnostic message")


def test_timeout_and_truncation() -> None:
    """Killed at the deadline: PluginTimeoutError; stdout over the cap: PluginOutputError."""
    timed = reply_error(_inv(), _done(-9, timed_out=True))
    assert isinstance(timed, PluginTimeoutError)
    assert isinstance(timed, TimeoutError)
    assert "after 5s" in timed.msg
    cut = reply_error(_inv(), _done(0, b'{"cniVersion":', truncated=True))
    assert isinstance(cut, PluginOutputError)


def test_exit_zero_with_error_object_is_an_error() -> None:
    """docs/running.md, differences item 8: libcni takes it as an empty success; cnilib does not."""
    err = reply_error(_inv(Command.DEL), _done(0, b'{"code":11,"msg":"busy"}'))
    assert err is not None
    assert err.retryable


def test_silent_success_and_ignored_stdout() -> None:
    """CHECK/DEL/GC/STATUS success carries no output; stdout that is not an error is ignored."""
    check_reply(_inv(Command.CHECK), _done(0))
    check_reply(_inv(Command.DEL), _done(0, b"garbage"))
    assert reply_error(_inv(Command.GC), _done(0, b'{"cniVersion":"1.1.0"}')) is None


def test_signal_text() -> None:
    """Exit texts read as Go's ExitError prints them."""
    assert exit_text(-9) == "signal: killed"
    assert exit_text(-15) == "signal: terminated"
    assert exit_text(-64) == "signal: signal 64"
    assert exit_text(0) == "exit status 0"


def test_result_without_version_takes_the_config_version() -> None:
    """libcni fixupResultVersion (cni#895): no, empty or non-string cniVersion → config's."""
    for body in (b'{"ips":[{"address":"10.0.0.2/24"}]}',
                 b'{"cniVersion":"","ips":[{"address":"10.0.0.2/24"}]}',
                 b'{"cniVersion":5,"ips":[{"address":"10.0.0.2/24"}]}'):
        result = parse_add_reply(_inv(), _done(0, body), "1.0.0")
        assert result.cni_version == "1.0.0"
    empty = parse_add_reply(_inv(), _done(0, b"null"), "1.1.0")
    assert isinstance(empty, Result100)
    assert empty.ips == ()


@pytest.mark.parametrize("stdout", [b"", b"   ", b"{", b"[]", b'{"cniVersion":"9.9.9"}',
                                    b'{"cniVersion":"1.0.0","ips":[{"address":"nope"}]}'])
def test_unusable_add_result(stdout: bytes) -> None:
    """An ADD that exits 0 without a usable result is a PluginOutputError naming the plugin."""
    with pytest.raises(PluginOutputError) as info:
        parse_add_reply(_inv(), _done(0, stdout), "1.0.0")
    assert info.value.plugin == "bridge"


def test_version_replies() -> None:
    """VERSION: a reply, the very old skel's refusal (0.1.0), or garbage."""
    ok = parse_version_reply(_inv(Command.VERSION),
                             _done(0, b'{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'))
    assert ok.supported_versions == ("1.0.0",)
    old = parse_version_reply(_inv(Command.VERSION),
                              _done(1, b'{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}'))
    assert old.supported_versions == ("0.1.0",)
    with pytest.raises(PluginOutputError):
        parse_version_reply(_inv(Command.VERSION), _done(0, b"1.0.0"))


# --- plans, driven by hand ------------------------------------------------------------------

SPEC_CONFIG = b"""{
  "cniVersion": "1.1.0",
  "cniVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  "name": "dbnet",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "keyA": ["some more", "plugin specific", "configuration"],
     "ipam": {"type": "host-local", "subnet": "10.1.0.0/16", "gateway": "10.1.0.1",
              "routes": [{"dst": "0.0.0.0/0"}]},
     "dns": {"nameservers": ["10.1.0.1"]}},
    {"type": "tuning", "capabilities": {"mac": true}, "sysctl": {"net.core.somaxconn": "500"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}"""

RESULT: JSONObject = {"cniVersion": "1.1.0",
                      "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1"}]}


def _plan_net() -> steps.Net:
    return steps.Net.of_list(conflist_from_bytes(SPEC_CONFIG, validate=False))


def _chain(**kw: Any) -> steps.Chain:
    return steps.Chain(paths=("/opt/cni/bin",), **kw)


def _drive(plan: Generator[steps.Step, object, Any], replies: dict[str, Completed],
           cache: dict[tuple[str, str, str], Any]) -> tuple[Any, list[steps.Step]]:
    """A by-hand driver: no process, no file, just a dict for the cache."""
    seen: list[steps.Step] = []
    outcome: object = None
    while True:
        try:
            step = plan.send(outcome)
        except StopIteration as stop:
            return stop.value, seen
        seen.append(step)
        outcome = None
        if isinstance(step, steps.Find):
            outcome = f"/opt/cni/bin/{step.plugin_type}"
        elif isinstance(step, steps.Run):
            inv = step.invocation
            outcome = replies.get(f"{inv.plugin_type}:{inv.command}", _done(0))
        elif isinstance(step, steps.SaveCache):
            cache[(step.network, step.container_id, step.ifname)] = step
        elif isinstance(step, steps.DeleteCache):
            cache.pop((step.network, step.container_id, step.ifname), None)
        elif isinstance(step, steps.LoadCache):
            outcome = cache.get((step.network, step.container_id, step.ifname))


def test_add_plan_steps_and_cache_write() -> None:
    """SPEC.md, section "Adding an attachment": find, run, in order; the final result is stored (as
    libcni)."""
    ok = _done(0, dumps(RESULT))
    replies = {"bridge:ADD": ok, "tuning:ADD": ok, "portmap:ADD": ok}
    rt = RuntimeConf("c1", "/run/netns/c1", "eth0")
    cache: dict[tuple[str, str, str], Any] = {}
    result, seen = _drive(chains.add(_plan_net(), rt, _chain()), replies, cache)
    kinds = [type(s).__name__ for s in seen]
    # Under the lock, refuse an existing attachment, record the ADD as in progress, run the
    # chain, cache the result, drop the record.
    assert kinds == (["Lock", "LoadCache", "LoadPending", "SavePending"] + ["Find", "Run"] * 3
                     + ["SaveCache", "DeletePending"])
    saved = cache[("dbnet", "c1", "eth0")]
    assert saved.result == result.to_dict()
    assert saved.config == SPEC_CONFIG


def test_add_plan_rolls_back_in_reverse_after_second_plugin_fails() -> None:
    """A failed ADD runs DEL over what ran, failing plugin first, and caches nothing."""
    ok = _done(0, dumps(RESULT))
    replies = {"bridge:ADD": ok, "tuning:ADD": _done(1, b'{"code":7,"msg":"bad sysctl"}')}
    cache: dict[tuple[str, str, str], Any] = {}
    plan = chains.add(_plan_net(), RuntimeConf("c1", "/n", "eth0"), _chain())
    with pytest.raises(AddError) as info:
        _drive(plan, replies, cache)
    err = info.value
    assert isinstance(err.cause, PluginError)
    assert err.cause.msg == "bad sysctl"
    assert err.rolled_back == ("tuning", "bridge")
    assert cache == {}


def test_plans_validate_identifiers_before_their_first_step() -> None:
    """G6: a crafted interface name fails before any step could touch a file."""
    bad = RuntimeConf("c1", "/n", "x/../../../tmp/victim")
    for plan in (chains.add(_plan_net(), bad, _chain()), chains.delete(_plan_net(), bad, _chain()),
                 chains.check(_plan_net(), bad, _chain()),
                 chains.cached_result_of(_plan_net(), bad)):
        with pytest.raises(InvalidIdentifierError):
            next(plan)


def test_cni_args_with_separators_are_refused() -> None:
    """G10: a ``;`` or ``=`` inside a CNI_ARGS value would smuggle arguments; refused."""
    rt = RuntimeConf("c1", "/n", "eth0", [("K8S_POD_NAME", "x;IP=10.0.0.5")])
    with pytest.raises(InvalidIdentifierError):
        next(chains.add(_plan_net(), rt, _chain()))


def test_odd_runtime_values_are_typed_errors() -> None:
    """Only typed errors escape, whatever the caller passes."""
    with pytest.raises(CNIError):
        RuntimeConf("c", "n", "eth0", args=42)  # type: ignore[arg-type]
    with pytest.raises(CNIError):
        RuntimeConf("c", "n", "eth0", capability_args=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(CNIError):
        RuntimeConf("c", "n", "eth0", trace_context={1: "x"})  # type: ignore[dict-item]
    rt = RuntimeConf("c", "n", "eth0", capability_args={"mac": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(CNIError):
        next(chains.add(_plan_net(), rt, _chain()))
