//! One sender, several receivers, one code (`toss send --receivers N`): real `toss`
//! processes through a real `toss-signal` process on loopback, files on disk compared byte
//! for byte, and what each side's `--json` events and sentences tell.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::data::{names_in, random_file};
use toss_testkit::process::wait;
use toss_testkit::signal::SignalProcess;
use toss_testkit::{AnyResult, TestResult};

mod support;

use support::{signal, wait_for_bytes};

/// Longest a CLI process may run in a test.
const LIMIT: Duration = Duration::from_secs(180);

/// A process's `--json` lines, read as they come by a thread of their own: a pipe nobody
/// reads would stop its process at its next progress line.
struct Lines(std::sync::mpsc::Receiver<std::io::Result<String>>);

impl Iterator for Lines {
    type Item = std::io::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.recv().ok()
    }
}

fn drained(stdout: ChildStdout) -> Lines {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Lines(rx)
}

fn toss(signal: &SignalProcess, device: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toss"));
    cmd.args(args)
        .env("TOSS_SIGNAL", &signal.url)
        .env("TOSS_LOOPBACK", "true")
        .env("TOSS_DEVICE_NAME", device)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A running `toss send --json`, with its code read from the first event.
struct Sending {
    child: Child,
    code: String,
    lines: Lines,
}

fn start_send(signal: &SignalProcess, options: &[&str], path: &Path) -> AnyResult<Sending> {
    let path = path.to_string_lossy().into_owned();
    let mut args = vec!["send", "--json"];
    args.extend_from_slice(options);
    args.push(&path);
    let mut child = toss(signal, "the-sender", &args).spawn()?;
    let mut lines = drained(child.stdout.take().ok_or("stdout")?);
    let first: Value = serde_json::from_str(&lines.next().ok_or("no event")??)?;
    assert_eq!(first["event"], "code", "{first}");
    let code = first["code"].as_str().ok_or("code")?.to_owned();
    Ok(Sending { child, code, lines })
}

/// A running `toss receive --json --yes --out OUT CODE` on device `device`.
struct Receiving {
    child: Child,
    lines: Lines,
    out: PathBuf,
}

fn start_receive(
    signal: &SignalProcess,
    device: &str,
    out: &Path,
    code: &str,
    options: &[&str],
) -> AnyResult<Receiving> {
    let out_arg = out.to_string_lossy().into_owned();
    let mut args = vec!["receive", "--json", "--yes", "--out", &out_arg];
    args.extend_from_slice(options);
    args.push(code);
    let mut child = toss(signal, device, &args).spawn()?;
    let lines = drained(child.stdout.take().ok_or("stdout")?);
    Ok(Receiving {
        child,
        lines,
        out: out.to_owned(),
    })
}

struct Finished {
    ok: bool,
    events: Vec<Value>,
    stderr: String,
}

fn finish(mut child: Child, lines: Lines) -> AnyResult<Finished> {
    let status = wait(&mut child, LIMIT)?;
    let events = lines
        .map(|line| Ok(serde_json::from_str(&line?)?))
        .collect::<AnyResult<Vec<Value>>>()?;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().ok_or("stderr")?, &mut stderr)?;
    Ok(Finished {
        ok: status.success(),
        events,
        stderr,
    })
}

/// Reads events until one that `until` accepts, and returns all read, that one included.
fn read_until(lines: &mut Lines, mut until: impl FnMut(&Value) -> bool) -> AnyResult<Vec<Value>> {
    let start = Instant::now();
    let mut read = Vec::new();
    loop {
        let line = lines.next().ok_or("ended before the event awaited")??;
        let event: Value = serde_json::from_str(&line)?;
        let found = until(&event);
        read.push(event);
        if found {
            return Ok(read);
        }
        assert!(start.elapsed() < LIMIT, "the event awaited never came");
    }
}

/// [`finish`] for a process whose first events were read already.
fn finish_after(child: Child, lines: Lines, read: Vec<Value>) -> AnyResult<Finished> {
    let mut f = finish(child, lines)?;
    f.events.splice(0..0, read);
    Ok(f)
}

