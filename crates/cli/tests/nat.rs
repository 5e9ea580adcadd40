//! One computer behind a NAT, the other on the "internet": four network namespaces that
//! the test creates, with documentation-range addresses that never leave them.
//!
//! ```text
//!  a 192.0.2.2 -- 192.0.2.1 [na] 203.0.113.1 --+
//!                                              br0 203.0.113.254 [s]: toss-signal, coturn
//!                              b 203.0.113.2 --+
//! ```
//!
//! `na` masquerades (nftables) what `a` sends toward `s`, where the signaling server and
//! coturn (STUN and TURN, with a test user) run. `a` sends, `b` receives, both told about
//! the STUN and TURN server and nothing else.
//!
//! - A plain NAT: ICE finds the direct path through it, and the bytes never touch the relay.
//! - The same NAT with a firewall that lets UDP reach only the TURN server (as on many
//!   office and hotel networks): no direct path exists, ICE falls back to the relay on its
//!   own, and both sides say so.
//!
//! Needs root and coturn's `turnserver` (scripts/setup.sh installs it); says SKIPPED
//! without either.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Longest one transfer may take.
const LIMIT: Duration = Duration::from_secs(180);

const SIGNAL: &str = "ws://203.0.113.254:18703";
const TURN: &str = "turn:203.0.113.254:3478";
const STUN: &str = "stun:203.0.113.254:3478";

mod support;

use support::{bin, coturn_args, is_root, random_file, run, which, Killed};

const ROLES: [&str; 4] = ["a", "na", "s", "b"];

/// The namespaces; deleted (with their links) on drop.
struct Net {
    id: u32,
}

impl Net {
    fn ns(&self, role: &str) -> String {
        format!("toss-{role}-{}", self.id)
    }

