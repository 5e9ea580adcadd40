//! Two homes and a VPS: a friend on another network, with nothing set but the server's
//! `wss://` address. Five network namespaces that the test creates, with documentation-range
//! addresses that never leave them:
//!
//! ```text
//!  a 192.0.2.2    -- 192.0.2.1    [na] 203.0.113.1 --+
//!                                                    br0 203.0.113.254 [vps] vps.toss.test
//!  b 198.51.100.2 -- 198.51.100.1 [nb] 203.0.113.2 --+
//! ```
//!
//! Each home router masquerades (nftables). The VPS runs the repo's own deploy files, as
//! deploy/install.sh installs them: Caddy with deploy/Caddyfile in front of `toss-signal`
//! started as deploy/toss-signal.service starts it (the TURN secret in a credentials file),
//! and coturn with deploy/turnserver.conf and the same secret. The one difference is Caddy's
//! certificate, from its own internal CA (there is no ACME here), which each home trusts as
//! a company's CA is trusted: in the computer's certificate bundle (`SSL_CERT_FILE`).
//! Each home resolves `vps.toss.test` through its own hosts file (`ip netns exec` puts
//! /etc/netns/NS/hosts in place of /etc/hosts), and has no name server but its own
//! loopback, so no lookup ever leaves the namespaces.
//!
//! Both homes are given `toss config server wss://vps.toss.test` and nothing else: no STUN,
//! no TURN, no certificate option. They must fetch TURN credentials from the server, ask the
//! TURN server for their public addresses, and:
//! - with a firewall on each router that lets UDP reach only the VPS, relay 1 GiB through
//!   coturn, byte-identical;
//! - without it, find the direct path through both NATs, with the same file.
//!
//! Needs root, coturn's `turnserver` and `caddy` (scripts/setup.sh installs both).

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::{large_random_file, same_bytes};
use toss_testkit::netns::Routed;
use toss_testkit::process::{assert_root, wait, which, Killed};
use toss_testkit::signal::SignalProcess;
use toss_testkit::{json, AnyResult, TestResult};

mod support;

use support::bin;

/// The VPS's name, as both homes are told it.
const DOMAIN: &str = "vps.toss.test";
/// The VPS's address on the "internet".
const VPS_IP: &str = "203.0.113.254";
/// Where the unit has toss-signal listen, behind Caddy.
const SIGNAL_LISTEN: &str = "127.0.0.1:8787";
/// The secret coturn and toss-signal share (install.sh makes a random one).
const SECRET: &str = "a-secret-only-the-vps-knows";
/// The file both transfers carry.
const SIZE: u64 = 1 << 30;
/// Longest one 1 GiB transfer may take (1191-byte packets through two NATs or a relay).
const LIMIT: Duration = Duration::from_secs(240);
/// Longest Caddy may take to get its certificate and answer.
const CADDY_READY: Duration = Duration::from_secs(30);

/// The two homes and their routers, the VPS, and `x`, the rest of the internet.
const ROLES: [&str; 6] = ["a", "na", "vps", "nb", "b", "x"];

/// The deploy folder of this repository.
fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(file)
}

/// /etc/netns/NS/ folders written for the homes (hosts, resolv.conf), removed when dropped.
struct EtcNetns(Vec<PathBuf>);

impl EtcNetns {
    /// Gives namespace `ns` a hosts file that names the VPS, and a name server that is its
    /// own loopback (where nothing answers).
    fn add(&mut self, ns: &str) -> AnyResult<()> {
        let dir = Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir)?;
        self.0.push(dir.clone());
        std::fs::write(
            dir.join("hosts"),
            format!("127.0.0.1 localhost\n{VPS_IP} {DOMAIN}\n"),
        )?;
        std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n")?;
        Ok(())
    }
}

