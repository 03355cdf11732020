"""Spec versions: parsing, ordering, selection and the VERSION reply (SPEC.md, Section 1: Network
configuration format, Section 2: Execution Protocol, Section 5: Result Types).

Rules of this file:

* It owns every comparison of CNI version strings; no other module parses them.
* Ordering is numeric, like libcni's ``version.ParseVersion`` (``""`` is 0.1.0, ``"1"`` is
  1.0.0, ``"1.0"`` equals ``"1.0.0"``), while "supported" means an exact string match, as in
  libcni's version reconciler. Both facts are interoperability contracts (libcni's
  ``pkg/version/plugin.go`` and ``pkg/version/reconcile.go``).
* It is pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs

from .errors import IncompatibleVersionError, InvalidVersionError, ResultError

__all__ = [
    "SPEC_VERSION",
    "SUPPORTED_VERSIONS",
    "LEGACY_VERSIONS",
    "parse_version",
    "greater_than",
    "greater_than_or_equal_to",
    "select_version",
    "result_family",
    "supports_check",
    "supports_gc",
    "supports_status",
    "versions_starting_from",
    "PluginInfo",
    "plugin_supports",
    "parse_plugin_info",
]

#: The newest spec version cnilib implements (SPEC.md, section "Version").
SPEC_VERSION: Final = "1.1.0"

#: Every released spec version, oldest first; a version is supported when it is in here by
#: exact string (libcni ``version.All``, ``pkg/version/version.go``).
SUPPORTED_VERSIONS: Final = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

#: Versions whose results have the legacy ``ip4``/``ip6`` shape.
LEGACY_VERSIONS: Final = ("0.1.0", "0.2.0")

_PARTS: Final = ("major", "minor", "micro")


def _atoi(part: str, which: str, version: str) -> int:
    # Go's strconv.Atoi: optional sign, ASCII digits only, no spaces (libcni ``ParseVersion``).
    body = part[1:] if part[:1] in ("+", "-") else part
    if not body or not body.isascii() or not body.isdigit() or len(body) > 18:
        msg = f'failed to convert {which} version part "{part}"'
        raise InvalidVersionError(msg, details=f"version {version!r}")
    return int(part)


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse a CNI version string into ``(major, minor, micro)``.

    ``""`` means 0.1.0 (SPEC.md, Section 1: Network configuration format: a missing ``cniVersion``
    is the oldest version) and missing parts are 0, so ``"1"`` is 1.0.0.

    Raises:
        InvalidVersionError: more than three parts, or a part that is not an integer.
    """
    if not isinstance(version, str):
        from ._json import json_type

        msg = f"invalid version type {json_type(version)}: versions are strings"
        raise InvalidVersionError(msg)
    if version == "":
        return (0, 1, 0)
    parts = version.split(".")
    if len(parts) > 3:
        msg = f"invalid version {version!r}: too many parts"
        raise InvalidVersionError(msg)
    nums = [_atoi(p, _PARTS[i], version) for i, p in enumerate(parts)]
    nums += [0] * (3 - len(nums))
    return (nums[0], nums[1], nums[2])


def greater_than(a: str, b: str) -> bool:
    """``a > b`` numerically (libcni ``version.GreaterThan``)."""
    return parse_version(a) > parse_version(b)


def greater_than_or_equal_to(a: str, b: str) -> bool:
    """``a >= b`` numerically (libcni ``version.GreaterThanOrEqualTo``)."""
    return parse_version(a) >= parse_version(b)


def select_version(cni_version: str | None, cni_versions: Sequence[str] | None = None) -> str:
    """Pick the version a configuration is run at (SPEC.md, section "Version considerations").

    SPEC.md, Section 1: Network configuration format: "the runtime MUST select the highest version
    it supports" from ``cniVersion`` and ``cniVersions``. Versions above :data:`SPEC_VERSION` are
    not ones cnilib can speak, so they are dropped; when nothing is left, the plain ``cniVersion``
    is kept as written (libcni does the same in ``libcni/conf.go``), so that an old runtime can
    still report it.

    Args:
        cni_version: The ``cniVersion`` key (``None`` or ``""`` when absent).
        cni_versions: The ``cniVersions`` array, when present.

    Returns:
        The selected version string, exactly as written in the input.

    Raises:
        InvalidVersionError: an entry of ``cniVersions`` (or, when ``cniVersions`` is present,
            ``cniVersion``) does not parse.
    """
    raw = cni_version or ""
    if cni_versions is None:
        return raw
    limit = parse_version(SPEC_VERSION)
    keep: list[tuple[tuple[int, int, int], int, str]] = []
    for i, v in enumerate(cni_versions):
        if not isinstance(v, str):
            from ._json import json_type

            msg = f"invalid type for cniVersions index {i}: {json_type(v)}"
            raise InvalidVersionError(msg)
        key = parse_version(v)
        if key <= limit:
            keep.append((key, i, v))
    if raw:
        key = parse_version(raw)
        if key <= limit:
            keep.append((key, len(cni_versions), raw))
    if not keep:
        return raw
    # Equal-valued spellings ("1.0" and "1.0.0"): the first written wins (the cniVersions
    # entries in order, then cniVersion), as in libcni main (libcni/conf.go): its comparator
    # calls two different spellings of one version each "less" than the other, so the
    # insertion sort Go uses for short lists moves each later spelling in front of the
    # earlier ones, and the last element, the one picked, is the first spelling written.
    best = max(key for key, _, _ in keep)
    return next(v for key, _, v in keep if key == best)


