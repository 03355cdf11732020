"""Configuration files: reading one, listing a directory, finding a network by name.

Rules of this file:

* It is :mod:`cnilib.config`'s only I/O, and reading goes through :func:`read_file`: regular
  files only, never blocking (``O_NONBLOCK`` + ``fstat``), at most :data:`MAX_CONFIG_SIZE`
  bytes (G12 in docs/guarantees.md).
* Directories are listed as libcni's ``ConfFiles`` lists them (``libcni/conf.go``): by
  extension, sorted by file name; a network is looked up as ``LoadConf`` does, except that a
  file that cannot be read or parsed is skipped and remembered rather than fatal.
* Only :class:`~cnilib.errors.CNIError` subclasses leave it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import Final

from cnilib._json import JSONObject, loads
from cnilib.errors import (
    CNIError,
    ConfigError,
    ConfigNotFoundError,
    InvalidJSONError,
    NoConfigsFoundError,
    Problem,
    Severity,
)

__all__ = [
    "MAX_CONFIG_SIZE",
    "as_bytes",
    "check_lookup",
    "dirname",
    "find",
    "fspath",
    "join",
    "list_files",
    "may_exist",
    "no_configs",
    "not_found",
    "read_file",
]

#: Configuration files larger than this are refused (G3, G12).
MAX_CONFIG_SIZE: Final = 1 << 20


# -- arguments ----------------------------------------------------------------------------

def fspath(path: str | os.PathLike[str], what: str) -> str:
    """``path`` as a ``str``; ``what`` names the argument in the error."""
    if type(path) is str:
        return path
    try:
        value = os.fspath(path)
    except TypeError as err:
        msg = f"{what} must be a path, not {type(path).__name__}"
        raise ConfigError(msg) from err
    if isinstance(value, str):
        return value
    msg = f"{what} must be a str path, not {type(value).__name__}"
    raise ConfigError(msg)


def as_bytes(data: bytes | bytearray | memoryview | str, source: str | None) -> bytes:
    """A document given as bytes or text, as bytes (``source`` names it in the error)."""
    if type(data) is bytes:  # what the file loaders pass
        return data
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError:
            msg = "the text holds a lone surrogate, which is not Unicode"
            raise InvalidJSONError(msg, file=source) from None
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    msg = f"expected bytes or str, got {type(data).__name__}"
    raise ConfigError(msg)


def check_lookup(name: str) -> None:
    """Refuse a network name to look up that is not a string."""
    if not isinstance(name, str):
        msg = f"a network name is a string, not {type(name).__name__}"
        raise ConfigError(msg)


# -- one file -----------------------------------------------------------------------------

def read_file(path: str, *, missing: type[CNIError] = ConfigNotFoundError) -> bytes:
    """The bytes of the regular file ``path``; ``missing`` is raised if there is none.

    G12: a FIFO or device must not block us, a huge file must not be slurped.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError as err:
        msg = f"error reading {path}: {err.strerror}"
        raise missing(msg) from err
    except (OSError, ValueError, TypeError) as err:  # ValueError: NUL in the path
        msg = f"error reading {path}: {getattr(err, 'strerror', None) or err}"
        raise ConfigError(msg) from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            msg = f"error reading {path}: not a regular file"
            raise ConfigError(msg)
        if st.st_size > MAX_CONFIG_SIZE:
            msg = f"error reading {path}: larger than {MAX_CONFIG_SIZE} bytes"
            raise ConfigError(msg)
        want = st.st_size + 1
        data = os.read(fd, want)
        # A short read of a regular file is its end; otherwise it grew: read on, capped.
        if len(data) == want:
            chunks = [data]
            while len(chunks[-1]) == want and sum(map(len, chunks)) <= MAX_CONFIG_SIZE:
                want = 65536
                chunks.append(os.read(fd, want))
            data = b"".join(chunks)
    except OSError as err:
        msg = f"error reading {path}: {err.strerror or err}"
        raise ConfigError(msg) from err
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_SIZE:
        msg = f"error reading {path}: larger than {MAX_CONFIG_SIZE} bytes"
        raise ConfigError(msg)
    return data


