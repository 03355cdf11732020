"""Shared test configuration: Hypothesis profiles.

``dev`` (default) explores; ``ci`` (selected with ``HYPOTHESIS_PROFILE=ci``) is derandomised so
that a red CI run reproduces.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# The suite's own helper packages (tests.netns, tests.plugins) are imported
# by package name. Append (never prepend) the checkout so that an installed cnilib, as under
# tox, still wins over the checkout's copy.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
