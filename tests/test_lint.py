"""``cnilib validate`` and :mod:`cnilib.lint`: formats, exit statuses, cross-file rules, plugin
schemas and the plugin check against Debian's plugins in /usr/lib/cni."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cnilib._json import JSON
from cnilib.cli import run
from cnilib.errors import Problem, Severity
from cnilib.lint import LINT_RULES, SCHEMAS_KEY, has_failures, lint_paths
from cnilib.schema import plugin_schema, plugin_schema_types
from tests.paths import CORPUS

DATA = Path(__file__).resolve().parent / "data"
CONFIGS = sorted((CORPUS / "configs").iterdir())


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), environ=environ or {}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) if not isinstance(doc, str) else doc)
    return path


def _bridge(tmp_path: Path, **extra: Any) -> Path:
    return _write(tmp_path / "10-br.conflist", {
        "cniVersion": "1.0.0", "name": "br",
        "plugins": [{"type": "bridge", "bridge": "cni9", **extra,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.9.0.0/24"}]]}}]})


def _rules(problems: tuple[Problem, ...]) -> list[tuple[str, str, Severity]]:
    return [(p.rule, p.pointer, p.severity) for p in problems]


# --- paths and exit statuses --------------------------------------------------------------

def test_no_paths_and_no_netconfpath_is_a_usage_error() -> None:
    status, out, err = cli("validate")
    assert (status, out) == (2, "")
    assert err == ("cnilib validate: no paths given and $NETCONFPATH is not set: name files "
                   "or directories\n")


def test_no_paths_means_netconfpath(tmp_path: Path) -> None:
    _bridge(tmp_path, isGatway=True)
    status, out, _ = cli("validate", environ={"NETCONFPATH": str(tmp_path)})
    assert status == 0  # a warning only
    assert 'unknown key "isGatway"' in out


def test_missing_path_is_a_located_problem(tmp_path: Path) -> None:
    status, out, _ = cli("validate", str(tmp_path / "nope.conflist"), "--json")
    assert status == 1
    (problem,) = json.loads(out)
    assert (problem["rule"], problem["severity"]) == ("read", "error")


def test_strict_makes_warnings_fail(tmp_path: Path) -> None:
    _bridge(tmp_path, isGatway=True)
    assert cli("validate", str(tmp_path))[0] == 0
    assert cli("validate", str(tmp_path), "--strict")[0] == 1


def test_help_lists_exit_codes() -> None:
    status, out, _ = cli("validate", "--help")
    assert status == 0
    assert "Exit status: 0 clean" in " ".join(out.split())


# --- formats --------------------------------------------------------------------------------

def _two_problems(tmp_path: Path) -> Path:
    return _write(tmp_path / "10-br.conflist", (
        '{"cniVersion": "1.0.0", "name": "br",\n'
        ' "plugins": [{"type": "bridge", "isGatway": true, "mtu": "1500"}]}'))


def test_human_format_each_problem_once(tmp_path: Path) -> None:
    path = _two_problems(tmp_path)
    status, out, _ = cli("validate", str(path))
    assert status == 1
    assert out.splitlines() == [
        (f"{path}:2:51: error: bridge: plugins[0].mtu must be an integer, not a string "
        "[/plugins/0/mtu]"),
        (f'{path}:2:33: warning: unknown key "isGatway" in bridge configuration: the plugin '
        'ignores it; did you mean "isGateway"? [/plugins/0/isGatway]'),
        "1 error(s), 1 warning(s)",
    ]


@pytest.mark.parametrize(("mtu", "kind"), [
    (1500.5, "a number"), (True, "a boolean"), (None, "null"), ([1500], "an array"),
    ({"v": 1}, "an object"), ("1500", "a string"),
])
def test_plugin_schema_messages_name_json_types(mtu: JSON, kind: str) -> None:
    """A plugin schema's type errors name the value's JSON type, with JSON Schema's
    ``integer`` told apart from ``number``."""
    from cnilib._schema.plugin import SchemaSet

    (problem,) = SchemaSet().check({"type": "bridge", "mtu": mtu}, "bridge")
    assert problem.message == f"bridge: mtu must be an integer, not {kind}"
    (problem,) = SchemaSet().check({"type": "bridge", "bridge": 5}, "bridge")
    assert problem.message == "bridge: bridge must be a string, not an integer"


def test_json_format_syntax_errors_have_the_same_shape(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.conf", '{"name": "x",\n  "type": }')
    status, out, _ = cli("validate", str(path), "--format", "json")
    assert status == 1
    assert json.loads(out) == [{"file": str(path), "line": 2, "column": 11, "pointer": "",
                                "severity": "error", "rule": "json",
                                "message": json.loads(out)[0]["message"]}]


def test_github_format(tmp_path: Path) -> None:
    path = _two_problems(tmp_path)
    status, out, _ = cli("validate", str(path), "--format", "github")
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == (f"::error file={path},line=2,col=51,title=cnilib validate%3A "
                        "plugin-schema/type::bridge: plugins[0].mtu must be an integer, not a "
                        "string [/plugins/0/mtu]")
    assert lines[1].startswith(f"::warning file={path},line=2,col=33,")


def test_github_format_escapes(tmp_path: Path) -> None:
    path = _write(tmp_path / "a,b:c.conf", '{"name": "x",\n "type": "loopback",\n "x": 1}')
    _, out, _ = cli("validate", str(path), "--format", "github")
    assert out.startswith(f"::warning file={tmp_path}/a%2Cb%3Ac.conf,line=3,")


def _sarif_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((DATA / "sarif-2.1.0-required.json").read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_sarif_format_has_the_required_shape(tmp_path: Path) -> None:
    path = _two_problems(tmp_path)
    _write(tmp_path / "20-broken.conf", "{")
    status, out, _ = cli("validate", str(tmp_path), "--format", "sarif")
    assert status == 1
    log = json.loads(out)
    _sarif_validator().validate(log)
    (run_,) = log["runs"]
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert [(r["level"], rules[r["ruleIndex"]] == r["ruleId"]) for r in run_["results"]] == [
        ("error", True), ("warning", True), ("error", True)]
    first = run_["results"][0]["locations"][0]["physicalLocation"]
    assert first == {"artifactLocation": {"uri": str(path)},
                     "region": {"startLine": 2, "startColumn": 51}}


def test_sarif_subset_schema_rejects_what_sarif_forbids() -> None:
    """The subset is a real check: it refuses a level, a line and a version SARIF refuses."""
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"message": {"text": "m"}, "level": "error", "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "a"}, "region": {"startLine": 1}}}]}]}]}
    validator = _sarif_validator()
    validator.validate(good)
    bad_level = json.loads(json.dumps(good))
    bad_level["runs"][0]["results"][0]["level"] = "fatal"
    bad_line = json.loads(json.dumps(good))
    bad_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] = {
        "startLine": 0}
    for bad in (bad_level, bad_line, {**good, "version": "2.0.0"}, {"version": "2.1.0"}):
        assert not validator.is_valid(bad)


def test_clean_sarif_is_valid_and_empty() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    status, out, _ = cli("validate", str(examples), "--format", "sarif")
    assert status == 0
    log = json.loads(out)
    _sarif_validator().validate(log)
    assert log["runs"][0]["results"] == []


# --- what only the linter finds -----------------------------------------------------------------

def test_two_files_naming_one_network(tmp_path: Path) -> None:
    _write(tmp_path / "20-b.conflist", {"cniVersion": "1.0.0", "name": "n",
                                        "plugins": [{"type": "loopback"}]})
    _write(tmp_path / "10-a.conf", {"cniVersion": "1.0.0", "name": "n", "type": "loopback"})
    problems = lint_paths([tmp_path])
    (dup,) = [p for p in problems if p.rule == "duplicate-network"]
    # .conflist files are searched first: the .conf is the one never loaded.
    assert (dup.file, dup.pointer, dup.severity) == (str(tmp_path / "10-a.conf"), "/name",
                                                     Severity.ERROR)
    assert str(tmp_path / "20-b.conflist") in dup.message


def test_same_name_in_two_directories_is_fine(tmp_path: Path) -> None:
    for d in ("a", "b"):
        _write(tmp_path / d / "10.conf", {"cniVersion": "1.0.0", "name": "n", "type": "loopback"})
    assert lint_paths([tmp_path / "a", tmp_path / "b"]) == ()


def test_conf_holding_plugins(tmp_path: Path) -> None:
    path = _write(tmp_path / "10.conf", {"cniVersion": "1.0.0", "name": "n",
                                         "plugins": [{"type": "loopback"}]})
    rules = {p.rule: p.severity for p in lint_paths([path])}
    # libcni's own complaint too: read as one plugin, it has no type.
    assert rules == {"conf-with-plugins": Severity.ERROR, "libcni": Severity.ERROR}


def test_cniversions_entry_not_full_version_is_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path / "10.conflist", {"cniVersion": "1.1.0", "name": "n",
                                             "cniVersions": ["1.0", "1.1.0"],
                                             "plugins": [{"type": "loopback"}]})
    problems = lint_paths([path])
    assert [(p.pointer, p.severity) for p in problems] == [("/cniVersions/0", Severity.WARNING)]
    assert not has_failures(problems)
    assert has_failures(problems, strict=True)


def test_dropin_plugins_are_checked_in_their_own_file(tmp_path: Path) -> None:
    _write(tmp_path / "10.conflist", {"cniVersion": "1.1.0", "name": "n",
                                      "plugins": [{"type": "loopback"}]})
    dropin = _write(tmp_path / "n" / "10-tuning.conf", '{\n"type": "tuning", "mtu": -1}')
    (problem,) = lint_paths([tmp_path])
    assert (problem.file, problem.pointer, problem.line) == (str(dropin), "/mtu", 2)


# --- plugin schemas ----------------------------------------------------------------------

def test_every_reference_plugin_has_a_schema_citing_its_page() -> None:
    assert set(plugin_schema_types()) == {
        "bridge", "host-local", "static", "dhcp", "ptp", "macvlan", "ipvlan", "vlan",
        "host-device", "loopback", "tuning", "portmap", "bandwidth", "firewall", "sbr", "vrf"}
    for kind in plugin_schema_types():
        schema = plugin_schema(kind)
        assert schema is not None
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "https://www.cni.dev/plugins/current/" in str(schema["description"])
        assert schema["$id"] == f"urn:cnilib:plugins:{kind}"


def test_bridge_typo_is_a_warning_and_bad_subnet_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "10.conflist", {"cniVersion": "1.0.0", "name": "n", "plugins": [
        {"type": "bridge", "isGatway": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0"}]]}}]})
    assert _rules(lint_paths([path])) == [
        ("plugin-schema/anyOf", "/plugins/0/ipam/ranges/0/0/subnet", Severity.ERROR),
        ("plugin-unknown-key", "/plugins/0/isGatway", Severity.WARNING)]


@pytest.mark.parametrize(("plugin", "pointer"), [
    ({"type": "macvlan", "mode": "bridged"}, "/mode"),
    ({"type": "vlan", "vlanId": 5000}, "/vlanId"),
    ({"type": "portmap", "markMasqBit": 32}, "/markMasqBit"),
    ({"type": "bandwidth", "ingressRate": "1M"}, "/ingressRate"),
    ({"type": "tuning", "mac": "not-a-mac"}, "/mac"),
    ({"type": "vrf"}, ""),
    ({"type": "ptp", "ipam": {"type": "static", "addresses": [{"address": "10.1.1.1"}]}},
     "/ipam/addresses/0/address"),
    ({"type": "macvlan", "ipam": {"type": "dhcp", "request": {"skipDefault": True}}},
     "/ipam/request"),
])
def test_plugin_schema_errors(tmp_path: Path, plugin: dict[str, Any], pointer: str) -> None:
    path = _write(tmp_path / "10.conf", {"cniVersion": "1.0.0", "name": "n", **plugin})
    errors = [p for p in lint_paths([path]) if p.severity is Severity.ERROR]
    assert [p.pointer for p in errors] == [pointer]
    assert errors[0].rule.startswith("plugin-schema/")
    assert errors[0].line is not None


def test_own_schema_for_a_third_party_plugin(tmp_path: Path) -> None:
    _write(tmp_path / "schema.json", {
        "type": "object", "properties": {"type": True, "cniVersion": True, "name": True,
                                         "pool": {"$ref": "urn:cnilib:common#/$defs/cidr"}},
        "additionalProperties": False})
    conf = _write(tmp_path / "net" / "10.conf", {"cniVersion": "1.0.0", "name": "n",
                                                 "type": "acme", "pool": "x", "extra": 1})
    assert lint_paths([conf]) == ()  # no schema for "acme": nothing to say
    status, out, _ = cli("validate", str(conf), "--schema", f"acme={tmp_path / 'schema.json'}",
                         "--json")
    assert status == 1
    assert [(p["pointer"], p["severity"]) for p in json.loads(out)] == [
        ("/pool", "error"), ("/extra", "warning")]


def test_network_names_its_own_schema(tmp_path: Path) -> None:
    """A list's top-level SCHEMAS_KEY names schemas (relative to the list's file) for the
    plugin types it uses; the caller's schemas win over it."""
    _write(tmp_path / "net" / "schemas" / "acme.json", {
        "type": "object", "properties": {"type": True, "pool": {
            "$ref": "urn:cnilib:common#/$defs/cidr"}}, "additionalProperties": False})
    conflist = _write(tmp_path / "net" / "10.conflist", {
        "cniVersion": "1.0.0", "name": "n", SCHEMAS_KEY: {"acme": "schemas/acme.json"},
        "plugins": [{"type": "acme", "pool": "x", "extra": 1}]})
    found = [(p.pointer, p.severity, p.rule) for p in lint_paths([conflist])]
    assert [(pointer, severity) for pointer, severity, _ in found] == [
        ("/plugins/0/pool", Severity.ERROR), ("/plugins/0/extra", Severity.WARNING)]
    # The caller's schema for the same type wins: this one allows anything.
    assert lint_paths([conflist], schemas={"acme": {"type": "object"}}) == ()
    # The key never reaches a plugin: the request of the list's plugin has no such key.
    from cnilib.config import conflist_from_file
    from cnilib.protocol import Command, build_request

    net = conflist_from_file(conflist)
    request = build_request(net.plugins[0].raw, command=Command.ADD, name=net.name,
                            cni_version=net.cni_version)
    assert SCHEMAS_KEY not in request


