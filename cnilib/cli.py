"""The ``cnilib`` command: cnitool's verbs, plus ``validate``, ``list``, ``version``, ``demo``,
``conformance``.

Rules of this file:

* ``run(argv, *, environ, stdout, stderr)`` is the whole program; ``main()`` only binds it to
  the process (jsonschema's CLI style), so tests call ``run`` with their own streams.
* The subcommands live in ``cnilib._cli`` and are listed in :data:`COMMANDS`, in the order
  ``--help`` shows them: adding one is a module there and an entry here.
* Exit status: 0 success, 1 a CNI failure or problems found, 2 a usage error (arguments or
  environment). Every failure is one line on stderr, ``cnilib <command>: …``; nothing is
  raised, no traceback is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from ._cli import DEFAULT_NETCONFPATH, FAILED, OK, USAGE, Command, Context, UsageError, one_line
from ._cli.networks import LIST, VERSION
from ._cli.validate import VALIDATE
from ._cli.verbs import VERBS, container_id_for
from .errors import CNIError
from .testing._command import CONFORMANCE

__all__ = ["run", "main", "container_id_for", "DEFAULT_NETCONFPATH", "COMMANDS"]


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.description = ("Attach the bundled example network cnilib-demo to a fresh network "
                     "namespace, show it, and remove everything again (needs root, iproute2 "
                     "and the reference plugins on $CNI_PATH).")


def _demo_run(args: argparse.Namespace, ctx: Context) -> int:
    from ._demo import run_demo

    return run_demo(ctx.environ, ctx.out)


#: Every subcommand, in ``--help`` order.
COMMANDS: tuple[Command, ...] = (
    *VERBS, VALIDATE, LIST, VERSION,
    Command("demo", "attach the bundled example network to a fresh namespace, then undo",
            _demo_configure, _demo_run),
    CONFORMANCE,
)

_EPILOG = f"""\
exit status:
  {OK}  success (validate: no errors; warnings too with --strict)
  {FAILED}  a CNI failure (the plugin's error, with its code, on stderr) or problems found
  {USAGE}  usage error: bad arguments or environment (malformed CNI_ARGS or CAP_ARGS,
     empty CNI_IFNAME, validate without paths or $NETCONFPATH)

environment (as cnitool): NETCONFPATH (default {DEFAULT_NETCONFPATH}), CNI_PATH, CNI_ARGS,
CAP_ARGS, CNI_IFNAME (default eth0). See docs/cli.md.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the given streams and never exits the process."""

    stream: TextIO = sys.stderr
    out: TextIO = sys.stdout

    def _print_message(self, message: str, file: object = None) -> None:
        if message:
            (self.out if file is sys.stdout else self.stream).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.stream.write(message)
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        self.stream.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        raise _Exit(USAGE)


class _Exit(Exception):  # noqa: N818 (a control-flow signal, like SystemExit)
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _parser(out: TextIO, err: TextIO) -> _Parser:
    from . import __version__

    class Bound(_Parser):
        stream = err

    Bound.out = out
    p = Bound(prog="cnilib", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
              description="Run CNI plugin chains (cnitool-compatible) and check configurations.")
    p.add_argument("--version", action="version", version=f"cnilib {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, epilog=_EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        command.configure(child)
    return p


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
        0 on success, 1 on a CNI failure or problems found, 2 on a usage error.
    """
    ctx = Context(os.environ if environ is None else environ,
                  sys.stdout if stdout is None else stdout,
                  sys.stderr if stderr is None else stderr)
    try:
        args = _parser(ctx.out, ctx.err).parse_args(
            list(sys.argv[1:] if argv is None else argv))
    except _Exit as stop:
        return stop.status
    command = next(c for c in COMMANDS if c.name == args.command)
    try:
        return command.run(args, ctx)
    except UsageError as exc:
        print(f"cnilib {args.command}: {exc}", file=ctx.err)
        return USAGE
    except CNIError as exc:
        print(f"cnilib {args.command}: {one_line(exc)}", file=ctx.err)
        if getattr(args, "json", False):
            import json

            print(json.dumps(exc.to_dict()), file=ctx.out)
        return FAILED
    except OSError as exc:  # the machine's, not CNI's: a scratch directory, a stream
        print(f"cnilib {args.command}: {exc.strerror or exc}", file=ctx.err)
        return FAILED


def main() -> None:
    """Entry point of the ``cnilib`` console script and ``python -m cnilib``."""
    sys.exit(run())
