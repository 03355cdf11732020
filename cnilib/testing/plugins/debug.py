"""``cnilib-test-debug``: the CNI project's ``debug`` plugin, in Python.

Put it in a chain to see what each plugin of the chain is given: it appends every request to
the file named by the request key ``cniOutput`` as text, in the reference plugin's format::

    CmdAdd
    ContainerID: c1
    Netns: /var/run/netns/c1
    IfName: eth0
    Args:
    Path: /usr/lib/cni
    StdinData: {"cniVersion":"1.0.0","name":"mynet","type":"cnilib-test-debug",...}
    ----------------------

ADD passes ``prevResult`` through, converted to the request's version (an empty result when
there is none); CHECK, DEL, GC and STATUS log and succeed with no output. It speaks every spec
version up to 1.1.0, GC and STATUS included (``CmdGc``, ``CmdStatus``). The reference plugin's
``addHooks``/``delHooks``/``checkHooks`` (commands run inside the namespace) are not supported:
the test kit starts no process.

Rules of this file:

* It runs as a plugin process (a console script, or a wrapper from
  :func:`~cnilib.testing.install_plugin`), through :func:`cnilib.skel.plugin_main`.
"""

from __future__ import annotations

import fcntl
import json
from typing import NoReturn

from cnilib.errors import ConfigError
from cnilib.skel import Callback, CmdArgs, CNIFuncs, PluginOutput, parse_netconf, plugin_main
from cnilib.version import SUPPORTED_VERSIONS, plugin_supports

__all__ = ["main"]

_SEPARATOR = "----------------------"


def _output(verb: str, args: CmdArgs) -> None:
    try:
        request = json.loads(args.stdin_data)
    except ValueError:
        request = {}
    path = request.get("cniOutput") if isinstance(request, dict) else None
    if path is None or path == "":
        return
    if not isinstance(path, str):
        msg = f"cniOutput must be a string, got {type(path).__name__}"
        raise ConfigError(msg)
    text = (f"Cmd{verb}\nContainerID: {args.container_id}\nNetns: {args.netns}\n"
            f"IfName: {args.ifname}\nArgs: {args.args}\nPath: {args.path}\n"
            f"StdinData: {args.stdin_data.decode('utf-8', 'replace')}\n{_SEPARATOR}\n")
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # one whole block per call
        fh.write(text)


def _add(args: CmdArgs) -> PluginOutput:
    _output("Add", args)
    conf = parse_netconf(args.stdin_data)
    if conf.prev_result is not None:
        return conf.prev_result  # skel converts it to the request's version
    return {"cniVersion": conf.cni_version}


def _logger(verb: str) -> Callback:
    def call(args: CmdArgs) -> PluginOutput:
        _output(verb, args)
        return None

    return call


def main() -> NoReturn:
    """Run one call of ``cnilib-test-debug`` and exit (the console script's entry point)."""
    funcs = CNIFuncs(add=_add, check=_logger("Check"), delete=_logger("Del"),
                     gc=_logger("Gc"), status=_logger("Status"))
    plugin_main(funcs, plugin_supports(*SUPPORTED_VERSIONS), "CNI test plugin cnilib-test-debug")
    raise SystemExit(0)  # pragma: no cover - plugin_main always exits


if __name__ == "__main__":  # pragma: no cover - run as a script
    main()
