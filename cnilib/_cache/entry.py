"""Cache entry bytes: libcni's ``cniCacheV1`` format, written and parsed.

Rules of this file:

* The bytes part (:func:`encode`, :func:`decode`, :func:`fields_of`) is pure. Output is what
  Go's ``json.Marshal`` writes for libcni's ``cachedInfo`` struct: struct key order, ``config``
  as padded standard base64, empty optional fields left out, maps (``result``,
  ``capabilityArgs``) with sorted keys at every level, ``<``, ``>``, ``&``, U+2028 and U+2029
  escaped, float64 numbers in Go's format. Integers are kept exact (Go would round above 2**53),
  and so are whole floats from 2**53 up (Go pads their shortest digits with zeros).
* Input is parsed strictly: a field of the wrong type makes the entry corrupt, it is never
  guessed at. Unknown keys are ignored, as Go does.
* It is pure: bytes in, bytes out. The files themselves are :mod:`cnilib._cache.fs`'s.
* Every failure is a :class:`~cnilib.errors.CacheError`: code ``DECODING_FAILURE`` for bytes
  that are not a usable entry, ``IO_FAILURE`` for the file system.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from typing import TypedDict, cast

from cnilib._json import JSON, MAX_DEPTH, JSONObject, loads
from cnilib.errors import CacheError, CNIError, ErrorCode

__all__ = [
    "KIND",
    "Fields",
    "corrupt",
    "decode",
    "encode",
    "fields_of",
    "go_float",
    "go_json",
]

#: The ``kind`` of the entries libcni writes and reads.
KIND = "cniCacheV1"

_ENCODE_STR = json.encoder.encode_basestring
# Go's json.Marshal also escapes these (HTML safety), so a byte-identical file must too. They
# can only occur inside strings, so escaping the finished text is exact.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


class Fields(TypedDict):
    """The fields of a :class:`~cnilib.cache.CacheEntry` as stored in a v1 entry."""

    container_id: str
    config: bytes
    ifname: str
    network_name: str
    netns: str
    cni_args: Sequence[Sequence[str]]
    capability_args: JSONObject
    result: JSONObject | None


def corrupt(msg: str, cause: BaseException | None = None) -> CacheError:
    """A :class:`~cnilib.errors.CacheError` for an unusable entry (code 6)."""
    err = CacheError(msg, code=ErrorCode.DECODING_FAILURE)
    err.__cause__ = cause
    return err


def _s(text: str) -> str:
    return str(_ENCODE_STR(text))


def encode(
    *,
    container_id: str,
    config: bytes,
    ifname: str,
    network_name: str,
    netns: str,
    cni_args: Sequence[tuple[str, str]],
    capability_args: JSONObject,
    result: JSONObject | None,
) -> bytes:
    """One entry, byte for byte as libcni writes it."""
    out = [
        f'{{"kind":"{KIND}","containerId":{_s(container_id)}',
        f',"config":"{base64.b64encode(config).decode("ascii")}"',
        f',"ifName":{_s(ifname)},"networkName":{_s(network_name)}',
    ]
    if netns:
        out.append(f',"netns":{_s(netns)}')
    if cni_args:
        pairs = ",".join(f"[{_s(k)},{_s(v)}]" for k, v in cni_args)
        out.append(f',"cniArgs":[{pairs}]')
    if capability_args:
        out.append(f',"capabilityArgs":{go_json(capability_args)}')
    if result:  # omitempty: Go leaves out a nil and an empty map alike
        out.append(f',"result":{go_json(result)}')
    out.append("}")
    try:
        return "".join(out).translate(_GO_ESCAPES).encode("utf-8")
    except UnicodeEncodeError as err:
        msg = "cache entry holds a string that is not valid Unicode"
        raise corrupt(msg, err) from err


# From here on every float64 is a whole number, and not every whole number is a float64.
_EXACT_FLOATS = 2.0**53


def go_float(value: float) -> str:
    """A float64 as ``encoding/json`` writes it: ``'f'`` in [1e-6, 1e21), else ``'e'``.

    One exception: a float64 in [2**53, 1e21) is written as its exact value, where Go writes
    its shortest digits padded with zeros, which would read back as a different integer.
    """
    if math.isnan(value) or math.isinf(value):
        msg = f"cache entry holds {value!r}, which JSON cannot carry"
        raise corrupt(msg)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # repr is the shortest round-trip form and uses an exponent in this range, as Go's
        # 'e' does; Go then shortens "e-07" to "e-7".
        text = repr(value)
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    if magnitude >= _EXACT_FLOATS:
        # Every float64 here is a whole number. Go pads its shortest digits with zeros
        # ("53415162272161940"), which is not the value: read back, that text is an integer
        # other than the float. Its exact value reads back equal here, and as the same
        # float64 in Go (G5's limits).
        return str(int(value))
    from decimal import Decimal  # rare: results hardly ever hold floats

    return format(Decimal(repr(value)).normalize(), "f")


_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                           allow_nan=False)
_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: JSON) -> bool:
    """Whether the C encoder writes ``value`` as :func:`go_json` does: no float (Go writes
    them its own way), no tuple, only string keys, nesting within :data:`MAX_DEPTH`."""
    todo: list[tuple[JSON, int]] = [(value, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            return False
        items = node.items() if type(node) is dict else enumerate(node)  # type: ignore[arg-type]
        for key, item in items:
            if type(key) is not str and type(node) is dict:
                return False
            kind = type(item)
            if kind is dict or kind is list:
                todo.append((item, depth + 1))
            elif kind not in _SCALARS:
                return False
    return True


def go_json(value: JSON, depth: int = 0) -> str:
    """``value`` as Go re-marshals a ``map[string]interface{}``: keys sorted everywhere."""
    if depth == 0 and type(value) is dict and _plain(value):
        # The common case (a result has no floats) in C: a large result is written in a
        # tenth of the time. What goes wrong there (an integer too long to print) is
        # reported by the walk below.
        try:
            return _SORTED.encode(value)
        except ValueError:
            pass
    if depth > MAX_DEPTH:
        msg = "cache entry is nested too deeply"
        raise corrupt(msg)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _s(value)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError as err:  # beyond Python's int-to-str digit limit
            raise corrupt(str(err), err) from err
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        keys: list[object] = list(value)
        bad = [k for k in keys if not isinstance(k, str)]
        if bad:
            msg = f"cache entry holds a non-string key {bad[0]!r}"
            raise corrupt(msg)
        items = [f"{_s(k)}:{go_json(value[k], depth + 1)}" for k in sorted(value)]
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v, depth + 1) for v in value) + "]"
    msg = f"cache entry holds a {type(value).__name__}, which is not JSON"
    raise corrupt(msg)


def decode(data: bytes) -> JSONObject:
    """The JSON object in an entry's bytes.

    Raises:
        CacheError: Empty, not strict JSON, or not an object.
    """
    if not data.strip():
        msg = "cache entry is empty"
        raise corrupt(msg)
    try:
        obj = loads(data)
    except CNIError as err:
        msg = f"cache entry is not valid JSON: {err}"
        raise corrupt(msg, err) from err
    if not isinstance(obj, dict):
        msg = f"cache entry is a JSON {type(obj).__name__}, not an object"
        raise corrupt(msg)
    return obj


def _get(obj: JSONObject, key: str, kind: type, default: JSON | bytes = None) -> object:
    value = obj.get(key)
    if value is None:
        if default is None:
            msg = f"cache entry has no {key!r}"
            raise corrupt(msg)
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        msg = f"cache entry field {key!r} is a {type(value).__name__}, not a {kind.__name__}"
        raise corrupt(msg)
    return value


def fields_of(obj: JSONObject) -> Fields:
    """The keyword arguments of a :class:`~cnilib.cache.CacheEntry`, from a v1 object.

    Raises:
        CacheError: Another ``kind``, a missing identifier, a field of the wrong type, or
            ``config`` that is not padded standard base64.
    """
    if obj.get("kind") != KIND:
        msg = f"cache entry has kind {obj.get('kind')!r}, not {KIND!r}"
        raise corrupt(msg)
    try:
        config = base64.b64decode(str(_get(obj, "config", str, "")), validate=True)
    except (binascii.Error, ValueError) as err:
        msg = f"cache entry field 'config' is not base64: {err}"
        raise corrupt(msg, err) from err
    # Each pair is checked by CacheEntry's converter, the one CNI_ARGS pair check
    # (cnilib.identifiers); CacheEntry.from_bytes makes a refusal a corrupt entry.
    pairs = cast("list[list[str]]", _get(obj, "cniArgs", list, []))
    # omitempty: an empty map is written as no result at all, so it reads as none too (the
    # entry then reads back equal to itself after a write).
    result = None if obj.get("result") is None else (_get(obj, "result", dict) or None)
    return Fields(
        container_id=cast("str", _get(obj, "containerId", str)),
        config=config,
        ifname=cast("str", _get(obj, "ifName", str)),
        network_name=cast("str", _get(obj, "networkName", str)),
        netns=cast("str", _get(obj, "netns", str, "")),
        cni_args=pairs,
        capability_args=cast("JSONObject", _get(obj, "capabilityArgs", dict, {})),
        result=cast("JSONObject | None", result),
    )
