"""Short and long variants of the exhaustive suites (hostile input, fuzzing).

The normal run takes the short variant. ``CNILIB_LONG=1`` selects the long one, as
``docs/running.md`` (section *Long test runs*) documents: more inputs fuzzed and the
worst-case files at the size cap for the memory checks. Nothing is skipped in either.
"""

from __future__ import annotations

import os

__all__ = ["LONG"]

#: True when the long variant was asked for.
LONG = os.environ.get("CNILIB_LONG", "") == "1"
