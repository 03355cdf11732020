"""Fixtures of the end-to-end tests: a runtime (sync or async) over real plugins.

Rules of this file:

* Every test gets its own cache directory, host-local ``dataDir``, network name, container IDs
  and plugin directory (the shipped test plugins of :mod:`cnilib.testing.plugins` and
  ``cnilib-misbehave`` installed next to the Debian plugins' directory on the path), all
  under a private directory removed afterwards.
* ``runtime`` is parametrised: each scenario runs through :class:`cnilib.api.CNIConfig` and
  through :class:`cnilib.aio.AsyncCNIConfig`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cnilib.testing import install_plugins
from tests.integration.helpers import Runtime, Scene, unique_id
from tests.netns import (
    make_bridge_name,
    make_netns,
    make_subnet,
    make_veth,
    netns_session,
    scratch_dir,
)
from tests.plugins import install_misbehave

__all__ = [
    # Re-exported fixtures of tests/netns.py, so that the tests here can ask for them.
    "make_bridge_name",
    "make_netns",
    "make_subnet",
    "make_veth",
    "netns_session",
    "scratch_dir",
    "scene",
    "runtime",
    "sync_runtime",
]


@pytest.fixture
def scene(scratch_dir: Path) -> Scene:
    """A fresh :class:`Scene` with the test plugins installed."""
    install_plugins(scratch_dir / "bin")
    install_misbehave(scratch_dir / "bin")
    return Scene(root=scratch_dir, bin_dir=scratch_dir / "bin", cache_dir=scratch_dir / "cache",
                 ipam_dir=scratch_dir / "ipam", record_file=scratch_dir / "calls.jsonl",
                 network=unique_id("net"))


@pytest.fixture(params=["sync", "async"])
def runtime(request: pytest.FixtureRequest, scene: Scene) -> Iterator[Runtime]:
    """The scene's runtime, once through CNIConfig and once through AsyncCNIConfig."""
    rt = Runtime(request.param, scene.path, scene.cache_dir)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def sync_runtime(scene: Scene) -> Runtime:
    """The scene's runtime through CNIConfig only."""
    return Runtime("sync", scene.path, scene.cache_dir)
