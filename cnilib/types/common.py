"""What every result family shares: IP values, routes, DNS (SPEC.md, section "ADD Success").

Rules of this file:

* Values are frozen attrs classes; a value that breaks a rule of SPEC.md, Section 5: Result Types
  cannot be built (constructors raise :class:`~cnilib.errors.ResultError`, a ``ValueError``).
* Addresses are :mod:`ipaddress` values. An address with a prefix is an ``IPv4Interface`` or
  ``IPv6Interface``, so the host bits written by the plugin are kept, as Go's
  ``types.ParseCIDR`` keeps them (``pkg/types/types.go``); ``.network`` gives the network.
* Text is parsed as strictly as Go's ``net.ParseCIDR`` / ``net.ParseIP``: ``a.b.c.d/n`` with a
  decimal prefix, no zone, no netmask form. Parsed texts are memoised (bounded), since the
  same gateways and routes recur in every result of a network. The commonest text, a
  canonical ``a.b.c.d/n``, is read by one regular expression and built without the
  :mod:`ipaddress` constructors (which cost some 20 µs an address, 6 s for the 300,000
  addresses a result may hold within the output cap; G18 (docs/guarantees.md)): the same
  value, shared networks.
* It knows no JSON: field names on the wire are declared on the fields (``Annotated``
  overrides) and read by :mod:`cnilib._results`, the only place JSON meets these classes.
* It is some 470 lines, over the 400 the package aims at: the address parsing, the two
  values and the constructor helpers that all three families use, and the methods every
  result has; a third is docstrings. Each family module imports it whole.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    ip_address,
)
from types import MemberDescriptorType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias, TypeVar, cast, overload

import attrs
from cattrs import AttributeValidationNote

from cnilib.errors import ResultError

if TYPE_CHECKING:
    from cnilib._json import JSONObject

    from . import Result
    from .v020 import Result020
    from .v040 import Result040
    from .v100 import Result100

__all__ = [
    "IPAddress",
    "IPInterface",
    "parse_ip",
    "parse_cidr",
    "Route",
    "DNS",
    "ResultMethods",
    # Constructor helpers shared by the family modules (not re-exported by cnilib.types).
    "to_cidr",
    "to_ip",
    "to_tuple",
    "to_strings",
    "to_routes",
    "uint",
    "version_in",
    "field_error",
    "unchecked",
]

#: An IP address (a gateway, a next hop).
IPAddress: TypeAlias = IPv4Address | IPv6Address
#: An IP address with its prefix length, host bits kept (``10.1.0.5/16``).
IPInterface: TypeAlias = IPv4Interface | IPv6Interface

#: Largest integer a Go ``int`` holds; libcni refuses bigger JSON numbers.
_INT_MAX = 2**63 - 1

_T = TypeVar("_T")
_A = TypeVar("_A")
_I = TypeVar("_I", int, int | None)


@functools.lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IPAddress:
    # Zones ("fe80::1%eth0") are not IP addresses to Go's ParseIP, nor to the spec.
    if "%" not in text:
        try:
            return ip_address(text)
        except ValueError:
            pass
    msg = f"invalid IP address: {text}"
    raise ResultError(msg)


_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# What ip_address and the prefix rule below accept, in canonical form only (no leading zero).
_V4_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(3[0-2]|[12][0-9]|[0-9])\Z")
_V4_MASKS = tuple((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF for bits in range(33))
_new = object.__new__


@functools.lru_cache(maxsize=1024)
def _network4(network: int, bits: int) -> IPv4Network:
    return IPv4Network((network, bits))


def _interface4_public(ip: int, bits: int) -> IPv4Interface:
    # The documented way, which checks and rebuilds what the caller has already checked.
    return IPv4Interface((ip, bits))


def _interface4_direct(ip: int, bits: int) -> IPv4Interface:
    # IPv4Interface((ip, bits)), minus the validation the caller has done and the network it
    # would rebuild: the attributes its __init__ sets, set directly. 0.22 against 1.9 µs of
    # CPU per new address, and half the parse of a result of 100,000 distinct IPv4 addresses
    # (342 against 682 ms; tests/benchmarks/bench_ipaddress.py). Used only while
    # _direct_matches() holds; tests/test_types.py checks both paths.
    network = _network4(ip & _V4_MASKS[bits], bits)
    interface = _new(IPv4Interface)
    interface._ip = ip  # type: ignore[attr-defined]
    interface.network = network
    interface.netmask = network.netmask
    interface._prefixlen = bits  # type: ignore[attr-defined]
    return interface


def _direct_matches() -> bool:
    """Whether :func:`_interface4_direct` builds what the constructor builds on this Python.

    The attributes it sets are not documented: checked once at import against the
    constructor (the same attributes with equal values, equal, same hash and text) on a few
    interfaces; any difference, or any error, selects the constructor instead.
    """
    try:
        for ip, bits in ((0x0A000002, 24), (0xC0A80101, 32), (0, 0), (0xFFFFFFFF, 31)):
            fast, public = _interface4_direct(ip, bits), _interface4_public(ip, bits)
            if not (vars(fast) == vars(public) and int(fast) == int(public)
                    and fast == public and hash(fast) == hash(public)
                    and str(fast) == str(public) and fast.hostmask == public.hostmask):
                return False
    except Exception:  # any surprise: the constructor
        return False
    return True


_interface4: Final[Callable[[int, int], IPv4Interface]] = (
    _interface4_direct if _direct_matches() else _interface4_public)


@functools.lru_cache(maxsize=4096)
def _parse_cidr(text: str) -> IPInterface:
    fast = _V4_CIDR.match(text)
    if fast is not None:
        a, b, c, d, bits = fast.groups()
        return _interface4((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d), int(bits))
    addr, sep, prefix = text.partition("/")
    # Go's ParseCIDR: a decimal prefix length; no netmask ("/255.255.0.0") or hostmask form.
    if sep and prefix.isascii() and prefix.isdigit() and len(prefix) <= 3 and "%" not in addr:
        try:
            ip = ip_address(addr)
        except ValueError:
            pass
        else:
            bits = int(prefix)
            if bits <= ip.max_prefixlen:
                if isinstance(ip, IPv4Address):
                    return IPv4Interface((int(ip), bits))
                return IPv6Interface((int(ip), bits))
    msg = f"invalid CIDR address: {text}"
    raise ResultError(msg)


def parse_ip(text: str) -> IPAddress:
    """Parse an IP address as Go's ``net.ParseIP`` does (``"10.1.0.1"``, ``"2001:db8::1"``).

    Args:
        text: The address.

    Returns:
        An ``IPv4Address`` or ``IPv6Address``.

    Raises:
        ResultError: not a string, or not an address (``invalid IP address: <text>``).
    """
    if type(text) is not str:
        from cnilib._json import json_type

        msg = f"invalid IP address: expected a string, got {json_type(text)}"
        raise ResultError(msg)
    return _parse_ip(text)


def parse_cidr(text: str) -> IPInterface:
    """Parse ``address/prefix`` as Go's ``types.ParseCIDR`` does, keeping the host bits.

    Args:
        text: The address in CIDR notation (``"10.1.0.5/16"``).

    Returns:
        An ``IPv4Interface`` or ``IPv6Interface`` (``.ip`` is the address, ``.network`` the
        network).

    Raises:
        ResultError: not a string, or not CIDR (``invalid CIDR address: <text>``).
    """
    if type(text) is not str:
        from cnilib._json import json_type

        msg = f"invalid CIDR address: expected a string, got {json_type(text)}"
        raise ResultError(msg)
    return _parse_cidr(text)


def _not_ip(value: object, v6type: type, what: str) -> ResultError:
    # The error for a value to_cidr or to_ip cannot take: a scoped IPv6 value (a zone), or
    # something that is neither the ipaddress type nor a string.
    if type(value) is v6type:
        return ResultError(f"invalid IP address: {value} (zones are not allowed)")
    name = "ip_interface" if v6type is IPv6Interface else "ip_address"
    return ResultError(f"invalid {what}: expected a string or {name}, got {type(value).__name__}")


def to_cidr(value: str | IPInterface) -> IPInterface:
    """attrs converter: an interface value as is, a string through :func:`parse_cidr`."""
    # Exact type tests first: this runs for every address of every result built.
    if type(value) is IPv4Interface or (type(value) is IPv6Interface and value.scope_id is None):
        return value
    if isinstance(value, str):
        return parse_cidr(value)
    raise _not_ip(value, IPv6Interface, "CIDR address")


def to_ip(value: str | IPAddress | None) -> IPAddress | None:
    """attrs converter: an address as is, ``None`` or ``""`` as no address, else parsed.

    An empty string means "no address" because Go decodes ``"gateway": ""`` to a nil IP.
    """
    if value is None or type(value) is IPv4Address or (type(value) is IPv6Address
                                                       and value.scope_id is None):
        return value
    if isinstance(value, str):
        return None if value == "" else parse_ip(value)
    raise _not_ip(value, IPv6Address, "IP address")


def to_tuple(value: Iterable[_T]) -> tuple[_T, ...]:
    """Any iterable but text as a tuple, so that a frozen value holds no list."""
    if type(value) is tuple:
        return cast("tuple[_T, ...]", value)
    if isinstance(value, str | bytes):
        msg = f"expected a sequence, got {type(value).__name__}"
        raise ResultError(msg)
    return tuple(value)


# attrs converters, one per element type: mypy's attrs plugin types __init__ from them.


def to_strings(value: Iterable[str]) -> tuple[str, ...]:
    """attrs converter: a sequence of strings as a tuple."""
    return value if type(value) is tuple else to_tuple(value)


def to_routes(value: Iterable[Route]) -> tuple[Route, ...]:
    """attrs converter: a sequence of routes as a tuple."""
    return value if type(value) is tuple else to_tuple(value)


def field_error(attribute: attrs.Attribute[_A], message: str) -> ResultError:
    """A :class:`ResultError` about one field, noted for :mod:`cnilib._results.codec` to locate.

    The note is cattrs' own ``AttributeValidationNote``, the same mark cattrs puts on errors
    it meets while structuring a field.
    """
    err = ResultError(f"{attribute.name}: {message}")
    err.add_note(AttributeValidationNote(message, attribute.name, attribute.type))
    return err


def uint(_instance: object, attribute: attrs.Attribute[_I], value: _I) -> None:
    """attrs validator: SPEC.md, Section 5: Result Types says ``uint``; ``None`` passes (an optional
    field)."""
    if value is None:
        return
    if type(value) is not int:
        from cnilib._json import json_type

        raise field_error(attribute, f"expected an integer, got {json_type(value)}")
    if value < 0:
        raise field_error(attribute, f"must not be negative, got {value}")
    if value > _INT_MAX:
        raise field_error(attribute, f"number {value} out of range for an integer")


@attrs.frozen(kw_only=True)
class Route:
    """A route created by the attachment (SPEC.md, Section 5: Result Types ``routes``).

    Every family decodes the whole route; 0.1.0/0.2.0 results keep only ``dst`` and ``gw``
    when converted down to them (libcni's ``convertTo02x``).

    Attributes:
        dst: The destination, host bits kept as written (``.network`` for the network).
        gw: The next hop, or ``None`` (SPEC: "a value in gateway in the ips array may be used").
        mtu: Path MTU; 0 means unset and is not written.
        advmss: MSS to advertise; 0 means unset and is not written.
        priority: Route priority, lower is higher; 0 means unset and is not written.
        table: Routing table, or ``None``; an explicit 0 is kept and written.
        scope: Route scope (0 global, 253 link, 254 host), or ``None``; 0 is kept and written.
    """

    dst: IPInterface = attrs.field(converter=to_cidr)
    gw: IPAddress | None = attrs.field(default=None, converter=to_ip)
    mtu: int = 0
    advmss: int = 0
    priority: int = 0
    table: int | None = None
    scope: int | None = None

    def __attrs_post_init__(self) -> None:
        # One cheap test for the common route (no extras) instead of five validator calls.
        if ((self.mtu, self.advmss, self.priority, self.table, self.scope) != (0, 0, 0, None, None)
                or type(self.mtu) is not int or type(self.advmss) is not int
                or type(self.priority) is not int):
            for attribute in _ROUTE_UINTS:
                uint(self, attribute, getattr(self, attribute.name))

    @property
    def is_basic(self) -> bool:
        """True when the route has only ``dst`` and ``gw``: what 0.1.0/0.2.0 can express."""
        return (not (self.mtu or self.advmss or self.priority)
                and self.table is None and self.scope is None)


_ROUTE_UINTS: tuple[attrs.Attribute[Any], ...] = tuple(
    a for a in attrs.fields(Route) if a.name in ("mtu", "advmss", "priority", "table", "scope")
)


@attrs.frozen(kw_only=True)
class DNS:
    """DNS settings (SPEC.md, Section 5: Result Types ``dns``); the strings are kept as written, as
    libcni does.

    Attributes:
        nameservers: Name servers in priority order (IPv4 or IPv6 addresses, as text).
        domain: The local domain for short names.
        search: Search domains in priority order.
        options: Resolver options.
    """

    nameservers: tuple[str, ...] = attrs.field(default=(), converter=to_strings)
    domain: str = ""
    search: tuple[str, ...] = attrs.field(default=(), converter=to_strings)
    options: tuple[str, ...] = attrs.field(default=(), converter=to_strings)

    @property
    def is_empty(self) -> bool:
        """True when nothing is set (1.0.0 results then leave ``dns`` out)."""
        return not (self.nameservers or self.domain or self.search or self.options)


def version_in(versions: tuple[str, ...]) -> Callable[[object, attrs.Attribute[str], str], None]:
    """attrs validator: ``cni_version`` must be one of the family's versions (exact string)."""

    def check(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in versions:
            message = f"version {value!r} is not one of {', '.join(versions)}"
            raise field_error(attribute, message)

    return check


def unchecked(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor of ``cls`` that runs no converter and no validator: the one
    way cnilib builds a value without them (docs/design.md, "Values, errors and names").

    For values whose fields are already what the attrs constructor would store: fields of
    another checked value (:mod:`cnilib.convert`), or JSON that :mod:`cnilib._results.decode` has
    checked field by field. It takes every field, in attrs order, and stores them in their
    slots (then runs ``__attrs_post_init__``, if any), so the instance is indistinguishable
    from a checked one; checking again would only repeat work.

    Args:
        cls: A frozen, slotted attrs class.

    Returns:
        ``make(field1, field2, ...) -> cls``.
    """
    names = [a.name for a in attrs.fields(cast("type[attrs.AttrsInstance]", cls))]
    # Generated once per class, as attrs generates its own __init__: one call per field, no
    # loop. A slot's own setter costs half of object.__setattr__ (what attrs calls), which
    # looks the name up first. The source holds attrs field names only, never data.
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    self = _new(_cls)"]
    for i, name in enumerate(names):
        slot = getattr(cls, name, None)
        if isinstance(slot, MemberDescriptorType):
            namespace[f"_s{i}"] = slot.__set__
            lines.append(f"    _s{i}(self, {name})")
        else:  # not a slot (a dict class): the general way
            namespace["_set"] = object.__setattr__
            lines.append(f"    _set(self, {name!r}, {name})")
    if hasattr(cls, "__attrs_post_init__"):
        lines.append("    self.__attrs_post_init__()")
    lines.append("    return self")
    exec(compile("\n".join(lines), f"<cnilib unchecked {cls.__name__}>", "exec"), namespace)
    make: Callable[..., _T] = namespace["make"]
    return make


# The layers above (convert, _codec) are imported on first use, once: `import cnilib.types`
# stays light, and a per-call import statement would cost more than a conversion step.
# (Typed to take any result-like self: a typing.cast per call would cost a call.)
@functools.cache
def _convert() -> Callable[..., Result]:
    from cnilib.convert import convert

    return convert


@functools.cache
def _to_dict() -> Callable[..., JSONObject]:
    from cnilib._results.encode import result_to_dict

    return result_to_dict


class ResultMethods:
    """What every result has, whatever its family: conversion and JSON output."""

    __slots__ = ()

    #: The family (``"020"``, ``"040"`` or ``"100"``) and the exact versions it carries.
    family: ClassVar[str]
    versions: ClassVar[tuple[str, ...]]

    if TYPE_CHECKING:
        cni_version: str

    @overload
    def as_version(self, version: Literal["1.0.0", "1.1.0"]) -> Result100: ...
    @overload
    def as_version(self, version: Literal["0.3.0", "0.3.1", "0.4.0"]) -> Result040: ...
    @overload
    def as_version(self, version: Literal["", "0.1.0", "0.2.0"]) -> Result020: ...
    @overload
    def as_version(self, version: str) -> Result: ...

    def as_version(self, version: str) -> Result:
        """This result in another spec version (SPEC.md, Section 5: Result Types; libcni
        ``GetAsVersion``).

        ``""`` means 0.1.0. The same version returns this very result (it is frozen).

        This is also the typed way to narrow a result of any family to the one a program
        works with: given a literal version, type checkers know the family of the answer, so
        ``result.as_version("1.1.0")`` is a :class:`~cnilib.types.Result100` whatever the
        plugin answered (a version held in a ``str`` variable gives the union ``Result``).

        Args:
            version: The target version, one of :data:`cnilib.version.SUPPORTED_VERSIONS`.

        Returns:
            A result of the target version's family.

        Raises:
            ConversionError: an unknown target version, or a 0.1.0/0.2.0 target and no
                IPv4 or IPv6 address to keep (``cannot convert: no valid IP addresses``).
        """
        return _convert()(self, version)

    def to_dict(self) -> JSONObject:
        """The result as libcni writes it: its field names, its omission rules.

        0.1.0-0.4.0 always write ``dns`` (``{}`` when empty); 1.0.0/1.1.0 leave an empty
        ``dns`` out and sort keys, as libcni marshals them through a map
        (``pkg/types/100/types.go``).

        Returns:
            A fresh JSON object.
        """
        return _to_dict()(self)

    def to_json(self, indent: int | None = None) -> str:
        """The result as JSON text: compact, or indented (``indent=4`` is libcni's ``Print``).

        Args:
            indent: Spaces per level, or ``None`` for compact output.

        Returns:
            The JSON text, with no trailing newline.
        """
        from cnilib._json import dumps

        return dumps(self.to_dict(), indent=indent).decode("utf-8")
