"""``cnilib list`` and ``cnilib version``: what the networks of ``$NETCONFPATH`` need.

Rules of this file:

* ``list`` shows each network the way a lookup by name would find it (the first file of that
  name), with its version, its plugins and whether each is on the plugin path; it runs no
  plugin.
* ``version NETWORK`` asks each plugin of the network for its VERSION and compares the answer
  with the network's version, as a plugin does (exact strings).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnilib.errors import CNIError, PluginNotFoundError

from . import FAILED, OK, Command, Context
from .verbs import cni_path, netconfpath

__all__ = ["LIST", "VERSION"]


def _plugin_types(net: Any) -> list[str]:
    types: list[str] = []
    for plugin in net.plugins:
        types.append(plugin.type)
        ipam = plugin.ipam.get("type") if plugin.ipam is not None else None
        if isinstance(ipam, str) and ipam:
            types.append(ipam)
    return list(dict.fromkeys(types))


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.description = ("List the networks of $NETCONFPATH (default /etc/cni/net.d) with their "
                     "selected version, their plugins (IPAM included) and whether each plugin "
                     "is on the plugin path ($CNI_PATH). Exit status 1 if a file does not "
                     "load or a plugin is missing.")
    p.add_argument("--json", action="store_true", help="print a JSON array")


def _run_list(args: argparse.Namespace, ctx: Context) -> int:
    from cnilib.api import CNIConfig
    from cnilib.config import conf_files, load_conflist
    from cnilib.invoke import find_plugin

    folder = netconfpath(ctx.environ)
    path = CNIConfig(cni_path(ctx.environ)).path
    names: list[str] = []
    from cnilib._json import loads

    for f in conf_files(folder):
        try:
            with open(f, "rb") as fh:
                doc = loads(fh.read(), source=f)
        except (OSError, CNIError) as err:
            print(f"cnilib list: {f}: {err}", file=ctx.err)
            names.append("")
            continue
        name = doc.get("name") if isinstance(doc, dict) else None
        if isinstance(name, str):
            names.append(name)
    status = OK
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            net = load_conflist(folder, name)
        except CNIError as err:
            print(f"cnilib list: {name}: {err}", file=ctx.err)
            status = FAILED
            continue
        plugins = []
        for kind in _plugin_types(net):
            try:
                where: str | None = find_plugin(kind, path)
            except CNIError:
                where = None
                status = FAILED
            plugins.append({"type": kind, "present": where is not None, "path": where})
        rows.append({"name": net.name, "cniVersion": net.cni_version, "file": net.source,
                     "plugins": plugins})
    if "" in names:
        status = FAILED
    if args.json:
        print(json.dumps(rows, indent=2), file=ctx.out)
        return status
    for row in rows:
        shown = ", ".join(p["type"] + ("" if p["present"] else " (missing)")
                          for p in row["plugins"])
        print(f"{row['name']}\t{row['cniVersion'] or '(none)'}\t{shown}\t{row['file']}",
              file=ctx.out)
    return status


def _configure_version(p: argparse.ArgumentParser) -> None:
    p.description = ("Ask each plugin of NETWORK (from $NETCONFPATH) for its VERSION and "
                     "check that it supports the network's version (an exact match, as "
                     "plugins compare). Exit status 1 if one does not, or is missing.")
    p.add_argument("network", help="network name (looked up in $NETCONFPATH)")
    p.add_argument("--plugin", default=None, metavar="TYPE",
                   help="ask only this plugin type")
    p.add_argument("--json", action="store_true", help="print a JSON array")


def _run_version(args: argparse.Namespace, ctx: Context) -> int:
    from cnilib.api import CNIConfig
    from cnilib.config import load_conflist
    from cnilib.errors import ConfigError

    net = load_conflist(netconfpath(ctx.environ), args.network)
    kinds = _plugin_types(net)
    if args.plugin is not None:
        if args.plugin not in kinds:
            msg = f'network "{net.name}" has no plugin of type "{args.plugin}"'
            raise ConfigError(msg)
        kinds = [args.plugin]
    version = net.cni_version or "0.1.0"
    cni = CNIConfig(cni_path(ctx.environ))
    rows: list[dict[str, Any]] = []
    status = OK
    for kind in kinds:
        row: dict[str, Any] = {"type": kind, "networkVersion": version}
        try:
            info = cni.get_version_info(kind)
        except PluginNotFoundError as err:
            row.update(supportedVersions=None, ok=False, error=str(err))
        except CNIError as err:
            row.update(supportedVersions=None, ok=False, error=str(err))
        else:
            row.update(supportedVersions=list(info.supported_versions),
                       ok=info.supports(version))
        status = status if row["ok"] else FAILED
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2), file=ctx.out)
        return status
    for row in rows:
        if row["supportedVersions"] is None:
            print(f"{row['type']}: {row['error']}", file=ctx.out)
            continue
        verdict = "ok" if row["ok"] else f"does NOT support {version}"
        print(f"{row['type']}: supports {', '.join(row['supportedVersions'])}: {verdict}",
              file=ctx.out)
    return status


LIST = Command("list", "list the networks of $NETCONFPATH and their plugins", _configure_list,
               _run_list)
VERSION = Command("version", "check a network's plugins' VERSION against its version",
                  _configure_version, _run_version)
