#!/usr/bin/env python3
"""make bench: every throughput, latency and memory figure of docs/benchmarks.md, measured in
one run on this machine and printed side by side (the machine is shared and noisy, so each
figure comes with its counterpart from the same run).

Everything runs inside a network namespace that this script creates with only a loopback
interface, so no program measured here (Toss or a peer tool) can reach any other address.
Needs root for the namespace; release builds are made first.

The throughput comparisons (Toss against raw webrtc-rs, Toss against the peer tools) run in
three rounds, each pairing the two back to back, and report the median round beside every
round's ratio.

Usage: scripts/bench.py [--quick] [STEP ...] (quick: smaller files and one round, for trying
the script itself; steps: raw toss setup peers memory signal net group, all by default)
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/toss/target"))
RELEASE = TARGET / "release"
NETNS = "tossbench"
QUICK = "--quick" in sys.argv
MIB = 1024 * 1024
RAW_MIB = 64 if QUICK else 256
BIG_MIB = 128 if QUICK else 1024
HUGE_MIB = 256 if QUICK else 4096
SETUP_RUNS = 3 if QUICK else 10
# The throughput comparisons run in rounds, each pairing Toss with its counterpart back to back,
# and report the median round: this machine is shared, and one sample moves by 1.5x.
ROUNDS = 1 if QUICK else 3
SIGNAL_CLIENTS = 1000 if QUICK else 10_000
SIGNAL_PORT = 18787
UDP_BUFFER = 4 * MIB  # what Toss asks for each UDP socket (UDP_BUFFER in crates/core/src/defaults.rs)
LARGE_PACKET = 8220  # Toss's packet size host to host (LARGE_SCTP_PACKET in crates/core/src/defaults.rs)

results = {}


def say(msg):
    print(f"bench: {msg}", flush=True)


def ns(cmd, where=NETNS):
    """A command run inside the benchmark's namespace (or `where`)."""
    return ["ip", "netns", "exec", where] + [str(c) for c in cmd]


def setup_namespace():
    subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    subprocess.run(ns(["ip", "link", "set", "lo", "up"]), check=True)


def teardown_namespace():
    subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "del", "tossbench-lan"], stderr=subprocess.DEVNULL)


class Proc:
    """A background process in the namespace, killed on exit."""

    def __init__(self, cmd, **kw):
        self.p = subprocess.Popen(ns(cmd), start_new_session=True, **kw)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)


