"""cnilib.schema: the schemas themselves, the corpus, the SPEC examples and the public API."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import pickle
import re
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from cnilib import schema
from cnilib.errors import ConfigError, ConfigValidationError, Problem, Severity
from cnilib.version import SUPPORTED_VERSIONS
from tests.paths import CORPUS, ROOT, corpus_files

SCHEMAS = Path(str(schema.schema_dir()))
PLACEHOLDERS = {"where", "key", "value", "kind", "arg", "version", "limit", "expected",
                "choices", "pattern"}


def kinds_of(path: Path) -> schema.Kind:
    return "netconflist" if path.suffix == ".conflist" else "netconf"


def errors(problems: tuple[Problem, ...]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def summary(problems: tuple[Problem, ...]) -> set[tuple[str, str, str]]:
    return {(p.severity.value, p.pointer, p.rule) for p in problems}


# -- the schema files ----------------------------------------------------------------------

def all_schema_files() -> list[Path]:
    return sorted(SCHEMAS.rglob("*.json"))


def test_there_is_one_schema_per_kind_and_version() -> None:
    expected = {f"{v}/{k}.json" for v in SUPPORTED_VERSIONS
                for k in ("netconflist", "netconf", "result", "error", "version")}
    expected |= {"cache.json", "common.json"}
    # The reference plugins' own keys (cnilib validate), one schema per plugin type.
    expected |= {f"plugins/{t}.json" for t in schema.plugin_schema_types()}
    assert expected == {str(p.relative_to(SCHEMAS)) for p in all_schema_files()}


@pytest.mark.parametrize("path", all_schema_files(), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    contents = json.loads(path.read_text("utf-8"))
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contents)
    relative = path.relative_to(SCHEMAS).with_suffix("")
    assert contents["$id"] == "urn:cnilib:" + ":".join(relative.parts)


def walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


@pytest.mark.parametrize("path", all_schema_files(), ids=lambda p: p.name)
def test_annotations_are_well_formed(path: Path) -> None:
    for node in walk(json.loads(path.read_text("utf-8"))):
        assert node.get("x-severity", "warning") in ("warning", "error")
        for pattern in [node.get("pattern", ""), *node.get("patternProperties", {})]:
            assert isinstance(pattern, str)
            re.compile(pattern)  # compiled lazily at run time: make sure each one compiles
        message = node.get("x-message")
        templates = ([message] if isinstance(message, str)
                     else list(message.values()) if isinstance(message, dict) else [])
        assert message is None or templates
        for template in templates:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            assert fields <= PLACEHOLDERS, template


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_schema_compiles(kind: schema.Kind, version: str) -> None:
    is_valid, collect = schema._validator(kind, version)
    assert not is_valid(42)
    assert collect(42)
    assert str(schema.load_schema(kind, version)["$id"]).startswith("urn:cnilib:")


# -- the corpus ----------------------------------------------------------------------------

# The repository's corpus (counted), and every case to run each test on (plus extra files of a
# corpus beside the repository, if any).
CONFIGS = sorted((CORPUS / "configs").iterdir())
INVALID = sorted((CORPUS / "invalid").iterdir())
ALL_CONFIGS = corpus_files("configs")

# What the corpus must warn about: the quirks SOURCES.md names.
EXPECTED_WARNINGS = {
    "003-containernetworking-spec010-macvlan-wan.conf": {("warning", "/cniVersion", "pattern")},
    "017-containernetworking-readme-99-loopback.conf": {("warning", "", "required")},
    "032-containernetworking-win-overlay.conf": {("warning", "/capabilites", "not")},
    "053-cri-o-crio-test-disablegc-031.conflist": {("warning", "/disableGC", "not")},
    "063-cri-o-ocicni-gc-valid-attachments.conf": {
        ("warning", "/cni.dev~1valid-attachments", "not")},
    "096-aws-aws-egress-prevresult.conf": {("warning", "/prevResult/ips/0/version", "not")},
    "098-Azure-azure-windows.conflist": {
        ("warning", "/plugins/0/dns/Nameservers", "additionalProperties"),
        ("warning", "/plugins/0/dns/Search", "additionalProperties")},
    "119-kubernetes-minikube-bridge.conflist": set(),
    "009-containernetworking-spec100-dbnet.conflist": set(),
}


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_every_corpus_config_validates_without_error(path: Path) -> None:
    text = path.read_bytes()
    doc = json.loads(text)
    problems = schema.validate(doc, kinds_of(path), doc.get("cniVersion", ""),
                               source=path.name, text=text)
    assert errors(problems) == []
    if path.name in EXPECTED_WARNINGS:
        assert EXPECTED_WARNINGS[path.name] == summary(problems)
    for problem in problems:
        assert problem.file == path.name
        assert problem.line is not None
        assert problem.column is not None


def test_corpus_warnings_are_the_exception() -> None:
    warned = 0
    for path in CONFIGS:
        doc = json.loads(path.read_bytes())
        warned += bool(schema.validate(doc, kinds_of(path), doc.get("cniVersion", "")))
    assert 10 <= warned <= 30


def parseable_invalid() -> list[Path]:
    out = []
    for path in INVALID:
        try:
            json.loads(path.read_bytes())
        except ValueError:
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", parseable_invalid(), ids=lambda p: p.name)
def test_every_parseable_invalid_file_has_a_located_error(path: Path) -> None:
    text = path.read_bytes()
    doc = json.loads(text)
    kind: schema.Kind = "netconflist" if "plugins" in doc else "netconf"
    with pytest.raises(ConfigValidationError) as info:
        schema.check(doc, kind, doc.get("cniVersion", ""), source=path.name, text=text)
    found = info.value.errors
    assert found
    for problem in found:
        assert problem.file == path.name
        assert (problem.line, problem.column) != (None, None)
        assert problem.rule
    assert str(info.value).startswith(f"{path.name}:")


def test_the_invalid_corpus_is_mostly_broken_json() -> None:
    assert len(parseable_invalid()) == 5


# -- the SPEC.md examples ------------------------------------------------------------------

def spec_examples() -> list[tuple[str, Any]]:
    """The whole documents among SPEC.md's examples, as extracted in tests/data/spec.

    Left out: the plugin object of "Deriving runtimeConfig" (manifest kind ``plugin``), a
    fragment without the ``name`` a whole configuration has.
    """
    folder = ROOT / "tests" / "data" / "spec"
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    out = []
    for entry in manifest:
        if entry["kind"] == "plugin":
            continue
        body = (folder / entry["file"]).read_text("utf-8")
        out.append((body, json.loads(body)))
    return out


def spec_kind(doc: dict[str, Any]) -> schema.Kind:
    if "plugins" in doc:
        return "netconflist"
    if "type" in doc:
        return "netconf"
    if "code" in doc:
        return "error"
    if "supportedVersions" in doc:
        return "version"
    return "result"


def test_spec_examples_are_all_found() -> None:
    kinds = [spec_kind(doc) for _, doc in spec_examples()]
    counts = {k: kinds.count(k) for k in set(kinds)}
    assert counts == {"netconflist": 1, "netconf": 9, "result": 3, "error": 1, "version": 2}


@pytest.mark.parametrize("example", spec_examples(), ids=lambda e: spec_kind(e[1]))
def test_spec_examples_validate(example: tuple[str, Any]) -> None:
    text, doc = example
    kind = spec_kind(doc)
    problems = schema.validate(doc, kind, doc.get("cniVersion", "1.1.0"), text=text)
    if kind == "netconf":
        # The appendix shows request configurations, which carry the runtimeConfig the
        # runtime generated: in a configuration file that is a warning
        # (SPEC.md, Section 1: Network configuration format).
        assert {("warning", "/runtimeConfig", "not")} >= summary(problems)
    else:
        assert problems == ()


# -- rules, one by one ---------------------------------------------------------------------

def conflist(version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"cniVersion": version, "name": "net",
                           "plugins": [{"type": "bridge"}]}
    doc.update(extra)
    return doc


@pytest.mark.parametrize(("kind", "version", "doc", "expected"), [
    # plugin type: a safe executable name (SPEC.md, Section 1: Network configuration format,
    # CVE-2021-20206)
    ("netconflist", "1.1.0", conflist(plugins=[{"type": "../bin/sh"}]),
     {("error", "/plugins/0/type", "pattern")}),
    ("netconflist", "1.1.0", conflist(plugins=[{"type": ""}]),
     {("error", "/plugins/0/type", "pattern")}),
    ("netconflist", "1.1.0", conflist(plugins=[{"type": "a" * 256}]),
     {("error", "/plugins/0/type", "maxLength")}),
    ("netconflist", "1.1.0", conflist(plugins=[{"type": "bridge\n"}]),
     {("error", "/plugins/0/type", "pattern")}),
    ("netconflist", "1.1.0", conflist(plugins=[{"type": 5}]),
     {("error", "/plugins/0/type", "type")}),
    ("netconflist", "1.1.0", conflist(plugins=[{"name": "x"}]),
     {("error", "/plugins/0", "required")}),
    ("netconflist", "1.1.0", conflist(plugins=[]), {("error", "/plugins", "minItems")}),
    ("netconflist", "1.1.0", conflist(plugins={}), {("error", "/plugins", "type")}),
    # name (SPEC.md, Section 1: Network configuration format)
    ("netconflist", "1.1.0", conflist(name="bad name"), {("error", "/name", "pattern")}),
    ("netconflist", "1.1.0", conflist(name="../x"), {("error", "/name", "pattern")}),
    ("netconflist", "1.1.0", conflist(name=""), {("error", "/name", "pattern")}),
    ("netconf", "1.0.0", {"type": "bridge", "name": "-x"}, {("error", "/name", "pattern")}),
    ("netconf", "1.0.0", {"type": "bridge"}, {("warning", "", "required")}),
    # cniVersion
    ("netconflist", "1.1.0", conflist(cniVersion=1), {("error", "/cniVersion", "type")}),
    ("netconflist", "1.1.0", conflist(cniVersion="v1.0.0"),
     {("error", "/cniVersion", "pattern")}),
    ("netconflist", "1.1.0", conflist(cniVersions=["1.1.0", "1.0.f"]),
     {("error", "/cniVersions/1", "pattern")}),
    ("netconflist", "1.0.0", conflist("1.0.0", cniVersions=["1.0.0"]),
     {("warning", "/cniVersions", "not")}),
    # flags (SPEC.md, Section 1: Network configuration format; libcni also reads
    # "true"/"false" strings)
    ("netconflist", "0.4.0", conflist("0.4.0", disableCheck="true"), set()),
    ("netconflist", "1.0.0", conflist("1.0.0", disableCheck="TRUE"),
     {("warning", "/disableCheck", "type")}),
    ("netconflist", "1.0.0", conflist("1.0.0", disableCheck="maybe"),
     {("error", "/disableCheck", "pattern")}),
    ("netconflist", "1.0.0", conflist("1.0.0", disableCheck=1),
     {("error", "/disableCheck", "type")}),
    ("netconflist", "0.3.1", conflist("0.3.1", disableCheck=True),
     {("warning", "/disableCheck", "not")}),
    ("netconflist", "1.1.0", conflist(disableGC=True, loadOnlyInlinedPlugins=False), set()),
    ("netconflist", "0.4.0", conflist("0.4.0", loadOnlyInlinedPlugins=False),
     {("warning", "/loadOnlyInlinedPlugins", "not")}),
    ("netconflist", "1.1.0", {"cniVersion": "1.1.0", "name": "n",
                              "loadOnlyInlinedPlugins": "True"},
     {("error", "", "required"), ("warning", "/loadOnlyInlinedPlugins", "type")}),
    ("netconflist", "1.1.0", {"cniVersion": "1.1.0", "name": "n"}, set()),
    ("netconflist", "1.0.0", {"cniVersion": "1.0.0", "name": "n"},
     {("warning", "", "required")}),
    ("netconflist", "0.2.0", conflist("0.2.0", plugins=[{"type": "a"}, {"type": "b"}]),
     {("warning", "/plugins", "maxItems")}),
    # capabilities, ipam, dns, reserved keys
    ("netconf", "1.1.0", {"type": "t", "name": "n", "capabilities": {"mac": "yes"}},
     {("error", "/capabilities/mac", "type")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "ipam": {"type": "a/b"}},
     {("error", "/ipam/type", "pattern")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "ipam": {}}, set()),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "ipam": "host-local"},
     {("error", "/ipam", "type")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "dns": {"nameservers": "10.0.0.1"}},
     {("error", "/dns/nameservers", "type")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "dns": {"nameservers": ["dns.example"]}},
     {("warning", "/dns/nameservers/0", "pattern")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "ipMasq": "true"},
     {("warning", "/ipMasq", "type")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "args": {}}, {("warning", "/args", "not")}),
    ("netconf", "0.4.0", {"type": "t", "name": "n", "args": {}}, set()),
    ("netconf", "0.2.0", {"type": "t", "name": "n", "prevResult": {}},
     {("warning", "/prevResult", "not")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "prevResult": []},
     {("error", "/prevResult", "type")}),
    ("netconf", "1.1.0", {"type": "t", "name": "n", "prevResult": {"ips": [{"address": "x"}]}},
     {("warning", "/prevResult/ips/0/address", "pattern")}),
    # results per family (libcni pkg/types/{020,040,100})
    ("result", "1.0.0", {"ips": [{"version": "4", "address": "10.0.0.2/24"}]},
     {("warning", "/ips/0/version", "not")}),
    ("result", "0.4.0", {"ips": [{"address": "10.0.0.2/24"}]},
     {("warning", "/ips/0", "required")}),
    ("result", "0.4.0", {"ips": [{"version": "5", "address": "10.0.0.2/24"}]},
     {("warning", "/ips/0/version", "enum")}),
    ("result", "0.4.0", {"interfaces": [{"name": "eth0", "mtu": 1500}]},
     {("warning", "/interfaces/0/mtu", "not")}),
    ("result", "0.2.0", {"ip4": {"ip": "10.0.0.2/24"}, "ips": []},
     {("warning", "/ips", "not")}),
    ("result", "0.2.0", {"ip4": {"ip": "10.0.0.2"}}, {("error", "/ip4/ip", "pattern")}),
    ("result", "1.1.0", {"ip4": {"ip": "10.0.0.2/24"}}, {("warning", "/ip4", "not")}),
    ("result", "1.1.0", {"ips": [{"address": "2001:db8::1/64", "gateway": "2001:db8::g"}]},
     {("error", "/ips/0/gateway", "pattern")}),
    ("result", "1.1.0", {"routes": [{"dst": "0.0.0.0/0", "gw": "", "table": -1}]},
     {("warning", "/routes/0/table", "minimum")}),
    ("result", "1.1.0", {"interfaces": [{"name": "eth0"}], "ips": [{"interface": "0"}]},
     {("error", "/ips/0/interface", "type"), ("warning", "/ips/0", "required")}),
    # errors (SPEC.md, Section 5: Result Types)
    ("error", "1.1.0", {"code": 50, "msg": "m"}, set()),
    ("error", "1.0.0", {"code": 50, "msg": "m"}, {("warning", "/code", "anyOf")}),
    ("error", "1.1.0", {"code": 100, "msg": "m"}, set()),
    ("error", "1.1.0", {"code": -1, "msg": "m"}, {("error", "/code", "minimum")}),
    ("error", "1.1.0", {"code": "7", "msg": "m"}, {("error", "/code", "type")}),
    ("error", "1.1.0", {"msg": "m"}, {("warning", "", "required")}),
    # VERSION replies (libcni pkg/version/plugin.go)
    ("version", "0.2.0", {"cniVersion": "0.2.0"}, set()),
    ("version", "1.0.0", {"cniVersion": "1.0.0"}, {("error", "", "required")}),
    ("version", "1.0.0", {"cniVersion": "1.0.0", "supportedVersions": []},
     {("error", "/supportedVersions", "minItems")}),
    ("version", "1.0.0", {"supportedVersions": ["1.0.0"]}, {("error", "", "required")}),
    # the cache entry (libcni cniCacheV1)
    ("cache", "", {"kind": "cniCacheV1", "containerId": "c", "config": "eyJ4Ijox",
                   "ifName": "eth0", "networkName": "n", "cniArgs": [["K", "V"]]}, set()),
    ("cache", "", {"kind": "cniCacheV1", "containerId": "c", "config": "not base64",
                   "ifName": "eth0", "networkName": "n", "cniArgs": [["K"]]},
     {("error", "/config", "pattern"), ("error", "/cniArgs/0", "minItems")}),
    ("cache", "", {"kind": "v2"}, {("error", "/kind", "const"), ("error", "", "required")}),
])
def test_rule(kind: schema.Kind, version: str, doc: Any, expected: set[Any]) -> None:
    assert expected == summary(schema.validate(doc, kind, version))


def test_a_warning_subschema_does_not_hide_an_error_beside_it() -> None:
    doc = conflist("0.3.1", disableGC="sometimes")
    assert {("error", "/disableGC", "pattern")} == summary(
        schema.validate(doc, "netconflist", "0.3.1"))
    # ... while the raw verdicts keep both, as jsonschema has them.
    raw = schema._validator("netconflist", "0.3.1")[1](doc)
    assert {("pattern", False), ("not", True)} == {(r[1], r[3]) for r in raw}


def test_messages_name_the_place_and_the_fix() -> None:
    doc = conflist(plugins=[{"type": "bridge"}, {"type": "../x", "capabilities": {"mac": 1}}])
    messages = [p.message for p in schema.validate(doc, "netconflist", "1.1.0")]
    assert messages == [
        ('plugins[1].type is "../x", which is not a safe executable name: use letters, digits, '
         "'.', '_', '+' and '-', starting with a letter or digit "
         "(SPEC.md, Section 1: Network configuration format: \"Must not contain "
         'characters disallowed in file paths")'),
        "capability plugins[1].capabilities.mac must be true or false, not a number",
    ]


def test_unknown_keys_are_located_one_by_one() -> None:
    doc: dict[str, Any] = {"type": "t", "name": "n", "dns": {"Nameservers": [], "Search": []}}
    problems = schema.validate(doc, "netconf", "1.1.0")
    assert [p.pointer for p in problems] == ["/dns/Nameservers", "/dns/Search"]
    assert 'unknown key "Search" in dns' in problems[1].message


# -- versions ------------------------------------------------------------------------------

@pytest.mark.parametrize(("declared", "used"), [
    ("", "0.1.0"), ("0.1", "0.1.0"), ("0.1.0", "0.1.0"), ("0.0.9", "0.1.0"),
    ("0.3.5", "0.3.1"), ("0.5.0", "0.4.0"), ("1", "1.0.0"), ("1.0", "1.0.0"),
    ("1.2.3", "1.1.0"), ("2.0.0", "1.1.0"), ("x", "1.1.0"), ("1.0.0-rc1", "1.1.0"),
])
def test_schema_version(declared: str, used: str) -> None:
    assert used == schema.schema_version(declared)


def test_a_version_never_released_is_a_warning_naming_it() -> None:
    problems = schema.validate(conflist("1.2.3"), "netconflist", "1.2.3")
    assert {("warning", "/cniVersion", "cniVersion")} == summary(problems)
    assert "'1.2.3'" in problems[0].message
    assert "1.1.0 schema" in problems[0].message


def test_a_missing_version_means_0_1_0_silently() -> None:
    assert schema.validate({"type": "bridge", "name": "n"}, "netconf", "") == ()


def test_an_unparseable_version_is_reported_once() -> None:
    declared = schema.validate({"cniVersion": "x", "type": "t", "name": "n"}, "netconf", "x")
    assert {("error", "/cniVersion", "pattern")} == summary(declared)
    passed_alone = schema.validate({"type": "t", "name": "n"}, "netconf", "x")
    assert {("error", "", "cniVersion")} == summary(passed_alone)


# -- API -----------------------------------------------------------------------------------

def test_schema_path_and_dir() -> None:
    root = schema.schema_dir()
    assert root.joinpath("common.json").is_file()
    for kind in schema.KINDS:
        for version in SUPPORTED_VERSIONS:
            assert schema.schema_path(kind, version).is_file()
    assert schema.schema_path("netconf", "0.1").name == "netconf.json"
    assert Path(str(schema.schema_path("netconf", "0.1"))).parent.name == "0.1.0"
    assert schema.schema_path("cache", "9.9.9").name == "cache.json"


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown schema kind"):
        schema.validate({}, "plugin", "1.0.0")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        schema.schema_path("plugin", "1.0.0")  # type: ignore[arg-type]


def test_load_schema_returns_a_copy() -> None:
    first = schema.load_schema("netconflist", "1.1.0")
    first["required"] = ["nothing"]
    assert schema.load_schema("netconflist", "1.1.0")["required"] == ["name"]


def test_check_raises_with_every_problem() -> None:
    doc: dict[str, Any] = {"cniVersion": "1.0.0", "plugins": [{"type": "a/b"}],
                           "disableGC": True}
    text = json.dumps(doc, indent=2)
    with pytest.raises(ConfigValidationError) as info:
        schema.check(doc, "netconflist", "1.0.0", source="10-x.conflist", text=text)
    err = info.value
    assert {("error", "", "required"), ("error", "/plugins/0/type", "pattern"),
            ("warning", "/disableGC", "not")} == summary(err.problems)
    assert len(err.errors) == 2
    assert len(err.warnings) == 1
    assert str(err).startswith("10-x.conflist:1:1: invalid netconflist: missing required key")
    assert "(and 1 more)" in str(err)
    assert isinstance(err, ValueError)


def test_check_returns_the_warnings() -> None:
    warnings = schema.check(conflist("0.3.1", disableGC=True), "netconflist", "0.3.1")
    assert [p.severity for p in warnings] == [Severity.WARNING]
    assert schema.check(conflist(), "netconflist", "1.1.0") == ()


def test_problems_are_located_in_the_text() -> None:
    text = '{\n  "cniVersion": "1.1.0",\n  "name": "n",\n  "plugins": [\n    {"type": 7}\n  ]\n}'
    [problem] = schema.validate(json.loads(text), "netconflist", "1.1.0", source="f",
                                text=text.encode())
    assert (problem.pointer, problem.line, problem.column) == ("/plugins/0/type", 5, 6)
    assert str(problem) == ("f:5:6: error: plugins[0].type must be a string naming the plugin "
                            "executable, not a number (at /plugins/0/type)")


def test_problems_are_plain_immutable_values() -> None:
    doc = conflist(name="-")
    first = schema.validate(doc, "netconflist", "1.1.0", text=json.dumps(doc))
    again = schema.validate(doc, "netconflist", "1.1.0", text=json.dumps(doc))
    assert first == again
    assert hash(first[0]) == hash(again[0])
    plain = Problem(first[0].pointer, first[0].message, severity=first[0].severity,
                    line=first[0].line, column=first[0].column, rule=first[0].rule)
    assert plain == first[0]
    with pytest.raises(AttributeError):
        first[0].pointer = "/x"
    with pytest.raises(AttributeError):
        first[0].message = "x"
    assert "Problem(pointer='/name'" in repr(first[0])
    assert first[0] == pickle.loads(pickle.dumps(first[0]))
    assert first[0] == copy.deepcopy(first[0])


def test_importing_the_module_does_not_import_jsonschema() -> None:
    code = ("import sys, cnilib.schema as s; "
            "s.validate({'name': 'n', 'plugins': [{'type': '/'}]}, 'netconflist', '1.1.0'); "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("values", [[None], [1, "1"], [True, False], [[1]], [{"a": 1}]])
def test_compiler_refuses_enums_it_has_no_test_for(values: list[Any]) -> None:
    """The compiler serves cnilib's own schemas: an enum or const it has no exact test for
    (not all strings, not all numbers, not one boolean) is a bad schema, not compiled by a
    general path."""
    from cnilib._schema.compiler import Compiler

    for keyword, value in (("enum", values), ("const", values[0])):
        if keyword == "const" and len(values) > 1:
            continue
        doc = {"$id": "urn:test", "properties": {"x": {keyword: value}}}
        with pytest.raises(ConfigError, match="cannot be compiled: enum and const values"):
            Compiler(lambda _uri, doc=doc: doc).compile("urn:test")  # type: ignore[misc]


def test_schemas_are_found_in_a_zip_imported_package(tmp_path: Path) -> None:
    """A cnilib imported from a zip file (no directory to look into) finds its schemas
    through importlib.resources: validation, the plugin schemas and the registry work."""
    import zipfile

    package = Path(schema.__file__).resolve().parent
    schemas = Path(str(schema.schema_dir()))
    archive = tmp_path / "cnilib.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in package.rglob("*.py"):
            z.write(path, "cnilib/" + path.relative_to(package).as_posix())
        for path in schemas.rglob("*.json"):
            z.write(path, "cnilib/schemas/" + path.relative_to(schemas).as_posix())
    code = ("import sys\nimport cnilib.schema as s\n"
            "assert s.__file__.startswith(sys.argv[1]), s.__file__\n"
            "assert not hasattr(s.schema_dir(), 'resolve'), s.schema_dir()\n"
            "print(len(s.validate({'name': 'n', 'plugins': [{'type': '/'}]}, 'netconflist',"
            " '1.1.0')), 'bridge' in s.plugin_schema_types(),"
            " s.standard_validator('netconf', '1.0.0').is_valid({'name': 'n', 'type': 'x'}))\n"
            )
    out = subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True, text=True,
                         check=False, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(archive)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True", "True"]


weird = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
              st.binary(max_size=4), st.tuples(st.integers())),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers(), st.none()), inner,
                        max_size=4),
    ),
    max_leaves=10,
)


@given(instance=weird, kind=st.sampled_from(schema.KINDS),
       version=st.one_of(st.sampled_from(SUPPORTED_VERSIONS), st.text(max_size=8)),
       text=st.one_of(st.none(), st.text(max_size=30), st.binary(max_size=30)))
def test_only_problems_come_out(instance: Any, kind: schema.Kind, version: str,
                                text: str | bytes | None) -> None:
    """SPEC.md, Section 1: Network configuration format: "All aggregated plugin configuration
    objects must be validated" — whatever the value, validation reports problems instead of
    failing."""
    problems = schema.validate(instance, kind, version, source="f", text=text)
    for problem in problems:
        assert isinstance(problem.message, str)
        assert problem.line is None or problem.line >= 1
        str(problem)


def go_parses_cidr(text: str) -> bool:
    """Go's net.ParseCIDR, by way of Python's ipaddress (which also allows zones and masks)."""
    address, slash, prefix = text.partition("/")
    if not slash or "%" in address or not (prefix.isascii() and prefix.isdigit()):
        return False
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


def go_parses_ip(text: str) -> bool:
    """Go's net.ParseIP: no zone; the empty string means unset in libcni's results."""
    if text == "":
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.ip_addresses(v=4).map(lambda a: f"1:2:3:4:5:6:{a}"),
    st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=24),
)
prefixes = st.one_of(st.integers(0, 130).map(str), st.sampled_from(["", "024", "x", "33"]))


@given(address=addresses, prefix=prefixes)
def test_cidr_pattern_is_go_parse_cidr(address: str, prefix: str) -> None:
    """SPEC.md, Section 5: Result Types: "`address` (string): an IP address in CIDR notation
    (eg "192.168.1.3/24")"."""
    text = f"{address}/{prefix}"
    problems = schema.validate({"ips": [{"address": text}]}, "result", "1.1.0")
    assert go_parses_cidr(text) == (not errors(problems))


