"""Where the suite finds its material. Everything it needs is in the repository.

* ``CORPUS``: the real-world corpus in ``tests/data/corpus`` (``configs/``, ``invalid/``,
  ``results/``; provenance and licences in its ``SOURCES.md``).
* :func:`corpus_files`: the files of one corpus folder, plus any *extra* files a corpus folder
  outside the repository holds, when ``$CNILIB_EXTRA_CORPUS`` names one: more cases, never a
  requirement. Files the repository already has, by
  name, are not taken twice. Tests that count files or load a folder by name use ``CORPUS``
  alone, so extra files cannot change their expectations.
* ``GOREF``: the Go libcni reference program that ``.ci/setup.sh`` builds from
  ``tests/helpers/goref`` into ``.venv/bin/goref``; ``$GOREF`` overrides it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["ROOT", "CORPUS", "EXTRA_CORPUS", "GOREF", "corpus_files"]

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
EXTRA_CORPUS = (Path(os.environ["CNILIB_EXTRA_CORPUS"]) if os.environ.get("CNILIB_EXTRA_CORPUS")
                else None)
GOREF = (os.environ.get("GOREF") or os.environ.get("CNILIB_GOREF")
         or (str(ROOT / ".venv" / "bin" / "goref")
             if (ROOT / ".venv" / "bin" / "goref").exists() else None)
         or shutil.which("goref") or str(ROOT / ".venv" / "bin" / "goref"))


def corpus_files(folder: str) -> list[Path]:
    """The files of ``CORPUS/<folder>``, then the extra ones, each group sorted by name.

    Args:
        folder: ``"configs"``, ``"invalid"`` or ``"results"``.

    Returns:
        The repository's files, followed by the files of ``EXTRA_CORPUS/<folder>`` whose
        names the repository does not have (none when there is no such folder).
    """
    own = sorted(p for p in (CORPUS / folder).iterdir() if p.is_file())
    names = {p.name for p in own}
    if EXTRA_CORPUS is None:
        return own
    extra_dir = EXTRA_CORPUS / folder
    if not extra_dir.is_dir() or extra_dir.resolve() == (CORPUS / folder).resolve():
        return own
    return own + sorted(p for p in extra_dir.iterdir() if p.is_file() and p.name not in names)
