#!/usr/bin/env python3
"""A runtime process for tests/integration/test_crash.py to kill: one ADD or DEL, then exit.

Usage::

    crash_worker.py JOB

``JOB`` is a JSON object: ``verb`` (``add`` or ``del``), ``cache`` (the cache root), ``path``
(the plugin directories), ``conflist`` (a file), ``cid``, ``netns``, ``ifname``. The worker
prints ``start`` once everything is imported, right before the call, and ``done`` after it;
a refused or failed call prints the error's class name instead of ``done`` and exits 1.
"""

from __future__ import annotations

import json
import sys

from cnilib.api import CNIConfig
from cnilib.config import conflist_from_file
from cnilib.errors import CNIError
from cnilib.protocol import RuntimeConf


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    cni = CNIConfig(job["path"], cache_dir=job["cache"])
    net = conflist_from_file(job["conflist"])
    rt = RuntimeConf(job["cid"], job["netns"], job["ifname"])
    call = cni.add_network_list if job["verb"] == "add" else cni.del_network_list
    print("start", flush=True)
    try:
        call(net, rt)
    except CNIError as err:
        print(type(err).__name__, flush=True)
        return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
