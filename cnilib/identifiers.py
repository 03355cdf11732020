"""Identifier rules: container IDs, network names, interface names, plugin types, ``CNI_ARGS``.

Rules of this file:

* It owns every rule about the short strings a runtime passes to plugins (SPEC.md, sections
  "Parameters" and "Attachment Parameters") and the plugin ``type`` that names an executable
  (SPEC.md, Section 1: Network configuration format, CVE-2021-20206).
* Failures are :class:`~cnilib.errors.InvalidIdentifierError` with libcni's codes and messages
  (``pkg/utils/utils.go``), or :class:`~cnilib.errors.InvalidPluginNameError` for a plugin ``type``.
* ``CNI_ARGS`` is ``K=V;K2=V2`` with no escaping, so ``;``, ``=`` and NUL inside a key or value
  are refused, never passed through (G10 in docs/guarantees.md).
* It is pure and imports nothing but :mod:`cnilib.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from .errors import ErrorCode, InvalidIdentifierError, InvalidPluginNameError

__all__ = [
    "MAX_INTERFACE_NAME_LENGTH",
    "check_container_id",
    "check_network_name",
    "check_interface_name",
    "check_plugin_type",
    "format_cni_args",
    "parse_cni_args",
]

#: Linux's IFNAMSIZ minus the terminating NUL; libcni counts bytes, not characters.
MAX_INTERFACE_NAME_LENGTH: Final = 15

# libcni pkg/utils: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (SPEC.md, section "name", SPEC.md, Section 2:
# Execution Protocol CNI_CONTAINERID). fullmatch, because Python's "$" also matches before a
# trailing newline.
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")

# An allowlist (G1), not libcni's denylist of the path separator: an ASCII file name that
# cannot be "." or "..", cannot hold a separator, NUL or whitespace, and cannot look like an
# option. 255 bytes is NAME_MAX.
_PLUGIN_TYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+\-]{0,254}")

_CNI_ARGS_FORBIDDEN: Final = (";", "=", "\x00")


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _check_name(value: object, invalid: str, invalid_code: ErrorCode, missing: str,
                missing_code: ErrorCode) -> None:
    # Container IDs and network names share libcni's pattern and its three outcomes: not a
    # string, empty, or a character outside the pattern.
    if not isinstance(value, str):
        raise InvalidIdentifierError(invalid, code=invalid_code, details=repr(value))
    if value == "":
        raise InvalidIdentifierError(missing, code=missing_code)
    if _NAME.fullmatch(value) is None:
        raise InvalidIdentifierError(invalid, code=invalid_code, details=value)


def check_container_id(container_id: str) -> None:
    """Check a container ID (SPEC.md, Section 2: Execution Protocol ``CNI_CONTAINERID``; libcni
    ``ValidateContainerID``).

    SPEC.md, Section 3: Execution of Network Configurations: "Must not be empty. Must start with an
    alphanumeric character, optionally followed by any combination of one or more alphanumeric
    characters, underscore, dot or hyphen."

    Args:
        container_id: The ID to check.

    Raises:
        InvalidIdentifierError: code 3 ``missing containerID`` when empty, code 4
            ``invalid characters in containerID`` (details: the ID) otherwise.
    """
    _check_name(container_id, "invalid characters in containerID",
                ErrorCode.INVALID_ENVIRONMENT_VARIABLES, "missing containerID",
                ErrorCode.UNKNOWN_CONTAINER)


def check_network_name(name: str) -> None:
    """Check a network name (SPEC.md, Section 1: Network configuration format ``name``; libcni
    ``ValidateNetworkName``).

    The same pattern as container IDs; a valid name therefore never holds a path separator,
    which is what makes ``<dir>/<name>/`` safe to build (libcni's ``libcni/conf.go``
    joins the drop-in folder from an unchecked name).

    Args:
        name: The network name to check.

    Raises:
        InvalidIdentifierError: code 7, ``missing network name:`` when empty (libcni's
            trailing colon kept), ``invalid characters found in network name`` (details: the
            name) otherwise.
    """
    _check_name(name, "invalid characters found in network name",
                ErrorCode.INVALID_NETWORK_CONFIG, "missing network name:",
                ErrorCode.INVALID_NETWORK_CONFIG)


def check_interface_name(ifname: str) -> None:
    """Check a container interface name (SPEC.md, Section 2: Execution Protocol ``CNI_IFNAME``;
    libcni ``ValidateInterfaceName``).

    The rules are Linux's ``dev_valid_name``: 1 to 15 bytes, not ``.`` or ``..``, no ``/``,
    ``:`` or whitespace. cnilib also refuses NUL and strings that are not UTF-8 (they could not
    be passed in the environment; libcni would fail later, at exec).

    Args:
        ifname: The interface name to check.

    Raises:
        InvalidIdentifierError: code 4 with libcni's message (``interface name is empty``,
            ``interface name is too long``, ``interface name is . or ..``,
            ``interface name contains / or : or whitespace characters``).
    """
    code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    if not _is_str(ifname):
        msg = "interface name contains / or : or whitespace characters"
        raise InvalidIdentifierError(msg, code=code, details=repr(ifname))
    if ifname == "":
        msg = "interface name is empty"
        raise InvalidIdentifierError(msg, code=code)
    try:
        size = len(ifname.encode("utf-8"))
    except UnicodeEncodeError:
        msg = "interface name is not valid UTF-8"
        raise InvalidIdentifierError(msg, code=code, details=repr(ifname)) from None
    if size > MAX_INTERFACE_NAME_LENGTH:
        msg = "interface name is too long"
        details = f"interface name should be less than {MAX_INTERFACE_NAME_LENGTH + 1} characters"
        raise InvalidIdentifierError(msg, code=code, details=details)
    if ifname in (".", ".."):
        msg = "interface name is . or .."
        raise InvalidIdentifierError(msg, code=code)
    # str.isspace() is a superset of Go's unicode.IsSpace (it adds U+001C..U+001F): stricter.
    if any(c in "/:\x00" or c.isspace() for c in ifname):
        msg = "interface name contains / or : or whitespace characters"
        raise InvalidIdentifierError(msg, code=code, details=repr(ifname))


def check_plugin_type(plugin_type: str) -> None:
    """Check that a plugin ``type`` is a safe executable file name (SPEC.md, Section 1: Network
    configuration format, G1).

    SPEC.md, Section 1: Network configuration format: ``type`` "Must not contain characters
    disallowed in file paths for the system (e.g. / or \\)". libcni only refuses the path separator
    (its fix for CVE-2021-20206); cnilib allows only ASCII letters, digits and ``_ . + -``, not
    starting with ``.``, ``+`` or ``-``, at most 255 bytes, so that ``..``, NUL, ``\\`` and
    option-like names cannot reach the executor.

    Args:
        plugin_type: The ``type`` value.

    Raises:
        InvalidPluginNameError: the name is not in the allowlist.
    """
    if not _is_str(plugin_type) or _PLUGIN_TYPE.fullmatch(plugin_type) is None:
        msg = f"invalid plugin type {plugin_type!r}: not a safe executable name"
        raise InvalidPluginNameError(
            msg, details="allowed: ASCII letters, digits, '_', '.', '+', '-' (not first: . + -)")


def _check_arg_part(what: str, part: str, pair: tuple[str, str], *, allow_empty: bool) -> str:
    # What the format can carry: _cni_arg_pairs has made sure `part` is a string.
    if part == "" and (what == "key" or not allow_empty):
        msg = f"invalid CNI_ARGS pair {pair!r}: empty {what}"
        raise InvalidIdentifierError(msg)
    for bad in _CNI_ARGS_FORBIDDEN:
        if bad in part:
            msg = f"invalid CNI_ARGS {what} {part!r}: contains {bad!r}"
            raise InvalidIdentifierError(msg, details="';', '=' and NUL cannot be escaped")
    try:
        part.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"invalid CNI_ARGS {what} {part!r}: not valid UTF-8"
        raise InvalidIdentifierError(msg) from None
    return part


def _cni_arg_pairs(
    pairs: Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[Sequence[str]],
) -> tuple[tuple[str, str], ...]:
    """The ``CNI_ARGS`` pairs as a tuple of ``(key, value)`` strings: the one check of them.

    Accepts a mapping or an iterable of 2-item tuples or lists of strings: what
    :class:`~cnilib.protocol.RuntimeConf` ``args``, :class:`~cnilib.cache.CacheEntry`
    ``cni_args`` and :func:`format_cni_args` take. What the strings may hold is
    :func:`format_cni_args`'s to check, when the pairs are sent.

    Raises:
        InvalidIdentifierError: not iterable, an entry is not a (key, value) pair, or a key
            or value is not a string.
    """
    try:
        items: Iterable[object] = pairs.items() if isinstance(pairs, Mapping) else pairs
        out: list[tuple[str, str]] = []
        for pair in items:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                msg = f"invalid CNI_ARGS pair {pair!r}: expected (key, value)"
                raise InvalidIdentifierError(msg)
            key, value = pair
            for what, part in (("key", key), ("value", value)):
                if not isinstance(part, str):
                    msg = f"invalid CNI_ARGS {what} {part!r}: not a string"
                    raise InvalidIdentifierError(msg, details=repr(pair))
            out.append((key, value))
    except TypeError as err:  # not iterable
        msg = f"invalid CNI_ARGS pairs: {err}"
        raise InvalidIdentifierError(msg) from None
    return tuple(out)


def format_cni_args(
    pairs: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    allow_empty_values: bool = False,
) -> str:
    """Build the ``CNI_ARGS`` value: ``K=V`` pairs joined by ``;``, in order.

    SPEC.md, Section 2: Execution Protocol: "Alphanumeric key-value pairs separated by semicolons;
    for example, ``FOO=BAR;ABC=123``". The format has no escaping, so a ``;``, ``=`` or NUL inside a
    key or value would change the meaning (G10: ``foo;IP=10.0.0.5`` asks host-local for an
    address); cnilib refuses them, where libcni joins them blindly.

    Args:
        pairs: The pairs, in order (duplicates allowed), or a mapping.
        allow_empty_values: Accept ``K=`` (plugins' ``LoadArgs`` does; cnitool does not).

    Returns:
        The ``CNI_ARGS`` string; ``""`` for no pairs.

    Raises:
        InvalidIdentifierError: a pair is not two strings, a key is empty, a value is empty
            (unless allowed), or a part holds ``;``, ``=``, NUL or a non-UTF-8 character.
    """
    out: list[str] = []
    for pair in _cni_arg_pairs(pairs):
        key = _check_arg_part("key", pair[0], pair, allow_empty=False)
        value = _check_arg_part("value", pair[1], pair, allow_empty=allow_empty_values)
        out.append(f"{key}={value}")
    return ";".join(out)


def parse_cni_args(
    value: str, *, allow_empty_values: bool = False
) -> tuple[tuple[str, str], ...]:
    """Parse a ``CNI_ARGS`` value strictly, as cnitool does.

    The string is split on ``;``, then each pair on ``=``; each pair must have exactly two
    non-empty parts. So ``A=B=C``, a trailing ``;`` and ``A=`` are refused. ``""`` is no pairs.

    Args:
        value: The ``CNI_ARGS`` string.
        allow_empty_values: Accept ``K=`` (as :func:`format_cni_args` can emit with the same
            option).

    Returns:
        The pairs, in order.

    Raises:
        InvalidIdentifierError: ``invalid CNI_ARGS pair "<pair>"`` (cnitool's message), or
            the value is not a string or holds NUL.
    """
    if not isinstance(value, str):
        msg = f"invalid CNI_ARGS {value!r}: not a string"
        raise InvalidIdentifierError(msg)
    if value == "":
        return ()
    if "\x00" in value:
        msg = "invalid CNI_ARGS: contains NUL"
        raise InvalidIdentifierError(msg, details=repr(value))
    out: list[tuple[str, str]] = []
    for pair in value.split(";"):
        parts = pair.split("=")
        if len(parts) != 2 or parts[0] == "" or (parts[1] == "" and not allow_empty_values):
            msg = f'invalid CNI_ARGS pair "{pair}"'
            raise InvalidIdentifierError(msg)
        out.append((parts[0], parts[1]))
    return tuple(out)
