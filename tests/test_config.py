"""Network configuration loading (SPEC.md "Network configuration format"; libcni/conf.go)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._json import JSON, dumps, loads
from cnilib.config import (
    MAX_CONFIG_SIZE,
    NetworkConfigList,
    PluginConfig,
    conf_files,
    conf_from_bytes,
    conf_from_file,
    conflist_from_bytes,
    conflist_from_conf,
    conflist_from_file,
    describe,
    inject_conf,
    load_conf,
    load_conflist,
)
from cnilib.errors import (
    CNIError,
    ConfigError,
    ConfigNotFoundError,
    ConfigValidationError,
    InvalidJSONError,
    NoConfigsFoundError,
    Severity,
)
from cnilib.testing.strategies import json_values

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

BRIDGE = b"""{
  "cniVersion": "1.0.0",
  "name": "dbnet",
  "type": "bridge",
  "bridge": "cni0",
  "big": 12345678901234567890,
  "f": 1.0,
  "capabilities": {"mac": true, "portMappings": false},
  "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"},
  "dns": {"nameservers": ["10.1.0.1"]}
}
"""


def write(path: Path, doc: JSON | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    return path


def conflist(*plugins: JSON, name: str = "net", **extra: JSON) -> bytes:
    return json.dumps({"cniVersion": "1.0.0", "name": name, **extra,
                       "plugins": list(plugins)}).encode()


# -- one plugin -----------------------------------------------------------------------------


def test_conf_from_bytes_keeps_the_bytes_and_reads_the_protocol_keys() -> None:
    conf = conf_from_bytes(BRIDGE, source="10-x.conf")
    assert (conf.type, conf.name, conf.cni_version) == ("bridge", "dbnet", "1.0.0")
    assert conf.capabilities == {"mac": True, "portMappings": False}
    assert conf.ipam == {"type": "host-local", "subnet": "10.1.0.0/16"}
    assert conf.dns == {"nameservers": ["10.1.0.1"]}
    assert conf.bytes == BRIDGE
    assert conf.source == "10-x.conf"
    assert conf.raw["big"] == 12345678901234567890


def test_conf_from_text() -> None:
    assert conf_from_bytes(BRIDGE.decode()).bytes == BRIDGE


def test_absent_optional_keys() -> None:
    conf = conf_from_bytes(b'{"type":"loopback"}')
    assert (conf.name, conf.cni_version, conf.capabilities,
                                        conf.ipam, conf.dns) == ("", "", {}, None, None)


def test_null_protocol_keys_are_go_zero_values() -> None:
    conf = conf_from_bytes(b'{"type":"x","name":null,"ipam":null,"capabilities":{"a":null}}',
                           validate=False)
    assert (conf.name, conf.ipam, conf.capabilities) == ("", None, {"a": False})


def test_missing_type_is_located() -> None:
    with pytest.raises(ConfigValidationError) as info:
        conf_from_bytes(b'\n  {"name": "x"}', source="a.conf")
    (problem,) = info.value.problems
    found = (problem.pointer, problem.message, problem.file, problem.line, problem.column)
    assert found == ("", "missing 'type'", "a.conf", 2, 3)
    assert info.value.msg == "a.conf:2:3: error parsing configuration: missing 'type'"


@pytest.mark.parametrize(
    ("doc", "pointer"),
    [
        ('{"type": "x", "ipam": "host-local"}', "/ipam"),
        ('{"type": "x", "ipam": {"type": 3}}', "/ipam/type"),
        ('{"type": "x", "capabilities": ["mac"]}', "/capabilities"),
        ('{"type": "x", "capabilities": {"a/b": 1}}', "/capabilities/a~1b"),
        ('{"type": "x", "dns": {"nameservers": "10.0.0.1"}}', "/dns/nameservers"),
        ('{"type": "x", "dns": {"domain": 1}}', "/dns/domain"),
        ('{"type": "x", "prevResult": []}', "/prevResult"),
        ('{"type": "x", "cni.dev/valid-attachments": [{"ifname": 1}]}',
         "/cni.dev~1valid-attachments/0"),
        ('{"type": "x", "name": 1}', "/name"),
        ('{"type": "x", "cniVersion": true}', "/cniVersion"),
        ('{"type": 3}', "/type"),
        ("[1]", ""),
    ],
)
def test_field_types_libcni_refuses(doc: str, pointer: str) -> None:
    for validate in (True, False):
        with pytest.raises(ConfigValidationError) as info:
            conf_from_bytes(doc, source="f.conf", validate=validate)
        problem = info.value.problems[0]
        assert (pointer, "f.conf", 1) == (problem.pointer, problem.file, problem.line)
        assert problem.column is not None


def test_problem_columns_point_at_the_member() -> None:
    doc = b'{\n  "type": "x",\n  "ipam":   "host-local"\n}'
    with pytest.raises(ConfigValidationError) as info:
        conf_from_bytes(doc, validate=False)
    problem = info.value.problems[0]
    assert (problem.line, problem.column) == (3, 3)  # at the key, where an editor goes


@pytest.mark.parametrize("kind", ["../../bin/sh", "/bin/sh", "a\\b", "..", "x\u0000", "-rf", ""])
def test_unsafe_plugin_types_are_refused_at_load(kind: str) -> None:
    doc = dumps({"type": kind, "name": "n"})
    with pytest.raises(ConfigValidationError) as info:
        conf_from_bytes(doc, validate=False)
    assert info.value.problems[0].pointer in ("/type", "")


@pytest.mark.parametrize("kind", ["../ipam", "/usr/bin/x", "a\\b", ".."])
def test_ipam_types_that_are_paths_are_refused(kind: str) -> None:
    with pytest.raises(ConfigValidationError) as info:
        conf_from_bytes(dumps({"type": "bridge", "ipam": {"type": kind}}), validate=False)
    problem = info.value.problems[0]
    assert (problem.pointer, problem.rule) == ("/ipam/type", "plugin-type")


def test_invalid_json_is_located() -> None:
    with pytest.raises(InvalidJSONError) as info:
        conf_from_bytes(b'{"type": "x",\n}', source="bad.conf")
    assert (info.value.file, info.value.line, info.value.column) == ("bad.conf", 2, 1)


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf{}", b"\xff", b"", b"NaN", "\ud800", 5])
def test_undecodable_input(data: bytes) -> None:
    with pytest.raises(ConfigError):
        conf_from_bytes(data)


def test_values_are_frozen_and_compare_by_their_bytes() -> None:
    a, b = conf_from_bytes(BRIDGE), conf_from_bytes(BRIDGE)
    assert a == b
    assert hash(a) == hash(b)
    assert a != conf_from_bytes(BRIDGE + b" ")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.type = "x"  # type: ignore[misc]


def test_a_plugin_built_without_bytes_serialises_its_mapping() -> None:
    conf = PluginConfig(type="x", raw={"type": "x", "n": 2**64, "f": 1.5})
    assert conf.bytes == b'{"type":"x","n":18446744073709551616,"f":1.5}'
    assert conf == PluginConfig(type="x", raw={}, bytes=conf.bytes)
    assert conf != PluginConfig(type="x", raw={}, bytes=b"{}")


# -- lists ----------------------------------------------------------------------------------


def test_conflist_from_bytes() -> None:
    data = conflist({"type": "bridge", "bridge": "cni0"}, {"type": "portmap",
                    "capabilities": {"portMappings": True}}, name="dbnet", disableCheck=True)
    net = conflist_from_bytes(data, source="x.conflist")
    found = (net.name, net.cni_version, net.cni_versions, net.disable_check, net.disable_gc,
             net.load_only_inlined_plugins)
    assert found == ("dbnet", "1.0.0", (), True, False, False)
    assert [p.type for p in net.plugins] == ["bridge", "portmap"]
    assert data == net.bytes
    assert net.plugins[1].capabilities == {"portMappings": True}
    assert net.plugins[0].source == "x.conflist"


def test_inlined_plugin_bytes_are_compact_ordered_and_exact() -> None:
    """Runtimes must preserve unknown fields in plugin configuration objects."""
    data = (b'{"name": "n", "plugins": [{"z": 1.0, "type": "x", '
            b'"big": 123456789012345678901234567890, "html": "<a&b>", "u": "\xc3\xa9"}]}')
    plugin = conflist_from_bytes(data, validate=False).plugins[0]
    assert ('{"z":1.0,"type":"x","big":123456789012345678901234567890,'
            '"html":"<a&b>","u":"\u00e9"}').encode() == plugin.bytes
    assert (plugin.name, plugin.cni_version) == ("", "")


@pytest.mark.parametrize(
    ("doc", "pointer", "message"),
    [
        ("null", "", "expected a JSON object, got null"),
        ("{}", "", "no name"),
        ('{"name": 1}', "/name", "invalid name type number"),
        ('{"name": null}', "/name", "invalid name type null"),
        ('{"name": "n", "cniVersion": 1}', "/cniVersion", "invalid cniVersion type number"),
        ('{"name": "n", "cniVersions": "1.0.0"}', "/cniVersions",
         "invalid type for cniVersions: string"),
        ('{"name": "n", "cniVersions": [1]}', "/cniVersions/0",
         "invalid type for cniVersions index 0: number"),
        ('{"name": "n", "cniVersions": ["1.0.f"]}', "/cniVersions/0",
         "invalid cniVersions entry 1.0.f at index 0"),
        ('{"name": "n", "cniVersion": "x", "cniVersions": ["1.0.0"]}', "/cniVersion",
         "invalid cniVersion x"),
        ('{"name": "n", "disableCheck": "yes"}', "/disableCheck",
         'invalid value "yes" for disableCheck'),
        ('{"name": "n", "disableGC": 1}', "/disableGC", "invalid type number for disableGC"),
        ('{"name": "n", "loadOnlyInlinedPlugins": true}', "",
         "`loadOnlyInlinedPlugins` is true, and no 'plugins' key"),
        ('{"name": "n", "plugins": null}', "/plugins", "invalid 'plugins' type null"),
        ('{"name": "n", "plugins": {}}', "/plugins",
         "invalid 'plugins' type object"),
        ('{"name": "n", "plugins": []}', "/plugins", "no plugins in list"),
        ('{"name": "n", "plugins": [{"type": "a"}, {"name": "x"}]}', "/plugins/1",
         "failed to parse plugin config 1: missing 'type'"),
        ('{"name": "n", "plugins": ["bridge"]}', "/plugins/0",
         "failed to parse plugin config 0: expected a JSON object, got string"),
        ('{"name": "n", "plugins": [{"type": "a", "capabilities": {"mac": "yes"}}]}',
         "/plugins/0/capabilities/mac",
         "failed to parse plugin config 0: capability 'mac' must be true or false"),
    ],
)
def test_conflist_rules(doc: str, pointer: str, message: str) -> None:
    """libcni NetworkConfFromBytes's parsing rules, enforced with or without validation."""
    for validate in (True, False):
        with pytest.raises(ConfigValidationError) as info:
            conflist_from_bytes(doc, source="l.conflist", validate=validate)
        problem = info.value.problems[0]
        assert pointer == problem.pointer
        assert problem.message.startswith(message)
        assert (problem.file, problem.line) == ("l.conflist", 1)
        assert info.value.msg.startswith("l.conflist:1:")
        assert "error parsing configuration list: " in info.value.msg


