"""What crashes leave in the cache, and what the cache refuses (issue 7, items 1, 5, 8, 10).

Rules of this file:

* The cache alone, in ``tmp_path``: "ADD in progress" records, temp files left by a killed
  writer, lock files left by a killed holder, and symbolic links planted under the root.
* GC is run through :class:`cnilib.api.CNIConfig` with :class:`cnilib.testing.FakeExecutor`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnilib._cache.fs import temp_owner
from cnilib._cache.locks import attachment_lock_name
from cnilib.api import CNIConfig
from cnilib.cache import CacheEntry, ResultCache
from cnilib.config import conflist_from_bytes
from cnilib.errors import AddError, CacheError, MultipleErrors
from cnilib.protocol import Command, RuntimeConf
from cnilib.testing import FakeExecutor
from cnilib.testing.strategies import container_ids, ifnames, network_names

NET = conflist_from_bytes(b'{"cniVersion":"1.1.0","name":"n1","plugins":[{"type":"a"}]}')


def entry(cid: str = "c", **kw: object) -> CacheEntry:
    fields: dict[str, object] = {"network_name": "n1", "container_id": cid, "ifname": "eth0",
                                 "config": NET.bytes, "netns": "/run/netns/x"}
    fields.update(kw)
    return CacheEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path) -> ResultCache:
    return ResultCache(tmp_path / "cni")


def files(cache: ResultCache, folder: str) -> list[str]:
    path = Path(cache.root) / folder
    return sorted(os.listdir(path)) if path.is_dir() else []


# -- "ADD in progress" records ----------------------------------------------------------------


def test_a_record_is_listed_as_in_progress_until_its_entry_exists(cache: ResultCache) -> None:
    """get_cached_attachments sees an unfinished ADD, flagged; the cached entry wins over it."""
    cache.begin(entry(result={"ignored": True}))
    assert cache.pending("n1", "c", "eth0") == entry(in_progress=True)
    assert cache.load("n1", "c", "eth0") is None
    assert cache.attachments() == (entry(in_progress=True),)
    cache.save(entry(result={"cniVersion": "1.1.0"}))
    assert cache.attachments() == (entry(result={"cniVersion": "1.1.0"}),)
    cache.finish("n1", "c", "eth0")
    cache.finish("n1", "c", "eth0")  # idempotent
    assert files(cache, "inprogress") == []


# -- temp files (item 5) ----------------------------------------------------------------------

#: The temp file the writers of n1/c/eth0 use first: its digits start its lock name.
CRASHED_SAVE = f".n1-c-eth0.{attachment_lock_name('n1', 'c', 'eth0')[:8]}.tmp"
RANDOM_DIGITS = ".n1-c-eth0.0a1b2c3d.tmp"  # written while CRASHED_SAVE was taken
OLD_STYLE = ".n1-c-eth0.k_3zq9ab.tmp"  # tempfile.mkstemp's names, before this change
OTHERS = ".n1-c-eth0.5.0a1b2c3d.tmp"  # attachment n1/c/eth0.5, not n1/c/eth0


def plant(cache: ResultCache, folder: str, *names: str) -> None:
    path = Path(cache.root) / folder
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        (path / name).write_bytes(entry().to_bytes()[:10])


def test_delete_removes_the_temp_file_of_its_attachment(cache: ResultCache) -> None:
    """DEL holds the attachment's lock: its writers' temp file is a crash's leftover. It is
    removed by name, without listing the folder; the rest is GC's (below)."""
    cache.save(entry())
    plant(cache, "results", CRASHED_SAVE, RANDOM_DIGITS, OLD_STYLE, OTHERS)
    assert cache.attachments() == (entry(),)  # never read as entries
    cache.delete("n1", "c", "eth0")
    assert files(cache, "results") == sorted([RANDOM_DIGITS, OLD_STYLE, OTHERS])


def test_begin_removes_the_temp_file_of_its_record(cache: ResultCache) -> None:
    """A writer killed while recording its ADD left a temp file; the next ADD removes it."""
    plant(cache, "inprogress", CRASHED_SAVE, OTHERS)
    cache.begin(entry())
    assert files(cache, "inprogress") == sorted([OTHERS, "n1-c-eth0"])


def test_a_writer_whose_temp_name_is_taken_uses_random_digits(cache: ResultCache) -> None:
    """The first temp name is never removed by a writer (only a lock holder knows it is
    stale): a taken one makes the write use random digits, and the write still lands."""
    plant(cache, "results", CRASHED_SAVE)
    cache.save(entry(result={"cniVersion": "1.1.0"}))
    assert cache.load("n1", "c", "eth0") == entry(result={"cniVersion": "1.1.0"})
    assert files(cache, "results") == sorted([CRASHED_SAVE, "n1-c-eth0"])