/// The one event named `name` that concerns nobody in particular (the transfer's own).
fn own<'a>(f: &'a Finished, name: &str) -> Option<&'a Value> {
    f.events
        .iter()
        .find(|e| e["event"] == name && e.get("receiver").is_none())
}

/// What the sender's events say of each receiver: its number -> the events about it.
fn rows(f: &Finished) -> BTreeMap<u64, Vec<&Value>> {
    let mut rows: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for e in &f.events {
        if let Some(n) = e["receiver"].as_u64() {
            rows.entry(n).or_default().push(e);
        }
    }
    rows
}

fn field<'a>(events: &[&'a Value], name: &str, key: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == name).map(|e| &e[key])
}

/// The folder a group test sends: a large file and a small one beside it.
fn album(root: &Path, large: usize) -> AnyResult<(PathBuf, Vec<u8>, Vec<u8>)> {
    let album = root.join("album");
    std::fs::create_dir_all(&album)?;
    let small = random_file(&album.join("a-cover.jpg"), 300 * 1024 + 5)?;
    let big = random_file(&album.join("b-concert.mov"), large)?;
    Ok((album, small, big))
}

#[test]
fn a_folder_reaches_three_receivers_each_with_its_own_words() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let (album, small, big) = album(tmp.path(), 300 * 1024 * 1024 + 11)?;
    let sending = start_send(&signal, &["--receivers", "3", "--yes"], &album)?;
    let receivers = ["ana", "ben", "chloe"]
        .iter()
        .map(|name| {
            let out = tmp.path().join(format!("out-{name}"));
            start_receive(&signal, name, &out, &sending.code, &[])
        })
        .collect::<AnyResult<Vec<_>>>()?;
    let mut words = BTreeSet::new();
    for r in receivers {
        let out = r.out.clone();
        let f = finish(r.child, r.lines)?;
        assert!(f.ok, "receiver: {}", f.stderr);
        assert_eq!(std::fs::read(out.join("album/a-cover.jpg"))?, small);
        assert_eq!(std::fs::read(out.join("album/b-concert.mov"))?, big);
        assert_eq!(names_in(&out)?, ["album"]);
        assert_eq!(own(&f, "offer").ok_or("offer")?["device"], "the-sender");
        let said = own(&f, "peer_connected").ok_or("words")?["verification"].clone();
        assert!(
            words.insert(said.to_string()),
            "two receivers saw the same words"
        );
    }
    let s = finish(sending.child, sending.lines)?;
    assert!(s.ok, "sender: {}", s.stderr);
    let rows = rows(&s);
    assert_eq!(rows.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    // Each receiver's row on the sender's side shows the words that receiver saw, and its
    // own transfer to the end.
    let sender_words: BTreeSet<String> = rows
        .values()
        .map(|events| field(events, "peer_connected", "verification").map(Value::to_string))
        .collect::<Option<_>>()
        .ok_or("a row without words")?;
    assert_eq!(sender_words, words);
    let total = (small.len() + big.len()) as u64;
    for (n, events) in &rows {
        assert_eq!(
            field(events, "done", "bytes"),
            Some(&Value::from(total)),
            "receiver {n}"
        );
        assert!(field(events, "progress", "bytes").is_some(), "receiver {n}");
    }
    let done = own(&s, "done").ok_or("the sender's own done")?;
    assert_eq!(
        (done["files"].as_u64(), done["bytes"].as_u64()),
        (Some(2), Some(total))
    );
    Ok(())
}

