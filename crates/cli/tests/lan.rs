//! A local network with no signaling server anywhere: three network namespaces made by the
//! test, with link-local addresses that never leave them. `a` and `b` are two computers;
//! `c` holds the bridge that joins them (multicast on) and captures everything on it with
//! tshark, as a third computer on the network could.
//!
//! - A code typed on `b` reaches the sender on `a` with nothing configured: the sender finds
//!   no signaling server, hosts the rendezvous itself and says so; the receiver finds it by
//!   mDNS. The folder arrives byte-identical, and the capture holds mDNS traffic but
//!   nothing of the code's words.
//! - `toss devices` on `a` sees `toss receive` (waiting, no code) on `b` within its 3 s;
//!   `toss send --to` sends a folder straight to it, both sides show the same words.
//! - `toss send --to A --to B` asks about each device by its name with the words its screen
//!   shows, and the folder reaches both.
//!
//! Namespaces need root: the tests are ignored as "needs root", and `make test` runs them
//! when it runs as root (CI does).

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use toss_testkit::data::random_file;
use toss_testkit::json::{events, find};
use toss_testkit::netns::{self, Lan};
use toss_testkit::process::assert_root;
use toss_testkit::{AnyResult, TestResult};

/// Longest one transfer may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Namespaces `a` (169.254.79.1) and `b` (169.254.79.2) on a bridge in `c`; `tag` tells
/// apart the two tests' networks. As root, a network that cannot be built is an error.
fn lan(tag: &str) -> AnyResult<Lan> {
    assert_root("creating network namespaces");
    Lan::create(tag, 79)
}

/// `toss ARGS` inside namespace `ns`, as a command to spawn.
fn toss(ns: &str, args: &[&str]) -> Command {
    let mut cmd = netns::exec(ns, env!("CARGO_BIN_EXE_toss"));
    // Nothing but the namespace: no STUN server, no configured signaling server.
    match args.split_first() {
        Some((&sub, rest)) if sub != "devices" => {
            cmd.args([sub, "--no-ice-servers"]).args(rest);
        }
        _ => {
            cmd.args(args);
        }
    }
    cmd.env_remove("TOSS_SIGNAL")
        .env_remove("TOSS_LAN")
        .env_remove("TOSS_LOOPBACK")
        .env_remove("TOSS_NO_DISCOVERY");
    cmd
}

/// A folder of three random files (one in a subfolder), ~600 KiB in all.
fn make_folder(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join("holiday");
    std::fs::create_dir_all(dir.join("day 2"))?;
    for (name, size) in [
        ("beach.jpg", 300_000),
        ("notes.txt", 1_234),
        ("day 2/hill.png", 290_000),
    ] {
        random_file(&dir.join(name), size)?;
    }
    Ok(dir)
}

fn assert_same_folder(sent: &Path, received: &Path) {
    for name in ["beach.jpg", "notes.txt", "day 2/hill.png"] {
        let (a, b) = (
            std::fs::read(sent.join(name)),
            std::fs::read(received.join(name)),
        );
        assert!(
            matches!((&a, &b), (Ok(a), Ok(b)) if a == b),
            "{name} arrived byte-identical"
        );
    }
}

/// Runs `child` to its end, killed after [`LIMIT`].
fn finish(child: Child) -> std::io::Result<Output> {
    toss_testkit::process::finish(child, LIMIT)
}

