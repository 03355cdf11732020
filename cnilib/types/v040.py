"""Results of spec versions 0.3.0, 0.3.1 and 0.4.0 (libcni ``types/040``).

Rules of this file:

* One wire shape: ``{cniVersion, interfaces?, ips?: [{version, interface?, address,
  gateway?}], routes?, dns}`` (libcni ``pkg/types/040/types.go``). Field order is the JSON
  order libcni writes.
* ``ips[].version`` is kept as written, even when it is not ``"4"``/``"6"`` or disagrees with
  the address: libcni does the same, and conversion to 0.2.0 then skips that address.
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

__all__ = ["Interface040", "IPConfig040", "Result040"]


@attrs.frozen(kw_only=True)
class Interface040:
    """An interface created by the attachment, 0.3.x/0.4.0 shape (SPEC.md, Section 5: Result Types
    ``interfaces``).

    Attributes:
        name: The interface name (always written, even when empty, as libcni does).
        mac: The hardware address, as written; ``""`` when not applicable.
        sandbox: The network namespace path; ``""`` for a host interface.
    """

    name: Annotated[str, override(omit_if_default=False)] = ""
    mac: str = ""
    sandbox: str = ""


@attrs.frozen(kw_only=True)
class IPConfig040:
    """An address assigned by the attachment, 0.3.x/0.4.0 shape (SPEC.md, Section 5: Result Types
    ``ips``).

    Attributes:
        version: ``"4"`` or ``"6"`` as the plugin wrote it (always written).
        interface: Index into the result's ``interfaces``, or ``None`` (IPAM results). An
            index beyond the list is accepted, as libcni accepts it.
        address: The address with its prefix, host bits kept.
        gateway: The default gateway of the subnet, or ``None``.
    """

    version: Annotated[str, override(omit_if_default=False)] = ""
    interface: int | None = attrs.field(default=None, validator=shared.uint)
    address: IPInterface = attrs.field(converter=shared.to_cidr)
    gateway: IPAddress | None = attrs.field(default=None, converter=shared.to_ip)


def _interfaces(value: Iterable[Interface040]) -> tuple[Interface040, ...]:
    # attrs converter (named, so that mypy's attrs plugin types __init__ from it).
    return value if type(value) is tuple else shared.to_tuple(value)


def _ips(value: Iterable[IPConfig040]) -> tuple[IPConfig040, ...]:
    # attrs converter (named, so that mypy's attrs plugin types __init__ from it).
    return value if type(value) is tuple else shared.to_tuple(value)


@attrs.frozen(kw_only=True)
class Result040(ResultMethods):
    """A 0.3.0, 0.3.1 or 0.4.0 ADD result (SPEC.md, Section 5: Result Types, as libcni
    ``types040.Result``).

    Attributes:
        cni_version: ``"0.3.0"``, ``"0.3.1"`` or ``"0.4.0"`` (wire name ``cniVersion``).
        interfaces: Interfaces created by the attachment.
        ips: Addresses assigned.
        routes: Routes created.
        dns: DNS settings; always written, ``{}`` when empty.
    """

    family: ClassVar[str] = "040"
    versions: ClassVar[tuple[str, ...]] = ("0.3.0", "0.3.1", "0.4.0")

    cni_version: Annotated[str, override(rename="cniVersion", omit_if_default=False)] = (
        attrs.field(default="0.4.0", validator=shared.version_in(versions))
    )
    interfaces: tuple[Interface040, ...] = attrs.field(default=(), converter=_interfaces)
    ips: tuple[IPConfig040, ...] = attrs.field(default=(), converter=_ips)
    routes: tuple[Route, ...] = attrs.field(default=(), converter=shared.to_routes)
    dns: Annotated[DNS, override(omit_if_default=False)] = attrs.field(factory=DNS)
