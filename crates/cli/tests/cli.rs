//! The `toss` binary as a user runs it: two real processes through a real `toss-signal`
//! process on loopback, files in temp folders, exit codes, `--json` events and the
//! sentences people read on stderr.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::{names_in, random_file};
use toss_testkit::process::{interrupt, wait};
use toss_testkit::signal::SignalProcess;
use toss_testkit::{AnyResult, TestResult};

mod support;

use support::{signal, wait_for_bytes};

/// Longest a CLI process may run in a test.
const LIMIT: Duration = Duration::from_secs(120);

fn toss_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_toss"))
}

fn toss(signal: &SignalProcess, args: &[&str]) -> Command {
    let mut cmd = Command::new(toss_bin());
    cmd.args(args)
        .env("TOSS_SIGNAL", &signal.url)
        .env("TOSS_LOOPBACK", "true")
        .env("TOSS_DEVICE_NAME", "test-sender")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `toss receive --json --yes --out OUT CODE`.
fn receive_yes(signal: &SignalProcess, out: &Path, code: &str) -> Command {
    toss(
        signal,
        &[
            "receive",
            "--json",
            "--yes",
            "--out",
            &out.to_string_lossy(),
            code,
        ],
    )
}

/// A running `toss send --json`, with its code read from the first event.
struct Sending {
    child: Child,
    code: String,
    /// The code event's link to the web peer.
    link: Option<String>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn start_send(signal: &SignalProcess, paths: &[&Path]) -> AnyResult<Sending> {
    start_send_with(signal, &[], paths)
}

/// [`start_send`] with more options.
fn start_send_with(
    signal: &SignalProcess,
    options: &[&str],
    paths: &[&Path],
) -> AnyResult<Sending> {
    let mut args = vec!["send", "--json"];
    args.extend_from_slice(options);
    let strs: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(strs.iter().map(String::as_str));
    let mut child = toss(signal, &args).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let first: Value = serde_json::from_str(&lines.next().ok_or("no event")??)?;
    assert_eq!(first["event"], "code", "{first}");
    let code = first["code"].as_str().ok_or("code")?.to_owned();
    let link = first["link"].as_str().map(str::to_owned);
    Ok(Sending {
        child,
        code,
        link,
        lines,
    })
}

struct Finished {
    ok: bool,
    events: Vec<Value>,
    stderr: String,
}

fn finish(
    mut child: Child,
    mut lines: Option<std::io::Lines<BufReader<std::process::ChildStdout>>>,
) -> AnyResult<Finished> {
    let status = wait(&mut child, LIMIT)?;
    let mut events = Vec::new();
    let mut rest = match lines.take() {
        Some(l) => l.collect::<Result<Vec<_>, _>>()?,
        None => BufReader::new(child.stdout.take().ok_or("stdout")?)
            .lines()
            .collect::<Result<Vec<_>, _>>()?,
    };
    for line in rest.drain(..) {
        events.push(serde_json::from_str(&line)?);
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().ok_or("stderr")?, &mut stderr)?;
    Ok(Finished {
        ok: status.success(),
        events,
        stderr,
    })
}

fn has_event(f: &Finished, name: &str) -> bool {
    f.events.iter().any(|e| e["event"] == name)
}

fn error_kind(f: &Finished) -> String {
    f.events
        .iter()
        .find(|e| e["event"] == "error")
        .and_then(|e| e["kind"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[test]
fn sends_a_file_and_a_folder_between_two_processes() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(src.join("docs/deep/er"))?;
    let a = random_file(&src.join("movie.bin"), 3 * 1024 * 1024 + 7)?;
    let b = random_file(&src.join("docs/deep/er/notes.txt"), 999)?;
    let sending = start_send(&signal, &[&src.join("movie.bin"), &src.join("docs")])?;
    let recv = receive_yes(&signal, &out, &sending.code).spawn()?;
    let r = finish(recv, None)?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(r.ok && s.ok, "receiver: {} sender: {}", r.stderr, s.stderr);
    assert_eq!(std::fs::read(out.join("movie.bin"))?, a);
    assert_eq!(std::fs::read(out.join("docs/deep/er/notes.txt"))?, b);
    let offer = r
        .events
        .iter()
        .find(|e| e["event"] == "offer")
        .ok_or("offer event")?;
    assert_eq!(offer["device"], "test-sender");
    assert_eq!(offer["total_bytes"], (a.len() + b.len()) as u64);
    assert!(has_event(&r, "progress") && has_event(&r, "done"));
    assert!(has_event(&s, "done"));
    Ok(())
}

#[test]
fn human_mode_prints_the_code_and_a_summary() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("hello.txt");
    std::fs::write(&file, b"hello")?;
    let mut child = toss(&signal, &["send", &file.to_string_lossy()]).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let first = lines.next().ok_or("line")??;
    let code = first
        .strip_prefix("Code: ")
        .ok_or(first.clone())?
        .to_owned();
    assert_eq!(
        lines.next().ok_or("line")??,
        format!("On the other computer run: toss receive {code}")
    );
    // The same code as a link to the signaling server's page, on a line of its own.
    assert_eq!(
        lines.next().ok_or("line")??,
        format!(
            "Or open this link in a browser: {}",
            page_link(&signal, &code)
        )
    );
    let out = tmp.path().join("out");
    let recv = toss(
        &signal,
        &["receive", "--yes", "--out", &out.to_string_lossy(), &code],
    )
    .output()?;
    assert!(wait(&mut child, LIMIT)?.success(), "the sender succeeded");
    assert!(recv.status.success());
    let recv_out = String::from_utf8_lossy(&recv.stdout);
    assert!(recv_out.contains("Received 1 file (5 B)"), "{recv_out}");
    assert!(recv_out.contains("all verified"), "{recv_out}");
    let recv_err = String::from_utf8_lossy(&recv.stderr);
    assert!(
        recv_err.contains("test-sender wants to send 1 file (5 B):"),
        "{recv_err}"
    );
    assert!(
        recv_err.contains("Check that both screens show:"),
        "{recv_err}"
    );
    assert_eq!(std::fs::read(out.join("hello.txt"))?, b"hello");
    // The sender's human output ends in its own summary.
    let sent = lines.collect::<Result<Vec<_>, _>>()?;
    assert!(
        sent.iter().any(|l| l.starts_with("Sent 1 file (5 B) in ")),
        "{sent:?}"
    );
    Ok(())
}

/// The link to `code` at `signal`: its `ws://HOST:PORT` as `http://HOST:PORT/`, the code in
/// the fragment.
fn page_link(signal: &SignalProcess, code: &str) -> String {
    format!("{}/#{code}", signal.url.replacen("ws://", "http://", 1))
}

/// GETs `url` (`http://HOST:PORT/PATH`, no fragment) and returns the status line, the head
/// and the body.
fn http_get(url: &str) -> AnyResult<(String, String, String)> {
    use std::io::Read;
    let rest = url.strip_prefix("http://").ok_or("not http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut tcp = std::net::TcpStream::connect(host)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let path = if path.is_empty() { "/" } else { path };
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no end of the head")?;
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

#[test]
fn the_code_event_links_to_the_web_peer_that_the_signaling_server_serves() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("hello.txt");
    std::fs::write(&file, b"hello")?;
    let mut sending = start_send(&signal, &[&file])?;
    let link = page_link(&signal, &sending.code);
    let (url, fragment) = link.split_once('#').ok_or("no fragment")?;
    assert_eq!(fragment, sending.code);
    assert_eq!(sending.link.as_deref(), Some(link.as_str()));
    // What the browser asks for: the link without its fragment, at the real toss-signal.
    let (status, head, body) = http_get(url)?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist/index.html"),
    )?;
    assert_eq!(body, page);
    let _ = sending.child.kill();
    let _ = sending.child.wait();
    Ok(())
}

#[test]
fn wrong_code_exits_non_zero_on_both_sides_and_says_so() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("secret.txt");
    std::fs::write(&file, b"secret")?;
    let sending = start_send(&signal, &[&file])?;
    let nameplate = sending.code.split('-').next().ok_or("nameplate")?;
    let wrong = if sending.code.ends_with("-acid-acid") {
        format!("{nameplate}-acorn-acorn")
    } else {
        format!("{nameplate}-acid-acid")
    };
    let out = tmp.path().join("out");
    let recv = receive_yes(&signal, &out, &wrong).spawn()?;
    let r = finish(recv, None)?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(!r.ok && !s.ok);
    assert_eq!(error_kind(&r), "wrong_code");
    assert_eq!(error_kind(&s), "wrong_code");
    assert!(r.stderr.contains("wrong code"), "{}", r.stderr);
    assert!(s.stderr.contains("wrong code"), "{}", s.stderr);
    assert!(!out.exists() || std::fs::read_dir(&out)?.next().is_none());
    Ok(())
}

#[test]
fn declining_at_the_prompt_stops_both_sides() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("unwanted.zip");
    std::fs::write(&file, b"zip")?;
    let sending = start_send(&signal, &[&file])?;
    let out = tmp.path().join("out");
    let mut recv = toss(
        &signal,
        &[
            "receive",
            "--json",
            "--out",
            &out.to_string_lossy(),
            &sending.code,
        ],
    )
    .stdin(Stdio::piped())
    .spawn()?;
    recv.stdin.take().ok_or("stdin")?.write_all(b"n\n")?;
    let r = finish(recv, None)?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(!r.ok && !s.ok);
    assert_eq!(error_kind(&s), "declined");
    assert!(
        s.stderr.contains("the receiver declined the transfer"),
        "{}",
        s.stderr
    );
    assert!(r.stderr.contains("Accept? [y/N]"));
    assert!(!out.join("unwanted.zip").exists());
    Ok(())
}

#[test]
fn collision_with_an_existing_file_keeps_both() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("photo.jpg"), b"mine")?;
    let file = tmp.path().join("photo.jpg");
    std::fs::write(&file, b"theirs")?;
    let sending = start_send(&signal, &[&file])?;
    // The short flags, on purpose.
    let recv = toss(
        &signal,
        &[
            "receive",
            "--json",
            "-y",
            "-o",
            &out.to_string_lossy(),
            &sending.code,
        ],
    )
    .spawn()?;
    let r = finish(recv, None)?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(r.ok && s.ok, "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("photo.jpg"))?, b"mine");
    assert_eq!(std::fs::read(out.join("photo (1).jpg"))?, b"theirs");
    Ok(())
}

