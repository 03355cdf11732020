"""Results of spec versions 0.1.0 and 0.2.0: ``ip4`` and ``ip6`` (libcni ``types/020``).

Rules of this file:

* One wire shape: ``{cniVersion, ip4?: {ip, gateway?, routes?}, ip6?: {...}, dns}``
  (libcni ``pkg/types/020/types.go``). Field order is the JSON order libcni writes.
* Like libcni, it does not check that ``ip4`` holds an IPv4 address, nor that a result has an
  address at all; converting *to* 0.1.0/0.2.0 is what needs one (:mod:`cnilib.convert`).
* No logic beyond constructor checks; conversion lives in :mod:`cnilib.convert`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import attrs
from cattrs.gen import override

# The values by name, the constructor helpers (converters, validators) qualified.
import cnilib.types.common as shared

from .common import DNS, IPAddress, IPInterface, ResultMethods, Route

__all__ = ["IPConfig020", "Result020"]


@attrs.frozen(kw_only=True)
class IPConfig020:
    """One address family of a 0.1.0/0.2.0 result (the ``ip4`` or ``ip6`` object).

    Attributes:
        ip: The address with its prefix (wire name ``ip``), host bits kept.
        gateway: The default gateway, or ``None``.
        routes: The routes of this family; every route field is decoded.
    """

    ip: IPInterface = attrs.field(converter=shared.to_cidr)
    gateway: IPAddress | None = attrs.field(default=None, converter=shared.to_ip)
    routes: tuple[Route, ...] = attrs.field(default=(), converter=shared.to_routes)


@attrs.frozen(kw_only=True)
class Result020(ResultMethods):
    """A 0.1.0 or 0.2.0 ADD result (SPEC.md, Section 5: Result Types, as libcni
    ``types020.Result``).

    Attributes:
        cni_version: ``"0.1.0"`` or ``"0.2.0"`` (wire name ``cniVersion``).
        ip4: The IPv4 configuration, or ``None``.
        ip6: The IPv6 configuration, or ``None``.
        dns: DNS settings; always written, ``{}`` when empty.
    """

    family: ClassVar[str] = "020"
    versions: ClassVar[tuple[str, ...]] = ("0.1.0", "0.2.0")

    cni_version: Annotated[str, override(rename="cniVersion", omit_if_default=False)] = (
        attrs.field(default="0.2.0", validator=shared.version_in(versions))
    )
    ip4: IPConfig020 | None = None
    ip6: IPConfig020 | None = None
    dns: Annotated[DNS, override(omit_if_default=False)] = attrs.field(factory=DNS)