def test_every_structural_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigValidationError) as info:
        conflist_from_bytes('{"name": 1, "disableGC": "no", "plugins": [{}, {"type": "a/b"}]}')
    pointers = [p.pointer for p in info.value.problems]
    assert pointers == ["/name", "/disableGC", "/plugins/0", "/plugins/1/type"]
    assert all(p.severity is Severity.ERROR for p in info.value.problems)
    assert info.value.msg.endswith("(and 3 more)")


@pytest.mark.parametrize(("value", "expected"),
                         [("true", True), ("TRUE", True), ("False", False), (True, True)])
def test_flags_may_be_strings(value: JSON, expected: bool) -> None:
    net = conflist_from_bytes(conflist({"type": "a"}, disableCheck=value, disableGC=value),
                              validate=False)
    assert (expected, expected) == (net.disable_check, net.disable_gc)


def test_a_list_without_plugins_parses_empty() -> None:
    # Its plugins may all come from drop-ins (SPEC.md, Section 1: Network configuration format
    # loadOnlyInlinedPlugins).
    assert conflist_from_bytes(b'{"name": "n", "cniVersion": "1.1.0"}').plugins == ()


@pytest.mark.parametrize(
    ("version", "versions", "expected"),
    [
        (None, ["1.1.0", "0.4.0", "1.0.0"], "1.1.0"),
        (None, ["99.0.0", "1.1.0", "0.4.0", "1.0.0"], "1.1.0"),
        ("1.0.0", ["0.1.0", "0.4.0"], "1.0.0"),
        (None, [], ""),
        ("1.2.3", None, "1.2.3"),
        ("x", None, "x"),
        ("2.0.0", ["3.0.0"], "2.0.0"),
        ("0.4.0", ["1.0", "1.0.0"], "1.0"),
    ],
)
def test_version_selection(version: str | None, versions: list[str] | None,
                           expected: str) -> None:
    """CNI runtimes MUST select the highest supported version from the set of network
    configuration versions given by the cniVersion and cniVersions fields."""
    doc: dict[str, JSON] = {"name": "n", "plugins": [{"type": "a"}]}
    if version is not None:
        doc["cniVersion"] = version
    if versions is not None:
        doc["cniVersions"] = list(versions)
    net = conflist_from_bytes(dumps(doc), validate=False)
    assert expected == net.cni_version
    assert tuple(versions or ()) == net.cni_versions


