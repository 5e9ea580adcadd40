//! A lying sender against the real receiver: a peer that completes the genuine handshake
//! (real `toss-signal`, PAKE, webrtc-rs on loopback) and then breaks the transfer protocol
//! on purpose. Each test checks what the receiver's user is told, what the lying peer is
//! told, and that nothing is left on disk under a final name (or at all).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toss_core::testing::{self, RawPeer};
use toss_core::{Config, Decision, Error, Event, Events};

/// Longest any scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

use toss_testkit::{hostile, AnyResult, TestResult};

/// What a scenario left behind.
struct Outcome {
    /// The receiver's result.
    error: Error,
    /// Everything the receiver's user was shown.
    events: Vec<Event>,
    /// Every file and folder under the output folder, relative.
    left: Vec<String>,
    /// The last control message the receiver sent the liar.
    told: Option<serde_json::Value>,
}

/// The liar's offer of `files` (path, size).
fn offer(files: &[(&str, u64)]) -> String {
    hostile::offer("liar", files)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable") {
            let path = entry.expect("entry").path();
            out.push(
                path.strip_prefix(dir)
                    .expect("under")
                    .to_string_lossy()
                    .into_owned(),
            );
            let meta = std::fs::symlink_metadata(&path).expect("meta");
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs `script` as the sender against a real receiver that accepts into `out`; the script
/// returns the peer so that the last word the receiver says can be read.
async fn against<F, Fut>(out: &Path, script: F) -> AnyResult<Outcome>
where
    F: FnOnce(RawPeer) -> Fut,
    Fut: Future<Output = RawPeer>,
{
    let server = toss_testkit::signal::spawn().await?;
    let config = Config::local(server.url());
    let (code, host) = testing::host(config.clone()).await?;
    let (events, mut rx) = Events::channel();
    let mut receiver = toss_core::start_receive(config, code, out.to_path_buf(), events);
    receiver.decide(Decision::Accept);
    let (result, told) = tokio::time::timeout(LIMIT, async {
        let peer = host.await.expect("host task")?;
        let mut peer = script(peer).await;
        // The receiver's last word, if it says one; then hang up as an honest peer would.
        let mut told: Option<serde_json::Value> = None;
        while let Ok(Some(text)) =
            tokio::time::timeout(Duration::from_secs(10), peer.recv_text()).await
        {
            told = serde_json::from_str(&text).ok();
            let last = told.as_ref().map(|t| t["type"].clone());
            if last.is_some_and(|t| t == "error" || t == "cancel" || t == "done") {
                break;
            }
        }
        peer.close().await;
        let result = receiver.wait().await;
        Ok::<_, Error>((result, told))
    })
    .await
    .expect("the scenario finished in time")?;
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    let error = match result {
        Ok(summary) => panic!("the receiver accepted a lying peer: {summary:?}"),
        Err(e) => e,
    };
    Ok(Outcome {
        error,
        events: seen,
        left: entries(out),
        told,
    })
}

/// Sends the offer and waits for the receiver's `accept`.
async fn offered(peer: RawPeer, files: &[(&str, u64)]) -> RawPeer {
    let mut peer = peer;
    peer.send_text(&offer(files)).await.expect("offer sent");
    let accept = peer.recv_text().await.expect("an answer to the offer");
    assert!(accept.contains("\"accept\""), "{accept}");
    peer
}

fn told_error(outcome: &Outcome) -> String {
    let told = outcome
        .told
        .as_ref()
        .expect("the receiver told the liar why");
    assert_eq!(told["type"], "error", "{told}");
    told["message"].as_str().expect("a message").to_owned()
}

fn out_dir(tmp: &tempfile::TempDir) -> PathBuf {
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("out");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_bytes_than_offered_stops_and_keeps_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("a.bin", 10)]).await;
        peer.send_text(&hostile::file_start(0, 0))
            .await
            .expect("sent");
        peer.send_binary(vec![7; 20]).await.expect("sent");
        peer
    })
    .await?;
    assert_eq!(o.error.kind().as_str(), "protocol");
    assert!(
        o.error.to_string().contains("more bytes arrived for a.bin"),
        "{}",
        o.error
    );
    assert!(told_error(&o).contains("more bytes arrived"));
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_bytes_then_gone_keeps_only_the_part_for_a_resume() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("big.bin", 1_000_000)]).await;
        peer.send_text(&hostile::file_start(0, 0))
            .await
            .expect("sent");
        peer.send_binary(vec![1; 16 * 1024]).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(300)).await;
        peer.close().await;
        peer
    })
    .await?;
    assert!(o.error.is_peer_gone(), "{}", o.error);
    // Cut off, not refused: the .part waits for the same file to come again (its journal
    // is in this user's own data folder, never here); nothing has a final name.
    assert_eq!(o.left, ["big.bin.part"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hash_keeps_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("doc.txt", 5)]).await;
        peer.send_text(&hostile::file_start(0, 0))
            .await
            .expect("sent");
        peer.send_binary(b"hello".to_vec()).await.expect("sent");
        let wrong = blake3::hash(b"hellp").to_hex().to_string();
        peer.send_text(&hostile::file_end(0, &wrong))
            .await
            .expect("sent");
        peer
    })
    .await?;
    assert_eq!(o.error.kind().as_str(), "corrupt");
    assert_eq!(
        o.error.to_string(),
        "doc.txt arrived damaged (its checksum does not match); it was not kept"
    );
    assert!(told_error(&o).contains("arrived damaged"));
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_for_a_file_never_offered_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("a.bin", 4)]).await;
        peer.send_text(&hostile::file_start(3, 0))
            .await
            .expect("sent");
        peer.send_binary(vec![0; 4]).await.expect("sent");
        peer
    })
    .await?;
    assert_eq!(o.error.kind().as_str(), "protocol");
    assert!(o.error.to_string().contains("a file started out of order"));
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);

    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("a.bin", 4)]).await;
        peer.send_binary(vec![0; 4]).await.expect("sent");
        peer
    })
    .await?;
    assert!(
        o.error
            .to_string()
            .contains("file data arrived outside a file"),
        "{}",
        o.error
    );
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(())
}

