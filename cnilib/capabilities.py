"""Typed capability arguments, emitted exactly as CONVENTIONS.md spells them.

A runtime fills a plugin's ``runtimeConfig`` through capability arguments (SPEC.md, section
*Deriving runtimeConfig*): ``RuntimeConf(capability_args=...)`` or
``Networks.setup(capability_args=...)``. The well-known ones have fixed JSON shapes
(CONVENTIONS.md, "Well-known Capabilities"), and go-cni gets two of them wrong (Go field
names instead of camelCase keys, ``ipRanges`` as a flat list). :func:`capability_args`
builds the mapping from typed values so that cannot happen::

    caps = capability_args(
        port_mappings=[PortMapping(host_port=8080, container_port=80)],
        bandwidth=Bandwidth(ingress_rate=1_000_000, ingress_burst=100_000),
        ip_ranges=[[IPRange("10.1.2.0/24", gateway="10.1.2.254")]],
    )
    # {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
    #  "bandwidth": {"ingressRate": 1000000, "ingressBurst": 100000},
    #  "ipRanges": [[{"subnet": "10.1.2.0/24", "gateway": "10.1.2.254"}]]}

Rules of this file:

* It is pure: values in, JSON out. Every key is CONVENTIONS.md's spelling, and optional fields
  left unset are left out of the JSON.
* Capabilities not listed here are plugin-defined: pass them through ``extra`` (any JSON value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

import attrs

from ._json import JSON, JSONObject
from .errors import ConfigError

__all__ = [
    "PortMapping",
    "Bandwidth",
    "IPRange",
    "DNSSettings",
    "WELL_KNOWN_CAPABILITIES",
    "capability_args",
]

_T = TypeVar("_T")

#: The capability names CONVENTIONS.md defines, in its order.
WELL_KNOWN_CAPABILITIES = ("portMappings", "ipRanges", "bandwidth", "dns", "ips", "mac",
                           "infinibandGUID", "deviceID", "aliases", "cgroupPath")


def _port(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        msg = f"{attribute.name} must be a port number 1-65535, not {value!r}"
        raise ConfigError(msg)


def _rate(_inst: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 0):
        msg = f"{attribute.name} must be a non-negative integer, not {value!r}"
        raise ConfigError(msg)


@attrs.frozen(kw_only=True)
class PortMapping:
    """One entry of ``portMappings``: a host port forwarded into the sandbox.

    Attributes:
        host_port: ``hostPort``.
        container_port: ``containerPort``.
        protocol: ``protocol``: ``"tcp"``, ``"udp"`` or ``"sctp"``.
        host_ip: ``hostIP``, the host address to bind (left out when empty).
    """

    host_port: int = attrs.field(validator=_port)
    container_port: int = attrs.field(validator=_port)
    protocol: str = attrs.field(default="tcp", validator=attrs.validators.in_(
        ("tcp", "udp", "sctp")))
    host_ip: str = ""

    def to_dict(self) -> JSONObject:
        """The CONVENTIONS.md object."""
        out: JSONObject = {"hostPort": self.host_port, "containerPort": self.container_port,
                           "protocol": self.protocol}
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out


@attrs.frozen(kw_only=True)
class Bandwidth:
    """The ``bandwidth`` capability: rates in bits per second, bursts in bits.

    Unset values are left out of the JSON.
    """

    ingress_rate: int | None = attrs.field(default=None, validator=_rate)
    ingress_burst: int | None = attrs.field(default=None, validator=_rate)
    egress_rate: int | None = attrs.field(default=None, validator=_rate)
    egress_burst: int | None = attrs.field(default=None, validator=_rate)

    def to_dict(self) -> JSONObject:
        """The CONVENTIONS.md object (``ingressRate``, ``ingressBurst``...)."""
        pairs = (("ingressRate", self.ingress_rate), ("ingressBurst", self.ingress_burst),
                 ("egressRate", self.egress_rate), ("egressBurst", self.egress_burst))
        return {key: value for key, value in pairs if value is not None}


@attrs.frozen
class IPRange:
    """One range of ``ipRanges`` (host-local's ``ranges`` entry).

    Attributes:
        subnet: ``subnet``, a CIDR.
        range_start: ``rangeStart`` (left out when empty).
        range_end: ``rangeEnd`` (left out when empty).
        gateway: ``gateway`` (left out when empty).
    """

    subnet: str
    range_start: str = attrs.field(default="", kw_only=True)
    range_end: str = attrs.field(default="", kw_only=True)
    gateway: str = attrs.field(default="", kw_only=True)

    def to_dict(self) -> JSONObject:
        """The CONVENTIONS.md object."""
        out: JSONObject = {"subnet": self.subnet}
        for key, value in (("rangeStart", self.range_start), ("rangeEnd", self.range_end),
                           ("gateway", self.gateway)):
            if value:
                out[key] = value
        return out


def _tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(_strings("dns", values))


@attrs.frozen(kw_only=True)
class DNSSettings:
    """The ``dns`` capability: ``servers``, ``searches``, ``options`` (empty ones left out)."""

    servers: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    searches: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    options: tuple[str, ...] = attrs.field(default=(), converter=_tuple)

    def to_dict(self) -> JSONObject:
        """The CONVENTIONS.md object."""
        out: JSONObject = {}
        for key, values in (("servers", self.servers), ("searches", self.searches),
                            ("options", self.options)):
            if values:
                out[key] = list(values)
        return out


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        msg = f"{name} is a list of strings, not one string"
        raise ConfigError(msg)
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            msg = f"{name} entries are strings, not {type(value).__name__}"
            raise ConfigError(msg)
        out.append(value)
    return out


def _string(name: str, value: str) -> str:
    if not isinstance(value, str):
        msg = f"{name} is a string, not {type(value).__name__}"
        raise ConfigError(msg)
    return value


def capability_args(
    *,
    port_mappings: Iterable[PortMapping] | None = None,
    ip_ranges: Iterable[Iterable[IPRange]] | None = None,
    bandwidth: Bandwidth | None = None,
    dns: DNSSettings | None = None,
    ips: Iterable[str] | None = None,
    mac: str | None = None,
    infiniband_guid: str | None = None,
    device_id: str | None = None,
    aliases: Iterable[str] | None = None,
    cgroup_path: str | None = None,
    extra: Mapping[str, JSON] | None = None,
) -> dict[str, JSON]:
    """The capability arguments of CONVENTIONS.md, keyed and shaped as it spells them.

    Arguments left as ``None`` are left out.

    Args:
        port_mappings: ``portMappings``, a list of objects.
        ip_ranges: ``ipRanges``: a list of lists of ranges (the outer list is one entry per
            address to allocate, each inner list a pool of ranges).
        bandwidth: ``bandwidth``.
        dns: ``dns``.
        ips: ``ips``: addresses, each ``<ip>[/<prefix>]``.
        mac: ``mac``.
        infiniband_guid: ``infinibandGUID``.
        device_id: ``deviceID``.
        aliases: ``aliases``.
        cgroup_path: ``cgroupPath``.
        extra: Plugin-defined capabilities, passed as given (a well-known name here wins over
            the argument above).

    Returns:
        A new dict for ``capability_args``.

    Raises:
        ConfigError: a value has the wrong type.
    """
    out: dict[str, JSON] = {}
    if port_mappings is not None:
        out["portMappings"] = [_typed(PortMapping, p).to_dict() for p in port_mappings]
    if ip_ranges is not None:
        if isinstance(ip_ranges, IPRange):
            msg = "ip_ranges is a list of lists of IPRange (one inner list per address)"
            raise ConfigError(msg)
        outer: list[JSON] = []
        for pool in ip_ranges:
            if isinstance(pool, IPRange):
                msg = "ip_ranges is a list of lists of IPRange (one inner list per address)"
                raise ConfigError(msg)
            outer.append([_typed(IPRange, r).to_dict() for r in pool])
        out["ipRanges"] = outer
    if bandwidth is not None:
        out["bandwidth"] = _typed(Bandwidth, bandwidth).to_dict()
    if dns is not None:
        out["dns"] = _typed(DNSSettings, dns).to_dict()
    if ips is not None:
        out["ips"] = list[JSON](_strings("ips", ips))
    for key, value in (("mac", mac), ("infinibandGUID", infiniband_guid),
                       ("deviceID", device_id)):
        if value is not None:
            out[key] = _string(key, value)
    if aliases is not None:
        out["aliases"] = list[JSON](_strings("aliases", aliases))
    if cgroup_path is not None:
        out["cgroupPath"] = _string("cgroupPath", cgroup_path)
    for name, extra_value in (extra or {}).items():
        given: object = name  # checked: a caller may pass anything
        if not isinstance(given, str) or not given:
            msg = f"capability names are non-empty strings, not {given!r}"
            raise ConfigError(msg)
        out[given] = extra_value
    return out


def _typed(cls: type[_T], value: object) -> _T:
    if not isinstance(value, cls):
        msg = f"expected a {cls.__name__}, not {type(value).__name__}"
        raise ConfigError(msg)
    return value
