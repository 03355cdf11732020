"""The compiled validators agree with jsonschema's Draft202012Validator, failure by failure.

cnilib's checks never run jsonschema; this file uses it as the oracle, built here from the
schema files, and checks that :func:`cnilib.schema.standard_validator` is that same oracle.
For any instance, the multiset of ``(JSON pointer, keyword, severity)`` the compiled validator
reports must equal the one jsonschema reports, where jsonschema's severity is read from the
schema the way the docs say: the ``x-severity`` of the nearest enclosing subschema on the
error's schema path.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cnilib import schema
from cnilib.testing.strategies import versions
from cnilib.version import SUPPORTED_VERSIONS
from tests.paths import ROOT, corpus_files

SCHEMAS = Path(str(schema.schema_dir()))


def _resources() -> list[tuple[str, Resource[Any]]]:
    out = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        contents = json.loads(path.read_text("utf-8"))
        out.append((contents["$id"], Resource.from_contents(contents,
                                                             default_specification=DRAFT202012)))
    return out


REGISTRY: Registry[Any] = Registry().with_resources(_resources())


@functools.cache
def _oracle(uri: str) -> Draft202012Validator:
    return Draft202012Validator(REGISTRY.contents(uri), registry=REGISTRY)


def _pointer(path: Any) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in path)


def _severity(error: Any, uri: str) -> bool:
    """True when the error is a warning: walk its schema path, following $refs."""
    resolver = REGISTRY.resolver(base_uri=uri)
    node: Any = REGISTRY.contents(uri)
    warning = False

    def note(n: Any) -> None:
        nonlocal warning
        if isinstance(n, dict) and "x-severity" in n:
            warning = n["x-severity"] == "warning"

    note(node)
    for token in error.absolute_schema_path:
        # jsonschema leaves "$ref" out of schema paths: step through it when the token is not
        # a keyword of the current subschema.
        while isinstance(node, dict) and token not in node and "$ref" in node:
            resolved = resolver.lookup(node["$ref"])
            resolver, node = resolved.resolver, resolved.contents
            note(node)
        node = node[token]
        note(node)
    return warning


def _uri(kind: str, version: str) -> str:
    return "urn:cnilib:cache" if kind == "cache" else f"urn:cnilib:{version}:{kind}"


def oracle_failures(instance: Any, kind: str, version: str) -> Counter[tuple[str, str, bool]]:
    uri = _uri(kind, version)
    return Counter(
        (_pointer(e.absolute_path), e.validator or "false", _severity(e, uri))
        for e in _oracle(uri).iter_errors(instance)
    )


def compiled_failures(instance: Any, kind: str, version: str) -> Counter[tuple[str, str, bool]]:
    is_valid, errors = schema._validator(kind, version)
    raw = errors(instance)
    assert is_valid(instance) == (not raw)
    return Counter((_pointer(path), keyword, warn) for path, keyword, _n, warn, _a in raw)


# -- strategies ----------------------------------------------------------------------------

def _schema_keys() -> list[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties" and isinstance(v, dict):
                    keys.update(v)
                if k == "required" and isinstance(v, list):
                    keys.update(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for _, resource in _resources():
        walk(resource.contents)
    return sorted(keys)


KEYS = [*_schema_keys(), "Nameservers", "cni.dev/other", "capabilites", "plugin-key", ""]
STRINGS = [
    "", "bridge", "host-local", "../x", "a/b", "a\\b", ".hidden", "a b", "x\n", "0.1", "0.1.0",
    "0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "1.2.3", "01.0.0", "+1.0.0", "1.0.0-rc1", "x",
    "true", "TRUE", "False", "yes", "4", "6", "10.0.0.1", "10.0.0.1/24", "10.0.0.1/33",
    "01.2.3.4/8", "::1", "::1/128", "::ffff:10.9.9.9/120", "fe80::1%eth0", "2001:db8::/129",
    "cniCacheV1", "eyJ4Ijox", "eyJ4Ijox=", "net-1.a_b", "-net", "00:11:22:33:44:55",
]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 7, 8, 11, 42, 50, 99, 100, 999, -1, 1.0, 1.5, 2**64, 2**64 - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(STRINGS), st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner,
                        max_size=5),
    ),
    max_leaves=12,
)
kinds = st.sampled_from(schema.KINDS)


def _corpus() -> list[tuple[str, Any]]:
    out = []
    for path in corpus_files("configs"):
        kind = "netconflist" if path.suffix == ".conflist" else "netconf"
        out.append((kind, json.loads(path.read_bytes())))
    for path in corpus_files("results"):
        name = path.name
        kind = "error" if "-error-" in name else "version" if "-version-" in name else "result"
        out.append((kind, json.loads(path.read_bytes())))
    # libcni cache entries (cniCacheV1) wrapping the corpus results.
    for kind, doc in list(out):
        if kind == "result":
            out.append(("cache", {
                "kind": "cniCacheV1", "containerId": "c1", "config": "eyJ4Ijox",
                "ifName": "eth0", "networkName": "net", "netns": "/run/netns/x",
                "cniArgs": [["K", "V"]], "capabilityArgs": {"mac": "00:11:22:33:44:55"},
                "result": doc,
            }))
    return out


CORPUS_DOCS = _corpus()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _similar(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.sampled_from([True, False, "true", "FALSE", "yes", 1])
    if isinstance(value, str):
        return st.sampled_from(STRINGS)
    if isinstance(value, int | float):
        return st.sampled_from([0, 1, 2, 7, 8, 11, 42, 50, 99, 100, 999, -1, 1.0, 1.5, 2**64])
    if isinstance(value, list):
        return st.lists(st.sampled_from(STRINGS), max_size=2)
    return st.dictionaries(st.sampled_from(KEYS), st.sampled_from(STRINGS), max_size=3)


@st.composite
def corpus_mutants(draw: st.DrawFn) -> tuple[str, Any]:
    kind, doc = draw(st.sampled_from(CORPUS_DOCS))
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        parent: Any = doc
        for token in path[:-1]:
            parent = parent[token]
        action = draw(st.sampled_from(["replace", "delete", "add", "similar", "similar"]))
        if not path:
            if action == "replace":
                doc = draw(json_values)
            continue
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "similar":
            # A value of the same JSON type, so that the finer rules (patterns, bounds) run.
            parent[path[-1]] = draw(_similar(parent[path[-1]]))
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "delete" and isinstance(parent, list):
            parent.pop(path[-1])
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(st.sampled_from(KEYS))] = draw(json_values)
            elif isinstance(target, list):
                target.append(draw(json_values))
    return kind, doc


# -- properties ----------------------------------------------------------------------------

@given(instance=json_values, kind=kinds, version=versions)
def test_arbitrary_json_agrees_with_jsonschema(instance: Any, kind: str, version: str) -> None:
    """SPEC.md, Section 1: Network configuration format: configurations "are encoded in
    JSON"; any JSON value gets the verdicts a standard draft 2020-12 validator gives."""
    assert oracle_failures(instance, kind, version) == compiled_failures(instance, kind, version)


