"""Every real ADD result in the corpus parses and converts (libcni's result types).

Results with no ``cniVersion`` are read in the version of their file name, as a runtime reads
them in the configuration's version (libcni ``fixupResultVersion``). Conversion may fail only
where libcni fails too: to 0.1.0/0.2.0 with no IPv4 or IPv6 address.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnilib.errors import ConversionError
from cnilib.types import Result020, Result040, Result100, parse_result
from cnilib.version import SUPPORTED_VERSIONS
from tests.paths import CORPUS, corpus_files

RESULTS = CORPUS / "results"
ADD_RESULTS = [
    p for p in corpus_files("results")
    if p.suffix == ".json" and "-error-" not in p.name and "-version-" not in p.name
]


def _named_version(path: Path) -> str:
    return path.stem.rsplit("-", 1)[1]


def test_the_corpus_is_there() -> None:
    own = [p for p in ADD_RESULTS if p.parent == RESULTS]
    assert len(own) >= 17
    assert {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"} == {
        _named_version(p) for p in own}


@pytest.mark.parametrize("path", ADD_RESULTS, ids=lambda p: p.name)
def test_corpus_result_parses_in_its_version(path: Path) -> None:
    data = path.read_bytes()
    raw = json.loads(data)
    version = _named_version(path)
    result = parse_result(data, version)
    assert version == raw.get("cniVersion", version) == result.cni_version
    assert result == parse_result(result.to_json())


@pytest.mark.parametrize("path", ADD_RESULTS, ids=lambda p: p.name)
@pytest.mark.parametrize("target", SUPPORTED_VERSIONS)
def test_corpus_result_converts_where_libcni_does(path: Path, target: str) -> None:
    result = parse_result(path.read_bytes(), _named_version(path))
    if target in ("0.1.0", "0.2.0") and _has_no_address(result):
        with pytest.raises(ConversionError, match="cannot convert: no valid IP addresses"):
            result.as_version(target)
        return
    out = result.as_version(target)
    assert target == out.cni_version
    assert out == parse_result(out.to_json())


def _has_no_address(result: Result020 | Result040 | Result100) -> bool:
    # libcni's condition for "cannot convert: no valid IP addresses".
    if isinstance(result, Result040):
        return not any(ip.version in ("4", "6") for ip in result.ips)
    if isinstance(result, Result100):
        return not result.ips
    return False


def test_the_spec_bridge_result_converts_down_as_libcni_does() -> None:
    # SPEC appendix "Add example": the bridge plugin's result, taken down to 0.2.0.
    result = parse_result((RESULTS / "015-spec100-bridge-1.0.0.json").read_bytes(), "1.0.0")
    assert result.as_version("0.2.0").to_dict() == {"cniVersion": "0.2.0",
            "ip4": {"ip": "10.1.0.5/16", "gateway": "10.1.0.1",
                    "routes": [{"dst": "0.0.0.0/0"}]},
            "dns": {"nameservers": ["10.1.0.1"]}}


def test_a_100_result_with_a_stray_version_field_drops_it() -> None:
    # aws-cni writes ips[].version in a 1.0.0 result; libcni drops the unknown field, and the
    # family is recomputed from the address when going to 0.4.0.
    result = parse_result((RESULTS / "017-aws-cni-prevresult-1.0.0.json").read_bytes())
    assert isinstance(result, Result100)
    assert "version" not in json.dumps(result.to_dict()["ips"])
    r040 = result.as_version("0.4.0")
    assert isinstance(r040, Result040)
    assert r040.ips[0].version == "6"
