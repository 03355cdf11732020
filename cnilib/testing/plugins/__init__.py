"""Test plugins written on :mod:`cnilib.skel`, for any runtime's test suite.

Three plugins speak the spec up to 1.1.0, GC and STATUS included:

* ``cnilib-test-record`` (:mod:`cnilib.testing.plugins.record`): logs every call and does what
  a *control file* says (result, error, exit code, stderr, sleep, supported versions);
* ``cnilib-test-sleep`` (:mod:`cnilib.testing.plugins.sleep`): sleeps, then answers politely,
  for timeouts and cancellation;
* ``cnilib-test-debug`` (:mod:`cnilib.testing.plugins.debug`): the CNI project's ``debug``
  plugin, logging each request as text and passing ``prevResult`` through.

Each is a console script of the cnilib distribution, and :func:`install_plugin` writes a small
executable wrapper for one of them (or for a plugin script of your own) into a plugin directory,
which is what a runtime's tests need: a file named for the plugin ``type`` on the plugin path.

Rules of this file:

* It only writes and reads files: the installer, the control file writer and the log reader.
  The plugins' code lives in their own modules, which run as plugin processes.
* A wrapper's first line is ``sys.executable`` and it puts the very ``cnilib`` that installed
  it first on ``sys.path``, so plugin and test run the same code, from a checkout or a wheel.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnilib.errors import ConfigError, InvalidIdentifierError
from cnilib.identifiers import check_plugin_type

__all__ = [
    "PLUGINS",
    "RECORD",
    "SLEEP",
    "DEBUG",
    "CONTROL_ENV",
    "install_plugin",
    "install_plugins",
    "write_control",
    "read_log",
]

#: The plugin ``type`` (and console script) of the recording plugin.
RECORD = "cnilib-test-record"
#: The plugin ``type`` (and console script) of the sleeping plugin.
SLEEP = "cnilib-test-sleep"
#: The plugin ``type`` (and console script) of the debug plugin.
DEBUG = "cnilib-test-debug"

#: Each shipped plugin's name and the module whose ``main()`` runs it.
PLUGINS: Mapping[str, str] = {
    RECORD: "cnilib.testing.plugins.record",
    SLEEP: "cnilib.testing.plugins.sleep",
    DEBUG: "cnilib.testing.plugins.debug",
}

#: The variable naming the recording plugin's control file when the request does not (VERSION
#: has no request to read it from).
CONTROL_ENV = "CNILIB_TEST_CONTROL"

# A shebang line holds one word, and Linux reads at most 255 bytes of it.
_SHEBANG_MAX = 200


def _cnilib_root() -> str:
    import cnilib

    return str(Path(cnilib.__file__).resolve().parent.parent)


def _wrapper(interpreter: str, run: str, environ: Mapping[str, str]) -> str:
    return (
        f"#!{interpreter}\n"
        "# A CNI plugin wrapper written by cnilib.testing.install_plugin.\n"
        "import os\n"
        "import sys\n"
        f"sys.path.insert(0, {_cnilib_root()!r})\n"
        f"os.environ.update({dict(environ)!r})\n"
        f"{run}\n"
    )


def install_plugin(
    directory: str | os.PathLike[str],
    plugin: str | os.PathLike[str],
    *,
    name: str | None = None,
    environ: Mapping[str, str] | None = None,
    python: str | None = None,
) -> Path:
    """Write an executable wrapper for a plugin into a plugin directory.

    The wrapper runs the plugin with ``python`` (the interpreter running the tests by
    default) and the ``cnilib`` that wrote it, so a runtime's test suite gets a plugin file on
    its plugin path without installing anything system-wide.

    Args:
        directory: The plugin directory (created if missing).
        plugin: A shipped test plugin (:data:`RECORD`, :data:`SLEEP`, :data:`DEBUG`), or the
            path of a Python script that is a plugin (your own, written on
            :mod:`cnilib.skel`), run as ``__main__``.
        name: The file name, that is the plugin ``type`` a configuration uses: by default the
            shipped plugin's name, or the script's name without ``.py``. Install one plugin
            under several names to tell instances of a chain apart.
        environ: Variables set in the plugin process before it runs, e.g.
            ``{CONTROL_ENV: "/tmp/control.json"}`` (VERSION reads no request, so this is how
            the recording plugin finds its control file then).
        python: The interpreter; ``sys.executable`` by default.

    Returns:
        The path of the executable.

    Raises:
        ConfigError: ``plugin`` is neither a shipped plugin nor an existing file, or the
            interpreter's path cannot go on a shebang line (spaces, too long).
        InvalidPluginNameError: ``name`` is not a safe plugin type.
        InvalidIdentifierError: an ``environ`` entry could not be an environment variable.
    """
    module = PLUGINS.get(os.fspath(plugin))
    if module is not None:
        run = f"from {module} import main\nmain()"
        default_name = os.fspath(plugin)
    else:
        script = Path(plugin)
        if not script.is_file():
            msg = (f"unknown plugin {os.fspath(plugin)!r}: neither a shipped test plugin "
                   f"({', '.join(PLUGINS)}) nor a script")
            raise ConfigError(msg)
        resolved = str(script.resolve())
        # Run as __main__ with argv[0] left as the wrapper's path (the plugin type the runtime
        # ran), which runpy.run_path would replace with the script's.
        run = (f"with open({resolved!r}, 'rb') as f:\n"
               f"    code = compile(f.read(), {resolved!r}, 'exec')\n"
               f"exec(code, {{'__name__': '__main__', '__file__': {resolved!r}}})")
        default_name = script.name.removesuffix(".py")
    target_name = name or default_name
    check_plugin_type(target_name)
    interpreter = python or sys.executable
    if len(interpreter) > _SHEBANG_MAX or any(c.isspace() for c in interpreter):
        msg = f"cannot use {interpreter!r} on a shebang line; pass python= another path"
        raise ConfigError(msg)
    for key, value in (environ or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            msg = f"cannot set environment variable {key!r} in a plugin"
            raise InvalidIdentifierError(msg)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / target_name
    _write_atomically(target, _wrapper(interpreter, run, environ or {}).encode(), 0o755)
    return target


def install_plugins(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Install every shipped test plugin under its own name into ``directory``.

    Returns:
        The executables, by plugin ``type``.
    """
    return {plugin: install_plugin(directory, plugin) for plugin in PLUGINS}


def write_control(path: str | os.PathLike[str], control: Mapping[str, Any]) -> Path:
    """Write a control file for ``cnilib-test-record``, atomically.

    The file is replaced in one rename, so a plugin running at that moment reads either the
    old control or the new one, never half of one. Its keys are described in
    :mod:`cnilib.testing.plugins.record`.

    Args:
        path: Where to write it.
        control: The control object.

    Returns:
        The path, for chaining into a configuration (``"controlFile": str(path)``).

    Raises:
        TypeError: ``control`` is not JSON-serialisable.
    """
    target = Path(path)
    data = json.dumps(dict(control), indent=2).encode() + b"\n"
    _write_atomically(target, data, 0o644)
    return target


def _write_atomically(target: Path, data: bytes, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode | stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The calls ``cnilib-test-record`` logged in ``path``, in order (``[]`` if none yet).

    Each entry has ``plugin`` (the name it was run as), ``command``, ``env`` (the ``CNI_*``
    and trace variables), ``stdin`` (the decoded request; its text when it is not JSON;
    ``None`` for VERSION, which reads none), ``pid`` and ``time``.

    Args:
        path: The control file's ``log``.

    Returns:
        One dict per call.
    """
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
