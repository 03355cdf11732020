"""Results to JSON, as libcni writes them: the converter's unstructure hooks for the result
classes, and :func:`result_to_dict`. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any, TypeVar

import attrs
from cattrs.gen import make_dict_unstructure_fn

from cnilib._json import JSONObject
from cnilib.types.common import IPAddress, IPInterface
from cnilib.types.v020 import Result020
from cnilib.types.v040 import IPConfig040, Result040
from cnilib.types.v100 import IPConfig100, Result100

from .codec import _json_key, converter

__all__ = ["result_to_dict"]

_T = TypeVar("_T")


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


for _ip_type in (IPv4Address, IPv6Address, IPv4Interface, IPv6Interface):
    converter.register_unstructure_hook(_ip_type, _ip_text)
# cattrs writes always-present fields first; these classes have one that libcni writes later,
# so put the keys back in libcni's struct order (the attrs field order).
for _cl in (Result020, IPConfig040, Result040):
    converter.register_unstructure_hook(_cl, _ordered_unstructure(_cl))
converter.register_unstructure_hook(IPConfig100, _unstructure_ipconfig100)


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
