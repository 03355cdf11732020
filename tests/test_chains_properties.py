"""Spec sentences about chains, stated as properties of the pure plans.

The plans are driven by an in-memory driver (a dict for the cache, functions for plugins): no
process, no file. Each test's docstring is the SPEC.md sentence it checks.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._json import JSON, JSONObject, dumps
from cnilib._plans import chains, netops, steps
from cnilib._plans.replies import check_reply, parse_add_reply, parse_version_reply, reply_error
from cnilib.api import CNIConfig
from cnilib.config import conflist_from_bytes
from cnilib.errors import AddError, CNIError, MultipleErrors, PluginError
from cnilib.protocol import Command, Completed, Invocation, RuntimeConf, build_request
from cnilib.testing import FakeExecutor, default_handler, error_reply, request_of

RT = RuntimeConf("c1", "/var/run/netns/c1", "eth0", [("A", "1")], {"mac": "02:00:00:00:00:09"})

names = st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True)
chains_of = st.lists(names, min_size=1, max_size=6, unique=True)
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(
    allow_nan=False, allow_infinity=False)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)
RESERVED = {"cniVersion", "name", "capabilities", "runtimeConfig", "prevResult"}
plain_keys = st.text(min_size=1, max_size=10).filter(
    lambda k: k not in RESERVED and not k.startswith("cni.dev/"))
Handler = Callable[[Invocation], Completed]


def net_of(types: list[str], version: str = "1.1.0") -> steps.Net:
    doc: JSONObject = {"cniVersion": version, "name": "net1",
           "plugins": [{"type": t, "capabilities": {"mac": True}} for t in types]}
    return steps.Net.of_list(conflist_from_bytes(dumps(doc), validate=False))


def ok(inv: Invocation) -> Completed:
    reply = default_handler(inv)
    return Completed(0, dumps(reply) if isinstance(reply, dict) else b"", b"", 0.0)


class Memory:
    """An in-memory driver for the plans: the cache is a dict, plugins are functions."""

    def __init__(self, handler: Handler = ok) -> None:
        self.handler = handler
        self.cache: dict[tuple[str, str, str], Any] = {}
        self.runs: list[Invocation] = []

    def drive(self, plan: Generator[steps.Step, object, Any]) -> Any:
        outcome: object = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = self.perform(step)

    def perform(self, step: steps.Step) -> object:
        if isinstance(step, steps.Find):
            return f"/bin/{step.plugin_type}"
        if isinstance(step, steps.Run):
            self.runs.append(step.invocation)
            return self.handler(step.invocation)
        if isinstance(step, steps.SaveCache):
            self.cache[(step.network, step.container_id, step.ifname)] = step
        elif isinstance(step, steps.DeleteCache):
            self.cache.pop((step.network, step.container_id, step.ifname), None)
        elif isinstance(step, steps.LoadCache):
            return self.cache.get((step.network, step.container_id, step.ifname))
        elif isinstance(step, steps.ListCache):
            return tuple(_Entry(s) for s in self.cache.values())
        return None

    def calls(self, command: Command) -> list[str]:
        return [i.plugin_type for i in self.runs if i.command is command]


class _Entry:
    def __init__(self, step: steps.SaveCache) -> None:
        self.network_name, self.container_id, self.ifname = (
            step.network, step.container_id, step.ifname)
        self.netns, self.cni_args = step.netns, step.cni_args
        self.capability_args, self.result, self.config = (
            step.capability_args, step.result, step.config)


CHAIN = steps.Chain(paths=("/bin",))


@given(chains_of)
def test_del_runs_in_reverse_order(types: list[str]) -> None:
    """DEL executes the plugins in reverse order (SPEC.md, section "Deleting an attachment":
    "The list of plugins is executed in reverse order")."""
    mem = Memory()
    net = net_of(types)
    mem.drive(chains.add(net, RT, CHAIN))
    mem.drive(chains.check(net, RT, CHAIN))
    mem.drive(chains.delete(net, RT, CHAIN))
    assert mem.calls(Command.ADD) == types
    assert mem.calls(Command.CHECK) == types
    assert mem.calls(Command.DEL) == types[::-1]


@given(chains_of)
def test_check_and_del_get_the_final_add_result(types: list[str]) -> None:
    """The previous result provided is always the final result of the add operation
    (SPEC.md, section "Deleting an attachment" and "Checking")."""
    mem = Memory()
    net = net_of(types)
    final = mem.drive(chains.add(net, RT, CHAIN)).to_dict()
    mem.drive(chains.check(net, RT, CHAIN))
    mem.drive(chains.delete(net, RT, CHAIN))
    later = [request_of(i) for i in mem.runs if i.command is not Command.ADD]
    assert [r["prevResult"] for r in later] == [final] * (2 * len(types))
    assert mem.cache == {}


@given(chains_of)
def test_first_add_has_no_prev_result(types: list[str]) -> None:
    """prevResult: "This field must not be set for the first add in a chain"; every later ADD
    gets the result of the previous plugin (SPEC.md, Section 3: Execution of Network
    Configurations)."""
    mem = Memory()
    mem.drive(chains.add(net_of(types), RT, CHAIN))
    requests = [request_of(i) for i in mem.runs]
    assert "prevResult" not in requests[0]
    assert all("prevResult" in r for r in requests[1:])


@given(chains_of, st.data())
def test_add_halts_at_the_first_error(types: list[str], data: st.DataObject) -> None:
    """"If the plugin returns an error, halt execution and return the error to the caller"
    (SPEC.md, section "Adding an attachment"); cnilib then rolls back what ran, in reverse."""
    bad = data.draw(st.sampled_from(types))

    def handler(inv: Invocation) -> Completed:
        if inv.plugin_type == bad and inv.command is Command.ADD:
            return error_reply(7, "nope")
        return ok(inv)

    mem = Memory(handler)
    with pytest.raises(AddError) as info:
        mem.drive(chains.add(net_of(types), RT, CHAIN))
    ran = types[: types.index(bad) + 1]
    assert mem.calls(Command.ADD) == ran
    assert mem.calls(Command.DEL) == ran[::-1]
    assert info.value.rolled_back == tuple(ran[::-1])
    assert mem.cache == {}


@given(chains_of, st.data())
def test_gc_continues_and_returns_all_errors(types: list[str], data: st.DataObject) -> None:
    """GC: "If the plugin returns an error, continue with execution, returning all errors to
    the caller" (SPEC.md, section "Garbage-collecting a network")."""
    failing = data.draw(st.sets(st.sampled_from(types)))

    def handler(inv: Invocation) -> Completed:
        if inv.plugin_type in failing:
            return error_reply(5, f"{inv.plugin_type} failed")
        return ok(inv)

    mem = Memory(handler)
    errors: tuple[BaseException, ...] = ()
    try:
        mem.drive(netops.gc(net_of(types), [], CHAIN))
    except MultipleErrors as group:
        errors = tuple(group.exceptions)
    plugins = [e.plugin for e in errors if isinstance(e, PluginError)]
    assert len(plugins) == len(errors)
    assert sorted(plugins) == sorted(failing)
    assert mem.calls(Command.GC) == types


