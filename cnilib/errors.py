"""The one error tree of cnilib.

Rules of this file:

* It imports nothing from cnilib: every other module imports it.
* Every failure that leaves a public cnilib function is an instance of :class:`CNIError`,
  which carries the spec's ``code``, ``msg`` and ``details`` (SPEC.md, section "Error").
* Each class also derives from the builtin that fits it (``ValueError``, ``LookupError``,
  ``FileNotFoundError``, ``TimeoutError``), so ``except ValueError`` keeps working.
* Messages are built in a variable and raised with ``from`` the cause.
* It is some 600 lines, over the 400 the package aims at, and stays one file: it is one
  public namespace (``cnilib.errors``) that every module imports, thirty classes of a few
  lines each with their docstrings (half the file is docstrings and blank lines); split, it
  would be private modules re-exported under this name, for no reader's gain.

The tree::

    CNIError
    ├── ConfigError (ValueError)                 a configuration cannot be used
    │   ├── ConfigValidationError                every problem at once, each located
    │   └── InvalidJSONError                     bytes that are not strict JSON (located)
    ├── ConfigNotFoundError (LookupError)        libcni NotFoundError
    │   └── NoConfigsFoundError                  libcni NoConfigsFoundError
    ├── InvalidIdentifierError (ValueError)      container ID, network or interface name, CNI_ARGS
    ├── InvalidVersionError (ValueError)         a version string that does not parse
    ├── IncompatibleVersionError (ValueError)    config vs plugin versions; verb not in version
    ├── ResultError (ValueError)                 a result (or VERSION reply) that does not parse
    ├── ConversionError (ValueError)             a result cannot be expressed in a version
    ├── InvalidPluginNameError (ValueError)      a plugin ``type`` that is not a safe file name
    ├── PluginNotFoundError (FileNotFoundError)  no executable of that type on the path
    ├── PluginError                              a plugin ran and failed (code/msg/details)
    │   ├── PluginTimeoutError (TimeoutError)    killed at its deadline
    │   └── PluginOutputError                    exit 0 but output unusable, or over the size cap
    ├── ExecutionError (OSError)                 the plugin could not be started at all
    ├── CacheError                               cache entry unreadable or unwritable
    ├── LockTimeoutError (TimeoutError)          the attachment lock was not had in time
    ├── AttachmentExistsError (FileExistsError)  ADD over a cached or in-progress attachment
    ├── AddError                                 ADD failed; says what the rollback did
    ├── SetupError                               a sandbox's setup failed; says what was undone
    ├── NotReadyError                            the runtime layer cannot attach sandboxes yet
    └── MultipleErrors (ExceptionGroup)          several failures where the spec says continue (GC)
        └── TeardownError                        every network a teardown could not remove
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "MAX_PROBLEMS",
    "ErrorCode",
    "Severity",
    "Problem",
    "CNIError",
    "ConfigError",
    "ConfigValidationError",
    "InvalidJSONError",
    "ConfigNotFoundError",
    "NoConfigsFoundError",
    "InvalidIdentifierError",
    "InvalidVersionError",
    "IncompatibleVersionError",
    "ResultError",
    "ConversionError",
    "InvalidPluginNameError",
    "PluginNotFoundError",
    "PluginError",
    "PluginTimeoutError",
    "PluginOutputError",
    "ExecutionError",
    "CacheError",
    "LockTimeoutError",
    "AttachmentExistsError",
    "AddError",
    "SetupError",
    "NotReadyError",
    "MultipleErrors",
    "TeardownError",
]


class ErrorCode(enum.IntEnum):
    """The well-known error codes of SPEC.md, section "Error" (0-99 are reserved by the spec).

    ``UNKNOWN`` (0), ``INVALID_NETNS`` (8) and ``INTERNAL`` (999) are not in the spec's table but
    are what libcni and its skel use, so plugins in the wild send them.
    """

    UNKNOWN = 0
    INCOMPATIBLE_CNI_VERSION = 1
    UNSUPPORTED_FIELD = 2
    UNKNOWN_CONTAINER = 3
    INVALID_ENVIRONMENT_VARIABLES = 4
    IO_FAILURE = 5
    DECODING_FAILURE = 6
    INVALID_NETWORK_CONFIG = 7
    INVALID_NETNS = 8
    TRY_AGAIN_LATER = 11
    PLUGIN_NOT_AVAILABLE = 50
    LIMITED_CONNECTIVITY = 51
    INTERNAL = 999


def _code(value: int) -> ErrorCode | int:
    # Plugin-specific codes (>= 100) are legal (SPEC.md, Section 5: Result Types); keep them as
    # plain ints.
    try:
        return ErrorCode(value)
    except ValueError:
        return value


#: At most this many problems of each severity are listed for one document; those beyond it
#: are counted in one last problem of that severity (rule ``"more"``, at the document), so
#: that a hostile file with a problem every few bytes costs bounded memory to report.
MAX_PROBLEMS = 1000


class Severity(enum.Enum):
    """How bad a :class:`Problem` is.

    ``ERROR``: loading refuses the input. ``WARNING``: the spec frowns on it but libcni and the
    reference plugins accept it, so loading goes on.
    """

    ERROR = "error"
    WARNING = "warning"


class Problem:
    """One thing wrong with an input, located.

    Attributes:
        pointer: The RFC 6901 JSON pointer of the offending value (``""`` for the whole document).
        message: What is wrong, in words a person can act on.
        severity: :class:`Severity`.
        file: The file the input came from, if any.
        line: 1-based line of the offending value in that file, if known.
        column: 1-based column, if known.
        rule: A short identifier of the rule (the schema keyword or the loader rule).
    """

    __slots__ = ("column", "file", "line", "message", "pointer", "rule", "severity")
    pointer: str
    message: str
    severity: Severity
    file: str | None
    line: int | None
    column: int | None
    rule: str

    def __init__(
        self,
        pointer: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        rule: str = "",
    ) -> None:
        # Frozen like the attrs values elsewhere (errors.py imports no attrs so that the bottom
        # layer stays dependency-free): fields are set once here, and __setattr__ refuses.
        _set = object.__setattr__
        _set(self, "pointer", pointer)
        _set(self, "message", message)
        _set(self, "severity", severity)
        _set(self, "file", file)
        _set(self, "line", line)
        _set(self, "column", column)
        _set(self, "rule", rule)

    def __setattr__(self, name: str, value: object) -> None:
        msg = "Problem is immutable"
        raise AttributeError(msg)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_problem, self._key())

    def _key(self) -> tuple[Any, ...]:
        return (self.pointer, self.message, self.severity, self.file, self.line, self.column,
                self.rule)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def location(self) -> str:
        """``file:line:column`` when known, else ``""``."""
        if self.file is None:
            return ""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.file is not None else ""
        at = self.pointer or "/"
        return f"{where}{self.severity.value}: {self.message} (at {at})"

    def __repr__(self) -> str:
        return (f"Problem(pointer={self.pointer!r}, message={self.message!r}, "
                f"severity={self.severity}, file={self.file!r}, line={self.line!r}, "
                f"column={self.column!r}, rule={self.rule!r})")


def _problem(*fields: Any) -> Problem:
    # Unpickling helper: Problem's fields are positional in _key() order.
    pointer, message, severity, file, line, column, rule = fields
    return Problem(pointer, message, severity=severity, file=file, line=line, column=column,
                   rule=rule)


class CNIError(Exception):
    """Root of every cnilib error; carries the spec's error triple.

    Args:
        msg: The message (SPEC.md, Section 5: Result Types ``msg``).
        code: The spec code; :attr:`ErrorCode.UNKNOWN` unless a subclass says otherwise.
        details: Longer detail (SPEC.md, Section 5: Result Types ``details``).

    ``str(err)`` is ``msg`` or ``msg; details``, as libcni's ``types.Error`` prints.
    """

    default_code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(self, msg: str, *, code: int | None = None, details: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.code: ErrorCode | int = _code(self.default_code if code is None else code)
        self.details = details

    def __str__(self) -> str:
        return f"{self.msg}; {self.details}" if self.details else self.msg

    def to_dict(self, cni_version: str | None = None) -> dict[str, Any]:
        """The error as the spec's error JSON object (SPEC.md, section "Error")."""
        out: dict[str, Any] = {}
        if cni_version is not None:
            out["cniVersion"] = cni_version
        out["code"] = int(self.code)
        out["msg"] = self.msg
        if self.details:
            out["details"] = self.details
        return out