def wait_port(port, limit=20.0, host="127.0.0.1"):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = subprocess.run(ns(["bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]),
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {host}:{port}")


def timed(cmd, where=NETNS, **kw):
    """Runs cmd under /usr/bin/time -v; returns (completed, wall seconds, peak RSS MiB)."""
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + ns(cmd, where), capture_output=True, text=True, **kw)
    wall = time.monotonic() - start
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return p, wall, (int(m.group(1)) / 1024 if m else float("nan"))


def start_sender(cmd, **kw):
    """Starts `toss send --json ...`; returns the process and the code it shows."""
    sender = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
    for line in sender.stdout:
        ev = json.loads(line)
        if ev.get("event") == "code":
            return sender, ev["code"]
    raise SystemExit("the sender showed no code")


def random_file(path, mib):
    subprocess.run(["head", "-c", f"{mib}M", "/dev/urandom"], stdout=open(path, "wb"), check=True)


# ---------------------------------------------------------------------------------------
# 1. raw webrtc-rs


def raw_run(size, buf, procs):
    """One raw-webrtc run: `size`-byte SCTP packets (0: the stack's default), `buf` bytes of
    UDP socket buffer asked for (0: the system's default), `procs` processes."""
    single = ["--single-thread"] if procs == 2 else []
    p = subprocess.run(ns([RELEASE / "raw-webrtc", "--mib", RAW_MIB, "--packet-size", size,
                           "--udp-buffer", buf, "--processes", procs, *single]),
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"raw-webrtc failed: {p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    say(f"raw webrtc-rs, {RAW_MIB} MiB, {r['packet_size']}-byte SCTP packets, "
        f"UDP buffers {'of Toss (4 MiB asked)' if buf else 'at the system default'}, "
        f"{'two single-threaded processes' if procs == 2 else 'one process'}: "
        f"{r['mib_per_s']:.1f} MiB/s")
    return r


def raw_webrtc():
    """Each packet size with the system's default UDP socket buffers (the stack as used
    naively), and with Toss's buffers and the two peers in two processes, each on a
    single-threaded runtime, as Toss's sender and receiver run a transfer. The one-process run
    with Toss's buffers, the baseline of the 0.95 target, runs in rounds beside Toss
    (`toss_end_to_end`)."""
    for size in (0, LARGE_PACKET):
        r = raw_run(size, 0, 1)
        results[f"raw_{r['packet_size']}_default_buffers"] = r
        r = raw_run(size, UDP_BUFFER, 2)
        results[f"raw_{r['packet_size']}_two_processes"] = r


# ---------------------------------------------------------------------------------------
# 2. Toss end to end, and 6. memory


def toss_transfer(work, src, small_packets=False, out_root=None, common=None, recv_ns=NETNS):
    """One `toss send` -> `toss receive --yes` through the local toss-signal (or with the
    options `common`), received into a new folder under `out_root` (default `work`), in
    namespace `recv_ns`. Returns a dict of figures from the receiver's JSON events and
    /usr/bin/time."""
    out = (out_root or work) / f"out-{time.monotonic_ns()}"
    out.mkdir()
    if common is None:
        common = ["--signal", f"ws://127.0.0.1:{SIGNAL_PORT}", "--loopback", "--json"]
    if small_packets:
        common.append("--small-packets")
    sender_log = open(work / "sender.log", "w+")
    sender, code = start_sender(["/usr/bin/time", "-v"] + ns([RELEASE / "toss", "send"] + common + [src]),
                                stderr=sender_log)
    recv, wall, recv_rss = timed([RELEASE / "toss", "receive"] + common + ["--yes", "--out", out, code],
                                 where=recv_ns, timeout=3600)
    sender.stdout.read()
    sender.wait(timeout=60)
    sender_log.seek(0)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", sender_log.read())
    send_rss = int(m.group(1)) / 1024 if m else float("nan")
    events = [json.loads(l) for l in recv.stdout.splitlines() if l.startswith("{")]
    done = next((e for e in events if e.get("event") == "done"), None)
    conn = next((e for e in events if e.get("event") == "connected"), {})
    probed = next((e for e in events if e.get("event") == "path_probed"), None)
    if recv.returncode != 0 or done is None:
        raise SystemExit(f"toss receive failed: {recv.stdout} {recv.stderr[-2000:]}")
    same = subprocess.run(["cmp", src, out / Path(src).name]).returncode == 0
    shutil.rmtree(out)
    mib = done["bytes"] / MIB
    cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", recv.stderr)]
    return {
        "recv_cpu": sum(cpu) if len(cpu) == 2 else float("nan"),
        "mib": mib,
        "seconds": done["seconds"],
        "mib_per_s": mib / done["seconds"],
        "wall": wall,
        "recv_rss_mib": recv_rss,
        "send_rss_mib": send_rss,
        "identical": same,
        "packet_size": conn.get("path", {}).get("packet_size"),
        "path": conn.get("path", {}),
        "probed": probed["packet_size"] if probed else None,
    }


def disk_write(work, src):
    """The disk's own pace in this run: `src` (in the page cache) copied to a new file in
    `work` and synced, as Toss's receiver syncs a file before saying it is saved."""
    dst = work / "disk-write.bin"
    start = time.monotonic()
    with open(src, "rb") as f, open(dst, "wb") as g:
        while block := f.read(4 * MIB):
            g.write(block)
        g.flush()
        os.fdatasync(g.fileno())
    seconds = time.monotonic() - start
    dst.unlink()
    mib = os.path.getsize(src) / MIB
    return {"mib": mib, "seconds": seconds, "mib_per_s": mib / seconds}


def tmpfs_room(mib):
    """/dev/shm when it is a tmpfs with room for a `mib` MiB file and as much again."""
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    return shm if st.f_bavail * st.f_frsize > 2 * mib * MIB else None


def median_round(rounds):
    """The round whose ratio is the median (the middle one of an odd number of rounds)."""
    return sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]


def toss_end_to_end(work):
    """Toss against raw webrtc-rs in one process with Toss's UDP buffers, at each packet
    size, in ROUNDS rounds: raw, then Toss, back to back. The ratio of each round, and the
    round with the median ratio as the figure."""
    big = work / "big.bin"
    random_file(big, BIG_MIB)
    shm = tmpfs_room(BIG_MIB)
    for small in (False, True):
        rounds = []
        for i in range(ROUNDS):
            os.sync()
            raw = raw_run(1191 if small else LARGE_PACKET, UDP_BUFFER, 1)
            r = toss_transfer(work, big, small_packets=small)
            say(f"Toss end to end, round {i + 1} of {ROUNDS}, {BIG_MIB} MiB, "
                f"{r['packet_size']}-byte packets: {r['mib_per_s']:.1f} MiB/s first byte to "
                f"verified, receiver wall {r['wall']:.1f} s, byte-identical: {r['identical']}; "
                f"peak RSS sender {r['send_rss_mib']:.1f} MiB, receiver {r['recv_rss_mib']:.1f} MiB; "
                f"Toss / raw one process: {r['mib_per_s'] / raw['mib_per_s']:.2f}")
            one = {"raw": raw, "toss": r, "ratio": r["mib_per_s"] / raw["mib_per_s"]}
            if not small:
                # What the disk itself allows, and Toss with the disk taken out (received
                # into tmpfs): where the time goes when Toss is behind.
                os.sync()
                one["disk"] = disk_write(work, big)
                say(f"the disk, round {i + 1}: the same file copied and synced at "
                    f"{one['disk']['mib_per_s']:.1f} MiB/s")
                if shm:
                    m = toss_transfer(work, big, out_root=shm)
                    one["tmpfs"] = m
                    say(f"Toss, round {i + 1}, received into tmpfs: {m['mib_per_s']:.1f} MiB/s "
                        f"(byte-identical: {m['identical']}); Toss / raw one process: "
                        f"{m['mib_per_s'] / raw['mib_per_s']:.2f}")
            rounds.append(one)
        mid = median_round(rounds)
        size = mid["toss"]["packet_size"]
        results[f"raw_{size}"] = dict(mid["raw"], rounds=[x["raw"]["mib_per_s"] for x in rounds])
        results[f"toss_{size}"] = dict(mid["toss"], rounds=[x["toss"]["mib_per_s"] for x in rounds])
        results[f"ratio_{size}"] = {"median": mid["ratio"], "rounds": [x["ratio"] for x in rounds]}
        if not small:
            results["disk_write"] = {
                "mib_per_s": statistics.median(x["disk"]["mib_per_s"] for x in rounds),
                "rounds": [x["disk"]["mib_per_s"] for x in rounds]}
            if shm:
                tm = [x["tmpfs"]["mib_per_s"] / x["raw"]["mib_per_s"] for x in rounds]
                results[f"toss_{size}_tmpfs"] = {
                    "mib_per_s": statistics.median(x["tmpfs"]["mib_per_s"] for x in rounds),
                    "rounds": [x["tmpfs"]["mib_per_s"] for x in rounds],
                    "ratio_median": statistics.median(tm), "ratio_rounds": tm}
            else:
                say("Toss into tmpfs: SKIPPED (no /dev/shm with room for the file)")
    big.unlink()


def memory(work):
    for mib in (256, HUGE_MIB):
        f = work / f"mem-{mib}.bin"
        random_file(f, mib)
        r = toss_transfer(work, f)
        f.unlink()
        results[f"memory_{mib}"] = r
        say(f"memory, {mib} MiB file: peak RSS sender {r['send_rss_mib']:.1f} MiB, receiver "
            f"{r['recv_rss_mib']:.1f} MiB (byte-identical: {r['identical']})")


# ---------------------------------------------------------------------------------------
# 5. setup latency


def setup_latency(work):
    small = work / "hello.txt"
    small.write_text("hello\n")
    opened, first = [], []
    for _ in range(SETUP_RUNS):
        # A STUN server that nobody answers (nothing listens on that port in this namespace):
        # with trickle ICE it must not delay the connection.
        common = ["--signal", f"ws://127.0.0.1:{SIGNAL_PORT}", "--loopback", "--json",
                  "--ice-server", "stun:127.0.0.1:3478"]
        sender, code = start_sender(ns([RELEASE / "toss", "send"] + common + [small]),
                                    stderr=subprocess.DEVNULL)
        out = work / f"setup-{time.monotonic_ns()}"
        out.mkdir()
        start = time.monotonic()
        recv = subprocess.Popen(ns([RELEASE / "toss", "receive"] + common + ["--yes", "--out", out, code]),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        t_open = t_first = None
        for line in recv.stdout:
            ev = json.loads(line)
            now = time.monotonic() - start
            if ev.get("event") == "connected" and t_open is None:
                t_open = now
            if ev.get("event") in ("progress", "file_done") and t_first is None:
                t_first = now
        recv.wait(timeout=60)
        sender.stdout.read()
        sender.wait(timeout=60)
        shutil.rmtree(out)
        if t_open is not None and t_first is not None:
            opened.append(t_open * 1000)
            first.append(t_first * 1000)
    results["setup"] = {"runs": len(opened), "open_ms": statistics.median(opened),
                        "first_byte_ms": statistics.median(first)}
    say(f"setup, median of {len(opened)}, an unreachable STUN server configured: receiver "
        f"started -> data channel open {results['setup']['open_ms']:.0f} ms, -> first byte {results['setup']['first_byte_ms']:.0f} ms")


# ---------------------------------------------------------------------------------------
# 4. peers


def magic_wormhole(work, src, host="127.0.0.1", recv_ns=NETNS):
    """magic-wormhole sends `src` from the benchmark's namespace to a receiver in `recv_ns`,
    through a mailbox server and a transit relay of its own listening on `host` there."""
    if not shutil.which("wormhole") or not shutil.which("twist"):
        say("magic-wormhole: SKIPPED (install it with scripts/setup.sh --bench)")
        return
    db = work / f"mailbox-{time.monotonic_ns()}.sqlite"
    mailbox = Proc(["twist", "wormhole-mailbox", "--port", f"tcp:4000:interface={host}",
                    "--channel-db", db], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   cwd=work)
    relay = Proc(["twist", "transitrelay", "--port", f"tcp:4001:interface={host}"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    try:
        wait_port(4000, host=host)
        wait_port(4001, host=host)
        url = f"ws://{host}:4000/v1"
        opts = ["--relay-url", url, "--transit-helper", f"tcp:{host}:4001"]
        sender = subprocess.Popen(ns(["wormhole"] + opts + ["send", "--code", "7-bench-wormhole", src]),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        out = work / "wormhole-out"
        out.mkdir()
        time.sleep(1)
        p, wall, rss = timed(["wormhole"] + opts + ["receive", "--accept-file", "-o", out / "f.bin",
                                                    "7-bench-wormhole"], where=recv_ns, cwd=work,
                             timeout=1800)
        sender.wait(timeout=60)
        same = subprocess.run(["cmp", src, out / "f.bin"]).returncode == 0
        mib = os.path.getsize(src) / MIB
        say(f"magic-wormhole, {mib:.0f} MiB, receiver start to exit: {mib / wall:.1f} MiB/s "
            f"(byte-identical: {same})")
        shutil.rmtree(out)
        return {"mib": mib, "wall": wall, "mib_per_s": mib / wall, "identical": same,
                "rss_mib": rss}
    finally:
        mailbox.stop()
        relay.stop()


def sendme(work, src):
    exe = shutil.which("sendme") or str(Path.home() / ".cargo/bin/sendme")
    if not Path(exe).exists():
        say("sendme: SKIPPED (install it with scripts/setup.sh --bench)")
        return
    sender = subprocess.Popen(ns([exe, "send", "--relay", "disabled", src]), cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    ticket = None
    deadline = time.monotonic() + 60
    for line in sender.stdout:
        m = re.search(r"(blob[a-z0-9]{20,})", line)
        if m:
            ticket = m.group(1)
            break
        if time.monotonic() > deadline:
            break
    if ticket is None:
        os.killpg(sender.pid, signal.SIGTERM)
        say("sendme: FAILED to get a ticket")
        return
    out = work / "sendme-out"
    out.mkdir()
    p, wall, rss = timed([exe, "receive", "--relay", "disabled", ticket], cwd=out, timeout=1800)
    os.killpg(sender.pid, signal.SIGTERM)
    got = out / Path(src).name
    same = got.exists() and subprocess.run(["cmp", src, got]).returncode == 0
    mib = os.path.getsize(src) / MIB
    say(f"sendme, {mib:.0f} MiB, receiver start to exit: {mib / wall:.1f} MiB/s "
        f"(byte-identical: {same})")
    shutil.rmtree(out)
    return {"mib": mib, "wall": wall, "mib_per_s": mib / wall, "identical": same}


def peers(work):
    """Toss, magic-wormhole and sendme on the same file, receiver start to exit, in ROUNDS
    rounds; each peer's figure is its median, and each ratio the median of its rounds."""
    src = work / "peers.bin"
    random_file(src, RAW_MIB)
    toss, ratios = [], {"magic_wormhole": [], "sendme": []}
    for i in range(ROUNDS):
        os.sync()
        # Toss on the same file, for the same-run comparison (receiver start to exit).
        r = toss_transfer(work, src)
        mib = r["mib"]
        toss.append(mib / r["wall"])
        say(f"Toss, round {i + 1} of {ROUNDS}, {mib:.0f} MiB, receiver start to exit: "
            f"{toss[-1]:.1f} MiB/s ({r['packet_size']}-byte packets)")
        for name, run in (("magic_wormhole", magic_wormhole), ("sendme", sendme)):
            peer = run(work, src)
            if peer:
                ratios[name].append(toss[-1] / peer["mib_per_s"])
                results.setdefault(name, {"mib": peer["mib"], "runs": []})["runs"].append(peer["mib_per_s"])
    results["toss_peers_file"] = {"mib": mib, "mib_per_s": statistics.median(toss), "rounds": toss}
    for name, rs in ratios.items():
        if rs:
            results[name]["mib_per_s"] = statistics.median(results[name]["runs"])
            results[name]["ratio_median"] = statistics.median(rs)
            results[name]["ratio_rounds"] = rs
    src.unlink()


# ---------------------------------------------------------------------------------------
# 8. a computer on a network, as users have it (emulated in namespaces)

LAN_NS = "tossbench-lan"
NET_RUNS = 3 if QUICK else 10
NET_MIB = 64 if QUICK else 256


def setup_lan():
    """The benchmark's namespace gets what a computer on a network has besides loopback: an
    interface (a veth to `LAN_NS`, 1500-byte MTU) with a global IPv4 and a global IPv6
    address, 203.0.113.10/24 and 2001:db8:1::10/64 (documentation ranges: they lead nowhere;
    no route leaves the two namespaces). `LAN_NS` is the other computer of the LAN, .1."""
    subprocess.run(["ip", "netns", "del", LAN_NS], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", LAN_NS], check=True)
    subprocess.run(["ip", "link", "add", "tbn0", "netns", NETNS, "type", "veth", "peer", "name",
                    "tbn1", "netns", LAN_NS], check=True)
    for where, dev, v4, v6 in ((NETNS, "tbn0", "203.0.113.10/24", "2001:db8:1::10/64"),
                               (LAN_NS, "tbn1", "203.0.113.1/24", "2001:db8:1::1/64")):
        for cmd in (["link", "set", dev, "addrgenmode", "none"],
                    ["addr", "add", v4, "dev", dev], ["addr", "add", v6, "dev", dev, "nodad"],
                    ["link", "set", dev, "mtu", "1500", "up"], ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", where] + cmd, check=True)


def path_words(r):
    path = r["path"]
    where = "local" if path.get("local_network") else "not local"
    size = f"{r['packet_size']} B" + (f", probed to {r['probed']} B" if r.get("probed") else "")
    return f"{path.get('kind')}, {where}, {size}"


def network(work):
    """Toss with default settings (no --loopback: every interface but loopback, a STUN
    server configured, here one that nobody answers) on this computer's own addresses, ten
    runs, each beside a magic-wormhole run on the same file; then the IPv6 LAN: the receiver
    on the other computer, over global IPv6 addresses only. Each run's path and packet size,
    and the distribution of rates."""
    setup_lan()
    src = work / "net.bin"
    random_file(src, NET_MIB)
    default = ["--signal", f"ws://127.0.0.1:{SIGNAL_PORT}", "--ice-server", "stun:203.0.113.1:3478",
               "--json"]
    runs = []
    try:
        for i in range(NET_RUNS):
            os.sync()
            r = toss_transfer(work, src, common=list(default))
            rate = r["mib"] / r["wall"]
            w = magic_wormhole(work, src)
            ratio = rate / w["mib_per_s"] if w else None
            runs.append({"toss": rate, "path": path_words(r), "packet_size": r["packet_size"],
                         "identical": r["identical"], "wormhole": w["mib_per_s"] if w else None,
                         "ratio": ratio, "transfer": r["mib_per_s"]})
            say(f"own addresses, run {i + 1} of {NET_RUNS}, {NET_MIB} MiB: Toss {rate:.1f} MiB/s "
                f"receiver start to exit, {r['mib_per_s']:.1f} first byte to done "
                f"({path_words(r)}; byte-identical: {r['identical']})"
                + (f"; magic-wormhole {w['mib_per_s']:.1f} MiB/s; Toss / wormhole {ratio:.2f}" if w else ""))
        results["net_own_addresses"] = {"mib": NET_MIB, "runs": runs}
        # The IPv6 LAN: only the global IPv6 addresses left on the link.
        for where, dev, v4 in ((NETNS, "tbn0", "203.0.113.10/24"), (LAN_NS, "tbn1", "203.0.113.1/24")):
            subprocess.run(["ip", "-n", where, "addr", "del", v4, "dev", dev], check=True)
        port = SIGNAL_PORT + 2
        server = Proc([RELEASE / "toss-signal", "--listen", f"[2001:db8:1::10]:{port}"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lan = []
        try:
            time.sleep(1)
            common = ["--signal", f"ws://[2001:db8:1::10]:{port}", "--ice-server",
                      "stun:[2001:db8:1::1]:3478", "--json"]
            for i in range(NET_RUNS):
                os.sync()
                r = toss_transfer(work, src, common=list(common), recv_ns=LAN_NS)
                rate = r["mib"] / r["wall"]
                lan.append({"toss": rate, "path": path_words(r), "packet_size": r["packet_size"],
                            "identical": r["identical"], "transfer": r["mib_per_s"]})
                say(f"IPv6 LAN, run {i + 1} of {NET_RUNS}, {NET_MIB} MiB: Toss {rate:.1f} MiB/s "
                    f"receiver start to exit, {r['mib_per_s']:.1f} first byte to done "
                    f"({path_words(r)}; byte-identical: {r['identical']})")
        finally:
            server.stop()
        results["net_ipv6_lan"] = {"mib": NET_MIB, "runs": lan}
    finally:
        subprocess.run(["ip", "netns", "del", LAN_NS], stderr=subprocess.DEVNULL)
        src.unlink()


ROUTER_NS = "tossbench-router"
FAR_NS = "tossbench-far"
ROUTED_RUNS = 1 if QUICK else 5


def setup_routed():
    """The benchmark's namespace and a far one (`FAR_NS`) on two subnets joined by a router
    namespace, every link 1500 bytes and carrying datagrams one by one, as a wire does
    (`gso_max_segs 1`: the sender's offloaded trains are cut before the wire, and a TCP
    stream's segments too). The benchmark's side is 10.81.1.2, the far side 10.81.2.2."""
    for name in (ROUTER_NS, FAR_NS):
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "link", "add", "tbra", "netns", ROUTER_NS, "type", "veth", "peer", "name",
                    "tbar", "netns", NETNS], check=True)
    subprocess.run(["ip", "link", "add", "tbrb", "netns", ROUTER_NS, "type", "veth", "peer", "name",
                    "tbbr", "netns", FAR_NS], check=True)
    for name in (NETNS, ROUTER_NS, FAR_NS):
        subprocess.run(ns(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], name), check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    subprocess.run(ns(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ROUTER_NS), check=True)
    for where, dev, addr, gateway in ((NETNS, "tbar", "10.81.1.2/24", "10.81.1.1"),
                                      (ROUTER_NS, "tbra", "10.81.1.1/24", None),
                                      (ROUTER_NS, "tbrb", "10.81.2.1/24", None),
                                      (FAR_NS, "tbbr", "10.81.2.2/24", "10.81.2.1")):
        for cmd in (["addr", "add", addr, "dev", dev], ["link", "set", dev, "mtu", "1500", "up"],
                    ["link", "set", dev, "gso_max_segs", "1"]):
            subprocess.run(["ip", "-n", where] + cmd, check=True)
        if gateway:
            subprocess.run(["ip", "-n", where, "route", "add", "default", "via", gateway], check=True)


def teardown_routed():
    subprocess.run(["ip", "-n", NETNS, "link", "del", "tbar"], stderr=subprocess.DEVNULL)
    subprocess.run(ns(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0"]), stderr=subprocess.DEVNULL)
    for name in (ROUTER_NS, FAR_NS):
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)


def routed(work):
    """Two computers on two subnets behind a router, 1500-byte links: Toss with default
    settings (it starts at 1191-byte packets and probes up to what the path carries), Toss
    held to 1191-byte packets, and magic-wormhole, each sending the same file to the far
    side, in rounds; each run's packet size and rate, receiver start to exit."""
    setup_routed()
    src = work / "routed.bin"
    random_file(src, NET_MIB)
    port = SIGNAL_PORT + 3
    server = Proc([RELEASE / "toss-signal", "--listen", f"10.81.1.2:{port}"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rounds = []
    try:
        wait_port(port, host="10.81.1.2")
        common = ["--signal", f"ws://10.81.1.2:{port}", "--no-discovery", "--json"]
        for i in range(ROUTED_RUNS):
            row = {}
            for name, extra in (("probed", []), ("small", ["--small-packets"])):
                os.sync()
                r = toss_transfer(work, src, common=common + extra, recv_ns=FAR_NS)
                row[name] = {"mib_per_s": r["mib"] / r["wall"], "path": path_words(r),
                             "packet_size": r["packet_size"], "probed": r["probed"],
                             "identical": r["identical"]}
                say(f"routed, round {i + 1} of {ROUTED_RUNS}, Toss {'default' if not extra else '--small-packets'}: "
                    f"{row[name]['mib_per_s']:.1f} MiB/s receiver start to exit ({path_words(r)}; "
                    f"byte-identical: {r['identical']})")
            w = magic_wormhole(work, src, host="10.81.1.2", recv_ns=FAR_NS)
            if w:
                row["wormhole"] = w["mib_per_s"]
                for name in ("probed", "small"):
                    row[name]["ratio"] = row[name]["mib_per_s"] / w["mib_per_s"]
                say(f"routed, round {i + 1}: Toss / magic-wormhole {row['probed']['ratio']:.2f} "
                    f"(probed), {row['small']['ratio']:.2f} (1191-byte packets)")
            rounds.append(row)
        results["routed"] = {"mib": NET_MIB, "rounds": rounds}
    finally:
        server.stop()
        teardown_routed()
        src.unlink()


# ---------------------------------------------------------------------------------------
# 7. signaling load


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    return ticks, hwm / 1024


def signal_load(work):
    port = SIGNAL_PORT + 1
    server = Proc(["bash", "-c", f"ulimit -n $(ulimit -Hn) && exec {RELEASE / 'toss-signal'} "
                   f"--listen 127.0.0.1:{port} --max-connections-per-ip 100000 "
                   f"--room-requests-per-minute 1000000 --guess-refill 0"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        pid = subprocess.run(["pgrep", "-f", f"toss-signal --listen 127.0.0.1:{port}"],
                             capture_output=True, text=True).stdout.split()[0]
        t0, _ = proc_stat(pid)
        start = time.monotonic()
        p = subprocess.run(ns(["bash", "-c", f"ulimit -n $(ulimit -Hn) && exec {RELEASE / 'signal-load'} "
                               f"--addr 127.0.0.1:{port} --clients {SIGNAL_CLIENTS}"]),
                           capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - start
        t1, rss = proc_stat(pid)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r.update({"server_rss_mib": rss, "server_cpu_s": (t1 - t0) / 100, "wall": wall})
        results["signal"] = r
        say(f"signaling, {r['clients']} clients in {r['rooms']} rooms ({r['failed_rooms']} failed): "
            f"relay p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms; server peak RSS "
            f"{rss:.1f} MiB, CPU {r['server_cpu_s']:.1f} s over {wall:.0f} s")
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------
# 8. one sender, several receivers


GROUP_MIB = 64 if QUICK else 256
SLOW_CGROUP = "tossbench-slow"
SLOW_BPS = 32 * MIB  # the slow receiver's disk: writes capped at 32 MiB/s


def cpu_seconds(time_v):
    """User plus system seconds from /usr/bin/time -v's report."""
    user = re.search(r"User time \(seconds\): ([\d.]+)", time_v)
    system = re.search(r"System time \(seconds\): ([\d.]+)", time_v)
    return float(user.group(1)) + float(system.group(1)) if user and system else float("nan")


def slow_disk(folder):
    """A control group whose writes to the disk under `folder` are capped (cgroup v2 io.max,
    or v1 blkio); returns the file to write a pid into, or None when this machine has none."""
    dev = os.stat(folder).st_dev
    disk = f"{os.major(dev)}:{os.minor(dev)}"
    sys_dev = Path(f"/sys/dev/block/{disk}")
    if not sys_dev.exists():
        return None
    if (sys_dev / "partition").exists():
        disk = (sys_dev.resolve().parent / "dev").read_text().strip()
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    try:
        if v2.exists():
            root = Path("/sys/fs/cgroup")
            if "io" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+io")
            group = root / SLOW_CGROUP
            group.mkdir(exist_ok=True)
            (group / "io.max").write_text(f"{disk} wbps={SLOW_BPS}")
        else:
            group = Path("/sys/fs/cgroup/blkio") / SLOW_CGROUP
            group.mkdir(exist_ok=True)
            (group / "blkio.throttle.write_bps_device").write_text(f"{disk} {SLOW_BPS}")
    except OSError as e:
        say(f"no slow disk here: {e}")
        return None
    return group / "cgroup.procs"


def group_send(work, src, receivers, slow=None):
    """`toss send` (`--receivers N --yes` for more than one) to N `toss receive --yes`
    processes started together; with `slow`, the last receiver runs in that control group.
    Returns each receiver's first byte to verified seconds (from its own done event), the
    sender's CPU seconds and peak RSS, and whether every copy is byte-identical."""
    common = ["--signal", f"ws://127.0.0.1:{SIGNAL_PORT}", "--loopback", "--json"]
    group = ["--receivers", str(receivers), "--yes"] if receivers > 1 else []
    sender_log = open(work / "group-sender.log", "w+")
    sender, code = start_sender(["/usr/bin/time", "-v"] + ns([RELEASE / "toss", "send"] + common + group + [src]),
                                stderr=sender_log)
    outs, procs = [], []
    for i in range(receivers):
        out = work / f"group-out-{time.monotonic_ns()}"
        out.mkdir()
        cmd = ns([RELEASE / "toss", "receive"] + common + ["--yes", "--out", out, code])
        if slow and i == receivers - 1:
            cmd = ["sh", "-c", f"echo $$ > {slow} && exec \"$@\"", "sh"] + cmd
        outs.append(out)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    seconds = []
    for p in procs:
        stdout, _ = p.communicate(timeout=3600)
        done = next((json.loads(l) for l in stdout.splitlines()
                     if l.startswith("{") and json.loads(l).get("event") == "done"), None)
        if p.returncode != 0 or done is None:
            raise SystemExit(f"a receiver of the group failed: {stdout[-2000:]}")
        seconds.append(done["seconds"])
    sender.stdout.read()
    sender.wait(timeout=60)
    sender_log.seek(0)
    report = sender_log.read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    same = all(subprocess.run(["cmp", src, out / Path(src).name]).returncode == 0 for out in outs)
    for out in outs:
        shutil.rmtree(out)
    return {"seconds": seconds, "send_cpu_s": cpu_seconds(report),
            "send_rss_mib": int(m.group(1)) / 1024 if m else float("nan"), "identical": same}


def group(work):
    """1 -> 1 and 1 -> 3 receivers of one file, in rounds back to back: the aggregate rate,
    its ratio to three single transfers shared by this machine's cores, and the sender's CPU
    per GiB delivered; a slow receiver (its disk capped) beside two fast ones against three
    fast ones; the sender's peak RSS with 1 and 4 receivers."""
    src = work / "group.bin"
    random_file(src, GROUP_MIB)
    cores = os.cpu_count() or 1
    slow = slow_disk(work)
    rounds = []
    for i in range(ROUNDS):
        os.sync()
        one = group_send(work, src, 1)
        os.sync()
        three = group_send(work, src, 3)
        single = GROUP_MIB / one["seconds"][0]
        aggregate = 3 * GROUP_MIB / max(three["seconds"])
        r = {"single": single, "aggregate": aggregate,
             "ratio": aggregate / (3 * single / cores),
             "cpu_per_gib_one": one["send_cpu_s"] / (GROUP_MIB / 1024),
             "cpu_per_gib_three": three["send_cpu_s"] / (3 * GROUP_MIB / 1024),
             "identical": one["identical"] and three["identical"],
             "fast_alone": sorted(three["seconds"])[:2]}
        if slow:
            os.sync()
            mixed = group_send(work, src, 3, slow=slow)
            r["fast_beside_slow"] = mixed["seconds"][:2]
            r["slow"] = mixed["seconds"][2]
            r["slow_cost"] = max(mixed["seconds"][:2]) / max(r["fast_alone"])
            r["cpu_per_gib_mixed"] = mixed["send_cpu_s"] / (3 * GROUP_MIB / 1024)
            r["identical"] = r["identical"] and mixed["identical"]
        say(f"group, round {i + 1} of {ROUNDS}, {GROUP_MIB} MiB: 1 -> 1 {single:.1f} MiB/s; 1 -> 3 "
            f"aggregate {aggregate:.1f} MiB/s = {r['ratio']:.2f} x (3 x single / {cores} cores); "
            f"sender CPU per GiB delivered {r['cpu_per_gib_one']:.2f} s (1) / "
            f"{r['cpu_per_gib_three']:.2f} s (3); byte-identical: {r['identical']}"
            + (f"; beside a receiver whose disk takes {SLOW_BPS // MIB} MiB/s the fast ones took "
               + ", ".join(f"{x:.2f}" for x in r["fast_beside_slow"]) + " s against "
               + ", ".join(f"{x:.2f}" for x in r["fast_alone"]) + f" s ({r['slow_cost']:.2f} x), "
               f"the slow one {r['slow']:.1f} s" if slow else ""))
        rounds.append(r)
    mid = median_round(rounds)
    results["group"] = dict(mid, mib=GROUP_MIB, cores=cores, rounds=rounds)
    rss = {}
    for n in (1, 4):
        os.sync()
        rss[n] = group_send(work, src, n)["send_rss_mib"]
    results["group"]["send_rss_mib"] = rss
    say(f"group: sender peak RSS {rss[1]:.1f} MiB with 1 receiver, {rss[4]:.1f} MiB with 4")
    src.unlink()
    if slow:
        try:
            slow.parent.rmdir()
        except OSError:
            pass


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (it runs everything in its own network namespace)")
    setup_namespace()
    work = Path(tempfile.mkdtemp(prefix="toss-bench-", dir=os.environ.get("TOSS_BENCH_DIR")))
    server = Proc([RELEASE / "toss-signal", "--listen", f"127.0.0.1:{SIGNAL_PORT}",
                   "--max-connections-per-ip", "100000", "--room-requests-per-minute", "1000000",
                   "--guess-refill", "0"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(SIGNAL_PORT)
        only = [a for a in sys.argv[1:] if not a.startswith("--")]
        steps = {"raw": raw_webrtc, "toss": lambda: toss_end_to_end(work),
                 "setup": lambda: setup_latency(work), "peers": lambda: peers(work),
                 "memory": lambda: memory(work), "signal": lambda: signal_load(work),
                 "net": lambda: network(work), "routed": lambda: routed(work),
                 "group": lambda: group(work)}
        for name, step in steps.items():
            if not only or name in only:
                # The previous step's files leave the disk while this one runs otherwise:
                # after the 4 GiB memory step that writeback took the signaling step's CPU.
                os.sync()
                step()
        summary()
        (work / "results.json").write_text(json.dumps(results, indent=1))
        out = TARGET / "bench-results.json"
        out.write_text(json.dumps(results, indent=1))
        say(f"all figures: {out}")
    finally:
        server.stop()
        teardown_namespace()
        shutil.rmtree(work, ignore_errors=True)


def summary():
    say(f"---- ratios (same run; medians of {ROUNDS} rounds where rounds ran) ----")
    for size in (1191, LARGE_PACKET):
        raw, toss = results.get(f"raw_{size}"), results.get(f"toss_{size}")
        ratio = results.get(f"ratio_{size}")
        if raw and toss and ratio:
            rounds = ", ".join(f"{x:.2f}" for x in ratio["rounds"])
            say(f"Toss / raw webrtc-rs (one process) at {size}-byte packets: "
                f"{toss['mib_per_s']:.1f} / {raw['mib_per_s']:.1f} = {ratio['median']:.2f} "
                f"(median round; rounds {rounds})")
        tm = results.get(f"toss_{size}_tmpfs")
        if tm:
            rounds = ", ".join(f"{x:.2f}" for x in tm["ratio_rounds"])
            say(f"Toss received into tmpfs (the disk taken out) / raw webrtc-rs (one process) at "
                f"{size}-byte packets: {tm['ratio_median']:.2f} (median; rounds {rounds})")
        disk = results.get("disk_write")
        if disk and toss and size == LARGE_PACKET:
            say(f"Toss to disk / the disk's own copy-and-sync of the same file: "
                f"{toss['mib_per_s']:.1f} / {disk['mib_per_s']:.1f} = "
                f"{toss['mib_per_s'] / disk['mib_per_s']:.2f} (rounds "
                + ", ".join(f"{x:.0f}" for x in disk["rounds"]) + " MiB/s)")
        two = results.get(f"raw_{size}_two_processes")
        if two and toss:
            say(f"Toss / raw webrtc-rs in two single-threaded processes at {size}-byte packets: "
                f"{toss['mib_per_s']:.1f} / {two['mib_per_s']:.1f} = "
                f"{toss['mib_per_s'] / two['mib_per_s']:.2f}")
        if two and raw:
            say(f"raw webrtc-rs at {size}-byte packets, two processes / one: "
                f"{two['mib_per_s'] / raw['mib_per_s']:.2f}")
        naive = results.get(f"raw_{size}_default_buffers")
        if naive and raw:
            say(f"raw webrtc-rs at {size}-byte packets, 4 MiB / default UDP buffers: "
                f"{raw['mib_per_s'] / naive['mib_per_s']:.2f}x")
    small, large = results.get("raw_1191"), results.get(f"raw_{LARGE_PACKET}")
    if small and large:
        say(f"raw webrtc-rs {LARGE_PACKET} vs 1191-byte packets: "
            f"{large['mib_per_s'] / small['mib_per_s']:.2f}x")
    t = results.get("toss_peers_file")
    for peer in ("magic_wormhole", "sendme"):
        p = results.get(peer)
        if t and p and "ratio_median" in p:
            rounds = ", ".join(f"{x:.2f}" for x in p["ratio_rounds"])
            say(f"Toss / {peer}, same {t['mib']:.0f} MiB file, receiver start to exit: "
                f"{t['mib_per_s']:.1f} / {p['mib_per_s']:.1f} (medians); ratio "
                f"{p['ratio_median']:.2f} (median; rounds {rounds})")
    g = results.get("group")
    if g:
        say(f"one sender, 3 receivers of {g['mib']} MiB: aggregate {g['aggregate']:.1f} MiB/s, 1 -> 1 "
            f"{g['single']:.1f} MiB/s; aggregate / (3 x single / {g['cores']} cores) = {g['ratio']:.2f} "
            f"(median round; rounds " + ", ".join(f"{r['ratio']:.2f}" for r in g["rounds"]) + ")")
        if "slow_cost" in g:
            say(f"  the fast receivers beside a slow one / without it: " +
                ", ".join(f"{r['slow_cost']:.2f}" for r in g["rounds"]))
    routed_runs = results.get("routed")
    if routed_runs and all("wormhole" in r for r in routed_runs["rounds"]):
        for name, what in (("probed", "default settings (probing)"), ("small", "1191-byte packets")):
            ratios = [r[name]["ratio"] for r in routed_runs["rounds"]]
            sizes = sorted({r[name]["probed"] or r[name]["packet_size"] for r in routed_runs["rounds"]})
            say(f"routed 1500-byte path, Toss {what} / magic-wormhole: median "
                f"{statistics.median(ratios):.2f} (rounds " + ", ".join(f"{x:.2f}" for x in ratios)
                + f"; packet sizes {sizes})")
    for key, what in (("net_own_addresses", "this computer's own addresses, default settings"),
                      ("net_ipv6_lan", "the IPv6 LAN")):
        net = results.get(key)
        if not net:
            continue
        rates = [r["toss"] for r in net["runs"]]
        large = sum(1 for r in net["runs"] if r["packet_size"] == LARGE_PACKET)
        transfer = [r["transfer"] for r in net["runs"]]
        say(f"Toss on {what}, {len(rates)} runs of {net['mib']} MiB: {large} at {LARGE_PACKET}-byte "
            f"packets; MiB/s receiver start to exit min {min(rates):.1f}, median "
            f"{statistics.median(rates):.1f}, max {max(rates):.1f}; first byte to done min "
            f"{min(transfer):.1f}, median {statistics.median(transfer):.1f}, max {max(transfer):.1f}")
        ratios = [r["ratio"] for r in net["runs"] if r.get("ratio")]
        if ratios:
            say(f"  Toss / magic-wormhole per run: min {min(ratios):.2f}, median "
                f"{statistics.median(ratios):.2f}, max {max(ratios):.2f} ("
                + ", ".join(f"{x:.2f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
