"""Hypothesis strategies for CNI values: valid ones of every spec version, and invalid ones.

Use them to test code that loads, emits or converts CNI documents (a runtime, a plugin, a
linter): ``@given(strategies.netconflist_dicts("1.0.0"))``. This module needs the optional
``hypothesis`` dependency (``pip install cnilib[testing]``); it is the only cnilib module that
imports it, and ``import cnilib`` never does.

Rules of this file:

* Valid values are built with ``st.builds`` on the real classes or as the JSON objects the spec
  describes, so a strategy cannot produce what a constructor refuses; every valid document
  loads with no problem at all, errors or warnings (``tests/test_testing_strategies.py``
  checks these laws).
* An invalid strategy breaks exactly one rule, says which in its docstring, and yields
  :class:`Invalid` values carrying the document and the JSON pointer that loading must report.
* ``*_representable_in(v)`` strategies give results that a lower version can express
  exactly, the domain of the "up then down" conversion laws.
* Size (about 480 lines): one public module, so that ``from cnilib.testing import strategies``
  gives every strategy; each is a few lines of ``st.builds`` with its docstring.
"""

from __future__ import annotations

import string
from ipaddress import IPv4Interface, IPv6Interface
from typing import Any

import attrs
from hypothesis import strategies as st

from cnilib._json import JSON, JSONObject
from cnilib.types import (
    DNS,
    Interface040,
    Interface100,
    IPAddress,
    IPConfig020,
    IPConfig040,
    IPConfig100,
    IPInterface,
    Result,
    Result020,
    Result040,
    Result100,
    Route,
)
from cnilib.version import SUPPORTED_VERSIONS, result_family, supports_check, supports_gc

__all__ = [
    "Invalid",
    "versions",
    "versions_of",
    "container_ids",
    "network_names",
    "ifnames",
    "json_values",
    "ip_addresses",
    "ip_interfaces",
    "routes",
    "basic_routes",
    "dns",
    "ipconfigs_020",
    "interfaces_040",
    "ipconfigs_040",
    "interfaces_100",
    "ipconfigs_100",
    "results_020",
    "results_040",
    "results_100",
    "results",
    "results_of",
    "results_020_representable",
    "results_040_representable_in_020",
    "results_040_representable_in_100",
    "results_100_representable_in_040",
    "results_100_representable_in_020",
    "plugin_types",
    "plugin_dicts",
    "netconf_dicts",
    "netconflist_dicts",
    "netconflists_without_name",
    "netconflists_with_invalid_name",
    "netconflists_with_invalid_version",
    "netconflists_with_untyped_plugin",
    "netconflists_with_unsafe_plugin_type",
    "netconflists_with_empty_plugins",
    "netconfs_without_type",
    "invalid_netconflists",
    "results_with_invalid_address",
]

_FAMILY_VERSIONS = {
    "020": ("0.1.0", "0.2.0"),
    "040": ("0.3.0", "0.3.1", "0.4.0"),
    "100": ("1.0.0", "1.1.0"),
}

#: Every released spec version.
versions = st.sampled_from(SUPPORTED_VERSIONS)


def versions_of(family: str) -> st.SearchStrategy[str]:
    """The versions of one result family (``"020"``, ``"040"`` or ``"100"``)."""
    return st.sampled_from(_FAMILY_VERSIONS[family])


_NAME_FIRST = string.ascii_letters + string.digits
_NAME_REST = _NAME_FIRST + "_.-"

#: Valid container IDs and network names (libcni's ``^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$``).
container_ids = st.builds(
    lambda a, b: a + b,
    st.sampled_from(_NAME_FIRST),
    st.text(alphabet=_NAME_REST, max_size=63),
)
network_names = container_ids

#: Valid interface names: 1 to 15 bytes, not ``.``/``..``, no ``/``, ``:`` or whitespace.
ifnames = st.text(alphabet=_NAME_REST + "@+", min_size=1, max_size=15).filter(
    lambda s: s not in (".", "..")
)

