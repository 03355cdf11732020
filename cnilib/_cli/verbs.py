"""cnitool's verbs: ``add``, ``check``, ``del``, ``gc``, ``status``, with ``--dry-run``.

Rules of this file:

* The verbs read what Go's ``cnitool`` reads: ``NETCONFPATH``, ``CNI_PATH``, ``CNI_ARGS``,
  ``CAP_ARGS``, ``CNI_IFNAME``; the container ID is ``cnitool-`` plus 20 hex digits of the
  SHA-512 of the absolute netns path, so both tools address the same attachment.
* ``--dry-run`` runs the very plans the verbs run (:class:`~cnilib.api.CNIConfig`) with an
  executor that records each invocation instead of starting it, over a scratch copy of the
  attachment's cache entry: it prints what would run and changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from cnilib._json import JSON, loads
from cnilib.errors import CNIError
from cnilib.protocol import Completed, Invocation

from . import DEFAULT_NETCONFPATH, OK, Command, Context, UsageError

if TYPE_CHECKING:
    from cnilib.protocol import RuntimeConf
    from cnilib.types import Result

__all__ = ["VERBS", "container_id_for", "cni_path", "netconfpath"]


def container_id_for(netns: str) -> str:
    """The container ID cnitool derives from a netns path.

    >>> container_id_for("/var/run/netns/testing")
    'cnitool-77383ca0a0715733ca6f'
    """
    digest = hashlib.sha512(os.path.abspath(netns).encode()).hexdigest()
    return "cnitool-" + digest[:20]


def cni_path(environ: Mapping[str, str]) -> list[str] | None:
    """``CNI_PATH`` split on ``:``; unset or empty means CNIConfig's default directories."""
    return [p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p] or None


def netconfpath(environ: Mapping[str, str]) -> str:
    """``NETCONFPATH``, else cnitool's default ``/etc/cni/net.d``."""
    return environ.get("NETCONFPATH") or DEFAULT_NETCONFPATH


@attrs.define
class _Recorder:
    """An executor that records invocations and answers as a plugin that does nothing would.

    ADD answers the ``prevResult`` it was given (or an empty result of the request's
    version), so the next plugin of the chain gets what a pass-through plugin would pass.
    """

    calls: list[Invocation] = attrs.field(factory=list)

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        from cnilib.invoke import find_plugin

        return find_plugin(plugin_type, paths)

    def run(self, inv: Invocation) -> Completed:
        self.calls.append(inv)
        stdout = b""
        if inv.command.value == "ADD":
            request = loads(inv.stdin)
            prev = request.get("prevResult") if isinstance(request, dict) else None
            version = request.get("cniVersion", "") if isinstance(request, dict) else ""
            stdout = json.dumps(prev if isinstance(prev, dict) else
                                {"cniVersion": version}).encode()
        return Completed(0, stdout, b"", 0.0)


def _configure(verb: str) -> Callable[[argparse.ArgumentParser], None]:
    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("network", help="network name (looked up in $NETCONFPATH)")
        if verb in ("gc", "status"):
            p.add_argument("netns", nargs="?", help=argparse.SUPPRESS if verb == "gc" else
                           "accepted for cnitool compatibility; STATUS is per network")
        else:
            p.add_argument("netns", help="path of the network namespace, e.g. /var/run/netns/x")
        if verb == "gc":
            p.description = (
                "GC the network: as cnitool, it ignores the namespace (a netns argument is "
                "accepted and ignored) and passes no valid attachments, so every cached "
                "attachment of the network is stale and collected. Options naming one "
                "attachment (--ifname, --container-id) are refused.")
            p.add_argument("-i", "--ifname", dest="refused_ifname", help=argparse.SUPPRESS)
            p.add_argument("--container-id", dest="refused_container_id",
                           help=argparse.SUPPRESS)
        elif verb in ("add", "check", "del"):
            p.add_argument("-i", "--ifname", default=None,
                           help="interface name (default $CNI_IFNAME, else eth0)")
            p.add_argument("--container-id", default=None,
                           help="override the container ID derived from the netns path")
            p.add_argument("--dry-run", action="store_true",
                           help="print every plugin invocation (path, environment, stdin); "
                                "run nothing, change no cache")
        p.add_argument("--cache-dir", default=None,
                       help="result cache root (default /var/lib/cni)")
        p.add_argument("--timeout", type=float, default=None, help="seconds for the whole chain")
        p.add_argument("--json", action="store_true",
                       help="print the outcome as JSON (ADD: the result; failures: the error "
                            "object, also on stdout)")
    return configure