def test_an_unparseable_cniversions_entry_is_an_error() -> None:
    with pytest.raises(ConfigValidationError) as info:
        conflist_from_bytes(b'{"name":"n","cniVersions":["1.1.0","0.4.0","1.0.f"],'
                            b'"plugins":[{"type":"a"}]}', validate=False)
    assert info.value.problems[0].pointer == "/cniVersions/2"


def test_runtime_may_override_flags() -> None:
    net = conflist_from_bytes(conflist({"type": "a"}))
    assert attrs.evolve(net, disable_check=True).disable_check


# -- drop-ins -------------------------------------------------------------------------------


def test_drop_ins_are_appended_in_file_name_order(tmp_path: Path) -> None:
    """Any valid plugin configuration objects aggregated from other sources must be appended
    to the final list of plugins for that network name."""
    path = write(tmp_path / "10-net.conflist", conflist({"type": "bridge"}, name="net"))
    write(tmp_path / "net" / "20-b.conf", {"type": "tuning"})
    write(tmp_path / "net" / "10-a.conf", b'{"type": "portmap", "x": 1.50}')
    write(tmp_path / "net" / "30-c.json", {"type": "ignored"})
    (tmp_path / "net" / "40-dir.conf").mkdir()
    net = conflist_from_file(path)
    assert [p.type for p in net.plugins] == ["bridge", "portmap", "tuning"]
    assert net.plugins[1].bytes == b'{"type": "portmap", "x": 1.50}'
    assert str(tmp_path / "net" / "10-a.conf") == net.plugins[1].source
    assert path.read_bytes() == net.bytes


