//! Two computers on a real link: two network namespaces that the test creates, joined by a
//! veth pair with the standard 1500-byte MTU and link-local addresses that never leave them.
//! `toss-signal` and `toss send` run in one namespace, `toss receive` in the other; the
//! transfer must be byte-identical with large SCTP packets (IP-fragmented on this link), and
//! again with 2% of the packets arriving at each end dropped at random (nftables).
//!
//! Namespaces need root (CI runs as root); without it the test says it is skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Longest one transfer may take.
const LIMIT: Duration = Duration::from_secs(300);

fn bin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_toss")).with_file_name(name)
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Two namespaces `a` and `b` joined by a veth pair: a = 169.254.77.1, b = 169.254.77.2.
struct Link {
    a: String,
    b: String,
}

impl Link {
    fn create() -> Result<Link, String> {
        let id = std::process::id() % 100_000;
        let link = Link {
            a: format!("toss-a-{id}"),
            b: format!("toss-b-{id}"),
        };
        let (a, b) = (link.a.as_str(), link.b.as_str());
        let (va, vb) = (format!("tva{id}"), format!("tvb{id}"));
        run(&["ip", "netns", "add", a])?;
        run(&["ip", "netns", "add", b])?;
        run(&[
            "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
        ])?;
        run(&["ip", "link", "set", &va, "netns", a])?;
        run(&["ip", "link", "set", &vb, "netns", b])?;
        for (ns, dev, addr) in [(a, &va, "169.254.77.1/24"), (b, &vb, "169.254.77.2/24")] {
            run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev])?;
            run(&["ip", "-n", ns, "link", "set", dev, "mtu", "1500", "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(link)
    }

    /// Drops `percent`% of the packets arriving at each end, at random (nftables; this
    /// kernel has no `netem` qdisc).
    fn lose(&self, percent: u32) -> Result<(), String> {
        for ns in [&self.a, &self.b] {
            let nft = |args: &[&str]| {
                let mut all = vec!["ip", "netns", "exec", ns.as_str(), "nft"];
                all.extend_from_slice(args);
                run(&all)
            };
            nft(&["add", "table", "inet", "loss"])?;
            nft(&[
                "add",
                "chain",
                "inet",
                "loss",
                "input",
                "{ type filter hook input priority 0; }",
            ])?;
            nft(&[
                "add",
                "rule",
                "inet",
                "loss",
                "input",
                "iifname",
                "!=",
                "lo",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                &percent.to_string(),
                "drop",
            ])?;
        }
        Ok(())
    }

    fn cmd(&self, ns: &str, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting the namespaces removes the veth pair and kills nothing else.
        let _ = run(&["ip", "netns", "del", &self.a]);
        let _ = run(&["ip", "netns", "del", &self.b]);
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `src` from namespace a to namespace b; returns the receiver's JSON events.
fn transfer(link: &Link, src: &Path, out: &Path) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let signal = "ws://169.254.77.1:18700";
    let mut server = link.cmd(&link.a, &bin("toss-signal"));
    server
        .args(["--listen", "169.254.77.1:18700"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Killed(server.spawn()?);
    let common = ["--signal", signal, "--no-ice-servers", "--json"];
    let started = Instant::now();
    let mut sender = None;
    // The server takes a moment to listen: retry sending until a code appears.
    let mut code = None;
    while code.is_none() && started.elapsed() < Duration::from_secs(20) {
        let mut send = link.cmd(&link.a, &bin("toss"));
        send.arg("send")
            .args(common)
            .arg(src)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = Killed(send.spawn()?);
        let stdout = child.0.stdout.take().ok_or("stdout")?;
        for line in BufReader::new(stdout).lines() {
            let v: Value = serde_json::from_str(&line?)?;
            if v["event"] == "code" {
                code = v["code"].as_str().map(str::to_owned);
                break;
            }
        }
        if code.is_some() {
            sender = Some(child);
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let code = code.ok_or("the sender never showed a code")?;
    let mut recv = link.cmd(&link.b, &bin("toss"));
    recv.arg("receive")
        .args(common)
        .args(["--yes", "--out"])
        .arg(out)
        .arg(&code)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Killed(recv.spawn()?);
    let deadline = Instant::now() + LIMIT;
    while child.0.try_wait()?.is_none() {
        assert!(Instant::now() < deadline, "the transfer took too long");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().ok_or("stdout")?, &mut text)?;
    drop(sender);
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[test]
fn a_file_crosses_a_1500_mtu_link_with_large_packets_with_and_without_loss() -> TestResult {
    if !is_root() {
        eprintln!("SKIPPED: creating network namespaces needs root");
        return Ok(());
    }
    let link = match Link::create() {
        Ok(link) => link,
        Err(e) => {
            eprintln!("SKIPPED: this machine cannot create network namespaces: {e}");
            return Ok(());
        }
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("video.bin");
    let mut data = vec![0u8; 24 << 20];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&src, &data)?;
    for (i, loss) in [0u32, 2].into_iter().enumerate() {
        if loss > 0 {
            link.lose(loss)?;
        }
        let out = tmp.path().join(format!("out{i}"));
        std::fs::create_dir(&out)?;
        let events = transfer(&link, &src, &out)?;
        let connected = events
            .iter()
            .find(|e| e["event"] == "connected")
            .ok_or("no connected event")?;
        assert_eq!(connected["path"]["kind"], "direct", "{connected}");
        assert_eq!(connected["path"]["packet_size"], 8000, "{connected}");
        let done = events
            .iter()
            .find(|e| e["event"] == "done")
            .ok_or_else(|| format!("the transfer did not finish: {events:?}"))?;
        assert!(
            std::fs::read(out.join("video.bin"))? == data,
            "byte-identical"
        );
        let seconds = done["seconds"].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "veth, MTU 1500, {loss}% loss, 8000-byte packets: 24 MiB in {seconds:.2} s ({:.1} MiB/s)",
            24.0 / seconds
        );
    }
    Ok(())
}
