"""The ``cnilib`` command: cnitool-compatible verbs plus validation and a demo.

Rules of this file:

* ``run(argv, *, environ, stdout, stderr)`` is the whole program; ``main()`` only binds it to
  the process (jsonschema's CLI style), so tests call ``run`` with their own streams.
* The verbs behave as Go's ``cnitool`` (``cnitool/`` in containernetworking/cni):
  ``NETCONFPATH``, ``CNI_PATH``, ``CNI_ARGS``, ``CAP_ARGS``, ``CNI_IFNAME``; the container ID
  is ``cnitool-`` plus 20 hex digits of the SHA-512 of the absolute netns path, so both tools
  address the same attachment.
* Every failure is printed as one line on stderr and exits 1; nothing else is raised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ._json import JSON, loads
from .errors import CNIError, ConfigError, Severity

__all__ = ["run", "main", "container_id_for", "DEFAULT_NETCONFPATH"]

#: Where cnitool looks for network configurations when ``NETCONFPATH`` is unset.
DEFAULT_NETCONFPATH = "/etc/cni/net.d"

_VERBS = ("add", "check", "del", "gc", "status")


def container_id_for(netns: str) -> str:
    """The container ID cnitool derives from a netns path (as ``cnitool`` does).

    >>> container_id_for("/var/run/netns/testing")
    'cnitool-77383ca0a0715733ca6f'
    """
    digest = hashlib.sha512(os.path.abspath(netns).encode()).hexdigest()
    return "cnitool-" + digest[:20]


def _examples_dir() -> Path:
    # The bundled examples live beside the package in a checkout and an sdist.
    return Path(__file__).resolve().parent.parent / "examples"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnilib",
        description="Run CNI plugin chains (cnitool-compatible) and validate configurations.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for verb in _VERBS:
        v = sub.add_parser(verb, help=f"{verb.upper()} a network for a network namespace")
        v.add_argument("network", help="network name (looked up in $NETCONFPATH)")
        v.add_argument("netns", help="path of the network namespace, e.g. /var/run/netns/x")
        v.add_argument("-i", "--ifname", default=None,
                       help="interface name (default $CNI_IFNAME or eth0)")
        v.add_argument("--container-id", default=None, help="override the derived container ID")
        v.add_argument("--cache-dir", default=None, help="result cache root (default /var/lib/cni)")
        v.add_argument("--timeout", type=float, default=None, help="seconds for the whole chain")
    val = sub.add_parser("validate", help="load and validate configuration files or directories")
    val.add_argument("paths", nargs="*", help="files or directories (default: bundled examples)")
    val.add_argument("--json", action="store_true", help="print a JSON report")
    ver = sub.add_parser("version", help="ask a plugin which spec versions it supports")
    ver.add_argument("plugin", help="plugin type, found on $CNI_PATH")
    demo = sub.add_parser("demo", help="attach the bundled example network to a fresh namespace")
    demo.add_argument("--keep-going", action="store_true", help=argparse.SUPPRESS)
    from .testing import _command

    _command.add_parser(sub)
    return p


def _config_paths(paths: Sequence[str]) -> list[Path]:
    from .config import conf_files

    out: list[Path] = []
    for raw in paths or [str(_examples_dir())]:
        p = Path(raw)
        if p.is_dir():
            out.extend(Path(f) for f in conf_files(str(p)))
        else:
            out.append(p)
    return out


def _validate(paths: Sequence[str], as_json: bool, out: TextIO) -> int:
    from .config import conf_from_file, conflist_from_conf, conflist_from_file

    report: list[dict[str, object]] = []
    failed = 0
    files = _config_paths(paths)
    if not files:
        msg = f"no configuration files found in {', '.join(paths)}"
        raise ConfigError(msg)
    for f in files:
        try:
            if f.suffix == ".conflist":
                net = conflist_from_file(str(f))
            else:
                net = conflist_from_conf(conf_from_file(str(f)))
        except CNIError as err:
            failed += 1
            problems = getattr(err, "problems", ())
            report.append({"file": str(f), "ok": False, "error": str(err),
                           "problems": [str(p) for p in problems]})
            if not as_json:
                print(f"FAIL {f}: {err.msg}", file=out)
                for p in problems:
                    if p.severity is Severity.ERROR:
                        print(f"     {p}", file=out)
            continue
        plugins = [pl.type for pl in net.plugins]
        warnings = [str(w) for w in net.warnings]
        report.append({"file": str(f), "ok": True, "name": net.name,
                       "cniVersion": net.cni_version, "plugins": plugins, "warnings": warnings})
        if not as_json:
            print(f"ok   {f}: network {net.name!r} cniVersion {net.cni_version or '(none)'} "
                  f"plugins {' -> '.join(plugins)}", file=out)
            for w in warnings:
                print(f"     {w}", file=out)
    if as_json:
        json.dump(report, out, indent=2)
        print(file=out)
    else:
        print(f"{len(files) - failed} loaded, {failed} failed", file=out)
    return 1 if failed else 0


def _verb(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    from .api import CNIConfig
    from .config import load_conflist
    from .identifiers import parse_cni_args
    from .protocol import RuntimeConf

    netdir = environ.get("NETCONFPATH") or DEFAULT_NETCONFPATH
    net = load_conflist(netdir, args.network)
    cap_args: dict[str, JSON] = {}
    if environ.get("CAP_ARGS"):
        decoded = loads(environ["CAP_ARGS"], source="CAP_ARGS")
        if not isinstance(decoded, dict):
            msg = "CAP_ARGS must be a JSON object"
            raise ConfigError(msg)
        cap_args = decoded
    cni_args = parse_cni_args(environ.get("CNI_ARGS", ""))
    ifname = args.ifname or environ.get("CNI_IFNAME") or "eth0"
    netns = os.path.abspath(args.netns)
    rt = RuntimeConf(
        container_id=args.container_id or container_id_for(netns),
        netns=netns,
        ifname=ifname,
        args=cni_args,
        capability_args=cap_args,
    )
    cni = CNIConfig(_cni_path(environ), cache_dir=args.cache_dir or "/var/lib/cni")
    timeout: float | None = args.timeout
    if args.command == "add":
        result = cni.add_network_list(net, rt, timeout=timeout)
        # cnitool prints the result indented by four spaces (Go's ``result.Print``).
        out.write(result.to_json(indent=4))
        out.write("\n")
    elif args.command == "check":
        cni.check_network_list(net, rt, timeout=timeout)
    elif args.command == "del":
        cni.del_network_list(net, rt, timeout=timeout)
    elif args.command == "gc":
        cni.gc_network_list(net, None, timeout=timeout)
    else:
        cni.get_status_network_list(net, timeout=timeout)
    return 0


def _cni_path(environ: Mapping[str, str]) -> list[str] | None:
    # An unset or empty CNI_PATH means CNIConfig's default directories.
    return [p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p] or None


def _version(plugin: str, environ: Mapping[str, str], out: TextIO) -> int:
    from .api import CNIConfig

    info = CNIConfig(_cni_path(environ)).get_version_info(plugin)
    print(json.dumps(info.to_dict(), indent=4), file=out)
    return 0


def run(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: The arguments after the program name (default ``sys.argv[1:]``).
        environ: The environment to read ``NETCONFPATH``, ``CNI_PATH``... from.
        stdout: Where results go.
        stderr: Where errors go.

    Returns:
        0 on success, 1 on a CNI failure, 2 on a usage error.
    """
    env = os.environ if environ is None else environ
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.command == "validate":
            return _validate(args.paths, args.json, out)
        if args.command == "version":
            return _version(args.plugin, env, out)
        if args.command == "demo":
            from ._demo import run_demo

            return run_demo(env, out)
        if args.command == "conformance":
            from .testing import _command

            return _command.run(args, env, out)
        return _verb(args, env, out)
    except CNIError as exc:
        print(f"cnilib {args.command}: {exc}", file=err)
        return 1


def main() -> None:
    """Entry point of the ``cnilib`` console script and ``python -m cnilib``."""
    sys.exit(run())
