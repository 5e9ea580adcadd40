//! A phone on the Wi-Fi, with no server anywhere: `toss send --lan` hosts the rendezvous
//! itself, serves the web peer from it and prints a plain `http://` link to it; a browser on
//! another computer of the network (Chromium, then Firefox) opens the link, and the page
//! takes the code from the link's fragment, meets the sender and receives.
//!
//! A home network of two computers made by the test (`Lan::home`: private addresses, a
//! default route, multicast, nothing routed anywhere): `toss` in namespace b, the browser
//! (headless, default WebRTC settings, host addresses hidden behind mDNS names) in a. The
//! page is on a non-secure origin there (`http://192.168.83.2:PORT/`), so it has no service
//! worker and no File System Access: it must say it saves in memory
//! (`body[data-save="memory"]`) and still deliver 100 MiB byte-identical, with the same two
//! words as `toss send`. It tells the person that the browser may ask whether to keep the
//! file; Chromium does hold such a download back, and the test chooses Keep on Chromium's
//! downloads page, as the person would.
//!
//! Namespaces need root: the test is ignored as "needs root", and `make test` runs it when it
//! runs as root.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::browser::{list, Browser, Kind, Options};
use toss_testkit::browser_extra::{
    catch_console, chromium_downloads, chromium_keep_downloads, downloaded, shown, wait_state,
};
use toss_testkit::data::{large_random_file, same_bytes};
use toss_testkit::netns::{self, Lan};
use toss_testkit::process::{assert_root, Killed};
use toss_testkit::{AnyResult, TestResult};

mod support;

use support::bin;

/// The home network's /24: a (the browser) is 192.168.83.1, b (`toss`) 192.168.83.2.
const SUBNET: u8 = 83;
/// Where the browser finds the sender.
const B_ADDR: &str = "192.168.83.2";
/// What is sent: 100 MiB, which a phone's browser must hold until it has all arrived.
const SIZE: u64 = 100 << 20;
/// The file's name.
const NAME: &str = "phone video.bin";

/// Longest `toss send` may take to host the rendezvous and print its code.
const CODE: Duration = Duration::from_secs(30);
/// Longest the page may take from the link to the offer on screen (mDNS for the room's
/// address is not needed: the link has it; PAKE, ICE through mDNS host names).
const SETUP: Duration = Duration::from_secs(60);
/// Longest one step on screen may take to appear.
const STEP: Duration = Duration::from_secs(15);
/// Longest 100 MiB may take to arrive and be saved (the page assembles it at the end).
const TRANSFER: Duration = Duration::from_secs(180);

/// `toss send --lan --json` in b: its JSON events on a channel, its stderr kept.
struct Sender {
    child: Killed,
    events: Receiver<Value>,
    seen: Vec<Value>,
    stderr: std::thread::JoinHandle<String>,
}

impl Sender {
    fn spawn(ns: &str, file: &Path) -> AnyResult<Sender> {
        let mut cmd = netns::exec(ns, bin("toss"));
        cmd.args([
            "send",
            "--lan",
            "--no-ice-servers",
            "--json",
            "--device-name",
            "cli-on-lan",
        ])
        .arg(file);
        for var in [
            "TOSS_SIGNAL",
            "TOSS_LAN",
            "TOSS_LOOPBACK",
            "TOSS_NO_DISCOVERY",
        ] {
            cmd.env_remove(var);
        }
        let mut child = Killed(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?,
        );
        let stdout = child.0.stdout.take().ok_or("stdout")?;
        let mut stderr = child.0.stderr.take().ok_or("stderr")?;
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(Sender {
            child,
            events,
            seen: Vec::new(),
            stderr,
        })
    }