_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


# -- directories and paths ---------------------------------------------------------------

def list_files(folder: str, extensions: Iterable[str]) -> tuple[str, ...]:
    """:func:`cnilib.config.conf_files` of a folder given as a ``str``."""
    exts = frozenset(extensions)
    names = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                dot = name.rfind(".")
                if dot >= 0 and name[dot:] in exts:
                    try:
                        if entry.is_file():
                            names.append(name)
                    except OSError:  # it vanished, or its link cannot be followed: skip it
                        pass
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as err:
        msg = f"failed to read config files in {folder}: {getattr(err, 'strerror', None) or err}"
        raise ConfigError(msg) from err
    names.sort()
    prefix = join(folder, "")
    return tuple([prefix + name for name in names])


def join(folder: str, name: str) -> str:
    """``os.path.join(folder, name)`` for a name without a separator.

    A directory entry or a checked network name: a path is built per file, so without
    posixpath's generic work.
    """
    if os.sep != "/" or name.startswith("/"):
        return os.path.join(folder, name)
    return folder + name if not folder or folder.endswith("/") else f"{folder}/{name}"


def dirname(path: str) -> str:
    """``os.path.dirname(path)`` for a ``str``, as posixpath computes it, without its layers."""
    if os.sep != "/":
        return os.path.dirname(path)
    head = path[:path.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def may_exist(path: str, name: str) -> bool:
    """False only when nothing at all is called ``name`` in the folder of ``path``.

    Not even a dangling link: then :func:`list_files` of ``path`` would return ``()`` too,
    after an ``os.scandir`` that fails with ``FileNotFoundError``, three times the cost of
    this question. Anything else (a directory, a file, a link, an error, a name too long to
    ask about: ``os.access`` says False for those too) is left to :func:`list_files`.
    """
    if len(name) > 255 or len(path) > 1000 or not _ACCESS_OK:  # checked names are ASCII
        return True
    try:
        return os.access(path, os.F_OK, effective_ids=True, follow_symlinks=False)
    except (OSError, ValueError, NotImplementedError):
        return True


# os.access can ask as open() does (effective ids) about the name itself (no following).
_ACCESS_OK: Final = (os.access in os.supports_effective_ids
                     and os.access in os.supports_follow_symlinks)


# -- looking a network up ----------------------------------------------------------------

def find(files: tuple[str, ...], name: str,
         skipped: list[Problem]) -> tuple[str, bytes, JSONObject] | None:
    """The first of ``files`` whose ``"name"`` is ``name``: its path, bytes and object.

    A file that cannot be read or parsed is skipped and remembered in ``skipped``: it must
    not stop other networks from loading (G12; libcni aborts the whole search,
    ``LoadNetworkConf`` in ``libcni/conf.go``).
    """
    for path in files:
        try:
            data = read_file(path, missing=ConfigError)
            obj = loads(data, source=path)
        except CNIError as err:
            where = err.problem if isinstance(err, InvalidJSONError) else None
            why = where.message if where is not None else str(err)
            skipped.append(Problem("", f"skipped, not valid JSON: {why}" if where else
                                   f"skipped: {why}", severity=Severity.WARNING, file=path,
                                   line=where.line if where else None,
                                   column=where.column if where else None,
                                   rule="skipped-file"))
            continue
        if isinstance(obj, dict) and obj.get("name") == name:
            return path, data, obj
    return None


def not_found(folder: str, name: str, skipped: list[Problem]) -> ConfigNotFoundError:
    """The error of a folder where no file names the network; it lists ``skipped``."""
    msg = f'no net configuration with name "{name}" in {folder}'
    err = ConfigNotFoundError(msg, directory=folder, name=name)
    if skipped:
        err.details = "files skipped: " + "; ".join(str(p) for p in skipped)
    return err


def no_configs(folder: str, name: str) -> NoConfigsFoundError:
    """The error of a folder with no configuration file at all (or no folder)."""
    msg = f"no net configurations found in {folder}"
    return NoConfigsFoundError(msg, directory=folder, name=name)