def test_load_only_inlined_plugins_ignores_the_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "n.conflist", conflist({"type": "bridge"}, name="net",
                                                   loadOnlyInlinedPlugins=True))
    write(tmp_path / "net" / "a.conf", {"type": "tuning"})
    assert [p.type for p in conflist_from_file(path).plugins] == ["bridge"]


def test_a_list_made_only_of_drop_ins(tmp_path: Path) -> None:
    path = write(tmp_path / "n.conflist", {"cniVersion": "1.1.0", "name": "net"})
    write(tmp_path / "net" / "a.conf", {"type": "tuning"})
    assert [p.type for p in conflist_from_file(path).plugins] == ["tuning"]


def test_no_plugins_at_all_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "n.conflist", {"cniVersion": "1.1.0", "name": "net"})
    with pytest.raises(ConfigValidationError) as info:
        conflist_from_file(path)
    assert "no plugin configs found" in info.value.msg
    assert str(path) == info.value.problems[0].file


def test_a_bad_drop_in_is_located(tmp_path: Path) -> None:
    path = write(tmp_path / "n.conflist", conflist({"type": "bridge"}, name="net"))
    bad = write(tmp_path / "net" / "a.conf", b'{"ipam": {}}')
    with pytest.raises(ConfigValidationError) as info:
        conflist_from_file(path)
    assert str(bad) == info.value.problems[0].file


def test_an_invalid_name_never_builds_a_drop_in_path(tmp_path: Path) -> None:
    """The network name "Must not contain characters disallowed in file paths"."""
    conf_dir = tmp_path / "conf"
    path = write(conf_dir / "n.conflist", conflist({"type": "bridge"}, name="../evil"))
    write(tmp_path / "evil" / "a.conf", {"type": "pwned"})
    net = conflist_from_file(path, validate=False)
    assert [p.type for p in net.plugins] == ["bridge"]
    assert [w.rule for w in net.warnings] == ["dropin-name"]
    assert Severity.WARNING is net.warnings[0].severity


