"""The configuration directory as a whole: every network in it, each with its problems.

libcni finds one network at a time and stops at the first file it cannot parse; a runtime
that attaches sandboxes to "the networks of ``/etc/cni/net.d``" needs them all at once, with
the broken files set aside and explained. This module loads the directory
(:func:`load_directory`) and fingerprints it for change detection (:func:`fingerprint`).

Rules of this file:

* Files are read through :mod:`cnilib.config` only (its one reading function), in libcni's
  order: ``.conf``, ``.conflist`` and ``.json`` files sorted by name, drop-ins included.
* One bad file never hides the others: it is kept as a :class:`LoadedNetwork` with no
  configuration and the located reason.
* A fingerprint is (inode, size, mtime) of every file that could change what loads: the
  configuration files, their drop-in folders, and the plugin executables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import attrs

from . import config
from .config import NetworkConfigList
from .errors import CNIError, ConfigValidationError, InvalidJSONError, Problem, Severity

__all__ = ["LoadedNetwork", "load_directory", "fingerprint"]


@attrs.frozen(kw_only=True)
class LoadedNetwork:
    """One configuration file of the directory, as it loaded.

    Attributes:
        source: The file.
        name: The network name (``""`` when the file did not parse far enough).
        config: The network, or ``None`` when the file is unusable.
        problems: Why it is unusable, or the warnings it loaded with; each located.
    """

    source: str
    name: str = ""
    config: NetworkConfigList | None = attrs.field(default=None, repr=False)
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the network can be used."""
        return self.config is not None


def _problems_of(err: CNIError, source: str) -> tuple[Problem, ...]:
    if isinstance(err, ConfigValidationError) and err.errors:
        return err.errors
    if isinstance(err, InvalidJSONError):
        return (err.problem,)
    return (Problem("", str(err), file=source, rule="load"),)


def _load_one(path: str) -> NetworkConfigList:
    if path.endswith(".conflist"):
        return config.conflist_from_file(path)
    return config.conflist_from_conf(config.conf_from_file(path))


def load_directory(directory: str | os.PathLike[str]) -> tuple[LoadedNetwork, ...]:
    """Load every network configuration of a directory (not recursively).

    A later file with the name of an earlier one is refused (libcni's lookup would never find
    it).

    Args:
        directory: The directory; a missing one holds no network.

    Returns:
        One entry per file, in libcni's order (sorted by file name).

    Raises:
        ConfigError: the directory cannot be listed.
    """
    out: list[LoadedNetwork] = []
    seen: dict[str, str] = {}
    for path in config.conf_files(directory):
        try:
            net = _load_one(path)
        except CNIError as err:
            out.append(LoadedNetwork(source=path, problems=_problems_of(err, path)))
            continue
        first = seen.get(net.name)
        if first is not None:
            problem = Problem("/name", f'network "{net.name}" is already defined by {first}',
                              file=path, rule="duplicate-name")
            out.append(LoadedNetwork(source=path, name=net.name, problems=(problem,)))
            continue
        seen[net.name] = path
        warnings = tuple(p for p in net.warnings if p.severity is Severity.WARNING)
        out.append(LoadedNetwork(source=path, name=net.name, config=net, problems=warnings))
    return tuple(out)


def _entries(folder: str, depth: int) -> Iterable[tuple[str, int, int, int]]:
    try:
        with os.scandir(folder) as it:
            found = list(it)
    except FileNotFoundError:
        return
    except OSError:  # unreadable: report it as a state of its own, so recovery is a change
        yield (folder, -1, -1, -1)
        return
    for entry in found:
        try:
            st = entry.stat()
        except OSError:
            continue
        yield (entry.path, st.st_ino, st.st_size, st.st_mtime_ns)
        if depth > 0 and entry.is_dir():
            yield from _entries(entry.path, depth - 1)


def fingerprint(conf_dir: str, plugin_dirs: Sequence[str] = ()) -> frozenset[
        tuple[str, int, int, int]]:
    """What the configuration and plugin directories hold now: (path, inode, size, mtime).

    Two equal fingerprints mean nothing that loading reads has changed (a rename over a file
    changes its inode; an in-place write its size or mtime).

    Args:
        conf_dir: The configuration directory (and its drop-in folders, one level down).
        plugin_dirs: The plugin directories (their entries only).

    Returns:
        A set that compares equal when nothing changed.
    """
    out = set(_entries(conf_dir, 1))
    for folder in plugin_dirs:
        out.update(_entries(folder, 0))
    return frozenset(out)
