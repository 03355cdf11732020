"""The one way a result is decoded: :func:`parse_result`, the one ``cniVersion`` fix-up
rule (:func:`result_body`), and the hooks registered for the result classes.

Each result class's hook reads the common shape first, with the leaf parsers and part hooks of
:mod:`~cnilib._results.codec`, and builds with :func:`~cnilib.types.common.unchecked`
constructors; anything else, failures included, goes to the hook cattrs generates, which
decides and locates. There is no other decoder to keep in step. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from cnilib._json import JSON, json_type, loads
from cnilib.errors import ErrorCode, InvalidJSONError, ResultError
from cnilib.types.common import _parse_cidr, unchecked
from cnilib.types.v020 import IPConfig020, Result020
from cnilib.types.v040 import Interface040, IPConfig040, Result040
from cnilib.types.v100 import Interface100, IPConfig100, Result100

from .codec import _dns, _ip_or_none, _located, _object_hook, _route, _uint, converter

__all__ = ["parse_result", "result_body", "RESULT_CLASSES"]

_T = TypeVar("_T")
_Result = Result020 | Result040 | Result100

#: Result class by the exact ``cniVersion`` string (libcni's creators,
#: ``pkg/types/create/create.go``): each family's own ``versions``.
RESULT_CLASSES: Final[dict[str, type[_Result]]] = {
    version: cl for cl in (Result020, Result040, Result100) for version in cl.versions
}


# --- the results' hooks ---------------------------------------------------------------------
# A result is mostly arrays of small flat objects. Its hook first reads the common shape, with
# the leaf parsers of .codec (CIDR and IP text through the same memoised parsers as the general
# hooks, routes and DNS through their own hooks), and builds with unchecked constructors: the
# checks made here are those the attrs converters and validators would make. Any exception
# (an odd shape, a null, a bad value) sends the whole body to the hook cattrs generates, which
# decides and locates. Measured on the corpus's 1.0.0 multus result: 4.2 µs of CPU a
# structuring this way, 8.5 µs through the generated hook alone
# (tests/benchmarks/bench_foundation.py prints both).


class _UnusualError(Exception):
    """Not the common shape: the generated hook decides (and locates any error)."""


def _items(value: object, build: Callable[[Any], _T]) -> tuple[_T, ...]:
    # An array, item by item; absent (or null) is empty.
    if value is None:
        return ()
    if type(value) is not list:
        raise _UnusualError
    return tuple([build(item) for item in value])


_new_interface040: Final = unchecked(Interface040)
_new_ip040: Final = unchecked(IPConfig040)
_new_interface100: Final = unchecked(Interface100)
_new_ip100: Final = unchecked(IPConfig100)
_new_ip020: Final = unchecked(IPConfig020)
_new_result020: Final = unchecked(Result020)


def _interface040(item: dict[str, Any]) -> Interface040:
    get = item.get
    name, mac, sandbox = get("name", ""), get("mac", ""), get("sandbox", "")
    if type(name) is type(mac) is type(sandbox) is str:
        return _new_interface040(name, mac, sandbox)
    raise _UnusualError


def _interface100(item: dict[str, Any]) -> Interface100:
    get = item.get
    name, mac, sandbox = get("name", ""), get("mac", ""), get("sandbox", "")
    socket_path, pci_id = get("socketPath", ""), get("pciID", "")
    if type(name) is type(mac) is type(sandbox) is type(socket_path) is type(pci_id) is str:
        return _new_interface100(name, mac, _uint(get("mtu", 0)), sandbox, socket_path, pci_id)
    raise _UnusualError


def _ip040(item: dict[str, Any]) -> IPConfig040:
    get = item.get
    version, index, gateway = get("version", ""), get("interface"), get("gateway")
    if type(version) is not str:
        raise _UnusualError
    return _new_ip040(version, None if index is None else _uint(index),
                      _parse_cidr(get("address")),
                      None if gateway is None else _ip_or_none(gateway))


def _ip100(item: dict[str, Any]) -> IPConfig100:
    # interface is an optional uint, gateway an optional address.
    get = item.get
    index, gateway = get("interface"), get("gateway")
    return _new_ip100(None if index is None else _uint(index), _parse_cidr(get("address")),
                      None if gateway is None else _ip_or_none(gateway))


def _ip020(value: dict[str, Any] | None) -> IPConfig020 | None:
    if value is None:
        return None
    get = value.get
    return _new_ip020(_parse_cidr(get("ip")), _ip_or_none(get("gateway")),
                      _items(get("routes"), _route))


def _result_hook(cl: type[_T], common: Callable[[dict[str, Any], Any], _T]
                 ) -> Callable[[object, object], _T]:
    # The registered hook of a result class: the common shape, else the generated hook.
    general = _object_hook(cl)
    versions = cl.versions  # type: ignore[attr-defined]
    new = unchecked(cl)

    def structure_result(value: Any, _type: object) -> _T:
        try:
            if value["cniVersion"] in versions:
                return common(value, new)
        except Exception:  # anything unusual, failures included: the generated hook decides
            pass
        return general(value, cl)

    return structure_result


def _result020(body: dict[str, Any], new: Callable[..., Result020]) -> Result020:
    get = body.get
    return new(body["cniVersion"], _ip020(get("ip4")), _ip020(get("ip6")), _dns(get("dns")))


def _families_040_100(interface: Callable[[Any], Any], ip: Callable[[Any], Any]
                      ) -> Callable[[dict[str, Any], Callable[..., Any]], Any]:
    # 0.3.x/0.4.0 and 1.x share one shape: {cniVersion, interfaces, ips, routes, dns}.
    def result(body: dict[str, Any], new: Callable[..., Any]) -> Any:
        get = body.get
        return new(body["cniVersion"], _items(get("interfaces"), interface),
                   _items(get("ips"), ip), _items(get("routes"), _route), _dns(get("dns")))

    return result


#: What each result hook reads first: the common shape of its family.
_COMMON: Final[dict[type[_Result], Callable[[dict[str, Any], Any], Any]]] = {
    Result020: _result020,
    Result040: _families_040_100(_interface040, _ip040),
    Result100: _families_040_100(_interface100, _ip100),
}
for _cl, _common in _COMMON.items():
    converter.register_structure_hook(_cl, _result_hook(_cl, _common))


# --- results: the one way in --------------------------------------------------------------


def result_body(data: bytes | str | JSON, version: str | None) -> dict[str, Any]:
    """A result's JSON object, with the one ``cniVersion`` fix-up rule applied (libcni
    ``fixupResultVersion``, containernetworking/cni#895).

    ``null`` is an empty result, and a ``cniVersion`` that is absent, ``null``, empty or not
    a string is replaced by ``version``, the version the reader assumes (a runtime passes the
    configuration's; ``None`` or ``""`` mean 0.1.0).

    Raises:
        ResultError: the text is not JSON, or the value is not an object (or ``null``).
    """
    obj: object = data
    if isinstance(data, bytes | bytearray | memoryview | str):
        try:
            obj = loads(data)
        except InvalidJSONError as err:
            msg = f"failed to unmarshal raw result: {err}"
            raise ResultError(msg) from err
    if obj is None:
        return {"cniVersion": version or "0.1.0"}
    if not isinstance(obj, dict):
        msg = f"expected a JSON object, got {json_type(obj)} (at /)"
        raise ResultError(msg)
    cni_version = obj.get("cniVersion")
    if type(cni_version) is str and cni_version:
        return obj
    return {**obj, "cniVersion": version or "0.1.0"}


#: Each version's class and its registered hook, looked up once: the converter's dispatch
#: (``converter.structure``) costs a tenth of a small result's parse.
_HOOKS: Final[dict[str, tuple[type[_Result], Callable[[object, object], _Result]]]] = {
    version: (cl, converter.get_structure_hook(cl)) for version, cl in RESULT_CLASSES.items()
}


def parse_result(data: bytes | str | JSON, version: str | None = None) -> _Result:
    """Decode an ADD result; see :func:`cnilib.types.parse_result` (the public entry point).

    Raises:
        ResultError: see :func:`cnilib.types.parse_result`.
    """
    body = result_body(data, version)
    cni_version: str = body["cniVersion"]
    found = _HOOKS.get(cni_version)
    if found is None:
        msg = f'unsupported CNI result version "{cni_version}"'
        raise ResultError(msg, code=ErrorCode.INCOMPATIBLE_CNI_VERSION,
                          details=f"supported: {', '.join(RESULT_CLASSES)}")
    cl, hook = found
    try:
        return hook(body, cl)
    except Exception as err:  # see _located
        raise _located(err) from err