def test_a_file_where_the_drop_in_folder_should_be(tmp_path: Path) -> None:
    path = write(tmp_path / "n.conflist", conflist({"type": "bridge"}, name="net"))
    write(tmp_path / "net", b"")
    with pytest.raises(ConfigError):
        conflist_from_file(path)


# -- files ----------------------------------------------------------------------------------


def test_conf_files_lists_like_libcni(tmp_path: Path) -> None:
    for name in ["b.conflist", "a.conf", "c.json", "d.CONFLIST", ".conflist", "e.txt", "f"]:
        write(tmp_path / name, b"{}")
    (tmp_path / "g.conf").mkdir()
    os.mkfifo(tmp_path / "h.conf")
    (tmp_path / "i.conf").symlink_to(tmp_path / "missing")
    (tmp_path / "j.conf").symlink_to(tmp_path / "a.conf")
    assert [str(tmp_path / n) for n in [".conflist", "a.conf", "b.conflist", "c.json",
                                        "j.conf"]] == list(conf_files(tmp_path))
    assert [str(tmp_path / "a.conf"), str(tmp_path / "j.conf")] == list(
        conf_files(tmp_path, (".conf",)))


def test_conf_files_of_a_missing_directory(tmp_path: Path) -> None:
    assert conf_files(tmp_path / "nope") == ()


def test_conf_files_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        conf_files(write(tmp_path / "f", b""))


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.conflist"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        conflist_from_file(fifo)


def test_a_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        conf_from_file(tmp_path)


def test_oversized_files_are_refused(tmp_path: Path) -> None:
    big = write(tmp_path / "x.conf", b" " * MAX_CONFIG_SIZE + b'{"type":"x"}')
    with pytest.raises(ConfigError, match="larger than"):
        conf_from_file(big)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFoundError, match="error reading"):
        conf_from_file(tmp_path / "nope.conf")


@pytest.mark.parametrize("path", [b"/etc", 5, "/tmp/a\x00b"])
def test_paths_that_are_not_paths(path: str) -> None:
    with pytest.raises(ConfigError):
        conflist_from_file(path)


# -- lookup by name -------------------------------------------------------------------------


def test_no_configs_at_all(tmp_path: Path) -> None:
    for folder in (tmp_path, tmp_path / "missing"):
        with pytest.raises(NoConfigsFoundError) as info:
            load_conflist(folder, "net")
        assert f"no net configurations found in {folder}" == str(info.value)


def test_no_config_of_that_name(tmp_path: Path) -> None:
    write(tmp_path / "a.conflist", conflist({"type": "a"}, name="other"))
    with pytest.raises(ConfigNotFoundError) as info:
        load_conflist(tmp_path, "net")
    assert not isinstance(info.value, NoConfigsFoundError)
    assert f'no net configuration with name "net" in {tmp_path}' == str(info.value)
    assert ("net", str(tmp_path)) == (info.value.name, info.value.directory)


def test_a_malformed_file_does_not_stop_other_networks(tmp_path: Path) -> None:
    """One malformed file must not stop other networks from loading by name (G12)."""
    broken = write(tmp_path / "00-broken.conflist", b'{"name": "x",\n  "plugins": [,]}')
    write(tmp_path / "05-unreadable.conflist", b"\xff")
    write(tmp_path / "10-good.conflist", conflist({"type": "bridge"}, name="good"))
    net = load_conflist(tmp_path, "good")
    assert net.name == "good"
    skipped = [w for w in net.warnings if w.rule == "skipped-file"]
    assert [str(broken), str(tmp_path / "05-unreadable.conflist")] == [w.file for w in skipped]
    assert skipped[0].line == 2
    with pytest.raises(ConfigNotFoundError) as info:
        load_conflist(tmp_path, "absent")
    assert "00-broken.conflist" in info.value.details
    assert "00-broken.conflist" in str(info.value)


def test_the_matching_file_must_be_valid(tmp_path: Path) -> None:
    write(tmp_path / "10-net.conflist", b'{"name": "net", "plugins": []}')
    write(tmp_path / "20-net.conflist", conflist({"type": "bridge"}, name="net"))
    with pytest.raises(ConfigValidationError) as info:
        load_conflist(tmp_path, "net")
    assert str(tmp_path / "10-net.conflist") == info.value.problems[0].file


