"""libcni's structural rules for configurations, and the located error that reports them.

Rules of this file:

* It owns what decoding into libcni's Go types refuses (``libcni/conf.go``,
  ``pkg/types/types.go``), with libcni's messages, plus two of cnilib's own rules: the
  allowlist for a plugin ``type`` (CVE-2021-20206 class, G1 in docs/guarantees.md) and the
  SPEC.md file-name rule for ``ipam.type``.
* A problem is ``(JSON pointer, message, rule)``; it is located (file, line, column) only when
  :func:`failure` raises it, so a valid document never pays for locating.
* It is pure: JSON values in, problems out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeAlias

from cnilib._json import JSON, JSONObject, escape_token, json_type
from cnilib._schema.locate import locate
from cnilib.errors import (
    MAX_PROBLEMS,
    CNIError,
    ConfigValidationError,
    InvalidPluginNameError,
    Problem,
)
from cnilib.identifiers import check_plugin_type
from cnilib.version import parse_version, select_version

__all__ = ["Prob", "Probs", "check_list", "check_plugin", "failure", "not_object"]

#: (JSON pointer, message, rule) of one structural problem, located only when raised.
Prob: TypeAlias = "tuple[str, str, str]"
_LIST_FLAGS: Final = ("disableCheck", "disableGC", "loadOnlyInlinedPlugins")


class Probs(list[Prob]):
    """Structural problems: the first :data:`~cnilib.errors.MAX_PROBLEMS` kept, the rest
    counted (a hostile list may have a problem every few bytes)."""

    __slots__ = ("more",)

    def __init__(self) -> None:
        super().__init__()
        self.more = 0

    def append(self, item: Prob) -> None:
        """Keep ``item``, or count it once the list is full."""
        if len(self) < MAX_PROBLEMS:
            super().append(item)
        else:
            self.more += 1

    def extend(self, items: Iterable[Prob]) -> None:
        """:meth:`append` each of ``items``."""
        for item in items:
            self.append(item)


def failure(probs: list[Prob], prefix: str, source: str | None,
            data: bytes) -> ConfigValidationError:
    """The error that reports ``probs`` of the document ``data``, each one located.

    Its message is ``[<file>:<line>:<column>: ]<prefix>: <first problem>[ (and N more)]``;
    the problems :class:`Probs` only counted are reported in one last ``more`` problem.
    """
    more = getattr(probs, "more", 0)
    where_is = locate(data, [*(p[0] for p in probs), *([""] if more else [])])
    problems = []
    for pointer, message, rule in probs:
        line, column = where_is[pointer] or (None, None)
        problems.append(Problem(pointer, message, file=source, line=line, column=column,
                                rule=rule))
    if more:
        line, column = where_is[""] or (None, None)
        note = (f"{more} more errors not listed (at most {MAX_PROBLEMS} errors are reported "
                "for one document)")
        problems.append(Problem("", note, file=source, line=line, column=column, rule="more"))
    first = problems[0]
    where = f"{first.location}: " if first.location else ""
    others = len(probs) - 1 + more
    more_text = f" (and {others} more)" if others else ""
    msg = f"{where}{prefix}: {first.message}{more_text}"
    return ConfigValidationError(msg, tuple(problems))


# -- one plugin object (libcni/conf.go, pkg/types/types.go) -------------------------------

def _is_strs(value: JSON) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


# Each check gets the value of one protocol key of a plugin object and returns the first
# problem as (pointer below that key, message, rule), or None. JSON null is accepted: it
# decodes to Go's zero value. These are what decoding into Go's types.PluginConf refuses
# (pkg/types/types.go), plus the SPEC.md file-name rule for ipam.type.
_Check: TypeAlias = "Callable[[JSON], Prob | None]"


def _not(what: str, value: JSON, sub: str = "") -> Prob:
    return (sub, f"must be {what}, not {json_type(value)}", "libcni")


def _check_str(value: JSON) -> Prob | None:
    return None if value is None or isinstance(value, str) else _not("a string", value)


def _check_caps(value: JSON) -> Prob | None:
    if value is not None and not isinstance(value, dict):
        return _not("an object", value)
    for cap, on in (value or {}).items():
        if on is not None and not isinstance(on, bool):
            return (f"/{escape_token(cap)}", f"capability {cap!r} must be true or false", "libcni")
    return None


def _check_ipam(value: JSON) -> Prob | None:
    if value is None or not isinstance(value, dict):
        return None if value is None else _not("an object", value)
    kind = value.get("type")
    if kind is not None and not isinstance(kind, str):
        return _not("a string", kind, "/type")
    if kind in (".", "..") or (kind is not None
                               and ("/" in kind or "\\" in kind or "\x00" in kind)):
        # SPEC.md, Section 1: Network configuration format: ipam.type "Must not contain characters
        # disallowed in file paths"; the plugin executes it, so a path would escape CNI_PATH.
        return ("/type", f"invalid IPAM plugin type {kind!r}: not a file name", "plugin-type")
    return None


def _check_dns(value: JSON) -> Prob | None:
    if value is None or not isinstance(value, dict):
        return None if value is None else _not("an object", value)
    for key in ("nameservers", "search", "options"):
        strings = value.get(key)
        if strings is not None and not _is_strs(strings):
            return _not("an array of strings", strings, f"/{key}")
    found = _check_str(value.get("domain"))
    return None if found is None else ("/domain", found[1], found[2])


def _check_prev(value: JSON) -> Prob | None:
    return None if value is None or isinstance(value, dict) else _not("an object", value)


def _check_attachments(value: JSON) -> Prob | None:
    if value is None:
        return None
    if not isinstance(value, list):
        return _not("an array", value)
    for i, item in enumerate(value):
        if item is not None and not (isinstance(item, dict) and all(
                isinstance(item.get(k), str | None) for k in ("containerID", "ifname"))):
            return (f"/{i}", "must be a {containerID, ifname} object", "libcni")
    return None


_CHECKS: Final[dict[str, _Check]] = {
    "name": _check_str,
    "cniVersion": _check_str,
    "capabilities": _check_caps,
    "ipam": _check_ipam,
    "dns": _check_dns,
    "prevResult": _check_prev,
    "cni.dev/valid-attachments": _check_attachments,
}
_CHECKED: Final = frozenset(_CHECKS)
_PLAIN: Final[dict[str, type]] = {"name": str, "cniVersion": str, "prevResult": dict}


# Plugin types that passed the allowlist: the same few names recur in every file (bounded).
_SAFE_TYPES: set[str] = set()


def check_plugin(obj: JSONObject) -> list[Prob]:
    """libcni's rules for one plugin object, plus cnilib's allowlist for ``type`` (G1).

    Pointers are relative to the object and messages unprefixed: a list's caller adds both,
    only when something is wrong.
    """
    probs: list[Prob] = []
    kind = obj.get("type")
    if type(kind) is str and kind in _SAFE_TYPES:
        pass
    elif kind is None or kind == "":
        probs.append(("", "missing 'type'", "libcni"))
    elif not isinstance(kind, str):
        probs.append(("/type", f"'type' {_not('a string', kind)[1]}", "libcni"))
    else:
        try:
            check_plugin_type(kind)
        except InvalidPluginNameError as err:
            probs.append(("/type", err.msg, "plugin-type"))
        else:
            if len(_SAFE_TYPES) < 1024:
                _SAFE_TYPES.add(kind)
    for key in _CHECKED.intersection(obj):
        value = obj[key]
        if type(value) is _PLAIN.get(key):
            continue  # all that _check_str / _check_prev ask of a string / an object
        found = _CHECKS[key](value)
        if found is not None:
            sub, msg, rule = found
            where = key + sub.replace("/", ".") if sub else key
            probs.append((f"/{escape_token(key)}{sub}", f"'{where}' {msg}" if msg.startswith("must")
                          else msg, rule))
    return probs


def not_object(value: JSON) -> Prob:
    """The problem of a document (or a list's element) that is not a JSON object."""
    return ("", f"expected a JSON object, got {json_type(value)}", "libcni")


# -- a list (libcni/conf.go ConfListFromBytes) -------------------------------------------

def _flag(obj: JSONObject, key: str, probs: list[Prob]) -> bool:
    value = obj.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    msg = (f'invalid value "{value.lower()}" for {key}' if isinstance(value, str)
           else f"invalid type {json_type(value)} for {key}")
    probs.append((f"/{key}", msg, "libcni"))
    return False


def _versions(obj: JSONObject, probs: list[Prob]) -> tuple[str, tuple[str, ...]]:
    # SPEC.md "Version considerations"; libcni's rules and messages (NetworkConfFromBytes).
    version = obj.get("cniVersion", "")
    if not isinstance(version, str):
        probs.append(("/cniVersion", f"invalid cniVersion type {json_type(version)}", "libcni"))
        version = ""
    if "cniVersions" not in obj:
        return version, ()
    versions = obj["cniVersions"]
    if not isinstance(versions, list):
        probs.append(("/cniVersions", f"invalid type for cniVersions: {json_type(versions)}",
                      "libcni"))
        return version, ()
    ok = True
    for i, v in enumerate(versions):
        if not isinstance(v, str):
            ok = False
            msg = f"invalid type for cniVersions index {i}: {json_type(v)}"
            probs.append((f"/cniVersions/{i}", msg, "libcni"))
            continue
        try:
            parse_version(v)
        except CNIError as err:
            ok = False
            msg = f"invalid cniVersions entry {v} at index {i}: {err}"
            probs.append((f"/cniVersions/{i}", msg, "libcni"))
    if version:
        try:
            parse_version(version)
        except CNIError as err:
            ok = False
            probs.append(("/cniVersion", f"invalid cniVersion {version}: {err}", "libcni"))
    strs = tuple(v for v in versions if isinstance(v, str))
    return (select_version(version, strs) if ok else version), strs




def check_list(obj: JSONObject, probs: list[Prob]) -> tuple[
        JSON, str, tuple[str, ...], Sequence[bool], list[JSONObject]]:
    """libcni's rules for a configuration list (``ConfListFromBytes``), every plugin's included.

    Args:
        obj: The list's object.
        probs: Where the problems go (pointers from the list's root).

    Returns:
        ``(name, version, versions, flags, plugins)``: the ``name`` value (a string unless a
        problem says otherwise), the selected version and the ``cniVersions`` strings, the
        three flags in :data:`_LIST_FLAGS` order, and the plugin objects.
    """
    name = obj.get("name")
    if "name" not in obj:
        probs.append(("", "no name", "libcni"))
    elif not isinstance(name, str):
        probs.append(("/name", f"invalid name type {json_type(name)}", "libcni"))
    version, versions = _versions(obj, probs)
    check = obj.get("disableCheck", False)
    gc = obj.get("disableGC", False)
    inlined = obj.get("loadOnlyInlinedPlugins", False)
    flags: Sequence[bool]
    if type(check) is bool and type(gc) is bool and type(inlined) is bool:
        flags = (check, gc, inlined)
    else:  # strings, or an error to report: _flag says which
        flags = [_flag(obj, key, probs) for key in _LIST_FLAGS]
    given = obj.get("plugins", [])
    items: list[JSONObject] = []
    if "plugins" not in obj and flags[2]:
        probs.append(("", "`loadOnlyInlinedPlugins` is true, and no 'plugins' key", "libcni"))
    elif not isinstance(given, list):
        probs.append(("/plugins", f"invalid 'plugins' type {json_type(given)}", "libcni"))
    elif "plugins" in obj and not given:
        probs.append(("/plugins", "no plugins in list", "libcni"))
    else:
        for i, item in enumerate(given):
            if isinstance(item, dict):
                items.append(item)
                found = check_plugin(item)
            else:
                found = [not_object(item)]
            if found:
                pre = f"failed to parse plugin config {i}: "
                probs.extend((f"/plugins/{i}{sub}", pre + msg, rule) for sub, msg, rule in found)
    return name, version, versions, flags, items
