//! Two homes and a VPS, for tests of friends on different networks: five network
//! namespaces and the rest of the internet, with documentation-range addresses that never
//! leave them.
//!
//! ```text
//!  a 192.0.2.2    -- 192.0.2.1    [na] 203.0.113.1 --+
//!                                                    br0 203.0.113.254 [vps] vps.toss.test
//!  b 198.51.100.2 -- 198.51.100.1 [nb] 203.0.113.2 --+
//! ```
//!
//! Each home router masquerades and drops what nobody asked for, as home routers do
//! ([`Routed::masquerade`]); the routers and the VPS route everything else to `x`, where
//! nothing answers. The VPS runs the repo's own deploy files as deploy/install.sh installs
//! them: Caddy with deploy/Caddyfile in front of `toss-signal`, started as
//! deploy/toss-signal.service starts it (the TURN secret in a credentials file), and coturn
//! with deploy/turnserver.conf and the same secret. The one difference is Caddy's
//! certificate, from its own internal CA (there is no ACME here), which a home trusts as a
//! company's CA is trusted: in the computer's certificate bundle ([`TwoHomes::ca`], for
//! `SSL_CERT_FILE`). Each home resolves `vps.toss.test` through its own hosts file (`ip netns
//! exec` puts /etc/netns/NS/hosts in place of /etc/hosts, so programs in a home must be
//! started that way: [`Routed::cmd`]), and has no name server but its own loopback, so no
//! lookup ever leaves the namespaces.
//!
//! Needs root, coturn's `turnserver` and `caddy` (scripts/setup.sh installs both).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::Routed;
use crate::process::{which, Killed};
use crate::signal::SignalProcess;
use crate::AnyResult;

/// The VPS's name, as both homes are told it.
pub const DOMAIN: &str = "vps.toss.test";
/// The VPS's address on the "internet".
pub const VPS_IP: &str = "203.0.113.254";
/// Where the unit has toss-signal listen, behind Caddy.
const SIGNAL_LISTEN: &str = "127.0.0.1:8787";
/// The secret coturn and toss-signal share (install.sh makes a random one).
pub const SECRET: &str = "a-secret-only-the-vps-knows";
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

/// The VPS's programs other than toss-signal: coturn's `turnserver` and `caddy`.
#[derive(Debug, Clone)]
pub struct Tools {
    /// coturn.
    pub turnserver: PathBuf,
    /// Caddy.
    pub caddy: PathBuf,
}

/// The VPS's programs, or `None` (and SKIPPED said) where they are not installed.
pub fn tools() -> Option<Tools> {
    match (which("turnserver"), which("caddy")) {
        (Some(turnserver), Some(caddy)) => Some(Tools { turnserver, caddy }),
        _ => {
            eprintln!(
                "SKIPPED: coturn's turnserver or caddy is not installed (scripts/setup.sh installs both)"
            );
            None
        }
    }
}

/// The network, its services and the homes' settings; everything goes when dropped
/// (services first, then the namespaces).
pub struct TwoHomes {
    _caddy: Killed,
    _signal: SignalProcess,
    _turn: Killed,
    _etc: EtcNetns,
    /// The namespaces: homes `a` and `b`, routers `na` and `nb`, `vps`, and `x`.
    pub net: Routed,
    /// Caddy's root certificate, which the homes trust.
    pub ca: PathBuf,
}

impl TwoHomes {
    /// Builds the network and starts the VPS's services in it, with their files in `tmp`;
    /// `toss_signal` is the binary to run. With `firewall`, each router lets UDP reach only
    /// the VPS (as on many office and hotel networks). Returns once home `a` reaches the
    /// server by its name over `wss://`.
    ///
    /// # Errors
    ///
    /// When a step fails (as root, a failure of the test, not a reason to skip).
    pub fn create(
        tmp: &Path,
        firewall: bool,
        toss_signal: &Path,
        tools: &Tools,
    ) -> AnyResult<TwoHomes> {
        let (turnserver, caddy) = (&tools.turnserver, &tools.caddy);
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
            signal_as_the_unit_runs_it(&net, toss_signal, &credentials)?,
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

        let homes = TwoHomes {
            _caddy: caddy_proc,
            _signal: signal,
            _turn: turn,
            _etc: etc,
            net,
            ca,
        };
        homes.wait_for_caddy()?;
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
}

/// deploy/toss-signal.service's command line in the VPS: its ExecStart, with the built
/// binary in place of /usr/local/bin/toss-signal and the test's folder in place of the
/// credentials directory (%d); TOSS_SIGNAL_TURN_URLS as install.sh writes it. `--listen`
/// is left to [`SignalProcess::start_with`], which adds the unit's own.
fn signal_as_the_unit_runs_it(
    net: &Routed,
    toss_signal: &Path,
    credentials: &Path,
) -> AnyResult<Command> {
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
    let mut cmd = net.cmd("vps", toss_signal);
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
