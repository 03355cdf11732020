"""Conversion of results between spec versions (SPEC.md "Result Types"; libcni's
converters in ``pkg/types/040/types.go`` and ``pkg/types/100/types.go``).

Rules of this file:

* The whole matrix is one literal table, :data:`_CONVERTERS`, keyed by (from family, to
  family); nothing registers itself at import (libcni's ``init()`` registration is not
  copied). Within a family only ``cni_version`` changes.
* The rules are libcni's, including what is lost going down: to 0.1.0/0.2.0 only the first
  ``version: "4"`` and first ``version: "6"`` address are kept, routes go to the family of
  their ``dst`` with only ``dst`` and ``gw``, interfaces are lost, and no address at all is
  the error ``cannot convert: no valid IP addresses``; to 0.3.x/0.4.0 ``ips[].version`` is
  computed from the address and ``mtu``/``socketPath``/``pciID`` are lost.
* Family decisions use the Python address family: an IPv4-mapped IPv6 address
  (``::ffff:a.b.c.d``) stays IPv6, where Go would re-read it as IPv4 (docs/versions.md).
* Results are frozen, so unchanged parts (routes, DNS) are shared, not copied, and new
  values are built from fields that were checked when the source was built, with the
  unchecked constructors of :func:`cnilib.types.common.unchecked` (same values, no second
  check). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from ipaddress import IPv4Interface
from types import MappingProxyType
from typing import Any, Final, Literal, overload

from .errors import ConversionError, IncompatibleVersionError
from .types import (
    DNS,
    Interface040,
    Interface100,
    IPConfig020,
    IPConfig040,
    IPConfig100,
    Result,
    Result020,
    Result040,
    Result100,
    Route,
)
from .types.common import unchecked
from .version import SUPPORTED_VERSIONS, result_family

__all__ = ["convert"]

# Positional, every field in attrs order (see the class definitions).
_result020: Final[Callable[[str, IPConfig020 | None, IPConfig020 | None, DNS], Result020]] = (
    unchecked(Result020))
_ipconfig020: Final[Callable[[Any, Any, tuple[Route, ...]], IPConfig020]] = unchecked(IPConfig020)
_result040: Final[Callable[[str, tuple[Interface040, ...], tuple[IPConfig040, ...],
                            tuple[Route, ...], DNS], Result040]] = unchecked(Result040)
_interface040: Final[Callable[[str, str, str], Interface040]] = unchecked(Interface040)
_ipconfig040: Final[Callable[[str, int | None, Any, Any], IPConfig040]] = unchecked(IPConfig040)
_result100: Final[Callable[[str, tuple[Interface100, ...], tuple[IPConfig100, ...],
                            tuple[Route, ...], DNS], Result100]] = unchecked(Result100)
_interface100: Final[Callable[[str, str, int, str, str, str], Interface100]] = (
    unchecked(Interface100))
_ipconfig100: Final[Callable[[int | None, Any, Any], IPConfig100]] = unchecked(IPConfig100)
_route: Final[Callable[..., Route]] = unchecked(Route)


def _020_to_020(result: Result020, to_version: str) -> Result020:
    # 0.1.0 <-> 0.2.0: the version changes, nothing else.
    return _result020(to_version, result.ip4, result.ip6, result.dns)


def _040_to_040(result: Result040, to_version: str) -> Result040:
    # 0.3.0 / 0.3.1 / 0.4.0: the version changes, nothing else.
    return _result040(to_version, result.interfaces, result.ips, result.routes, result.dns)


def _100_to_100(result: Result100, to_version: str) -> Result100:
    # 1.0.0 <-> 1.1.0: the version changes, nothing else.
    return _result100(to_version, result.interfaces, result.ips, result.routes, result.dns)


def _020_to_040(result: Result020, to_version: str) -> Result040:
    # ip4 becomes ips[0] (version "4"), ip6 the next entry (version "6"); routes are ip4's then
    # ip6's, every field kept; no interfaces and no interface index (libcni's
    # convertFrom02x).
    ips: list[IPConfig040] = []
    routes: list[Route] = []
    for family, conf in (("4", result.ip4), ("6", result.ip6)):
        if conf is not None:
            ips.append(_ipconfig040(family, None, conf.ip, conf.gateway))
            routes.extend(conf.routes)
    return _result040(to_version, (), tuple(ips), tuple(routes), result.dns)


def _020_to_100(result: Result020, to_version: str) -> Result100:
    # libcni goes through 0.4.0 (020 -> 040 above, then 040 -> 100 below); done in one step
    # here, with the same outcome: the "version" that 0.4.0 would add is dropped again.
    ips: list[IPConfig100] = []
    routes: list[Route] = []
    for conf in (result.ip4, result.ip6):
        if conf is not None:
            ips.append(_ipconfig100(None, conf.ip, conf.gateway))
            routes.extend(conf.routes)
    return _result100(to_version, (), tuple(ips), tuple(routes), result.dns)


def _to_020(result: Result040 | Result100, ip4: IPConfig040 | IPConfig100 | None,
            ip6: IPConfig040 | IPConfig100 | None, to_version: str) -> Result020:
    # What 0.1.0/0.2.0 keep of the chosen addresses and of the routes (libcni's
    # convertTo02x).
    if ip4 is None and ip6 is None:
        # 0.1.0/0.2.0 results must carry an address; libcni's exact message.
        msg = "cannot convert: no valid IP addresses"
        raise ConversionError(msg, details=f"from {result.cni_version} to {to_version}")
    routes4: list[Route] = []
    routes6: list[Route] = []
    for route in result.routes:
        # Routes go to the family of their dst, with dst and gw only; a family without an
        # address loses its routes.
        if type(route.dst) is IPv4Interface:
            if ip4 is None:
                continue
            kept = routes4
        else:
            if ip6 is None:
                continue
            kept = routes6
        # Route.is_basic, inlined: this runs for every route of every conversion down.
        basic = not (route.mtu or route.advmss or route.priority or route.table is not None
                     or route.scope is not None)
        kept.append(route if basic else _route(route.dst, route.gw, 0, 0, 0, None, None))
    return _result020(
        to_version,
        None if ip4 is None else _ipconfig020(ip4.address, ip4.gateway, tuple(routes4)),
        None if ip6 is None else _ipconfig020(ip6.address, ip6.gateway, tuple(routes6)),
        result.dns,
    )


def _040_to_020(result: Result040, to_version: str) -> Result020:
    # Only the first version "4" and the first version "6" address survive; entries with any
    # other version (even none) are skipped. Interfaces are lost.
    ip4: IPConfig040 | None = None
    ip6: IPConfig040 | None = None
    for ip in result.ips:
        if ip.version == "4" and ip4 is None:
            ip4 = ip
        elif ip.version == "6" and ip6 is None:
            ip6 = ip
        if ip4 is not None and ip6 is not None:
            break
    return _to_020(result, ip4, ip6, to_version)


def _100_to_020(result: Result100, to_version: str) -> Result020:
    # libcni goes through 0.4.0, whose "version" is the address family; so: the first IPv4
    # and the first IPv6 address survive. Same outcome, one step.
    ip4: IPConfig100 | None = None
    ip6: IPConfig100 | None = None
    for ip in result.ips:
        if type(ip.address) is IPv4Interface:
            if ip4 is None:
                ip4 = ip
        elif ip6 is None:
            ip6 = ip
        if ip4 is not None and ip6 is not None:
            break
    return _to_020(result, ip4, ip6, to_version)


def _040_to_100(result: Result040, to_version: str) -> Result100:
    # ips[].version is dropped; interfaces keep name, mac, sandbox.
    return _result100(
        to_version,
        tuple([_interface100(i.name, i.mac, 0, i.sandbox, "", "") for i in result.interfaces]),
        tuple([_ipconfig100(ip.interface, ip.address, ip.gateway) for ip in result.ips]),
        result.routes,
        result.dns,
    )


def _100_to_040(result: Result100, to_version: str) -> Result040:
    # ips[].version is computed from the address; interfaces lose mtu, socketPath, pciID.
    return _result040(
        to_version,
        tuple([_interface040(i.name, i.mac, i.sandbox) for i in result.interfaces]),
        tuple([_ipconfig040("4" if type(ip.address) is IPv4Interface else "6", ip.interface,
                            ip.address, ip.gateway) for ip in result.ips]),
        result.routes,
        result.dns,
    )


#: SPEC.md, Section 5: Result Types conversion, every pair of families; the whole matrix on one
#: screen.
_CONVERTERS: Final[Mapping[tuple[str, str], Callable[[Any, str], Result]]] = MappingProxyType({
    ("020", "020"): _020_to_020,
    ("020", "040"): _020_to_040,
    ("020", "100"): _020_to_100,
    ("040", "020"): _040_to_020,
    ("040", "040"): _040_to_040,
    ("040", "100"): _040_to_100,
    ("100", "020"): _100_to_020,
    ("100", "040"): _100_to_040,
    ("100", "100"): _100_to_100,
})
# The same table by (from family, exact target version), derived once: the conversion a
# result asks for is then one lookup.
_BY_TARGET: Final[dict[tuple[str, str], Callable[[Any, str], Result]]] = {
    (family, version): _CONVERTERS[family, result_family(version)]
    for family in ("020", "040", "100") for version in SUPPORTED_VERSIONS
}
_RESULT_TYPES: Final = (Result020, Result040, Result100)


@overload
def convert(result: Result, to_version: Literal["1.0.0", "1.1.0"]) -> Result100: ...
@overload
def convert(result: Result, to_version: Literal["0.3.0", "0.3.1", "0.4.0"]) -> Result040: ...
@overload
def convert(result: Result, to_version: Literal["", "0.1.0", "0.2.0"]) -> Result020: ...
@overload
def convert(result: Result, to_version: str) -> Result: ...


def convert(result: Result, to_version: str) -> Result:
    """``result`` in the spec version ``to_version`` (SPEC.md, Section 5: Result Types; libcni
    ``Convert``).

    ``""`` means 0.1.0. The same version returns ``result`` itself (it is frozen). Versions
    are matched by exact string, as libcni does: ``"1.0"`` is not a version to convert to.
    A literal ``to_version`` tells type checkers the family of the answer (``"1.1.0"`` gives
    a :class:`~cnilib.types.Result100`), as :meth:`~cnilib.types.common.ResultMethods.as_version`
    does.

    Args:
        result: A result of any family.
        to_version: One of :data:`cnilib.version.SUPPORTED_VERSIONS`, or ``""``.

    Returns:
        A result of the target version's family, with ``cni_version == to_version``.

    Raises:
        ConversionError: the target version is unknown (``no converter for CNI result
            version <from> to <to>``), ``result`` is not a result, or the target is
            0.1.0/0.2.0 and there is no IPv4 or IPv6 address to keep (``cannot convert: no
            valid IP addresses``).
    """
    if not isinstance(result, _RESULT_TYPES):
        msg = f"cannot convert {type(result).__name__}: not a CNI result"
        raise ConversionError(msg)
    if not isinstance(to_version, str):
        msg = f"cannot convert to version {to_version!r}: versions are strings"
        raise ConversionError(msg)
    to = to_version or "0.1.0"
    if result.cni_version == to:
        return result
    convert_to = _BY_TARGET.get((result.family, to)) if type(to) is str else None
    if convert_to is None:
        try:
            target = result_family(to)
        except IncompatibleVersionError as err:
            msg = f"no converter for CNI result version {result.cni_version} to {to}"
            raise ConversionError(msg) from err
        convert_to = _CONVERTERS[result.family, target]
    return convert_to(result, to)