@settings(max_examples=300)
@given(mutant=corpus_mutants(), version=versions)
def test_mutated_corpus_documents_agree_with_jsonschema(mutant: tuple[str, Any],
                                                        version: str) -> None:
    """SPEC.md, Section 1: Network configuration format: "Plugin configuration objects may
    contain additional fields"; real configurations, broken at random places, get the same
    failures as under jsonschema."""
    kind, doc = mutant
    assert oracle_failures(doc, kind, version) == compiled_failures(doc, kind, version)


@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            "cniVersion": st.sampled_from(STRINGS), "name": st.sampled_from(STRINGS),
            "cniVersions": st.lists(st.sampled_from(STRINGS), max_size=3),
            "disableCheck": scalars, "disableGC": scalars, "loadOnlyInlinedPlugins": scalars,
            "plugins": st.lists(st.dictionaries(st.sampled_from(KEYS), json_values,
                                                max_size=4), max_size=3),
            "type": st.sampled_from(STRINGS), "code": scalars, "msg": scalars,
            "supportedVersions": st.lists(st.sampled_from(STRINGS), max_size=3),
            "ips": st.lists(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(STRINGS)),
                            max_size=2),
        },
    ),
    kind=kinds,
    version=versions,
)
def test_shaped_documents_agree_with_jsonschema(doc: Any, kind: str, version: str) -> None:
    """SPEC.md, Section 1: Network configuration format: "The network configuration is
    described in JSON form"; documents with the spec's own keys and awkward values get the
    same verdicts as under jsonschema."""
    assert oracle_failures(doc, kind, version) == compiled_failures(doc, kind, version)


