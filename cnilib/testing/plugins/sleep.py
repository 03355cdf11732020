"""``cnilib-test-sleep``: a plugin that sleeps, then answers like a polite plugin.

For the timeout and cancellation tests of a runtime (the CNI project's own ``sleep`` test
plugin does the same). Every verb but VERSION, once the skeleton has accepted the call, sleeps
``sleepSeconds`` (a request key; 60 by default), then ADD passes ``prevResult`` through (or
answers an empty result) and the other verbs succeed with no output. With the request key
``pidFile``, the plugin appends its process ID to that file before sleeping, so a test can
check that the runtime killed it. It speaks every spec version up to 1.1.0, GC and STATUS
included; VERSION answers at once.

Rules of this file:

* It runs as a plugin process (a console script, or a wrapper from
  :func:`~cnilib.testing.install_plugin`), through :func:`cnilib.skel.plugin_main`.
"""

from __future__ import annotations

import os
import time
from typing import NoReturn

from cnilib.errors import ConfigError
from cnilib.skel import CmdArgs, CNIFuncs, PluginOutput, parse_netconf, plugin_main
from cnilib.version import SUPPORTED_VERSIONS, plugin_supports

__all__ = ["main"]

_DEFAULT_SECONDS = 60.0


def _sleep(args: CmdArgs) -> PluginOutput:
    conf = parse_netconf(args.stdin_data)
    seconds = conf.raw.get("sleepSeconds", _DEFAULT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        msg = f"sleepSeconds must be a number >= 0, got {seconds!r}"
        raise ConfigError(msg)
    pid_file = conf.raw.get("pidFile")
    if isinstance(pid_file, str) and pid_file:
        with open(pid_file, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    if conf.prev_result is not None:
        return conf.prev_result
    return {"cniVersion": conf.cni_version}


def _sleep_quietly(args: CmdArgs) -> PluginOutput:
    _sleep(args)
    return None


def main() -> NoReturn:
    """Run one call of ``cnilib-test-sleep`` and exit (the console script's entry point)."""
    funcs = CNIFuncs(add=_sleep, check=_sleep_quietly, delete=_sleep_quietly,
                     gc=_sleep_quietly, status=_sleep_quietly)
    plugin_main(funcs, plugin_supports(*SUPPORTED_VERSIONS), "CNI test plugin cnilib-test-sleep")
    raise SystemExit(0)  # pragma: no cover - plugin_main always exits


if __name__ == "__main__":  # pragma: no cover - run as a script
    main()
