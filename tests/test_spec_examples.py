"""The examples of SPEC.md, run as data (jsonschema's test-suite habit).

``tests/data/spec/`` holds every JSON example of SPEC.md (spec 1.1.0, Apache-2.0), extracted
verbatim with the ``//`` comments of the jsonc blocks removed; ``manifest.json`` says which
SPEC.md line each came from and what it is. The suite checks that:

* the example network configuration loads, and every example result, error and VERSION reply
  parses as what it is;
* running that configuration through :class:`cnilib.CNIConfig` (with the appendix's capability
  arguments, and fake plugins that reply what the appendix says they reply) sends each plugin
  exactly the request configuration the appendix shows, for ADD, CHECK and DEL, in the
  appendix's order.

Two places where SPEC.md's own examples are loose are compared loosely, on purpose:

* The appendix's requests to ``bridge`` drop ``ipam.routes``, which the configuration has;
  SPEC.md, Section 3: Execution of Network Configurations says other fields are "passed through
  unaltered", so cnilib sends them and the comparison treats an example object as a subset of what
  was sent.
* ``prevResult`` in the appendix carries no ``cniVersion``; results are compared as parsed
  values, which a missing version does not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnilib import (
    AddError,
    CNIConfig,
    Command,
    Completed,
    ConfigValidationError,
    PluginError,
    RuntimeConf,
    conflist_from_bytes,
    parse_plugin_info,
    parse_result,
)
from cnilib.testing import FakeExecutor, request_of

DATA = Path(__file__).resolve().parent / "data" / "spec"
MANIFEST: list[dict[str, Any]] = json.loads((DATA / "manifest.json").read_text())


def example(kind: str) -> list[dict[str, Any]]:
    """The manifest entries of one kind."""
    return [e for e in MANIFEST if e["kind"] == kind]


def load(entry: dict[str, Any]) -> Any:
    """An example's JSON value."""
    return json.loads((DATA / entry["file"]).read_bytes())


def test_manifest_covers_every_file() -> None:
    files = sorted(p.name for p in DATA.glob("*.json") if p.name != "manifest.json")
    assert files == sorted(e["file"] for e in MANIFEST)


def test_network_configuration_loads() -> None:
    """SPEC.md, section "Example configuration" loads, at the highest version it lists."""
    (entry,) = example("netconflist")
    net = conflist_from_bytes((DATA / entry["file"]).read_bytes())
    assert (net.name, net.cni_version) == ("dbnet", "1.1.0")
    assert [p.type for p in net.plugins] == ["bridge", "tuning", "portmap"]
    assert net.warnings == ()


@pytest.mark.parametrize("entry", example("result"), ids=lambda e: e["file"])
def test_results_parse_and_round_trip(entry: dict[str, Any]) -> None:
    """SPEC.md, section "ADD Success": every example result parses (as 1.1.0) and re-serialises
    equal."""
    result = parse_result(load(entry), "1.1.0")
    assert result.cni_version == "1.1.0"
    assert parse_result(result.to_json()) == result


@pytest.mark.parametrize("entry", example("version"), ids=lambda e: e["file"])
def test_version_replies_parse(entry: dict[str, Any]) -> None:
    """SPEC.md, section "VERSION Success": the examples decode to their versions."""
    doc = load(entry)
    info = parse_plugin_info(json.dumps(doc))
    assert info.supported_versions == tuple(doc["supportedVersions"])


