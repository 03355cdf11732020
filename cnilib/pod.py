"""What attaching a sandbox to its networks gave: :class:`PodResult`.

go-cni aggregates the results of a sandbox's networks into a map of interface name to IP
addresses, and loses on the way what a runtime later needs: the prefix length, which
interfaces are on the host side, which network gave which DNS settings, and the check that an
address's ``interface`` index points at an interface at all. :class:`PodResult` keeps all of it.

Rules of this file:

* It is pure: results in, frozen values out.
* Every result is read in the newest family (1.0.0): older results are converted first, so
  0.2.0's ``ip4`` and 0.4.0's ``ips`` land in one shape. An address with no ``interface``
  index (0.2.0, or a plugin that left it out) belongs to the attachment's own interface.
* An ``interface`` index outside the result's ``interfaces`` is refused
  (:class:`~cnilib.errors.ResultError`): SPEC.md, section *ADD Success*, says it is an index
  into that list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from .errors import CNIError, ResultError

if TYPE_CHECKING:
    from .types import DNS, IPConfig100, Result, Result100

__all__ = ["PodInterface", "NetworkResult", "PodResult"]


@attrs.frozen(kw_only=True)
class PodInterface:
    """One interface of a pod's attachments, with everything the results say about it.

    Attributes:
        name: The interface name.
        network: The network whose attachment reported it.
        mac: Its hardware address, ``""`` if not reported.
        sandbox: The namespace path; ``""`` for a host-side interface.
        ips: Its addresses with their full prefix length and gateway, in result order.
    """

    name: str
    network: str
    mac: str = ""
    sandbox: str = ""
    ips: tuple[IPConfig100, ...] = ()


@attrs.frozen(kw_only=True)
class NetworkResult:
    """The ADD result of one attachment of the pod.

    Attributes:
        network: The network name.
        ifname: The interface name in the sandbox (``CNI_IFNAME``).
        result: The result, in the network's version, as the plugins returned it.
        netns: The sandbox's namespace path (the ``sandbox`` of addresses a result gives no
            interface for).
    """

    network: str
    ifname: str
    result: Result
    netns: str = ""


def _freeze(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class PodResult:
    """The sandbox's view of all its attachments (``Networks.setup``'s answer).

    Attributes:
        interfaces: Sandbox interfaces by name, in attach order.
        host_interfaces: Host-side interfaces (no ``sandbox``) by name, in attach order.
        dns: Each network's DNS settings, by network name (empty ones too).
        results: Every attachment's raw result, in attach order.
    """

    interfaces: Mapping[str, PodInterface] = attrs.field(factory=dict, converter=_freeze)
    host_interfaces: Mapping[str, PodInterface] = attrs.field(factory=dict, converter=_freeze)
    dns: Mapping[str, DNS] = attrs.field(factory=dict, converter=_freeze)
    results: tuple[NetworkResult, ...] = ()

    @classmethod
    def from_results(cls, results: Iterable[NetworkResult]) -> PodResult:
        """Aggregate per-network results.

        Args:
            results: The attachments' results, in attach order.

        Returns:
            The aggregate.

        Raises:
            ResultError: an address names an interface index the result does not have, or a
                result cannot be read in 1.0.0's shape.
        """
        items = tuple(results)
        sandbox: dict[str, PodInterface] = {}
        host: dict[str, PodInterface] = {}
        dns: dict[str, DNS] = {}
        for item in items:
            newest = _newest(item)
            dns[item.network] = newest.dns
            _collect(item, newest, sandbox, host)
        return cls(interfaces=sandbox, host_interfaces=host, dns=dns, results=items)

    def addresses(self, ifname: str | None = None) -> tuple[IPConfig100, ...]:
        """The addresses of one sandbox interface, or of all of them in order."""
        chosen = (self.interfaces[ifname],) if ifname is not None else self.interfaces.values()
        return tuple(ip for iface in chosen for ip in iface.ips)


def _newest(item: NetworkResult) -> Result100:
    from .types import Result100

    result = item.result
    if not isinstance(result, Result100):
        try:
            converted = result.as_version("1.0.0")
        except CNIError as err:
            msg = f'result of network "{item.network}" cannot be read: {err}'
            raise ResultError(msg) from err
        assert isinstance(converted, Result100)
        result = converted
    count = len(result.interfaces)
    for ip in result.ips:
        if ip.interface is not None and not 0 <= ip.interface < count:
            msg = (f'result of network "{item.network}" ({item.ifname}): address '
                   f"{ip.address} names interface {ip.interface}, but the result has "
                   f"{count} interface(s)")
            raise ResultError(msg)
    return result


def _merge(table: dict[str, PodInterface], iface: PodInterface) -> None:
    old = table.get(iface.name)
    if old is None:
        table[iface.name] = iface
    else:  # two results name one interface: keep every address, the first MAC and network
        table[iface.name] = attrs.evolve(old, mac=old.mac or iface.mac, ips=old.ips + iface.ips)


def _collect(item: NetworkResult, result: Result100, sandbox: dict[str, PodInterface],
             host: dict[str, PodInterface]) -> None:
    by_index: dict[int, list[IPConfig100]] = {}
    loose: list[IPConfig100] = []
    for ip in result.ips:
        if ip.interface is None:
            loose.append(ip)
        else:
            by_index.setdefault(ip.interface, []).append(ip)
    own_seen = False
    for index, iface in enumerate(result.interfaces):
        ips = tuple(by_index.get(index, ()))
        own = bool(iface.sandbox) and iface.name == item.ifname
        if own:
            ips += tuple(loose)
            own_seen = True
        entry = PodInterface(name=iface.name, network=item.network, mac=iface.mac,
                             sandbox=iface.sandbox, ips=ips)
        _merge(sandbox if iface.sandbox else host, entry)
    if loose and not own_seen:
        _merge(sandbox, PodInterface(name=item.ifname, network=item.network,
                                     sandbox=item.netns, ips=tuple(loose)))
