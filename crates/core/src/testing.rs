//! Test helpers (feature `test-utils`): a peer that completes the real handshake (signaling,
//! PAKE, WebRTC, channel binding) and then says whatever a test wants, to check that the
//! honest side refuses a lying peer. Never part of a release build.

use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::code::Code;
use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, Events};
use crate::handle::{start_send, Transfer};
use crate::peer::{connect_with, Binding, Incoming, Link};
use crate::session::{self, Signal};
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;

/// A connected peer under a test's control.
#[derive(Debug)]
pub struct RawPeer {
    link: Link,
    inbox: mpsc::Receiver<Result<Incoming>>,
}

/// Opens a room as a sender; the returned task yields the peer once someone joins.
///
/// # Errors
/// When the signaling server cannot be reached.
pub async fn host(config: Config) -> Result<(Code, JoinHandle<Result<RawPeer>>)> {
    host_with(config, Binding::Honest).await
}

/// Like [`host`], but the channel binding names another certificate than the real one, as a
/// man in the middle's would.
///
/// # Errors
/// When the signaling server cannot be reached.
pub async fn host_forging_binding(config: Config) -> Result<(Code, JoinHandle<Result<RawPeer>>)> {
    host_with(config, Binding::Forged).await
}

/// Joins an honest sender's room with `code` as a receiver that then says whatever a test
/// wants.
///
/// # Errors
/// When the room cannot be joined or the connection not made.
pub async fn join(config: Config, code: &Code) -> Result<RawPeer> {
    let mut paired = session::join(&config.signal, code).await?;
    let link = connect_with(
        &mut paired,
        &config,
        &CancellationToken::new(),
        Binding::Honest,
    )
    .await?;
    paired.leave().await;
    let inbox = link.reader();
    Ok(RawPeer { link, inbox })
}

async fn host_with(
    config: Config,
    binding: Binding,
) -> Result<(Code, JoinHandle<Result<RawPeer>>)> {
    let allocated = session::allocate(&config.signal).await?;
    let code = allocated.code().clone();
    let task = tokio::spawn(async move {
        let mut paired = allocated.wait_for_peer().await?;
        let link = connect_with(&mut paired, &config, &CancellationToken::new(), binding).await?;
        // A raw peer never reconnects: it leaves signaling at once, as a peer that has
        // gone for good would.
        paired.leave().await;
        let inbox = link.reader();
        Ok(RawPeer { link, inbox })
    });
    Ok((code, task))
}

/// Opens a room as a sender; once someone joins and the key exchange is done, sends
/// `count` sealed ICE candidates and no offer, as a flooding peer would. The task ends
/// with how many the signaling connection took before it closed.
///
/// # Errors
/// When the signaling server cannot be reached.
pub async fn host_flooding_candidates(
    config: Config,
    count: usize,
) -> Result<(Code, JoinHandle<Result<usize>>)> {
    let allocated = session::allocate(&config.signal).await?;
    let code = allocated.code().clone();
    let task = tokio::spawn(async move {
        let mut paired = allocated.wait_for_peer().await?;
        for i in 0..count {
            let candidate = RTCIceCandidateInit {
                candidate: format!(
                    "candidate:{i} 1 udp 2130706431 127.0.0.1 {} typ host",
                    10_000 + i % 50_000
                ),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            };
            let msg = paired.seal(&Signal::Candidate { candidate })?;
            // The queue to the socket is bounded: wait for room, a bounded number of times.
            let mut sent = false;
            for _ in 0..200 {
                if paired.send_sealed(msg.clone()).is_ok() {
                    sent = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if !sent {
                return Ok(i);
            }
        }
        // Stay a moment for the other side to read them, then go.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        paired.leave().await;
        Ok(count)
    });
    Ok((code, task))
}

impl RawPeer {
    /// Sends a text message as is (fragmented like any control message).
    ///
    /// # Errors
    /// [`Error::PeerGone`] when the channel is closed.
    pub async fn send_text(&self, text: &str) -> Result<()> {
        self.link.send_text(text).await
    }

    /// Sends a binary message (file bytes, as far as the other side knows).
    ///
    /// # Errors
    /// [`Error::PeerGone`] when the channel is closed.
    pub async fn send_binary(&self, data: Vec<u8>) -> Result<()> {
        self.link.send_binary(Bytes::from(data)).await
    }

    /// The next text message from the other side, skipping binary ones; `None` once the
    /// channel closes.
    pub async fn recv_text(&mut self) -> Option<String> {
        loop {
            match self.inbox.recv().await? {
                Ok(Incoming::Text(t)) => return Some(t),
                Ok(Incoming::Binary(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next message from the other side, text or the length of a binary one; `None`
    /// once the channel closes.
    pub async fn recv(&mut self) -> Option<std::result::Result<String, usize>> {
        match self.inbox.recv().await? {
            Ok(Incoming::Text(t)) => Some(Ok(t)),
            Ok(Incoming::Binary(b)) => Some(Err(b.len())),
            Err(_) => None,
        }
    }

    /// Closes the connection abruptly.
    pub async fn close(&self) {
        self.link.close().await;
    }
}

/// Starts an honest sender of `paths` and waits for its code.
///
/// # Panics
/// When the sender stops before showing a code (a test failure).
pub async fn send_and_get_code(
    config: Config,
    paths: Vec<PathBuf>,
) -> (Transfer, String, mpsc::UnboundedReceiver<Event>) {
    let (events, mut rx) = Events::channel();
    let sender = start_send(config, paths, events);
    loop {
        match rx.recv().await {
            Some(Event::Code { code, .. }) => return (sender, code, rx),
            Some(_) => continue,
            None => panic!("the sender stopped before showing a code"),
        }
    }
}