#: Any JSON value (as strict decoding returns them).
json_values: st.SearchStrategy[JSON] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def ip_addresses(version: int | None = None) -> st.SearchStrategy[IPAddress]:
    """IPv4 or IPv6 addresses (no zone), of one version if given."""
    if version == 4:
        return st.ip_addresses(v=4)
    if version == 6:
        return st.ip_addresses(v=6)
    return st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


def ip_interfaces(version: int | None = None) -> st.SearchStrategy[IPInterface]:
    """Addresses with a prefix length, host bits kept, of one version if given."""
    v4 = st.builds(lambda a, p: IPv4Interface((int(a), p)), st.ip_addresses(v=4),
                   st.integers(0, 32))
    v6 = st.builds(lambda a, p: IPv6Interface((int(a), p)), st.ip_addresses(v=6),
                   st.integers(0, 128))
    if version == 4:
        return v4
    if version == 6:
        return v6
    return st.one_of(v4, v6)


_uints = st.one_of(st.integers(0, 65535), st.integers(0, 2**63 - 1))
_texts = st.text(max_size=12)
_text_lists = st.lists(_texts, max_size=3).map(tuple)


def routes(version: int | None = None) -> st.SearchStrategy[Route]:
    """Routes with any of the optional fields set, dst of one version if given."""
    return st.builds(
        Route,
        dst=ip_interfaces(version),
        gw=st.none() | ip_addresses(version),
        mtu=st.just(0) | _uints,
        advmss=st.just(0) | _uints,
        priority=st.just(0) | _uints,
        table=st.none() | _uints,
        scope=st.none() | st.integers(0, 255),
    )


def basic_routes(version: int | None = None) -> st.SearchStrategy[Route]:
    """Routes with only ``dst`` and ``gw`` (what 0.1.0/0.2.0 can hold)."""
    return st.builds(Route, dst=ip_interfaces(version), gw=st.none() | ip_addresses(version))


dns = st.builds(DNS, nameservers=_text_lists, domain=_texts, search=_text_lists,
                options=_text_lists)


def ipconfigs_020(version: int | None = None, *, basic: bool = False,
                  ) -> st.SearchStrategy[IPConfig020]:
    """``ip4``/``ip6`` objects; with ``version``, address and route dsts of that version."""
    make_routes = basic_routes if basic else routes
    return st.builds(IPConfig020, ip=ip_interfaces(version),
                     gateway=st.none() | ip_addresses(version),
                     routes=st.lists(make_routes(version), max_size=3).map(tuple))


interfaces_040 = st.builds(Interface040, name=_texts, mac=_texts, sandbox=_texts)
interfaces_100 = st.builds(Interface100, name=_texts, mac=_texts, mtu=st.just(0) | _uints,
                           sandbox=_texts, socket_path=_texts, pci_id=_texts)
_indexes = st.none() | st.integers(0, 5)


def ipconfigs_040(*, matching: bool = False) -> st.SearchStrategy[IPConfig040]:
    """0.3.x/0.4.0 ``ips`` entries; with ``matching``, ``version`` agrees with the address."""
    if matching:
        return ip_interfaces().flatmap(lambda a: st.builds(
            IPConfig040, version=st.just(str(a.version)), interface=_indexes, address=st.just(a),
            gateway=st.none() | ip_addresses(a.version)))
    return st.builds(IPConfig040, version=st.sampled_from(["4", "6", "", "x"]),
                     interface=_indexes, address=ip_interfaces(),
                     gateway=st.none() | ip_addresses())


ipconfigs_100 = st.builds(IPConfig100, interface=_indexes, address=ip_interfaces(),
                          gateway=st.none() | ip_addresses())


