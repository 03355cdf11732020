"""In-process fake plugins for testing code that uses cnilib (trio.testing, httpx MockTransport).

Rules of this file:

* :class:`FakeExecutor` and :class:`AsyncFakeExecutor` satisfy ``cnilib.invoke.Executor`` and
  ``AsyncExecutor``: pass one as ``executor=`` to :class:`~cnilib.api.CNIConfig` or
  :class:`~cnilib.aio.AsyncCNIConfig` and no process is ever started.
* They record every :class:`~cnilib.protocol.Invocation` (thread-safe), in order.
* A handler decides each reply; the default behaves like a well-mannered plugin (echoes the
  prevResult on ADD, succeeds silently otherwise, supports every version on VERSION).
* The small builders (:func:`success`, :func:`error_reply`, :func:`make_result`...) produce the
  replies a real plugin would write, so tests read like the SPEC's examples.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

from cnilib._json import JSON, JSONObject, dumps, loads
from cnilib.errors import PluginNotFoundError
from cnilib.identifiers import check_plugin_type
from cnilib.protocol import Command, Completed, Invocation
from cnilib.version import SUPPORTED_VERSIONS, result_family

__all__ = [
    "Reply",
    "Handler",
    "AsyncHandler",
    "FakeExecutor",
    "AsyncFakeExecutor",
    "default_handler",
    "request_of",
    "success",
    "error_reply",
    "timed_out",
    "make_result",
    "version_reply",
]

#: What a handler may return: a full :class:`~cnilib.protocol.Completed`, a JSON object
#: (written on stdout, exit 0), raw stdout bytes (exit 0), or ``None`` (no output, exit 0).
Reply: TypeAlias = "Completed | JSONObject | bytes | None"
#: A handler: decides the reply to one invocation; it may raise to simulate an exec failure.
Handler: TypeAlias = Callable[[Invocation], Reply]
#: A handler for :class:`AsyncFakeExecutor`: plain or ``async``.
AsyncHandler: TypeAlias = Callable[[Invocation], "Reply | Awaitable[Reply]"]


def request_of(inv: Invocation) -> JSONObject:
    """The request object an invocation carries on stdin.

    Raises:
        InvalidJSONError: the stdin is not a JSON object (never, for cnilib's own requests).
    """
    obj = loads(inv.stdin)
    if not isinstance(obj, dict):
        from cnilib.errors import InvalidJSONError

        msg = "the request is not a JSON object"
        raise InvalidJSONError(msg)
    return obj


def success(result: JSONObject | None = None, *, stderr: bytes = b"",
            duration: float = 0.001) -> Completed:
    """A successful run: exit 0 with ``result`` (if any) as JSON on stdout."""
    stdout = dumps(result) if result is not None else b""
    return Completed(0, stdout, stderr, duration)


def error_reply(code: int, msg: str, details: str = "", *, exit_status: int = 1,
                cni_version: str = "1.1.0", stderr: bytes = b"") -> Completed:
    """A failed run with the SPEC.md, Section 5: Result Types error object on stdout."""
    obj: JSONObject = {"cniVersion": cni_version, "code": code, "msg": msg}
    if details:
        obj["details"] = details
    return Completed(exit_status, dumps(obj), stderr, 0.001)


def timed_out(*, stderr: bytes = b"", duration: float = 1.0) -> Completed:
    """A run the executor killed at its deadline (SIGKILL to the group)."""
    return Completed(-9, b"", stderr, duration, timed_out=True)


def make_result(cni_version: str = "1.1.0", *, ifname: str = "eth0",
                address: str = "10.0.0.2/24", gateway: str | None = "10.0.0.1",
                netns: str = "/var/run/netns/test") -> JSONObject:
    """A plausible ADD result in ``cni_version``'s shape (SPEC.md, section "ADD Success").

    0.1.0/0.2.0 get ``ip4``; 0.3.x/0.4.0 get ``interfaces`` and ``ips`` with ``version``;
    1.x get ``interfaces`` and ``ips`` without it.
    """
    family = result_family(cni_version)
    if family == "020":
        ip4: JSONObject = {"ip": address}
        if gateway:
            ip4["gateway"] = gateway
        return {"cniVersion": cni_version, "ip4": ip4, "dns": {}}
    ip: JSONObject = {"address": address, "interface": 0}
    if gateway:
        ip["gateway"] = gateway
    if family == "040":
        ip["version"] = "6" if ":" in address else "4"
    iface: JSONObject = {"name": ifname, "mac": "02:00:00:00:00:01", "sandbox": netns}
    return {"cniVersion": cni_version, "interfaces": [iface], "ips": [ip]}


def version_reply(*versions: str, cni_version: str = "1.1.0") -> JSONObject:
    """A VERSION answer (SPEC.md, section "VERSION Success"); every released version by default."""
    supported: list[JSON] = list(versions or SUPPORTED_VERSIONS)
    return {"cniVersion": cni_version, "supportedVersions": supported}


def default_handler(inv: Invocation) -> Reply:
    """A well-mannered plugin: ADD echoes prevResult (or makes a result), VERSION supports all."""
    if inv.command is Command.VERSION:
        return version_reply()
    if inv.command is not Command.ADD:
        return None
    request = request_of(inv)
    prev = request.get("prevResult")
    if isinstance(prev, dict):
        return prev
    version = request.get("cniVersion")
    version = version if isinstance(version, str) and version in SUPPORTED_VERSIONS else "1.1.0"
    return make_result(version, ifname=inv.env.get("CNI_IFNAME", "eth0") or "eth0",
                       netns=inv.env.get("CNI_NETNS", ""))


def _completed(reply: Reply) -> Completed:
    if isinstance(reply, Completed):
        return reply
    if isinstance(reply, bytes):
        return Completed(0, reply, b"", 0.001)
    return success(reply)


class _Recorder:
    def __init__(
        self,
        handlers: Callable[..., object] | Mapping[str, Callable[..., object]] | None,
        missing: Sequence[str],
    ) -> None:
        self._handlers = handlers
        self._missing = frozenset(missing)
        self._lock = threading.Lock()
        #: Every invocation run, in order.
        self.invocations: list[Invocation] = []

    def find(self, plugin_type: str, paths: Sequence[str]) -> str:
        """Pretend ``plugin_type`` is installed in the first directory of ``paths``.

        Raises:
            InvalidPluginNameError: the type is not a safe executable name.
            PluginNotFoundError: the type is in ``missing``, has no handler in a handler
                mapping, or ``paths`` is empty.
        """
        check_plugin_type(plugin_type)
        known = not isinstance(self._handlers, Mapping) or plugin_type in self._handlers
        if not paths or plugin_type in self._missing or not known:
            msg = f'failed to find plugin "{plugin_type}" in path [{" ".join(paths)}]'
            raise PluginNotFoundError(msg, plugin=plugin_type, paths=tuple(paths))
        return f"{paths[0].rstrip('/')}/{plugin_type}"

    def _handler(self, inv: Invocation) -> Callable[..., object]:
        with self._lock:
            self.invocations.append(inv)
        if self._handlers is None:
            return default_handler
        if isinstance(self._handlers, Mapping):
            return self._handlers[inv.plugin_type]
        return self._handlers

    @property
    def calls(self) -> list[tuple[str, Command]]:
        """``(plugin_type, command)`` of every invocation, in order."""
        with self._lock:
            return [(i.plugin_type, i.command) for i in self.invocations]

    def requests(self, command: Command | None = None) -> list[JSONObject]:
        """The decoded stdin of every invocation (of one ``command``), in order."""
        with self._lock:
            chosen = [i for i in self.invocations if command is None or i.command is command]
        return [request_of(i) for i in chosen]


class FakeExecutor(_Recorder):
    """A synchronous executor whose plugins are Python functions.

    Args:
        handlers: One handler for every plugin, or a mapping ``{plugin_type: handler}`` (then
            other types are "not found"); ``None`` means :func:`default_handler`.
        missing: Plugin types that :meth:`find` reports as not installed.
    """

    def __init__(
        self,
        handlers: Handler | Mapping[str, Handler] | None = None,
        *,
        missing: Sequence[str] = (),
    ) -> None:
        super().__init__(handlers, missing)

    def run(self, inv: Invocation) -> Completed:
        """Record ``inv`` and return its handler's reply."""
        reply = self._handler(inv)(inv)
        return _completed(reply)  # type: ignore[arg-type]


class AsyncFakeExecutor(_Recorder):
    """An asyncio executor whose plugins are Python functions (plain or ``async``).

    Args:
        handlers: As for :class:`FakeExecutor`; a handler may be a coroutine function, e.g. one
            that sleeps to simulate a slow plugin (cancellation then lands in it).
        missing: Plugin types that :meth:`find` reports as not installed.
    """

    def __init__(
        self,
        handlers: AsyncHandler | Mapping[str, AsyncHandler] | None = None,
        *,
        missing: Sequence[str] = (),
    ) -> None:
        super().__init__(handlers, missing)

    async def run(self, inv: Invocation) -> Completed:
        """Record ``inv`` and return its handler's reply (awaited if need be)."""
        reply = self._handler(inv)(inv)
        if inspect.isawaitable(reply):
            reply = await reply
        return _completed(reply)  # type: ignore[arg-type]