impl Drop for EtcNetns {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The network, its services and the homes' settings; everything goes when dropped
/// (services first, then the namespaces).
struct Homes {
    _caddy: Killed,
    _signal: SignalProcess,
    _turn: Killed,
    _etc: EtcNetns,
    net: Routed,
    /// Caddy's root certificate, which the homes trust.
    ca: PathBuf,
    /// Each home's own HOME (settings under .config, downloads where told).
    home: [PathBuf; 2],
}

impl Homes {
    /// Builds the network; with `firewall`, each router lets UDP reach only the VPS.
    fn create(tmp: &Path, firewall: bool, turnserver: &Path, caddy: &Path) -> AnyResult<Homes> {
        let net = Routed::create("vps", &ROLES)?;
        let mut ports = Vec::new();
        for (home, router, inside, outside, gateway) in [
            ("a", "na", "192.0.2.2/24", "203.0.113.1/24", "192.0.2.1"),
            (
                "b",
                "nb",
                "198.51.100.2/24",
                "203.0.113.2/24",
                "198.51.100.1",
            ),
        ] {
            let (h_r, r_h) = net.wire(home, router)?;
            let (r_v, v_r) = net.wire(router, "vps")?;
            net.up(home, &h_r, Some(inside))?;
            net.ip(home, &["route", "add", "default", "via", gateway])?;
            let router_inside = format!("{gateway}/24");
            net.up(router, &r_h, Some(&router_inside))?;
            net.up(router, &r_v, Some(outside))?;
            net.masquerade(router, &r_v)?;
            if firewall {
                net.udp_only_to(router, &r_h, VPS_IP)?;
            }
            ports.push(v_r);
        }
        let ports: Vec<&str> = ports.iter().map(String::as_str).collect();
        net.bridge("vps", &format!("{VPS_IP}/24"), &ports)?;
        for machine in ["na", "vps", "nb"] {
            net.rest_of_the_internet(machine, "x")?;
        }

        let mut etc = EtcNetns(Vec::new());
        etc.add(&net.ns("a"))?;
        etc.add(&net.ns("b"))?;

        // The shared secret, as install.sh keeps it: a file only its owner reads, handed to
        // toss-signal as a systemd credential and written into coturn's configuration.
        let credentials = tmp.join("credentials");
        std::fs::create_dir(&credentials)?;
        write_private(&credentials.join("turn-secret"), SECRET)?;
        let conf = tmp.join("turnserver.conf");
        let mut text = std::fs::read_to_string(deploy("turnserver.conf"))?;
        text.push_str(&format!(
            "static-auth-secret={SECRET}\nexternal-ip={VPS_IP}\n"
        ));
        write_private(&conf, &text)?;
        // The unit's command line, with its log going nowhere instead of to syslog.
        let mut turn = net.cmd("vps", turnserver);
        turn.args([
            "-c",
            &conf.to_string_lossy(),
            "--pidfile=",
            "--log-file=stdout",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let turn = Killed(turn.spawn()?);

        let signal = SignalProcess::start_with(
            signal_as_the_unit_runs_it(&net, &credentials)?,
            SIGNAL_LISTEN,
        )?;

        let caddy_home = tmp.join("caddy");
        std::fs::create_dir(&caddy_home)?;
        let caddyfile = caddy_home.join("Caddyfile");
        // deploy/Caddyfile as it is, after global options that make its certificate come
        // from Caddy's internal CA and keep Caddy's files in the test's folder.
        std::fs::write(
            &caddyfile,
            format!(
                "{{\n\tlocal_certs\n\tskip_install_trust\n\tadmin off\n\tstorage file_system {{\n\t\troot {}\n\t}}\n}}\n\n{}",
                caddy_home.join("data").display(),
                std::fs::read_to_string(deploy("Caddyfile"))?
            ),
        )?;
        let mut caddy_cmd = net.cmd("vps", caddy);
        caddy_cmd
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&caddyfile)
            .env("TOSS_DOMAIN", DOMAIN)
            .env("HOME", &caddy_home)
            .env("XDG_DATA_HOME", caddy_home.join("xdg-data"))
            .env("XDG_CONFIG_HOME", caddy_home.join("xdg-config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let caddy_proc = Killed(caddy_cmd.spawn()?);
        let ca = caddy_home.join("data/pki/authorities/local/root.crt");

        let home = [tmp.join("home-a"), tmp.join("home-b")];
        let homes = Homes {
            _caddy: caddy_proc,
            _signal: signal,
            _turn: turn,
            _etc: etc,
            net,
            ca,
            home,
        };
        homes.wait_for_caddy()?;
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

    /// Waits until home a reaches the server through Caddy by its name, with the CA it
    /// trusts (Caddy makes its CA and certificate on its first start).
    fn wait_for_caddy(&self) -> AnyResult<()> {
        let started = Instant::now();
        let url = format!("https://{DOMAIN}/healthz");
        let mut last = String::new();
        while started.elapsed() < CADDY_READY {
            if self.ca.is_file() {
                let out = self
                    .net
                    .cmd("a", "curl")
                    .args(["-fsS", "--max-time", "3", "--cacert"])
                    .arg(&self.ca)
                    .arg(&url)
                    .output()?;
                if out.status.success() {
                    return Ok(());
                }
                last = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(format!("Caddy did not answer {url} from home a within {CADDY_READY:?}: {last}").into())
    }

    /// `toss ARGS` in `role`, with `home` as its HOME and the CA in its certificate bundle:
    /// nothing else is set.
    fn toss_in(&self, role: &str, home: &Path, args: &[&str]) -> Command {
        let mut c = self.net.cmd(role, bin("toss"));
        c.args(args)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("SSL_CERT_FILE", &self.ca)
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
        let mut lines = BufReader::new(sender.0.stdout.take().ok_or("stdout")?).lines();
        let first: Value = serde_json::from_str(&lines.next().ok_or("the sender said nothing")??)?;
        let code = first["code"]
            .as_str()
            .ok_or_else(|| format!("the sender showed no code: {first}"))?
            .to_owned();
        let out_arg = out.to_string_lossy();
        let mut receiver = Killed(
            self.toss_in(
                "b",
                &self.home[1],
                &["receive", "--yes", "--json", "--out", &out_arg, &code],
            )
            .spawn()?,
        );
        let mut receiver_err = receiver.0.stderr.take().ok_or("stderr")?;
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = receiver_err.read_to_string(&mut text);
            text
        });
        wait(&mut receiver.0, LIMIT)?;
        let mut text = String::new();
        receiver
            .0
            .stdout
            .take()
            .ok_or("stdout")?
            .read_to_string(&mut text)?;
        let received = json::lines(&text);
        let mut sent = vec![first];
        sent.extend(
            lines
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str(&l).ok()),
        );
        let stderr = err_reader.join().unwrap_or_default();
        Ok((sent, received, stderr))
    }
}

/// deploy/toss-signal.service's command line in the VPS: its ExecStart, with the built
/// binary in place of /usr/local/bin/toss-signal and the test's folder in place of the
/// credentials directory (%d); TOSS_SIGNAL_TURN_URLS as install.sh writes it. `--listen`
/// is left to [`SignalProcess::start_with`], which adds the unit's own.
fn signal_as_the_unit_runs_it(net: &Routed, credentials: &Path) -> AnyResult<Command> {
    let unit = std::fs::read_to_string(deploy("toss-signal.service"))?;
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .ok_or("deploy/toss-signal.service has no ExecStart")?;
    let mut words = exec.split_whitespace();
    let program = words.next().ok_or("an empty ExecStart")?;
    assert!(
        program.ends_with("/toss-signal"),
        "ExecStart runs {program}"
    );
    let mut args = Vec::new();
    let mut rest: Vec<&str> = words.collect();
    while let Some(word) = (!rest.is_empty()).then(|| rest.remove(0)) {
        if word == "--listen" {
            let at = (!rest.is_empty()).then(|| rest.remove(0));
            assert_eq!(at, Some(SIGNAL_LISTEN), "the unit's --listen");
            continue;
        }
        args.push(word.replace("%d", &credentials.to_string_lossy()));
    }
    let mut cmd = net.cmd("vps", bin("toss-signal"));
    cmd.args(args).env(
        "TOSS_SIGNAL_TURN_URLS",
        format!("turn:{DOMAIN}:3478?transport=udp,turn:{DOMAIN}:3478?transport=tcp"),
    );
    Ok(cmd)
}

/// Writes `text` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
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
    let (Some(turnserver), Some(caddy)) = (which("turnserver"), which("caddy")) else {
        eprintln!(
            "SKIPPED: coturn's turnserver or caddy is not installed (scripts/setup.sh installs both)"
        );
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("holiday.mkv");
    large_random_file(&src, SIZE)?;
    // As root, a network that cannot be built is a failure, not a skip.
    let homes = Homes::create(tmp.path(), firewall, &turnserver, &caddy)?;
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