def test_every_corpus_document_agrees_with_jsonschema() -> None:
    for kind, doc in CORPUS_DOCS:
        for version in SUPPORTED_VERSIONS:
            assert oracle_failures(doc, kind, version) == compiled_failures(doc, kind, version)


# -- the public standard validator ---------------------------------------------------------

SPEC_EXAMPLES = [json.loads(p.read_bytes())
                 for p in sorted((ROOT / "tests" / "data" / "spec").glob("[0-9]*.json"))]
SCHEMAS_BY_ID = [(kind, version) for kind in schema.KINDS
                 for version in (("",) if kind == "cache" else SUPPORTED_VERSIONS)]


@pytest.mark.parametrize(("kind", "version"), SCHEMAS_BY_ID)
def test_standard_validator_agrees_with_the_compiled_check(kind: schema.Kind,
                                                           version: str) -> None:
    """For every packaged schema, ``standard_validator`` is a plain draft 2020-12 validator
    over the packaged schema, and on every SPEC.md example and every corpus document it
    reports the failures cnilib's compiled check reports; a document it passes is one
    :func:`cnilib.schema.validate` finds no problem in."""
    standard = schema.standard_validator(kind, version)
    assert type(standard) is Draft202012Validator
    # "" is 0.1.0 (SPEC.md, Section 1: Network configuration format); the cache ignores versions
    resolved = version or "0.1.0"
    assert standard.schema == schema.load_schema(kind, resolved)
    assert standard is schema.standard_validator(kind, resolved)
    documents = SPEC_EXAMPLES + [doc for _, doc in CORPUS_DOCS]
    passed = 0
    for doc in documents:
        found = Counter((_pointer(e.absolute_path), e.validator or "false")
                        for e in standard.iter_errors(doc))
        compiled = Counter((ptr, keyword) for ptr, keyword, _ in
                           compiled_failures(doc, kind, resolved).elements())
        assert found == compiled, doc
        assert standard.is_valid(doc) == (schema.validate(doc, kind, resolved) == ())
        passed += standard.is_valid(doc)
    # The documents exercise both verdicts for every schema.
    assert 0 < passed < len(documents)


def test_schema_registry_holds_every_packaged_schema() -> None:
    """Every schema file is in the registry under its ``$id``, plugin schemas included, and
    each is a valid draft 2020-12 schema whose ``$ref``s resolve there."""
    registry = schema.schema_registry()
    files = sorted(SCHEMAS.rglob("*.json"))
    assert len(files) == len(SCHEMAS_BY_ID) + len(schema.plugin_schema_types()) + 1
    for path in files:
        contents = json.loads(path.read_text("utf-8"))
        assert registry.contents(contents["$id"]) == contents
        Draft202012Validator.check_schema(contents)
    bridge = Draft202012Validator(registry.contents("urn:cnilib:plugins:bridge"),
                                  registry=registry)
    assert bridge.is_valid({"type": "bridge", "ipMasq": False})
    assert not bridge.is_valid({"type": "bridge", "ipMasq": "no"})