@given(address=addresses)
def test_ip_pattern_is_go_parse_ip(address: str) -> None:
    """SPEC.md, Section 5: Result Types: "`gateway` (string): the default gateway for this
    subnet, if one exists"."""
    problems = schema.validate({"ips": [{"address": "10.0.0.1/8", "gateway": address}]},
                               "result", "1.1.0")
    assert go_parses_ip(address) == (not errors(problems))


def test_compiler_source_shows_both_generated_functions() -> None:
    """``Compiler.source`` (docs/schema-compiler.md) prints the checks it runs: a ``v`` and
    an ``e`` function per schema, children written in place, always-false ones folded."""
    from cnilib._schema.compiler import Compiler

    doc = {"$id": "urn:test", "type": "object",
           "properties": {"a": {"type": "string"}, "b": {"not": {}}}}
    compiler = Compiler(lambda _uri: doc)
    source = compiler.source("urn:test")
    assert source.startswith("def v0(x):")
    assert "def e0(x, p, out, w):" in source
    assert "isinstance(y1, str)" in source  # property "a", in place: no call
    assert ".isdisjoint(x)" in source  # "b" may not be present at all
    valid, errors = compiler.compile("urn:test")
    assert valid({"a": "s"})
    assert not valid({"b": 1})
    assert not valid({"a": 1})
    assert [(e[0], e[1]) for e in errors({"a": 1, "b": 1})] == [(("a",), "type"), (("b",), "not")]