@given(st.dictionaries(names, st.booleans(), max_size=5),
       st.dictionaries(names, json_values, max_size=5))
def test_runtime_config_is_the_intersection(caps: dict[str, bool],
                                            args: dict[str, JSON]) -> None:
    """"Any capability supported by the plugin configuration and provided by the runtime
    should be inserted in the runtimeConfig" (SPEC.md, section "Deriving runtimeConfig")."""
    request = build_request({"type": "t", "capabilities": dict(caps)}, command=Command.ADD,
                            name="n", cni_version="1.1.0", capabilities=caps,
                            capability_args=args)
    expected = {k: v for k, v in args.items() if caps.get(k) is True}
    assert request.get("runtimeConfig", {}) == expected
    assert "capabilities" not in request


@given(st.dictionaries(plain_keys, json_values, max_size=6), st.sampled_from(list(Command)))
def test_other_fields_pass_through_unaltered(extra: JSONObject, command: Command) -> None:
    """"The following fields are always to be inserted ...: cniVersion, name" and "All other
    fields not prefixed with cni.dev/ should be passed through unaltered" (SPEC.md, Section 3:
    Execution of Network Configurations)."""
    plugin: JSONObject = {"type": "t", **extra, "name": "stale", "cniVersion": "0.1.0",
                          "cni.dev/x": 1}
    request = build_request(plugin, command=command, name="net", cni_version="1.1.0")
    assert (request["name"], request["cniVersion"]) == ("net", "1.1.0")
    assert {k: v for k, v in request.items() if k not in ("name", "cniVersion")} == {
        "type": "t", **extra}


completions = st.builds(
    Completed,
    exit_status=st.integers(-64, 300),
    stdout=st.one_of(st.binary(max_size=64), json_values.map(dumps),
                     st.fixed_dictionaries({"code": json_values, "msg": json_values}).map(dumps),
                     st.fixed_dictionaries({"cniVersion": st.sampled_from(
                         ["", "0.2.0", "0.4.0", "1.0.0", "9.9"]), "ips": json_values}).map(dumps)),
    stderr=st.binary(max_size=32),
    duration=st.floats(0, 10),
    timed_out=st.booleans(),
    truncated=st.booleans(),
)


@given(completions, st.sampled_from(list(Command)), st.sampled_from(["", "0.3.1", "1.0.0"]))
def test_only_typed_errors_escape_reply_parsing(done: Completed, command: Command,
                                                version: str) -> None:
    """SPEC.md, section "Error": whatever a plugin writes, the runtime gets a result or a CNI
    error."""
    inv = Invocation("p", "/bin/p", command, b"{}", {})
    err = reply_error(inv, done)
    assert err is None or (err.plugin, err.command) == ("p", str(command))
    for parse in (lambda: parse_add_reply(inv, done, version),
                  lambda: parse_version_reply(inv, done), lambda: check_reply(inv, done)):
        with contextlib.suppress(CNIError):
            parse()


@given(st.lists(completions, min_size=3, max_size=3))
def test_only_typed_errors_escape_a_chain(replies: list[Completed]) -> None:
    """SPEC.md, section "Errors": a plugin signals failure by exit code and error structure;
    whatever three plugins reply, ADD, CHECK and DEL through CNIConfig end in a result or a
    CNIError."""
    script = iter(replies * 3)

    def handler(inv: Invocation) -> Completed:
        return next(script, replies[0])

    net = conflist_from_bytes(dumps({"cniVersion": "1.0.0", "name": "n", "plugins": [
        {"type": "a"}, {"type": "b"}, {"type": "c"}]}), validate=False)
    with tempfile.TemporaryDirectory() as cache:
        cni = CNIConfig(["/bin"], cache, executor=FakeExecutor(handler))
        for op in (cni.add_network_list, cni.check_network_list, cni.del_network_list):
            with contextlib.suppress(CNIError):
                op(net, RT)
