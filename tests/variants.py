"""Short and long variants of the exhaustive suites (hostile input, fuzzing).

The normal run takes the short variant. ``CNILIB_LONG=1`` selects the long one, as for the
crash, load and sandbox suites (``docs/guarantees.md``, section *Long runs*): more inputs
fuzzed, and the worst-case files and results at full size for the memory checks. Nothing is
skipped in either.
"""

from __future__ import annotations

import os

__all__ = ["LONG"]

#: True when the long variant was asked for.
LONG = os.environ.get("CNILIB_LONG", "") == "1"