class ConfigError(CNIError, ValueError):
    """A network configuration cannot be used (SPEC.md, Section 1: Network configuration format)."""

    default_code = ErrorCode.INVALID_NETWORK_CONFIG


class ConfigValidationError(ConfigError):
    """A configuration broke one or more rules; :attr:`problems` lists every one, located.

    The message names the first error and how many more there are; ``problems`` also holds the
    warnings found on the way, so that a linter can show everything in one pass.
    """

    def __init__(self, msg: str, problems: tuple[Problem, ...] = (), *, details: str = "") -> None:
        if not details and problems:
            details = "\n".join(str(p) for p in problems)
        super().__init__(msg, details=details)
        self.problems = problems

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems of severity :attr:`Severity.ERROR`."""
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The problems of severity :attr:`Severity.WARNING`."""
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


class InvalidJSONError(ConfigError):
    """Bytes that are not strict JSON (RFC 8259), located by line and column.

    Also raised for what Python's ``json`` would accept but JSON does not (``NaN``, lone
    surrogates), and for nesting or numbers beyond cnilib's bounds.
    """

    default_code = ErrorCode.DECODING_FAILURE

    def __init__(
        self,
        msg: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        where = ""
        if file is not None:
            where = f"{file}:{line}:{column}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line} column {column}: "
        super().__init__(f"{where}{msg}")
        self.problem = Problem("", msg, file=file, line=line, column=column, rule="json")


class ConfigNotFoundError(CNIError, LookupError):
    """No configuration of that name (libcni ``NotFoundError``)."""

    default_code = ErrorCode.INVALID_NETWORK_CONFIG

    def __init__(self, msg: str, *, directory: str = "", name: str = "") -> None:
        super().__init__(msg)
        self.directory = directory
        self.name = name


class NoConfigsFoundError(ConfigNotFoundError):
    """No configuration files at all in the directory (libcni ``NoConfigsFoundError``)."""


class InvalidIdentifierError(CNIError, ValueError):
    """A container ID, network name, interface name or ``CNI_ARGS`` entry breaks its rule.

    The code is the one libcni's ``pkg/utils`` validators give (3, 4 or 7).
    """

    default_code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES


class InvalidVersionError(CNIError, ValueError):
    """A version string that does not parse as a CNI version."""

    default_code = ErrorCode.DECODING_FAILURE


class IncompatibleVersionError(CNIError, ValueError):
    """The config's version is not one the plugin (or the verb) supports."""

    default_code = ErrorCode.INCOMPATIBLE_CNI_VERSION


class ResultError(CNIError, ValueError):
    """A plugin result, error object or VERSION reply that does not parse (SPEC.md, Section 5:
    Result Types)."""

    default_code = ErrorCode.DECODING_FAILURE


class ConversionError(CNIError, ValueError):
    """A result cannot be expressed in the requested version (SPEC.md, section "Version")."""

    default_code = ErrorCode.INCOMPATIBLE_CNI_VERSION


class InvalidPluginNameError(CNIError, ValueError):
    """A plugin ``type`` that is not a safe executable name (CVE-2021-20206)."""

    default_code = ErrorCode.INVALID_NETWORK_CONFIG


class PluginNotFoundError(CNIError, FileNotFoundError):
    """No regular executable file of that ``type`` in the configured plugin directories."""

    def __init__(self, msg: str, *, plugin: str = "", paths: tuple[str, ...] = ()) -> None:
        super().__init__(msg)
        self.plugin = plugin
        self.paths = paths


class PluginError(CNIError):
    """A plugin ran and reported failure (SPEC.md, section "Error").

    ``code``, ``msg`` and ``details`` are the plugin's own. The runtime context is attached at
    the boundary: :attr:`plugin` (the ``type``), :attr:`command` (``ADD``, ``DEL``...),
    :attr:`exit_status` (negative: killed by that signal), :attr:`stderr` (a bounded tail).
    """

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        details: str = "",
        plugin: str = "",
        command: str = "",
        exit_status: int | None = None,
        stderr: bytes = b"",
    ) -> None:
        super().__init__(msg, code=code, details=details)
        self.plugin = plugin
        self.command = command
        self.exit_status = exit_status
        self.stderr = stderr

    @property
    def retryable(self) -> bool:
        """True for ``TRY_AGAIN_LATER`` (SPEC.md, Section 5: Result Types: "the runtime should
        retry")."""
        return self.code == ErrorCode.TRY_AGAIN_LATER

    def __str__(self) -> str:
        base = super().__str__()
        if self.plugin or self.command:
            return f"plugin {self.plugin!r} failed ({self.command or '?'}): {base}"
        return base


