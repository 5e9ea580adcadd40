#!/usr/bin/env python3
"""Toss before and after a change, alternating, on loopback in the benchmark's namespace.

Usage (as root): scripts/bench-ab.py BEFORE_DIR [MIB] [ROUNDS]

BEFORE_DIR holds `toss` release binaries built before the change (copy them out of
$CARGO_TARGET_DIR/release before rebuilding); "after" is the current release build. Each round
sends a MIB (default 256) random file with `toss send` -> `toss receive --yes` through the
current `toss-signal`, at 8220-byte and then 1191-byte packets, before then after, and then
with magic-wormhole, and prints every rate (receiver start to exit), the receiver's CPU time
(user + system) and the medians.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        raise SystemExit(__doc__)
    before, after = Path(args[0]), bench.RELEASE
    mib = int(args[1]) if len(args) > 1 else 256
    rounds = int(args[2]) if len(args) > 2 else 3
    bench.setup_namespace()
    work = Path(tempfile.mkdtemp(prefix="toss-ab-"))
    server = bench.Proc([after / "toss-signal", "--listen", f"127.0.0.1:{bench.SIGNAL_PORT}",
                         "--max-connections-per-ip", "100000", "--room-requests-per-minute",
                         "1000000", "--guess-refill", "0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rates, cpu = {}, {}
    try:
        bench.wait_port(bench.SIGNAL_PORT)
        src = work / "ab.bin"
        bench.random_file(src, mib)
        for n in range(rounds):
            for small in (False, True):
                for name, release in (("before", before), ("after", after)):
                    bench.RELEASE = release
                    os.sync()
                    r = bench.toss_transfer(work, src, small_packets=small)
                    rate = r["mib"] / r["wall"]
                    size = 1191 if small else bench.LARGE_PACKET
                    rates.setdefault(f"{size} {name}", []).append(rate)
                    cpu.setdefault(f"{size} {name}", []).append(r["recv_cpu"])
                    bench.say(f"round {n + 1}, {size}-byte packets, {name}: {rate:.1f} MiB/s, "
                              f"receiver CPU {r['recv_cpu']:.2f} s "
                              f"(byte-identical: {r['identical']})")
            bench.RELEASE = after
            w = bench.magic_wormhole(work, src)
            if w:
                rates.setdefault("magic-wormhole", []).append(w["mib_per_s"])
        for key, values in rates.items():
            bench.say(f"{key}: " + ", ".join(f"{v:.1f}" for v in values)
                      + f" MiB/s; median {statistics.median(values):.1f}")
        for key, values in cpu.items():
            bench.say(f"{key}, receiver CPU (user + system): " + ", ".join(f"{v:.2f}" for v in values)
                      + f" s; median {statistics.median(values):.2f}")
    finally:
        server.stop()
        bench.teardown_namespace()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
