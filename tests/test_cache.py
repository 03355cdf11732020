"""The result cache: libcni's ``cniCacheV1`` bytes, atomic writes, defensive reads (docs/cache.md).

Rules of this file:

* Byte-exact expectations are written out literally (from libcni's ``cacheAdd`` output
  and Go's ``encoding/json`` rules), never produced by the code under test.
* Every refusal of a bad identifier is shown to happen before the file system is touched: the
  cache root stays empty and a canary file outside it survives (G6 in docs/guarantees.md).
"""

from __future__ import annotations

import base64
import errno
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnilib._cache.entry import go_float
from cnilib._json import JSONObject, loads
from cnilib.cache import CacheEntry, ResultCache
from cnilib.errors import CacheError, ErrorCode, InvalidIdentifierError

#: An entry written by Go libcni (AddNetworkList on a two-plugin 1.0.0 list).
GO_EXAMPLE = (
    b'{"kind":"cniCacheV1","containerId":"c","config":"eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoib'
    b'jEiLCJwbHVnaW5zIjpbeyJ0eXBlIjoicmVjQSJ9LHsidHlwZSI6InJlY0IifV19","ifName":"eth0","network'
    b'Name":"n1","netns":"/x","result":{"cniVersion":"0.4.0","dns":{},"interfaces":[{"name":"eth'
    b'0","sandbox":"/x"}],"ips":[{"address":"10.1.1.1/24","gateway":"10.1.1.254","interface":0,'
    b'"version":"4"}]}}'
)
CONFIG = b'{"cniVersion":"1.0.0","name":"n1","plugins":[{"type":"recA"},{"type":"recB"}]}'


def entry(**kw: object) -> CacheEntry:
    fields: dict[str, object] = {
        "network_name": "n1", "container_id": "c", "ifname": "eth0", "config": CONFIG,
    }
    fields.update(kw)
    return CacheEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path) -> ResultCache:
    return ResultCache(tmp_path / "cni")


def results_dir(cache: ResultCache) -> Path:
    return Path(cache.root) / "results"


def write_raw(cache: ResultCache, name: str, data: bytes) -> Path:
    folder = results_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


# -- the format ------------------------------------------------------------------------------


def test_go_example_round_trips_byte_for_byte(cache: ResultCache) -> None:
    """libcni's cniCacheV1: a file Go wrote is read, and written back, identically."""
    parsed = CacheEntry.from_bytes(GO_EXAMPLE)
    assert parsed.config == CONFIG
    assert parsed.netns == "/x"
    assert parsed.result is not None
    assert parsed.result["cniVersion"] == "0.4.0"
    assert parsed.to_bytes() == GO_EXAMPLE
    path = cache.save(parsed)
    assert Path(path).read_bytes() == GO_EXAMPLE
    assert cache.load("n1", "c", "eth0") == parsed


def test_every_field_in_libcnis_order_and_shape() -> None:
    """Struct order; cniArgs as [[K,V]]; maps with sorted keys at every level."""
    e = entry(
        netns="/run/netns/a",
        cni_args=[("K8S_POD_NAME", "p"), ("IgnoreUnknown", "1")],
        capability_args={"portMappings": [{"z": 1, "a": 2}], "bandwidth": {"b": 1, "a": None}},
        result={"z": True, "cniVersion": "1.0.0", "a": [1, 2.5, "s"]},
    )
    config64 = base64.b64encode(CONFIG).decode()
    assert e.to_bytes().decode() == (
        '{"kind":"cniCacheV1","containerId":"c","config":"' + config64 + '",'
        '"ifName":"eth0","networkName":"n1","netns":"/run/netns/a",'
        '"cniArgs":[["K8S_POD_NAME","p"],["IgnoreUnknown","1"]],'
        '"capabilityArgs":{"bandwidth":{"a":null,"b":1},"portMappings":[{"a":2,"z":1}]},'
        '"result":{"a":[1,2.5,"s"],"cniVersion":"1.0.0","z":true}}'
    )


