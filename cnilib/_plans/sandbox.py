"""The plans of the runtime layer: a sandbox's attachments, set up, torn down and checked.

Rules of this file:

* It is pure, like :mod:`cnilib._plans.chains`: each plan is a generator that yields the steps below
  and receives their outcomes; ``networks.py`` (threads) and ``aionetworks.py`` (asyncio) are
  the two drivers that perform them with ``CNIConfig`` and ``AsyncCNIConfig``.
* Every decision of the layer lives here once: interface names, which arguments go to which
  network, the order (setup in order, teardown in reverse), the rollback of a half-done setup
  (reverse order, every removal tried: G13 in docs/guarantees.md), and collecting every
  teardown error (G14).
* Arguments are checked before the first step: nothing is attached for a bad request.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import attrs

from cnilib.errors import CNIError, ConfigError, SetupError, TeardownError
from cnilib.identifiers import check_interface_name, check_network_name
from cnilib.pod import NetworkResult, PodResult

if TYPE_CHECKING:
    from cnilib.config import NetworkConfigList
    from cnilib.protocol import GCAttachment, RuntimeConf
    from cnilib.types import Result

__all__ = [
    "Attachment", "Add", "Interrupted", "Remove", "Check", "Collect", "Status", "LoopbackUp",
    "PodStep",
    "PodPlan", "NetworkRequest",
    "allocate_ifnames", "for_network", "order_key", "setup", "teardown", "check", "gc",
    "status",
]

#: What ``setup(networks=...)`` takes: network names, or ``(name, ifname)`` pairs.
NetworkRequest: TypeAlias = "str | tuple[str, str]"


@attrs.frozen(kw_only=True)
class Attachment:
    """One network of a sandbox: its configuration and the RuntimeConf it runs with."""

    network: str
    ifname: str
    net: NetworkConfigList = attrs.field(repr=False)
    rt: RuntimeConf = attrs.field(repr=False)

    @property
    def label(self) -> str:
        """``network/ifname``, how messages name an attachment."""
        return f"{self.network}/{self.ifname}"


@attrs.frozen
class Add:
    """ADD these attachments, concurrently when there are several.

    Outcome: one value per attachment, in order: its result, or the exception it raised
    (cancellations and interrupts included: the plan rolls back, then lets them through).
    """

    attachments: tuple[Attachment, ...]


@attrs.frozen
class Interrupted:
    """An :class:`Add` outcome when the call itself was cancelled or interrupted meanwhile.

    ``outcomes`` are the per-attachment outcomes as for :class:`Add`; ``error`` is raised
    once everything that was attached is removed again.
    """

    outcomes: tuple[object, ...]
    error: BaseException


@attrs.frozen
class Remove:
    """DEL one attachment; outcome ``None``; a failure is thrown back into the plan."""

    attachment: Attachment


@attrs.frozen
class Check:
    """CHECK one attachment; outcome ``None``; a failure is thrown back into the plan."""

    attachment: Attachment


@attrs.frozen
class Collect:
    """GC one network with its valid attachments; outcome ``None``; failures thrown back."""

    net: NetworkConfigList = attrs.field(repr=False)
    valid: tuple[GCAttachment, ...]


@attrs.frozen
class Status:
    """STATUS of one network; outcome ``None``; a failure is thrown back into the plan."""

    net: NetworkConfigList = attrs.field(repr=False)


@attrs.frozen
class LoopbackUp:
    """Bring ``lo`` up in this namespace without a plugin; outcome ``None``; failures thrown."""

    netns: str


PodStep: TypeAlias = Add | Remove | Check | Collect | Status | LoopbackUp
PodPlan: TypeAlias = Generator[PodStep, object, Any]


# --- what goes where --------------------------------------------------------------------------

def allocate_ifnames(requests: Sequence[NetworkRequest], prefix: str) -> tuple[tuple[str, str],
                                                                                ...]:
    """``(network, ifname)`` for each request, in order.

    A pair keeps its interface name; a bare name gets the lowest ``<prefix><n>`` that is
    neither given to an earlier request nor asked for by any pair, so ``["a", "b"]`` gets
    ``eth0`` and ``eth1`` (go-cni's and ocicni's rule) and explicit names never clash.

    Raises:
        ConfigError: a request is neither a name nor a pair, or two ask for one interface.
        InvalidIdentifierError: a network or interface name breaks its rule.
    """
    pairs: list[tuple[str, str | None]] = []
    for request in requests:
        given: object = request  # checked: a caller may pass anything
        if isinstance(given, str):
            pairs.append((given, None))
        elif (isinstance(given, tuple | list) and len(given) == 2
              and all(isinstance(x, str) for x in given)):
            pairs.append((given[0], given[1]))
        else:
            msg = f"a network is a name or a (name, ifname) pair, not {request!r}"
            raise ConfigError(msg)
    taken = {ifname for _, ifname in pairs if ifname is not None}
    explicit = [ifname for _, ifname in pairs if ifname is not None]
    if len(explicit) != len(taken):
        dup = sorted({n for n in explicit if explicit.count(n) > 1})
        msg = f"interface name(s) {', '.join(dup)} asked for more than once"
        raise ConfigError(msg)
    out: list[tuple[str, str]] = []
    n = 0
    for network, asked in pairs:
        check_network_name(network)
        ifname = asked
        if ifname is None:
            while f"{prefix}{n}" in taken:
                n += 1
            ifname = f"{prefix}{n}"
            taken.add(ifname)
        check_interface_name(ifname)
        out.append((network, ifname))
    return tuple(out)


def _is_per_network(value: Mapping[str, object], names: Collection[str]) -> bool:
    return bool(value) and all(k in names and not isinstance(v, str) for k, v in value.items())


def for_network(value: Any, network: str, names: Collection[str]) -> Any:
    """The part of a setup-wide argument that applies to ``network``.

    A mapping whose keys are all names of this setup's networks (and whose values are not
    strings) is per network: ``network`` gets its own entry, or nothing. Anything else applies
    to every network.
    """
    if isinstance(value, Mapping) and _is_per_network(value, names):
        return value.get(network)
    return value


_NATURAL = re.compile(r"(\d+)")


def order_key(ifname: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Sort key of setup order for cached attachments: ``lo`` first, then ``eth2`` < ``eth10``.

    The cache does not record the order of a setup; the interface names allocated by
    :func:`allocate_ifnames` do.
    """
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in _NATURAL.split(ifname) if p)
    return (0 if ifname == "lo" else 1, parts)


