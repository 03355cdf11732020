"""Delegation: a plugin running another plugin, typically its IPAM (SPEC.md, section *Plugin
Delegation*; libcni ``pkg/invoke/delegate.go``). Re-exported by :mod:`cnilib.skel`, which
imports it only when a plugin delegates, so that a plugin that never does loads no executor.

Rules of this file:

* It is a thin driver over the engine's own parts: the plugin is found with the executor's
  ``find`` (:func:`~cnilib.invoke.find_plugin` on ``CNI_PATH``), run by an
  :class:`~cnilib.invoke.Executor` (:class:`~cnilib.invoke.SubprocessExecutor` by default,
  bounded as every run of the runtime), and its reply judged by the runtime's reply parser.
* The environment follows libcni's rules for delegates: the calling plugin's whole environment
  is inherited and only ``CNI_COMMAND`` is overridden, so the delegate sees the same
  ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_ARGS`` and ``CNI_PATH``.
  The calling process's own environment is not changed.
* The delegate gets the request bytes it is given, unchanged (SPEC.md, section *Delegated
  Plugin protocol*: the IPAM plugin is passed the complete configuration the calling plugin
  received), and what it writes on stderr goes to the calling plugin's stderr (section
  *Delegated plugin execution procedure*), whether it succeeded or not.
* The delegate runs in a process group of its own, as every plugin the executor starts, so the
  runtime's SIGTERM to the calling plugin's group at its deadline would not reach it. While it
  runs, a SIGTERM to the caller kills the delegate's group first, then the caller dies of
  SIGTERM as it would have (only from the main thread, and only when the plugin has no SIGTERM
  handler of its own).
* Every failure is a typed :class:`~cnilib.errors.CNIError`; a delegate's error keeps its own
  ``code``, ``msg`` and ``details``, so a plugin that lets it propagate reports it unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from cnilib._json import JSON, dumps, loads
from cnilib._plans.replies import check_reply, parse_add_reply
from cnilib.errors import ConfigError, ConversionError, PluginOutputError
from cnilib.invoke import Executor, SubprocessExecutor
from cnilib.protocol import Command, Completed, Invocation

if TYPE_CHECKING:
    from cnilib.types import Result

__all__ = [
    "delegate_add",
    "delegate_check",
    "delegate_del",
    "delegate_gc",
    "delegate_status",
]

def _request_bytes(netconf: bytes | str | Mapping[str, JSON]) -> bytes:
    if isinstance(netconf, bytes):
        return netconf
    if isinstance(netconf, str):
        return netconf.encode("utf-8")
    return dumps(dict(netconf))


def _config_version(stdin: bytes) -> str:
    # libcni decodes the request's version before it runs an ADD delegate (missing: 0.1.0).
    conf = loads(stdin)
    if not isinstance(conf, dict):
        msg = "delegate netconf must be a JSON object"
        raise ConfigError(msg)
    version = conf.get("cniVersion", "")
    if not isinstance(version, str):
        msg = "delegate netconf: cniVersion must be a string"
        raise ConfigError(msg)
    return version or "0.1.0"


def _run(
    plugin: str,
    command: Command,
    stdin: bytes,
    executor: Executor | None,
    timeout: float | None,
) -> tuple[Invocation, Completed]:
    runner = executor if executor is not None else SubprocessExecutor()
    cni_path = os.environ.get("CNI_PATH", "")
    paths = [p for p in cni_path.split(os.pathsep) if p] if cni_path else []
    path = runner.find(plugin, paths)
    # The calling plugin's CNI_* variables, CNI_COMMAND overridden; the executor lays them
    # over the rest of os.environ, so the delegate inherits everything (libcni DelegateArgs).
    env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
    env["CNI_COMMAND"] = str(command)
    inv = Invocation(plugin_type=plugin, path=path, command=command, stdin=stdin, env=env,
                     timeout=timeout)
    with _terminated_with_caller():
        done = runner.run(inv)
    if done.stderr:
        _forward_stderr(done.stderr)
    return inv, done


class _Terminated(BaseException):
    # SIGTERM arrived while a delegate ran: unwinds through the executor, which kills the
    # delegate's process group on the way out.
    pass


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise _Terminated


@contextlib.contextmanager
def _terminated_with_caller() -> Iterator[None]:
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # die of it, as without the handler
        raise  # pragma: no cover - not reached: the default action ends the process
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _forward_stderr(data: bytes) -> None:
    # The executor keeps a bounded tail of the delegate's stderr; the caller's stderr is the
    # runtime's to read. A caller without a usable stderr loses nothing it could have shown.
    stream = getattr(sys.stderr, "buffer", None)
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(data)
        stream.flush()


def delegate_add(
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    *,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> Result:
    """Run ``plugin``'s ADD on the caller's behalf and return its result (libcni
    ``invoke.DelegateAdd``).

    Args:
        plugin: The delegate's ``type`` (an IPAM plugin: the request's ``ipam.type``).
        netconf: The request to give it, usually the caller's own
            :attr:`~cnilib.skel.CmdArgs.stdin_data` (bytes, text, or a JSON object).
        executor: Finds and runs the delegate; a :class:`~cnilib.invoke.SubprocessExecutor`
            by default (a :class:`~cnilib.testing.FakeExecutor` in unit tests).
        timeout: Seconds the delegate may run; ``None`` for no limit.

    Returns:
        The delegate's result, in the request's ``cniVersion`` (a result without a
        ``cniVersion`` is read in it, as libcni does, and any other is converted to it).

    Raises:
        InvalidJSONError: ``netconf`` is not JSON.
        ConfigError: ``netconf`` is not an object, or its ``cniVersion`` is not a string.
        InvalidPluginNameError: ``plugin`` is not a safe plugin ``type``.
        PluginNotFoundError: ``plugin`` is not on ``CNI_PATH`` (or ``CNI_PATH`` is empty).
        ExecutionError: the delegate could not be started.
        PluginError: the delegate failed; its ``code``, ``msg`` and ``details`` are kept
            (:class:`~cnilib.errors.PluginTimeoutError` when it ran out of time).
        PluginOutputError: its output is not a result, or not one the request's version can
            express.
    """
    stdin = _request_bytes(netconf)
    version = _config_version(stdin)
    inv, done = _run(plugin, Command.ADD, stdin, executor, timeout)
    result = parse_add_reply(inv, done, version)
    try:
        return result.as_version(version)
    except ConversionError as err:
        msg = f"delegate result cannot be expressed in version {version}: {err.msg}"
        raise PluginOutputError(msg, details=err.details, plugin=plugin, command="ADD",
                                exit_status=done.exit_status) from err


def _without_result(
    command: Command,
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    executor: Executor | None,
    timeout: float | None,
) -> None:
    inv, done = _run(plugin, command, _request_bytes(netconf), executor, timeout)
    check_reply(inv, done)


def delegate_check(
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    *,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``plugin``'s CHECK on the caller's behalf (libcni ``invoke.DelegateCheck``).

    The arguments are those of :func:`delegate_add`.

    Raises:
        InvalidPluginNameError: See :func:`delegate_add`.
        PluginNotFoundError: See :func:`delegate_add`.
        ExecutionError: See :func:`delegate_add`.
        PluginError: the delegate reported a failure.
    """
    _without_result(Command.CHECK, plugin, netconf, executor, timeout)


