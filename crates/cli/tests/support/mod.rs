//! Helpers shared by the CLI's integration tests: the built binaries, running a command
//! that must succeed, root and tool checks, random files, processes killed when dropped,
//! and coturn's command line. Each test file takes what it needs (`mod support;`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A binary of this workspace, built next to `toss`.
pub(crate) fn bin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_toss")).with_file_name(name)
}

/// Runs `args[0]` with the rest; an error names the command and says what it printed.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
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

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Where `program` is on the `PATH`, if it is.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Writes `len` random bytes to `path` and returns them.
pub(crate) fn random_file(path: &std::path::Path, len: usize) -> std::io::Result<Vec<u8>> {
    let mut data = vec![0u8; len];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut data);
    std::fs::write(path, &data)?;
    Ok(data)
}

/// A child process, killed and reaped when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// coturn's `turnserver` arguments: STUN and TURN on `ip:port`, relaying from `ip` on
/// ports `min..=max`, one test user `toss` / `test-secret`, nothing else (no TLS, no CLI).
pub(crate) fn coturn_args(ip: &str, port: u16, min: u16, max: u16) -> Vec<String> {
    [
        "-n".to_owned(),
        format!("--listening-ip={ip}"),
        format!("--relay-ip={ip}"),
        format!("--listening-port={port}"),
        format!("--min-port={min}"),
        format!("--max-port={max}"),
        "--user=toss:test-secret".to_owned(),
        "--realm=toss.test".to_owned(),
        "--lt-cred-mech".to_owned(),
        "--no-cli".to_owned(),
        "--no-tls".to_owned(),
        "--no-dtls".to_owned(),
        "--log-file=stdout".to_owned(),
    ]
    .into()
}

/// `toss-signal` is built into the same folder by `cargo build --workspace --bins`.
fn signal_bin() -> PathBuf {
    let path = bin("toss-signal");
    assert!(
        path.exists(),
        "build toss-signal first: cargo build --workspace --bins"
    );
    path
}

/// A `toss-signal` process on a free loopback port, killed on drop.
pub(crate) struct Signal {
    /// The process, for a test that stops the server itself.
    pub(crate) child: Child,
    /// `ws://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl Signal {
    pub(crate) fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(signal_bin())
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().ok_or("url")?.to_owned();
        assert!(url.starts_with("ws://127.0.0.1:"), "{line}");
        Ok(Self { child, url })
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
