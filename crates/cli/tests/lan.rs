//! No signaling server anywhere: two network namespaces joined by a veth pair (link-local
//! addresses that never leave them, multicast on), `toss send --lan` in one and
//! `toss receive --lan CODE` in the other. The receiver must find the sender by mDNS and get
//! the file byte-identical.
//!
//! Namespaces need root (CI runs as root); without it the test says it is skipped.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn sh(script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Deletes the namespaces (and with them the veth pair) when dropped.
struct Namespaces(String, String);

impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns del {}; ip netns del {}", self.0, self.1));
    }
}

#[test]
fn two_namespaces_find_each_other_and_transfer_with_no_server() -> TestResult {
    let root = Command::new("id").arg("-u").output()?.stdout.trim_ascii() == b"0";
    if !root {
        eprintln!("SKIPPED: creating network namespaces needs root");
        return Ok(());
    }
    let id = std::process::id() % 100_000;
    let (a, b) = (format!("lan-a-{id}"), format!("lan-b-{id}"));
    let setup = format!(
        "ip netns add {a}; ip netns add {b}
         ip link add la{id} type veth peer name lb{id}
         ip link set la{id} netns {a}; ip link set lb{id} netns {b}
         ip -n {a} addr add 169.254.78.1/24 dev la{id}
         ip -n {b} addr add 169.254.78.2/24 dev lb{id}
         ip -n {a} link set lo up; ip -n {b} link set lo up
         ip -n {a} link set la{id} up multicast on; ip -n {b} link set lb{id} up multicast on
         ip -n {a} route add 224.0.0.0/4 dev la{id}; ip -n {b} route add 224.0.0.0/4 dev lb{id}"
    );
    if let Err(e) = sh(&setup) {
        let _ = sh(&format!("ip netns del {a}; ip netns del {b}"));
        eprintln!("SKIPPED: this machine cannot create network namespaces: {e}");
        return Ok(());
    }
    let _ns = Namespaces(a.clone(), b.clone());
    let toss = env!("CARGO_BIN_EXE_toss");
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("notes.bin");
    let mut data = vec![0u8; 2 << 20];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&src, &data)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;

    let mut sender = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a,
            toss,
            "send",
            "--lan",
            "--no-ice-servers",
            "--json",
        ])
        .arg(&src)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        sender.stdout.take().ok_or("stdout")?,
    ));
    let first: serde_json::Value = serde_json::from_str(&lines.next().ok_or("no event")??)?;
    let code = first["code"].as_str().ok_or("no code")?.to_owned();
    let started = Instant::now();
    let received = Command::new("ip")
        .args([
            "netns",
            "exec",
            &b,
            toss,
            "receive",
            "--lan",
            "--no-ice-servers",
            "--json",
        ])
        .args(["--yes", "--out"])
        .arg(&out)
        .arg(&code)
        .output()?;
    let _ = sender.kill();
    let _ = sender.wait();
    assert!(started.elapsed() < Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&received.stdout);
    assert!(received.status.success(), "{stdout}");
    assert!(stdout.contains("\"event\":\"done\""), "{stdout}");
    assert!(
        std::fs::read(out.join("notes.bin"))? == data,
        "byte-identical"
    );
    Ok(())
}