# --- the plans --------------------------------------------------------------------------------

def _labels(done: Sequence[Attachment]) -> str:
    return ", ".join(a.label for a in done) if done else "nothing"


def _rollback(done: list[Attachment]) -> Generator[PodStep, object,
                                                   tuple[list[Attachment], list[CNIError]]]:
    removed: list[Attachment] = []
    problems: list[CNIError] = []
    for att in reversed(done):
        try:
            yield Remove(att)
            removed.append(att)
        except CNIError as err:  # keep undoing the others; the cache keeps this one
            err.add_note(f"while rolling back {att.label}")
            problems.append(err)
    return removed, problems


def setup(attachments: Sequence[Attachment], *, parallel: bool, container_id: str,
          loopback_netns: str | None = None) -> Generator[PodStep, object, PodResult]:
    """Attach every network, in order or all at once; roll back everything on any failure.

    ``loopback_netns``: bring ``lo`` up there first, without a plugin (there is none).

    Raises:
        SetupError: a network failed; the others were removed again, in reverse.
        BaseException: a cancellation or interrupt, after the same rollback.
    """
    if loopback_netns is not None:
        try:
            yield LoopbackUp(loopback_netns)
        except CNIError as err:
            msg = (f'setup of container "{container_id}" failed on lo: {err}; '
                   "nothing to roll back")
            raise SetupError(msg, container_id=container_id, network="", ifname="lo",
                             cause=err) from err
    if parallel:
        # lo on its own first (attached first, removed last: docs/runtimes.md), then the
        # networks all at once. In one group with them, lo's own rollback on a cancellation
        # would race theirs.
        first = [(a,) for a in attachments if a.ifname == "lo"]
        rest = tuple(a for a in attachments if a.ifname != "lo")
        groups = first + ([rest] if rest else [])
    else:
        groups = [(a,) for a in attachments]
    done: list[Attachment] = []
    results: list[NetworkResult] = []
    for group in groups:
        outcomes = cast("Sequence[object] | Interrupted", (yield Add(group)))
        interrupt = None
        if isinstance(outcomes, Interrupted):
            interrupt, outcomes = outcomes.error, outcomes.outcomes
        failures: list[tuple[Attachment, BaseException]] = []
        for att, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures.append((att, outcome))
            else:
                done.append(att)
                results.append(NetworkResult(network=att.network, ifname=att.ifname,
                                             result=cast("Result", outcome),
                                             netns=att.rt.netns))
        if failures or interrupt is not None:
            yield from _fail(done, failures, container_id, interrupt)
    try:
        return PodResult.from_results(results)
    except CNIError as err:
        yield from _fail(done, [(done[-1], err)], container_id)
        raise  # pragma: no cover - _fail always raises


