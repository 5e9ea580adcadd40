//! The receiver's window (docs/protocol.md section 3), as the web page sets it: a receiver
//! that completes the genuine handshake with the real sender (real `toss-signal`, PAKE,
//! webrtc-rs on loopback), accepts with a window and says how much it took. The sender must
//! never have more than the window on its way beyond that, must go on as the receiver takes
//! more, and must stop at a receiver that says it took bytes never sent.

use std::time::Duration;

use toss_core::testing::{self, RawPeer};
use toss_core::Config;
use toss_testkit::data::random_file;
use toss_testkit::{signal, AnyResult, TestResult};

/// Longest any scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);
/// The window the receiver sets: four times the 256 KiB the sender takes at the least.
const WINDOW: usize = 1 << 20;
/// The file: five windows and a bit.
const SIZE: usize = 5 * WINDOW + 12_345;
/// How long the receiver waits, with a full window, for bytes that must not come.
const QUIET: Duration = Duration::from_millis(500);

/// The next message, text or a binary message's length.
async fn next(peer: &mut RawPeer) -> AnyResult<Result<String, usize>> {
    Ok(tokio::time::timeout(LIMIT, peer.recv())
        .await?
        .ok_or("the sender closed the channel")?)
}

/// Reads file bytes until `want` more have come; text in between fails.
async fn take(peer: &mut RawPeer, want: usize) -> AnyResult<()> {
    let mut got = 0;
    while got < want {
        match next(peer).await? {
            Err(len) => got += len,
            Ok(text) => return Err(format!("after {got} of {want} bytes: {text}").into()),
        }
    }
    assert_eq!(got, want, "the sender's chunks fill the window exactly");
    Ok(())
}

/// Whether anything arrives within [`QUIET`].
async fn quiet(peer: &mut RawPeer) -> bool {
    tokio::time::timeout(QUIET, peer.recv()).await.is_err()
}

fn consumed(bytes: usize) -> String {
    format!(r#"{{"v":1,"type":"consumed","bytes":{bytes}}}"#)
}

/// An honest sender of a random file of [`SIZE`] bytes, and a raw receiver that has read
/// its offer and accepted with [`WINDOW`], and the file's first `file_start`.
async fn accepted_with_a_window(
    tmp: &tempfile::TempDir,
) -> AnyResult<(toss_core::Transfer, RawPeer, Vec<u8>, toss_signal::Server)> {
    let src = tmp.path().join("film.bin");
    let data = random_file(&src, SIZE)?;
    let server = signal::spawn().await?;
    let config = Config::local(server.url());
    let (sender, code, _events) = testing::send_and_get_code(config.clone(), vec![src]).await;
    let mut peer = testing::join(config, &code.parse()?).await?;
    let offer = next(&mut peer)
        .await?
        .map_err(|_| "bytes before the offer")?;
    let offer: serde_json::Value = serde_json::from_str(&offer)?;
    assert_eq!(offer["type"], "offer", "{offer}");
    assert_eq!(offer["paced"], true, "the sender says it keeps to a window");
    peer.send_text(&format!(
        r#"{{"v":1,"type":"accept","offsets":[0],"window":{WINDOW}}}"#
    ))
    .await?;
    let start = next(&mut peer)
        .await?
        .map_err(|_| "bytes before file_start")?;
    assert!(start.contains(r#""type":"file_start""#), "{start}");
    Ok((sender, peer, data, server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_keeps_to_the_receivers_window() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (sender, mut peer, _data, _server) = accepted_with_a_window(&tmp).await?;
    let mut taken = 0;
    while taken + WINDOW <= SIZE {
        take(&mut peer, WINDOW).await?;
        assert!(
            quiet(&mut peer).await,
            "the sender sent more than the window of {WINDOW} beyond the {taken} bytes taken"
        );
        taken += WINDOW;
        peer.send_text(&consumed(taken)).await?;
    }
    take(&mut peer, SIZE - taken).await?;
    let end = next(&mut peer).await?.map_err(|_| "bytes after the file")?;
    assert!(end.contains(r#""type":"file_end""#), "{end}");
    peer.send_text(&consumed(SIZE)).await?;
    peer.send_text(r#"{"v":1,"type":"file_ok","index":0}"#)
        .await?;
    peer.send_text(r#"{"v":1,"type":"done"}"#).await?;
    let summary = tokio::time::timeout(LIMIT, sender.wait()).await??;
    assert_eq!(summary.bytes, SIZE as u64);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_says_it_took_bytes_never_sent_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (sender, mut peer, _data, _server) = accepted_with_a_window(&tmp).await?;
    take(&mut peer, WINDOW).await?;
    peer.send_text(&consumed(SIZE)).await?;
    let err = tokio::time::timeout(LIMIT, sender.wait())
        .await?
        .expect_err("the sender stops");
    assert_eq!(err.kind().as_str(), "protocol", "{err}");
    assert!(
        err.to_string()
            .contains("the receiver said it took bytes that were never sent"),
        "{err}"
    );
    Ok(())
}
