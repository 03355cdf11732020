"""The one cattrs Converter of cnilib: where JSON values meet attrs classes.

Rules of this package (``codec`` here, the results' hooks and the one way in in
:mod:`~cnilib._results.decode`, the way out in :mod:`~cnilib._results.encode`):

* There is one :data:`converter`, configured once at import (each module of the package
  registers its own hooks; the package imports them all); nothing reconfigures it per call.
  JSON field names come from the ``Annotated[..., override(rename=...)]`` declared on the
  fields; to-JSON omits a field equal to its default (Go's ``omitempty``) unless the field
  says ``omit_if_default=False``.
* Structuring is strict about JSON types: a string is never made from a number, an integer
  never from a float or a boolean, an array never from a string (cattrs' defaults would).
  ``null`` inside an object is the same as the key being absent, as Go decodes it.
* Every failure leaves as :class:`~cnilib.errors.ResultError` naming the JSON pointer of the
  bad field; cattrs' exceptions (and any ``KeyError``/``TypeError`` under them) never escape.
* It is pure: no I/O.

This module holds the converter, its strict leaf parsers (which the results' hooks share),
the hooks of the parts of results, and the locating of errors.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, Final, TypeVar

import cattrs
from cattrs import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn

from cnilib._json import json_pointer, json_type
from cnilib.errors import CNIError, Problem, ResultError
from cnilib.types.common import (
    DNS,
    IPAddress,
    IPInterface,
    Route,
    _parse_cidr,
    _parse_ip,
    unchecked,
)
from cnilib.types.v020 import IPConfig020
from cnilib.types.v040 import Interface040, IPConfig040
from cnilib.types.v100 import Interface100, IPConfig100

__all__ = ["converter", "problems_of"]

_T = TypeVar("_T")

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1

#: The converter. Other modules may register hooks for their own classes at their import.
converter: Final = cattrs.Converter(
    detailed_validation=True,
    omit_if_default=True,
    unstruct_collection_overrides={Sequence: list},
)


def _expected(what: str, value: object) -> ResultError:
    return ResultError(f"expected {what}, got {json_type(value)}")


# --- strict leaf parsers: the converter's hooks, and the pieces of the results' hooks --------


def _str(value: object, _type: object = str) -> str:
    if type(value) is str:
        return value
    raise _expected("a string", value)


def _int(value: object, _type: object = int) -> int:
    # A Go int: integral JSON number in int64 range ("1.0" and booleans are refused, as Go does).
    if type(value) is int and _INT_MIN <= value <= _INT_MAX:
        return value
    if type(value) is int:
        msg = f"number {value} out of range for an integer"
        raise ResultError(msg)
    raise _expected("an integer", value)


def _uint(value: object) -> int:
    # A Go int that the attrs `uint` validator also accepts: both checks at once, for the
    # results' hooks, which build without validators (the general hooks run _int, then it).
    if type(value) is int and 0 <= value <= _INT_MAX:
        return value
    raise _expected("an unsigned integer", value)


def _bool(value: object, _type: object = bool) -> bool:
    if type(value) is bool:
        return value
    raise _expected("a boolean", value)


def _cidr(value: object, _type: object = IPInterface) -> IPInterface:
    if type(value) is str:
        return _parse_cidr(value)
    raise _expected("a string in CIDR notation", value)


def _ip_or_none(value: object, _type: object = None) -> IPAddress | None:
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


converter.register_structure_hook(str, _str)
converter.register_structure_hook(int, _int)
converter.register_structure_hook(bool, _bool)
converter.register_structure_hook_func(lambda t: t == IPInterface, _cidr)
converter.register_structure_hook_func(lambda t: t == (IPAddress | None), _ip_or_none)
converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_factory)
# Leaves first: an object hook looks its fields' hooks up when it is generated.
_general_route: Final = _object_hook(Route)
_general_dns: Final = _object_hook(DNS)
_EMPTY_DNS: Final = DNS()


@functools.lru_cache(maxsize=1024)
def _interned_route(dst: str, gw: str = "") -> Route:
    return Route(dst=dst, gw=gw)


def _route(value: Any, _type: object = Route) -> Route:
    # Every attachment of a network gets the same routes, so a route of only dst and gw is
    # built by the checked constructor once and shared (bounded; values are frozen, so sharing
    # is safe). Any other shape (extra keys make the call fail), or anything invalid, takes the
    # general hook, which decides and locates.
    try:
        return _interned_route(**value)
    except Exception:  # the general hook decides
        return _general_route(value, Route)


_new_dns: Final = unchecked(DNS)
_DNS_KEYS: Final = frozenset({"nameservers", "domain", "search", "options"})


def _strings(value: object) -> tuple[str, ...] | None:
    # A list of strings as a tuple; None for anything else (null included).
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    return None


def _dns(value: object, _type: object = DNS) -> DNS:
    # Most results carry "dns": {} (or none): one shared empty value. The usual object of
    # string lists is built here with the checks DNS's converters make (a quarter of a small
    # 0.2.0 result's parse went to the generated hook); anything else takes the generated
    # hook, which decides and locates.
    if value is None or (type(value) is dict and not value):
        return _EMPTY_DNS
    if type(value) is dict and value.keys() <= _DNS_KEYS:
        get = value.get
        domain = get("domain", "")
        nameservers, search, options = (_strings(get("nameservers", [])),
                                         _strings(get("search", [])), _strings(get("options", [])))
        if (type(domain) is str and nameservers is not None and search is not None
                and options is not None):
            return _new_dns(nameservers, domain, search, options)
    return _general_dns(value, DNS)


converter.register_structure_hook(Route, _route)
converter.register_structure_hook(DNS, _dns)
for _cl in (IPConfig020, Interface040, IPConfig040, Interface100, IPConfig100):
    converter.register_structure_hook(_cl, _object_hook(_cl))


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
        out.append(Problem(json_pointer(path), _message(err, name), rule="type"))


def problems_of(err: BaseException, prefix: str = "") -> tuple[Problem, ...]:
    """Every leaf failure in a cattrs error, as located :class:`~cnilib.errors.Problem` values.

    Args:
        err: What the converter raised.
        prefix: A JSON pointer to put in front of every problem's pointer.

    Returns:
        One problem per bad field, in field order, each with its JSON pointer.
    """
    out: list[Problem] = []
    _walk(err, (), None, out)
    if prefix:
        out = [Problem(prefix + p.pointer, p.message, rule=p.rule) for p in out]
    return tuple(out)


def _located(err: BaseException) -> ResultError:
    # Every failure leaves typed and located: the first bad field in the message, every one
    # in the details.
    problems = problems_of(err) or (Problem("", _message(err, None)),)
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    msg = f"{first.message} (at {first.pointer or '/'}){more}"
    details = "\n".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
    return ResultError(msg, details=details)
