"""Worst-case configuration files: a problem every few bytes, in the shapes that cost most.

Shared by ``tests/test_hostile.py`` and ``tests/benchmarks/bench_hostile.py`` (which also runs
against older versions of cnilib, so this module uses nothing but the standard library).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

__all__ = ["SHAPES", "at_size"]


def _bad_versions(n: int) -> dict[str, Any]:
    # One libcni problem per two bytes: "cniVersions": [1,1,1,...].
    return {"cniVersion": "1.0.0", "name": "x", "cniVersions": [1] * n,
            "plugins": [{"type": "bridge"}]}


def _bad_plugins(n: int) -> dict[str, Any]:
    # One libcni problem per plugin, each at the end of a long array of siblings.
    return {"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": 1}] * n}


def _bad_nameservers(n: int) -> dict[str, Any]:
    # A valid list (for libcni) with one schema warning per array entry.
    return {"cniVersion": "1.0.0", "name": "x",
            "plugins": [{"type": "bridge", "dns": {"nameservers": ["x"] * n}}]}


def _bad_ipam(n: int) -> dict[str, Any]:
    # One schema error per plugin, two levels down.
    return {"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "bridge",
                                                              "ipam": {"type": ""}}] * n}


def _deep(n: int) -> dict[str, Any]:
    # Problems next to values nested close to the depth cap, which the locator must skip.
    nested: Any = 1
    for _ in range(60):
        nested = [nested]
    return {"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": 1, "args": nested}] * n}


def _unknown_keys(n: int) -> dict[str, Any]:
    # One object with many members, each an unknown key (one schema warning each).
    return {"cniVersion": "1.0.0", "name": "x",
            "plugins": [{"type": "bridge", "dns": {f"k{i}": 0 for i in range(n)}}]}


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "versions": _bad_versions, "plugins": _bad_plugins, "nameservers": _bad_nameservers,
    "ipam": _bad_ipam, "deep": _deep, "members": _unknown_keys,
}


@functools.cache
def at_size(shape: Callable[[int], dict[str, Any]], size: int, *, indent: int | None = None
            ) -> bytes:
    """The largest document of ``shape`` not over ``size`` bytes."""
    def make(n: int) -> bytes:
        return json.dumps(shape(n), indent=indent).encode()

    lo, hi = 1, 2
    while len(make(hi)) <= size:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(make(mid)) <= size else (lo, mid)
    return make(lo)
