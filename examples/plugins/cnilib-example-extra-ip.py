#!/usr/bin/env python3
"""cnilib-example-extra-ip: a chained CNI plugin, written on cnilib.skel, that asks an IPAM
plugin for one more address and puts it on the container's interface.

Put it after a plugin that made the interface (bridge, ptp, macvlan...), with an ``ipam``
section of its own::

    {"type": "cnilib-example-extra-ip",
     "ipam": {"type": "host-local", "subnet": "10.99.0.0/24"}}

ADD delegates to the IPAM plugin, adds the address inside the container's namespace and returns
the previous result with the new address appended. CHECK asks the IPAM plugin to check its
reservation and verifies the address is still there. DEL gives the address back to the IPAM
plugin (the interface itself goes away with the plugin that made it). GC and STATUS are passed
on to the IPAM plugin as they are.

This file is the worked example of docs/plugin-authors.md, and tests/integration runs it.
"""

from __future__ import annotations

import contextlib
import subprocess

import attrs

from cnilib.errors import CNIError, ErrorCode
from cnilib.skel import (
    CmdArgs,
    CNIFuncs,
    NetConf,
    PluginOutput,
    delegate_add,
    delegate_check,
    delegate_del,
    delegate_gc,
    delegate_status,
    parse_netconf,
    plugin_main,
)
from cnilib.types import IPConfig100, Result, Result100
from cnilib.version import plugin_supports


def ipam_type(conf: NetConf) -> str:
    ipam = conf.raw.get("ipam")
    kind = ipam.get("type") if isinstance(ipam, dict) else None
    if not isinstance(kind, str):
        raise CNIError("missing ipam.type", code=ErrorCode.INVALID_NETWORK_CONFIG)
    return kind


def ip_in_netns(netns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={netns}", "ip", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def as_result100(result: Result | None, conf: NetConf) -> Result100:
    # The plugin speaks 1.0.0 and 1.1.0, so every result it meets converts to that family.
    if result is None:
        raise CNIError("must be chained after a plugin that creates the interface",
                       code=ErrorCode.INVALID_NETWORK_CONFIG)
    converted = result.as_version(conf.cni_version)
    assert isinstance(converted, Result100)
    return converted


def our_interface(result: Result100, ifname: str) -> int:
    for index, iface in enumerate(result.interfaces):
        if iface.name == ifname and iface.sandbox:
            return index
    raise CNIError(f"no interface {ifname} in the container in prevResult",
                   code=ErrorCode.INVALID_NETWORK_CONFIG)


def add(args: CmdArgs) -> PluginOutput:
    conf = parse_netconf(args.stdin_data)
    previous = as_result100(conf.prev_result, conf)
    index = our_interface(previous, args.ifname)

    try:
        allocated = as_result100(delegate_add(ipam_type(conf), args.stdin_data), conf)
    except CNIError:
        # SPEC.md, section *Delegated plugin execution procedure*: a failed delegated ADD is
        # followed by its DEL; the ADD's error is the one to report.
        with contextlib.suppress(CNIError):
            delegate_del(ipam_type(conf), args.stdin_data)
        raise
    if not allocated.ips:
        delegate_del(ipam_type(conf), args.stdin_data)
        raise CNIError("the IPAM plugin returned no address")
    address = str(allocated.ips[0].address)
    done = ip_in_netns(args.netns, "addr", "add", address, "dev", args.ifname)
    if done.returncode != 0:
        delegate_del(ipam_type(conf), args.stdin_data)  # give it back: ADD failed
        raise CNIError(f"cannot add {address} to {args.ifname}", details=done.stderr.strip())

    new_ip = IPConfig100(address=address, interface=index)
    return attrs.evolve(previous, ips=(*previous.ips, new_ip))


def check(args: CmdArgs) -> PluginOutput:
    conf = parse_netconf(args.stdin_data)
    delegate_check(ipam_type(conf), args.stdin_data)
    # prevResult is now the whole chain's result: every address it puts on our interface
    # must be there.
    result = as_result100(conf.prev_result, conf)
    index = our_interface(result, args.ifname)
    present = ip_in_netns(args.netns, "-o", "addr", "show", "dev", args.ifname).stdout
    for ip in result.ips:
        if ip.interface == index and f" {ip.address.ip}/" not in present:
            raise CNIError(f"address {ip.address} is missing on {args.ifname}")
    return None


def delete(args: CmdArgs) -> PluginOutput:
    # Release the address even when the namespace is already gone (SPEC.md, section *DEL*: it
    # must succeed when there is nothing left to undo).
    delegate_del(ipam_type(parse_netconf(args.stdin_data)), args.stdin_data)
    return None


def gc(args: CmdArgs) -> PluginOutput:
    delegate_gc(ipam_type(parse_netconf(args.stdin_data)), args.stdin_data)
    return None


def status(args: CmdArgs) -> PluginOutput:
    delegate_status(ipam_type(parse_netconf(args.stdin_data)), args.stdin_data)
    return None


if __name__ == "__main__":
    plugin_main(CNIFuncs(add=add, check=check, delete=delete, gc=gc, status=status),
                plugin_supports("1.0.0", "1.1.0"),
                "CNI plugin cnilib-example-extra-ip (a cnilib example)")
