"""The errors of the testing kit, in cnilib's one tree (docs/errors.md).

Rules of this file:

* Every class derives from :class:`cnilib.errors.CNIError`, so ``except CNIError`` still
  catches everything cnilib raises; they live here because the testing kit keeps its own
  namespace (``cnilib.testing``), as the plugin side does.
* A failing plugin is never an exception: the conformance checker reports it as a failing
  row. These errors mean the checker itself could not run.

The tree below :class:`~cnilib.errors.CNIError`::

    ConformanceError                 the checker cannot run (no ``ip``, plugin not in config)
    └── NotRootError (PermissionError)   not root: no scratch namespace can be made
"""

from __future__ import annotations

from cnilib.errors import CNIError

__all__ = ["ConformanceError", "NotRootError"]


class ConformanceError(CNIError):
    """The conformance checker could not run (not a verdict on the plugin)."""


class NotRootError(ConformanceError, PermissionError):
    """The checker needs root to make its scratch network namespace."""
