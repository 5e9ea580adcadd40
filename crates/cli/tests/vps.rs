//! Two homes and a VPS (toss_testkit::vps): a friend on another network, with nothing set
//! but the server's `wss://` address. Each home gets `toss config server wss://vps.toss.test`
//! and nothing else (no STUN, no TURN, no certificate option; the VPS's CA in the
//! computer's bundle, as a company's would be). The homes must fetch TURN credentials from
//! the server, ask the TURN server for their public addresses, and:
//! - with a firewall on each router that lets UDP reach only the VPS, relay 1 GiB through
//!   coturn, byte-identical;
//! - without it, find the path through both NATs, with the same file.
//!
//! Needs root, coturn's `turnserver` and `caddy` (scripts/setup.sh installs both); ignored
//! as "needs root", and run by `make test` as root.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::{large_random_file, same_bytes};
use toss_testkit::process::{assert_root, drain, wait, Killed};
use toss_testkit::vps::{self, Tools, TwoHomes, DOMAIN};
use toss_testkit::{json, AnyResult, TestResult};

mod support;

use support::bin;

/// The file both transfers carry.
const SIZE: u64 = 1 << 30;
/// Longest one 1 GiB transfer may take (1191-byte packets through two NATs or a relay).
const LIMIT: Duration = Duration::from_secs(240);
/// The network and the VPS, and each home's own HOME (settings under .config).
struct Homes {
    vps: TwoHomes,
    home: [PathBuf; 2],
}

impl Homes {
    /// Builds it all, and gives each home the server's address with `toss config server`.
    fn create(tmp: &Path, firewall: bool, tools: &Tools) -> AnyResult<Homes> {
        let vps = TwoHomes::create(tmp, firewall, &bin("toss-signal"), tools)?;
        let homes = Homes {
            vps,
            home: [tmp.join("home-a"), tmp.join("home-b")],
        };
        for (role, dir) in ["a", "b"].iter().zip(&homes.home) {
            std::fs::create_dir(dir)?;
            let out = homes
                .toss_in(role, dir, &["config", "server", &format!("wss://{DOMAIN}")])
                .output()?;
            assert!(
                out.status.success(),
                "toss config server: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(homes)
    }

    /// `toss ARGS` in `role`, with `home` as its HOME and the CA in its certificate bundle:
    /// nothing else is set.
    fn toss_in(&self, role: &str, home: &Path, args: &[&str]) -> Command {
        let mut c = self.vps.net.cmd(role, bin("toss"));
        c.args(args)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("SSL_CERT_FILE", &self.vps.ca)
            .env_remove("SSL_CERT_DIR")
            .env_remove("TOSS_SIGNAL")
            .env_remove("TOSS_TURN_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Sends `src` from a to b; returns both sides' JSON events and the receiver's stderr.
    fn transfer(&self, src: &Path, out: &Path) -> AnyResult<(Vec<Value>, Vec<Value>, String)> {
        let src_arg = src.to_string_lossy();
        let mut sender = Killed(
            self.toss_in("a", &self.home[0], &["send", &src_arg, "--json"])
                .spawn()?,
        );
        // Both sides print progress all along: their pipes are read as they go, or a full
        // pipe would stop them.
        let _sender_err = drain(sender.0.stderr.take().ok_or("stderr")?);
        let mut lines = BufReader::new(sender.0.stdout.take().ok_or("stdout")?).lines();
        let first: Value = serde_json::from_str(&lines.next().ok_or("the sender said nothing")??)?;
        let code = first["code"]
            .as_str()
            .ok_or_else(|| format!("the sender showed no code: {first}"))?
            .to_owned();
        let sent_rest = std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
                .collect::<Vec<_>>()
        });
        let out_arg = out.to_string_lossy();
        let mut receiver = Killed(
            self.toss_in(
                "b",
                &self.home[1],
                &["receive", "--yes", "--json", "--out", &out_arg, &code],
            )
            .spawn()?,
        );
        let receiver_err = drain(receiver.0.stderr.take().ok_or("stderr")?);
        let receiver_out = drain(receiver.0.stdout.take().ok_or("stdout")?);
        let waited = wait(&mut receiver.0, LIMIT);
        let received = json::lines(&receiver_out.join().unwrap_or_default());
        let stderr = receiver_err.join().unwrap_or_default();
        if let Err(e) = waited {
            let last: Vec<&Value> = received.iter().rev().take(3).collect();
            return Err(format!("toss receive: {e}; its last events {last:?}; {stderr}").into());
        }
        // The sender ends on its own once the receiver confirmed the last file.
        wait(&mut sender.0, Duration::from_secs(30))?;
        let mut sent = vec![first];
        sent.extend(sent_rest.join().unwrap_or_default());
        Ok((sent, received, stderr))
    }
}

/// The path a side's `connected` event reports.
fn connected(events: &[Value]) -> Result<&Value, String> {
    events
        .iter()
        .find(|e| e["event"] == "connected")
        .map(|e| &e["path"])
        .ok_or_else(|| format!("never connected: {events:?}"))
}

/// One transfer of 1 GiB between the two homes, relayed through the VPS (`relayed`) or not:
/// a path through both NATs, which each side names by what it knows of the other's address
/// (`stun` for one STUN found, `direct` for one its checks came from).
fn between_two_homes(firewall: bool, relayed: bool) -> TestResult {
    assert_root("creating network namespaces");
    let Some(tools) = vps::tools() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("holiday.mkv");
    large_random_file(&src, SIZE)?;
    // As root, a network that cannot be built is a failure, not a skip.
    let homes = Homes::create(tmp.path(), firewall, &tools)?;
    let out = tmp.path().join("received");
    std::fs::create_dir(&out)?;
    let started = Instant::now();
    let (sent, received, stderr) = homes.transfer(&src, &out)?;
    let seconds = started.elapsed().as_secs_f64();
    for (side, events) in [("sender", &sent), ("receiver", &received)] {
        assert!(
            events.iter().any(|e| e["event"] == "done"),
            "the {side} finished: {events:?}\nreceiver's stderr: {stderr}"
        );
        let path = connected(events)?;
        if relayed {
            assert_eq!(path["kind"], "relay", "the {side}'s path: {path}");
        } else {
            assert!(
                path["kind"] == "stun" || path["kind"] == "direct",
                "the {side}'s path is not through the NATs: {path}"
            );
        }
        assert_eq!(path["local_network"], false, "the {side}'s path: {path}");
    }
    assert!(
        same_bytes(&src, &out.join("holiday.mkv"))?,
        "holiday.mkv arrived with other bytes than were sent"
    );
    eprintln!(
        "two homes{}: 1 GiB over {} in {seconds:.1} s ({:.1} MiB/s)",
        if firewall {
            " behind UDP firewalls"
        } else {
            ""
        },
        connected(&received)?,
        1024.0 / seconds
    );
    Ok(())
}

#[test]
#[ignore = "needs root"]
fn two_homes_given_only_the_servers_address_relay_through_its_turn_when_udp_is_blocked(
) -> TestResult {
    between_two_homes(true, true)
}

#[test]
#[ignore = "needs root"]
fn two_homes_given_only_the_servers_address_find_the_direct_path_through_both_nats() -> TestResult {
    between_two_homes(false, false)
}
