"""Hypothesis strategies shared by the test suite (attrs' ``tests/strategies.py`` habit).

Values are built with ``st.builds`` on the real classes, so a strategy cannot produce what a
constructor refuses. ``*_representable_in(v)`` strategies give results that a lower version
can express exactly, the domain of the "up then down" conversion laws.
"""

from __future__ import annotations

import string
from ipaddress import IPv4Interface, IPv6Interface
from typing import Any

from hypothesis import strategies as st

from cnilib._json import JSON
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
from cnilib.version import SUPPORTED_VERSIONS

__all__ = [
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
    "results_020_representable",
    "results_040_representable_in_020",
    "results_040_representable_in_100",
    "results_100_representable_in_040",
    "results_100_representable_in_020",
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

#: Any JSON value (as :func:`cnilib._json.loads` returns them).
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
