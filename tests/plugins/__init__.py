"""A misbehaving test plugin, for the failure modes the shipped test plugins cannot express.

cnilib's tests run the shipped plugins of :mod:`cnilib.testing.plugins` wherever a process is
wanted (``cnilib-test-record`` covers results, errors, exit codes, stderr, signals, sleeps and
unusable output). What is left here needs more than a control file can say:

* ``huge``: exit 0 with a valid JSON result of ``size`` bytes (64 MiB by default), to prove
  the executor's stdout cap;
* ``hang``: start a grandchild that keeps stdout open, then sleep; both for ``seconds``
  (600 by default), the grandchild's pid appended to ``pidFile``: the process group must be
  killed at the deadline;
* ``partial-kill``: write the first half of a valid result, then kill itself with the signal
  named by ``signal`` (``SIGKILL`` by default): the error must name the signal;
* ``many-ips``: exit 0 with a valid result of ``count`` IPv4 addresses (300,000 by default,
  12.6 MB), for the cost of large results.

Rules of this file:

* The plugin's code lives in ``misbehave.py`` and runs as a process; this module only installs
  it (with :func:`cnilib.testing.install_plugin`, as a script) and imports nothing but cnilib.
* ``mode`` applies to the verbs in ``on`` (default: all but VERSION); on the other verbs the
  plugin answers politely. Every call is logged, in :func:`cnilib.testing.read_log`'s format,
  to the file named by the request's ``recordFile``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnilib.testing import install_plugin

__all__ = ["MISBEHAVE", "install_misbehave"]

#: The plugin type of the misbehaving plugin.
MISBEHAVE = "cnilib-misbehave"

_SCRIPT = Path(__file__).resolve().with_name("misbehave.py")


def install_misbehave(directory: str | os.PathLike[str], name: str = MISBEHAVE) -> Path:
    """Install the misbehaving plugin as the executable ``directory/name``.

    Returns:
        The executable's path.
    """
    return install_plugin(directory, _SCRIPT, name=name)
