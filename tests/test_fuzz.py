"""Fuzzing: whatever a file, a plugin or a cache entry holds, only a ``CNIError`` escapes (G4).

Five targets, each fed valid documents that Hypothesis then mutates (members replaced, dropped,
added, retyped; texts cut, spliced and byte-flipped) as well as arbitrary bytes:

* configurations (``conflist_from_bytes``, ``conf_from_bytes``, with and without validation);
* results (``parse_result``, then every conversion and the cache's JSON of what parsed);
* cache entries (``CacheEntry.from_bytes``, and back to bytes for what parsed);
* plugin stdout (reply parsing for every verb, exit statuses and signals included);
* whole chains through ``CNIConfig`` with fake plugins replying mutated results.

The normal run takes a short variant; ``CNILIB_LONG=1`` runs 102,000 inputs in
total (``docs/guarantees.md``, section *Long runs*, has the command and the last figures).
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnilib._json import JSON, dumps
from cnilib._plans.replies import check_reply, parse_add_reply, parse_version_reply, reply_error
from cnilib.api import CNIConfig
from cnilib.cache import CacheEntry
from cnilib.config import conf_from_bytes, conflist_from_bytes
from cnilib.errors import CNIError
from cnilib.protocol import Command, Completed, Invocation, RuntimeConf
from cnilib.testing import FakeExecutor
from cnilib.testing import strategies as cst
from cnilib.types import parse_result
from cnilib.version import SUPPORTED_VERSIONS
from tests.variants import LONG

#: Inputs per target in the long variant: 102,000 in all, the cheaper targets taking more
#: (CPU per input, measured: results 5 ms, stdout 6 ms, cache entries 7 ms, configurations
#: 9 ms, whole chains 19 ms). The short variant takes 40 each.
LONG_EXAMPLES = {"configurations": 20_000, "results": 31_000, "cache": 15_000, "stdout": 31_000,
                 "chains": 5_000}


def fuzz(target: str) -> settings:
    """The settings of one target: its share of the long variant, or the short one."""
    return settings(max_examples=LONG_EXAMPLES[target] if LONG else 40, deadline=None,
                    database=None, suppress_health_check=[
                        HealthCheck.too_slow, HealthCheck.data_too_large,
                        HealthCheck.filter_too_much])

_ODD: list[JSON] = [None, "", "x", "1.0.0", "10.1.0.1", "10.1.0.0/16", "2001:db8::1/64",
                    "fe80::1%eth0", "../x", "a/b", 0, -1, 2**63, 2**64, 1.5, 1e300, True, False,
                    [], [None], [[[]]], {}, {"type": 1}, {"code": 7, "msg": "m"}]
_KEYS = ["type", "name", "cniVersion", "cniVersions", "plugins", "ipam", "dns", "ips",
         "interfaces", "routes", "address", "gateway", "interface", "capabilities",
         "runtimeConfig", "prevResult", "disableCheck", "loadOnlyInlinedPlugins", "kind",
         "containerId", "config", "ifName", "networkName", "result", "cniArgs", "extra"]


def _mutate(value: JSON, data: st.DataObject, depth: int = 0) -> JSON:
    """A copy of ``value`` with members replaced, dropped, nulled, retyped or added."""
    if isinstance(value, dict):
        out: dict[str, JSON] = {}
        for key, member in value.items():
            action = data.draw(st.sampled_from(["keep", "keep", "keep", "odd", "drop", "deep"]))
            if action == "odd":
                out[key] = data.draw(st.sampled_from(_ODD))
            elif action == "deep" and depth < 6:
                out[key] = _mutate(member, data, depth + 1)
            elif action != "drop":
                out[key] = member
        if data.draw(st.booleans()):
            out[data.draw(st.sampled_from(_KEYS))] = data.draw(
                st.one_of(st.sampled_from(_ODD), cst.json_values))
        return out
    if isinstance(value, list):
        items = [_mutate(v, data, depth + 1) if depth < 6 else v for v in value]
        replace: bool = data.draw(st.booleans())
        if items and replace:
            items[data.draw(st.integers(0, len(items) - 1))] = data.draw(st.sampled_from(_ODD))
        if data.draw(st.booleans()):
            items.append(data.draw(st.sampled_from(_ODD)))
        return items
    return value


def _garble(text: bytes, data: st.DataObject) -> bytes:
    """``text`` cut, spliced or with a byte flipped (or left whole)."""
    how = data.draw(st.sampled_from(["whole", "whole", "cut", "flip", "splice"]))
    if not text or how == "whole":
        return text
    at = data.draw(st.integers(0, len(text) - 1))
    if how == "cut":
        return text[:at]
    if how == "flip":
        return text[:at] + bytes([text[at] ^ data.draw(st.integers(1, 255))]) + text[at + 1:]
    return text[:at] + data.draw(st.binary(max_size=8)) + text[at:]


def _texts(documents: st.SearchStrategy[Any], data: st.DataObject) -> bytes:
    """One of ``documents``, mutated then garbled; or, one time in ten, arbitrary bytes."""
    return _text_of(data.draw(documents), data)


def _text_of(doc: JSON, data: st.DataObject) -> bytes:
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.binary(max_size=200))
    return _garble(dumps(_mutate(doc, data), indent=data.draw(st.sampled_from([None, 2]))),
                   data)


@fuzz("configurations")
@given(st.data())
def test_fuzzed_configurations_load_or_raise_a_cni_error(data: st.DataObject) -> None:
    text = _texts(st.one_of(cst.netconflist_dicts(), cst.netconf_dicts()), data)
    validate = data.draw(st.booleans())
    for load in (conflist_from_bytes, conf_from_bytes):
        try:
            value = load(text, validate=validate)
        except CNIError:
            continue
        for problem in value.warnings:
            assert isinstance(problem.line, int | None)


@fuzz("results")
@given(st.data())
def test_fuzzed_results_parse_convert_and_encode_or_raise_a_cni_error(
        data: st.DataObject) -> None:
    from cnilib._cache.entry import go_json

    text = _texts(cst.results.map(lambda r: r.to_dict()), data)
    try:
        result = parse_result(text, data.draw(st.sampled_from(["", *SUPPORTED_VERSIONS])))
    except CNIError:
        return
    go_json(result.to_dict())
    for version in SUPPORTED_VERSIONS:
        with contextlib.suppress(CNIError):
            result.as_version(version).to_dict()


def _entries(data: st.DataObject) -> JSON:
    result = data.draw(cst.results).to_dict()
    return {"kind": "cniCacheV1", "containerId": data.draw(cst.container_ids),
            "config": base64.b64encode(dumps({"type": "a"})).decode(),
            "ifName": data.draw(cst.ifnames), "networkName": data.draw(cst.network_names),
            "netns": "/var/run/netns/x", "cniArgs": [["K8S_POD_NAME", "p"]],
            "capabilityArgs": {"portMappings": []}, "result": result}


@fuzz("cache")
@given(st.data())
def test_fuzzed_cache_entries_read_or_raise_a_cni_error(data: st.DataObject) -> None:
    text = _text_of(_entries(data), data)
    try:
        entry = CacheEntry.from_bytes(text)
    except CNIError:
        return
    assert CacheEntry.from_bytes(entry.to_bytes()) == entry


_completions = st.builds(
    Completed,
    exit_status=st.sampled_from([0, 0, 0, 1, 2, 7, 255, -9, -15, -11, -6]),
    stdout=st.just(b""),
    stderr=st.binary(max_size=64),
    duration=st.floats(0, 10),
    timed_out=st.booleans(),
    truncated=st.booleans(),
)


def _stdout(data: st.DataObject) -> bytes:
    error = st.fixed_dictionaries({"code": st.sampled_from(_ODD), "msg": st.sampled_from(_ODD),
                                   "details": st.sampled_from(_ODD)})
    version = st.fixed_dictionaries({"cniVersion": cst.versions,
                                     "supportedVersions": st.lists(cst.versions, max_size=3)})
    return _texts(st.one_of(cst.results.map(lambda r: r.to_dict()), error, version), data)


@fuzz("stdout")
@given(st.data(), _completions, st.sampled_from(list(Command)),
       st.sampled_from(["", "0.3.1", "1.0.0", "1.1.0"]))
def test_fuzzed_plugin_stdout_gives_a_value_or_a_cni_error(
        data: st.DataObject, done: Completed, command: Command, version: str) -> None:
    import attrs

    done = attrs.evolve(done, stdout=_stdout(data))
    inv = Invocation("p", "/bin/p", command, b"{}", {})
    err = reply_error(inv, done)
    assert err is None or isinstance(err, CNIError)
    for parse in (lambda: parse_add_reply(inv, done, version),
                  lambda: parse_version_reply(inv, done), lambda: check_reply(inv, done)):
        with contextlib.suppress(CNIError):
            parse()


@fuzz("chains")
@given(st.data())
def test_fuzzed_replies_through_a_whole_chain_give_a_result_or_a_cni_error(
        data: st.DataObject) -> None:
    replies = [Completed(data.draw(st.sampled_from([0, 0, 1, -9])), _stdout(data), b"", 0.0)
               for _ in range(3)]
    script = iter(replies * 4)

    def handler(inv: Invocation) -> Completed:
        return next(script, replies[0])

    net = conflist_from_bytes(dumps({"cniVersion": data.draw(cst.versions), "name": "n",
                                     "plugins": [{"type": "a"}, {"type": "b"}]}),
                              validate=False)
    rt = RuntimeConf("c1", "/var/run/netns/x", "eth0")
    with tempfile.TemporaryDirectory() as cache:
        cni = CNIConfig(["/bin"], cache, executor=FakeExecutor(handler))
        for op in (cni.add_network_list, cni.check_network_list, cni.del_network_list):
            with contextlib.suppress(CNIError):
                op(net, rt)
