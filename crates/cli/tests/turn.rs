//! Relay-only transfers through a real TURN server: coturn started by the test on 127.0.0.1,
//! `toss send` and `toss receive` told to use only relayed paths. The file must arrive
//! byte-identical and both sides must report the path as relayed. Once with a test user
//! typed by hand; once with nothing typed, coturn and `toss-signal` sharing a secret
//! (TURN REST credentials handed out by the server); and an expired credential, which
//! coturn refuses and the CLI names.
//!
//! Needs coturn's `turnserver` (scripts/setup.sh installs it); says SKIPPED without it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::random_file;
use toss_testkit::ports::free_udp_port;
use toss_testkit::process::{which, Killed};
use toss_testkit::signal::SignalProcess;
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

/// The secret the tests' coturn shares with their `toss-signal`.
const SECRET: &str = "a-secret-shared-by-coturn-and-toss-signal";

/// coturn on 127.0.0.1 with TURN REST credentials ([`SECRET`]), with its port; `None`
/// (and SKIPPED said) without coturn.
fn coturn_with_secret(dir: &std::path::Path) -> AnyResult<Option<(Killed, u16)>> {
    let Some(turnserver) = which("turnserver") else {
        eprintln!("SKIPPED: coturn's turnserver is not installed (scripts/setup.sh installs it)");
        return Ok(None);
    };
    let port = free_udp_port()?;
    let base = 30_000 + (std::process::id() % 200) as u16 * 50;
    let conf = coturn::write_secret_conf(dir, SECRET)?;
    let mut turn = Command::new(turnserver);
    turn.args(coturn::args_with_secret(
        "127.0.0.1",
        port,
        base,
        base + 49,
        &conf,
    ))
    .arg("--allow-loopback-peers")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    Ok(Some((Killed(turn.spawn()?), port)))
}

/// Sends `data` with `sender_args`, receives it with `receiver_args` into `out`; returns
/// the receiver's events and the sender's.
fn transfer(
    url: &str,
    src: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> AnyResult<(Vec<Value>, Vec<Value>)> {
    let toss = |args: &[&str]| {
        let mut c = Command::new(bin("toss"));
        c.args(args)
            .args(["--signal", url, "--loopback", "--json", "--relay-only"])
            .args(extra)
            .env_remove("TOSS_TURN")
            .env_remove("TOSS_TURN_USER")
            .env_remove("TOSS_TURN_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };
    let mut sender = Killed(toss(&["send", &src.to_string_lossy()]).spawn()?);
    let mut sender_lines = BufReader::new(sender.0.stdout.take().ok_or("stdout")?).lines();
    let first = events_until(&mut sender_lines, "code")?;
    let code = first
        .last()
        .and_then(|e| e["code"].as_str())
        .ok_or_else(|| format!("the sender showed no code: {first:?}"))?
        .to_owned();
    let started = Instant::now();
    let mut receiver =
        Killed(toss(&["receive", "--yes", "--out", &out.to_string_lossy(), &code]).spawn()?);
    let mut receiver_lines = BufReader::new(receiver.0.stdout.take().ok_or("stdout")?).lines();
    let received = events_until(&mut receiver_lines, "done")?;
    assert!(started.elapsed() < LIMIT);
    let sent = events_until(&mut sender_lines, "done")?;
    Ok((received, sent))
}

#[test]
fn relay_only_with_nothing_typed_takes_the_servers_turn_credentials() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let Some((_turn, port)) = coturn_with_secret(tmp.path())? else {
        return Ok(());
    };
    // toss-signal as docs/deploy.md runs it: the TURN server's URL, the secret in a file.
    let secret_file = tmp.path().join("turn-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n"))?;
    let mut cmd = Command::new(bin("toss-signal"));
    cmd.args([
        "--turn-url",
        &format!("turn:127.0.0.1:{port}?transport=udp"),
    ])
    .arg("--turn-secret-file")
    .arg(&secret_file)
    .env_remove("TOSS_TURN_SECRET");
    let signal = SignalProcess::start_with(cmd, "127.0.0.1:0")?;

    let src = tmp.path().join("photo.raw");
    let data = random_file(&src, 3 << 20)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let (received, sent) = transfer(&signal.url, &src, &out, &[], &[])?;
    for events in [&received, &sent] {
        let connected = events
            .iter()
            .find(|e| e["event"] == "connected")
            .ok_or_else(|| format!("never connected: {events:?}"))?;
        assert_eq!(connected["path"]["kind"], "relay", "{connected}");
        assert!(events.iter().any(|e| e["event"] == "done"), "{events:?}");
    }
    assert!(
        std::fs::read(out.join("photo.raw"))? == data,
        "byte-identical"
    );
    Ok(())
}

/// A credential made as toss-signal makes them, with the shared secret, whose expiry
/// (`EXPIRY:` in the user name) passed two seconds ago: what a client holds when it uses
/// credentials after their ttl. coturn refuses it, and `toss` says so in its own sentence.
#[test]
fn an_expired_credential_is_refused_by_coturn_and_the_cli_says_so() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let Some((_turn, port)) = coturn_with_secret(tmp.path())? else {
        return Ok(());
    };
    let signal = signal()?;
    let expired = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        - 2;
    let username = format!("{expired}:0123456789abcdef");
    let secret = toss_signal::TurnSecret::new(SECRET).ok_or("a secret")?;
    let credential = toss_signal::turn_credential(&secret, &username);

    let src = tmp.path().join("photo.raw");
    random_file(&src, 1 << 20)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let turn_url = format!("turn:127.0.0.1:{port}?transport=udp");
    let (received, sent) = transfer(
        &signal.url,
        &src,
        &out,
        &["--turn", &turn_url, "--turn-user", &username],
        &[("TOSS_TURN_PASSWORD", &credential)],
    )?;
    // Each side finds it out itself; a side may hear it from the other first.
    for events in [&received, &sent] {
        let error = events
            .iter()
            .find(|e| e["event"] == "error")
            .ok_or_else(|| format!("no error: {events:?}"))?;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            error["kind"] == "turn_refused"
                || message.contains("the TURN server refused the relay credentials"),
            "{error}"
        );
    }
    assert!(
        [&received, &sent]
            .iter()
            .any(|events| events.iter().any(|e| e["kind"] == "turn_refused")),
        "one side names it: {received:?} {sent:?}"
    );
    assert!(!out.join("photo.raw").exists());
    Ok(())
}

/// Relay-only with no TURN server typed and a signaling server that has none: both sides
/// stop at once with their own sentence, instead of waiting for a path that cannot come.
#[test]
fn relay_only_with_no_turn_server_anywhere_says_so() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let signal = signal()?;
    let src = tmp.path().join("note.txt");
    random_file(&src, 1024)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let started = Instant::now();
    let (received, sent) = transfer(&signal.url, &src, &out, &[], &[])?;
    assert!(started.elapsed() < Duration::from_secs(20), "at once");
    for events in [&received, &sent] {
        let error = events
            .iter()
            .find(|e| e["event"] == "error")
            .ok_or_else(|| format!("no error: {events:?}"))?;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            error["kind"] == "no_relay" || message.contains("only relayed connections"),
            "{error}"
        );
    }
    Ok(())
}
