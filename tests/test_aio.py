"""AsyncCNIConfig: the same plans on asyncio, cancellation, and parallel attachment.

The first test runs a set of scenarios through both drivers and compares every invocation:
the chain logic exists once, so the sync and async drivers must be indistinguishable.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cnilib._json import JSON, JSONObject, dumps
from cnilib.aio import AsyncCNIConfig
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList, conf_from_bytes, conflist_from_bytes
from cnilib.errors import (
    AddError,
    CNIError,
    InvalidIdentifierError,
    MultipleErrors,
    PluginError,
)
from cnilib.protocol import Command, Invocation, RuntimeConf
from cnilib.testing import (
    AsyncFakeExecutor,
    FakeExecutor,
    default_handler,
    error_reply,
    make_result,
    version_reply,
)

PATHS = ["/opt/cni/bin"]
RT = RuntimeConf("c1", "/var/run/netns/c1", "eth0", [("A", "b")],
                 {"mac": "00:11:22:33:44:66", "portMappings": [{"hostPort": 80}]})


def chain(*types: str, version: str = "1.1.0", name: str = "net1") -> NetworkConfigList:
    plugins: list[JSON] = [{"type": t, "capabilities": {"mac": True}} for t in types]
    doc: JSONObject = {"cniVersion": version, "name": name, "plugins": plugins}
    return conflist_from_bytes(dumps(doc), validate=False)


def scripted(inv: Invocation) -> Any:
    """Plugins with character: "bad" fails ADD, "old" answers 0.4.0 results and VERSION."""
    if inv.plugin_type == "bad" and inv.command is Command.ADD:
        return error_reply(7, "bad config", "details here")
    if inv.plugin_type == "old":
        if inv.command is Command.ADD:
            return make_result("0.4.0")
        if inv.command is Command.VERSION:
            return version_reply("0.4.0")
    if inv.plugin_type == "flaky" and inv.command is Command.GC:
        return error_reply(5, "gc failed")
    return default_handler(inv)


def scenario(run: Callable[..., Any]) -> None:
    """Every public operation, including failures; ``run(name, *args)`` calls one method."""
    good, mixed = chain("a", "old", "b"), chain("a", "bad", "b")
    run("add_network_list", good, RT)
    run("check_network_list", good, RT)
    run("get_network_list_cached_result", good, RT)
    run("get_network_list_cached_config", good, RT)
    run("add_network_list", mixed, RuntimeConf("c2", "/n", "eth1"))
    run("gc_network_list", chain("a", "flaky", name="net2"), [("c9", "eth0")])
    run("get_status_network_list", good)
    run("validate_network_list", good)
    run("get_version_info", "old")
    run("get_cached_attachments")
    run("del_network_list", good, RT)
    plugin = conf_from_bytes(b'{"cniVersion":"0.3.1","name":"solo","type":"a"}', validate=False)
    run("add_network", plugin, RT)
    run("check_network", plugin, RT)
    run("del_network", plugin, RT)
    run("validate_network", plugin)


def _trace(invs: list[Invocation]) -> list[tuple[str, str, bytes, dict[str, str]]]:
    return [(i.plugin_type, str(i.command), i.stdin, dict(i.env)) for i in invs]


def test_sync_and_async_drivers_are_indistinguishable(tmp_path: Path) -> None:
    """One core, two drivers: same scenario, same invocations, same outcomes."""
    sync_fx = FakeExecutor(scripted)
    sync = CNIConfig(PATHS, tmp_path / "sync", executor=sync_fx)
    async_fx = AsyncFakeExecutor(scripted)
    aio = AsyncCNIConfig(PATHS, tmp_path / "async", executor=async_fx)
    outcomes: dict[str, list[str]] = {"sync": [], "async": []}

    def describe(value: Any) -> str:
        if isinstance(value, CNIError):
            return f"{type(value).__name__}: {value}"
        if isinstance(value, tuple) and value and isinstance(value[0], bytes):
            return repr((value[0], value[1].args, value[1].netns))
        if isinstance(value, tuple):
            return repr(tuple(getattr(v, "container_id", v) for v in value))
        return repr(value)

    def run_sync(name: str, *args: Any) -> None:
        try:
            outcomes["sync"].append(describe(getattr(sync, name)(*args)))
        except CNIError as err:
            outcomes["sync"].append(describe(err))

    def run_async(name: str, *args: Any) -> None:
        async def call() -> Any:
            return await getattr(aio, name)(*args)

        try:
            outcomes["async"].append(describe(asyncio.run(call())))
        except CNIError as err:
            outcomes["async"].append(describe(err))

    scenario(run_sync)
    scenario(run_async)

    assert _trace(sync_fx.invocations) == _trace(async_fx.invocations)
    assert outcomes["sync"] == outcomes["async"]
    assert any("AddError" in o for o in outcomes["sync"])
    assert any("MultipleErrors" in o for o in outcomes["sync"])
    assert len(sync_fx.invocations) > 20


def arun(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_async_rollback_after_second_of_three_fails(tmp_path: Path) -> None:
    """The rollback is the plans', so asyncio gets it too: DEL in reverse, AddError."""
    fx = AsyncFakeExecutor(scripted)
    aio = AsyncCNIConfig(PATHS, tmp_path, executor=fx)
    with pytest.raises(AddError) as info:
        arun(aio.add_network_list(chain("a", "bad", "b"), RT))
    assert fx.calls == [("a", Command.ADD), ("bad", Command.ADD), ("bad", Command.DEL),
                        ("a", Command.DEL)]
    assert isinstance(info.value.cause, PluginError)
    assert (info.value.cause.code, info.value.cause.msg) == (7, "bad config")


