"""A conformance checker for CNI plugins: run every verb for real and judge each reply.

Rules of this file:

* :func:`check_plugin` checks each plugin's configuration against its packaged schema (the
  checks of ``cnilib validate``), then runs one network (the plugin under test, alone or in a
  chain) through :class:`cnilib.api.CNIConfig` in a scratch network namespace it makes and
  removes: VERSION
  of every plugin, ADD, CHECK, DEL, DEL again (which must succeed: "Plugins MUST accept
  multiple DEL calls", SPEC.md "CNI operations"), GC and STATUS where the version has them,
  then two ADDs the plugin must refuse (a request that is not JSON, and one of a version it
  cannot support). Every plugin run is one row.
* Every reply is judged by :mod:`cnilib.testing._verdicts` against the packaged JSON
  Schemas; the engine's own errors (a result it cannot parse, a failed ADD's rollback) add
  rows of their own. A plugin's failure is a FAIL row, never an exception.
* It needs root (the namespace): without it, :class:`~cnilib.testing.errors.NotRootError`
  before anything runs. The result cache lives in a temporary directory removed at the end,
  so nothing is left in ``/var/lib/cni``. What a plugin makes outside the namespace and does
  not remove on DEL (the bridge plugin's bridge, host-local's files in its ``dataDir``) is
  that plugin's business, and the caller's to clean.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence

from cnilib._json import JSON, dumps
from cnilib.api import CNIConfig
from cnilib.config import NetworkConfigList, PluginConfig, conflist_from_bytes
from cnilib.errors import AddError, CNIError, ErrorCode, Problem, Severity
from cnilib.protocol import (
    Command,
    Invocation,
    InvocationRecord,
    RuntimeConf,
    build_request,
    cni_env,
)
from cnilib.version import SUPPORTED_VERSIONS, supports_check, supports_gc, supports_status

from ._scratch import scratch_netns
from ._verdicts import judge, judge_bad_config
from .errors import ConformanceError
from .report import Check, Report, Verdict

__all__ = ["DEFAULT_NETWORK", "UNSUPPORTED_VERSION", "check_plugin"]

#: The network name of the configuration made when none is given.
DEFAULT_NETWORK = "cnilib-conformance"
#: The version of the "bad config" request no plugin can support.
UNSUPPORTED_VERSION = "99.0.0"
#: The plugin directories used when none are given (Debian's, then the usual one).
_DEFAULT_PATH = ("/opt/cni/bin", "/usr/lib/cni")


def _locate(plugin: str, path: str | Sequence[str] | None) -> tuple[str, list[str]]:
    """The plugin type and the directories to search; a path to an executable is split."""
    paths = path.split(os.pathsep) if isinstance(path, str) else list(path or ())
    if not paths:
        paths = [p for p in os.environ.get("CNI_PATH", "").split(os.pathsep) if p]
    paths = paths or list(_DEFAULT_PATH)
    if os.sep in plugin:
        folder, plugin = os.path.split(os.path.abspath(plugin))
        paths.insert(0, folder)
    return plugin, paths


def _label(step: str, record: InvocationRecord) -> str:
    """The row's step: ``ADD rollback`` for a rollback DEL, ``GC (DEL)`` for GC's DEL of a
    stale attachment, else the step itself."""
    if record.rollback:
        return f"{step} rollback"
    command = str(record.invocation.command)
    return step if step.split(maxsplit=1)[0] == command else f"{step} ({command})"


class _Run:
    """One checker run: the runtime, the rows so far, and every plugin run recorded."""

    def __init__(self, paths: list[str], cache_dir: str, timeout: float | None) -> None:
        self.records: list[InvocationRecord] = []
        self.cni = CNIConfig(paths, cache_dir=cache_dir, on_invocation=self.records.append)
        self.paths = paths
        self.timeout = timeout
        self.checks: list[Check] = []

    def step(self, step: str, action: Callable[[], object], version: str) -> bool:
        """Run ``action``; add a row per plugin run and one for an error no row explains.

        Returns:
            Whether ``action`` succeeded.
        """
        start = len(self.records)
        failed: CNIError | None = None
        try:
            action()
        except CNIError as err:
            failed = err
        rows = [judge(_label(step, r), r, version) for r in self.records[start:]]
        self.checks.extend(rows)
        if failed is not None and not any(r.verdict is Verdict.FAIL for r in rows):
            cause = failed.cause if isinstance(failed, AddError) else failed
            plugin = getattr(cause, "plugin", "")
            self.checks.append(Check(step, plugin if isinstance(plugin, str) else "",
                                     Verdict.FAIL, str(failed)))
        return failed is None

    def skip(self, step: str, plugins: Sequence[str], reason: str) -> None:
        self.checks.extend(Check(step, p, Verdict.SKIP, reason) for p in plugins)


def _default_network(plugin: str, version: str) -> NetworkConfigList:
    doc: dict[str, JSON] = {"cniVersion": version, "name": DEFAULT_NETWORK,
                            "plugins": [{"type": plugin}]}
    return conflist_from_bytes(dumps(doc))


def _newest_supported(records: Sequence[InvocationRecord]) -> str:
    """The newest version cnilib knows among a VERSION reply's, ``""`` if none."""
    from cnilib._json import loads

    for record in reversed(records):
        if record.completed is None or record.completed.exit_status != 0:
            continue
        try:
            reply = loads(record.completed.stdout)
        except CNIError:
            return ""
        listed = reply.get("supportedVersions") if isinstance(reply, dict) else None
        known = [v for v in SUPPORTED_VERSIONS if isinstance(listed, list) and v in listed]
        return known[-1] if known else ""
    return ""