/// `toss receive --json` on `ns`, visible as `name` and saving into `out`, whose user says
/// yes when the offer is shown.
fn visible_receiver(ns: &str, name: &str, out: &Path) -> AnyResult<Waiting> {
    let mut receiver = toss(ns, &["receive", "--json", "--device-name", name, "--out"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    receiver.stdin.take().ok_or("no stdin")?.write_all(b"y\n")?;
    Waiting::until_visible(receiver)
}

/// `toss ARGS PATH` on `ns` run to its end, its user giving `answers` as they are asked.
fn send_answering(ns: &str, args: &[&str], path: &Path, answers: &[u8]) -> AnyResult<Output> {
    let mut sent = toss(ns, args)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    sent.stdin.take().ok_or("no stdin")?.write_all(answers)?;
    Ok(finish(sent)?)
}

/// A `toss receive --json` waiting with no code, once it has said it is visible; the rest
/// of its events are read on a thread.
struct Waiting {
    child: Child,
    said: Vec<Value>,
    rest: std::thread::JoinHandle<Vec<Value>>,
}

impl Waiting {
    /// Reads `child`'s events up to its "Visible to nearby devices" notice.
    fn until_visible(mut child: Child) -> AnyResult<Waiting> {
        let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
        let mut said = Vec::new();
        loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                return Err(format!("it stopped before it was visible: {said:?}").into());
            };
            let event: Value = serde_json::from_str(&line?)?;
            let visible = event["event"] == "notice"
                && event["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Visible to nearby devices"));
            said.push(event);
            if visible {
                break;
            }
        }
        let rest = std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str(&l).ok())
                .collect()
        });
        Ok(Waiting { child, said, rest })
    }

    /// Every event, once the process has ended (killed after [`LIMIT`]).
    fn finish(self) -> AnyResult<Vec<Value>> {
        let Waiting {
            child,
            mut said,
            rest,
        } = self;
        finish(child)?;
        said.extend(rest.join().expect("the event reader ran to the end"));
        Ok(said)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tshark on the bridge, writing every frame to a file.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(ns: &str, file: PathBuf) -> AnyResult<Capture> {
        let mut child = netns::exec(ns, "tshark")
            // Classic pcap: frames only. pcapng would add tshark's own name ("Wireshark"),
            // which holds the code word "shark".
            .args(["-i", "br0", "-q", "-F", "pcap", "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        // tshark says "Capturing on 'br0'" once packets are being recorded.
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Capturing on") => break,
                Some(Ok(_)) => continue,
                _ => return Err("tshark did not start capturing".into()),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Capture { child, file })
    }

    /// Stops the capture (SIGINT, so tshark flushes) and returns its bytes.
    fn stop(self) -> AnyResult<Vec<u8>> {
        toss_testkit::process::interrupt(&self.child)?;
        toss_testkit::process::finish(self.child, Duration::from_secs(10))?;
        Ok(std::fs::read(&self.file)?)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
#[ignore = "needs root"]
fn a_code_works_with_no_server_anywhere_and_its_words_never_cross_the_network() -> TestResult {
    let lan = lan("k")?;
    let tmp = tempfile::tempdir()?;
    let folder = make_folder(tmp.path())?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let capture = Capture::start(&lan.c, tmp.path().join("bridge.pcap"))?;

    // Nothing configured: the default signaling server is nowhere.
    let mut sender = toss(&lan.a, &["send", "--json"])
        .arg(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(sender.stdout.take().ok_or("stdout")?).lines();
    let mut sender_events = Vec::new();
    let code = loop {
        let line = lines.next().ok_or("the sender printed no code")??;
        let event: Value = serde_json::from_str(&line)?;
        sender_events.push(event.clone());
        if let Some(code) = event["code"].as_str() {
            break code.to_owned();
        }
    };
    let notice = find(&sender_events, "notice").ok_or("the sender said nothing of the network")?;
    assert!(
        notice["message"]
            .as_str()
            .is_some_and(|m| m.contains("this code works on this local network only")),
        "{notice}"
    );
    // The code says where its room is: a 0 first, which no signaling server hands out.
    assert!(
        code.starts_with('0') && !code.starts_with("00"),
        "a local network's code starts with one 0: {code}"
    );

    let receiver = toss(&lan.b, &["receive", "--json", "--yes", "--out"])
        .arg(&out)
        .arg(&code)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let received = finish(receiver)?;
    let _ = sender.kill();
    let _ = sender.wait();
    let pcap = capture.stop()?;

    let receiver_events = events(&received);
    assert!(
        find(&receiver_events, "done").is_some(),
        "{receiver_events:?}"
    );
    let connected = find(&receiver_events, "connected").ok_or("no connected event")?;
    assert_eq!(connected["path"]["kind"], "direct", "{connected}");
    assert_same_folder(&folder, &out.join("holiday"));

    // The capture saw the conversation (the mDNS announcement and the signaling)...
    assert!(
        contains(&pcap, b"_toss"),
        "the capture holds the mDNS traffic"
    );
    let nameplate = code.split('-').next().ok_or("nameplate")?;
    assert!(
        contains(&pcap, format!("\"nameplate\":\"{nameplate}\"").as_bytes()),
        "the capture holds the signaling"
    );
    // ...and nothing of the code's words.
    for word in code.split('-').skip(1) {
        assert!(
            !contains(&pcap, word.as_bytes()),
            "\"{word}\" from the code crossed the network"
        );
    }
    Ok(())
}

#[test]
#[ignore = "needs root"]
fn nearby_devices_see_each_other_and_a_folder_goes_straight_to_one() -> TestResult {
    let lan = lan("d")?;
    let tmp = tempfile::tempdir()?;
    let folder = make_folder(tmp.path())?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;

    // b waits, visible, with no code; with no code it may not accept unasked.
    let refused = toss(&lan.b, &["receive", "--json", "--yes"]).output()?;
    assert!(!refused.status.success());
    let error = find(&events(&refused), "error")
        .cloned()
        .ok_or("no error")?;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("--yes needs a code")),
        "{error}"
    );
    // Once b says it is visible, a lists it within 3 s, at the first asking.
    let receiver = visible_receiver(&lan.b, "Bea's desk", &out)?;
    let devices = toss(&lan.a, &["devices", "--json", "--wait", "3"]).output()?;
    assert!(devices.status.success());
    let listed = events(&devices);
    let bea = listed
        .iter()
        .find(|d| d["name"] == "Bea's desk")
        .ok_or_else(|| format!("b is not listed: {listed:?}"))?;
    assert_eq!(bea["receives"], true);

    // Al's answer to "does the other screen show the same words?", read when asked.
    let sent = send_answering(
        &lan.a,
        &[
            "send",
            "--json",
            "--device-name",
            "Al's laptop",
            "--to",
            "bea's desk",
        ],
        &folder,
        b"y\n",
    )?;
    let (sender_events, receiver_events) = (events(&sent), receiver.finish()?);
    assert!(
        find(&sender_events, "done").is_some(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        find(&receiver_events, "done").is_some(),
        "{receiver_events:?}"
    );
    assert!(
        find(&sender_events, "code").is_none(),
        "no code to read out"
    );
    let words = |e: &[Value]| find(e, "peer_connected").map(|p| p["verification"].clone());
    assert!(words(&sender_events).is_some());
    assert_eq!(words(&sender_events), words(&receiver_events));
    // The sender was asked to compare them before anything was offered.
    let asked = find(&sender_events, "check_words").ok_or("the sender was not asked")?;
    assert_eq!(asked["verification"], words(&sender_events).ok_or("words")?);
    let offer = find(&receiver_events, "offer").ok_or("no offer")?;
    assert_eq!(offer["device"], "Al's laptop");
    assert_same_folder(&folder, &out.join("holiday"));

    // Al sees other words than Bea's screen shows: nothing is offered, both are told.
    let out2 = tmp.path().join("out2");
    std::fs::create_dir(&out2)?;
    let receiver = visible_receiver(&lan.b, "Bea's desk", &out2)?;
    let sent = send_answering(
        &lan.a,
        &["send", "--json", "--to", "bea's desk"],
        &folder,
        b"n\n",
    )?;
    let refused = find(&events(&sent), "error").cloned().ok_or("no error")?;
    let received = receiver.finish()?;
    assert_eq!(
        refused["kind"],
        "words_differ",
        "the sender said {:?}\nthe receiver said {received:?}\nthe sender's log: {}",
        events(&sent),
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        refused["message"],
        "the verification words were not the same on both screens, so someone may be in the middle; nothing was sent"
    );
    let told = find(&received, "error").cloned().ok_or("b was not told")?;
    assert!(
        told["message"]
            .as_str()
            .is_some_and(|m| m.contains("the sender saw other verification words")),
        "{told}"
    );
    assert!(find(&received, "offer").is_none(), "nothing was offered");
    assert_eq!(std::fs::read_dir(&out2)?.count(), 0);

    // Two devices announce the same name: both are listed as such, and a send to that
    // name is refused instead of picking one.
    let twins = (0..2)
        .map(|_| {
            let twin = toss(
                &lan.b,
                &["receive", "--json", "--device-name", "Twin", "--out"],
            )
            .arg(&out2)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
            Waiting::until_visible(twin)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let devices = toss(&lan.a, &["devices", "--json", "--wait", "3"]).output()?;
    let both: Vec<Value> = events(&devices)
        .into_iter()
        .filter(|d| d["name"] == "Twin")
        .collect();
    assert_eq!(both.len(), 2, "{both:?}");
    let listed = toss(&lan.a, &["devices", "--wait", "3"]).output()?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed
            .lines()
            .filter(
                |l| l.starts_with("Twin  (id ") && l.contains("another device uses this name too")
            )
            .count(),
        2,
        "{listed}"
    );
    let ambiguous = toss(&lan.a, &["send", "--to", "twin", "--json"])
        .arg(&folder)
        .output()?;
    assert!(!ambiguous.status.success());
    let error = find(&events(&ambiguous), "error")
        .cloned()
        .ok_or("no error")?;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("2 nearby devices are called \"Twin\"")),
        "{error}"
    );
    for twin in twins {
        twin.stop();
    }
    assert_eq!(std::fs::read_dir(&out2)?.count(), 0);

    // Nobody of that name: one sentence, nothing sent.
    let nobody = toss(&lan.a, &["send", "--to", "Nobody", "--json"])
        .arg(&folder)
        .output()?;
    assert!(!nobody.status.success());
    let error = find(&events(&nobody), "error").cloned().ok_or("no error")?;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("no nearby device called \"Nobody\"")),
        "{error}"
    );
    Ok(())
}

