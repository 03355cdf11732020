"""The cache's file system: folders opened without following links, and files read, written
and removed through them.

Rules of this file:

* Nothing under the cache root is followed if it is a symbolic link: each folder
  (``results/``, ``inprogress/``, ``locks/``) is opened with ``O_NOFOLLOW | O_DIRECTORY`` and
  every file in it is reached through that folder's descriptor (``dir_fd``) with
  ``O_NOFOLLOW``, so a link planted anywhere below the root is refused, never followed (the
  root itself may be a link: it is the administrator's choice). A refusal is a
  :class:`~cnilib.errors.CacheError` (code ``IO_FAILURE``) that says "symbolic link".
* Writes are atomic: a temp file ``.<name>.<8 hex digits>.tmp`` made with ``O_EXCL`` in the
  same folder (0600), the bytes, ``rename`` over the name. The digits are the writer's
  ``tag`` (the cache gives each attachment its own, :func:`temp_name`), so that the next
  holder of that attachment's lock removes a crash's leftover with one ``unlink`` instead
  of listing the folder; random digits when that name is taken, or when there is no tag.
  ``durable=True`` adds an ``fsync`` of the file before the rename and of the folder after it
  (the result entries); without it a killed process still loses nothing (the kernel holds
  the data), only a power loss can.
* Temp files are never read as entries; :func:`temp_owner` says whose a temp file is, so that
  GC can remove every one a crash left.
* Every failure is a :class:`~cnilib.errors.CacheError` naming the path and the system's reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator

from cnilib.errors import CacheError, ErrorCode

__all__ = [
    "io_error",
    "open_root",
    "open_folder",
    "folder",
    "read_file",
    "write_file",
    "remove",
    "names",
    "temp_owner",
    "temp_name",
    "TEMP_DIGITS",
    "fsync_dir",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_TEMP_SUFFIX = ".tmp"
#: The hex digits of a temp file's name (a writer's tag, or random).
TEMP_DIGITS = 8
_TEMP_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def io_error(action: str, path: str, err: OSError) -> CacheError:
    """A :class:`~cnilib.errors.CacheError` (code 5) naming the path and the system's reason."""
    if err.errno == errno.ELOOP:
        reason = "it is a symbolic link (cnilib follows none under the cache root)"
    else:
        reason = err.strerror or str(err)
    out = CacheError(f"failed to {action} {path}: {reason}", code=ErrorCode.IO_FAILURE)
    out.__cause__ = err
    return out


def open_root(root: str, *, create: bool, action: str, shown: str = "") -> int | None:
    """A descriptor on the cache root (which may be a link); ``None`` if missing and not
    ``create``, else made (0700).

    Raises:
        CacheError: The root cannot be opened or made.
    """
    try:
        try:
            return os.open(root, _DIR_FLAGS)
        except FileNotFoundError:
            if not create:
                return None
            os.makedirs(root, mode=0o700, exist_ok=True)
            return os.open(root, _DIR_FLAGS)
    except OSError as err:
        raise io_error(action, shown or root, err) from err


def open_folder(root: str, name: str, *, create: bool, action: str,
                shown: str = "", root_fd: int | None = None) -> int | None:
    """A descriptor on ``<root>/<name>`` (never a link); ``None`` if missing and not ``create``.

    The root is made (0700) when ``create`` and it is missing; ``name`` is made 0700. Errors
    say ``failed to <action> <shown>`` (``shown`` is the folder's path unless given).
    ``root_fd``: the root, already open (:func:`open_root`; the caller closes it).

    Raises:
        CacheError: ``name`` is a symbolic link or not a folder, or cannot be opened or made.
    """
    path = os.path.join(root, name)
    own = root_fd is None
    if own:
        root_fd = open_root(root, create=create, action=action, shown=shown or path)
        if root_fd is None:
            return None
    assert root_fd is not None
    try:
        try:
            return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root_fd)
        except FileNotFoundError:
            if not create:
                return None
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=root_fd)
                with contextlib.suppress(OSError):
                    os.fsync(root_fd)  # the new folder survives a power loss
            return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root_fd)
        finally:
            if own:
                os.close(root_fd)
    except OSError as err:
        if err.errno == errno.ENOTDIR and os.path.islink(path):
            err = OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        raise io_error(action, shown or path, err) from err