def test_recursive_schemas_call_their_own_function() -> None:
    """A ``$ref`` cycle is compiled as a function calling itself, below the inlined levels."""
    from cnilib._schema.compiler import INLINE_DEPTH, Compiler

    doc = {"$id": "urn:test", "type": "object", "properties": {"a": {"$ref": "#"}},
           "additionalProperties": False}
    valid, errors = Compiler(lambda _uri: doc).compile("urn:test")
    deep: dict[str, Any] = {}
    for _ in range(3 * INLINE_DEPTH):
        deep = {"a": deep}
    assert valid(deep)
    inner = deep
    for _ in range(2 * INLINE_DEPTH):
        inner = inner["a"]
    inner["x"] = 1
    assert not valid(deep)
    [(path, keyword, _, _, arg)] = errors(deep)
    assert (path, keyword, arg) == (("a",) * (2 * INLINE_DEPTH), "additionalProperties", ("x",))


def test_problems_are_worded_and_located_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A problem nobody reads costs no wording and no walk of the text; reading one field
    works out that field once, and the problem then equals its plain twin."""
    from cnilib._schema import locate, problems

    worded: list[str] = []
    located: list[int] = []
    real_message = problems._message

    def message(*args: Any) -> str:
        worded.append(args[0])
        return real_message(*args)

    def counted(*args: Any) -> dict[str, tuple[int, int] | None]:
        located.append(1)
        return locate.locate(*args)

    monkeypatch.setattr(problems, "_message", message)
    monkeypatch.setattr(problems, "locate", counted)
    doc = conflist("0.3.1", disableGC=True)
    [warning] = schema.validate(doc, "netconflist", "0.3.1", text=json.dumps(doc, indent=1))
    assert (worded, located) == ([], [])
    assert warning.severity is Severity.WARNING
    assert warning.pointer == "/disableGC"
    assert (worded, located) == ([], [])
    assert "1.1.0" in warning.message
    assert warning.message == warning.message
    assert (worded, located) == (["not"], [])
    assert (warning.line, warning.column) == (9, 2)
    assert located == [1]
    assert type(warning) is not Problem
    assert warning == Problem("/disableGC", warning.message, severity=Severity.WARNING, line=9,
                              column=2, rule="not")


def test_tracebacks_show_the_generated_lines() -> None:
    """The generated code is registered with linecache: a failure inside it (here a pattern
    that only fails to compile on first use) shows the generated line in its traceback."""
    import traceback

    from cnilib._schema.compiler import Compiler

    doc = {"$id": "urn:test", "properties": {"a": {"type": "string", "pattern": "("}}}
    valid, _ = Compiler(lambda _uri: doc).compile("urn:test")
    with pytest.raises(ConfigError, match="bad pattern") as caught:
        valid({"a": "x"})
    frames = [f for f in traceback.extract_tb(caught.value.__traceback__)
              if f.filename.startswith("<cnilib-schema")]
    assert frames
    assert frames[0].line is not None
    assert "(y1)" in frames[0].line
