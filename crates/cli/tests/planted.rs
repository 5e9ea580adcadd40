//! A hostile sender against a real `toss receive` process, through a real `toss-signal`
//! process: the resume journal is this machine's own, so whatever a sender put in the
//! receiving folder (a journal in the format Toss once kept there, a `.part` of the user's
//! own) is never taken up. The sender is built from the core's test hooks: it completes
//! the genuine handshake, then says what it likes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use toss_core::testing::{self, RawPeer};
use toss_core::Config;
use toss_testkit::{hostile, json, AnyResult, TestResult};

mod support;

use support::{bin, signal};

/// Longest a scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(90);

/// The name Toss once gave an offer's journal in the receiving folder (`.toss-ID.resume`).
fn old_journal_id(files: &[(&str, u64)]) -> String {
    let mut id = blake3::Hasher::new();
    id.update(b"toss offer v1");
    for (path, size) in files {
        id.update(&(path.len() as u64).to_le_bytes());
        id.update(path.as_bytes());
        id.update(&size.to_le_bytes());
    }
    id.finalize().to_hex().as_str()[..16].to_owned()
}

/// Plants a journal of the old kind in `out`: what a sender could once deliver as files.
fn plant(out: &Path, files: &[(&str, u64)], roots: Value, current: Value) -> TestResult {
    let id = old_journal_id(files);
    let entries: Vec<Value> = files
        .iter()
        .map(|(path, size)| json!({"path": path, "size": size}))
        .collect();
    let journal = json!({"v":1,"files":entries,"roots":roots,"saved":{},"current":current});
    std::fs::write(out.join(format!(".toss-{id}.resume")), journal.to_string())?;
    // Chaining values the sender made up: a receiver trusting them would "verify" a file
    // made of the user's bytes and the sender's tail.
    std::fs::write(out.join(format!(".toss-{id}.ranges")), [7u8; 32])?;
    Ok(())
}

/// What the receiver said and did.
struct Outcome {
    /// The offsets of its `accept`: where it asked each file to start.
    offsets: Vec<u64>,
    /// Its `--json` events.
    events: Vec<Value>,
}

