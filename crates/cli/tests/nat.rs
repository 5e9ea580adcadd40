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
//! Needs root: ignored as "needs root", and `make test` runs it when it runs as root (CI
//! does). Needs coturn's `turnserver` too (scripts/setup.sh installs it), and says SKIPPED
//! without it.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use toss_testkit::data::random_file;
use toss_testkit::netns::Routed;
use toss_testkit::process::{assert_root, wait, which, Killed};
use toss_testkit::signal::SignalProcess;
use toss_testkit::{coturn, json, AnyResult, TestResult};

/// Longest one transfer may take.
const LIMIT: Duration = Duration::from_secs(180);

const SIGNAL: &str = "ws://203.0.113.254:18703";
const TURN: &str = "turn:203.0.113.254:3478";
const STUN: &str = "stun:203.0.113.254:3478";

mod support;

use support::bin;

const ROLES: [&str; 4] = ["a", "na", "s", "b"];

/// Builds the network of four namespaces (deleted, with their links, when dropped); with
/// `firewall`, the NAT lets UDP through to the TURN server only. As root, a network that
/// cannot be built is an error, not a skip.
fn create(firewall: bool) -> AnyResult<Routed> {
    let net = Routed::create("nat", &ROLES)?;
    let (a_na, na_a) = net.wire("a", "na")?;
    let (na_s, s_na) = net.wire("na", "s")?;
    let (b_s, s_b) = net.wire("b", "s")?;
    net.bridge("s", "203.0.113.254/24", &[&s_na, &s_b])?;
    net.up("a", &a_na, Some("192.0.2.2/24"))?;
    net.ip("a", &["route", "add", "default", "via", "192.0.2.1"])?;
    net.up("b", &b_s, Some("203.0.113.2/24"))?;
    net.up("na", &na_a, Some("192.0.2.1/24"))?;
    net.up("na", &na_s, Some("203.0.113.1/24"))?;
    net.masquerade("na", &na_s)?;
    if firewall {
        net.udp_only_to("na", &na_a, "203.0.113.254")?;
    }
    Ok(net)
}

/// Starts toss-signal and coturn in `s`; returns once toss-signal listens (a sender that
/// finds no server would host the code on its own network instead).
fn services(net: &Routed, turnserver: &Path) -> AnyResult<(SignalProcess, Killed)> {
    let signal =
        SignalProcess::start_with(net.cmd("s", bin("toss-signal")), "203.0.113.254:18703")?;
    let mut turn = net.cmd("s", turnserver);
    turn.args(coturn::args("203.0.113.254", 3478, 49152, 49252))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let turn = Killed(turn.spawn()?);
    Ok((signal, turn))
}

fn toss(net: &Routed, role: &str, args: &[&str]) -> Command {
    let mut c = net.cmd(role, bin("toss"));
    c.args(args)
        .args(["--signal", SIGNAL, "--json", "--no-discovery"])
        .args([
            "--ice-server",
            STUN,
            "--turn",
            TURN,
            "--turn-user",
            coturn::USER,
        ])
        .env("TOSS_TURN_PASSWORD", coturn::PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Sends `src` from a to b; returns both sides' JSON events once both have exited.
fn transfer(net: &Routed, src: &Path, out: &Path) -> AnyResult<(Vec<Value>, Vec<Value>)> {
    let mut sender = Killed(toss(net, "a", &["send", &src.to_string_lossy()]).spawn()?);
    let mut sender_lines = BufReader::new(sender.0.stdout.take().ok_or("stdout")?).lines();
    let first: Value =
        serde_json::from_str(&sender_lines.next().ok_or("the sender said nothing")??)?;
    assert_eq!(first["event"], "code", "{first}");
    let code = first["code"].as_str().ok_or("no code")?.to_owned();
    let out_arg = out.to_string_lossy();
    let mut receiver =
        Killed(toss(net, "b", &["receive", "--yes", "--out", &out_arg, &code]).spawn()?);
    wait(&mut receiver.0, LIMIT)?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut receiver.0.stdout.take().ok_or("stdout")?, &mut text)?;
    let received = json::lines(&text);
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
#[ignore = "needs root"]
fn behind_a_nat_the_path_is_direct_where_ice_can_and_relayed_where_it_cannot() -> TestResult {
    assert_root("creating network namespaces");
    let Some(turnserver) = which("turnserver") else {
        eprintln!("SKIPPED: coturn's turnserver is not installed (scripts/setup.sh installs it)");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("photos.tar");
    let data = random_file(&src, 6 << 20)?;

    for (firewall, want) in [(false, "direct"), (true, "relay")] {
        // As root, a network that cannot be built is a failure, not a skip.
        let net = create(firewall)?;
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