#[test]
fn a_receiver_killed_half_way_leaves_the_others_running_and_resumes_with_a_new_code() -> TestResult
{
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let (album, small, big) = album(tmp.path(), 256 * 1024 * 1024 + 77)?;
    let total = (small.len() + big.len()) as u64;
    // Small packets: the receivers are still mid-transfer when one of them is killed.
    let sending = start_send(
        &signal,
        &["--receivers", "3", "--yes", "--small-packets"],
        &album,
    )?;
    let mut receivers = ["ana", "ben", "chloe"]
        .iter()
        .map(|name| {
            let out = tmp.path().join(format!("out-{name}"));
            start_receive(&signal, name, &out, &sending.code, &["--small-packets"])
        })
        .collect::<AnyResult<Vec<_>>>()?;
    let mut killed = receivers.remove(1);
    wait_for_bytes(&mut killed.lines, total / 2, LIMIT)?;
    killed.child.kill()?;
    killed.child.wait()?;
    for r in receivers {
        let out = r.out.clone();
        let f = finish(r.child, r.lines)?;
        assert!(f.ok, "receiver: {}", f.stderr);
        assert_eq!(std::fs::read(out.join("album/b-concert.mov"))?, big);
    }
    let s = finish(sending.child, sending.lines)?;
    assert!(!s.ok);
    assert_eq!(
        own(&s, "error").ok_or("the sender's own error")?["kind"],
        "some_receivers_missed"
    );
    assert!(
        s.stderr
            .contains("2 of 3 receivers got everything; each of the others says why"),
        "{}",
        s.stderr
    );
    let gone: Vec<_> = rows(&s)
        .values()
        .filter_map(|events| field(events, "error", "kind").cloned())
        .collect();
    assert_eq!(gone, [Value::from("peer_gone")]);
    assert_eq!(
        names_in(&killed.out.join("album"))?,
        ["a-cover.jpg", "b-concert.mov.part"]
    );

    // The one that was killed, with a fresh code (a plain send) into the same folder,
    // picks up from its `.part`.
    let sending = start_send(&signal, &[], &album)?;
    let again = start_receive(&signal, "ben", &killed.out, &sending.code, &[])?;
    let r = finish(again.child, again.lines)?;
    let s = finish(sending.child, sending.lines)?;
    assert!(r.ok && s.ok, "receiver: {} sender: {}", r.stderr, s.stderr);
    assert_eq!(std::fs::read(killed.out.join("album/b-concert.mov"))?, big);
    assert_eq!(
        names_in(&killed.out.join("album"))?,
        ["a-cover.jpg", "b-concert.mov"]
    );
    let resumed: Vec<u64> = r
        .events
        .iter()
        .filter(|e| e["event"] == "resumed" && e["path"] == "album/b-concert.mov")
        .filter_map(|e| e["offset"].as_u64())
        .collect();
    assert!(
        resumed.len() == 1 && resumed[0] > 0,
        "picked up from the .part: {resumed:?}"
    );
    Ok(())
}

#[test]
fn a_full_code_refuses_one_more_receiver_and_the_others_are_unaffected() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let (album, small, big) = album(tmp.path(), 128 * 1024 * 1024 + 1)?;
    let mut sending = start_send(
        &signal,
        &["--receivers", "2", "--yes", "--small-packets"],
        &album,
    )?;
    let options = ["--small-packets"];
    let first = start_receive(
        &signal,
        "ana",
        &tmp.path().join("a"),
        &sending.code,
        &options,
    )?;
    let second = start_receive(
        &signal,
        "ben",
        &tmp.path().join("b"),
        &sending.code,
        &options,
    )?;
    // Both are in and the files are going to both: a third is one too many.
    let mut accepted = 0;
    let read = read_until(&mut sending.lines, |e| {
        if e["event"] == "accepted" && e.get("receiver").is_some() {
            accepted += 1;
        }
        accepted == 2
    });
    let read = read?;
    let third = start_receive(&signal, "chloe", &tmp.path().join("c"), &sending.code, &[])?;
    let c = finish(third.child, third.lines)?;
    assert!(!c.ok);
    assert_eq!(own(&c, "error").ok_or("error")?["kind"], "signal_refused");
    assert!(
        c.stderr
            .contains("This code has already been used; ask the sender for a new one."),
        "{}",
        c.stderr
    );
    assert!(!tmp.path().join("c").exists());
    for r in [first, second] {
        let out = r.out.clone();
        let f = finish(r.child, r.lines)?;
        assert!(f.ok, "{}", f.stderr);
        assert_eq!(std::fs::read(out.join("album/a-cover.jpg"))?, small);
        assert_eq!(std::fs::read(out.join("album/b-concert.mov"))?, big);
    }
    let s = finish_after(sending.child, sending.lines, read)?;
    assert!(s.ok, "{}", s.stderr);
    assert_eq!(rows(&s).keys().copied().collect::<Vec<_>>(), [1, 2]);
    Ok(())
}