def test_empty_optional_fields_are_omitted() -> None:
    """omitempty: no netns, cniArgs, capabilityArgs or result keys when they are empty."""
    e = entry(config=b"", result={})
    assert e.to_bytes() == (
        b'{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"eth0","networkName":"n1"}'
    )


def test_an_empty_result_map_reads_as_no_result() -> None:
    """omitempty makes ``"result": {}`` and no result one thing on disk: both read as None, so
    an entry read from either text reads back equal to itself after a write (a case the cache
    fuzzer found: ``{}`` used to read as ``{}`` and, once written, back as None)."""
    head = '{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"eth0","networkName":"n1"'
    for text in (head + ',"result":{}}', head + "}", head + ',"result":null}'):
        e = CacheEntry.from_bytes(text.encode())
        assert e.result is None
        assert CacheEntry.from_bytes(e.to_bytes()) == e


def test_strings_are_escaped_as_go_does() -> None:
    """Go's json.Marshal escapes <, >, & and U+2028/9; other non-ASCII stays UTF-8."""
    e = entry(netns="/a<b>&c", result={"msg": "é\u2028\u2029\n\"\\\x01"})
    text = e.to_bytes().decode("utf-8")
    assert '"netns":"/a\\u003cb\\u003e\\u0026c"' in text
    assert '"result":{"msg":"é\\u2028\\u2029\\n\\"\\\\\\u0001"}' in text
    assert CacheEntry.from_bytes(e.to_bytes()) == e


def test_big_integers_are_kept_exact() -> None:
    """EXCEED: libcni rounds integers above 2**53 through float64; cnilib keeps them."""
    e = entry(result={"n": 2**64 + 1})
    assert b'"result":{"n":18446744073709551617}' in e.to_bytes()
    assert CacheEntry.from_bytes(e.to_bytes()).result == {"n": 2**64 + 1}


@pytest.mark.parametrize("value", [5.341516227216194e16, -2.0**53 - 2, 9.87654321e20])
def test_whole_floats_above_2_53_are_written_exactly(value: float) -> None:
    """EXCEED: Go writes a float64 in [2**53, 1e21) as its shortest digits padded with zeros
    ("53415162272161940"), which is not its value; read back, that text is an integer that
    differs from the float. cnilib writes the float's exact value, which Go reads back as the
    same float64, so the entry reads back equal (found by the long fuzz run)."""
    e = entry(capability_args={"type": value}, result={"x": value})
    assert f'"capabilityArgs":{{"type":{int(value)}}}'.encode() in e.to_bytes()
    again = CacheEntry.from_bytes(e.to_bytes())
    assert again == e
    assert again.capability_args["type"] == value
    assert float(again.capability_args["type"]) == value  # what Go's float64 reads


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_written_float_reads_back_as_the_same_number(value: float) -> None:
    """The law behind the cache format's numbers: what go_float writes reads back, here and as
    Go's float64, as the number it was."""
    text = go_float(value)
    assert loads(text.encode()) == value
    assert float(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (-0.0, "-0"), (2.5, "2.5"), (0.1, "0.1"), (1e20, "100000000000000000000"),
     (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (123456789.125, "123456789.125"),
     (-3.25e-10, "-3.25e-10"), (1.7976931348623157e308, "1.7976931348623157e+308")],
)
def test_floats_are_formatted_as_go_does(value: float, text: str) -> None:
    """encoding/json float64: 'f' format in [1e-6, 1e21), else 'e' with a short exponent."""
    assert go_float(value) == text


@pytest.mark.parametrize(
    "result", [{"x": float("nan")}, {"x": float("inf")}, {"x": {1, 2}}, {"x": "\udc80"}]
)
def test_unencodable_values_are_cache_errors(result: dict[str, object]) -> None:
    """What JSON cannot carry is a typed error, not ValueError/TypeError/UnicodeError."""
    with pytest.raises(CacheError):
        entry(result=result).to_bytes()


