"""File-system faults under the cache: read-only, full, out of inodes (issue 7, item 6).

Rules of this file:

* The cache lives on a small tmpfs that the test mounts in its scratch directory and unmounts
  in a ``finally``, whatever happens; remounts change it to read-only or shrink it.
* The chain is real (Debian's bridge + host-local + tuning into a namespace of the test), and
  "nothing lost" means what ``test_crash.py`` checks: no IPAM reservation, no interface, no veth
  on the bridge once the network is deleted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cnilib.api import CNIConfig
from cnilib.errors import AddError, CacheError
from cnilib.protocol import RuntimeConf
from tests.integration.helpers import Scene, assert_attached, result_json, unique_id
from tests.integration.test_crash import leftovers, real_chain
from tests.netns import Netns, sh

pytestmark = pytest.mark.netns


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``where`` (made if missing) for the ``with`` body."""
    where.mkdir(parents=True, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", options, "cnilib-test", str(where))
    try:
        yield where
    finally:
        sh("umount", "-l", str(where))


def remount(where: Path, options: str) -> None:
    sh("mount", "-o", f"remount,{options}", str(where))


@pytest.fixture
def cache_fs(scene: Scene) -> Iterator[Path]:
    """The scene's cache directory, on a 1 MiB tmpfs with 256 inodes."""
    with tmpfs(scene.cache_dir, "size=1m,nr_inodes=256,mode=0700") as path:
        yield path


def test_a_read_only_cache_does_not_block_del_or_check(
    *,
    scene: Scene,
    cache_fs: Path,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DEL and CHECK run their plugins unlocked, and say why; the network is freed."""
    ns, bridge = make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    cni = CNIConfig(scene.path, cache_dir=str(cache_fs))
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    assert_attached(result_json(cni.add_network_list(net, rt)), ns)
    remount(cache_fs, "ro")
    with caplog.at_level(logging.WARNING, logger="cnilib"):
        cni.check_network_list(net, rt)
        cni.del_network_list(net, rt)
    warnings = [r.getMessage() for r in caplog.records]
    assert any("runs without the attachment lock" in w and "Read-only file system" in w
               for w in warnings), warnings
    assert any("could not delete cache entry" in w for w in warnings), warnings
    assert "eth0" not in ns.links()
    assert [f for f in leftovers(scene, ns, bridge) if not f.startswith("cache")] == []
    # The entry could not go; once the cache is writable again, a DEL (idempotent) removes it.
    remount(cache_fs, "rw")
    cni.del_network_list(net, rt)
    assert leftovers(scene, ns, bridge) == []


def test_an_add_on_a_read_only_cache_runs_nothing(
    scene: Scene, cache_fs: Path, make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str], make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """ADD needs its lock and its record: refused with a typed error before any plugin."""
    ns, bridge = make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    remount(cache_fs, "ro")
    cni = CNIConfig(scene.path, cache_dir=str(cache_fs))
    with pytest.raises(CacheError, match="Read-only file system"):
        cni.add_network_list(net, RuntimeConf(unique_id(), ns.path, "eth0"))
    assert leftovers(scene, ns, bridge) == []


def _fill(path: Path, pages_left: int) -> None:
    """Take every data page of the file system at ``path`` but ``pages_left``."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize - pages_left * st.f_frsize
    with contextlib.suppress(OSError), (path / "ballast").open("wb") as ballast:
        ballast.write(b"\0" * free)


@pytest.mark.parametrize("fault", ["disk full", "no inodes"])
def test_a_full_cache_rolls_the_add_back_and_del_still_frees(
    *,
    scene: Scene,
    cache_fs: Path,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
    fault: str,
) -> None:
    """Room for the lock and the record, none for the result: the ADD is undone, typed."""
    ns, other, bridge = make_netns(), make_netns(), make_bridge_name()
    net = real_chain(scene, bridge, make_subnet())
    cni = CNIConfig(scene.path, cache_dir=str(cache_fs))
    kept = RuntimeConf(unique_id(), other.path, "eth0")
    assert_attached(result_json(cni.add_network_list(net, kept)), other)  # folders made
    if fault == "disk full":
        _fill(cache_fs, pages_left=1)  # the record's page
    else:
        used = os.statvfs(cache_fs).f_files - os.statvfs(cache_fs).f_ffree
        remount(cache_fs, f"nr_inodes={used + 2}")  # the lock file's and the record's
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    with pytest.raises(AddError) as info:
        cni.add_network_list(net, rt)
    assert isinstance(info.value.cause, CacheError)
    assert "No space left on device" in str(info.value)
    assert info.value.rolled_back == ("tuning", "bridge")
    assert "eth0" not in ns.links()
    assert sorted(os.listdir(cache_fs / "results")) == [f"{net.name}-{kept.container_id}-eth0"]
    assert os.listdir(cache_fs / "inprogress") == []
    # With the file system still full, the DEL of the first attachment frees its network.
    cni.del_network_list(net, kept)
    (cache_fs / "ballast").unlink(missing_ok=True)
    remount(cache_fs, "nr_inodes=256")
    assert leftovers(scene, ns, bridge) == []
    assert "eth0" not in other.links()
