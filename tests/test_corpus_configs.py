"""The real-world corpus: every configs/* loads, every invalid/* fails with a located error.

Go libcni loads every file of ``configs/`` (tests/data/corpus/README.md), so cnilib must too;
where a file breaks a spec rule libcni tolerates, validation reports it as a warning. Files of
``invalid/`` are refused by both loaders, with the file and (when it applies) line and column.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnilib._json import loads
from cnilib.config import (
    NetworkConfigList,
    conf_from_file,
    conflist_from_conf,
    conflist_from_file,
    load_conflist,
)
from cnilib.errors import (
    CNIError,
    ConfigNotFoundError,
    ConfigValidationError,
    InvalidJSONError,
    Severity,
)
from tests.paths import CORPUS, corpus_files

# The repository's corpus (counted and loaded by folder), and every case to run each test on
# (the same, plus the extra files of a corpus beside the repository, if any).
CONFIGS = sorted((CORPUS / "configs").iterdir())
INVALID = sorted((CORPUS / "invalid").iterdir())
ALL_CONFIGS = corpus_files("configs")
ALL_INVALID = corpus_files("invalid")


def _load(path: Path) -> NetworkConfigList:
    if path.suffix == ".conflist":
        return conflist_from_file(path)
    return conflist_from_conf(conf_from_file(path))


def test_the_corpus_is_there() -> None:
    assert len(CONFIGS) == 117
    assert len(INVALID) == 23


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_every_config_loads(path: Path) -> None:
    net = _load(path)
    doc = loads(path.read_bytes())
    assert isinstance(doc, dict)
    assert net.plugins
    assert str(path) == net.source
    assert all(p.severity is Severity.WARNING for p in net.warnings)
    if path.suffix == ".conflist":
        assert path.read_bytes() == net.bytes
        assert doc["name"] == net.name
        items = doc["plugins"]
        assert isinstance(items, list)
        assert [p["type"] for p in items if isinstance(p, dict)] == [p.type for p in net.plugins]
    else:
        assert path.read_bytes() == net.plugins[0].bytes
        assert (doc.get("name") or "", doc["type"]) == (net.name, net.plugins[0].type)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_without_validation_too(path: Path) -> None:
    if path.suffix == ".conflist":
        assert conflist_from_file(path, validate=False).warnings == ()
    else:
        assert conf_from_file(path, validate=False).warnings == ()


def _name(path: Path) -> object:
    doc = loads(path.read_bytes())
    return doc.get("name") if isinstance(doc, dict) else None


# Five .conf files have no name: they load from their file, not by name.
NAMED = [p for p in CONFIGS if isinstance(_name(p), str)]


def test_five_configs_have_no_name() -> None:
    assert len(NAMED) == 112


@pytest.mark.parametrize("path", [p for p in ALL_CONFIGS if isinstance(_name(p), str)],
                         ids=lambda p: p.name)
def test_every_named_config_loads_by_name(path: Path, tmp_path: Path) -> None:
    name = _name(path)
    assert isinstance(name, str)
    shutil.copy(path, tmp_path / path.name)
    net = load_conflist(tmp_path, name)
    assert (name, str(tmp_path / path.name)) == (net.name, net.source)
    assert net == _load(tmp_path / path.name)


def _first_by_name() -> dict[str, Path]:
    # libcni's order: .conflist files sorted, then .conf/.json sorted; first match wins.
    first: dict[str, Path] = {}
    for group in (".conflist",), (".conf", ".json"):
        for path in CONFIGS:
            name = _name(path)
            if path.suffix in group and isinstance(name, str):
                first.setdefault(name, path)
    return first


def test_the_whole_corpus_directory_by_name() -> None:
    """Deterministic sorted order: conflists first, then single-plugin files; first wins."""
    expected = _first_by_name()
    assert len(expected) == 49
    for name, path in expected.items():
        net = load_conflist(CORPUS / "configs", name)
        assert (name, str(path)) == (net.name, net.source)


def test_spec_rules_libcni_tolerates_are_warnings() -> None:
    """Validation reports what is off without refusing to load."""
    for name in ("003-containernetworking-spec010-macvlan-wan.conf",   # cniVersion "0.1"
                 "032-containernetworking-win-overlay.conf",           # "capabilites"
                 "017-containernetworking-readme-99-loopback.conf"):   # no name
        net = _load(CORPUS / "configs" / name)
        assert net.warnings, name
        assert all(w.file == str(CORPUS / "configs" / name) for w in net.warnings)


@pytest.mark.parametrize("path", ALL_INVALID, ids=lambda p: p.name)
@pytest.mark.parametrize("load", [conf_from_file, conflist_from_file],
                         ids=["conf", "conflist"])
def test_every_invalid_file_fails_located(path: Path, load: object) -> None:
    assert callable(load)
    for validate in (True, False):
        with pytest.raises(CNIError) as info:
            load(path, validate=validate)
        err = info.value
        if isinstance(err, InvalidJSONError):
            assert str(path) == err.file
            assert err.line is not None
            assert err.column is not None
        else:
            assert isinstance(err, ConfigValidationError)
            assert err.problems
            for problem in err.problems:
                assert str(path) == problem.file
                assert problem.line is not None
                assert problem.column is not None
        assert str(err).startswith(str(path))


def test_the_invalid_directory_by_name() -> None:
    # 010 is a list saved as .json, so the fallback reads it as one plugin: no 'type'.
    with pytest.raises(ConfigValidationError) as info:
        load_conflist(CORPUS / "invalid", "bridge")
    assert str(CORPUS / "invalid" / "010-podman-noplugin.json") == info.value.problems[0].file
    with pytest.raises(ConfigNotFoundError) as missing:
        load_conflist(CORPUS / "invalid", "absent")
    assert "001-portmap-doc-trailing-comma.json" in missing.value.details