/// An offer the receiver refuses before its user is even asked.
async fn refused_offer(raw: String) -> AnyResult<Outcome> {
    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |mut peer| async move {
        peer.send_text(&raw).await.expect("offer sent");
        let _ = &mut peer;
        peer
    })
    .await?;
    assert!(
        !o.events.iter().any(|e| matches!(e, Event::Offer { .. })),
        "the user was never asked about a bad offer"
    );
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_files_or_an_exabyte_are_refused_up_front() -> TestResult {
    let many: Vec<(String, u64)> = (0..100_000).map(|i| (format!("f{i}"), 1)).collect();
    let many: Vec<(&str, u64)> = many.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let o = refused_offer(offer(&many)).await?;
    assert_eq!(
        o.error.to_string(),
        "the other side sent something invalid: the offer lists 100000 files; Toss accepts at most 20000 at once"
    );
    assert!(told_error(&o).contains("100000 files"));

    let o = refused_offer(offer(&[("huge.iso", 1 << 60)])).await?;
    assert!(
        o.error.to_string().contains("larger than Toss accepts"),
        "{}",
        o.error
    );
    let o = refused_offer(offer(&[("a", u64::MAX), ("b", 1)])).await?;
    assert!(o.error.to_string().contains("larger than Toss accepts"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_space_is_checked_before_accepting() -> TestResult {
    let tmp = tempfile::tempdir()?;
    // 15 TiB: within the protocol's limits, beyond any disk this runs on.
    let o = against(&out_dir(&tmp), |mut peer| async move {
        peer.send_text(&offer(&[("disk.img", 15 << 40)]))
            .await
            .expect("offer sent");
        let _ = &mut peer;
        peer
    })
    .await?;
    assert_eq!(o.error.kind().as_str(), "no_space");
    assert!(o
        .error
        .to_string()
        .starts_with("not enough free disk space: the transfer needs 16492674416640 bytes"));
    assert!(told_error(&o).starts_with("not enough free disk space"));
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_message_that_is_not_json_or_is_ten_mebibytes_is_refused() -> TestResult {
    let o = refused_offer("{\"v\":1,\"type\":\"offer\",".to_owned()).await?;
    assert_eq!(
        o.error.to_string(),
        "the other side sent something invalid: a control message is not valid JSON of the transfer protocol"
    );

    let tmp = tempfile::tempdir()?;
    let o = against(&out_dir(&tmp), |peer| async {
        let peer = offered(peer, &[("a.bin", 4)]).await;
        // Sent in fragments like any long control message; refused once past 4 MiB.
        let huge = format!(
            "{{\"v\":1,\"type\":\"error\",\"message\":\"{}\"}}",
            "x".repeat(10 << 20)
        );
        // The receiver stops reading at the cap, so the rest may never drain: give up.
        let _ = tokio::time::timeout(Duration::from_secs(10), peer.send_text(&huge)).await;
        peer
    })
    .await?;
    assert_eq!(
        o.error.to_string(),
        "the other side sent something invalid: a control message is larger than 4 MiB"
    );
    assert!(o.left.is_empty(), "left behind: {:?}", o.left);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_channel_binding_is_caught() -> TestResult {
    let server = toss_testkit::signal::spawn().await?;
    let config = Config::local(server.url());
    let (code, host) = testing::host_forging_binding(config.clone()).await?;
    let tmp = tempfile::tempdir()?;
    let out = out_dir(&tmp);
    let (events, mut rx) = Events::channel();
    let mut receiver = toss_core::start_receive(config, code, out.clone(), events);
    receiver.decide(Decision::Accept);
    let result = tokio::time::timeout(LIMIT, receiver.wait()).await?;
    let e = result.expect_err("a man in the middle must not get through");
    eprintln!("receiver: {e}");
    assert_eq!(e.kind().as_str(), "tampered");
    assert_eq!(
        e.to_string(),
        "the connection was tampered with on the way (it failed its integrity check against the code); the transfer was stopped"
    );
    let mut shown = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        shown.push(ev);
    }
    assert!(
        !shown.iter().any(|e| matches!(e, Event::Offer { .. })),
        "nothing from the forger reached the user"
    );
    drop(host);
    assert!(entries(&out).is_empty());
    Ok(())
}

/// Sends `files` honestly (right sizes, right hashes) under whatever names it is given.
async fn deliver(peer: RawPeer, files: &[(&str, &[u8])]) -> RawPeer {
    let sizes: Vec<(&str, u64)> = files.iter().map(|(p, d)| (*p, d.len() as u64)).collect();
    let mut peer = offered(peer, &sizes).await;
    for (index, (_, data)) in files.iter().enumerate() {
        peer.send_text(&hostile::file_start(index, 0))
            .await
            .expect("sent");
        peer.send_binary(data.to_vec()).await.expect("sent");
        let hash = blake3::hash(data).to_hex().to_string();
        peer.send_text(&hostile::file_end(index, &hash))
            .await
            .expect("sent");
    }
    while let Some(text) = peer.recv_text().await {
        if text.contains("\"done\"") {
            break;
        }
    }
    peer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_renamed_inside_the_folder_and_nothing_is_overwritten() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = out_dir(&tmp);
    std::fs::write(out.join("README"), b"mine")?;
    let outside = tmp.path().join("outside.txt");
    std::os::unix::fs::symlink(&outside, out.join("link.txt"))?;
    let long = format!("{}.txt", "a".repeat(300));
    let files: Vec<(&str, &[u8])> = vec![
        ("CON.txt", b"1"),
        ("NUL", b"2"),
        ("COM1 ", b"3"),
        ("file:name.txt", b"4"),
        ("trailing.", b"5"),
        ("space ", b"6"),
        ("esc\u{1b}[31mred.txt", b"7"),
        ("bell\u{7}.txt", b"8"),
        ("rtl\u{202e}gpj.exe", b"9"),
        ("zero\u{200b}width.txt", b"10"),
        ("<img src=x onerror=alert(1)>.html", b"11"),
        (long.as_str(), b"12"),
        ("README", b"13"),
        ("readme", b"14"),
        ("cafe\u{301}.txt", b"15"),
        ("link.txt", b"16"),
    ];
    let server = toss_testkit::signal::spawn().await?;
    let config = Config::local(server.url());
    let (code, host) = testing::host(config.clone()).await?;
    let (events, _rx) = Events::channel();
    let mut receiver = toss_core::start_receive(config, code, out.clone(), events);
    receiver.decide(Decision::Accept);
    let summary = tokio::time::timeout(LIMIT, async {
        let peer = host.await.expect("host task")?;
        let _peer = deliver(peer, &files).await;
        receiver.wait().await
    })
    .await??;
    assert_eq!(summary.files, files.len());

    let short = format!("{}.txt", "a".repeat(239 - 4));
    let mut expected: Vec<String> = [
        "_CON.txt",
        "_NUL",
        "_COM1",
        "file_name.txt",
        "trailing",
        "space",
        "esc_[31mred.txt",
        "bell_.txt",
        "rtlgpj.exe",
        "zerowidth.txt",
        "_img src=x onerror=alert(1)_.html",
        short.as_str(),
        "README",
        "README (1)",
        "readme",
        "caf\u{e9}.txt",
        "link.txt",
        "link (1).txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.sort();
    assert_eq!(entries(&out), expected);
    assert_eq!(
        std::fs::read(out.join("README"))?,
        b"mine",
        "never overwritten"
    );
    assert_eq!(std::fs::read(out.join("README (1)"))?, b"13");
    assert_eq!(std::fs::read(out.join("readme"))?, b"14");
    assert_eq!(std::fs::read(out.join("link (1).txt"))?, b"16");
    assert_eq!(std::fs::read(out.join("_CON.txt"))?, b"1");
    assert!(!outside.exists(), "nothing written through the symlink");
    assert_eq!(
        entries(tmp.path()),
        ["out".to_string()]
            .into_iter()
            .chain(expected.iter().map(|e| format!("out/{e}")))
            .collect::<Vec<_>>(),
        "nothing written outside the output folder"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_escape_or_collide_are_refused() -> TestResult {
    for bad in [
        "../../x",
        "/etc/x",
        "C:\\x",
        "\\\\srv\\s\\x",
        "sub/../sub2/f",
        "a/./b",
        "a:b",
        "",
    ] {
        let o = refused_offer(offer(&[(bad, 1)])).await?;
        let said = o.error.to_string();
        assert!(
            said.contains("tries to leave the download folder")
                || said.contains("no usable characters"),
            "{bad:?}: {said}"
        );
        assert!(told_error(&o).contains("the file name"), "{bad:?}");
    }
    // Precomposed and decomposed é are one name on macOS and after normalizing.
    let o = refused_offer(offer(&[("caf\u{e9}.txt", 1), ("cafe\u{301}.txt", 1)])).await?;
    assert!(o.error.to_string().contains("twice"), "{}", o.error);
    Ok(())
}