/// Reads the receiver's events until file bytes have started to arrive, and not all of them.
fn wait_for_first_bytes(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
) -> TestResult {
    let start = Instant::now();
    loop {
        let line = lines.next().ok_or("receiver ended early")??;
        let event: Value = serde_json::from_str(&line)?;
        if event["event"] == "progress" && event["bytes"].as_u64() > Some(0) {
            assert!(
                event["bytes"].as_u64() < event["total"].as_u64(),
                "everything arrived before the test could act mid-transfer: {event}"
            );
            return Ok(());
        }
        assert!(start.elapsed() < LIMIT, "no progress");
    }
}

/// Ctrl-C on one side mid-transfer: both exit non-zero, the other is told, nothing is kept.
fn interrupt_midway(receiver: bool) -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("large.bin");
    // Small packets and 256 MiB: long enough to be mid-transfer at any speed seen on
    // loopback (96 MiB in large packets was seen to arrive whole within one progress event).
    random_file(&file, 256 * 1024 * 1024)?;
    let sending = start_send_with(&signal, &["--small-packets"], &[&file])?;
    let out = tmp.path().join("out");
    let mut recv = receive_yes(&signal, &out, &sending.code)
        .arg("--small-packets")
        .spawn()?;
    let mut recv_lines = BufReader::new(recv.stdout.take().ok_or("stdout")?).lines();
    wait_for_first_bytes(&mut recv_lines)?;
    if receiver {
        interrupt(&recv)?;
    } else {
        interrupt(&sending.child)?;
    }
    let r = finish(recv, Some(recv_lines))?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(!r.ok && !s.ok);
    assert_eq!(error_kind(&r), "cancelled");
    assert_eq!(error_kind(&s), "cancelled");
    let (local, remote) = if receiver { (&r, &s) } else { (&s, &r) };
    assert!(
        local.stderr.contains("the transfer was cancelled"),
        "{}",
        local.stderr
    );
    assert!(
        remote
            .stderr
            .contains("the other side cancelled the transfer"),
        "{}",
        remote.stderr
    );
    let left: Vec<_> = std::fs::read_dir(&out)?.collect();
    assert!(left.is_empty(), "no partial or final file: {left:?}");
    Ok(())
}

