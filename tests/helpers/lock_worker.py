#!/usr/bin/env python3
"""A second process for tests/test_lock.py: takes cache locks and reports by exit status.

Usage (ROOT is the cache root):

    lock_worker.py lock ROOT NET CID IFNAME TIMEOUT   exit 0 if had in time, 3 on LockTimeoutError
    lock_worker.py gc ROOT TIMEOUT                    the same for the exclusive GC lock
    lock_worker.py hold ROOT NET CID IFNAME           take the lock, print "held", wait for a
                                                      line on stdin, release, exit 0
    lock_worker.py count ROOT FILE N                  N times under the lock of (n, c, eth0):
                                                      read the integer in FILE, write it + 1
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cnilib.cache import ResultCache
from cnilib.errors import LockTimeoutError


def main(argv: list[str]) -> int:
    mode, root = argv[0], argv[1]
    cache = ResultCache(root)
    try:
        if mode == "lock":
            net, cid, ifname, timeout = argv[2:6]
            with cache.lock(net, cid, ifname, timeout=float(timeout)):
                return 0
        if mode == "gc":
            with cache.gc_lock(timeout=float(argv[2])):
                return 0
        if mode == "hold":
            net, cid, ifname = argv[2:5]
            with cache.lock(net, cid, ifname, timeout=30.0):
                print("held", flush=True)
                sys.stdin.readline()
            return 0
        if mode == "count":
            counter, times = Path(argv[2]), int(argv[3])
            for _ in range(times):
                with cache.lock("n", "c", "eth0", timeout=60.0):
                    value = int(counter.read_text())
                    time.sleep(0.0005)  # widen the window a missing lock would lose updates in
                    counter.write_text(str(value + 1))
            return 0
    except LockTimeoutError:
        return 3
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