def result_family(version: str) -> str:
    """The result family a supported version belongs to: ``"020"``, ``"040"`` or ``"100"``.

    An empty version is 0.1.0 (SPEC.md, Section 1: Network configuration format). Membership is by
    exact string, as libcni's result creators decide (``pkg/types/create/create.go``).

    Raises:
        IncompatibleVersionError: the version is not one of :data:`SUPPORTED_VERSIONS`.
    """
    if version in ("", "0.1.0", "0.2.0"):
        return "020"
    if version in ("0.3.0", "0.3.1", "0.4.0"):
        return "040"
    if version in ("1.0.0", "1.1.0"):
        return "100"
    msg = f'unsupported CNI result version "{version}"'
    raise IncompatibleVersionError(msg, details=f"supported: {', '.join(SUPPORTED_VERSIONS)}")


def _at_least(version: str, minimum: str) -> bool:
    try:
        return parse_version(version) >= parse_version(minimum)
    except InvalidVersionError:
        return False


def supports_check(version: str) -> bool:
    """CHECK, ``disableCheck`` and prevResult on DEL exist from 0.4.0 (SPEC.md, section "CHECK")."""
    return _at_least(version, "0.4.0")


def supports_gc(version: str) -> bool:
    """GC and ``disableGC`` exist from 1.1.0 (SPEC.md, section "GC")."""
    return _at_least(version, "1.1.0")


def supports_status(version: str) -> bool:
    """STATUS exists from 1.1.0 (SPEC.md, section "STATUS")."""
    return _at_least(version, "1.1.0")


def versions_starting_from(minimum: str) -> tuple[str, ...]:
    """The supported versions from ``minimum`` on, inclusive (libcni ``VersionsStartingFrom``).

    Raises:
        InvalidVersionError: ``minimum`` is not a supported version (libcni panics here).
    """
    if minimum not in SUPPORTED_VERSIONS:
        msg = f"{minimum!r} is not a supported CNI version"
        raise InvalidVersionError(msg, details=", ".join(SUPPORTED_VERSIONS))
    return SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.index(minimum):]


def _go_quoted_list(items: Iterable[str]) -> str:
    # Go's %q on a []string: ["a" "b"]; libcni's incompatible-version details use it.
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


@attrs.frozen
class PluginInfo:
    """A plugin's VERSION reply (SPEC.md, section "VERSION Success").

    Attributes:
        cni_version: The ``cniVersion`` the reply was written in.
        supported_versions: The versions the plugin says it supports, as written.
    """

    cni_version: str
    supported_versions: tuple[str, ...]

    def supports(self, version: str) -> bool:
        """Exact-string membership, as libcni's reconciler checks (``""`` means 0.1.0)."""
        return (version or "0.1.0") in self.supported_versions

    def check(self, config_version: str) -> None:
        """Raise unless the plugin supports ``config_version``.

        Raises:
            IncompatibleVersionError: with libcni's message and details.
        """
        if not self.supports(config_version):
            details = (f'config is "{config_version or "0.1.0"}", plugin supports '
                       f"{_go_quoted_list(self.supported_versions)}")
            msg = "incompatible CNI versions"
            raise IncompatibleVersionError(msg, details=details)

    def to_dict(self) -> dict[str, Any]:
        """The reply as JSON-ready data."""
        out: dict[str, Any] = {"cniVersion": self.cni_version}
        if self.supported_versions:
            out["supportedVersions"] = list(self.supported_versions)
        return out

    def to_json(self) -> str:
        """The reply as compact JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def plugin_supports(*versions: str) -> PluginInfo:
    """A :class:`PluginInfo` saying the given versions are supported (libcni ``PluginSupports``).

    Raises:
        InvalidVersionError: no version given (libcni panics: "you must support at least one").
    """
    if not versions:
        msg = "a plugin must support at least one version"
        raise InvalidVersionError(msg)
    return PluginInfo(cni_version=SPEC_VERSION, supported_versions=tuple(versions))


def parse_plugin_info(data: bytes | str | Any) -> PluginInfo:
    """Decode a VERSION reply, with libcni's rules (``PluginDecoder``, ``pkg/version/plugin.go``).

    Accepts bytes, text or already-decoded JSON. An empty ``supportedVersions`` in a 0.2.0
    reply means ``["0.1.0", "0.2.0"]``, the only versions a 0.2.0 plugin could know.

    Raises:
        ResultError: not JSON, not an object, or a required field missing or mistyped.
    """
    from ._json import loads

    obj: Any = data
    if isinstance(data, bytes | str):
        try:
            obj = loads(data)
        except Exception as err:  # InvalidJSONError, re-typed as a reply problem
            msg = f"decoding version info: {err}"
            raise ResultError(msg) from err
    if not isinstance(obj, dict):
        from ._json import json_type

        msg = f"decoding version info: expected a JSON object, got {json_type(obj)}"
        raise ResultError(msg)
    cni_version = obj.get("cniVersion")
    if not isinstance(cni_version, str) or not cni_version:
        msg = "decoding version info: missing field cniVersion"
        raise ResultError(msg)
    supported = obj.get("supportedVersions")
    if supported is None or supported == []:
        if cni_version == "0.2.0":
            return PluginInfo(cni_version=cni_version, supported_versions=LEGACY_VERSIONS)
        msg = "decoding version info: missing field supportedVersions"
        raise ResultError(msg)
    if not isinstance(supported, list) or not all(isinstance(v, str) for v in supported):
        msg = "decoding version info: supportedVersions must be an array of strings"
        raise ResultError(msg)
    return PluginInfo(cni_version=cni_version, supported_versions=tuple(supported))