def test_error_example_reaches_the_caller(tmp_path: Path) -> None:
    """SPEC.md, section "Error": a plugin that fails prints the error on stdout and exits non-zero;
    its code, msg and details reach the runtime."""
    (entry,) = example("error")
    doc = load(entry)
    (conf,) = example("netconflist")
    net = conflist_from_bytes((DATA / conf["file"]).read_bytes())
    failing = Completed(exit_status=1, stdout=json.dumps(doc).encode(), stderr=b"",
                        duration=0.01)
    fake = FakeExecutor(lambda inv: failing if inv.command is Command.ADD else None)
    cni = CNIConfig(["/opt/cni/bin"], cache_dir=str(tmp_path), executor=fake)
    with pytest.raises(AddError) as exc:
        cni.add_network_list(net, RuntimeConf("c", "/var/run/netns/blue", "eth0"))
    err = exc.value.cause
    assert isinstance(err, PluginError)
    assert (int(err.code), err.msg, err.details) == (doc["code"], doc["msg"], doc["details"])
    assert (err.plugin, err.command) == ("bridge", "ADD")
    # The failed bridge ADD was rolled back (SPEC.md, Section 2: Execution Protocol: DEL must clean
    # up after a failed ADD).
    assert fake.calls == [("bridge", Command.ADD), ("bridge", Command.DEL)]


def test_capabilities_example_is_a_plugin_configuration() -> None:
    """SPEC.md, section "Deriving runtimeConfig": the capabilities example is a valid plugin
    object."""
    (entry,) = example("plugin")
    doc = load(entry)
    net = conflist_from_bytes(json.dumps(
        {"cniVersion": "1.1.0", "name": "n", "plugins": [doc]}).encode())
    assert dict(net.plugins[0].capabilities) == {"portMappings": True}


def test_invalid_capabilities_are_refused() -> None:
    """SPEC.md, Section 1: Network configuration format: capabilities map names to booleans."""
    bad = {"cniVersion": "1.1.0", "name": "n",
           "plugins": [{"type": "p", "capabilities": {"mac": "yes"}}]}
    with pytest.raises(ConfigValidationError) as exc:
        conflist_from_bytes(json.dumps(bad).encode())
    assert any("/plugins/0/capabilities" in p.pointer for p in exc.value.errors)


def contains(expected: Any, actual: Any) -> bool:
    """``expected`` is ``actual``, or (objects) a subset of it, recursively."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and contains(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def assert_request(expected: dict[str, Any], sent: dict[str, Any]) -> None:
    """The request cnilib sent matches the appendix's, as the module docstring explains."""
    assert sorted(expected) == sorted(sent)
    for key, value in expected.items():
        if key == "prevResult":
            assert parse_result(value, "1.1.0") == parse_result(sent[key], "1.1.0")
        else:
            assert contains(value, sent[key]), key


def test_appendix_add_check_del(tmp_path: Path) -> None:
    """SPEC Appendix: the runtime derives exactly the request configurations shown.

    "For this attachment, the runtime produces portmap and mac capability args, along with the
    generic argument argA=foo. The examples uses CNI_IFNAME=eth0."
    """
    (conf,) = example("netconflist")
    net = conflist_from_bytes((DATA / conf["file"]).read_bytes())
    replies = {e["plugin"]: load(e) for e in example("plugin-result")}
    # portmap "outputs the exact same result as that returned by" tuning.
    replies["portmap"] = replies["tuning"]

    def handler(inv: Any) -> Any:
        if inv.command is Command.ADD:
            return dict(replies[inv.plugin_type], cniVersion="1.1.0")
        return None

    fake = FakeExecutor({"bridge": handler, "tuning": handler, "portmap": handler})
    cni = CNIConfig(["/opt/cni/bin"], cache_dir=str(tmp_path), executor=fake)
    rt = RuntimeConf(
        "example", "/var/run/netns/blue", "eth0", args=(("argA", "foo"),),
        capability_args={
            "mac": "00:11:22:33:44:66",
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        },
    )
    final = cni.add_network_list(net, rt)
    assert final == parse_result(replies["tuning"], "1.1.0")
    cni.check_network_list(net, rt)
    cni.del_network_list(net, rt)

    requests = example("request")
    assert [(i.plugin_type, i.command.value) for i in fake.invocations] == [
        (e["plugin"], e["command"]) for e in requests]
    for entry, inv in zip(requests, fake.invocations, strict=True):
        assert_request(load(entry), request_of(inv))
        assert inv.env["CNI_ARGS"] == "argA=foo"
        assert inv.env["CNI_IFNAME"] == "eth0"