@contextlib.contextmanager
def folder(root: str, name: str, *, create: bool, action: str,
           shown: str = "") -> Iterator[int | None]:
    """:func:`open_folder` for a ``with`` block; the descriptor is closed after it."""
    fd = open_folder(root, name, create=create, action=action, shown=shown)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _too_large(path: str, cap: int) -> CacheError:
    return CacheError(f"cache entry {path} is larger than {cap} bytes", code=ErrorCode.IO_FAILURE)


def read_file(dir_fd: int, name: str, cap: int, path: str) -> bytes | None:
    """The bytes of the regular file ``name`` (no link, at most ``cap``); None if missing.

    Args:
        dir_fd: The folder's descriptor.
        name: The file name in it.
        cap: The largest size accepted.
        path: The path shown in messages.

    Raises:
        CacheError: Code ``IO_FAILURE``: a link, not a regular file, too large, unreadable.
    """
    try:
        # O_NONBLOCK: a FIFO planted at the path must not block the open.
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise io_error("read cache entry", path, err) from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            msg = f"cache entry {path} is not a regular file"
            raise CacheError(msg, code=ErrorCode.IO_FAILURE)
        if st.st_size > cap:
            raise _too_large(path, cap)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > cap:  # it grew while we read
                raise _too_large(path, cap)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as err:
        raise io_error("read cache entry", path, err) from err
    finally:
        os.close(fd)


def fsync_dir(dir_fd: int) -> None:
    """Make a folder's entries (a rename, a new or removed file) durable."""
    os.fsync(dir_fd)


def temp_name(name: str, tag: str) -> str:
    """The temp file that a writer tagged ``tag`` uses first to replace ``name``.

    >>> temp_name("n1-c1-eth0", "0123abcd")
    '.n1-c1-eth0.0123abcd.tmp'
    """
    return f".{name}.{tag}{_TEMP_SUFFIX}"


def write_file(dir_fd: int, name: str, data: bytes, path: str, *, durable: bool,
               tag: str | None = None) -> None:
    """Replace ``name`` with ``data`` atomically (and durably if asked).

    The temp file is :func:`temp_name` of ``tag`` (``TEMP_DIGITS`` hex digits) when that
    name is free; otherwise, or without a tag, one with random digits. A taken name is never
    removed here: only the holder of the attachment's lock knows it is a crash's leftover.

    On any failure, an interrupt included, the previous file is intact and the temp file is
    removed.

    Raises:
        CacheError: Code ``IO_FAILURE``, naming ``path`` and the system's reason.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        tmp = temp_name(name, tag or secrets.token_hex(TEMP_DIGITS // 2))
        tag = None
        try:
            fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise io_error("write cache entry", path, err) from err
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        if isinstance(err, OSError):
            raise io_error("write cache entry", path, err) from err
        raise
    if durable:
        try:
            fsync_dir(dir_fd)
        except OSError as err:
            raise io_error("write cache entry", path, err) from err


def remove(dir_fd: int, name: str, path: str) -> bool:
    """Remove ``name`` (a link is removed, never followed); False when it was not there.

    Raises:
        CacheError: The file exists but cannot be removed.
    """
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise io_error("remove cache entry", path, err) from err
    return True


def names(dir_fd: int, path: str, prefix: str = "") -> list[str]:
    """The names in a folder (those that start with ``prefix``), sorted.

    Raises:
        CacheError: The folder cannot be listed.
    """
    try:
        listed = os.listdir(dir_fd)  # CPython lists a duplicate of the descriptor
        return sorted([n for n in listed if n.startswith(prefix)] if prefix else listed)
    except OSError as err:
        raise io_error("list cache folder", path, err) from err


def temp_owner(name: str) -> str | None:
    """The file a temp file of :func:`write_file` was to replace; ``None`` if not a temp file.

    >>> temp_owner(".n1-c1-eth0.0123abcd.tmp")
    'n1-c1-eth0'
    """
    tail = TEMP_DIGITS + len(_TEMP_SUFFIX) + 1  # ".<hex>.tmp"
    if len(name) <= tail + 1 or not name.startswith(".") or not name.endswith(_TEMP_SUFFIX):
        return None
    digits = name[-tail + 1 : -len(_TEMP_SUFFIX)]
    # Hex digits now; earlier cnilib used tempfile.mkstemp's [a-z0-9_] names.
    if name[-tail] != "." or not all(c in _TEMP_ALPHABET for c in digits):
        return None
    return name[1:-tail]
