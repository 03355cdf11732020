"""Typed, frozen results of the three result families (SPEC.md, section "ADD Success").

Rules of this package:

* One module per family, as libcni's ``pkg/types/{020,040,100}``: :mod:`.v020` (0.1.0,
  0.2.0), :mod:`.v040` (0.3.0, 0.3.1, 0.4.0), :mod:`.v100` (1.0.0, 1.1.0); what they share is
  in :mod:`.common`.
* The family is chosen by the exact ``cniVersion`` string, as libcni's result creators do.
* Every result is frozen and has ``cni_version``, ``as_version(v)``, ``to_dict()`` and
  ``to_json()``. JSON decoding lives in :mod:`cnilib._results` and conversion in
  :mod:`cnilib.convert`; both are imported on first use, so this package stays below them.
* Unknown fields of a result are dropped when it is parsed, as libcni drops them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from .common import DNS as DNS
from .common import IPAddress as IPAddress
from .common import IPInterface as IPInterface
from .common import Route as Route
from .common import parse_cidr as parse_cidr
from .common import parse_ip as parse_ip
from .v020 import IPConfig020 as IPConfig020
from .v020 import Result020 as Result020
from .v040 import Interface040 as Interface040
from .v040 import IPConfig040 as IPConfig040
from .v040 import Result040 as Result040
from .v100 import Interface100 as Interface100
from .v100 import IPConfig100 as IPConfig100
from .v100 import Result100 as Result100

if TYPE_CHECKING:
    from cnilib._json import JSON

__all__ = [
    "Result",
    "parse_result",
    "Result020",
    "Result040",
    "Result100",
    "IPConfig020",
    "IPConfig040",
    "IPConfig100",
    "IPConfig",
    "Interface040",
    "Interface100",
    "Interface",
    "Route",
    "DNS",
    "IPAddress",
    "IPInterface",
    "parse_ip",
    "parse_cidr",
]

#: A result of any family.
Result: TypeAlias = Result020 | Result040 | Result100

#: The interface type of the newest family (1.0.0/1.1.0).
Interface = Interface100
#: The IP configuration type of the newest family (1.0.0/1.1.0).
IPConfig = IPConfig100


@functools.cache
def _parser() -> Callable[[bytes | str | JSON, str | None], Result]:
    # _codec sits above this package (it imports the classes); bound on first use, once.
    from cnilib._results.decode import parse_result as parse

    return parse


def parse_result(data: bytes | str | JSON, version: str | None = None) -> Result:
    """Decode a plugin's ADD result into the typed result of its family (SPEC.md, Section 5: Result
    Types).

    The family is chosen by the body's ``cniVersion``. A body without one (or with ``""``,
    ``null`` or a value that is not a string) is taken to be in ``version``, which a runtime
    sets to the configuration's version (libcni ``fixupResultVersion``,
    containernetworking/cni#895); ``null`` is an empty result. A ``null`` field is the same
    as an absent one, as in Go. This is the one rule, wherever cnilib reads a result (a
    plugin's reply, a cached result, a plugin's ``prevResult``).

    Args:
        data: UTF-8 JSON bytes, JSON text, or an already-decoded JSON value.
        version: The version assumed when the body has none; ``None`` or ``""`` mean 0.1.0.

    Returns:
        A :class:`Result020`, :class:`Result040` or :class:`Result100`.

    Raises:
        ResultError: the input is not JSON, not an object, in a version cnilib does not know
            (``unsupported CNI result version "<v>"``, code 1), or a field is missing or
            malformed. The message names the JSON pointer of the first bad field; ``details``
            lists every one.
    """
    return _parser()(data, version)


def __dir__() -> list[str]:
    return list(__all__)
