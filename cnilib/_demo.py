"""``cnilib demo``: attach the bundled example network to a namespace made for it, then undo.

Rules of this file:

* It is an edge like the CLI: it runs ``ip`` and ``ping`` because a person watching the demo
  wants to see real interfaces, and it owns no CNI logic (that is :mod:`cnilib.api`).
* Everything it creates (namespace, bridge, IPAM data dir, cache dir) is removed in ``finally``,
  whatever fails. Traffic goes only to the gateway on the bridge it made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .errors import CNIError, ConfigError

__all__ = ["run_demo", "DEMO_CONFIG", "examples_dir"]

#: The example network the demo attaches (in :func:`examples_dir`).
DEMO_CONFIG = "10-cnilib-demo.conflist"


def examples_dir() -> Path:
    """The bundled example networks: ``cnilib/examples`` in a wheel, else the checkout's.

    The wheel force-includes the top-level ``examples/`` as ``cnilib/examples``
    (pyproject.toml), as it does ``schemas/``.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "examples"
    return packaged if packaged.is_dir() else here.parent / "examples"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def run_demo(environ: Mapping[str, str], out: TextIO) -> int:
    """Run the demo and return an exit status (0 when every step worked).

    Raises:
        CNIError: a CNI step failed (after everything was cleaned up).
    """
    from ._json import dumps
    from .api import CNIConfig
    from .config import conflist_from_bytes, conflist_from_file
    from .protocol import RuntimeConf

    if os.geteuid() != 0:
        msg = "the demo needs root: it creates a network namespace and a bridge"
        raise ConfigError(msg)
    if shutil.which("ip") is None:
        msg = "the demo needs iproute2's `ip` command (apt-get install -y iproute2)"
        raise ConfigError(msg)
    net = conflist_from_file(str(examples_dir() / DEMO_CONFIG))
    path = [p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p] or ["/usr/lib/cni"]

    suffix = secrets.token_hex(3)
    ns = f"cnilib-demo-{suffix}"
    work = Path(tempfile.mkdtemp(prefix="cnilib-demo-"))
    # Keep IPAM state and the cache in a scratch dir so the demo leaves no file behind.
    raw = net.bytes
    from ._json import loads

    doc = loads(raw)
    assert isinstance(doc, dict)
    bridge = ""
    for plugin in doc.get("plugins") or []:  # type: ignore[union-attr]
        if isinstance(plugin, dict):
            if plugin.get("type") == "bridge":
                bridge = str(plugin.get("bridge", "cni0"))
            ipam = plugin.get("ipam")
            if isinstance(ipam, dict) and ipam.get("type") == "host-local":
                ipam["dataDir"] = str(work / "ipam")
    net = conflist_from_bytes(dumps(doc))
    bridge_existed = bool(bridge) and _ip("link", "show", bridge, check=False).returncode == 0
    cni = CNIConfig(path, cache_dir=str(work / "cache"))
    rt = RuntimeConf(container_id=f"cnilib-demo-{suffix}", netns=f"/var/run/netns/{ns}",
                     ifname="eth0")
    added = False
    try:
        print(f"* network {net.name!r} (cniVersion {net.cni_version}): "
              f"{' -> '.join(p.type for p in net.plugins)}", file=out)
        _ip("netns", "add", ns)
        print(f"* created network namespace {ns}", file=out)
        result = cni.add_network_list(net, rt)
        added = True
        print("* ADD result:", file=out)
        print(result.to_json(indent=4), file=out)
        shown = _ip("netns", "exec", ns, "ip", "-brief", "address", "show", "eth0")
        print(f"* inside the namespace: {shown.stdout.strip()}", file=out)
        cni.check_network_list(net, rt)
        print("* CHECK passed", file=out)
        gateway = _gateway(result.to_dict())
        if gateway:
            _reach(ns, gateway, out)
        cni.del_network_list(net, rt)
        added = False
        print("* DEL done", file=out)
    except CNIError:
        raise
    finally:
        if added:
            try:
                cni.del_network_list(net, rt)
            except CNIError as err:
                print(f"! cleanup DEL failed: {err}", file=out)
        _ip("netns", "del", ns, check=False)
        if bridge and not bridge_existed:
            _ip("link", "del", bridge, check=False)
        shutil.rmtree(work, ignore_errors=True)
        print(f"* removed namespace {ns}" + (f" and bridge {bridge}" if bridge else ""), file=out)
    return 0


def _gateway(result: Mapping[str, object]) -> str:
    ips = result.get("ips")
    if isinstance(ips, list):
        for ip in ips:
            if isinstance(ip, dict) and ip.get("gateway"):
                return str(ip["gateway"])
    return ""


def _reach(ns: str, gateway: str, out: TextIO) -> None:
    if shutil.which("ping") is None:
        print("* ping is not installed (apt-get install -y iputils-ping); reachability not shown",
              file=out)
        return
    proc = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "2", "-W", "2", gateway],
                          capture_output=True, text=True, check=False)
    last = proc.stdout.strip().splitlines()[-2:] if proc.stdout else [proc.stderr.strip()]
    status = "reached" if proc.returncode == 0 else "did NOT reach"
    print(f"* ping from {ns} {status} the gateway {gateway}: {' / '.join(last)}", file=out)
    if proc.returncode != 0:
        msg = f"ping to the gateway {gateway} failed"
        raise CNIError(msg)