#[test]
#[ignore = "needs root"]
fn one_send_to_two_nearby_devices_asks_about_each_by_name_and_both_get_the_folder() -> TestResult {
    let lan = lan("m")?;
    let tmp = tempfile::tempdir()?;
    let folder = make_folder(tmp.path())?;
    let names = ["Bea's desk", "Cy's laptop"];
    let mut waiting = Vec::new();
    for name in names {
        let out = tmp.path().join(format!("out {name}"));
        std::fs::create_dir(&out)?;
        // Each one's user accepts when the offer is shown.
        waiting.push((name, out.clone(), visible_receiver(&lan.b, name, &out)?));
    }

    // Al compares the words with each screen in turn, and says yes twice.
    let sent = send_answering(
        &lan.a,
        &[
            "send",
            "--json",
            "--device-name",
            "Al's laptop",
            "--to",
            "bea's desk",
            "--to",
            "CY'S LAPTOP",
        ],
        &folder,
        b"y\ny\n",
    )?;
    let asked = String::from_utf8_lossy(&sent.stderr).into_owned();
    let sender_events = events(&sent);
    assert!(sent.status.success(), "{asked}");
    assert!(
        sender_events
            .iter()
            .any(|e| e["event"] == "done" && e.get("receiver").is_none()),
        "{sender_events:?}"
    );

    let mut words = Vec::new();
    for (name, out, receiver) in waiting {
        let got = receiver.finish()?;
        assert!(find(&got, "done").is_some(), "{name}: {got:?}");
        let offer = find(&got, "offer").ok_or("no offer")?;
        assert_eq!(offer["device"], "Al's laptop");
        assert_same_folder(&folder, &out.join("holiday"));
        // The sender was asked about this device by its name, with the words its screen
        // showed, before anything was offered to it.
        let shown = find(&got, "peer_connected").ok_or("no words")?["verification"]
            .as_str()
            .ok_or("words are text")?
            .to_owned();
        assert!(
            asked.contains(&format!("({name}): does its screen show \"{shown}\"")),
            "{name} ({shown}) was not asked about: {asked}"
        );
        assert!(
            sender_events
                .iter()
                .any(|e| e["event"] == "check_words" && e["verification"] == shown.as_str()),
            "{sender_events:?}"
        );
        words.push(shown);
    }
    assert_ne!(words[0], words[1], "each connection has its own words");
    Ok(())
}