def delegate_del(
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    *,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``plugin``'s DEL on the caller's behalf (libcni ``invoke.DelegateDel``).

    The arguments are those of :func:`delegate_add`.

    Raises:
        InvalidPluginNameError: See :func:`delegate_add`.
        PluginNotFoundError: See :func:`delegate_add`.
        ExecutionError: See :func:`delegate_add`.
        PluginError: the delegate reported a failure.
    """
    _without_result(Command.DEL, plugin, netconf, executor, timeout)


def delegate_gc(
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    *,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``plugin``'s GC on the caller's behalf (libcni ``invoke.DelegateGC``).

    Pass the GC request as received: it carries ``cni.dev/valid-attachments`` (SPEC.md,
    section *GC*). The arguments are those of :func:`delegate_add`.

    Raises:
        InvalidPluginNameError: See :func:`delegate_add`.
        PluginNotFoundError: See :func:`delegate_add`.
        ExecutionError: See :func:`delegate_add`.
        PluginError: the delegate reported a failure.
    """
    _without_result(Command.GC, plugin, netconf, executor, timeout)


def delegate_status(
    plugin: str,
    netconf: bytes | str | Mapping[str, JSON],
    *,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``plugin``'s STATUS on the caller's behalf (libcni ``invoke.DelegateStatus``).

    The arguments are those of :func:`delegate_add`.

    Raises:
        InvalidPluginNameError: See :func:`delegate_add`.
        PluginNotFoundError: See :func:`delegate_add`.
        ExecutionError: See :func:`delegate_add`.
        PluginError: the delegate is not ready (code 50 or 51) or failed otherwise.
    """
    _without_result(Command.STATUS, plugin, netconf, executor, timeout)
