"""Results of spec versions 1.0.0 and 1.1.0 (libcni ``types/100``).

Rules of this file:

* One wire shape: ``{cniVersion, interfaces?: [{name, mac?, mtu?, sandbox?, socketPath?,
  pciID?}], ips?: [{interface?, address, gateway?}], routes?, dns?}``
  (libcni ``pkg/types/100/types.go``).
  An empty ``dns`` is left out and keys are written sorted, as libcni marshals through a map.
* 1.0.0 and 1.1.0 share every type; only ``cni_version`` tells them apart.
* No logic beyond constructor checks; conversion lives in :mod:`cnilib.convert`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, ClassVar

import attrs
from cattrs.gen import override

# The values by name, the constructor helpers (converters, validators) qualified.
import cnilib.types.common as shared

from .common import DNS, IPAddress, IPInterface, ResultMethods, Route

__all__ = ["Interface100", "IPConfig100", "Result100"]


@attrs.frozen(kw_only=True)
class Interface100:
    """An interface created by the attachment (SPEC.md, Section 5: Result Types ``interfaces``).

    Attributes:
        name: The interface name (always written, even when empty, as libcni does).
        mac: The hardware address, as written; ``""`` when not applicable.
        mtu: The MTU; 0 means unset and is not written.
        sandbox: The network namespace path; ``""`` for a host interface.
        socket_path: Path of a socket for this interface (wire name ``socketPath``).
        pci_id: Platform PCI identifier of the device (wire name ``pciID``).
    """

    name: Annotated[str, override(omit_if_default=False)] = ""
    mac: str = ""
    mtu: int = attrs.field(default=0, validator=shared.uint)
    sandbox: str = ""
    socket_path: Annotated[str, override(rename="socketPath")] = ""
    pci_id: Annotated[str, override(rename="pciID")] = ""


@attrs.frozen(kw_only=True)
class IPConfig100:
    """An address assigned by the attachment (SPEC.md, Section 5: Result Types ``ips``).

    Attributes:
        interface: Index into the result's ``interfaces``, or ``None`` (IPAM results). An
            index beyond the list is accepted, as libcni accepts it.
        address: The address with its prefix, host bits kept.
        gateway: The default gateway of the subnet, or ``None``.
    """

    interface: int | None = attrs.field(default=None, validator=shared.uint)
    address: IPInterface = attrs.field(converter=shared.to_cidr)
    gateway: IPAddress | None = attrs.field(default=None, converter=shared.to_ip)


def _interfaces(value: Iterable[Interface100]) -> tuple[Interface100, ...]:
    # attrs converter (named, so that mypy's attrs plugin types __init__ from it).
    return value if type(value) is tuple else shared.to_tuple(value)


def _ips(value: Iterable[IPConfig100]) -> tuple[IPConfig100, ...]:
    # attrs converter (named, so that mypy's attrs plugin types __init__ from it).
    return value if type(value) is tuple else shared.to_tuple(value)


@attrs.frozen(kw_only=True)
class Result100(ResultMethods):
    """A 1.0.0 or 1.1.0 ADD result (SPEC.md, section "ADD Success", libcni ``types100.Result``).

    Attributes:
        cni_version: ``"1.0.0"`` or ``"1.1.0"`` (wire name ``cniVersion``).
        interfaces: Interfaces created by the attachment, host-side ones included.
        ips: Addresses assigned.
        routes: Routes created.
        dns: DNS settings; left out of the JSON when empty.
    """

    family: ClassVar[str] = "100"
    versions: ClassVar[tuple[str, ...]] = ("1.0.0", "1.1.0")

    cni_version: Annotated[str, override(rename="cniVersion", omit_if_default=False)] = (
        attrs.field(default="1.1.0", validator=shared.version_in(versions))
    )
    interfaces: tuple[Interface100, ...] = attrs.field(default=(), converter=_interfaces)
    ips: tuple[IPConfig100, ...] = attrs.field(default=(), converter=_ips)
    routes: tuple[Route, ...] = attrs.field(default=(), converter=shared.to_routes)
    dns: DNS = attrs.field(factory=DNS)