@pytest.mark.parametrize(("given", "message"), [
    ("schemas/acme.json", "must be an object"),
    ({"acme": 3}, "non-empty string"),
    ({"acme": "missing.json"}, "cannot read the schema"),
    ({"acme": "bad.json"}, "not a valid JSON Schema"),
])
def test_network_schema_that_cannot_be_used_is_a_located_problem(
        tmp_path: Path, given: JSON, message: str) -> None:
    _write(tmp_path / "bad.json", {"type": 12})
    conflist = _write(tmp_path / "10.conflist", {
        "cniVersion": "1.0.0", "name": "n", SCHEMAS_KEY: given,
        "plugins": [{"type": "acme"}]})
    [problem] = lint_paths([conflist])
    assert (problem.rule, problem.severity, problem.file) == (
        "schema-file", Severity.ERROR, str(conflist))
    assert problem.pointer.startswith(f"/{SCHEMAS_KEY}")
    lines = conflist.read_text().splitlines()
    key = problem.pointer.rsplit("/", 1)[-1]  # the entry, or the key itself
    assert problem.line is not None
    assert lines[problem.line - 1].lstrip().startswith(f'"{key}"')
    assert message in problem.message


@pytest.mark.parametrize("given", ["acme", "=x", "acme="])
def test_schema_option_needs_type_and_file(given: str, tmp_path: Path) -> None:
    status, _, err = cli("validate", str(tmp_path), "--schema", given)
    assert status == 2
    assert "--schema wants TYPE=FILE" in err