def check_plugin(
    plugin: str,
    config: NetworkConfigList | None = None,
    *,
    path: str | Sequence[str] | None = None,
    ifname: str = "eth0",
    container_id: str | None = None,
    capability_args: Mapping[str, JSON] | None = None,
    cni_args: Sequence[tuple[str, str]] = (),
    timeout: float | None = 60.0,
) -> Report:
    """Run the conformance checks on ``plugin`` and return every row. Needs root.

    The rows, in order: ``config`` (each plugin's keys against its packaged schema), VERSION,
    ADD, CHECK, DEL, DEL again, GC, STATUS, and the two bad configurations (see
    ``docs/testing-kit.md``).

    Args:
        plugin: The plugin type under test (found on ``path``), or a path to its executable.
        config: The network to run it in: the plugin alone, or a chain holding it (the
            other plugins run too, and get rows of their own). An IPAM plugin is tested
            through a plugin whose ``ipam`` names it: the ADD, CHECK and DEL rows are that
            plugin's, which delegates to it; VERSION and the bad configurations go to the
            IPAM plugin itself. ``None``: the plugin alone, with no other key, at the newest
            version its VERSION reply and cnilib share.
        path: Plugin directories; default ``$CNI_PATH``, else ``/opt/cni/bin`` and
            ``/usr/lib/cni``.
        ifname: The interface name the plugins are asked to make.
        container_id: The container ID (default ``cnilib-conformance-`` and random hex).
        capability_args: The runtime's capability arguments (``portMappings``...).
        cni_args: ``CNI_ARGS`` pairs.
        timeout: Seconds for each verb over the whole chain.

    Returns:
        The report; :attr:`~cnilib.testing.report.Report.passed` is false when a row failed.

    Raises:
        NotRootError: not root, so no namespace can be made (nothing was run).
        ConformanceError: no ``ip`` command, the namespace could not be made, or ``config``
            holds no plugin of that type (nor one delegating its IPAM to it).
    """
    plugin_type, paths = _locate(plugin, path)
    if config is not None:
        _holder(config, plugin_type)  # refuse a configuration without the plugin, before root
    cid = container_id or f"cnilib-conformance-{secrets.token_hex(4)}"
    with scratch_netns() as netns, tempfile.TemporaryDirectory(prefix="cnilib-cf-") as cache:
        run = _Run(paths, cache, timeout)
        version = config.cni_version if config is not None else ""
        types = list(dict.fromkeys([plugin_type, *(p.type for p in config.plugins)]
                                   if config is not None else [plugin_type]))
        for t in types:
            run.step("VERSION", functools.partial(run.cni.get_version_info, t, timeout=timeout),
                     version)
            if config is None:
                version = _newest_supported(run.records)
        if config is None:
            if not version:
                run.skip("ADD", [plugin_type], "no spec version to run at: VERSION failed")
                return Report(plugin_type, DEFAULT_NETWORK, "", tuple(run.checks), netns)
            config = _default_network(plugin_type, version)
        run.checks[:0] = _config_rows(config)
        rt = RuntimeConf(container_id=cid, netns=netns, ifname=ifname, args=tuple(cni_args),
                         capability_args=capability_args or {})
        _attachment_steps(run, config, rt)
        _network_steps(run, config)
        _bad_configs(run, config, plugin_type, rt)
        return Report(plugin_type, config.name, config.cni_version, tuple(run.checks), netns)


def _config_rows(net: NetworkConfigList) -> list[Check]:
    """One ``config`` row per plugin: its keys against its packaged schema (``schemas/plugins``).

    What :func:`cnilib.lint.lint_network` finds (``cnilib validate``'s checks): an ERROR fails
    the row, warnings (an unknown key, a typo) are its reason; a plugin with no packaged
    schema, and no IPAM plugin with one, is skipped. Problems of the network itself (not of
    one plugin) get a row of their own.
    """
    from cnilib._schema.plugin import SchemaSet
    from cnilib.lint import lint_network

    problems = lint_network(net)
    known = SchemaSet().types()
    listed = isinstance(net.raw.get("plugins"), list)
    rows: list[Check] = []
    claimed: set[int] = set()
    for i, plugin in enumerate(net.plugins):
        prefix = f"/plugins/{i}"
        mine = [(n, q) for n, q in enumerate(problems)
                if not listed or q.pointer == prefix or q.pointer.startswith(prefix + "/")]
        claimed.update(n for n, _ in mine)
        ipam_type = (plugin.ipam or {}).get("type")
        if not mine and plugin.type not in known and ipam_type not in known:
            rows.append(Check("config", plugin.type, Verdict.SKIP,
                              f"no packaged schema for {plugin.type}"))
            continue
        rows.append(_config_row(plugin.type, [q for _, q in mine]))
    rest = [q for n, q in enumerate(problems) if n not in claimed]
    if rest:
        rows.insert(0, _config_row("", rest))
    return rows


