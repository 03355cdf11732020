"""CNIConfig driven through cnilib.testing.FakeExecutor: chains, cache, rollback, concurrency.

No real plugin runs here (the plugin helper's integration tests do that); every scenario is a
set of Python handlers standing in for plugins, and a tmp_path cache.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cnilib._json import JSON, JSONObject, dumps, loads
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList, conf_from_bytes, conflist_from_bytes
from cnilib.errors import (
    AddError,
    AttachmentExistsError,
    CacheError,
    CNIError,
    ConfigError,
    IncompatibleVersionError,
    InvalidIdentifierError,
    LockTimeoutError,
    MultipleErrors,
    PluginError,
    PluginNotFoundError,
    PluginTimeoutError,
)
from cnilib.protocol import (
    Command,
    GCAttachment,
    Invocation,
    InvocationRecord,
    RuntimeConf,
)
from cnilib.testing import (
    FakeExecutor,
    Reply,
    default_handler,
    error_reply,
    make_result,
    request_of,
    success,
    timed_out,
    version_reply,
)

PATHS = ["/opt/cni/bin", "/usr/lib/cni"]
MAC = "00:11:22:33:44:66"
PORTS: list[JSON] = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# SPEC.md, section "Example configuration" (comments removed).
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

# SPEC appendix: the bridge plugin's result (no cniVersion, as printed there).
BRIDGE_RESULT: JSONObject = {
    "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "interfaces": [
        {"name": "cni0", "mac": "00:11:22:33:44:55"},
        {"name": "veth3243", "mac": "55:44:33:22:11:11"},
        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"},
    ],
    "dns": {"nameservers": ["10.1.0.1"]},
}


def _tuned(result: JSONObject) -> JSONObject:
    out = copy.deepcopy(result)
    interfaces = out["interfaces"]
    assert isinstance(interfaces, list)
    eth0 = interfaces[2]
    assert isinstance(eth0, dict)
    eth0["mac"] = MAC
    return out


def spec_handler(inv: Invocation) -> Reply:
    """The SPEC appendix's plugins: bridge makes the result, tuning changes the mac."""
    if inv.command is Command.ADD:
        req = request_of(inv)
        if inv.plugin_type == "bridge":
            return BRIDGE_RESULT
        prev = req["prevResult"]
        assert isinstance(prev, dict)
        return _tuned(prev) if inv.plugin_type == "tuning" else prev
    return default_handler(inv)


def net_of(data: bytes) -> NetworkConfigList:
    return conflist_from_bytes(data, validate=False)


def chain(*types: str, version: str = "1.1.0", **extra: Any) -> NetworkConfigList:
    doc: JSONObject = {"cniVersion": version, "name": "net1", **extra,
           "plugins": [{"type": t} for t in types]}
    return net_of(dumps(doc))


def make(tmp_path: Path, handlers: Any = None, **kw: Any) -> tuple[CNIConfig, FakeExecutor]:
    fx = FakeExecutor(handlers, missing=kw.pop("missing", ()))
    return CNIConfig(PATHS, tmp_path / "cache", executor=fx, **kw), fx


RT = RuntimeConf("c1", "/var/run/netns/blue", "eth0", [("argA", "foo")],
                 {"mac": MAC, "portMappings": PORTS})


def _expected_requests() -> dict[str, JSONObject]:
    base = loads(SPEC_CONFIG)
    assert isinstance(base, dict)
    plugins = base["plugins"]
    assert isinstance(plugins, list)
    bridge = plugins[0]
    assert isinstance(bridge, dict)
    bridge_req: JSONObject = {"cniVersion": "1.1.0", "name": "dbnet", **bridge}
    # libcni and cnilib send prevResult with its cniVersion; the SPEC appendix omits it.
    final: JSONObject = {"cniVersion": "1.1.0", **_tuned(BRIDGE_RESULT)}
    first: JSONObject = {"cniVersion": "1.1.0", **BRIDGE_RESULT}
    tuning: JSONObject = {"cniVersion": "1.1.0", "name": "dbnet", "type": "tuning",
              "sysctl": {"net.core.somaxconn": "500"}, "runtimeConfig": {"mac": MAC}}
    portmap: JSONObject = {"cniVersion": "1.1.0", "name": "dbnet", "type": "portmap",
               "runtimeConfig": {"portMappings": PORTS}}
    return {
        "add:bridge": bridge_req,
        "add:tuning": {**tuning, "prevResult": first},
        "add:portmap": {**portmap, "prevResult": final},
        "other:bridge": {**bridge_req, "prevResult": final},
        "other:tuning": {**tuning, "prevResult": final},
        "other:portmap": {**portmap, "prevResult": final},
    }


# --- the SPEC appendix, end to end --------------------------------------------------------


def test_spec_appendix_add_check_del_golden_stdin(tmp_path: Path) -> None:
    """SPEC appendix Add/Check/Delete examples: the exact requests, plugin by plugin.

    Documented deviations: prevResult carries ``cniVersion`` (libcni does too), and the bridge
    request keeps the ``ipam.routes`` of SPEC.md, Section 1: Network configuration format's
    configuration (the appendix drops them).
    """
    cni, fx = make(tmp_path, spec_handler)
    net = net_of(SPEC_CONFIG)
    expected = _expected_requests()

    result = cni.add_network_list(net, RT)
    cni.check_network_list(net, RT)
    cni.del_network_list(net, RT)

    assert fx.calls == [("bridge", Command.ADD), ("tuning", Command.ADD),
                        ("portmap", Command.ADD), ("bridge", Command.CHECK),
                        ("tuning", Command.CHECK), ("portmap", Command.CHECK),
                        ("portmap", Command.DEL), ("tuning", Command.DEL),
                        ("bridge", Command.DEL)]
    for inv in fx.invocations:
        key = ("add:" if inv.command is Command.ADD else "other:") + inv.plugin_type
        assert expected[key] == request_of(inv), key
    assert result.to_dict() == expected["add:portmap"]["prevResult"]