def test_first_match_in_sorted_order_wins(tmp_path: Path) -> None:
    write(tmp_path / "20-b.conflist", conflist({"type": "second"}, name="dup"))
    write(tmp_path / "10-a.conflist", conflist({"type": "first"}, name="dup"))
    write(tmp_path / "00-a.conf", {"name": "dup", "type": "single"})
    assert load_conflist(tmp_path, "dup").plugins[0].type == "first"


def test_lookup_by_name_loads_drop_ins(tmp_path: Path) -> None:
    write(tmp_path / "10-a.conflist", conflist({"type": "bridge"}, name="net"))
    write(tmp_path / "net" / "a.conf", {"type": "tuning"})
    assert [p.type for p in load_conflist(tmp_path, "net").plugins] == ["bridge", "tuning"]


@pytest.mark.parametrize("ext", [".conf", ".json"])
def test_fallback_to_single_plugin_files(tmp_path: Path, ext: str) -> None:
    write(tmp_path / "a.conflist", conflist({"type": "a"}, name="other"))
    path = write(tmp_path / f"10-net{ext}", {"cniVersion": "0.4.0", "name": "net",
                                             "type": "bridge"})
    net = load_conflist(tmp_path, "net")
    assert ("net", "0.4.0", str(path)) == (net.name, net.cni_version, net.source)
    assert path.read_bytes() == net.plugins[0].bytes


def test_load_conf(tmp_path: Path) -> None:
    write(tmp_path / "00-bad.conf", b"{")
    path = write(tmp_path / "10-net.conf", {"name": "net", "type": "bridge"})
    write(tmp_path / "20-net.conf", {"name": "net", "type": "other"})
    conf = load_conf(tmp_path, "net")
    assert ("bridge", str(path)) == (conf.type, conf.source)
    assert [w.rule for w in conf.warnings] == ["skipped-file"]
    with pytest.raises(ConfigNotFoundError):
        load_conf(tmp_path, "nope")
    with pytest.raises(NoConfigsFoundError):
        load_conf(tmp_path / "nope", "net")


def test_a_name_that_is_not_a_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_conflist(tmp_path, None)  # type: ignore[arg-type]


# -- conversions and injection ---------------------------------------------------------------


def test_conflist_from_conf() -> None:
    conf = conf_from_bytes(BRIDGE, source="x.conf")
    net = conflist_from_conf(conf)
    assert ("dbnet", "1.0.0", (conf,), "x.conf") == (net.name, net.cni_version, net.plugins,
                                                      net.source)
    assert {"cniVersion": "1.0.0", "name": "dbnet", "plugins": [loads(BRIDGE)]} == loads(
        net.bytes)
    assert b"12345678901234567890" in net.bytes


def test_conflist_from_a_conf_without_name() -> None:
    net = conflist_from_conf(conf_from_bytes(b'{"type": "loopback"}', validate=False))
    assert (net.name, net.cni_version) == ("", "")


def test_conflist_from_something_else() -> None:
    with pytest.raises(ConfigError):
        conflist_from_conf({"type": "x"})  # type: ignore[arg-type]


def test_inject_conf() -> None:
    conf = conf_from_bytes(BRIDGE)
    out = inject_conf(conf, {"name": "other", "runtimeConfig": {"mac": "aa", "x": None},
                             "n": 2**70})
    doc = loads(out.bytes)
    assert isinstance(doc, dict)
    assert list(doc) == ["cniVersion", "name", "type", "bridge", "big", "f", "capabilities",
                         "ipam", "dns", "runtimeConfig", "n"]
    found = (out.name, doc["runtimeConfig"], doc["n"], doc["big"], doc["f"])
    assert found == ("other", {"mac": "aa", "x": None}, 2**70, 12345678901234567890, 1.0)
    assert conf.bytes == BRIDGE