def _fail(done: list[Attachment], failures: list[tuple[Attachment, BaseException]],
          container_id: str, interrupt: BaseException | None = None) -> Generator[
        PodStep, object, None]:
    removed, problems = yield from _rollback(done)
    if interrupt is not None:
        raise interrupt
    for _, exc in failures:
        if not isinstance(exc, CNIError):
            raise exc  # cancellation or interrupt: rolled back, now let it through
    att, first = failures[0]
    cause = cast(CNIError, first)
    others = tuple(cast(CNIError, e) for _, e in failures[1:])
    outcome = f"rolled back {_labels(removed)}"
    if problems:
        outcome += f"; rollback failed for {len(problems)}: " + "; ".join(map(str, problems))
    more = f" ({len(others)} other network(s) failed too)" if others else ""
    msg = (f'setup of container "{container_id}" failed on network "{att.network}" '
           f"(interface {att.ifname}){more}: {cause}; {outcome}")
    raise SetupError(msg, container_id=container_id, network=att.network, ifname=att.ifname,
                     cause=cause, rolled_back=tuple((a.network, a.ifname) for a in removed),
                     rollback_errors=tuple(problems), other_errors=others) from cause


def _every(steps: Iterable[tuple[PodStep, str]], problems: Sequence[CNIError] = ()
           ) -> Generator[PodStep, object, list[CNIError]]:
    """Yield every step, whatever the others did; return ``problems`` plus every failure,
    each noted with the label given beside its step."""
    failed = list(problems)
    for step, label in steps:
        try:
            yield step
        except CNIError as err:
            err.add_note(label)
            failed.append(err)
    return failed


def teardown(attachments: Sequence[Attachment], *, container_id: str,
             problems: Sequence[CNIError] = ()) -> Generator[PodStep, object, None]:
    """Remove every attachment in reverse order; try them all; raise every error together.

    ``problems`` are the attachments that could not even be prepared (an unreadable cached
    configuration); they are raised with the rest.

    Raises:
        TeardownError: the removals that failed (their cache entries are kept).
    """
    failed = yield from _every(
        ((Remove(att), f"network {att.network}, interface {att.ifname}")
         for att in reversed(attachments)), problems)
    if failed:
        msg = f'teardown of container "{container_id}" left {len(failed)} network(s)'
        raise TeardownError(msg, failed)


def check(attachments: Sequence[Attachment], *, container_id: str,
          problems: Sequence[CNIError] = ()) -> Generator[PodStep, object, None]:
    """CHECK every attachment in setup order; raise every failure together.

    Raises:
        MultipleErrors: every attachment whose CHECK failed (or could not be prepared),
            each with a note naming it.
    """
    from cnilib.errors import MultipleErrors

    failed = yield from _every(
        ((Check(att), f"network {att.network}, interface {att.ifname}") for att in attachments),
        problems)
    if failed:
        msg = f'check of container "{container_id}" failed for {len(failed)} network(s)'
        raise MultipleErrors(msg, failed)


def gc(targets: Sequence[tuple[NetworkConfigList, Sequence[GCAttachment]]]) -> Generator[
        PodStep, object, None]:
    """GC every network once, with its valid attachments; raise every failure together.

    Raises:
        MultipleErrors: every network whose GC failed, each with a note naming it.
    """
    from cnilib.errors import MultipleErrors

    failed = yield from _every(
        (Collect(net, tuple(valid)), f"GC of network {net.name}") for net, valid in targets)
    if failed:
        msg = f"GC failed for {len(failed)} network(s)"
        raise MultipleErrors(msg, failed)


def status(problems: Sequence[str], chosen: Sequence[NetworkConfigList]) -> Generator[
        PodStep, object, None]:
    """Readiness: the static problems found, else STATUS of every chosen 1.1.0+ network.

    Raises:
        NotReadyError: every reason, after every network was asked.
    """
    from cnilib.errors import NotReadyError
    from cnilib.version import supports_status

    found = list(problems)
    if not found:
        for net in chosen:
            if supports_status(net.cni_version):
                try:
                    yield Status(net)
                except CNIError as err:
                    found.append(f'network "{net.name}": {err}')
    if found:
        raise NotReadyError("CNI networks are not ready", tuple(found))