def test_unknown_keys_are_ignored_and_nulls_are_empty() -> None:
    """As Go: extra keys (a boot_id, say) are ignored; null optional fields read as empty."""
    data = (
        b'{"kind":"cniCacheV1","containerId":"c","config":null,"ifName":"eth0",'
        b'"networkName":"n1","netns":null,"cniArgs":null,"capabilityArgs":null,"result":null,'
        b'"boot_id":"abc"}'
    )
    assert CacheEntry.from_bytes(data) == entry(config=b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"garbage",
        b"[]",
        b'{"kind":"cniCacheV1"}',
        b'{"kind":"cniCacheV2","containerId":"c","ifName":"eth0","networkName":"n1"}',
        (b'{"kind":"cniCacheV1","containerId":"c","config":"not base64!","ifName":"eth0",'
        b'"networkName":"n1"}'),
        b'{"kind":"cniCacheV1","containerId":7,"config":"","ifName":"eth0","networkName":"n1"}',
        (b'{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"eth0","networkName":"n1",'
        b'"cniArgs":[["a"]]}'),
        (b'{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"eth0","networkName":"n1",'
        b'"result":[]}'),
        (b'{"kind":"cniCacheV1","containerId":"../x","config":"","ifName":"eth0",'
        b'"networkName":"n1"}'),
        (b'{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"eth0","networkName":"n1",'
        b'"netns":NaN}'),
    ],
)
def test_corrupt_entries_are_decoding_failures(data: bytes) -> None:
    """An unusable v1 entry is a CacheError with code DECODING_FAILURE, never guessed at."""
    with pytest.raises(CacheError) as info:
        CacheEntry.from_bytes(data)
    assert info.value.code == ErrorCode.DECODING_FAILURE


