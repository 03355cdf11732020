"""A scratch network namespace for the conformance checker: made, handed out, removed.

Rules of this file:

* It is an edge, like the demo: it runs iproute2's ``ip`` (and nothing else) to make and
  remove one namespace, ``/run/netns/cnicf-<random>``. It owns no CNI logic.
* The namespace is removed in ``finally``, whatever happened inside; processes a plugin left
  in it (a stray daemon) are killed first, or the namespace would outlive its name.
* Without root, or without ``ip``, it refuses at once with a typed error and makes nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

from .errors import ConformanceError, NotRootError

__all__ = ["NETNS_PREFIX", "require_root", "scratch_netns"]

#: Prefix of the namespaces the checker makes (``cnicf-`` + 8 hex digits).
NETNS_PREFIX = "cnicf-"


def require_root() -> None:
    """Refuse unless this process can make network namespaces.

    Raises:
        NotRootError: not running as root.
        ConformanceError: iproute2's ``ip`` is not installed.
    """
    if os.geteuid() != 0:
        msg = ("the conformance checker needs root: it runs the plugin in a scratch network "
               "namespace")
        raise NotRootError(msg, details="run it as root (for example with sudo)")
    if shutil.which("ip") is None:
        msg = "the conformance checker needs iproute2's `ip` command"
        raise ConformanceError(msg, details="apt-get install -y iproute2")


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=60,
                          check=False)


@contextlib.contextmanager
def scratch_netns() -> Iterator[str]:
    """Make a fresh network namespace and yield its path; remove it on the way out.

    Raises:
        NotRootError: not running as root.
        ConformanceError: ``ip`` is missing or could not make the namespace.
    """
    require_root()
    name = NETNS_PREFIX + secrets.token_hex(4)
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        msg = f"could not make the scratch network namespace {name}"
        raise ConformanceError(msg, details=made.stderr.strip())
    try:
        yield f"/run/netns/{name}"
    finally:
        for pid in _ip("netns", "pids", name).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                os.kill(int(pid), 9)
        _ip("netns", "delete", name)