    /// Waits, at most `limit`, for the event called `name` (`None` when `toss` ended or the
    /// time ran out first); every event read is kept.
    async fn until(&mut self, name: &str, limit: Duration) -> Option<Value> {
        let started = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["event"] == name {
                        return Some(v);
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What it has said so far, other than progress, and whether it has ended.
    fn summary(&mut self) -> String {
        while let Ok(v) = self.events.try_recv() {
            self.seen.push(v);
        }
        let said: Vec<String> = self
            .seen
            .iter()
            .filter(|e| e["event"] != "progress")
            .map(Value::to_string)
            .collect();
        let moved = self
            .seen
            .iter()
            .rev()
            .find(|e| e["event"] == "progress")
            .and_then(|e| e["bytes"].as_u64())
            .unwrap_or(0);
        let status = match self.child.0.try_wait() {
            Ok(Some(status)) => format!("ended ({status})"),
            _ => "still running".to_owned(),
        };
        format!(
            "toss send {status}, {moved} bytes sent, said: {}",
            said.join(" ")
        )
    }

    /// Waits, at most `limit`, for `toss` to end, and returns whether it succeeded, with its
    /// stderr.
    async fn finish(mut self, limit: Duration) -> AnyResult<(bool, Vec<Value>, String)> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.0.try_wait()? {
                break Some(status);
            }
            if started.elapsed() > limit {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The rest of its events: the reader stops at the end of its output.
        self.until("", STEP).await;
        drop(self.child);
        let stderr = self.stderr.join().unwrap_or_default();
        match status {
            Some(status) => Ok((status.success(), self.seen, stderr)),
            None => Err(format!(
                "toss send did not end within {limit:?}; it said {:?} and {stderr:?}",
                self.seen
            )
            .into()),
        }
    }
}

/// `what` went wrong, with what the page showed and logged, and what `toss send` said: the
/// message a failure panics with.
async fn report(browser: &Browser, sender: &mut Sender, what: &str) -> String {
    format!(
        "{what}\n{}\n{}\nthe download folder holds {:?}",
        shown(browser).await,
        sender.summary(),
        list(browser.downloads())
    )
}

#[test]
#[ignore = "needs root"]
fn chromium_on_the_lan_receives_100_mib_from_the_plain_http_link_of_toss_send_lan() -> TestResult {
    on_the_lan(Kind::Chromium, "bl")
}

#[test]
#[ignore = "needs root"]
fn firefox_on_the_lan_receives_100_mib_from_the_plain_http_link_of_toss_send_lan() -> TestResult {
    on_the_lan(Kind::Firefox, "bf")
}

/// `toss send --lan` in b, `kind` in a opening its link.
fn on_the_lan(kind: Kind, tag: &str) -> TestResult {
    assert_root("creating network namespaces");
    // As root, a network that cannot be built is a failure, not a skip.
    let lan = Lan::home(tag, SUBNET)?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join(NAME);
    large_random_file(&src, SIZE)?;
    let sender = Sender::spawn(&lan.b, &src)?;
    let result = netns::run_in(&lan.a, move || receive_in_browser(kind, sender, src));
    drop(lan);
    result
}

/// Inside a: the browser opens the link `toss send` printed and receives.
async fn receive_in_browser(kind: Kind, mut sender: Sender, src: std::path::PathBuf) -> TestResult {
    let Some(code_event) = sender.until("code", CODE).await else {
        return Err(format!("toss send --lan showed no code: {}", sender.summary()).into());
    };
    let code = code_event["code"].as_str().unwrap_or_default().to_owned();
    let link = code_event["link"].as_str().unwrap_or_default().to_owned();
    let prefix = format!("http://{B_ADDR}:");
    let suffix = format!("/#{code}");
    assert!(
        !code.is_empty() && link.starts_with(&prefix) && link.ends_with(&suffix),
        "toss send --lan's code event {code_event} has no link {prefix}PORT{suffix}"
    );

    let browser = Browser::start(kind, Options::default()).await?;
    let name = browser.name();
    browser.goto(&link).await?;
    catch_console(&browser).await?;
    // The page takes the code from the fragment and receives with it, untouched.
    if let Err(e) = wait_state(&browser, "offer", SETUP).await {
        panic!(
            "{}",
            report(&browser, &mut sender, &format!("after opening {link}: {e}")).await
        );
    }
    let words = browser.text_of("#words", STEP).await?;
    let Some(paired) = sender.until("peer_connected", STEP).await else {
        panic!(
            "{}",
            report(
                &browser,
                &mut sender,
                "toss send never said it met the page"
            )
            .await
        );
    };
    let told = paired["verification"].as_str().unwrap_or_default();
    assert_eq!(
        words.trim(),
        told,
        "{name} shows other verification words than toss send"
    );
    let offered = browser.text_of("#offer-list li", STEP).await?;
    assert!(
        offered.starts_with(NAME),
        "{name} offers {offered:?}, not {NAME}"
    );
    let accept_folder = browser
        .execute("return !!document.getElementById('accept-folder')", vec![])
        .await?;
    assert_eq!(
        accept_folder,
        Value::Bool(false),
        "a page on plain http offers to save into a folder (File System Access needs a \
         secure context)"
    );

    let memory = browser.sample_memory();
    let started = Instant::now();
    browser.click("#accept", STEP).await?;
    if let Err(e) = wait_state(&browser, "done", TRANSFER).await {
        panic!(
            "{}",
            report(&browser, &mut sender, &format!("receiving {NAME}: {e}")).await
        );
    }
    let save = browser.save_path().await?;
    assert_eq!(
        save,
        "memory",
        "a page on plain http saved by way of {save:?}, not in memory: {}",
        shown(&browser).await
    );
    // What the person is told about saving from a page that is not https.
    let page = shown(&browser).await;
    assert!(
        page.contains("choose Keep"),
        "a page on plain http does not say that the browser may ask to keep the file: {page}"
    );
    let kept = if kind == Kind::Chromium {
        // Chromium holds such a download back until the person chooses Keep: as they do.
        chromium_keep_downloads(&browser).await?
    } else {
        String::new()
    };
    let saved = match downloaded(browser.downloads(), NAME, SIZE, STEP).await {
        Ok(saved) => saved,
        Err(e) => {
            let page = shown(&browser).await;
            // Whether the bytes are there, held back: then the trouble is in the saving.
            let held = browser.downloads().join(format!("{NAME}.crdownload"));
            let held = same_bytes(&src, &held)
                .map_or_else(|e| format!("not readable ({e})"), |same| same.to_string());
            let downloads = if kind == Kind::Chromium {
                chromium_downloads(&browser).await
            } else {
                "(not asked: not Chromium)".to_owned()
            };
            panic!(
                "the page says it is done, but {e}\n{page}\nKeep was chosen for {kept:?}; \
                 chrome://downloads says: {downloads}\n\
                 the unfinished {NAME}.crdownload holds the bytes sent: {held}",
            );
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let memory = memory.stop();
    let (ok, events, stderr) = sender.finish(STEP).await?;
    assert!(ok, "toss send failed: {stderr}");
    assert!(
        events.iter().any(|e| e["event"] == "done"),
        "toss send ended without done: {events:?}"
    );
    assert!(
        same_bytes(&src, &saved)?,
        "{name} saved {NAME} with other bytes than were sent"
    );
    let path = events
        .iter()
        .find(|e| e["event"] == "connected")
        .map(|e| e["path"].to_string())
        .unwrap_or_default();
    let mib = SIZE as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{name} on http://{B_ADDR}: {mib:.0} MiB from toss send --lan over {path}, saved in \
         memory (Keep chosen for {kept:?}), in {seconds:.1} s ({:.1} MiB/s); {memory}",
        mib / seconds
    );
    browser.quit().await
}
