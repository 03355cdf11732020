#!/usr/bin/env python3
"""One runtime process of the load suite (tests/integration/test_load.py): ADDs, then DELs.

Usage::

    load_worker.py JOB

``JOB`` is a JSON object: ``cache`` (the cache root), ``path`` (the plugin directories),
``conflist`` (a file), ``attachments``, a list of ``[containerID, netns]`` (interface
``eth0``). The worker ADDs them one after the other through
:class:`cnilib.api.CNIConfig`, printing one line per event, flushed at once:

* ``begin <containerID>`` right before an ADD is called;
* ``added <containerID> <result JSON on one line>`` after it returned;
* ``failed <containerID> <error class>`` when it raised a ``CNIError``;
* ``ready`` once every ADD was tried.

It then waits for one line on stdin (the test's go-ahead, after it has inspected the
attachments), DELs every attachment, prints ``failed <containerID> <error class>`` for a DEL
that raised and ``deleted`` at the end, and exits (1 if anything failed).
"""

from __future__ import annotations

import json
import sys

from cnilib.api import CNIConfig
from cnilib.config import conflist_from_file
from cnilib.errors import CNIError
from cnilib.protocol import RuntimeConf


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    cni = CNIConfig(job["path"], cache_dir=job["cache"])
    net = conflist_from_file(job["conflist"])
    rts = [RuntimeConf(cid, netns, "eth0") for cid, netns in job["attachments"]]
    failed = False
    for rt in rts:
        say(f"begin {rt.container_id}")
        try:
            result = cni.add_network_list(net, rt)
        except CNIError as err:
            say(f"failed {rt.container_id} {type(err).__name__}")
            failed = True
            continue
        say(f"added {rt.container_id} {json.dumps(json.loads(result.to_json()))}")
    say("ready")
    sys.stdin.readline()
    for rt in rts:
        try:
            cni.del_network_list(net, rt)
        except CNIError as err:
            say(f"failed {rt.container_id} {type(err).__name__}")
            failed = True
    say("deleted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