    fn ip(&self, role: &str, args: &[&str]) -> Result<(), String> {
        let ns = self.ns(role);
        let mut all = vec!["ip", "-n", ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    fn exec(&self, role: &str, args: &[&str]) -> Result<(), String> {
        let ns = self.ns(role);
        let mut all = vec!["ip", "netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// A veth pair between two namespaces, named after them.
    fn wire(&self, x: &str, y: &str) -> Result<(String, String), String> {
        let (vx, vy) = (format!("v{x}{y}{}", self.id), format!("v{y}{x}{}", self.id));
        run(&[
            "ip", "link", "add", &vx, "type", "veth", "peer", "name", &vy,
        ])?;
        run(&["ip", "link", "set", &vx, "netns", &self.ns(x)])?;
        run(&["ip", "link", "set", &vy, "netns", &self.ns(y)])?;
        Ok((vx, vy))
    }

    fn up(&self, role: &str, dev: &str, addr: Option<&str>) -> Result<(), String> {
        if let Some(addr) = addr {
            self.ip(role, &["addr", "add", addr, "dev", dev])?;
        }
        self.ip(role, &["link", "set", dev, "up"])
    }

    /// Builds the network; with `firewall`, the NAT lets UDP through to the TURN server
    /// only.
    fn create(firewall: bool) -> Result<Net, String> {
        let net = Net {
            id: std::process::id() % 10_000,
        };
        for role in ROLES {
            run(&["ip", "netns", "add", &net.ns(role)])?;
            net.ip(role, &["link", "set", "lo", "up"])?;
        }
        let (a_na, na_a) = net.wire("a", "na")?;
        let (na_s, s_na) = net.wire("na", "s")?;
        let (b_s, s_b) = net.wire("b", "s")?;
        net.ip("s", &["link", "add", "br0", "type", "bridge"])?;
        net.up("s", "br0", Some("203.0.113.254/24"))?;
        for dev in [&s_na, &s_b] {
            net.ip("s", &["link", "set", dev, "master", "br0"])?;
            net.up("s", dev, None)?;
        }
        net.up("a", &a_na, Some("192.0.2.2/24"))?;
        net.ip("a", &["route", "add", "default", "via", "192.0.2.1"])?;
        net.up("b", &b_s, Some("203.0.113.2/24"))?;
        net.up("na", &na_a, Some("192.0.2.1/24"))?;
        net.up("na", &na_s, Some("203.0.113.1/24"))?;
        net.exec("na", &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        let nft = |args: &[&str]| {
            let mut all = vec!["nft"];
            all.extend_from_slice(args);
            net.exec("na", &all)
        };
        nft(&["add", "table", "ip", "nat"])?;
        nft(&[
            "add",
            "chain",
            "ip",
            "nat",
            "post",
            "{ type nat hook postrouting priority 100; }",
        ])?;
        nft(&[
            "add",
            "rule",
            "ip",
            "nat",
            "post",
            "oifname",
            &na_s,
            "masquerade",
        ])?;
        if firewall {
            nft(&["add", "table", "ip", "fw"])?;
            nft(&[
                "add",
                "chain",
                "ip",
                "fw",
                "gate",
                "{ type filter hook forward priority 0; }",
            ])?;
            nft(&[
                "add",
                "rule",
                "ip",
                "fw",
                "gate",
                "iifname",
                &na_a,
                "ip",
                "daddr",
                "!=",
                "203.0.113.254",
                "meta",
                "l4proto",
                "udp",
                "drop",
            ])?;
        }
        Ok(net)
    }

    fn cmd(&self, role: &str, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(role)]).arg(program);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for role in ROLES {
            let _ = run(&["ip", "netns", "del", &self.ns(role)]);
        }
    }
}

/// Starts toss-signal and coturn in `s`.
fn services(net: &Net, turnserver: &Path) -> Result<(Killed, Killed), Box<dyn std::error::Error>> {
    let mut signal = net.cmd("s", &bin("toss-signal"));
    signal
        .args(["--listen", "203.0.113.254:18703"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let signal = Killed(signal.spawn()?);
    let mut turn = net.cmd("s", turnserver);
    turn.args(coturn_args("203.0.113.254", 3478, 49152, 49252))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let turn = Killed(turn.spawn()?);
    Ok((signal, turn))
}

fn toss(net: &Net, role: &str, args: &[&str]) -> Command {
    let mut c = net.cmd(role, &bin("toss"));
    c.args(args)
        .args(["--signal", SIGNAL, "--json", "--no-discovery"])
        .args(["--ice-server", STUN, "--turn", TURN, "--turn-user", "toss"])
        .env("TOSS_TURN_PASSWORD", "test-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Sends `src` from a to b; returns both sides' JSON events once both have exited.
fn transfer(
    net: &Net,
    src: &Path,
    out: &Path,
) -> Result<(Vec<Value>, Vec<Value>), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (sender, mut sender_lines, code) = loop {
        let mut child = Killed(toss(net, "a", &["send", &src.to_string_lossy()]).spawn()?);
        let mut lines = BufReader::new(child.0.stdout.take().ok_or("stdout")?).lines();
        let first: Option<Value> = lines
            .next()
            .and_then(|l| l.ok())
            .and_then(|l| serde_json::from_str(&l).ok());
        if let Some(code) = first
            .as_ref()
            .filter(|v| v["event"] == "code")
            .and_then(|v| v["code"].as_str())
        {
            break (child, lines, code.to_owned());
        }
        // The server takes a moment to listen.
        assert!(started.elapsed() < Duration::from_secs(20), "no code");
        std::thread::sleep(Duration::from_millis(200));
    };
    let out_arg = out.to_string_lossy();
    let mut receiver =
        Killed(toss(net, "b", &["receive", "--yes", "--out", &out_arg, &code]).spawn()?);
    let deadline = Instant::now() + LIMIT;
    while receiver.0.try_wait()?.is_none() {
        assert!(Instant::now() < deadline, "the transfer took too long");
        std::thread::sleep(Duration::from_millis(100));
    }
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut receiver.0.stdout.take().ok_or("stdout")?, &mut text)?;
    let received = parse(&text);
    let mut sent = Vec::new();
    for line in sender_lines.by_ref().map_while(Result::ok) {
        if let Ok(v) = serde_json::from_str(&line) {
            sent.push(v);
        }
    }
    drop(sender);
    Ok((sent, received))
}

fn path_kind(events: &[Value]) -> Result<String, String> {
    events
        .iter()
        .find(|e| e["event"] == "connected")
        .and_then(|e| e["path"]["kind"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("never connected: {events:?}"))
}

#[test]
fn behind_a_nat_the_path_is_direct_where_ice_can_and_relayed_where_it_cannot() -> TestResult {
    if !is_root() {
        eprintln!("SKIPPED: creating network namespaces needs root");
        return Ok(());
    }
    let Some(turnserver) = which("turnserver") else {
        eprintln!("SKIPPED: coturn's turnserver is not installed (scripts/setup.sh installs it)");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("photos.tar");
    let data = random_file(&src, 6 << 20)?;

    for (firewall, want) in [(false, "direct"), (true, "relay")] {
        // As root, a network that cannot be built is a failure, not a skip.
        let net = Net::create(firewall)?;
        let _services = services(&net, &turnserver)?;
        let out = tmp.path().join(if firewall { "firewall" } else { "nat" });
        std::fs::create_dir(&out)?;
        let (sent, received) = transfer(&net, &src, &out)?;
        assert!(
            received.iter().any(|e| e["event"] == "done"),
            "the receiver finished: {received:?}"
        );
        assert!(
            sent.iter().any(|e| e["event"] == "done"),
            "the sender finished: {sent:?}"
        );
        assert!(
            std::fs::read(out.join("photos.tar"))? == data,
            "byte-identical"
        );
        for side in [&sent, &received] {
            let kind = path_kind(side)?;
            assert_eq!(kind, want, "firewall: {firewall}");
            let connected = side.iter().find(|e| e["event"] == "connected");
            let size = connected.map(|e| e["path"]["packet_size"].clone());
            assert_eq!(
                size,
                Some(1191.into()),
                "small packets off the local network"
            );
        }
        eprintln!(
            "NAT{}: the path is {}",
            if firewall { " and UDP firewall" } else { "" },
            path_kind(&received)?
        );
    }
    Ok(())
}
