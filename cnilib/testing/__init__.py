"""Test kit for code that uses cnilib, and for plugins (as ``trio.testing`` is to trio).

Rules of this package:

* ``cnilib.testing`` is a facade: every public name of the kit is importable from it, and
  each is defined in a submodule named for what it holds. ``_fakes`` holds the in-process
  executors (:class:`FakeExecutor`, :class:`AsyncFakeExecutor`) and the reply builders;
  :mod:`cnilib.testing.plugins` the executable test plugins and their installer.
* Nothing here is imported by ``import cnilib``: the kit keeps its own namespace.
"""

from __future__ import annotations

from ._fakes import (
    AsyncFakeExecutor,
    AsyncHandler,
    FakeExecutor,
    Handler,
    Reply,
    default_handler,
    error_reply,
    make_result,
    request_of,
    success,
    timed_out,
    version_reply,
)
from .plugins import (
    CONTROL_ENV,
    DEBUG,
    PLUGINS,
    RECORD,
    SLEEP,
    install_plugin,
    install_plugins,
    read_log,
    write_control,
)

__all__ = [
    "Reply",
    "Handler",
    "AsyncHandler",
    "FakeExecutor",
    "AsyncFakeExecutor",
    "default_handler",
    "request_of",
    "success",
    "error_reply",
    "timed_out",
    "make_result",
    "version_reply",
    "PLUGINS",
    "RECORD",
    "SLEEP",
    "DEBUG",
    "CONTROL_ENV",
    "install_plugin",
    "install_plugins",
    "write_control",
    "read_log",
]
