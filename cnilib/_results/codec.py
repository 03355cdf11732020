"""The one cattrs Converter of cnilib: where JSON values meet attrs classes.

Rules of this file:

* There is one :data:`converter`, configured once at import; nothing reconfigures it per call.
  JSON field names come from the ``Annotated[..., override(rename=...)]`` declared on the
  fields; to-JSON omits a field equal to its default (Go's ``omitempty``) unless the field
  says ``omit_if_default=False``.
* Structuring is strict about JSON types: a string is never made from a number, an integer
  never from a float or a boolean, an array never from a string (cattrs' defaults would).
  ``null`` inside an object is the same as the key being absent, as Go decodes it.
* Every failure leaves as :class:`~cnilib.errors.ResultError` naming the JSON pointer of the
  bad field; cattrs' exceptions (and any ``KeyError``/``TypeError`` under them) never escape.
* Results are decoded first by a hand-written fast path (a few functions per family, building
  values with :func:`~cnilib.types.common.unchecked` constructors): it accepts only what the
  converter accepts, builds the same values, and hands anything unusual (any failure
  included) to the converter, which decides and locates. ``tests/test_fast_paths.py``
  checks the two agree.
* It is pure: no I/O.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from itertools import repeat
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from cnilib._json import JSON, JSONObject, json_type, loads
from cnilib.errors import CNIError, ErrorCode, InvalidJSONError, Problem, ResultError
from cnilib.types.common import (
    DNS,
    IPAddress,
    IPInterface,
    Route,
    _parse_cidr,
    _parse_ip,
    unchecked,
)
from cnilib.types.v020 import IPConfig020, Result020
from cnilib.types.v040 import Interface040, IPConfig040, Result040
from cnilib.types.v100 import Interface100, IPConfig100, Result100

__all__ = [
    "converter",
    "parse_result",
    "result_to_dict",
    "structure",
    "problems_of",
    "RESULT_CLASSES",
]

_T = TypeVar("_T")

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1

#: Result class by the exact ``cniVersion`` string (libcni's creators,
#: ``pkg/types/create/create.go``).
RESULT_CLASSES: Final[dict[str, type[Result020 | Result040 | Result100]]] = {
    "0.1.0": Result020,
    "0.2.0": Result020,
    "0.3.0": Result040,
    "0.3.1": Result040,
    "0.4.0": Result040,
    "1.0.0": Result100,
    "1.1.0": Result100,
}

#: The converter. Other modules may register hooks for their own classes at their import.
converter: Final = cattrs.Converter(
    detailed_validation=True,
    omit_if_default=True,
    unstruct_collection_overrides={Sequence: list},
)


def _expected(what: str, value: object) -> ResultError:
    return ResultError(f"expected {what}, got {json_type(value)}")


# --- strict primitives -----------------------------------------------------------------------


def _structure_str(value: object, _type: object) -> str:
    if type(value) is str:
        return value
    raise _expected("a string", value)


def _structure_int(value: object, _type: object) -> int:
    # A Go int: integral JSON number in int64 range ("1.0" and booleans are refused, as Go does).
    if type(value) is int and _INT_MIN <= value <= _INT_MAX:
        return value
    if type(value) is int:
        msg = f"number {value} out of range for an integer"
        raise ResultError(msg)
    raise _expected("an integer", value)


def _structure_bool(value: object, _type: object) -> bool:
    if type(value) is bool:
        return value
    raise _expected("a boolean", value)


def _structure_cidr(value: object, _type: object) -> IPInterface:
    if type(value) is str:
        return _parse_cidr(value)
    raise _expected("a string in CIDR notation", value)


def _structure_ip_or_none(value: object, _type: object) -> IPAddress | None:
    # Go decodes "" (and null) into a nil net.IP: no address.
    if value is None or value == "":
        return None
    if type(value) is str:
        return _parse_ip(value)
    raise _expected("a string with an IP address", value)


def _is_homogeneous_tuple(t: Any) -> bool:
    args = typing.get_args(t)
    return typing.get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_factory(t: Any) -> Callable[[object, object], tuple[Any, ...]]:
    elem_type = typing.get_args(t)[0]
    elem = converter.get_structure_hook(elem_type)

    def structure_tuple(value: object, _type: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _expected("an array", value)
        try:
            return tuple(map(elem, value, repeat(elem_type, len(value))))
        except Exception:  # redone below, item by item, to locate every error
            pass
        errors: list[Exception] = []
        for i, v in enumerate(value):
            try:
                elem(v, elem_type)
            except Exception as err:  # collected and raised as one group
                err.add_note(IterableValidationNote(f"Structuring item @ index {i}", i,
                                                    elem_type))
                errors.append(err)
        raise IterableValidationError("While structuring an array", errors, t)

    return structure_tuple


def _object_hook(cl: type[_T]) -> Callable[[object, object], _T]:
    inner = make_dict_structure_fn(cl, converter)

    def structure_object(value: object, _type: object) -> _T:
        if not isinstance(value, dict):
            raise _expected("an object", value)
        if None in value.values():
            # Go leaves a field at its zero value for null: the same as an absent key.
            value = {k: v for k, v in value.items() if v is not None}
        return inner(value, cl)

    return structure_object


@functools.lru_cache(maxsize=1024)
def _interned_route(dst: str, gw: str) -> Route:
    return Route(dst=dst, gw=gw)


_EMPTY_DNS: Final = DNS()


def _route_hook(general: Callable[[object, object], Route]) -> Callable[[object, object], Route]:
    # Every attachment of a network gets the same routes, so routes with only dst and gw are
    # interned (bounded); values are frozen, so sharing them is safe. Anything else, or
    # anything invalid, takes the general path, which locates errors.
    def structure_route(value: object, t: object) -> Route:
        if type(value) is dict and 0 < len(value) <= 2:
            dst = value.get("dst")
            gw = value.get("gw", "")
            if (type(dst) is str and type(gw) is str
                    and len(value) == (2 if "gw" in value else 1)):
                try:
                    return _interned_route(dst, gw)
                except ResultError:
                    pass
        return general(value, t)

    return structure_route


def _dns_hook(general: Callable[[object, object], DNS]) -> Callable[[object, object], DNS]:
    # Most results carry "dns": {}; one shared empty value.
    def structure_dns(value: object, t: object) -> DNS:
        if type(value) is dict and not value:
            return _EMPTY_DNS
        return general(value, t)

    return structure_dns


def _ip_text(value: IPAddress | IPInterface) -> str:
    if type(value) is IPv4Interface:
        # str() of the commonest value, without ipaddress' generic formatting (5x slower).
        ip: int = value._ip  # type: ignore[attr-defined]
        return f"{ip >> 24}.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}/{value._prefixlen}"  # type: ignore[attr-defined]
    return str(value)


def _unstructure_ipconfig100(value: IPConfig100) -> JSONObject:
    # What the generated hook writes (None fields omitted), without its per-field dispatch on
    # the address's union type: a large result holds hundreds of thousands of these.
    out: JSONObject = {"address": _ip_text(value.address)}
    if value.gateway is not None:
        out["gateway"] = _ip_text(value.gateway)
    if value.interface is not None:
        out["interface"] = value.interface
    return out


def _ordered_unstructure(cl: type[_T]) -> Callable[[_T], JSONObject]:
    inner = make_dict_unstructure_fn(cl, converter, _cattrs_omit_if_default=True)
    order = tuple(_json_key(cl, a.name) for a in attrs.fields(cl))  # type: ignore[arg-type]

    def unstructure_ordered(value: _T) -> JSONObject:
        out = inner(value)
        return {k: out[k] for k in order if k in out}

    return unstructure_ordered


def _configure() -> None:
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_func(lambda t: t == IPInterface, _structure_cidr)
    converter.register_structure_hook_func(lambda t: t == (IPAddress | None),
                                           _structure_ip_or_none)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_factory)
    for ip_type in (IPv4Address, IPv6Address, IPv4Interface, IPv6Interface):
        converter.register_unstructure_hook(ip_type, _ip_text)
    # Leaves first: an object hook looks its fields' hooks up when it is generated.
    converter.register_structure_hook(DNS, _dns_hook(_object_hook(DNS)))
    converter.register_structure_hook(Route, _route_hook(_object_hook(Route)))
    for cl in (IPConfig020, Result020, Interface040, IPConfig040, Result040,
               Interface100, IPConfig100, Result100):
        converter.register_structure_hook(cl, _object_hook(cl))
    # cattrs writes always-present fields first; these classes have one that libcni writes
    # later, so put the keys back in libcni's struct order (the attrs field order).
    for cl in (Result020, IPConfig040, Result040):
        converter.register_unstructure_hook(cl, _ordered_unstructure(cl))
    converter.register_unstructure_hook(IPConfig100, _unstructure_ipconfig100)


# --- locating errors -------------------------------------------------------------------------


@functools.cache
def _json_key(cl: type, name: str) -> str:
    # The wire name of attribute `name` of `cl`: its declared rename, else the name itself.
    try:
        hints = typing.get_type_hints(cl, include_extras=True)
    except Exception:  # an unresolvable class keeps the attribute name
        return name
    for meta in getattr(hints.get(name), "__metadata__", ()):
        rename = getattr(meta, "rename", None)  # cattrs' override(rename=...)
        if isinstance(rename, str) and rename:
            return rename
    return name


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _message(err: BaseException, name: str | None) -> str:
    if isinstance(err, KeyError):
        return "required field is missing"
    if isinstance(err, CNIError):
        msg = err.msg
        if name is not None and msg.startswith(f"{name}: "):
            msg = msg[len(name) + 2:]
        return msg
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return f"invalid value ({type(err).__name__}: {err})"


def _walk(err: BaseException, path: tuple[str, ...], name: str | None,
          out: list[Problem]) -> None:
    if isinstance(err, ClassValidationError):
        with_notes, without = err.group_exceptions()
        for sub, anote in with_notes:
            key = _json_key(err.cl, anote.name)
            _walk(sub, (*path, key), anote.name, out)
        for sub in without:
            _walk(sub, path, None, out)
    elif isinstance(err, IterableValidationError):
        items, rest = err.group_exceptions()
        for sub, inote in items:
            _walk(sub, (*path, str(inote.index)), None, out)
        for sub in rest:
            _walk(sub, path, None, out)
    else:
        pointer = "".join(f"/{_escape(p)}" for p in path)
        out.append(Problem(pointer, _message(err, name), rule="type"))


def problems_of(err: BaseException, prefix: str = "") -> tuple[Problem, ...]:
    """Every leaf failure in a cattrs error, as located :class:`~cnilib.errors.Problem` values.

    Args:
        err: What :func:`structure` (or the converter) raised.
        prefix: A JSON pointer to put in front of every problem's pointer.

    Returns:
        One problem per bad field, in field order, each with its JSON pointer.
    """
    out: list[Problem] = []
    _walk(err, (), None, out)
    if prefix:
        out = [Problem(prefix + p.pointer, p.message, rule=p.rule) for p in out]
    return tuple(out)


def _raise_located(err: BaseException, prefix: str) -> typing.NoReturn:
    problems = problems_of(err, prefix) or (Problem(prefix, _message(err, None)),)
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    msg = f"{first.message} (at {first.pointer or '/'}){more}"
    details = "\n".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
    raise ResultError(msg, details=details) from err


def structure(value: object, cl: type[_T], *, prefix: str = "") -> _T:
    """Build ``cl`` from decoded JSON with :data:`converter`, or raise a located error.

    Args:
        value: Decoded JSON.
        cl: An attrs class registered with :data:`converter`.
        prefix: JSON pointer of ``value`` inside its document, for messages.

    Returns:
        The structured value.

    Raises:
        ResultError: naming the pointer of the first bad field; ``details`` lists every one.
    """
    try:
        return converter.structure(value, cl)
    except Exception as err:  # every failure leaves typed and located
        _raise_located(err, prefix)


# --- the fast path for results ----------------------------------------------------------------
# Each function below takes decoded JSON and either returns exactly what the converter would
# build from it, or raises _UnusualError (or lets a parser's ResultError out) so that the
# converter decides. So each accepts a subset of what the converter accepts: exact ``dict``,
# ``list``, ``str`` and ``int`` types, numbers in the range of the attrs validators
# (``uint``), and no nulls but where a null means the default anyway; and each builds with
# those checks done, hence with unchecked constructors. Arrays are walked in one function each
# (no call per element): a result is mostly its arrays.


class _UnusualError(Exception):
    """Not the common shape: the converter decides (and locates any error)."""


_result020: Final = unchecked(Result020)
_ipconfig020: Final = unchecked(IPConfig020)
_result040: Final = unchecked(Result040)
_interface040: Final = unchecked(Interface040)
_ipconfig040: Final = unchecked(IPConfig040)
_result100: Final = unchecked(Result100)
_interface100: Final = unchecked(Interface100)
_ipconfig100: Final = unchecked(IPConfig100)
_dns: Final = unchecked(DNS)


def _array(value: object) -> list[Any]:
    # An absent or null array is empty.
    if value is None:
        return []
    if type(value) is list:
        return value
    raise _UnusualError


def _index(item: dict[str, Any]) -> int | None:
    # ips[].interface: an optional uint.
    index = item.get("interface")
    if index is None or (type(index) is int and 0 <= index <= _INT_MAX):
        return index
    raise _UnusualError


def _gateway(value: object) -> IPAddress | None:
    # Go decodes "" (and null) into a nil net.IP: no address.
    if value is None or value == "":
        return None
    if type(value) is str:
        return _parse_ip(value)
    raise _UnusualError


def _cidr(value: object) -> IPInterface:
    if type(value) is str:
        return _parse_cidr(value)
    raise _UnusualError


def _fast_routes(value: object) -> tuple[Route, ...]:
    out = []
    for item in _array(value):
        # The usual {dst, gw} route, interned as the route hook does; any other shape
        # through the hook itself.
        if type(item) is dict and len(item) == 2:
            dst = item.get("dst")
            gw = item.get("gw")
            if type(dst) is str and type(gw) is str:
                out.append(_interned_route(dst, gw))
                continue
        out.append(_ROUTE(item, Route))
    return tuple(out)


def _strings(value: object) -> tuple[str, ...]:
    items = _array(value)
    for item in items:
        if type(item) is not str:
            raise _UnusualError
    return tuple(items)


def _fast_dns(value: object) -> DNS:
    if value is None:
        return _EMPTY_DNS
    if type(value) is not dict:
        raise _UnusualError
    if not value:
        return _EMPTY_DNS
    domain = value.get("domain", "")
    if type(domain) is not str:
        raise _UnusualError
    return _dns(_strings(value.get("nameservers")), domain, _strings(value.get("search")),
                _strings(value.get("options")))


def _fast_ip020(value: object) -> IPConfig020 | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _UnusualError
    return _ipconfig020(_cidr(value.get("ip")), _gateway(value.get("gateway")),
                        _fast_routes(value.get("routes")))


def _fast_interfaces040(value: object) -> tuple[Interface040, ...]:
    out = []
    for item in _array(value):
        if type(item) is not dict:
            raise _UnusualError
        name = item.get("name", "")
        mac = item.get("mac", "")
        sandbox = item.get("sandbox", "")
        if type(name) is not str or type(mac) is not str or type(sandbox) is not str:
            raise _UnusualError
        out.append(_interface040(name, mac, sandbox))
    return tuple(out)


def _fast_ips040(value: object) -> tuple[IPConfig040, ...]:
    out = []
    for item in _array(value):
        if type(item) is not dict:
            raise _UnusualError
        version = item.get("version", "")
        address = item.get("address")
        gateway = item.get("gateway")
        if type(version) is not str or type(address) is not str:
            raise _UnusualError
        out.append(_ipconfig040(version, _index(item), _parse_cidr(address),
                                None if gateway is None else _gateway(gateway)))
    return tuple(out)


def _fast_interfaces100(value: object) -> tuple[Interface100, ...]:
    out = []
    for item in _array(value):
        if type(item) is not dict:
            raise _UnusualError
        name = item.get("name", "")
        mac = item.get("mac", "")
        sandbox = item.get("sandbox", "")
        socket_path = item.get("socketPath", "")
        pci_id = item.get("pciID", "")
        mtu = item.get("mtu", 0)
        if (type(name) is not str or type(mac) is not str or type(sandbox) is not str
                or type(socket_path) is not str or type(pci_id) is not str
                or type(mtu) is not int or not 0 <= mtu <= _INT_MAX):
            raise _UnusualError
        out.append(_interface100(name, mac, mtu, sandbox, socket_path, pci_id))
    return tuple(out)


def _fast_ips100(value: object) -> tuple[IPConfig100, ...]:
    out = []
    for item in _array(value):
        if type(item) is not dict:
            raise _UnusualError
        index = item.get("interface")
        address = item.get("address")
        gateway = item.get("gateway")
        if (type(address) is not str
                or (index is not None and (type(index) is not int or not 0 <= index <= _INT_MAX))):
            raise _UnusualError
        out.append(_ipconfig100(index, _parse_cidr(address),
                                None if gateway is None else _gateway(gateway)))
    return tuple(out)


def _fast_result(body: dict[str, Any], version: str,
                 cl: type[Result020 | Result040 | Result100]) -> Result020 | Result040 | Result100:
    # ``version`` is the body's cniVersion, already known to be one of ``cl``'s versions.
    if cl is Result100:
        return _result100(version, _fast_interfaces100(body.get("interfaces")),
                          _fast_ips100(body.get("ips")), _fast_routes(body.get("routes")),
                          _fast_dns(body.get("dns")))
    if cl is Result040:
        return _result040(version, _fast_interfaces040(body.get("interfaces")),
                          _fast_ips040(body.get("ips")), _fast_routes(body.get("routes")),
                          _fast_dns(body.get("dns")))
    return _result020(version, _fast_ip020(body.get("ip4")), _fast_ip020(body.get("ip6")),
                      _fast_dns(body.get("dns")))


# --- results ---------------------------------------------------------------------------------


def parse_result(
    data: bytes | str | JSON, version: str | None = None
) -> Result020 | Result040 | Result100:
    """Decode an ADD result; see :func:`cnilib.types.parse_result` (the public entry point).

    Raises:
        ResultError: see :func:`cnilib.types.parse_result`.
    """
    obj: object = data
    if isinstance(data, bytes | bytearray | memoryview | str):
        try:
            obj = loads(data)
        except InvalidJSONError as err:
            msg = f"failed to unmarshal raw result: {err}"
            raise ResultError(msg) from err
    if obj is None:
        # libcni fixupResultVersion: a null result is an empty one.
        obj = {}
    if not isinstance(obj, dict):
        msg = f"expected a JSON object, got {json_type(obj)} (at /)"
        raise ResultError(msg)
    body: dict[str, Any] = obj
    cni_version = body.get("cniVersion")
    if cni_version is None or cni_version == "":
        # libcni fixupResultVersion (containernetworking/cni#895): a result without a version is
        # in the config's version.
        cni_version = version or "0.1.0"
        body = {**body, "cniVersion": cni_version}
    elif type(cni_version) is not str:
        msg = f"expected a string, got {json_type(cni_version)} (at /cniVersion)"
        raise ResultError(msg)
    cl = RESULT_CLASSES.get(cni_version) if type(cni_version) is str else None
    if cl is None:
        msg = f'unsupported CNI result version "{cni_version}"'
        raise ResultError(msg, code=ErrorCode.INCOMPATIBLE_CNI_VERSION,
                          details=f"supported: {', '.join(RESULT_CLASSES)}")
    try:
        return _fast_result(body, cni_version, cl)
    except Exception:  # anything unusual, failures included: the converter decides, below
        pass
    return structure(body, cl)


def _sorted_keys(value: Any) -> Any:
    if type(value) is dict:
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if type(value) is list:
        return [_sorted_keys(v) for v in value]
    return value


def result_to_dict(result: Result020 | Result040 | Result100) -> JSONObject:
    """A result as libcni writes it (the field names and omission rules of
    libcni's ``pkg/types/{020,040,100}/types.go``).

    1.0.0/1.1.0 results get their keys sorted at every level, as libcni marshals them
    through a map; older families keep libcni's struct order.

    Returns:
        A fresh JSON object.
    """
    out: JSONObject = converter.unstructure(result)
    if type(result) is Result100:
        sorted_out: JSONObject = _sorted_keys(out)
        return sorted_out
    return out


_configure()
_ROUTE: Final[Callable[[object, object], Route]] = converter.get_structure_hook(Route)