def test_attachments_that_share_a_file_name_have_their_own_temp_files(
        cache: ResultCache) -> None:
    """``a-b``/``c`` and ``a``/``b-c`` write the same entry file, not the same temp file: one's
    DEL cannot remove the other's write in flight."""
    one = attachment_lock_name("a-b", "c", "eth0")[:8]
    two = attachment_lock_name("a", "b-c", "eth0")[:8]
    assert one != two
    plant(cache, "results", f".a-b-c-eth0.{two}.tmp")
    cache.delete("a-b", "c", "eth0")
    assert files(cache, "results") == [f".a-b-c-eth0.{two}.tmp"]


def test_gc_removes_every_temp_and_unheld_lock_file(cache: ResultCache) -> None:
    """Item 5 and 10: GC (exclusive) knows every temp file and unheld lock file is stale."""
    plant(cache, "results", CRASHED_SAVE, RANDOM_DIGITS, OLD_STYLE, OTHERS)
    plant(cache, "inprogress", CRASHED_SAVE, RANDOM_DIGITS)
    crashed = attachment_lock_name("n1", "c9", "eth0")
    plant(cache, "locks", crashed)
    cni = CNIConfig(["/x"], cache_dir=cache.root, executor=FakeExecutor())
    with cache.lock("n1", "held", "eth0"):
        held = attachment_lock_name("n1", "held", "eth0")
        done = threading.Event()
        def gc() -> None:
            cni.gc_network_list(NET, [])
            done.set()

        thread = threading.Thread(target=gc)
        thread.start()
        assert not done.wait(0.2)  # GC waits for this attachment's operation to end
        assert held in files(cache, "locks")
    thread.join(30)
    assert done.is_set()
    assert files(cache, "results") == []
    assert files(cache, "inprogress") == []
    assert files(cache, "locks") == ["gc"]


def test_sweep_keeps_a_lock_that_is_held(cache: ResultCache) -> None:
    """A lock file someone holds (an orphaned plugin, say) is not removed."""
    name = attachment_lock_name("n1", "c", "eth0")
    with cache.lock("n1", "c", "eth0"):
        assert cache.is_locked("n1", "c", "eth0")
        assert cache.sweep() == ()
        assert name in files(cache, "locks")
    assert not cache.is_locked("n1", "c", "eth0")


# -- GC reports a cache it cannot list (item 10) ----------------------------------------------


def test_gc_reports_results_that_is_a_plain_file(cache: ResultCache) -> None:
    """docs/running.md promises a reported error; it was a silent no-op."""
    Path(cache.root).mkdir()
    (Path(cache.root) / "results").write_text("not a folder")
    fx = FakeExecutor()
    cni = CNIConfig(["/x"], cache_dir=cache.root, executor=fx)
    with pytest.raises(MultipleErrors) as info:
        cni.gc_network_list(NET, [])
    errors = info.value.exceptions  # listing the attachments, and sweeping the leftovers
    assert errors
    assert all(isinstance(e, CacheError) for e in errors)
    assert "Not a directory" in str(errors[0])
    assert "while listing cached attachments for GC" in errors[0].__notes__
    assert fx.calls == [("a", Command.GC)]  # the plugins still get their GC


# -- symbolic links (item 8) ------------------------------------------------------------------


def uses(cache: ResultCache) -> dict[str, Callable[[], object]]:
    def lock() -> None:
        with cache.lock("n1", "c", "eth0"):
            pass

    return {
        "save": lambda: cache.save(entry()),
        "load": lambda: cache.load("n1", "c", "eth0"),
        "delete": lambda: cache.delete("n1", "c", "eth0"),
        "attachments": cache.attachments,
        "begin": lambda: cache.begin(entry()),
        "pending": lambda: cache.pending("n1", "c", "eth0"),
        "finish": lambda: cache.finish("n1", "c", "eth0"),
        "lock": lock,
        "sweep": cache.sweep,
    }


FOLDER_USERS = {
    "results": ["save", "load", "delete", "attachments", "sweep"],
    "inprogress": ["begin", "pending", "finish", "attachments", "sweep"],
    "locks": ["lock", "sweep"],
}


@pytest.mark.parametrize(("folder", "use"), [(f, u) for f, us in FOLDER_USERS.items()
                                             for u in us])