/// Sends `files` (path, bytes) from a hostile sender to `toss receive --yes --out OUT`,
/// whole, whatever the receiver asks for, and returns what the receiver said.
async fn send_to_real_receiver(
    out: &Path,
    data_home: &Path,
    files: &[(&str, Vec<u8>)],
) -> AnyResult<Outcome> {
    let signal = signal()?;
    let (code, host) = testing::host(Config::local(signal.url.clone())).await?;
    let receiver = Command::new(bin("toss"))
        .args(["receive", "--json", "--yes", "--out"])
        .arg(out)
        .arg(code.to_string())
        .env("TOSS_SIGNAL", &signal.url)
        .env("TOSS_LOOPBACK", "true")
        .env("XDG_DATA_HOME", data_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut receiver = receiver;
    let sent = tokio::time::timeout(LIMIT, async {
        let mut peer: RawPeer = host.await??;
        let sizes: Vec<(&str, u64)> = files
            .iter()
            .map(|(path, data)| (*path, data.len() as u64))
            .collect();
        peer.send_text(&hostile::offer("planter", &sizes)).await?;
        let accept: Value = serde_json::from_str(&peer.recv_text().await.ok_or("no accept")?)?;
        assert_eq!(accept["type"], "accept", "{accept}");
        let offsets: Vec<u64> = serde_json::from_value(accept["offsets"].clone())?;
        for (index, (_, data)) in files.iter().enumerate() {
            peer.send_text(&hostile::file_start(index, 0)).await?;
            for chunk in data.chunks(16 * 1024) {
                peer.send_binary(chunk.to_vec()).await?;
            }
            let hash = blake3::hash(data).to_hex().to_string();
            peer.send_text(&hostile::file_end(index, &hash)).await?;
        }
        // The receiver's last word, then it closes.
        while let Some(text) = peer.recv_text().await {
            let msg: Value = serde_json::from_str(&text)?;
            if msg["type"] == "done" || msg["type"] == "error" {
                break;
            }
        }
        AnyResult::Ok(offsets)
    })
    .await;
    if !matches!(sent, Ok(Ok(_))) {
        let _ = receiver.kill();
    }
    let output = tokio::time::timeout(
        LIMIT,
        tokio::task::spawn_blocking(move || receiver.wait_with_output()),
    )
    .await
    .expect("the receiver exited in time")??;
    let offsets = sent.expect("the scenario finished in time")?;
    let events = json::events(&output);
    Ok(Outcome { offsets, events })
}

fn done(outcome: &Outcome) -> bool {
    outcome.events.iter().any(|e| e["event"] == "done")
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn a_planted_journal_cannot_splice_the_users_own_part_file() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (out, data_home) = (tmp.path().join("out"), tmp.path().join("data"));
    std::fs::create_dir_all(&out)?;
    // The user's own unfinished download, nothing to do with Toss.
    let users = pattern(5 * 1024 * 1024, 1);
    std::fs::write(out.join("video.mov.part"), &users)?;
    let sent = pattern(5 * 1024 * 1024, 2);
    let offer = [("video.mov", sent.len() as u64)];
    plant(
        &out,
        &offer,
        json!({}),
        json!({"index":0,"dir":"","name":"video.mov"}),
    )?;

    let outcome = send_to_real_receiver(&out, &data_home, &[("video.mov", sent.clone())]).await?;
    assert_eq!(outcome.offsets, [0], "nothing is taken up from the folder");
    assert!(done(&outcome), "{:?}", outcome.events);
    assert_eq!(std::fs::read(out.join("video.mov.part"))?, users);
    assert_eq!(std::fs::read(out.join("video (1).mov"))?, sent);
    assert!(!out.join("video.mov").exists());
    Ok(())
}

#[tokio::test]
async fn a_planted_journal_cannot_name_a_file_outside_the_folder() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (out, data_home) = (tmp.path().join("out"), tmp.path().join("data"));
    std::fs::create_dir_all(&out)?;
    let beside = pattern(5 * 1024 * 1024, 3);
    std::fs::write(tmp.path().join("notes.txt.part"), &beside)?;
    let sent = pattern(5 * 1024 * 1024, 4);
    let offer = [("notes.txt", sent.len() as u64)];
    plant(
        &out,
        &offer,
        json!({}),
        json!({"index":0,"dir":"","name":"../notes.txt"}),
    )?;

    let outcome = send_to_real_receiver(&out, &data_home, &[("notes.txt", sent.clone())]).await?;
    assert_eq!(outcome.offsets, [0]);
    assert!(done(&outcome), "{:?}", outcome.events);
    assert!(
        !tmp.path().join("notes.txt").exists(),
        "nothing outside the folder"
    );
    assert_eq!(std::fs::read(tmp.path().join("notes.txt.part"))?, beside);
    assert_eq!(std::fs::read(out.join("notes.txt"))?, sent);
    Ok(())
}

#[tokio::test]
async fn a_planted_journal_cannot_send_a_folder_into_an_existing_one() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (out, data_home) = (tmp.path().join("out"), tmp.path().join("data"));
    std::fs::create_dir_all(out.join(".config/autostart"))?;
    let sent = b"[Desktop Entry]\nExec=evil\n".to_vec();
    let offer = [("x/autostart/evil.desktop", sent.len() as u64)];
    plant(&out, &offer, json!({"x": ".config"}), Value::Null)?;

    let outcome = send_to_real_receiver(
        &out,
        &data_home,
        &[("x/autostart/evil.desktop", sent.clone())],
    )
    .await?;
    assert!(done(&outcome), "{:?}", outcome.events);
    assert_eq!(std::fs::read_dir(out.join(".config/autostart"))?.count(), 0);
    assert_eq!(std::fs::read(out.join("x/autostart/evil.desktop"))?, sent);
    Ok(())
}
