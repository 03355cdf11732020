"""What the end-to-end tests share: the scene, the runtime face, and the assertions.

Rules of this file:

* :class:`Runtime` drives :class:`cnilib.api.CNIConfig` or :class:`cnilib.aio.AsyncCNIConfig`
  through one synchronous face, so that one scenario runs through both.
* The assertions only inspect (namespaces, links, iptables, files); they change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList, conflist_from_bytes
from cnilib.protocol import RuntimeConf
from cnilib.testing import RECORD, write_control
from tests.netns import (
    CNI_BIN,
    Netns,
    ipam_reservations,
    link_exists,
    nat_rules,
    unique_id,
)

__all__ = [
    "unique_id",
    "Scene",
    "Runtime",
    "result_json",
    "container_ips",
    "cache_files",
    "ifb_name",
    "portmap_rules",
    "assert_attached",
    "assert_nothing_left",
]


@attrs.frozen
class Scene:
    """The private places of one test."""

    root: Path
    bin_dir: Path
    cache_dir: Path
    ipam_dir: Path
    record_file: Path
    network: str

    @property
    def path(self) -> list[str]:
        """The plugin path: Debian's plugins, then the test plugins."""
        return [CNI_BIN, str(self.bin_dir)]

    def conflist(self, plugins: list[dict[str, Any]], *, version: str = "1.0.0",
                 name: str | None = None, **extra: Any) -> NetworkConfigList:
        """A network configuration list, loaded (and validated) from bytes."""
        body = {"cniVersion": version, "name": name or self.network, **extra,
                "plugins": plugins}
        return conflist_from_bytes(json.dumps(body).encode())

    def record(self, which: str = "", **control: Any) -> dict[str, Any]:
        """A ``cnilib-test-record`` plugin logging to the scene's record file.

        Its control file is its own (named after ``which``, which the request also carries so
        that the log tells instances apart); ``control`` holds the per-verb entries
        (``ADD={"error": {...}}``) and other keys of the control file.
        """
        path = self.root / f"control-{which or 'record'}.json"
        write_control(path, {"log": str(self.record_file), **control})
        return {"type": RECORD, "controlFile": str(path), "which": which}

    def host_local(self, subnet: object, **extra: Any) -> dict[str, Any]:
        """An ``ipam`` section: host-local on ``subnet`` with the test's own ``dataDir``."""
        return {"type": "host-local", "subnet": str(subnet), "dataDir": str(self.ipam_dir),
                **extra}


class Runtime:
    """One synchronous face over CNIConfig or AsyncCNIConfig.

    ``runtime.add_network_list(net, rt)`` calls the method of that name; for the async class
    the coroutine runs to completion on the runtime's own event loop (one loop for the whole
    test, as a real asyncio runtime would have).
    """

    def __init__(self, kind: str, path: list[str], cache_dir: Path, **options: Any) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        self.target: Any
        if kind == "sync":
            self.target = CNIConfig(path, cache_dir=str(cache_dir), **options)
        else:
            from cnilib.aio import AsyncCNIConfig

            self.loop = asyncio.new_event_loop()
            self.target = AsyncCNIConfig(path, cache_dir=str(cache_dir), **options)

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Run a coroutine on this runtime's loop (async runtimes only)."""
        assert self.loop is not None, "only an async runtime has a loop"
        return self.loop.run_until_complete(awaitable)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.target, name)
        if self.loop is None:
            return method  # type: ignore[no-any-return]
        loop = self.loop

        def call(*args: Any, **kwargs: Any) -> Any:
            return loop.run_until_complete(method(*args, **kwargs))

        return call

    def close(self) -> None:
        """Close the event loop, if any."""
        if self.loop is not None:
            self.loop.close()


def result_json(result: object) -> dict[str, Any]:
    """A cnilib result as its wire JSON (the spec's field names)."""
    to_json = getattr(result, "to_json", None)
    assert to_json is not None, f"not a result: {result!r}"
    body = json.loads(to_json())
    assert isinstance(body, dict)
    return body


def container_ips(result: dict[str, Any], netns: Netns) -> list[str]:
    """The ``address`` of every IP the result puts on an interface inside ``netns``."""
    sandboxed = {i for i, iface in enumerate(result.get("interfaces", []))
                 if iface.get("sandbox") == netns.path}
    return [ip["address"] for ip in result.get("ips", []) if ip.get("interface") in sandboxed]


def cache_files(scene: Scene) -> list[str]:
    """The result cache entries on disk (``<cache>/results/*``)."""
    results = scene.cache_dir / "results"
    return sorted(os.listdir(results)) if results.is_dir() else []


def ifb_name(network: str, container_id: str) -> str:
    """The bandwidth plugin's ifb device of one attachment (``bwp`` + sha512(net + id))."""
    return "bwp" + hashlib.sha512((network + container_id).encode()).hexdigest()[:12]


def portmap_rules(container_id: str) -> list[str]:
    """The nat rules portmap made for one container: its DNAT chain's rules."""
    rules = nat_rules()
    chains = {line.split()[-1] for line in rules
              if line.startswith("-A CNI-HOSTPORT-DNAT") and f'id: \\"{container_id}\\"' in line}
    return [line for line in rules for chain in chains if line.startswith(f"-A {chain} ")]


def assert_attached(result: dict[str, Any], netns: Netns, ifname: str = "eth0") -> list[str]:
    """The interface and the result's addresses are really there, inside the namespace.

    Returns:
        The container's addresses (``a.b.c.d/n``).
    """
    links = netns.links()
    assert ifname in links, f"{ifname} missing in {netns.name}: {sorted(links)}"
    assert links[ifname]["operstate"] in ("UP", "UNKNOWN")
    wanted = container_ips(result, netns)
    assert wanted, f"the result has no address inside the namespace: {result}"
    present = netns.addresses(ifname)
    for address in wanted:
        assert address in present, f"{address} not on {ifname} in {netns.name}: {present}"
    return wanted


def assert_nothing_left(
    runtime: Runtime,
    scene: Scene,
    rt: RuntimeConf,
    netns: Netns | None = None,
    *,
    ipam_dir: Path | None = None,
) -> None:
    """After DEL: no interface, no IPAM reservation, no cache entry, no per-container rule."""
    if netns is not None:
        assert rt.ifname not in netns.links(), f"{rt.ifname} still in {netns.name}"
    held = ipam_reservations(ipam_dir or scene.ipam_dir)
    assert held == [], f"host-local still holds {held}"
    assert [f for f in cache_files(scene) if f"-{rt.container_id}-" in f] == []
    assert runtime.get_cached_attachments(rt.container_id) == ()
    assert portmap_rules(rt.container_id) == []
    assert not link_exists(ifb_name(scene.network, rt.container_id))
