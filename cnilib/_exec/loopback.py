"""Bringing ``lo`` up inside a sandbox without the ``loopback`` plugin.

Rules of this file:

* It is used only when the ``loopback`` plugin is not on the plugin path: then
  ``Networks(loopback=True)`` still gives the sandbox a working ``lo`` (go-cni would fail).
* The work runs on a short-lived thread of its own that enters the namespace with ``setns``
  (a thread's network namespace is its own on Linux), sets ``IFF_UP`` on ``lo`` with two
  ``ioctl`` calls on a socket made inside, and ends: no process is started and the caller's
  threads never change namespace, even if returning fails.
* The one C layout written here is the kernel's ``struct ifreq`` for those two ``ioctl``
  calls: the interface name in 16 bytes, then the flags as a short, padded to 40 bytes
  (``linux/if.h``; a stable kernel interface, unlike libc's private structures). The standard
  library has no call that sets an interface's flags, and Python 3.11 has no ``os.setns``
  (3.12 has), so ``setns`` is called through ctypes by its documented C signature.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading

from cnilib.errors import ExecutionError

__all__ = ["bring_up_lo"]

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _up_inside(netns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), netns)
    finally:
        os.close(fd)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        (flags,) = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)
        if not flags & _IFF_UP:
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def bring_up_lo(netns: str) -> None:
    """Set ``lo`` up in the namespace at ``netns`` (blocking; a thread does the work).

    Raises:
        ExecutionError: the namespace cannot be entered or ``lo`` cannot be set up.
    """
    failure: list[BaseException] = []

    def work() -> None:
        try:
            _up_inside(netns)
        except BaseException as err:  # reported to the caller below
            failure.append(err)

    thread = threading.Thread(target=work, name="cnilib-loopback")
    thread.start()
    thread.join()
    if failure:
        err = failure[0]
        msg = f"cannot bring lo up in {netns} (no loopback plugin on the path): {err}"
        raise ExecutionError(msg) from err
