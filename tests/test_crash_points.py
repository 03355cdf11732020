"""Every way out of an ADD leaves a complete attachment or rolls back (issue 7, item 3).

Rules of this file:

* The real drivers, the real cache (in ``tmp_path``) and :class:`cnilib.testing.FakeExecutor`:
  a driver subclass raises a ``BaseException`` (``KeyboardInterrupt``, or ``CancelledError``
  for asyncio) at one step of the plan, before or after performing it, for every step.
* After each run: either the ADD returned and its entry is cached with no record left, or it
  raised and every plugin that got ADD got a later DEL, with nothing cached. Then a recovery
  (DEL, or GC with an empty valid set) leaves nothing either way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cnilib._plans import steps
from cnilib.aio import AsyncCNIConfig
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList, conflist_from_bytes
from cnilib.protocol import Command, RuntimeConf
from cnilib.testing import AsyncFakeExecutor, FakeExecutor

PLUGINS = ("a", "b", "c")
NET = conflist_from_bytes(
    b'{"cniVersion":"1.1.0","name":"net1","plugins":['
    + b",".join(b'{"type":"%s"}' % p.encode() for p in PLUGINS) + b"]}")
RT = RuntimeConf("c1", "/run/netns/c1", "eth0")
# Lock, LoadCache, LoadPending, SavePending, 3 x (Find, Run), SaveCache, DeletePending.
ADD_STEPS = 12


class Interrupted(CNIConfig):
    """CNIConfig that raises ``exc`` at the listed step numbers (0-based), once each."""

    def __init__(self, *args: Any, at: set[int], after: bool, exc: type[BaseException],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at, self.after, self.exc, self.count = at, after, exc, 0

    def _perform(self, step: steps.Step, *args: Any) -> object:
        n, self.count = self.count, self.count + 1
        if n in self.at and not self.after:
            raise self.exc
        out = super()._perform(step, *args)
        if n in self.at:
            raise self.exc
        return out


class AsyncInterrupted(AsyncCNIConfig):
    """AsyncCNIConfig that raises ``exc`` at the listed step numbers, once each."""

    def __init__(self, *args: Any, at: set[int], after: bool, exc: type[BaseException],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at, self.after, self.exc, self.count = at, after, exc, 0

    async def _perform(self, step: steps.Step, *args: Any) -> object:
        n, self.count = self.count, self.count + 1
        if n in self.at and not self.after:
            raise self.exc
        out = await super()._perform(step, *args)
        if n in self.at:
            raise self.exc
        return out


def leaked(calls: list[tuple[str, Command]]) -> list[str]:
    """Plugins whose last ADD has no later DEL."""
    out = []
    for plugin in PLUGINS:
        adds = [i for i, c in enumerate(calls) if c == (plugin, Command.ADD)]
        dels = [i for i, c in enumerate(calls) if c == (plugin, Command.DEL)]
        if adds and (not dels or dels[-1] < adds[-1]):
            out.append(plugin)
    return out


def run_add(kind: str, cache: Path, at: set[int], after: bool,
            fx: FakeExecutor | AsyncFakeExecutor) -> tuple[BaseException | None, NetworkConfigList]:
    try:
        if kind == "sync":
            assert isinstance(fx, FakeExecutor)
            Interrupted(["/x"], cache_dir=cache, executor=fx, at=at, after=after,
                        exc=KeyboardInterrupt).add_network_list(NET, RT)
        else:
            assert isinstance(fx, AsyncFakeExecutor)
            cni = AsyncInterrupted(["/x"], cache_dir=cache, executor=fx, at=at, after=after,
                                   exc=asyncio.CancelledError)
            asyncio.run(cni.add_network_list(NET, RT))
    except BaseException as err:  # what escapes is what the test inspects
        return err, NET
    return None, NET


def state(cache: Path) -> tuple[list[str], list[str]]:
    """(results/, inprogress/) file names: temp files would show here too."""
    def names(sub: str) -> list[str]:
        folder = cache / sub
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    return names("results"), names("inprogress")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("after", [False, True], ids=["before-step", "after-step"])
@pytest.mark.parametrize("first", range(ADD_STEPS))
def test_an_interrupt_at_any_step_completes_or_rolls_back(
    tmp_path: Path, kind: str, after: bool, first: int
) -> None:
    """One interrupt anywhere: a whole attachment, or everything undone and nothing cached."""
    fx: FakeExecutor | AsyncFakeExecutor = FakeExecutor() if kind == "sync" else (
        AsyncFakeExecutor())
    err, net = run_add(kind, tmp_path, {first}, after, fx)
    results, pending = state(tmp_path)
    if err is None:
        assert results == ["net1-c1-eth0"]
        assert pending == []
        assert [c for c in fx.calls if c[1] is Command.DEL] == []
    else:
        assert isinstance(err, KeyboardInterrupt | asyncio.CancelledError), err
        assert leaked(fx.calls) == [], fx.calls
        assert results == []
        assert pending == []
    # Whatever happened, a DEL undoes it and leaves nothing behind.
    recovery = FakeExecutor()
    CNIConfig(["/x"], cache_dir=tmp_path, executor=recovery).del_network_list(net, RT)
    assert leaked(fx.calls + recovery.calls) == []
    assert state(tmp_path) == ([], [])


@pytest.mark.parametrize("recover", ["del", "gc"])
@pytest.mark.parametrize("second", range(ADD_STEPS, ADD_STEPS + 8))
@pytest.mark.parametrize("first", [5, 8, 10, 11])
def test_an_interrupted_rollback_leaves_the_record_for_recovery(
    tmp_path: Path, first: int, second: int, recover: str
) -> None:
    """A second interrupt during the rollback leaves the in-progress record; DEL or GC finish."""
    fx = FakeExecutor()
    err, net = run_add("sync", tmp_path, {first, second}, False, fx)
    assert isinstance(err, KeyboardInterrupt)
    _, pending = state(tmp_path)
    if leaked(fx.calls):
        assert pending == ["net1-c1-eth0"]  # what ran is recorded, so recovery can find it
    cni = CNIConfig(["/x"], cache_dir=tmp_path, executor=fx)
    if recover == "del":
        cni.del_network_list(net, RT)
    else:
        cni.gc_network_list(net, valid_attachments=[])
    assert leaked(fx.calls) == []
    assert state(tmp_path) == ([], [])
