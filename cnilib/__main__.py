"""``python -m cnilib``: the command line (see :mod:`cnilib.cli`)."""

from cnilib.cli import main

main()