/// A wrong code ends the code for everyone else, and a third receiver of a two-receiver
/// code is refused; the receiver already transferring finishes byte-identical.
#[test]
fn a_wrong_code_ends_the_code_and_those_transferring_carry_on() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let (album, _small, big) = album(tmp.path(), 256 * 1024 * 1024 + 3)?;
    let total = big.len() as u64 + 300 * 1024 + 5;
    let mut sending = start_send(
        &signal,
        &["--receivers", "3", "--yes", "--small-packets"],
        &album,
    )?;
    let mut first = start_receive(
        &signal,
        "ana",
        &tmp.path().join("a"),
        &sending.code,
        &["--small-packets"],
    )?;
    wait_for_bytes(&mut first.lines, 1, LIMIT)?;
    let nameplate = sending.code.split('-').next().ok_or("nameplate")?;
    let wrong = if sending.code.ends_with("-apple") {
        format!("{nameplate}-apple-arena")
    } else {
        format!("{nameplate}-arena-apple")
    };
    let guess = start_receive(&signal, "guess", &tmp.path().join("g"), &wrong, &[])?;
    let g = finish(guess.child, guess.lines)?;
    assert!(!g.ok);
    assert_eq!(
        own(&g, "error").ok_or("error")?["kind"],
        "wrong_code",
        "{}",
        g.stderr
    );
    // The sender says the code is over; then it takes nobody else, not even with the right
    // words.
    let read = read_until(&mut sending.lines, |e| e["event"] == "code_ended")?;
    let late = start_receive(&signal, "ben", &tmp.path().join("b"), &sending.code, &[])?;
    let l = finish(late.child, late.lines)?;
    assert!(!l.ok);
    assert!(
        l.stderr.contains("This code has already been used"),
        "{}",
        l.stderr
    );
    let a = finish(first.child, first.lines)?;
    assert!(a.ok, "{}", a.stderr);
    assert_eq!(
        std::fs::read(tmp.path().join("a/album/b-concert.mov"))?,
        big
    );
    let s = finish_after(sending.child, sending.lines, read)?;
    assert!(s.ok, "{}", s.stderr);
    let ended = own(&s, "code_ended").ok_or("code_ended")?;
    assert!(
        ended["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Someone typed this code with other words")),
        "{ended}"
    );
    let rows = rows(&s);
    let kinds: Vec<_> = rows
        .values()
        .map(|events| {
            field(events, "error", "kind")
                .cloned()
                .unwrap_or_else(|| field(events, "done", "bytes").cloned().unwrap_or_default())
        })
        .collect();
    assert_eq!(kinds, [Value::from(total), Value::from("wrong_code")]);
    assert!(!tmp.path().join("b").exists() || names_in(&tmp.path().join("b"))?.is_empty());
    Ok(())
}