def _cap_args(environ: Mapping[str, str]) -> dict[str, JSON]:
    raw = environ.get("CAP_ARGS", "")
    if not raw:
        return {}
    try:
        decoded = loads(raw, source="CAP_ARGS")
    except CNIError as err:
        msg = f"CAP_ARGS is not JSON: {err}"
        raise UsageError(msg) from err
    if not isinstance(decoded, dict):
        msg = "CAP_ARGS must be a JSON object"
        raise UsageError(msg)
    return decoded


def _runtime(args: argparse.Namespace, environ: Mapping[str, str]) -> RuntimeConf:
    from cnilib.identifiers import parse_cni_args
    from cnilib.protocol import RuntimeConf

    if args.ifname is not None:
        ifname = args.ifname
    elif "CNI_IFNAME" in environ:
        ifname = environ["CNI_IFNAME"]
        if not ifname:
            msg = "CNI_IFNAME is set but empty (unset it for the default eth0), as cnitool says"
            raise UsageError(msg)
    else:
        ifname = "eth0"
    try:
        cni_args = parse_cni_args(environ.get("CNI_ARGS", ""))
    except CNIError as err:
        msg = f"CNI_ARGS: {err}"
        raise UsageError(msg) from err
    netns = os.path.abspath(args.netns)
    return RuntimeConf(container_id=args.container_id or container_id_for(netns), netns=netns,
                       ifname=ifname, args=cni_args, capability_args=_cap_args(environ))


def _print_calls(calls: list[Invocation], ctx: Context, as_json: bool) -> None:
    if as_json:
        doc = [{"plugin": c.plugin_type, "path": c.path, "command": c.command.value,
                "env": dict(c.env), "stdin": loads(c.stdin)} for c in calls]
        print(json.dumps(doc, indent=2), file=ctx.out)
        return
    for n, c in enumerate(calls, 1):
        print(f"# {n}. {c.command.value} {c.plugin_type}: {c.path}", file=ctx.out)
        for key, value in c.env.items():
            print(f"{key}={value}", file=ctx.out)
        print(c.stdin.decode("utf-8", "replace"), file=ctx.out)


def _run(verb: str, args: argparse.Namespace, ctx: Context) -> int:
    from cnilib.api import CNIConfig
    from cnilib.cache import ResultCache
    from cnilib.config import load_conflist

    if verb == "gc" and (args.refused_ifname is not None
                         or args.refused_container_id is not None):
        msg = ("gc ignores the namespace, container ID and interface name: every cached "
               "attachment of the network is collected (cnitool semantics)")
        raise UsageError(msg)
    attachment = verb in ("add", "check", "del")
    rt = _runtime(args, ctx.environ) if attachment else None
    net = load_conflist(netconfpath(ctx.environ), args.network)
    cache_dir = args.cache_dir or "/var/lib/cni"
    dry = attachment and args.dry_run
    scratch = tempfile.mkdtemp(prefix="cnilib-dry-run-") if dry else None
    recorder = _Recorder()
    result: Result | None = None
    try:
        if scratch is not None and rt is not None:
            # The plans read (and would write) the cache: give them a scratch copy of this
            # attachment's entry, so a dry CHECK or DEL sends the prevResult a real one would.
            entry = ResultCache(cache_dir).load(net.name, rt.container_id, rt.ifname)
            if entry is not None:
                ResultCache(scratch).save(entry)
        cni = CNIConfig(cni_path(ctx.environ), cache_dir=scratch or cache_dir,
                        executor=recorder if dry else None)
        if verb == "gc":
            cni.gc_network_list(net, None, timeout=args.timeout)
        elif verb == "status":
            cni.get_status_network_list(net, timeout=args.timeout)
        elif rt is None:
            raise AssertionError(verb)
        elif verb == "add":
            result = cni.add_network_list(net, rt, timeout=args.timeout)
        elif verb == "check":
            cni.check_network_list(net, rt, timeout=args.timeout)
        else:
            cni.del_network_list(net, rt, timeout=args.timeout)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if dry:
        _print_calls(recorder.calls, ctx, args.json)
    elif result is not None:
        # cnitool prints the result indented by four spaces; --json prints it on one line.
        print(result.to_json() if args.json else result.to_json(indent=4), file=ctx.out)
    elif args.json:
        print(json.dumps({"network": net.name, "command": verb.upper(), "ok": True}),
              file=ctx.out)
    return OK


def _verb(verb: str, help_text: str) -> Command:
    return Command(verb, help_text, _configure(verb),
                   lambda args, ctx: _run(verb, args, ctx))


VERBS = (
    _verb("add", "ADD a network to a network namespace (cnitool add)"),
    _verb("check", "CHECK a network's attachment (cnitool check)"),
    _verb("del", "DEL a network from a network namespace (cnitool del)"),
    _verb("gc", "GC a network: collect every cached attachment (ignores the namespace)"),
    _verb("status", "ask a network's plugins for their STATUS"),
)
