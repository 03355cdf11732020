"""What the conformance checker finds: one :class:`Check` per row, gathered in a :class:`Report`.

Rules of this file:

* Pure values (frozen attrs) and their renderings (a fixed-width table, a JSON object); no
  process, no file.
* A row is PASS, FAIL or SKIP; FAIL and SKIP always say why. A report passes when no row
  fails: a skipped step (CHECK before 0.4.0, GC and STATUS before 1.1.0, anything after a
  failed ADD that needs its result) is not a failure.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["Verdict", "Check", "Report"]


class Verdict(enum.StrEnum):
    """The outcome of one row."""

    #: The plugin did what the spec asks.
    PASS = "pass"
    #: It did not; :attr:`Check.reason` says what was wrong.
    FAIL = "fail"
    #: The step was not run; :attr:`Check.reason` says why (the version lacks the verb...).
    SKIP = "skip"


@attrs.frozen
class Check:
    """One row of the report: a step, the plugin it ran, and the verdict.

    Attributes:
        step: ``config`` (the plugin's configuration against its packaged schema),
            ``VERSION``, ``ADD``, ``ADD rollback`` (the DEL undoing a failed ADD),
            ``CHECK``, ``DEL``, ``DEL again``, ``GC``, ``GC (DEL)`` (GC deleting an attachment
            it found stale in the cache), ``STATUS``, ``bad config: not JSON`` or ``bad
            config: unsupported version``.
        plugin: The plugin type that ran; ``""`` for a failure of the runtime itself (a
            result it cannot use, a cache error).
        verdict: PASS, FAIL or SKIP.
        reason: Why it failed or was skipped; for a pass, a short note (``""`` when there is
            nothing to say).
    """

    step: str
    plugin: str
    verdict: Verdict
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        """The row as a JSON object (``step``, ``plugin``, ``verdict``, ``reason``)."""
        return {"step": self.step, "plugin": self.plugin, "verdict": str(self.verdict),
                "reason": self.reason}


@attrs.frozen
class Report:
    """Every row of one conformance run.

    Attributes:
        plugin: The plugin type under test.
        network: The network name the chain ran as.
        cni_version: The spec version it ran at.
        checks: The rows, in the order run.
        netns: The scratch network namespace the plugins ran in (``/run/netns/cnicf-…``),
            already removed when the report is returned; ``""`` when none was made.
    """

    plugin: str
    network: str
    cni_version: str
    checks: tuple[Check, ...]
    netns: str = ""

    @property
    def passed(self) -> bool:
        """Whether no row failed."""
        return not self.failures

    @property
    def failures(self) -> tuple[Check, ...]:
        """The failing rows, in order."""
        return tuple(c for c in self.checks if c.verdict is Verdict.FAIL)

    def verdicts(self) -> list[tuple[str, str, Verdict]]:
        """``(step, plugin, verdict)`` of every row: what a test asserts in one line."""
        return [(c.step, c.plugin, c.verdict) for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON object (what ``cnilib conformance --format json`` prints)."""
        return {"plugin": self.plugin, "network": self.network, "cniVersion": self.cni_version,
                "netns": self.netns, "passed": self.passed,
                "checks": [c.to_dict() for c in self.checks]}

    def table(self) -> str:
        """The rows as a fixed-width table, with a summary line (no trailing newline)."""
        rows = [("STEP", "PLUGIN", "VERDICT", "REASON")]
        rows += [(c.step, c.plugin or "(runtime)", c.verdict.name, c.reason)
                 for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip()
                 for r in rows]
        counts = {v: sum(1 for c in self.checks if c.verdict is v) for v in Verdict}
        lines.append(f"{self.plugin} at cniVersion {self.cni_version or '(none)'}: "
                     f"{'PASS' if self.passed else 'FAIL'} ({counts[Verdict.PASS]} passed, "
                     f"{counts[Verdict.FAIL]} failed, {counts[Verdict.SKIP]} skipped)")
        return "\n".join(lines)