class PluginTimeoutError(PluginError, TimeoutError):
    """The plugin did not finish by its deadline; its whole process group was killed."""


class PluginOutputError(PluginError):
    """The plugin's output was unusable: not JSON, not a result, or over the size cap."""

    default_code = ErrorCode.DECODING_FAILURE


class ExecutionError(CNIError, OSError):
    """The plugin executable could not be started (permission, format, resource limits)."""

    default_code = ErrorCode.IO_FAILURE


class CacheError(CNIError):
    """A cache entry could not be written, or an entry that must be read is unusable."""

    default_code = ErrorCode.IO_FAILURE


class LockTimeoutError(CNIError, TimeoutError):
    """The lock serialising operations on one attachment was not had in time."""

    default_code = ErrorCode.TRY_AGAIN_LATER


class AttachmentExistsError(CNIError, FileExistsError):
    """An ADD of an attachment that is already cached, or whose earlier ADD never finished.

    Nothing ran: the existing attachment is left as it is. DEL it first (a DEL also undoes an
    ADD whose process died, from its "ADD in progress" record); see ``docs/running.md``.

    Attributes:
        network: The network name.
        container_id: The container ID.
        ifname: The interface name.
        in_progress: True when what exists is an unfinished ADD, not a cached result.
    """

    default_code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES

    def __init__(
        self,
        msg: str,
        *,
        network: str = "",
        container_id: str = "",
        ifname: str = "",
        in_progress: bool = False,
        details: str = "",
    ) -> None:
        super().__init__(msg, details=details)
        self.network = network
        self.container_id = container_id
        self.ifname = ifname
        self.in_progress = in_progress


