"""The laws of cnilib.testing.strategies: valid values load cleanly, invalid ones are refused.

Every valid configuration loads with no problem at all and round-trips through its bytes;
every invalid one is refused with an ERROR at the pointer its strategy documents; results
round-trip through JSON and satisfy their version's schema.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib import schema
from cnilib._json import JSONObject, dumps, loads
from cnilib.config import conf_from_bytes, conflist_from_bytes, conflist_from_conf
from cnilib.errors import ConfigValidationError, ResultError, Severity
from cnilib.testing import strategies as cst
from cnilib.types import Result, parse_result


@given(cst.netconflist_dicts())
def test_valid_lists_load_without_problems_and_round_trip(doc: JSONObject) -> None:
    net = conflist_from_bytes(dumps(doc))
    assert net.warnings == ()
    assert net.raw == doc
    assert [p.raw for p in net.plugins] == doc["plugins"]
    assert conflist_from_bytes(net.bytes) == net
    assert schema.validate(doc, "netconflist", net.cni_version) == ()


@given(cst.netconf_dicts())
def test_valid_confs_load_without_problems_and_round_trip(doc: JSONObject) -> None:
    conf = conf_from_bytes(dumps(doc))
    assert conf.warnings == ()
    assert conf.raw == doc
    assert loads(conf.bytes) == doc
    net = conflist_from_conf(conf)
    assert (net.name, net.cni_version, net.warnings) == (doc["name"], doc["cniVersion"], ())


@given(cst.invalid_netconflists)
def test_invalid_lists_are_refused_at_the_documented_pointer(bad: cst.Invalid) -> None:
    with pytest.raises(ConfigValidationError) as info:
        conflist_from_bytes(dumps(bad.document))
    errors = {p.pointer for p in info.value.problems if p.severity is Severity.ERROR}
    assert bad.pointer in errors


@given(cst.netconfs_without_type)
def test_untyped_confs_are_refused_at_the_documented_pointer(bad: cst.Invalid) -> None:
    with pytest.raises(ConfigValidationError) as info:
        conf_from_bytes(dumps(bad.document))
    errors = {p.pointer for p in info.value.problems if p.severity is Severity.ERROR}
    assert bad.pointer in errors


@given(cst.results)
def test_valid_results_satisfy_their_schema_and_round_trip(result: Result) -> None:
    doc = result.to_dict()
    assert [p for p in schema.validate(doc, "result", result.cni_version)
            if p.severity is Severity.ERROR] == []
    assert parse_result(dumps(doc)) == result


@given(st.data(), cst.versions)
def test_results_of_a_version_are_of_that_version(data: st.DataObject, version: str) -> None:
    result = data.draw(cst.results_of(version))
    assert result.cni_version == version
    assert [p for p in schema.validate(result.to_dict(), "result", version)
            if p.severity is Severity.ERROR] == []
    assert parse_result(result.to_json(), version) == result


@given(cst.results_with_invalid_address)
def test_results_with_a_bad_address_are_refused_at_the_documented_pointer(
        bad: cst.Invalid) -> None:
    with pytest.raises(ResultError) as info:
        parse_result(bad.document)
    assert f"(at {bad.pointer})" in info.value.msg
