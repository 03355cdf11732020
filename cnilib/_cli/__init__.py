"""What every ``cnilib`` subcommand shares: how it is declared, its context, its errors.

Rules of this package:

* A subcommand is a :class:`Command`: a name, a one-line help, a function that adds its
  options to an :mod:`argparse` parser and a function that runs it. ``cnilib.cli`` lists them
  in ``COMMANDS``; adding a subcommand is one module here and one entry there.
* A command returns its exit status (:data:`OK`, :data:`FAILED`) and raises
  :class:`UsageError` (status :data:`USAGE`) for arguments or environment it cannot use, or a
  :class:`~cnilib.errors.CNIError`, which ``cnilib.cli`` prints as one line (:func:`one_line`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Final, TextIO

import attrs

from cnilib.errors import AddError, CNIError, ConfigValidationError, PluginError

__all__ = ["OK", "FAILED", "USAGE", "Command", "Context", "UsageError", "one_line",
           "DEFAULT_NETCONFPATH"]

#: Exit statuses (``cnilib --help`` lists them).
OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2

#: Where cnitool looks for network configurations when ``NETCONFPATH`` is unset.
DEFAULT_NETCONFPATH: Final = "/etc/cni/net.d"


class UsageError(Exception):
    """Arguments or environment the command cannot use (exit status 2)."""


@attrs.frozen
class Context:
    """What a command runs with: the environment and the two output streams."""

    environ: Mapping[str, str]
    out: TextIO
    err: TextIO


@attrs.frozen
class Command:
    """One ``cnilib`` subcommand.

    Attributes:
        name: The word on the command line.
        help: One line for ``cnilib --help``.
        configure: Adds the command's arguments to its parser (and may set its description).
        run: Runs it; returns the exit status.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Context], int]


def one_line(err: CNIError) -> str:
    """An error as one line that says each thing once, with its code and plugin.

    ``[7] bridge: <message>; <details>`` for a plugin's error; an ADD that failed adds what
    its rollback did; any other error is ``[code] <message>``.
    """
    cause = err.cause if isinstance(err, AddError) else err
    tail = f"; {err.outcome}" if isinstance(err, AddError) and err.outcome else ""
    if isinstance(cause, PluginError) and cause.plugin:
        text = f"[{int(cause.code)}] {cause.plugin}: {CNIError.__str__(cause)}{tail}"
    elif isinstance(err, AddError | ConfigValidationError):
        # Their message already names the cause (AddError) or the first problem and how many
        # more there are (ConfigValidationError, whose details list every problem).
        text = f"[{int(err.code)}] {err.msg}"
    else:
        text = f"[{int(err.code)}] {err}"
    return " ".join(text.split())