#[test]
fn receiver_interrupt_midway_cancels_both() -> TestResult {
    interrupt_midway(true)
}

#[test]
fn sender_interrupt_midway_cancels_both() -> TestResult {
    interrupt_midway(false)
}

#[test]
fn bad_input_gets_one_sentence_and_no_code() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let missing = tmp.path().join("nope.txt");
    let out = toss(&signal, &["send", &missing.to_string_lossy()]).output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no such file or folder"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Code:"));

    let out = toss(&signal, &["receive", "orbit-lemon"]).output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a code starts with a number"), "{err}");
    Ok(())
}

#[test]
fn a_text_goes_to_the_receivers_stdout() -> TestResult {
    let signal = signal()?;
    let mut child = toss(
        &signal,
        &["send", "--json", "--text", "meet at 6, https://example.org"],
    )
    .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let first: Value = serde_json::from_str(&lines.next().ok_or("event")??)?;
    let code = first["code"].as_str().ok_or("code")?.to_owned();
    let recv = toss(&signal, &["receive", &code]).output()?;
    let s = finish(child, Some(lines))?;
    assert!(
        recv.status.success() && s.ok,
        "{}",
        String::from_utf8_lossy(&recv.stderr)
    );
    let out = String::from_utf8_lossy(&recv.stdout);
    assert!(out.starts_with("meet at 6, https://example.org\n"), "{out}");
    assert!(out.contains("Received the text."), "{out}");
    Ok(())
}

