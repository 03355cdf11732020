"""Where the suite finds material that lives outside the repository.

* ``SHARED``: the team's shared folder (the CNI spec, the corpus, the Go reference's source).
  CI clones the repository with a copy of ``shared/`` beside it, so the default is
  ``<repo>/../shared``; ``$CNILIB_SHARED`` overrides it.
* ``GOREF``: the Go libcni reference program that ``.ci/setup.sh`` builds into
  ``.venv/bin/goref``; ``$GOREF`` overrides it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["ROOT", "SHARED", "CORPUS", "GOREF"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CNILIB_SHARED") or ROOT.parent / "shared")
CORPUS = SHARED / "corpus"
GOREF = (os.environ.get("GOREF") or os.environ.get("CNILIB_GOREF")
         or (str(ROOT / ".venv" / "bin" / "goref")
             if (ROOT / ".venv" / "bin" / "goref").exists() else None)
         or shutil.which("goref") or str(ROOT / ".venv" / "bin" / "goref"))