class AddError(CNIError):
    """An ADD chain failed part-way.

    ``msg`` already says everything once: what failed, the cause's message and details, and
    what the rollback did. ``str(err)`` is ``msg`` alone (not ``msg; details``, which would
    repeat the cause's details); ``code`` and ``details`` are the cause's, for the error JSON.

    Attributes:
        cause: The error of the plugin (or cache write) that failed.
        rolled_back: Plugin types for which the rollback DEL succeeded, in the order run.
        rollback_errors: Errors the rollback DEL met (empty when it was clean or not run).
        outcome: What the rollback did, in words (``"rolled back bridge"``), or ``""``.
    """

    def __init__(
        self,
        msg: str,
        *,
        cause: CNIError,
        rolled_back: tuple[str, ...] = (),
        rollback_errors: tuple[CNIError, ...] = (),
        outcome: str = "",
    ) -> None:
        super().__init__(msg, code=int(cause.code), details=cause.details)
        self.cause = cause
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors
        self.outcome = outcome

    def __str__(self) -> str:
        return self.msg


class MultipleErrors(ExceptionGroup[CNIError], CNIError):  # noqa: N818 (a group, not one error)
    """Several failures where the spec says to continue and return all errors (SPEC.md, Section 2:
    Execution Protocol GC)."""

    def __new__(cls, msg: str, errors: list[CNIError] | tuple[CNIError, ...]) -> MultipleErrors:
        return super().__new__(cls, msg, list(errors))

    def __init__(self, msg: str, errors: list[CNIError] | tuple[CNIError, ...]) -> None:
        # ExceptionGroup keeps msg/exceptions; CNIError's triple is filled by hand because
        # ExceptionGroup.__init__ must receive the same arguments as __new__.
        ExceptionGroup.__init__(self, msg, list(errors))
        self.msg = msg
        first = errors[0] if errors else None
        self.code = first.code if first is not None else ErrorCode.UNKNOWN
        self.details = "\n".join(str(e) for e in errors)

    def __str__(self) -> str:
        n = len(self.exceptions)
        return f"{self.msg} ({n} error{'s' if n != 1 else ''}): {self.details}"

    def derive(self, excs: Any) -> MultipleErrors:  # type: ignore[override]
        """A group of the same kind over a subset (used by ``except*`` splitting)."""
        return MultipleErrors(self.msg, list(excs))



