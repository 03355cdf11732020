"""``cnilib conformance PLUGIN``: the conformance checker on the command line.

Rules of this file:

* :mod:`cnilib.cli` owns the program; this module only adds the subcommand's parser
  (:func:`add_parser`) and runs it (:func:`run`), so that the checker's options live beside
  the checker.
* Exit status: 0 when no row failed, 1 when one did or the checker could not run (one line on
  stderr, printed by :mod:`cnilib.cli`), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``conformance`` subcommand to the ``cnilib`` parser's subparsers."""
    p = sub.add_parser(
        "conformance", help="run a plugin through every verb in a scratch namespace (root)",
        description="Run PLUGIN through VERSION, ADD, CHECK, DEL, DEL again, GC and STATUS in "
        "a scratch network namespace (made and removed; needs root), judge every reply "
        "against cnilib's JSON Schemas, and check its errors on bad configurations. "
        "Exit status: 0 every check passed, 1 a check failed or the checker could not run, "
        "2 usage error.")
    p.add_argument("plugin", help="plugin type (found on $CNI_PATH) or path to the executable")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="network (.conflist or .conf) holding the plugin, alone or in a chain "
                   "(default: the plugin alone, at the newest version it supports)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("-i", "--ifname", default="eth0", help="interface name (default eth0)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each verb")


def run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Run the checker as the parsed ``args`` say; print the report; return the exit status.

    Raises:
        CNIError: the configuration does not load, or the checker cannot run (not root).
    """
    from cnilib.config import conf_from_file, conflist_from_conf, conflist_from_file

    from .conformance import check_plugin

    net = None
    if args.config is not None:
        if args.config.endswith(".conflist"):
            net = conflist_from_file(args.config)
        else:
            net = conflist_from_conf(conf_from_file(args.config))
    path = [p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p] or None
    report = check_plugin(args.plugin, net, path=path, ifname=args.ifname, timeout=args.timeout)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        print(report.table(), file=out)
    return 0 if report.passed else 1