def test_environment_has_all_six_cni_vars(tmp_path: Path) -> None:
    """As libcni's pkg/invoke/args.go: every run gets exactly the six CNI_* variables (trace
    when given)."""
    cni, fx = make(tmp_path)
    cni.add_network_list(chain("a"), RT)
    assert dict(fx.invocations[0].env) == {
        "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/blue",
        "CNI_IFNAME": "eth0", "CNI_ARGS": "argA=foo", "CNI_PATH": "/opt/cni/bin:/usr/lib/cni"}


def test_version_query_env_and_stdin(tmp_path: Path) -> None:
    """As libcni's GetVersionInfo: VERSION stdin is {"cniVersion":"1.1.0"}; env has the dummy
    values."""
    cni, fx = make(tmp_path, lambda inv: version_reply("0.4.0", "1.0.0"))
    info = cni.get_version_info("bridge")
    assert info.supported_versions == ("0.4.0", "1.0.0")
    inv = fx.invocations[0]
    assert inv.stdin == b'{"cniVersion":"1.1.0"}'
    assert inv.env["CNI_NETNS"] == inv.env["CNI_IFNAME"] == inv.env["CNI_PATH"] == "dummy"
    assert inv.timeout is not None
    assert inv.timeout <= 10


# --- results and versions -----------------------------------------------------------------


def test_results_travel_in_the_network_version(tmp_path: Path) -> None:
    """A plugin answering 0.4.0 in a 1.0.0 list: the next prevResult and the caller's result
    are 1.0.0 (libcni would pass 0.4.0 on; docs/running.md, differences item 2)."""
    def handler(inv: Invocation) -> Any:
        if inv.command is Command.ADD and inv.plugin_type == "old":
            return make_result("0.4.0")
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    result = cni.add_network_list(chain("old", "new", version="1.0.0"), RT)
    assert result.cni_version == "1.0.0"
    prev = fx.requests(Command.ADD)[1]["prevResult"]
    assert isinstance(prev, dict)
    assert prev["cniVersion"] == "1.0.0"


def test_result_without_cni_version_gets_the_config_version(tmp_path: Path) -> None:
    """cni#895: a result without cniVersion is taken to be in the configuration's version."""
    cni, _ = make(tmp_path, lambda inv: {"ips": [{"address": "10.0.0.9/24"}]})
    assert cni.add_network_list(chain("a", version="1.0.0"), RT).cni_version == "1.0.0"


def test_check_is_gated_at_0_4_0(tmp_path: Path) -> None:
    """SPEC.md, Section 2: Execution Protocol: CHECK exists from 0.4.0; below it nothing runs and
    the error says so."""
    cni, fx = make(tmp_path)
    with pytest.raises(IncompatibleVersionError, match="does not support the CHECK command"):
        cni.check_network_list(chain("a", version="0.3.1"), RT)
    assert fx.calls == []


