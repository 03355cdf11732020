"""Go libcni on the same chains, to show that what cnilib reports is the plugins' behaviour.

Debian's portmap 1.1.1 fails CHECK for every IPv4-only container that has port mappings: it
looks up the container's IPv4 DNAT chain in ip6tables too ("could not check ipv6 dnat: chain
CNI-DN-… not found in iptables table nat"). Go libcni (the reference program
``tests/helpers/goref``, over Debian's libcni 1.1.2) gets the very same error on the very same
conflist, so cnilib reports it rather than hiding it (docs/plugins.md, "Known plugin bugs").

These tests need the goref binary (``tests.paths.GOREF``: ``$GOREF`` or ``.venv/bin/goref``,
which ``.ci/setup.sh`` builds); they fail, not skip, without it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cnilib.config import conflist_from_file
from cnilib.errors import PluginError
from cnilib.protocol import RuntimeConf
from tests.integration.helpers import Runtime, Scene, assert_nothing_left
from tests.netns import CNI_BIN, Netns, remember_id, unique_id
from tests.paths import GOREF

pytestmark = [pytest.mark.netns, pytest.mark.goref]

# goref cycle uses these for its one attachment.
GO_CONTAINER = "bench-0"
PORT_ERROR = "could not check ipv6 dnat"


def goref_cycle(conflist: Path, netns: Netns, scratch: Path) -> subprocess.CompletedProcess[str]:
    """``goref cycle CONFLIST NETNS 1``: ADD, CHECK and DEL with Go libcni."""
    assert os.access(GOREF, os.X_OK), (
        f"the Go reference program is missing at {GOREF}: bash .ci/setup.sh builds it from "
        "tests/helpers/goref, or point $GOREF at one")
    tmp = scratch / "gotmp"
    tmp.mkdir(exist_ok=True)
    # goref keeps its cache in $TMPDIR and exits without removing it when a step fails.
    env = {**os.environ, "CNI_PATH": CNI_BIN, "TMPDIR": str(tmp)}
    return subprocess.run([GOREF, "cycle", str(conflist), netns.path, "1"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def chain(scene: Scene, bridge: str, subnet: ipaddress.IPv4Network,
          port: int | None) -> dict[str, Any]:
    """bridge + tuning + portmap + bandwidth with static runtimeConfig (goref passes no
    capability arguments, and libcni lets a static runtimeConfig through)."""
    portmap: dict[str, Any] = {"type": "portmap", "snat": True}
    if port is not None:
        portmap["runtimeConfig"] = {"portMappings": [
            {"hostPort": port, "containerPort": 80, "protocol": "tcp"}]}
    return {
        "cniVersion": "1.0.0",
        "name": scene.network,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
             "ipam": scene.host_local(subnet)},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}},
            portmap,
            {"type": "bandwidth", "runtimeConfig": {"bandwidth": {
                "ingressRate": 8_000_000, "ingressBurst": 1_000_000,
                "egressRate": 8_000_000, "egressBurst": 1_000_000}}},
        ],
    }


def write(scene: Scene, body: dict[str, Any]) -> Path:
    path = scene.root / f"{scene.network}.conflist"
    path.write_text(json.dumps(body))
    return path


def test_go_libcni_sees_the_same_portmap_check_failure(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    ns = make_netns()
    port = 20000 + secrets.randbelow(20000)
    path = write(scene, chain(scene, make_bridge_name(), make_subnet(), port))

    done = goref_cycle(path, ns, scene.root)

    assert done.returncode == 1, done.stdout + done.stderr
    assert PORT_ERROR in done.stderr
    # Go stopped after the failed CHECK: its attachment is still there. cnilib, in libcni's
    # compatible mode (static runtimeConfig passes), shows the same error on the same file,
    # then its DEL cleans up what both made.
    compat = Runtime("sync", scene.path, scene.cache_dir, strict=False)
    net = conflist_from_file(path)
    go_rt = RuntimeConf(remember_id(GO_CONTAINER), ns.path, "eth0")
    compat.del_network_list(net, go_rt)
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    compat.add_network_list(net, rt)
    with pytest.raises(PluginError) as info:
        compat.check_network_list(net, rt)
    assert (info.value.plugin, info.value.command) == ("portmap", "CHECK")
    assert PORT_ERROR in info.value.msg
    compat.del_network_list(net, rt)
    assert_nothing_left(compat, scene, go_rt, ns)
    assert_nothing_left(compat, scene, rt, ns)


def test_go_libcni_passes_the_chain_without_port_mappings(
    scene: Scene,
    make_netns: Callable[[], Netns],
    make_bridge_name: Callable[[], str],
    make_subnet: Callable[[], ipaddress.IPv4Network],
) -> None:
    """The control: without port mappings the same chain cycles cleanly in Go and cnilib."""
    ns = make_netns()
    path = write(scene, chain(scene, make_bridge_name(), make_subnet(), None))

    done = goref_cycle(path, ns, scene.root)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("cycle 1 ")
    compat = Runtime("sync", scene.path, scene.cache_dir, strict=False)
    net = conflist_from_file(path)
    rt = RuntimeConf(unique_id(), ns.path, "eth0")
    compat.add_network_list(net, rt)
    compat.check_network_list(net, rt)
    compat.del_network_list(net, rt)
    assert_nothing_left(compat, scene, rt, ns)
    assert_nothing_left(compat, scene, RuntimeConf(remember_id(GO_CONTAINER), ns.path, "eth0"),
                        ns)