def test_a_symlinked_folder_is_refused(
    cache: ResultCache, tmp_path: Path, folder: str, use: str
) -> None:
    """Nothing is read, written or deleted through a link planted under the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("n1-c-eth0", attachment_lock_name("n1", "c", "eth0"), "gc"):
        (outside / name).write_bytes(entry().to_bytes())
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    Path(cache.root).mkdir()
    (Path(cache.root) / folder).symlink_to(outside)
    with pytest.raises(CacheError, match="symbolic link"):
        uses(cache)[use]()
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before


def test_a_symlinked_lock_file_is_refused(cache: ResultCache, tmp_path: Path) -> None:
    """The lock file itself may not be a link either (it would be created or removed there)."""
    victim = tmp_path / "victim"
    victim.write_text("alive")
    locks = Path(cache.root) / "locks"
    locks.mkdir(parents=True)
    (locks / attachment_lock_name("n1", "c", "eth0")).symlink_to(victim)
    with pytest.raises(CacheError, match="symbolic link"), cache.lock("n1", "c", "eth0"):
        pass
    assert victim.read_text() == "alive"


def test_a_symlinked_record_is_refused_and_removed_as_a_link(
    cache: ResultCache, tmp_path: Path
) -> None:
    """A record that is a link is unreadable; removing it removes the link, not its target."""
    victim = tmp_path / "victim"
    victim.write_bytes(entry().to_bytes())
    pending = Path(cache.root) / "inprogress"
    pending.mkdir(parents=True)
    (pending / "n1-c-eth0").symlink_to(victim)
    with pytest.raises(CacheError, match="symbolic link"):
        cache.pending("n1", "c", "eth0")
    cache.finish("n1", "c", "eth0")
    assert files(cache, "inprogress") == []
    assert victim.read_bytes() == entry().to_bytes()


def test_an_add_through_a_symlinked_results_folder_writes_nothing_outside(
    tmp_path: Path,
) -> None:
    """Issue 7's reproduction: the ADD must not write (nor its DEL delete) outside the cache."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "cni"
    root.mkdir()
    (root / "results").symlink_to(outside)
    fx = FakeExecutor()
    cni = CNIConfig(["/x"], cache_dir=root, executor=fx)
    rt = RuntimeConf("c", "/run/netns/x", "eth0")
    with pytest.raises(AddError) as info:
        cni.add_network_list(NET, rt)
    assert isinstance(info.value.cause, CacheError)
    assert fx.calls == []  # refused before any plugin ran
    assert os.listdir(outside) == []
    (outside / "n1-c-eth0").write_bytes(entry().to_bytes())
    cni.del_network_list(NET, rt)  # the plugins still run; the file outside stays
    assert os.listdir(outside) == ["n1-c-eth0"]
    assert fx.calls == [("a", Command.DEL)]


# -- laws ---------------------------------------------------------------------------------------


@given(net=network_names, cid=container_ids, ifname=ifnames,
       digits=st.text(alphabet="0123456789abcdef", min_size=8, max_size=8))
def test_temp_files_are_told_apart_from_entries(
    net: str, cid: str, ifname: str, digits: str
) -> None:
    """An entry name is never a temp file's; a temp file names the entry it was to replace."""
    name = f"{net}-{cid}-{ifname}"
    assert temp_owner(name) is None
    assert temp_owner(f".{name}.{digits}.tmp") == name


# -- DEL and GC of an ADD that never finished (item 1) -------------------------------------------

RECORDED = conflist_from_bytes(
    b'{"cniVersion":"1.1.0","name":"n1","plugins":[{"type":"a"},{"type":"b"}]}')


def unfinished(cache: ResultCache) -> RuntimeConf:
    """The record a killed ADD of RECORDED left (its plugins may hold addresses)."""
    cache.begin(CacheEntry(network_name="n1", container_id="c", ifname="eth0",
                           config=RECORDED.bytes, netns="/run/netns/recorded",
                           cni_args=(("K8S_POD_NAME", "p"),)))
    return RuntimeConf("c", "", "eth0")


def test_del_of_an_unfinished_add_uses_what_the_add_recorded(cache: ResultCache) -> None:
    """The caller's configuration changed since (one plugin "x") and it gives no netns."""
    rt = unfinished(cache)
    fx = FakeExecutor()
    cni = CNIConfig(["/x"], cache_dir=cache.root, executor=fx)
    (listed,) = cni.get_cached_attachments("c")
    assert listed.in_progress
    assert listed.result is None
    cni.del_network_list(NET, rt)
    assert fx.calls == [("b", Command.DEL), ("a", Command.DEL)]
    for inv in fx.invocations:
        assert inv.env["CNI_NETNS"] == "/run/netns/recorded"
        assert inv.env["CNI_ARGS"] == "K8S_POD_NAME=p"
    assert cni.get_cached_attachments() == ()


def test_gc_deletes_an_unfinished_add_even_when_it_is_in_the_valid_set(
    cache: ResultCache,
) -> None:
    """It never completed, so the runtime's idea of what is valid does not cover it."""
    unfinished(cache)
    fx = FakeExecutor()
    cni = CNIConfig(["/x"], cache_dir=cache.root, executor=fx)
    cni.gc_network_list(NET, valid_attachments=[("c", "eth0")])
    assert fx.calls[:2] == [("b", Command.DEL), ("a", Command.DEL)]
    assert cni.get_cached_attachments() == ()