def _config_row(plugin: str, problems: Sequence[Problem]) -> Check:
    said = [f"{p.message} (at {p.pointer or '/'})" for p in problems]
    errors = [s for p, s in zip(problems, said, strict=True) if p.severity is Severity.ERROR]
    if errors:
        return Check("config", plugin, Verdict.FAIL, errors[0])
    return Check("config", plugin, Verdict.PASS, "; ".join(said))


def _attachment_steps(run: _Run, net: NetworkConfigList, rt: RuntimeConf) -> None:
    version, names = net.cni_version, [p.type for p in net.plugins]
    added = run.step("ADD", lambda: run.cni.add_network_list(net, rt, timeout=run.timeout),
                     version)
    if not supports_check(version):
        run.skip("CHECK", names, f"cniVersion {version} has no CHECK (from 0.4.0)")
    elif net.disable_check:
        run.skip("CHECK", names, "the network sets disableCheck")
    elif not added:
        run.skip("CHECK", names, "ADD failed: nothing to check")
    else:
        run.step("CHECK", lambda: run.cni.check_network_list(net, rt, timeout=run.timeout),
                 version)
    for step in ("DEL", "DEL again"):
        run.step(step, lambda: run.cni.del_network_list(net, rt, timeout=run.timeout), version)


def _network_steps(run: _Run, net: NetworkConfigList) -> None:
    version, names = net.cni_version, [p.type for p in net.plugins]
    if not supports_gc(version):
        run.skip("GC", names, f"cniVersion {version} has no GC (from 1.1.0)")
    elif net.disable_gc:
        run.skip("GC", names, "the network sets disableGC")
    else:
        run.step("GC", lambda: run.cni.gc_network_list(net, [], timeout=run.timeout), version)
    if not supports_status(version):
        run.skip("STATUS", names, f"cniVersion {version} has no STATUS (from 1.1.0)")
    else:
        run.step("STATUS", lambda: run.cni.get_status_network_list(net, timeout=run.timeout),
                 version)


def _holder(net: NetworkConfigList, plugin_type: str) -> PluginConfig:
    """The plugin configuration that runs ``plugin_type``: its own, or one delegating IPAM to it.

    Raises:
        ConformanceError: no plugin of the network is, or delegates to, that type.
    """
    for p in net.plugins:
        if p.type == plugin_type:
            return p
    for p in net.plugins:
        if (p.ipam or {}).get("type") == plugin_type:
            return p
    msg = (f"the configuration {net.name!r} has no plugin of type {plugin_type!r}, "
           "and none delegates its IPAM to one")
    raise ConformanceError(msg)


def _bad_configs(run: _Run, net: NetworkConfigList, plugin_type: str, rt: RuntimeConf) -> None:
    """ADD requests the plugin must refuse with an error object, in a container of their own."""
    plugin = _holder(net, plugin_type)
    bad_rt = RuntimeConf(container_id=rt.container_id + "-bad", netns=rt.netns, ifname=rt.ifname,
                         args=rt.args, capability_args=rt.capability_args)
    try:
        executable = run.cni.executor.find(plugin_type, run.paths)
    except CNIError as err:
        run.checks.append(Check("bad config", plugin_type, Verdict.FAIL, str(err)))
        return
    unsupported = build_request(plugin.raw, command=Command.ADD, name=net.name,
                                cni_version=UNSUPPORTED_VERSION)
    cases = (
        ("bad config: not JSON", b'{"cniVersion": ', ErrorCode.DECODING_FAILURE),
        ("bad config: unsupported version", dumps(unsupported),
         ErrorCode.INCOMPATIBLE_CNI_VERSION),
    )
    env = cni_env(Command.ADD, bad_rt, run.paths)
    for step, stdin, expected in cases:
        inv = Invocation(plugin_type, executable, Command.ADD, stdin, env, run.timeout)
        completed = run.cni.executor.run(inv)
        run.checks.append(judge_bad_config(step, plugin_type, completed, net.cni_version,
                                           expected))
        if completed.exit_status == 0:
            # It took the request: undo whatever it made before the namespace goes.
            try:
                run.cni.del_network_list(net, bad_rt, timeout=run.timeout)
            except CNIError as err:
                run.checks.append(Check(f"{step} (cleanup DEL)", plugin_type, Verdict.FAIL,
                                        str(err)))