def test_unusable_schema_file_is_one_line(tmp_path: Path) -> None:
    _write(tmp_path / "s.json", {"type": 12})
    status, _, err = cli("validate", str(tmp_path), "--schema", f"x={tmp_path / 's.json'}")
    assert status == 2
    assert "not a valid JSON Schema" in err
    assert err.count("\n") == 1


# Real configurations: what the plugin schemas say about them, every entry checked by hand.
# The one error is true: host-local refuses a route "dst" without a prefix length (the AWS
# test fixture mocks IPAM, so its own suite never runs host-local on it).
_CORPUS_ERRORS = {"096-aws-aws-egress-prevresult.conf": ["/ipam/routes/0/dst"]}
_CORPUS_UNKNOWN_KEYS = {
    "002-containernetworking-spec010-ovs-pci.conf": ["/ipam/routes"],  # dhcp ignores routes
    "003-containernetworking-spec010-macvlan-wan.conf": ["/ipam/routes"],
    "005-containernetworking-spec030-macvlan-wan.conf": ["/ipam/routes"],
    "008-containernetworking-spec040-ovs-args.conf": ["/ipam/routes"],
    "009-containernetworking-spec100-dbnet.conflist": ["/plugins/0/keyA"],  # the spec's example
    "011-containernetworking-spec110-dbnet-cniversions.conflist": ["/plugins/0/keyA"],
    "012-containernetworking-spec110-bridge-dbnet.conf": ["/keyA"],
    "075-k8snetworkplumbingwg-multus-loopback-additional.conf": ["/additional"],
    "119-kubernetes-minikube-bridge.conflist": ["/plugins/0/addIf"],  # not a bridge option
}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_corpus_has_no_false_errors(path: Path) -> None:
    problems = lint_paths([path])
    plugin_errors = [p.pointer for p in problems
                     if p.severity is Severity.ERROR and p.rule.startswith("plugin")]
    assert plugin_errors == _CORPUS_ERRORS.get(path.name, [])
    assert not [p for p in problems if p.severity is Severity.ERROR
                and not p.rule.startswith("plugin")]  # every corpus config loads
    unknown = [p.pointer for p in problems if p.rule == "plugin-unknown-key"]
    assert unknown == _CORPUS_UNKNOWN_KEYS.get(path.name, [])


