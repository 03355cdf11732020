"""Test kit for code that uses cnilib, and for plugins (as ``trio.testing`` is to trio).

Rules of this package:

* ``cnilib.testing`` is a facade: every public name of the kit is importable from it, and
  each is defined in a submodule named for what it holds. ``_fakes`` holds the in-process
  executors (:class:`FakeExecutor`, :class:`AsyncFakeExecutor`) and the reply builders;
  :mod:`cnilib.testing.plugins` the executable test plugins and their installer.
* Nothing here is imported by ``import cnilib``: the kit keeps its own namespace.
"""

from __future__ import annotations

from . import _fakes, plugins
from ._fakes import *  # noqa: F403
from .plugins import *  # noqa: F403

# The kit's names are its submodules' own, in their order: each list is kept where its names are.
__all__ = []
__all__ += _fakes.__all__
__all__ += plugins.__all__
