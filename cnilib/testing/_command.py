"""``cnilib conformance PLUGIN``: the conformance checker on the command line.

Rules of this file:

* :mod:`cnilib.cli` owns the program and lists this subcommand in its ``COMMANDS``; this
  module only holds the subcommand (:data:`CONFORMANCE`: its parser and how it runs), so that
  the checker's options live beside the checker.
* Exit status: 0 when no row failed, 1 when one did or the checker could not run (one line on
  stderr, printed by :mod:`cnilib.cli`), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os

from cnilib._cli import Command, Context

__all__ = ["CONFORMANCE"]


def _configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Check each plugin's configuration against its packaged schema, then run PLUGIN "
        "through VERSION, ADD, CHECK, DEL, DEL again, GC and STATUS in a scratch "
        "network namespace (made and removed; needs root), judge every reply against cnilib's "
        "JSON Schemas, and check its errors on bad configurations.")
    p.add_argument("plugin", help="plugin type (found on $CNI_PATH) or path to the executable")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="network (.conflist or .conf) holding the plugin, alone or in a chain "
                   "(default: the plugin alone, at the newest version it supports)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("-i", "--ifname", default="eth0", help="interface name (default eth0)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each verb")


def _run(args: argparse.Namespace, ctx: Context) -> int:
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
    path = [p for p in ctx.environ.get("CNI_PATH", "").split(os.pathsep) if p] or None
    report = check_plugin(args.plugin, net, path=path, ifname=args.ifname, timeout=args.timeout)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2), file=ctx.out)
    else:
        print(report.table(), file=ctx.out)
    return 0 if report.passed else 1


#: ``cnilib conformance``.
CONFORMANCE = Command(
    "conformance", "run a plugin through every verb in a scratch namespace (root)",
    _configure, _run)
