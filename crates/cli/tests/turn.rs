//! Relay-only transfers through a real TURN server: coturn started by the test on 127.0.0.1
//! with a test user, `toss send` and `toss receive` told to use only relayed paths. The file
//! must arrive byte-identical and both sides must report the path as relayed.
//!
//! Needs coturn's `turnserver` (scripts/setup.sh installs it); says SKIPPED without it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::random_file;
use toss_testkit::ports::free_udp_port;
use toss_testkit::process::{which, Killed};
use toss_testkit::{coturn, AnyResult, TestResult};

/// Longest the transfer may take.
const LIMIT: Duration = Duration::from_secs(120);

mod support;

use support::{bin, signal};

/// Reads `--json` events until one named `stop` (or an error); returns them all.
fn events_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    stop: &str,
) -> AnyResult<Vec<Value>> {
    let mut seen = Vec::new();
    for line in lines {
        let v: Value = serde_json::from_str(&line?)?;
        let last = v["event"] == stop || v["event"] == "error";
        seen.push(v);
        if last {
            break;
        }
    }
    Ok(seen)
}

#[test]
fn relay_only_through_coturn_arrives_intact_and_says_relayed() -> TestResult {
    let Some(turnserver) = which("turnserver") else {
        eprintln!("SKIPPED: coturn's turnserver is not installed (scripts/setup.sh installs it)");
        return Ok(());
    };
    let port = free_udp_port()?;
    // A relay port range of its own, so that parallel runs do not collide.
    let base = 40_000 + (std::process::id() % 200) as u16 * 100;
    let mut turn = Command::new(turnserver);
    turn.args(coturn::args("127.0.0.1", port, base, base + 99))
        .arg("--allow-loopback-peers")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _turn = Killed(turn.spawn()?);

    let signal = signal()?;
    let url = &signal.url;

    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("photo.raw");
    let data = random_file(&src, 3 << 20)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;

    let toss = |args: &[&str]| {
        let mut c = Command::new(bin("toss"));
        c.args(args)
            .args(["--signal", url, "--loopback", "--json", "--relay-only"])
            .args(["--turn", &format!("turn:127.0.0.1:{port}")])
            .args(["--turn-user", coturn::USER])
            .env("TOSS_TURN_PASSWORD", coturn::PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    };
    let mut sender = Killed(toss(&["send", &src.to_string_lossy()]).spawn()?);
    let mut sender_lines = BufReader::new(sender.0.stdout.take().ok_or("stdout")?).lines();
    let first = events_until(&mut sender_lines, "code")?;
    let code = first
        .last()
        .and_then(|e| e["code"].as_str())
        .ok_or("the sender showed no code")?
        .to_owned();
    let started = Instant::now();
    let mut receiver =
        Killed(toss(&["receive", "--yes", "--out", &out.to_string_lossy(), &code]).spawn()?);
    let mut receiver_lines = BufReader::new(receiver.0.stdout.take().ok_or("stdout")?).lines();
    let events = events_until(&mut receiver_lines, "done")?;
    assert!(started.elapsed() < LIMIT);
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .ok_or_else(|| format!("never connected: {events:?}"))?;
    assert_eq!(connected["path"]["kind"], "relay", "{connected}");
    assert_eq!(connected["path"]["packet_size"], 1191, "{connected}");
    assert!(
        events.iter().any(|e| e["event"] == "done"),
        "finished: {events:?}"
    );
    assert!(
        std::fs::read(out.join("photo.raw"))? == data,
        "byte-identical"
    );
    let sent = events_until(&mut sender_lines, "done")?;
    assert!(sent
        .iter()
        .any(|e| e["event"] == "connected" && e["path"]["kind"] == "relay"));
    Ok(())
}