def _tuples(s: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(s, max_size=max_size).map(tuple)


results_020 = st.builds(Result020, cni_version=versions_of("020"),
                        ip4=st.none() | ipconfigs_020(), ip6=st.none() | ipconfigs_020(),
                        dns=dns)
results_040 = st.builds(Result040, cni_version=versions_of("040"),
                        interfaces=_tuples(interfaces_040), ips=_tuples(ipconfigs_040()),
                        routes=_tuples(routes()), dns=dns)
results_100 = st.builds(Result100, cni_version=versions_of("100"),
                        interfaces=_tuples(interfaces_100), ips=_tuples(ipconfigs_100),
                        routes=_tuples(routes()), dns=dns)
#: A result of any family and version.
results: st.SearchStrategy[Result] = st.one_of(results_020, results_040, results_100)



def results_of(version: str) -> st.SearchStrategy[Result]:
    """Results of one spec version (in its family's shape: ``ip4``/``ip6``, or ``ips``)."""
    family = result_family(version)
    if family == "020":
        return results_020.map(lambda r: attrs.evolve(r, cni_version=version))
    if family == "040":
        return results_040.map(lambda r: attrs.evolve(r, cni_version=version))
    return results_100.map(lambda r: attrs.evolve(r, cni_version=version))


#: 0.1.0/0.2.0 results that survive a trip to any later version and back: at least one
#: address, ``ip4`` IPv4 and ``ip6`` IPv6, each with basic routes of its own family.
results_020_representable = st.builds(
    Result020, cni_version=versions_of("020"),
    ip4=st.none() | ipconfigs_020(4, basic=True), ip6=st.none() | ipconfigs_020(6, basic=True),
    dns=dns,
).filter(lambda r: r.ip4 is not None or r.ip6 is not None)


def _as_040(r020: Result020, version: str) -> Result040:
    ips = []
    route_list: list[Route] = []
    for family, conf in (("4", r020.ip4), ("6", r020.ip6)):
        if conf is not None:
            ips.append(IPConfig040(version=family, address=conf.ip, gateway=conf.gateway))
            route_list.extend(conf.routes)
    return Result040(cni_version=version, ips=tuple(ips), routes=tuple(route_list),
                     dns=r020.dns)


#: 0.3.x/0.4.0 results that 0.1.0/0.2.0 hold exactly (built independently of cnilib.convert).
results_040_representable_in_020 = st.builds(_as_040, results_020_representable,
                                             versions_of("040"))

#: 0.3.x/0.4.0 results whose every ``version`` matches its address (1.0.0 recomputes it).
results_040_representable_in_100 = st.builds(
    Result040, cni_version=versions_of("040"), interfaces=_tuples(interfaces_040),
    ips=_tuples(ipconfigs_040(matching=True)), routes=_tuples(routes()), dns=dns,
)

#: 1.0.0/1.1.0 results with nothing 0.4.0 lacks (no mtu, socketPath, pciID).
results_100_representable_in_040 = st.builds(
    Result100, cni_version=versions_of("100"),
    interfaces=_tuples(st.builds(Interface100, name=_texts, mac=_texts, sandbox=_texts)),
    ips=_tuples(ipconfigs_100), routes=_tuples(routes()), dns=dns,
)


def _as_100(r020: Result020, version: str) -> Result100:
    r040 = _as_040(r020, "0.4.0")
    return Result100(cni_version=version,
                     ips=tuple(IPConfig100(address=i.address, gateway=i.gateway)
                               for i in r040.ips),
                     routes=r040.routes, dns=r040.dns)


#: 1.0.0/1.1.0 results that 0.1.0/0.2.0 hold exactly.
results_100_representable_in_020 = st.builds(_as_100, results_020_representable,
                                             versions_of("100"))


# --- configurations (SPEC.md "Network configuration format") ---------------------------------


@attrs.frozen
class Invalid:
    """A document that breaks one rule, and where loading must say so.

    Attributes:
        document: The JSON document (a configuration or a result), as decoded.
        pointer: The JSON pointer of the broken rule: loading reports an ERROR there (a
            configuration's :class:`~cnilib.errors.ConfigValidationError` lists a problem
            with this pointer; a result's :class:`~cnilib.errors.ResultError` names it).
        rule: The rule, in words, with its source.
    """

    document: JSONObject
    pointer: str
    rule: str


#: Plugin types: safe executable names (lower-case letter, then letters, digits, ``_``, ``-``).
plugin_types = st.from_regex(r"[a-z][a-z0-9_-]{0,14}", fullmatch=True)
# Where the rules of invalid documents come from.
_CONF = 'SPEC.md "Configuration format"'
_PLUGIN = 'SPEC.md "Plugin configuration objects"'
# Plugin-specific keys: never a key the spec reserves or types.
_extra_keys = st.from_regex(r"x[A-Za-z0-9]{0,7}", fullmatch=True)
_capability_names = st.from_regex(r"[a-z][A-Za-z0-9]{0,11}", fullmatch=True)
_dns_dicts = st.fixed_dictionaries({}, optional={
    "nameservers": st.lists(ip_addresses().map(str), max_size=2),
    "domain": _texts,
    "search": st.lists(_texts, max_size=2),
    "options": st.lists(_texts, max_size=2),
})


def plugin_dicts() -> st.SearchStrategy[JSONObject]:
    """Plugin configuration objects (SPEC.md "Plugin configuration objects").

    A ``type``, and optionally ``ipam`` (with a ``type``), ``dns``, ``capabilities`` and
    plugin-specific keys (``x…``) holding any JSON value.
    """
    base = st.fixed_dictionaries(
        {"type": plugin_types},
        optional={
            "ipam": st.builds(lambda t, extra: {"type": t, **extra}, plugin_types,
                              st.dictionaries(_extra_keys, json_values, max_size=2)),
            "dns": _dns_dicts,
            "capabilities": st.dictionaries(_capability_names, st.booleans(), max_size=3),
        },
    )
    return st.builds(lambda b, extra: {**b, **extra}, base,
                     st.dictionaries(_extra_keys, json_values, max_size=3))


def _version_or_any(version: str | None) -> st.SearchStrategy[str]:
    return versions if version is None else st.just(version)


def netconf_dicts(version: str | None = None) -> st.SearchStrategy[JSONObject]:
    """Single-plugin configurations (a ``.conf`` file), of ``version`` or any version."""
    return st.builds(lambda v, n, p: {"cniVersion": v, "name": n, **p},
                     _version_or_any(version), network_names, plugin_dicts())


def _conflist(version: str, name: str, plugins: list[JSON], flags: JSONObject) -> JSONObject:
    doc: JSONObject = {"cniVersion": version, "name": name}
    if supports_check(version) and "disableCheck" in flags:
        doc["disableCheck"] = flags["disableCheck"]
    if supports_gc(version) and "disableGC" in flags:
        doc["disableGC"] = flags["disableGC"]
    doc["plugins"] = plugins
    return doc


def netconflist_dicts(version: str | None = None) -> st.SearchStrategy[JSONObject]:
    """Network configuration lists (a ``.conflist`` file), of ``version`` or any version.

    One to four plugins (one before 0.3.0, which has no chaining); ``disableCheck`` (from
    0.4.0) and ``disableGC`` (from 1.1.0) sometimes, only where the version has them.
    """
    flags = st.fixed_dictionaries({}, optional={"disableCheck": st.booleans(),
                                                "disableGC": st.booleans()})
    return _version_or_any(version).flatmap(lambda v: st.builds(
        _conflist, st.just(v), network_names,
        st.lists(plugin_dicts(), min_size=1, max_size=1 if result_family(v) == "020" else 4),
        flags))


def _broken(pointer: str, rule: str, doc: JSONObject) -> Invalid:
    return Invalid(doc, pointer, rule)


def _without(key: str) -> Any:
    return lambda doc: {k: v for k, v in doc.items() if k != key}


#: Lists with no ``name``: "name (string): Network name" is required (SPEC.md "Configuration
#: format"; libcni: "no name"). Reported at ``""``.
netconflists_without_name = netconflist_dicts().map(_without("name")).map(
    lambda d: _broken("", f"a network configuration list must have a name ({_CONF})", d))

#: Lists whose ``name`` starts with a character other than a letter or digit, or holds one
#: outside ``[a-zA-Z0-9_.-]`` (SPEC.md "Configuration format", ``name``). Reported at
#: ``/name``.
netconflists_with_invalid_name = st.builds(
    lambda doc, bad: _broken("/name", "the network name must match "
                             f"^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$ ({_CONF})", {**doc, "name": bad}),
    netconflist_dicts(),
    st.one_of(st.sampled_from(["", "-net", ".net", "_net", "my net", "net/1", "net:1"]),
              network_names.map(lambda n: n + "/x")),
)

#: Lists whose ``cniVersion`` is not a version at all (letters): "cniVersion (string):
#: Semantic Version 2.0" (SPEC.md "Configuration format"). Reported at ``/cniVersion``.
netconflists_with_invalid_version = st.builds(
    lambda doc, bad: _broken("/cniVersion", "cniVersion must be a Semantic Version 2.0 "
                             f"version ({_CONF})", {**doc, "cniVersion": bad}),
    netconflist_dicts(), st.from_regex(r"[a-zA-Z]{1,6}", fullmatch=True),
)


def _untype(doc: JSONObject, index: int) -> Invalid:
    plugins = list(doc["plugins"])  # type: ignore[arg-type]
    index %= len(plugins)
    plugins[index] = _without("type")(plugins[index])
    return _broken(f"/plugins/{index}", "every plugin configuration object must have a "
                   f"type ({_PLUGIN})", {**doc, "plugins": plugins})


#: Lists with one plugin that has no ``type`` (SPEC.md "Plugin configuration objects": "type
#: (string): Matches the name of the CNI plugin binary on disk"). Reported at ``/plugins/<i>``.
netconflists_with_untyped_plugin = st.builds(_untype, netconflist_dicts(), st.integers(0, 3))


def _unsafe(doc: JSONObject, index: int, bad: str) -> Invalid:
    plugins = list(doc["plugins"])  # type: ignore[arg-type]
    index %= len(plugins)
    plugins[index] = {**plugins[index], "type": bad}  # type: ignore[dict-item]
    return _broken(f"/plugins/{index}/type", "a plugin type must be a file name, not a path "
                   "(docs/configuration.md)", {**doc, "plugins": plugins})


#: Lists with one plugin whose ``type`` is a path, not a file name (``../x``, ``/bin/sh``):
#: it names the binary in the plugin directories (SPEC.md "Plugin configuration objects",
#: ``type``), so cnilib refuses what
#: could escape them. Reported at ``/plugins/<i>/type``.
netconflists_with_unsafe_plugin_type = st.builds(
    _unsafe, netconflist_dicts(), st.integers(0, 3),
    st.one_of(st.sampled_from(["..", "/bin/sh", "a/b"]), plugin_types.map(lambda t: "../" + t)),
)

#: Lists whose ``plugins`` is an empty array (libcni: "no plugins in list"). Reported at
#: ``/plugins``.
netconflists_with_empty_plugins = netconflist_dicts().map(
    lambda d: _broken("/plugins", "a network configuration list must have at least one "
                      f"plugin ({_CONF}, plugins)", {**d, "plugins": []}))

#: Single-plugin configurations with no ``type`` (SPEC.md "Plugin configuration objects";
#: libcni: "missing 'type'").
#: Reported at ``""``.
netconfs_without_type = netconf_dicts().map(_without("type")).map(
    lambda d: _broken("", f"a plugin configuration must have a type ({_PLUGIN})", d))

#: Any of the invalid network configuration lists above.
invalid_netconflists: st.SearchStrategy[Invalid] = st.one_of(
    netconflists_without_name, netconflists_with_invalid_name,
    netconflists_with_invalid_version, netconflists_with_untyped_plugin,
    netconflists_with_unsafe_plugin_type, netconflists_with_empty_plugins)


def _bad_address(result: Result, bad: str) -> Invalid:
    doc = result.to_dict()
    if isinstance(result, Result020):
        doc["ip4"] = {"ip": bad}
        pointer = "/ip4/ip"
    else:
        ips = list(doc.get("ips") or [])  # type: ignore[arg-type]
        ips.insert(0, {"address": bad, **({"version": "4"} if isinstance(result, Result040)
                                           else {})})
        doc["ips"] = ips
        pointer = "/ips/0/address"
    return _broken(pointer, "an address is an IP in CIDR notation, with its prefix length "
                   "(SPEC.md \"ADD Success\")", doc)


#: ADD results of every version with one address that is not in CIDR notation (no prefix
#: length, or not an IP). Reported at ``/ip4/ip`` (0.1.0, 0.2.0) or ``/ips/0/address``.
results_with_invalid_address = st.builds(
    _bad_address, results,
    st.one_of(ip_addresses().map(str), st.sampled_from(["", "10.0.0.1/33", "x/24", "fe80::/"])),
)