#[test]
fn the_signaling_server_going_away_mid_transfer_does_not_stop_it() -> TestResult {
    let mut signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("large.bin");
    let data = random_file(&file, 256 * 1024 * 1024)?;
    let sending = start_send_with(&signal, &["--small-packets"], &[&file])?;
    let out = tmp.path().join("out");
    let mut recv = receive_yes(&signal, &out, &sending.code)
        .arg("--small-packets")
        .spawn()?;
    let mut recv_lines = BufReader::new(recv.stdout.take().ok_or("stdout")?).lines();
    wait_for_first_bytes(&mut recv_lines)?;
    // The server only introduces the peers: once bytes flow, it may restart or vanish.
    signal.child.kill()?;
    signal.child.wait()?;
    let r = finish(recv, Some(recv_lines))?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(r.ok && s.ok, "{} / {}", r.stderr, s.stderr);
    assert!(
        std::fs::read(out.join("large.bin"))? == data,
        "byte-identical"
    );
    Ok(())
}

/// The receiver's process is killed half-way through a folder (no chance to clean up).
/// The sender says the other side went; the same folder sent again into the same place
/// skips the file that was saved, picks the big one up from its `.part`, and ends
/// byte-identical with nothing left over.
#[test]
fn a_receiver_killed_half_way_resumes_from_its_part_file() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let album = tmp.path().join("album");
    std::fs::create_dir(&album)?;
    let small = random_file(&album.join("a-cover.jpg"), 300 * 1024 + 5)?;
    let big = random_file(&album.join("b-concert.mov"), 256 * 1024 * 1024 + 77)?;
    let total = (small.len() + big.len()) as u64;
    let out = tmp.path().join("out");

    // Small packets and 256 MiB, to be mid-transfer at any speed seen on loopback: 160 MiB
    // in large packets was seen to arrive between two progress events.
    let sending = start_send_with(&signal, &["--small-packets"], &[&album])?;
    let mut recv = receive_yes(&signal, &out, &sending.code)
        .arg("--small-packets")
        .spawn()?;
    let mut recv_lines = BufReader::new(recv.stdout.take().ok_or("stdout")?).lines();
    let had = wait_for_bytes(&mut recv_lines, total * 6 / 10, LIMIT)?;
    recv.kill()?;
    recv.wait()?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(!s.ok);
    assert_eq!(error_kind(&s), "peer_gone", "{}", s.stderr);
    assert!(
        s.stderr
            .contains("the other side disconnected before the transfer finished"),
        "{}",
        s.stderr
    );
    // Nothing under a final name but the file that was complete.
    assert_eq!(
        names_in(&out.join("album"))?,
        ["a-cover.jpg", "b-concert.mov.part"]
    );

    let sending = start_send(&signal, &[&album])?;
    let recv = receive_yes(&signal, &out, &sending.code).spawn()?;
    let r = finish(recv, None)?;
    let s = finish(sending.child, Some(sending.lines))?;
    assert!(r.ok && s.ok, "receiver: {} sender: {}", r.stderr, s.stderr);
    assert_eq!(std::fs::read(out.join("album/a-cover.jpg"))?, small);
    assert_eq!(std::fs::read(out.join("album/b-concert.mov"))?, big);
    assert_eq!(names_in(&out)?, ["album"], "same folder, no journal left");
    assert_eq!(
        names_in(&out.join("album"))?,
        ["a-cover.jpg", "b-concert.mov"]
    );
    let resumed: Vec<(String, u64)> = r
        .events
        .iter()
        .filter(|e| e["event"] == "resumed")
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").to_owned(),
                e["offset"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        resumed[0],
        ("album/a-cover.jpg".to_owned(), small.len() as u64)
    );
    assert_eq!(resumed.len(), 2, "{resumed:?}");
    assert_eq!(resumed[1].0, "album/b-concert.mov");
    let part = resumed[1].1;
    // The receiver records its ranges at a checkpoint at least every 32 MiB written; a
    // checkpoint's sync runs while writing goes on (up to 32 MiB more before the next one
    // waits for it), and the writer is at most 8 MiB of write-ahead and a 1 MiB buffer
    // behind what was received: 73 MiB at most unrecorded, when the disk is slow to sync.
    assert!(
        part > 0 && part + (73 << 20) >= had && part <= had,
        "picked up at {part} of the {had} bytes it had"
    );
    let done = |f: &Finished| {
        f.events
            .iter()
            .find(|e| e["event"] == "done")
            .map(|e| (e["bytes"].as_u64(), e["skipped"].as_u64()))
    };
    let skipped = small.len() as u64 + part;
    assert_eq!(done(&r), Some((Some(total), Some(skipped))));
    assert_eq!(
        done(&s),
        Some((Some(total), Some(skipped))),
        "not sent again"
    );
    Ok(())
}