def test_every_rule_is_described() -> None:
    assert {"read", "conf-with-plugins", "duplicate-network", "plugin-unknown-key",
            "plugin-schema", "plugin-missing", "plugin-version", "schema-file"} == set(LINT_RULES)


# --- plugins on the path (Debian's containernetworking-plugins, spec up to 1.0.0) -----------

def test_plugins_catch_a_new_network_over_old_plugins(tmp_path: Path) -> None:
    path = _write(tmp_path / "10.conflist", {"cniVersion": "1.1.0", "name": "n", "plugins": [
        {"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.9.0.0/24"}]]}},
        {"type": "nosuch"}]})
    status, out, _ = cli("validate", str(path), "--plugin-path", "/usr/lib/cni", "--json")
    assert status == 1
    found = [(p["rule"], p["pointer"]) for p in json.loads(out)]
    assert found == [("plugin-version", "/plugins/0/type"),
                     ("plugin-version", "/plugins/0/ipam/type"),
                     ("plugin-missing", "/plugins/1/type")]
    assert "supports 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0" in json.loads(out)[0]["message"]


def test_plugins_pass_for_a_supported_version(tmp_path: Path) -> None:
    _bridge(tmp_path)
    assert cli("validate", str(tmp_path), "--plugins",
               environ={"CNI_PATH": "/usr/lib/cni"}) == (0, "0 error(s), 0 warning(s)\n", "")