def test_cancelled_add_is_rolled_back_then_cancellation_goes_through(tmp_path: Path) -> None:
    """Cancelling a call leaves nothing half-done: the plugins that ran (the cancelled one
    included) get DEL in reverse, nothing is cached, the lock is free again."""
    started = asyncio.Event

    async def main() -> tuple[AsyncFakeExecutor, AsyncCNIConfig]:
        in_b = started()

        async def handler(inv: Invocation) -> Any:
            if inv.plugin_type == "b" and inv.command is Command.ADD:
                in_b.set()
                await asyncio.sleep(60)
            return default_handler(inv)

        fx = AsyncFakeExecutor(handler)
        aio = AsyncCNIConfig(PATHS, tmp_path, executor=fx)
        task = asyncio.create_task(aio.add_network_list(chain("a", "b", "c"), RT))
        await asyncio.wait_for(in_b.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The attachment lock was released: the next operation gets it at once.
        await asyncio.wait_for(aio.del_network_list(chain("a", "b", "c"), RT, timeout=5), 5)
        return fx, aio

    fx, aio = asyncio.run(main())
    assert fx.calls[:4] == [("a", Command.ADD), ("b", Command.ADD), ("b", Command.DEL),
                            ("a", Command.DEL)]
    assert aio.cache.load("net1", "c1", "eth0") is None


def test_wait_for_timeout_rolls_back_too(tmp_path: Path) -> None:
    """``asyncio.wait_for`` cancels the call; the rollback still runs before TimeoutError."""
    async def handler(inv: Invocation) -> Any:
        if inv.plugin_type == "b" and inv.command is Command.ADD:
            await asyncio.sleep(60)
        return default_handler(inv)

    fx = AsyncFakeExecutor(handler)
    aio = AsyncCNIConfig(PATHS, tmp_path, executor=fx)
    with pytest.raises(TimeoutError):
        arun(asyncio.wait_for(aio.add_network_list(chain("a", "b"), RT), 0.2))
    assert fx.calls == [("a", Command.ADD), ("b", Command.ADD), ("b", Command.DEL),
                        ("a", Command.DEL)]


def test_distinct_containers_attach_concurrently(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: parallel operations for different
    containers: four ADDs meet in the plugin."""
    async def main() -> int:
        barrier = asyncio.Barrier(4)

        async def handler(inv: Invocation) -> Any:
            if inv.command is Command.ADD:
                await asyncio.wait_for(barrier.wait(), 10)
            return default_handler(inv)

        aio = AsyncCNIConfig(PATHS, tmp_path, executor=AsyncFakeExecutor(handler))
        await asyncio.gather(*(aio.add_network_list(chain("a"), RuntimeConf(f"c{i}", "/n",
                                                                             "eth0"))
                               for i in range(4)))
        return len(await aio.get_cached_attachments())

    assert asyncio.run(main()) == 4


def test_durable_cache_writes_never_block_the_loop(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """While a result is being fsynced, the loop runs other tasks (an fsync waits for the
    disk, and every other attachment of the runtime would wait with it): here each fsync can
    only finish once a task on the loop has run."""
    entered, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        entered.set()
        if not release.wait(10):
            msg = "the event loop stayed blocked while the cache was fsynced"
            raise AssertionError(msg)
        real_fsync(fd)

    async def main() -> int:
        aio = AsyncCNIConfig(PATHS, tmp_path, executor=AsyncFakeExecutor())
        # The cache's folders are made (and fsynced, once per cache) by the first operation.
        await aio.add_network_list(chain("a"), RT)
        await aio.del_network_list(chain("a"), RT)
        monkeypatch.setattr(os, "fsync", fsync)
        add = asyncio.ensure_future(aio.add_network_list(chain("a"), RT))
        while not entered.is_set():
            await asyncio.sleep(0.001)
        release.set()  # only a task on the loop can get here while the fsync waits
        await add
        await aio.del_network_list(chain("a"), RT)
        return len(await aio.get_cached_attachments())

    assert asyncio.run(main()) == 0
    assert entered.is_set()


def test_same_attachment_is_serialised_across_tasks(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations: operations on one container never
    overlap, even from concurrent tasks."""
    active = [0, 0]

    async def handler(inv: Invocation) -> Any:
        active[0] += 1
        active[1] = max(active)
        await asyncio.sleep(0.01)
        active[0] -= 1
        return default_handler(inv)

    async def main() -> None:
        aio = AsyncCNIConfig(PATHS, tmp_path, executor=AsyncFakeExecutor(handler))
        net = chain("a", "b")
        await asyncio.gather(aio.add_network_list(net, RT), aio.check_network_list(net, RT),
                             aio.del_network_list(net, RT), aio.add_network_list(net, RT))

    asyncio.run(main())
    assert active[1] == 1


def test_async_gc_collects_errors(tmp_path: Path) -> None:
    """SPEC.md, Section 3: Execution of Network Configurations GC: every plugin is tried and every
    error returned."""
    fx = AsyncFakeExecutor(scripted)
    aio = AsyncCNIConfig(PATHS, tmp_path, executor=fx)
    with pytest.raises(MultipleErrors) as info:
        arun(aio.gc_network_list(chain("flaky", "a", "flaky"), []))
    assert len(info.value.exceptions) == 2
    assert fx.calls == [("flaky", Command.GC), ("a", Command.GC), ("flaky", Command.GC)]


def test_async_validation_happens_before_the_lock(tmp_path: Path) -> None:
    """G6 holds for the async driver too: nothing created on disk for a bad identifier."""
    aio = AsyncCNIConfig(PATHS, tmp_path / "cache", executor=AsyncFakeExecutor())
    with pytest.raises(InvalidIdentifierError):
        arun(aio.del_network_list(chain("a"), RuntimeConf("c1", "", "../../x")))
    assert not (tmp_path / "cache").exists()


def test_async_plugin_deadline(tmp_path: Path) -> None:
    """The chain's budget is split; a chain past its deadline starts nothing more."""
    async def slow(inv: Invocation) -> Any:
        await asyncio.sleep(0.15)
        return default_handler(inv)

    fx = AsyncFakeExecutor(slow)
    aio = AsyncCNIConfig(PATHS, tmp_path, executor=fx)
    start = time.monotonic()
    with pytest.raises(CNIError):
        arun(aio.check_network_list(chain("a", "b", "c"), RT, timeout=0.1))
    assert time.monotonic() - start < 5
    assert fx.calls == [("a", Command.CHECK)]