class SetupError(CNIError):
    """Attaching a sandbox to its networks failed; what was attached is rolled back.

    Raised by ``Networks.setup`` (:mod:`cnilib.networks`). The message names the network and
    interface that failed, the container, and what the rollback did.

    Attributes:
        container_id: The sandbox's container ID.
        network: The network whose ADD failed (the first in attach order, when several did).
        ifname: Its interface name in the sandbox.
        cause: That network's error (usually an :class:`AddError`).
        rolled_back: ``(network, ifname)`` of every attachment removed again, in the order
            removed (the reverse of setup).
        rollback_errors: Errors of the removals that failed (their attachments stay cached,
            so a later teardown retries them).
        other_errors: With ``parallel=True``, the errors of the other networks that failed.
    """

    def __init__(
        self,
        msg: str,
        *,
        container_id: str,
        network: str,
        ifname: str,
        cause: CNIError,
        rolled_back: tuple[tuple[str, str], ...] = (),
        rollback_errors: tuple[CNIError, ...] = (),
        other_errors: tuple[CNIError, ...] = (),
    ) -> None:
        super().__init__(msg, code=int(cause.code), details=cause.details)
        self.container_id = container_id
        self.network = network
        self.ifname = ifname
        self.cause = cause
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors
        self.other_errors = other_errors


class NotReadyError(CNIError):
    """The runtime layer is not ready to attach sandboxes (``Networks.status``).

    Code 50, "plugin not available" (SPEC.md, section *STATUS*).

    Attributes:
        problems: Every reason, one sentence each.
    """

    default_code = ErrorCode.PLUGIN_NOT_AVAILABLE

    def __init__(self, msg: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(msg, details="; ".join(problems))
        self.problems = problems


class TeardownError(MultipleErrors):
    """A teardown tried every network; these are the ones it could not remove.

    Each error carries a note naming its network and interface. The attachments that failed
    stay cached, so the teardown can be retried.
    """

    def derive(self, excs: Any) -> TeardownError:  # type: ignore[override]
        """A group of the same kind over a subset (used by ``except*`` splitting)."""
        return TeardownError(self.msg, list(excs))
