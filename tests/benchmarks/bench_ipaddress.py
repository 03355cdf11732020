"""What building IPv4 interfaces without the ``ipaddress`` constructor saves.

Not a test (the suite never times anything). No root::

    .venv/bin/python tests/benchmarks/bench_ipaddress.py [--rounds N] [--ips N]

cnilib builds an ``IPv4Interface`` for each new address of a result by setting the
attributes the constructor sets (``cnilib.types.common._interface4_direct``), checked at
import against the constructor, with the constructor as the fallback
(``_interface4_public``). Alternating the two, round after round, this prints the CPU time of
one build and of parsing a result of ``--ips`` distinct addresses (the memo of parsed
addresses cleared before each parse), medians over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from cnilib.types import common, parse_result


def result(count: int) -> bytes:
    """A 1.0.0 result of ``count`` distinct addresses in 10.0.0.0/8."""
    ips = ",".join(f'{{"address":"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/8"}}'
                   for i in range(count))
    return f'{{"cniVersion":"1.0.0","ips":[{ips}]}}'.encode()


def main() -> None:
    """Alternate the two builders and print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ips", type=int, default=100_000)
    args = ap.parse_args()
    data = result(args.ips)
    builders = {"direct": common._interface4_direct, "constructor": common._interface4_public}
    one: dict[str, list[float]] = {name: [] for name in builders}
    whole: dict[str, list[float]] = {name: [] for name in builders}
    for rnd in range(args.rounds):
        order = list(builders) if rnd % 2 == 0 else list(reversed(builders))
        for name in order:
            build = builders[name]
            start = time.process_time()
            for i in range(100_000):
                build(0x0A000000 + i, 8)
            one[name].append((time.process_time() - start) / 100_000)
            common._interface4 = build  # type: ignore[misc]
            common._parse_cidr.cache_clear()
            start = time.process_time()
            parse_result(data)
            whole[name].append(time.process_time() - start)
    common._interface4 = builders["direct"]  # type: ignore[misc]
    for name in builders:
        print(f"{name:12} one build {statistics.median(one[name]) * 1e6:6.3f} us, "
              f"a result of {args.ips} addresses {statistics.median(whole[name]) * 1e3:8.1f} ms")
    ratio = statistics.median(a / b for a, b in zip(whole["direct"], whole["constructor"],
                                                    strict=True))
    print(f"parse with direct / with constructor: median ratio {ratio:.2f} "
          f"({args.rounds} rounds)")


if __name__ == "__main__":
    main()