/// One receiver's disk is slow (its writes capped at 16 MiB/s by a control group,
/// `toss_testkit::throttle`): it slows only itself. The two others finish while it has not
/// written half the file, and it finishes too, byte-identical, last. (How much the others
/// lose, as a ratio of times, is measured by `make bench`, not asserted here.)
#[test]
#[ignore = "needs root"]
fn a_slow_receiver_slows_only_itself() -> TestResult {
    toss_testkit::process::assert_root("capping a process's disk writes");
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    let (album, _small, big) = album(tmp.path(), 128 * 1024 * 1024 + 9)?;
    let throttle = toss_testkit::throttle::WriteThrottle::new(
        &format!("toss-slow-{}", std::process::id()),
        tmp.path(),
        16 * 1024 * 1024,
    )?;
    let sending = start_send(&signal, &["--receivers", "3", "--yes"], &album)?;
    let slow_out = tmp.path().join("out-slow");
    let slow_arg = slow_out.to_string_lossy().into_owned();
    let mut slow = throttle.command(
        Path::new(env!("CARGO_BIN_EXE_toss")),
        &[
            "receive",
            "--json",
            "--yes",
            "--out",
            &slow_arg,
            &sending.code,
        ],
    );
    slow.env("TOSS_SIGNAL", &signal.url)
        .env("TOSS_LOOPBACK", "true")
        .env("TOSS_DEVICE_NAME", "slow")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut slow = slow.spawn()?;
    let slow_lines = drained(slow.stdout.take().ok_or("stdout")?);
    let fast = ["ana", "ben"]
        .iter()
        .map(|name| {
            let out = tmp.path().join(format!("out-{name}"));
            start_receive(&signal, name, &out, &sending.code, &[])
        })
        .collect::<AnyResult<Vec<_>>>()?;
    for r in fast {
        let out = r.out.clone();
        let f = finish(r.child, r.lines)?;
        assert!(f.ok, "{}", f.stderr);
        assert_eq!(std::fs::read(out.join("album/b-concert.mov"))?, big);
    }
    // The fast ones are done; the slow one is far from it.
    assert!(
        slow.try_wait()?.is_none(),
        "the slow receiver is done already"
    );
    let part = slow_out.join("album/b-concert.mov.part");
    let written = std::fs::metadata(&part).map_or(0, |m| m.len());
    assert!(
        written < big.len() as u64 / 2,
        "the slow receiver had written {written} of {} bytes when the others finished",
        big.len()
    );
    let s = finish(slow, slow_lines)?;
    assert!(s.ok, "{}", s.stderr);
    assert_eq!(std::fs::read(slow_out.join("album/b-concert.mov"))?, big);
    let sent = finish(sending.child, sending.lines)?;
    assert!(sent.ok, "{}", sent.stderr);
    // On the sender's side too, the slow one is the last to be done.
    let last_done = sent
        .events
        .iter()
        .rfind(|e| e["event"] == "done" && e.get("receiver").is_some())
        .ok_or("no receiver done")?["receiver"]
        .clone();
    let slow_row = rows(&sent)
        .into_iter()
        .find(|(_, events)| {
            events.iter().any(|e| {
                e["event"] == "peer_connected"
                    && own(&s, "peer_connected")
                        .is_some_and(|p| p["verification"] == e["verification"])
            })
        })
        .map(|(n, _)| n)
        .ok_or("the slow receiver's row")?;
    assert_eq!(last_done, Value::from(slow_row));
    drop(throttle);
    Ok(())
}

/// The sender's Ctrl-C mid-transfer stops every receiver, and each one is told; none keeps
/// a partial file under a final name.
#[test]
fn the_senders_cancel_stops_every_receiver_and_each_is_told() -> TestResult {
    let signal = signal()?;
    let tmp = tempfile::tempdir()?;
    // 1 GiB in small packets: seconds of transfer left when the sender is interrupted,
    // however busy the machine.
    album(tmp.path(), 1024 * 1024 * 1024 + 1)?;
    let album = tmp.path().join("album");
    let sending = start_send(
        &signal,
        &["--receivers", "2", "--yes", "--small-packets"],
        &album,
    )?;
    let mut receivers = ["ana", "ben"]
        .iter()
        .map(|name| {
            let out = tmp.path().join(format!("out-{name}"));
            start_receive(&signal, name, &out, &sending.code, &["--small-packets"])
        })
        .collect::<AnyResult<Vec<_>>>()?;
    for r in &mut receivers {
        wait_for_bytes(&mut r.lines, 1, LIMIT)?;
    }
    // Both are mid-transfer (each checked that not everything had arrived).
    toss_testkit::process::interrupt(&sending.child)?;
    let s = finish(sending.child, sending.lines)?;
    assert!(!s.ok);
    assert_eq!(
        own(&s, "error").ok_or("the sender's own error")?["kind"],
        "cancelled"
    );
    for r in receivers {
        let out = r.out.clone();
        let f = finish(r.child, r.lines)?;
        assert!(!f.ok);
        assert_eq!(
            own(&f, "error").ok_or("error")?["kind"],
            "cancelled",
            "{}",
            f.stderr
        );
        assert!(
            f.stderr.contains("the other side cancelled the transfer"),
            "{}",
            f.stderr
        );
        let album_out = out.join("album");
        let left = if album_out.exists() {
            names_in(&album_out)?
        } else {
            Vec::new()
        };
        assert!(
            !left.iter().any(|n| n == "b-concert.mov"),
            "no partial file under its final name: {left:?}"
        );
    }
    Ok(())
}