def test_lint_network_on_a_network_built_in_memory() -> None:
    from cnilib.config import conflist_from_bytes
    from cnilib.lint import lint_network

    net = conflist_from_bytes(b'{"cniVersion": "1.0.0", "name": "n",\n'
                              b' "plugins": [{"type": "ptp", "mtu": "x"}]}')
    (problem,) = lint_network(net)
    assert (problem.pointer, problem.line, problem.file) == ("/plugins/0/mtu", 2, None)
    schema: dict[str, JSON] = {"properties": {"mtu": {"type": "string"}}}
    assert lint_network(net, schemas={"ptp": schema}) == ()


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "10.conf"
    os.mkfifo(fifo)
    (problem,) = lint_paths([fifo])
    assert (problem.rule, problem.severity) == ("read", Severity.ERROR)
    assert "not a regular file" in problem.message


def test_an_empty_directory_is_a_problem(tmp_path: Path) -> None:
    """A CI gate must not pass because it was pointed at the wrong directory."""
    (tmp_path / "README.md").write_text("not a configuration")
    status, out, _ = cli("validate", str(tmp_path), "--json")
    assert status == 1
    (problem,) = json.loads(out)
    assert (problem["file"], problem["rule"], problem["severity"]) == (str(tmp_path), "read",
                                                                       "error")


def test_missing_schema_file_is_a_usage_error(tmp_path: Path) -> None:
    status, out, err = cli("validate", str(tmp_path), "--schema", f"x={tmp_path / 'no.json'}")
    assert (status, out) == (2, "")
    assert err.startswith("cnilib validate: cannot read the schema ")
    assert err.count("\n") == 1