def test_disable_check_returns_success_without_running(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: with disableCheck, "always return
    success" (even below 0.4.0, unlike libcni)."""
    cni, fx = make(tmp_path)
    cni.check_network_list(chain("a", disableCheck=True), RT)
    cni.check_network_list(chain("a", version="0.3.1", disableCheck=True), RT)
    assert fx.calls == []


def test_del_below_0_4_0_sends_no_prev_result_and_reads_no_cache(tmp_path: Path) -> None:
    """SPEC.md, Section 2: Execution Protocol (0.4.0 introduced prevResult on DEL): no prevResult,
    the cache is not read (a corrupt entry does not matter) and is deleted after success."""
    cni, fx = make(tmp_path)
    net = chain("a", "b", version="0.3.1")
    cni.add_network_list(net, RT)
    path = Path(cni.cache.path_for("net1", "c1", "eth0"))
    path.write_bytes(b"\x00garbage")
    cni.del_network_list(net, RT)
    assert all("prevResult" not in r for r in fx.requests(Command.DEL))
    assert not path.exists()


def test_status_and_gc_are_gated_at_1_1_0(tmp_path: Path) -> None:
    """SPEC.md, Section 2: Execution Protocol: STATUS and GC exist from 1.1.0; below, no plugin gets
    them (stale DEL still)."""
    cni, fx = make(tmp_path)
    net = chain("a", version="1.0.0")
    cni.add_network_list(net, RT)
    cni.get_status_network_list(net)
    cni.gc_network_list(net, [])
    assert fx.calls == [("a", Command.ADD), ("a", Command.DEL)]


def test_status_reports_the_first_unavailable_plugin(tmp_path: Path) -> None:
    """SPEC.md, Section 2: Execution Protocol STATUS: code 50 means the plugin cannot service
    ADD."""
    cni, fx = make(tmp_path, {"a": default_handler,
                              "b": lambda inv: error_reply(50, "no IPs left")})
    with pytest.raises(PluginError) as info:
        cni.get_status_network_list(chain("a", "b"))
    assert (info.value.code, info.value.plugin, info.value.command) == (50, "b", "STATUS")
    assert all(i.env["CNI_CONTAINERID"] == "" for i in fx.invocations)


# --- the cache (when libcni/api.go writes and removes it) -------------------------------------


def test_cache_written_on_add_read_by_check_and_del_deleted_after(tmp_path: Path) -> None:
    """ADD writes config (the list bytes) and the final result; DEL removes the entry."""
    cni, _ = make(tmp_path)
    net = chain("a", "b")
    result = cni.add_network_list(net, RT)
    entry = cni.cache.load("net1", "c1", "eth0")
    assert entry is not None
    assert (entry.config, entry.result, entry.netns, entry.cni_args) == (
        net.bytes, result.to_dict(), RT.netns, (("argA", "foo"),))
    assert cni.get_network_list_cached_result(net, RT) == result
    cached = cni.get_network_list_cached_config(net, RuntimeConf("c1", "", "eth0"))
    assert cached is not None
    assert cached[0] == net.bytes
    assert (cached[1].netns, cached[1].args) == (RT.netns, (("argA", "foo"),))
    assert [a.container_id for a in cni.get_cached_attachments("c1")] == ["c1"]
    cni.del_network_list(net, RT)
    assert cni.cache.load("net1", "c1", "eth0") is None
    assert cni.get_network_list_cached_result(net, RT) is None


def test_second_add_is_refused_and_leaves_the_first_untouched(tmp_path: Path) -> None:
    """A repeated ADD runs nothing: no plugin, so no rollback DEL of the live attachment.

    Before the refusal, the second ADD's failure was rolled back by a DEL that tore the first
    attachment down while its cache entry still claimed it (issue 7, item 2).
    """
    cni, _ = make(tmp_path)
    net = chain("a")
    cni.add_network_list(net, RT)
    before = Path(cni.cache.path_for("net1", "c1", "eth0")).read_bytes()
    failing, fx = make(tmp_path, lambda inv: error_reply(7, "nope"))
    with pytest.raises(AttachmentExistsError) as info:
        failing.add_network_list(net, RT)
    assert (info.value.network, info.value.container_id, info.value.ifname) == (
        "net1", "c1", "eth0")
    assert not info.value.in_progress
    assert fx.calls == []
    assert Path(cni.cache.path_for("net1", "c1", "eth0")).read_bytes() == before


def test_failed_del_keeps_the_entry_and_stops(tmp_path: Path) -> None:
    """SPEC.md "Deleting an attachment": halt on error; as libcni, the entry is kept."""
    def handler(inv: Invocation) -> Any:
        if inv.command is Command.DEL and inv.plugin_type == "b":
            return error_reply(11, "busy", "try later")
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    net = chain("a", "b", "c")
    cni.add_network_list(net, RT)
    with pytest.raises(PluginError) as info:
        cni.del_network_list(net, RT)
    assert info.value.retryable
    assert [c for c in fx.calls if c[1] is Command.DEL] == [("c", Command.DEL),
                                                            ("b", Command.DEL)]
    assert cni.cache.load("net1", "c1", "eth0") is not None


@pytest.mark.parametrize("garbage", [b"", b"{", b'{"kind":"cniCacheV1","result":7}'])
def test_corrupt_cache_never_blocks_del(tmp_path: Path, garbage: bytes,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """cni#1055: an empty or corrupt entry is deleted, DEL runs without prevResult, warns."""
    cni, fx = make(tmp_path)
    net = chain("a", "b")
    path = Path(cni.cache.path_for("net1", "c1", "eth0"))
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="cnilib"):
        cni.del_network_list(net, RT)
    assert fx.calls == [("b", Command.DEL), ("a", Command.DEL)]
    assert all("prevResult" not in r for r in fx.requests())
    assert not path.exists()
    assert "unusable cached result" in caplog.text


def test_corrupt_cache_does_not_block_check(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """docs/running.md, differences item 14: libcni's CHECK fails forever on a corrupt entry;
    cnilib checks without prevResult, warns, and leaves the entry for DEL."""
    cni, fx = make(tmp_path)
    path = Path(cni.cache.path_for("net1", "c1", "eth0"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="cnilib"):
        cni.check_network_list(chain("a"), RT)
    assert fx.calls == [("a", Command.CHECK)]
    assert "prevResult" not in fx.requests()[0]
    assert path.exists()
    assert "CHECK" in caplog.text


def test_corrupt_cache_getter_is_a_cache_error(tmp_path: Path) -> None:
    """The getters report an unusable entry (typed) rather than guess."""
    cni, _ = make(tmp_path)
    path = Path(cni.cache.path_for("net1", "c1", "eth0"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{")
    with pytest.raises(CacheError):
        cni.get_network_list_cached_result(chain("a"), RT)


BAD_RTS = [RuntimeConf("c1", "/n", "x/../../../../../victim"),
           RuntimeConf("../c1", "/n", "eth0"), RuntimeConf("", "/n", "eth0"),
           RuntimeConf("c1", "/n\x00", "eth0")]


@pytest.mark.parametrize("rt", BAD_RTS)
def test_identifiers_checked_on_every_path_before_any_file(tmp_path: Path,
                                                           rt: RuntimeConf) -> None:
    """G6 (docs/guarantees.md): ADD, CHECK, DEL and every getter refuse a crafted identifier
    before any plugin runs or any file (cache, lock, canary) is touched."""
    canary = tmp_path / "victim"
    canary.write_text("keep")
    cni, fx = make(tmp_path)
    net = chain("a")
    plugin = conf_from_bytes(b'{"cniVersion":"1.0.0","name":"net1","type":"a"}',
                             validate=False)
    calls: list[Callable[[], object]] = [
        lambda: cni.add_network_list(net, rt), lambda: cni.check_network_list(net, rt),
        lambda: cni.del_network_list(net, rt), lambda: cni.add_network(plugin, rt),
        lambda: cni.del_network(plugin, rt),
        lambda: cni.get_network_list_cached_result(net, rt),
        lambda: cni.get_network_cached_config(plugin, rt),
    ]
    for call in calls:
        with pytest.raises(InvalidIdentifierError):
            call()
    assert fx.calls == []
    assert canary.read_text() == "keep"
    assert not (tmp_path / "cache").exists()


def test_bad_network_name_refused_on_gc(tmp_path: Path) -> None:
    """G6 on GC: the network name and each valid attachment are checked first."""
    cni, fx = make(tmp_path)
    with pytest.raises(InvalidIdentifierError):
        cni.gc_network_list(chain("a"), [("c1", "a/b")])
    with pytest.raises(InvalidIdentifierError):
        cni.get_cached_attachments("../x")
    assert fx.calls == []


# --- rollback ---------------------------------------------------------------------------------


def _fail_b(inv: Invocation) -> Any:
    if inv.command is Command.ADD and inv.plugin_type == "b":
        return error_reply(7, "b is misconfigured", "subnet too small", stderr=b"b log")
    return default_handler(inv)


def test_rollback_after_second_of_three_fails(tmp_path: Path) -> None:
    """A failed ADD is undone: DEL of the failing plugin then the earlier one, in reverse,
    with the last good result as prevResult; the error says what failed and what was undone."""
    cni, fx = make(tmp_path, _fail_b)
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b", "c"), RT)
    err = info.value
    assert fx.calls == [("a", Command.ADD), ("b", Command.ADD), ("b", Command.DEL),
                        ("a", Command.DEL)]
    assert isinstance(err.cause, PluginError)
    assert (err.cause.code, err.cause.msg, err.cause.details, err.cause.plugin,
            err.cause.command, err.cause.exit_status, err.cause.stderr) == (
        7, "b is misconfigured", "subnet too small", "b", "ADD", 1, b"b log")
    assert (err.code, err.rolled_back, err.rollback_errors) == (7, ("b", "a"), ())
    assert 'type="b"' in str(err)
    assert "rolled back b, a" in str(err)
    last_good = fx.requests(Command.ADD)[1]["prevResult"]  # what "a" returned
    assert [r["prevResult"] for r in fx.requests(Command.DEL)] == [last_good, last_good]
    assert cni.cache.load("net1", "c1", "eth0") is None


@pytest.mark.parametrize("where", ["instance", "call"])
def test_rollback_false_is_libcni_behaviour(tmp_path: Path, where: str) -> None:
    """libcni does not undo a failed ADD; ``rollback=False`` (instance or call) does the same."""
    if where == "instance":
        cni, fx = make(tmp_path, _fail_b, rollback=False)
        call: bool | None = None
    else:
        cni, fx = make(tmp_path, _fail_b)
        call = False
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b", "c"), RT, rollback=call)
    assert fx.calls == [("a", Command.ADD), ("b", Command.ADD)]
    assert info.value.rolled_back == ()
    assert "not rolled back" in str(info.value)


def test_rollback_skips_a_plugin_that_never_started(tmp_path: Path) -> None:
    """A missing executable never ran: only the plugins that ran are undone."""
    cni, fx = make(tmp_path, missing=["b"])
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b"), RT)
    assert isinstance(info.value.cause, PluginNotFoundError)
    assert fx.calls == [("a", Command.ADD), ("a", Command.DEL)]


def test_rollback_keeps_going_and_reports_its_own_failures(tmp_path: Path) -> None:
    """Rollback is best effort (SPEC.md, Section 2: Execution Protocol DEL): a failing DEL is
    recorded, the rest still run."""
    def handler(inv: Invocation) -> Any:
        if inv.plugin_type == "c" and inv.command is Command.ADD:
            return error_reply(5, "io")
        if inv.plugin_type == "b" and inv.command is Command.DEL:
            return error_reply(5, "cannot undo")
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b", "c"), RT)
    assert [c for c in fx.calls if c[1] is Command.DEL] == [
        ("c", Command.DEL), ("b", Command.DEL), ("a", Command.DEL)]
    assert info.value.rolled_back == ("c", "a")
    assert [e.msg for e in info.value.rollback_errors] == ["cannot undo"]


def test_cache_write_failure_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """G8: if the result cannot be cached, the ADD is undone rather than leaked."""
    cni, fx = make(tmp_path)

    def full(entry: object) -> str:
        raise CacheError("failed to write: No space left on device")

    monkeypatch.setattr(cni.cache, "save", full)
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b"), RT)
    assert isinstance(info.value.cause, CacheError)
    assert fx.calls[-2:] == [("b", Command.DEL), ("a", Command.DEL)]
    assert cni.get_cached_attachments() == ()  # nor is the ADD left recorded as in progress


# --- timeouts -------------------------------------------------------------------------------


def test_deadline_is_split_across_the_chain(tmp_path: Path) -> None:
    """G2: one budget for the chain; each plugin gets what is left."""
    def slow(inv: Invocation) -> Any:
        time.sleep(0.05)
        return default_handler(inv)

    cni, fx = make(tmp_path, slow)
    cni.add_network_list(chain("a", "b", "c"), RT, timeout=30)
    budgets = [i.timeout for i in fx.invocations]
    assert all(b is not None for b in budgets)
    assert 30 >= budgets[0] > budgets[1] > budgets[2]  # type: ignore[operator]


def test_per_verb_defaults_and_no_limit(tmp_path: Path) -> None:
    """Defaults per verb (ADD 120 s, CHECK 60 s); ``math.inf`` means no limit."""
    cni, fx = make(tmp_path, timeouts={"check": 7})
    cni.add_network_list(chain("a"), RT)
    cni.check_network_list(chain("a"), RT)
    cni.del_network_list(chain("a"), RT, timeout=math.inf)
    add, check, delete = (i.timeout for i in fx.invocations)
    assert add is not None
    assert 119 < add <= 120
    assert check is not None
    assert 6 < check <= 7
    assert delete is None
    with pytest.raises(ConfigError):
        cni.del_network_list(chain("a"), RT, timeout=-1)
    with pytest.raises(ConfigError):
        make(tmp_path, timeouts={"frobnicate": 1})


def test_wrong_configuration_types_are_config_errors(tmp_path: Path) -> None:
    """A list call given something else than a NetworkConfigList, or a single-plugin call
    given something else than a PluginConfig, is refused before any plugin runs."""
    cni, fx = make(tmp_path)
    with pytest.raises(ConfigError, match=r"^expected a NetworkConfigList, got dict$"):
        cni.add_network_list({"name": "a"}, RT)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^expected a PluginConfig, got NetworkConfigList$"):
        cni.add_network(chain("a"), RT)  # type: ignore[arg-type]
    assert fx.invocations == []


def test_timed_out_plugin_is_rolled_back_with_a_fresh_deadline(tmp_path: Path) -> None:
    """G2: the rollback DEL gets its own (cleanup) budget, not the exhausted chain's."""
    def handler(inv: Invocation) -> Any:
        if inv.command is Command.ADD and inv.plugin_type == "b":
            return timed_out(duration=30.0)  # as the executor reports a kill at the deadline
        return default_handler(inv)

    cni, fx = make(tmp_path, handler, cleanup_timeout=45)
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a", "b"), RT, timeout=30)
    assert isinstance(info.value.cause, PluginTimeoutError)
    dels = [i for i in fx.invocations if i.command is Command.DEL]
    assert [i.plugin_type for i in dels] == ["b", "a"]
    assert all(i.timeout is not None and 44 < i.timeout <= 45.001 for i in dels)


def test_plugin_not_started_after_the_deadline(tmp_path: Path) -> None:
    """A chain past its deadline starts nothing more; the error is a PluginTimeoutError."""
    def slow(inv: Invocation) -> Any:
        time.sleep(0.2)
        return default_handler(inv)

    cni, fx = make(tmp_path, slow)
    with pytest.raises(PluginTimeoutError):
        cni.check_network_list(chain("a", "b"), RT, timeout=0.1)
    assert fx.calls == [("a", Command.CHECK)]


# --- GC ---------------------------------------------------------------------------------------


def test_gc_deletes_stale_attachments_then_gcs_plugins(tmp_path: Path) -> None:
    """SPEC.md, Section 2: Execution Protocol GC: stale cached attachments get DEL (with their
    cached parameters), then every plugin gets GC with the valid attachments; other networks are
    untouched."""
    cni, fx = make(tmp_path)
    net = chain("a", "b")
    stale = RuntimeConf("old", "/run/netns/old", "eth1", [("K", "V")], {"mac": MAC})
    cni.add_network_list(net, stale)
    cni.add_network_list(net, RT)
    other = net_of(b'{"cniVersion":"1.1.0","name":"net2","plugins":[{"type":"a"}]}')
    cni.add_network_list(other, stale)
    fx.invocations.clear()

    cni.gc_network_list(net, [GCAttachment("c1", "eth0")])

    assert fx.calls == [("b", Command.DEL), ("a", Command.DEL), ("a", Command.GC),
                        ("b", Command.GC)]
    del_env = fx.invocations[0].env
    assert (del_env["CNI_CONTAINERID"], del_env["CNI_NETNS"], del_env["CNI_IFNAME"],
            del_env["CNI_ARGS"]) == ("old", "/run/netns/old", "eth1", "K=V")
    gc_req = fx.requests(Command.GC)[0]
    valid = [{"containerID": "c1", "ifname": "eth0"}]
    assert gc_req["cni.dev/valid-attachments"] == valid
    assert gc_req["cni.dev/attachments"] == valid
    assert fx.invocations[2].env["CNI_CONTAINERID"] == ""
    left = {(a.network_name, a.container_id) for a in cni.get_cached_attachments()}
    assert left == {("net1", "c1"), ("net2", "old")}


def test_gc_without_valid_list_is_libcni_behaviour(tmp_path: Path) -> None:
    """``valid_attachments=None``: every cached attachment is stale, plugins get no list."""
    cni, fx = make(tmp_path)
    net = chain("a")
    cni.add_network_list(net, RT)
    cni.gc_network_list(net)
    assert fx.calls[1:] == [("a", Command.DEL), ("a", Command.GC)]
    assert "cni.dev/valid-attachments" not in fx.requests(Command.GC)[0]


def test_gc_collects_every_error_and_continues(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations GC: "continue with execution,
    returning all errors to the caller"."""
    def handler(inv: Invocation) -> Any:
        if inv.command is Command.GC and inv.plugin_type == "a":
            return error_reply(5, "ipam store unreadable")
        if inv.command is Command.DEL:
            return error_reply(11, "busy")
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    net = chain("a", "b")
    cni.add_network_list(net, RT)
    with pytest.raises(MultipleErrors) as info:
        cni.gc_network_list(net, [])
    errors = info.value.exceptions
    assert all(isinstance(e, PluginError) for e in errors)
    assert [(e.command, e.msg) for e in errors if isinstance(e, PluginError)] == [
        ("DEL", "busy"), ("GC", "ipam store unreadable")]
    assert ("b", Command.GC) in fx.calls
    assert isinstance(info.value, CNIError)


def test_disable_gc_runs_nothing(tmp_path: Path) -> None:
    """SPEC.md, Section 1: Network configuration format: with disableGC the runtime must not call GC
    (nor delete stale entries)."""
    cni, fx = make(tmp_path)
    net = chain("a", disableGC=True)
    cni.add_network_list(net, RT)
    cni.gc_network_list(net, [])
    assert fx.calls == [("a", Command.ADD)]


# --- validation -------------------------------------------------------------------------------


def test_validate_collects_every_problem(tmp_path: Path) -> None:
    """As libcni's ValidateNetworkList: exact version support per plugin; every error collected."""
    handlers = {"a": lambda inv: version_reply("0.4.0"), "b": lambda inv: version_reply("1.1.0"),
                "c": lambda inv: error_reply(4, "unknown CNI_COMMAND")}
    cni, _ = make(tmp_path, handlers)
    with pytest.raises(MultipleErrors) as info:
        cni.validate_network_list(chain("a", "b", "c", "d"))
    kinds = [type(e) for e in info.value.exceptions]
    assert kinds == [IncompatibleVersionError, PluginError, PluginNotFoundError]


def test_validate_returns_capabilities_in_order(tmp_path: Path) -> None:
    """The declared capabilities, de-duplicated, in order (libcni's order is random)."""
    cni, _ = make(tmp_path)
    assert cni.validate_network_list(net_of(SPEC_CONFIG)) == ("mac", "portMappings")
    plugin = conf_from_bytes(b'{"cniVersion":"1.0","name":"n","type":"a"}', validate=False)
    with pytest.raises(IncompatibleVersionError, match=r'config version "1\.0"'):
        cni.validate_network(plugin)


# --- single-plugin forms ------------------------------------------------------------------


def test_single_plugin_forms_use_the_plugin_name_and_bytes(tmp_path: Path) -> None:
    """libcni AddNetwork: name and version are the plugin's own; its bytes are cached."""
    cni, fx = make(tmp_path)
    data = b'{"cniVersion":"0.4.0","name":"solo","type":"a","x":1}'
    plugin = conf_from_bytes(data, validate=False)
    result = cni.add_network(plugin, RT)
    assert result.cni_version == "0.4.0"
    cni.check_network(plugin, RT)
    cached = cni.get_network_cached_config(plugin, RT)
    assert cached is not None
    assert cached[0] == data
    assert cni.get_network_cached_result(plugin, RT) == result
    cni.del_network(plugin, RT)
    assert [request_of(i)["name"] for i in fx.invocations] == ["solo"] * 3
    assert cni.get_cached_attachments() == ()


def test_empty_plugin_list_is_a_config_error(tmp_path: Path) -> None:
    """An ADD that would attach nothing is refused (libcni returns a nil result)."""
    cni, _ = make(tmp_path)
    with pytest.raises(ConfigError):
        cni.add_network_list(net_of(b'{"cniVersion":"1.1.0","name":"n"}'), RT)


def test_wrong_argument_types_are_typed_errors(tmp_path: Path) -> None:
    """Only typed errors escape, even for arguments of the wrong type."""
    cni, _ = make(tmp_path)
    plugin = conf_from_bytes(b'{"cniVersion":"1.0.0","name":"n","type":"a"}', validate=False)
    with pytest.raises(ConfigError):
        cni.add_network_list(plugin, RT)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        cni.add_network_list(chain("a"), "c1")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifierError):
        cni.gc_network_list(chain("a"), ["c1"])  # type: ignore[list-item]


def test_default_plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``path=None``: CNI_PATH from the environment, else /opt/cni/bin and /usr/lib/cni."""
    monkeypatch.setenv("CNI_PATH", "/a:/b::")
    assert CNIConfig(cache_dir=tmp_path, executor=FakeExecutor()).path == ("/a", "/b")
    monkeypatch.delenv("CNI_PATH")
    assert CNIConfig(cache_dir=tmp_path, executor=FakeExecutor()).path == (
        "/opt/cni/bin", "/usr/lib/cni")
    with pytest.raises(ConfigError):
        CNIConfig(["/a\x00b"], tmp_path, executor=FakeExecutor())


# --- observability ----------------------------------------------------------------------------


def test_hook_sees_every_invocation(tmp_path: Path) -> None:
    """``on_invocation`` gets a record per run, rollback runs marked; its failures are logged."""
    records: list[InvocationRecord] = []
    cni, _ = make(tmp_path, _fail_b, on_invocation=records.append)
    with pytest.raises(AddError):
        cni.add_network_list(chain("a", "b"), RT)
    assert [(r.invocation.plugin_type, r.invocation.command, r.rollback, r.error is None)
            for r in records] == [("a", Command.ADD, False, True), ("b", Command.ADD, False, False),
                                  ("b", Command.DEL, True, True), ("a", Command.DEL, True, True)]
    assert records[1].completed is not None
    assert records[1].completed.exit_status == 1
    assert records[0].network == "net1"

    def broken(record: InvocationRecord) -> None:
        raise RuntimeError("metrics backend down")

    cni2, _ = make(tmp_path, on_invocation=broken)
    cni2.add_network_list(chain("a"), RuntimeConf("c9", "/n", "eth0"))  # no exception


def test_logging_info_per_run_and_exact_stdin_env_at_debug(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Logger "cnilib": one INFO line per run (plugin, verb, status, duration); DEBUG adds the
    exact stdin and environment."""
    cni, fx = make(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="cnilib"):
        cni.add_network_list(chain("a"), RT)
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(info) == 1
    assert "ADD a" in info[0].getMessage()
    assert "exit status 0" in info[0].getMessage()
    debug = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert fx.invocations[0].stdin.decode() in debug
    assert "'CNI_ARGS': 'argA=foo'" in debug


def test_trace_context_reaches_plugins(tmp_path: Path) -> None:
    """W3C trace context becomes TRACEPARENT/TRACESTATE/BAGGAGE; the call's beats the rt's."""
    cni, fx = make(tmp_path)
    rt = RuntimeConf("c1", "/n", "eth0", trace_context={"traceparent": TRACEPARENT})
    cni.add_network_list(chain("a"), rt)
    assert fx.invocations[0].env["TRACEPARENT"] == TRACEPARENT
    other = "00-11111111111111111111111111111111-2222222222222222-00"
    cni.get_status_network_list(chain("a"), trace_context={"traceparent": other,
                                                           "baggage": "k=v"})
    assert (fx.invocations[1].env["TRACEPARENT"], fx.invocations[1].env["BAGGAGE"]) == (
        other, "k=v")
    with pytest.raises(InvalidIdentifierError):
        cni.del_network_list(chain("a"), rt, trace_context={"traceparent": "garbage"})
    assert len(fx.invocations) == 2


# --- concurrency ------------------------------------------------------------------------------


def test_distinct_containers_run_in_parallel(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: parallel operations for different
    containers are allowed: four ADDs meet in the plugin at the same time (a barrier that serialised
    calls would break)."""
    barrier = threading.Barrier(4, timeout=10)

    def handler(inv: Invocation) -> Any:
        if inv.command is Command.ADD:
            barrier.wait()
        return default_handler(inv)

    cni, _ = make(tmp_path, handler)
    errors: list[BaseException] = []

    def attach(i: int) -> None:
        try:
            cni.add_network_list(chain("a"), RuntimeConf(f"c{i}", "/n", "eth0"))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=attach, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(cni.get_cached_attachments()) == 4


def test_same_attachment_is_serialised(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: no parallel operations for the same
    container: never two at once."""
    lock = threading.Lock()
    active = [0, 0]  # current, maximum

    def handler(inv: Invocation) -> Any:
        with lock:
            active[0] += 1
            active[1] = max(active)
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return default_handler(inv)

    cni, _ = make(tmp_path, handler)
    net = chain("a", "b")
    def refused_or_done(op: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with contextlib.suppress(AttachmentExistsError):  # an ADD over a live one
                op()
        return run

    ops = [lambda: cni.add_network_list(net, RT), lambda: cni.check_network_list(net, RT),
           lambda: cni.del_network_list(net, RT), lambda: cni.add_network_list(net, RT)]
    threads = [threading.Thread(target=refused_or_done(op)) for op in ops * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert active[1] == 1


def test_gc_runs_exclusively(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: no ADD or DEL while GC runs; an ADD
    waits for GC to finish."""
    in_gc = threading.Event()
    release = threading.Event()

    def handler(inv: Invocation) -> Any:
        if inv.command is Command.GC:
            in_gc.set()
            assert release.wait(10)
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    net = chain("a")
    gc = threading.Thread(target=cni.gc_network_list, args=(net, []))
    gc.start()
    assert in_gc.wait(10)
    add = threading.Thread(target=cni.add_network_list, args=(net, RT))
    add.start()
    time.sleep(0.2)
    assert ("a", Command.ADD) not in fx.calls
    release.set()
    gc.join(10)
    add.join(10)
    assert fx.calls == [("a", Command.GC), ("a", Command.ADD)]


def test_lock_wait_is_bounded_by_the_deadline(tmp_path: Path) -> None:
    """G7: the attachment lock is waited for at most the operation's budget."""
    cni, fx = make(tmp_path)
    with cni.cache.lock("net1", "c1", "eth0"), pytest.raises(LockTimeoutError):
        cni.add_network_list(chain("a"), RT, timeout=0.2)
    assert fx.calls == []


def test_executor_surprises_are_typed(tmp_path: Path) -> None:
    """A broken executor (here: a handler raising) still yields a typed error."""
    def boom(inv: Invocation) -> Any:
        raise RuntimeError("exec went wrong")

    cni, _ = make(tmp_path, boom)
    with pytest.raises(AddError) as info:
        cni.add_network_list(chain("a"), RT)
    assert "exec went wrong" in str(info.value.cause)
    # it never started, so there is nothing to roll back
    assert info.value.rolled_back == ()
    assert not os.path.exists(cni.cache.path_for("net1", "c1", "eth0"))


def test_success_builder_round_trip() -> None:
    """cnilib.testing's builders produce what the reply parser expects."""
    done = success(make_result("0.2.0"))
    assert done.exit_status == 0
    assert loads(done.stdout) == {"cniVersion": "0.2.0",
                                  "ip4": {"ip": "10.0.0.2/24", "gateway": "10.0.0.1"},
                                  "dns": {}}


def test_interrupted_add_is_rolled_back_before_the_interrupt_goes_through(
        tmp_path: Path) -> None:
    """A KeyboardInterrupt during a plugin run is handled like a failure: the plugins that
    were started are undone in reverse, then the interrupt propagates; nothing is cached."""
    def handler(inv: Invocation) -> Any:
        if inv.plugin_type == "b" and inv.command is Command.ADD:
            raise KeyboardInterrupt
        return default_handler(inv)

    cni, fx = make(tmp_path, handler)
    with pytest.raises(KeyboardInterrupt):
        cni.add_network_list(chain("a", "b", "c"), RT)
    assert fx.calls == [("a", Command.ADD), ("b", Command.ADD), ("b", Command.DEL),
                        ("a", Command.DEL)]
    assert cni.cache.load("net1", "c1", "eth0") is None
    cni.add_network_list(chain("a"), RT, timeout=5)  # the lock was released


def test_attachment_lock_holds_across_processes(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations serialisation holds between
    processes: while another process holds the attachment, an ADD waits (here until its deadline),
    and no plugin runs meanwhile."""
    import subprocess
    import sys

    holder = (
        "import sys\n"
        "from cnilib.cache import ResultCache\n"
        f"with ResultCache({str(tmp_path / 'cache')!r}).lock('net1', 'c1', 'eth0'):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    child = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": root})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        cni, fx = make(tmp_path)
        with pytest.raises(LockTimeoutError):
            cni.add_network_list(chain("a"), RT, timeout=0.3)
        assert fx.calls == []
        cni.add_network_list(chain("a"), RuntimeConf("c2", "/n", "eth0"), timeout=5)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    cni.add_network_list(chain("a"), RT, timeout=5)
    assert fx.calls[-1] == ("a", Command.ADD)


def test_gc_lists_and_syncs_the_cache_folder_as_often_for_many_stale_entries_as_for_few(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GC pass costs in proportion to its stale entries: each delete neither lists the
    folder for temp files nor syncs it; the pass's sweep does both, once."""
    def calls_of_one_gc(stale: int) -> tuple[int, int]:
        cni, _ = make(tmp_path / str(stale))
        net = chain("a")
        for i in range(stale):
            cni.add_network_list(net, RuntimeConf(f"c{i}", "/n", "eth0"))
        counts = [0, 0]
        real_listdir, real_fsync = os.listdir, os.fsync

        def listdir(path: Any = ".") -> list[str]:
            counts[0] += 1
            return real_listdir(path)

        def fsync(fd: int) -> None:
            counts[1] += 1
            real_fsync(fd)

        with monkeypatch.context() as patch:
            patch.setattr(os, "listdir", listdir)
            patch.setattr(os, "fsync", fsync)
            cni.gc_network_list(net, [])
        assert cni.get_cached_attachments() == ()
        return counts[0], counts[1]

    assert calls_of_one_gc(3) == calls_of_one_gc(30)


def test_check_and_del_read_the_cache_entry_once(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """What CHECK and DEL take from the entry (its arguments and its result) comes from one
    read: for a large result each read is a whole parse."""
    from cnilib.cache import ResultCache

    cni, _ = make(tmp_path)
    net = chain("a", "b")
    rt = RuntimeConf("c1", "/var/run/netns/blue", "eth0")  # no arguments: they are replayed
    cni.add_network_list(net, rt)
    loads: list[tuple[str, str, str]] = []
    real_load = ResultCache.load

    def load(self: ResultCache, network: str, container_id: str, ifname: str) -> Any:
        loads.append((network, container_id, ifname))
        return real_load(self, network, container_id, ifname)

    monkeypatch.setattr(ResultCache, "load", load)
    cni.check_network_list(net, rt)
    assert loads == [("net1", "c1", "eth0")]
    loads.clear()
    cni.del_network_list(net, rt)
    assert loads == [("net1", "c1", "eth0")]


def _os_calls(run: Callable[[], object], monkeypatch: pytest.MonkeyPatch,
              names: tuple[str, ...]) -> dict[str, int]:
    """How many times ``run()`` called each of the ``os`` functions ``names``."""
    counts = dict.fromkeys(names, 0)
    with monkeypatch.context() as patch:
        for name in names:
            real = getattr(os, name)

            def counting(*a: Any, _name: str = name, _real: Any = real, **k: Any) -> Any:
                counts[_name] += 1
                return _real(*a, **k)

            patch.setattr(os, name, counting)
        run()
    return counts


def test_only_the_add_result_is_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cache.md, "Which writes are synced, and why": ADD syncs its result entry (the
    file, then the folder after the rename) and nothing else; its ADD-in-progress record,
    CHECK, DEL and GC sync nothing."""
    cni, _ = make(tmp_path)
    net = chain("a", "b")
    cni.add_network_list(net, RuntimeConf("warm", "/n", "eth0"))  # the folders are made once
    rt = RuntimeConf("c1", "/n", "eth0")
    verbs: list[tuple[str, Callable[[], object]]] = [
        ("ADD", lambda: cni.add_network_list(net, rt)),
        ("CHECK", lambda: cni.check_network_list(net, rt)),
        ("DEL", lambda: cni.del_network_list(net, rt)),
        ("GC", lambda: cni.gc_network_list(net, [])),
    ]
    synced = {verb: _os_calls(run, monkeypatch, ("fsync",))["fsync"] for verb, run in verbs}
    assert synced == {"ADD": 2, "CHECK": 0, "DEL": 0, "GC": 0}
    assert cni.get_cached_attachments() == ()


def test_an_attachment_lock_file_lives_as_long_as_the_attachment(tmp_path: Path) -> None:
    """docs/cache.md, "Locks": ADD makes the lock file and CHECK keeps it (no file made and
    removed per operation); the DEL that removes the entry removes it, and so does an ADD that
    failed and was rolled back (neither an entry nor a record is left)."""
    from cnilib._cache.locks import attachment_lock_name

    def handler(inv: Invocation) -> Any:
        if inv.command is Command.ADD and inv.plugin_type == "b":
            return error_reply(11, "busy", "try later")
        return default_handler(inv)

    cni, _ = make(tmp_path, {"a": default_handler, "b": handler})
    locks = tmp_path / "cache" / "locks"
    rt = RuntimeConf("c1", "/n", "eth0")
    kept = locks / attachment_lock_name("net1", "c1", "eth0")
    cni.add_network_list(chain("a"), rt)
    assert kept.exists()
    inode = kept.stat().st_ino
    cni.check_network_list(chain("a"), rt)
    assert kept.stat().st_ino == inode
    cni.del_network_list(chain("a"), rt)
    assert not kept.exists()
    with pytest.raises(AddError):
        cni.add_network_list(chain("a", "b"), rt)
    assert sorted(os.listdir(locks)) == ["gc"]


def test_system_calls_per_verb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each operation opens the cache root and its folders once (not once per step) and
    keeps its attachment's lock file: per verb, at most these opens (25, 9 and 20 before),
    no stat, and one lock file made and removed per attachment rather than per operation."""
    cni, _ = make(tmp_path)
    net = chain("a", "b", "c")
    cni.add_network_list(net, RuntimeConf("warm", "/n", "eth0"))  # the folders are made once
    rt = RuntimeConf("c1", "/n", "eth0")
    names = ("open", "stat", "unlink", "fsync")
    got = {verb: _os_calls(functools.partial(getattr(cni, f"{verb.lower()}_network_list"),
                                             net, rt), monkeypatch, names)
           for verb in ("ADD", "CHECK", "DEL")}
    assert got == {
        # lock folder, GC lock's gate (a look: absent, no GC waits), GC lock, lock file, root,
        # results/ and inprogress/ once each; the entry and the record looked up, then each
        # written (a read of its owner and a temp file)
        # unlink: a crash's temp file of the record, by name (no folder listing), the record
        "ADD": {"open": 13, "stat": 0, "unlink": 2, "fsync": 2},
        "CHECK": {"open": 7, "stat": 0, "unlink": 0, "fsync": 0},
        # unlink: a crash's temp file of the entry, by name; the entry; the lock file
        "DEL": {"open": 9, "stat": 0, "unlink": 3, "fsync": 0},
    }
