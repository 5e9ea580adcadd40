//! A hostile signaling server: a WebSocket relay in front of a real `toss-signal` that alters,
//! replays, reorders or reflects what the two peers send through it, or meddles with the key
//! exchange. Real sender and receiver (real PAKE, real webrtc-rs on loopback) must both stop
//! with a clear error, and nothing may reach the receiver's disk.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use toss_core::{Config, Decision, Event, Events};

/// Longest a scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

use toss_testkit::{AnyResult, TestResult};

/// What the relay does to the sender's messages (the first client to connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Flip one bit in the sender's first sealed message (the SDP offer, which carries the
    /// DTLS fingerprint).
    FlipSealed,
    /// Deliver the sender's first sealed message twice.
    Replay,
    /// Hold the sender's first sealed message back and deliver it after the second.
    Reorder,
    /// Send the sender's first sealed message back to the sender as if from the peer.
    Reflect,
    /// Flip one bit in the sender's PAKE message.
    FlipPake,
}

fn kind_of(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
}

/// Flips one bit of the base64 field `field` of a relayed body, keeping it valid base64.
fn flip(body: &str, field: &str) -> String {
    let mut v: Value = serde_json::from_str(body).expect("json body");
    let data = v[field].as_str().expect("field").to_owned();
    let mut chars: Vec<char> = data.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    v[field] = Value::String(chars.into_iter().collect());
    v.to_string()
}

fn send_msg(body: &str) -> Message {
    Message::Text(
        serde_json::json!({"v":1,"type":"send","body":body})
            .to_string()
            .into(),
    )
}

/// Starts the relay in front of `upstream`; returns its URL.
async fn relay(upstream: String, attack: Attack) -> AnyResult<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move {
        // Two clients at most: the sender, then the receiver.
        for index in 0..2 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(client) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let Ok((server, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await
                else {
                    return;
                };
                let (mut c_tx, mut c_rx) = client.split();
                let (mut s_tx, mut s_rx) = server.split();
                let is_sender = index == 0;
                let (reflect_tx, mut reflect_rx) = tokio::sync::mpsc::unbounded_channel();
                let up = async move {
                    let mut sealed = 0usize;
                    let mut held: Option<String> = None;
                    while let Some(Ok(msg)) = c_rx.next().await {
                        let Message::Text(text) = &msg else {
                            if s_tx.send(msg).await.is_err() {
                                return;
                            }
                            continue;
                        };
                        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        let body = v["body"].as_str().map(str::to_owned);
                        let mut out = vec![msg.clone()];
                        if let (true, Some(body)) = (is_sender && v["type"] == "send", body) {
                            match (kind_of(&body).as_deref(), attack) {
                                (Some("pake"), Attack::FlipPake) => {
                                    out = vec![send_msg(&flip(&body, "msg"))];
                                }
                                (Some("sealed"), _) => {
                                    sealed += 1;
                                    match (attack, sealed) {
                                        (Attack::FlipSealed, 1) => {
                                            out = vec![send_msg(&flip(&body, "data"))];
                                        }
                                        (Attack::Replay, 1) => out.push(msg.clone()),
                                        (Attack::Reorder, 1) => {
                                            held = Some(body);
                                            out.clear();
                                        }
                                        (Attack::Reorder, 2) => {
                                            if let Some(first) = held.take() {
                                                out.push(send_msg(&first));
                                            }
                                        }
                                        (Attack::Reflect, 1) => {
                                            let _ = reflect_tx.send(body);
                                        }
                                        _ => {}
                                    }
                                }
                                _ => {}
                            }
                        }
                        for m in out {
                            if s_tx.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                };
                let down = async move {
                    loop {
                        let msg = tokio::select! {
                            m = s_rx.next() => match m {
                                Some(Ok(m)) => m,
                                _ => return,
                            },
                            Some(body) = reflect_rx.recv() => Message::Text(
                                serde_json::json!({"v":1,"type":"message","body":body})
                                    .to_string()
                                    .into(),
                            ),
                        };
                        if c_tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok(url)
}

/// Sends a file through a relay mounting `attack`; returns both sides' errors and what the
/// receiver's user saw.
async fn attacked(
    attack: Attack,
    out: &Path,
) -> AnyResult<(toss_core::Error, toss_core::Error, Vec<Event>)> {
    let server = toss_testkit::signal::spawn().await?;
    let url = relay(server.url(), attack).await?;
    let config = Config::local(url);
    let src = out.parent().expect("parent").join("secret.txt");
    std::fs::write(&src, b"for the receiver only")?;
    let (sender, code, _send_rx) =
        toss_core::testing::send_and_get_code(config.clone(), vec![src]).await;
    let (recv_events, mut recv_rx) = Events::channel();
    let mut receiver =
        toss_core::start_receive(config, code.parse()?, out.to_path_buf(), recv_events);
    receiver.decide(Decision::Accept);
    let (s, r) = tokio::time::timeout(LIMIT, async {
        tokio::join!(sender.wait(), receiver.wait())
    })
    .await?;
    let mut seen = Vec::new();
    while let Ok(e) = recv_rx.try_recv() {
        seen.push(e);
    }
    let s = s.expect_err("the sender must not succeed through a tampering relay");
    let r = r.expect_err("the receiver must not succeed through a tampering relay");
    Ok((s, r, seen))
}

async fn fails_closed_as_tampered(attack: Attack) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let (s, r, seen) = attacked(attack, &out).await?;
    let expected = "the connection was tampered with on the way (it failed its integrity check against the code); the transfer was stopped";
    assert_eq!(
        s.kind(),
        toss_core::ErrorKind::Tampered,
        "{attack:?}: sender said {s}"
    );
    assert_eq!(
        r.kind(),
        toss_core::ErrorKind::Tampered,
        "{attack:?}: receiver said {r}"
    );
    assert_eq!(s.to_string(), expected);
    assert_eq!(r.to_string(), expected);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Offer { .. })),
        "{attack:?}: no offer reached the receiver"
    );
    assert_eq!(
        std::fs::read_dir(&out)?.count(),
        0,
        "{attack:?}: nothing saved"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_sealed_offer_stops_both_sides() -> TestResult {
    fails_closed_as_tampered(Attack::FlipSealed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_sealed_message_stops_both_sides() -> TestResult {
    fails_closed_as_tampered(Attack::Replay).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_sealed_messages_stop_both_sides() -> TestResult {
    fails_closed_as_tampered(Attack::Reorder).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflected_sealed_message_stops_both_sides() -> TestResult {
    fails_closed_as_tampered(Attack::Reflect).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_meddling_with_the_key_exchange_gets_wrong_code_on_both_sides() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    let (s, r, seen) = attacked(Attack::FlipPake, &out).await?;
    assert!(s.is_wrong_code(), "sender said {s}");
    assert!(r.is_wrong_code(), "receiver said {r}");
    assert!(!seen.iter().any(|e| matches!(e, Event::Offer { .. })));
    assert_eq!(std::fs::read_dir(&out)?.count(), 0);
    Ok(())
}