@pytest.mark.parametrize(
    ("values", "message"),
    [({"": 1}, "keys cannot be empty"), ({"x": None}, "key 'x' value must not be null"),
     ({1: 1}, "is not a string"), ({"x": {1, 2}}, "not JSON"), ({"x": float("nan")}, "not JSON")],
)
def test_inject_conf_refuses(values: dict[str, JSON], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        inject_conf(conf_from_bytes(BRIDGE), values)


def test_inject_conf_rechecks_the_result() -> None:
    with pytest.raises(ConfigValidationError):
        inject_conf(conf_from_bytes(BRIDGE), {"type": "../x"})
    with pytest.raises(ConfigError):
        inject_conf({"type": "x"}, {})  # type: ignore[arg-type]


def test_describe() -> None:
    text = describe(conflist_from_bytes(conflist({"type": "bridge", "ipam": {
        "type": "host-local"}}, {"type": "portmap", "capabilities": {"portMappings": True}},
        name="dbnet"), source="x.conflist"))
    assert text == ("network 'dbnet' (cniVersion 1.0.0) from x.conflist\n"
            "  1. bridge (ipam host-local)\n"
            "  2. portmap (capabilities portMappings)")


# -- bundled examples -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cnilib-demo", "cnilib-chain", "cnilib-dropins", "cnilib-lo"])
def test_examples_load_by_name_without_warnings(name: str) -> None:
    net = load_conflist(EXAMPLES, name)
    assert name == net.name
    assert net.warnings == ()
    assert net.plugins


def test_demo_example_is_safe() -> None:
    net = conflist_from_file(EXAMPLES / "10-cnilib-demo.conflist")
    bridge = net.plugins[0]
    found = (bridge.type, bridge.raw["bridge"], bridge.raw["ipMasq"], bridge.raw["isGateway"])
    assert found == ("bridge", "cnilibdemo0", False, True)


def test_examples_drop_in_is_appended() -> None:
    net = load_conflist(EXAMPLES, "cnilib-dropins")
    assert [p.type for p in net.plugins] == ["ptp", "tuning"]


# -- fuzzing --------------------------------------------------------------------------------

_keys = st.sampled_from(["name", "cniVersion", "cniVersions", "type", "plugins", "ipam", "dns",
                         "capabilities", "disableCheck", "disableGC", "loadOnlyInlinedPlugins",
                         "prevResult", "cni.dev/valid-attachments", "x"])
_shaped = st.recursive(
    json_values,
    lambda inner: st.dictionaries(_keys, inner, max_size=6) | st.lists(inner, max_size=3),
    max_leaves=30,
)


def _outcome(load: Callable[..., object], data: bytes, validate: bool) -> object:
    try:
        return load(data, validate=validate)
    except CNIError as err:
        return err


@given(st.binary())
def test_arbitrary_bytes_load_or_raise_a_cni_error(data: bytes) -> None:
    """Only typed errors escape (G4)."""
    assert isinstance(_outcome(conf_from_bytes, data, True), PluginConfig | CNIError)
    assert isinstance(_outcome(conflist_from_bytes, data, True), NetworkConfigList | CNIError)


@given(_shaped)
def test_arbitrary_json_loads_or_raises_a_cni_error(doc: JSON) -> None:
    """Only typed errors escape (G4)."""
    data = dumps(doc)
    for validate in (True, False):
        conf = _outcome(conf_from_bytes, data, validate)
        assert isinstance(conf, PluginConfig | CNIError)
        net = _outcome(conflist_from_bytes, data, validate)
        assert isinstance(net, NetworkConfigList | CNIError)


_plugin = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in {
    "type", "name", "cniVersion", "capabilities", "ipam", "dns", "prevResult",
    "cni.dev/valid-attachments"}), json_values, max_size=5).map(lambda d: {"type": "p", **d})


@given(st.lists(_plugin, min_size=1, max_size=3))
def test_unknown_fields_pass_through_unchanged(plugins: list[JSON]) -> None:
    """The runtime MUST pass through these fields, unchanged, to the invoked plugin."""
    net = conflist_from_bytes(dumps({"name": "n", "cniVersion": "1.0.0", "plugins": plugins}),
                              validate=False)
    for plugin, parsed in zip(plugins, net.plugins, strict=True):
        again = loads(parsed.bytes)
        assert isinstance(again, dict)
        assert isinstance(plugin, dict)
        assert plugin == again
        assert list(plugin) == list(again)
        assert isinstance(parsed, PluginConfig)
    assert isinstance(net, NetworkConfigList)


def test_examples_folder_is_copyable(tmp_path: Path) -> None:
    # The examples work from any folder: nothing in them refers to their location.
    shutil.copytree(EXAMPLES, tmp_path / "ex")
    net = load_conflist(tmp_path / "ex", "cnilib-dropins")
    assert [p.type for p in net.plugins] == ["ptp", "tuning"]