def test_entry_fields_are_checked() -> None:
    """Invalid values cannot exist: identifiers, pair shapes and field types are checked."""
    with pytest.raises(InvalidIdentifierError):
        entry(ifname="a/b")
    with pytest.raises(InvalidIdentifierError):
        entry(cni_args=[("K", 1)])
    with pytest.raises(InvalidIdentifierError):
        entry(cni_args="K=V")
    with pytest.raises(CacheError):
        entry(config="text")
    with pytest.raises(CacheError):
        entry(result=[])
    assert entry(cni_args={"A": "1", "B": "2"}).cni_args == (("A", "1"), ("B", "2"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
names = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,20}", fullmatch=True)


entries = st.builds(
    CacheEntry,
    network_name=names,
    container_id=names,
    ifname=st.from_regex(r"[a-z][a-z0-9]{0,14}", fullmatch=True),
    config=st.binary(max_size=64),
    netns=st.text(max_size=20),
    cni_args=st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=3),
    capability_args=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    result=st.none() | st.dictionaries(st.text(max_size=5), json_values, min_size=1, max_size=3),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(e=entries)
def test_saved_entries_load_back_equal(tmp_path: Path, e: CacheEntry) -> None:
    """The runtime must store the result returned by the final plugin persistently, as it is required for _check_ and _delete_ operations."""  # noqa: E501
    cache = ResultCache(tmp_path / "prop")
    cache.save(e)
    assert cache.load(e.network_name, e.container_id, e.ifname) == e
    assert CacheEntry.from_bytes(Path(cache.path_for(e.network_name, e.container_id, e.ifname))
                                 .read_bytes()) == e
    cache.delete(e.network_name, e.container_id, e.ifname)


# -- reading ---------------------------------------------------------------------------------


def test_missing_entry_is_none(cache: ResultCache) -> None:
    """No file (or no cache folder at all) is no entry, as libcni."""
    assert cache.load("n1", "c", "eth0") is None
    assert cache.attachments() == ()


@pytest.mark.parametrize("data", [b"", b"\x00\x01", b'{"kind":7}', b"null"])
def test_corrupt_file_is_reported_with_its_path(cache: ResultCache, data: bytes) -> None:
    """containernetworking/cni#1055: an empty or corrupt file (a crash under libcni) is a
    CacheError naming it."""
    path = write_raw(cache, "n1-c-eth0", data)
    with pytest.raises(CacheError) as info:
        cache.load("n1", "c", "eth0")
    assert str(path) in str(info.value)
    assert info.value.code == ErrorCode.DECODING_FAILURE


def test_legacy_file_is_a_bare_result(cache: ResultCache) -> None:
    """libcni getCachedResult: a pre-2019 file holds only the result; readable, marked legacy."""
    result: JSONObject = {"cniVersion": "0.3.1", "ips": [{"version": "4", "address": "1.2.3.4/24"}]}
    write_raw(cache, "n1-c-eth0", b'{"cniVersion":"0.3.1","ips":[{"version":"4",'
                                  b'"address":"1.2.3.4/24"}]}')
    loaded = cache.load("n1", "c", "eth0")
    assert loaded == CacheEntry(
        network_name="n1", container_id="c", ifname="eth0", config=b"", result=result,
        legacy=True,
    )
    assert cache.attachments() == ()  # as GetCachedAttachments: legacy files are not attachments


def test_entry_of_another_attachment_is_not_taken(cache: ResultCache) -> None:
    """The file name is ambiguous (a-b/c vs a/b-c); the stored triple decides whose it is."""
    cache.save(entry(network_name="a-b", container_id="c"))
    assert cache.load("a", "b-c", "eth0") is None
    assert cache.load("a-b", "c", "eth0") is not None
    with pytest.raises(CacheError, match="belongs to"):
        cache.save(entry(network_name="a", container_id="b-c"))
    cache.delete("a", "b-c", "eth0")  # not ours: left alone
    assert cache.load("a-b", "c", "eth0") is not None


def test_symlinked_entry_is_refused(cache: ResultCache, tmp_path: Path) -> None:
    """G5: reads use O_NOFOLLOW, so a planted symlink is not followed."""
    secret = tmp_path / "secret"
    secret.write_bytes(GO_EXAMPLE)
    results_dir(cache).mkdir(parents=True)
    (results_dir(cache) / "n1-c-eth0").symlink_to(secret)
    with pytest.raises(CacheError) as info:
        cache.load("n1", "c", "eth0")
    assert info.value.code == ErrorCode.IO_FAILURE
    assert cache.attachments() == ()


def test_non_regular_and_oversized_entries_are_refused(tmp_path: Path) -> None:
    """A directory or FIFO at the path, or a file over the size cap, is an I/O CacheError."""
    cache = ResultCache(tmp_path / "cni", max_entry_size=100)
    (results_dir(cache) / "n1-c-eth0").mkdir(parents=True)
    os.mkfifo(results_dir(cache) / "n1-c-eth1")
    write_raw(cache, "n1-c-eth2", GO_EXAMPLE)
    for ifname in ("eth0", "eth1", "eth2"):
        with pytest.raises(CacheError) as info:
            cache.load("n1", "c", ifname)
        assert info.value.code == ErrorCode.IO_FAILURE


# -- writing ---------------------------------------------------------------------------------


def test_save_creates_private_folders_and_files(cache: ResultCache) -> None:
    """As libcni: the folder is 0700 and the file 0600."""
    path = Path(cache.save(entry()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(results_dir(cache).stat().st_mode) == 0o700
    assert path == Path(cache.path_for("n1", "c", "eth0"))
    assert path == results_dir(cache) / "n1-c-eth0"


@pytest.mark.parametrize("fail_at", ["write", "fsync", "rename"])
def test_failed_write_keeps_the_old_entry_and_no_temp_file(
    cache: ResultCache, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    """G5: a write that fails at any step leaves the previous entry whole and no temp behind."""
    old = entry(result={"cniVersion": "1.0.0"})
    cache.save(old)

    def boom(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, fail_at, boom)
    with pytest.raises(CacheError, match="Input/output error") as info:
        cache.save(entry(result={"cniVersion": "1.1.0"}))
    monkeypatch.undo()
    assert info.value.code == ErrorCode.IO_FAILURE
    assert os.listdir(results_dir(cache)) == ["n1-c-eth0"]
    assert cache.load("n1", "c", "eth0") == old


def test_interrupted_write_removes_its_temp_file(
    cache: ResultCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a KeyboardInterrupt mid-write leaves no temp file and lets the interrupt through."""

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        cache.save(entry())
    monkeypatch.undo()
    assert os.listdir(results_dir(cache)) == []


def test_unwritable_cache_root_is_a_cache_error(tmp_path: Path) -> None:
    """A cache root that cannot hold a folder gives CacheError with the path and the reason."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    cache = ResultCache(blocker / "cni")
    with pytest.raises(CacheError) as info:
        cache.save(entry())
    assert str(blocker / "cni" / "results" / "n1-c-eth0") in str(info.value)
    assert "Not a directory" in str(info.value)


def test_delete_is_idempotent_and_removes_corrupt_files(cache: ResultCache) -> None:
    """Deleting twice is fine; a corrupt file is deleted too (DEL must be able to clean up)."""
    cache.save(entry())
    cache.delete("n1", "c", "eth0")
    cache.delete("n1", "c", "eth0")
    assert cache.load("n1", "c", "eth0") is None
    write_raw(cache, "n1-c-eth0", b"")
    cache.delete("n1", "c", "eth0")
    assert os.listdir(results_dir(cache)) == []


# -- identifiers -----------------------------------------------------------------------------

TRAVERSALS = [
    ("../../canary", "c", "eth0"),
    ("n1", "../../canary", "eth0"),
    ("n1", "c", "../canary"),
    ("n1", "c", "x/../../../y"),
    ("", "c", "eth0"),
    ("n1", "", "eth0"),
    ("n1", "c", ""),
    ("n1", "c\0", "eth0"),
]


@pytest.mark.parametrize(("net", "cid", "ifname"), TRAVERSALS)
def test_bad_identifiers_never_touch_the_file_system(
    tmp_path: Path, net: str, cid: str, ifname: str
) -> None:
    """G6: every entry point checks the triple before building a path."""
    canary = tmp_path / "canary"
    canary.write_text("alive", encoding="utf-8")
    root = tmp_path / "root" / "cache"
    root.mkdir(parents=True)
    cache = ResultCache(root)

    def lock() -> None:
        with cache.lock(net, cid, ifname):
            pass

    calls: list[Callable[[], object]] = [
        lock,
        lambda: cache.path_for(net, cid, ifname),
        lambda: cache.load(net, cid, ifname),
        lambda: cache.delete(net, cid, ifname),
        lambda: cache.save(CacheEntry(network_name=net, container_id=cid, ifname=ifname)),
    ]
    for call in calls:
        with pytest.raises(InvalidIdentifierError):
            call()
    assert canary.read_text(encoding="utf-8") == "alive"
    assert os.listdir(root) == []


# -- attachments -----------------------------------------------------------------------------


def test_attachments_lists_valid_entries_sorted(cache: ResultCache) -> None:
    """As libcni GetCachedAttachments: sorted by file name; unusable, legacy and misnamed files
    skipped."""
    b = entry(network_name="net2", container_id="c1")
    a = entry(network_name="net1", container_id="c1", ifname="eth1")
    other = entry(network_name="net1", container_id="c2")
    for e in (b, a, other):
        cache.save(e)
    write_raw(cache, "net1-c1-eth9", b"garbage")
    write_raw(cache, "net1-c1-eth8", b'{"cniVersion":"0.4.0"}')  # legacy
    write_raw(cache, "copy-of-net1-c1-eth1", a.to_bytes())  # not named after its triple
    write_raw(cache, ".net1-c1-eth1.abc.tmp", a.to_bytes())  # a crash's leftover temp file
    (results_dir(cache) / "net3-c1-eth0").mkdir()
    assert cache.attachments() == (a, other, b)
    assert cache.attachments("c1") == (a, b)
    assert cache.attachments("c3") == ()


def test_attachments_checks_the_container_id(cache: ResultCache) -> None:
    """The filter is an identifier like any other (G6)."""
    with pytest.raises(InvalidIdentifierError):
        cache.attachments("../x")


def test_attachments_of_an_unlistable_folder_is_a_cache_error(tmp_path: Path) -> None:
    """A results folder that exists but cannot be listed is an error, not an empty answer."""
    cache = ResultCache(tmp_path)
    results_dir(cache).symlink_to(results_dir(cache))  # ELOOP: even root cannot list it
    with pytest.raises(CacheError, match="failed to list"):
        cache.attachments()


# -- against Go libcni -----------------------------------------------------------------------

GO_HELPER = Path(__file__).resolve().parent / "helpers" / "cachediff"
CONFLIST = b'{"cniVersion":"1.0.0","name":"n1","plugins":[{"type":"fake","x":[1,2]}]}\n'
PLUGIN_RESULT = (
    '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"c2:11:22:33:44:55",'
    '"sandbox":"/x"}],"ips":[{"address":"10.1.1.1/24","gateway":"10.1.1.254","interface":0}],'
    '"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.1.1.1"],"domain":"a<b>&c"}}'
)


@pytest.fixture(scope="module")
def cachediff(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/helpers/cachediff built against Debian's libcni (.ci/setup.sh installs both)."""
    out = tmp_path_factory.mktemp("go")
    binary = out / "cachediff"
    env = {**os.environ, "GOPATH": "/usr/share/gocode", "GO111MODULE": "off",
           "GOCACHE": os.environ.get("GOCACHE", str(out / "cache"))}
    proc = subprocess.run(
        ["go", "build", "-o", str(binary), "."], cwd=GO_HELPER, env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, (
        "building the Go libcni helper failed (needs Debian golang-go and "
        f"golang-github-appc-cni-dev; .ci/setup.sh installs them):\n{proc.stderr}"
    )
    return str(binary)


def _conflist(tmp_path: Path) -> Path:
    path = tmp_path / "n1.conflist"
    path.write_bytes(CONFLIST)
    return path


@pytest.mark.goref
def test_go_libcni_writes_what_cnilib_reads_and_rewrites(cachediff: str, tmp_path: Path) -> None:
    """G5: a file Go libcni wrote loads, and cnilib re-encodes it to the very same bytes."""
    plugins = tmp_path / "bin"
    plugins.mkdir()
    fake = plugins / "fake"
    fake.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '%s' '{PLUGIN_RESULT}'\n", "utf-8")
    fake.chmod(0o755)
    root = tmp_path / "cache"
    subprocess.run([cachediff, "write", str(root), str(_conflist(tmp_path)), str(plugins)],
                   check=True, timeout=120, capture_output=True)
    written = (root / "results" / "n1-c1-eth0").read_bytes()
    loaded = ResultCache(root).load("n1", "c1", "eth0")
    assert loaded is not None
    assert loaded.to_bytes() == written
    assert loaded.config == CONFLIST
    assert loaded.cni_args == (("K8S_POD_NAME", "p<1>&"), ("IgnoreUnknown", "1"))
    assert loaded.capability_args == {
        "mac": "c2:11:22:33:44:55",
        "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}],
    }
    assert loaded.result is not None
    assert loaded.result["dns"] == {"domain": "a<b>&c", "nameservers": ["10.1.1.1"]}


@pytest.mark.goref
def test_cnilib_writes_what_go_libcni_reads(cachediff: str, tmp_path: Path) -> None:
    """G5: an entry cnilib wrote is read by Go libcni: result, config bytes and arguments."""
    result = loads(PLUGIN_RESULT)
    assert isinstance(result, dict)
    root = tmp_path / "cache"
    ResultCache(root).save(CacheEntry(
        network_name="n1", container_id="c1", ifname="eth0", config=CONFLIST, netns="/x",
        cni_args=[("A", "b<c")], capability_args={"mac": "c2:11:22:33:44:55"}, result=result,
    ))
    proc = subprocess.run([cachediff, "read", str(root), str(_conflist(tmp_path))],
                          check=True, timeout=120, capture_output=True)
    seen = loads(proc.stdout)
    assert seen == {
        "result": result,
        "config": CONFLIST.decode(),
        "args": [["A", "b<c"]],
        "capabilityArgs": {"mac": "c2:11:22:33:44:55"},
    }
