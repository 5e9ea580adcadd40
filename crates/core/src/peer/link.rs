//! An open data channel to the peer, [`Link`]: control messages split into fragments and
//! put back together, file bytes as binary messages, backpressure, and the connection's
//! state in Toss's own terms. It knows nothing of files, nor of how the channel was
//! negotiated.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::RTCDataChannel;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::RTCPeerConnection;

use super::path::PathInfo;
use crate::crypto::Role;
use crate::defaults::{
    BUFFERED_HIGH, BUFFERED_LOW, CHANNEL_CLOSE_GRACE, MAX_CONTROL_BYTES, MAX_DC_MESSAGE,
    PROBE_POLL, PROBE_SETTLES_WITHIN, READ_QUEUE, SEND_STALL_TIMEOUT,
};
use crate::error::{ConnectFailure, Error, Result};

/// Fragment markers: every text message starts with one of these.
pub(super) const MORE: u8 = b'+';
pub(super) const LAST: u8 = b'.';

/// How long a side that said its last word waits for the peer to close the channel. A
/// cancel travels behind up to `BUFFERED_HIGH` bytes of file data, which a receiver on a
/// busy computer can take seconds to drain; a healthy peer closes as soon as it reads it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Waits (bounded) until the peer closes the channel, which it does once it has read our
/// last message: the only acknowledgement that `done`, `cancel` or `error` arrived.
/// Anything still arriving is discarded.
pub(crate) async fn await_peer_close(inbox: &mut mpsc::Receiver<Result<Incoming>>) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async { while inbox.recv().await.is_some() {} }).await;
}

/// What the data channel delivered.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A whole (reassembled) control message.
    Text(String),
    /// A binary message: file bytes.
    Binary(Bytes),
}

/// Where a connection stands, as it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkState {
    /// Still being set up.
    Connecting,
    /// Packets flow.
    Connected,
    /// No packet has come from the peer for a few seconds; it may come back by itself.
    Disconnected,
    /// Given up: no packet for longer still.
    Failed,
    /// Closed by either side.
    Closed,
}

impl From<RTCPeerConnectionState> for LinkState {
    fn from(state: RTCPeerConnectionState) -> Self {
        match state {
            RTCPeerConnectionState::Connected => LinkState::Connected,
            RTCPeerConnectionState::Disconnected => LinkState::Disconnected,
            RTCPeerConnectionState::Failed => LinkState::Failed,
            RTCPeerConnectionState::Closed => LinkState::Closed,
            _ => LinkState::Connecting,
        }
    }
}

/// An open data channel to the peer. Clones share it.
#[derive(Clone)]
pub struct Link {
    pc: Arc<RTCPeerConnection>,
    dc: Arc<DataChannel>,
    /// Woken when the send buffer drains below [`BUFFERED_LOW`].
    drained: Arc<Notify>,
    /// Keeps the webrtc-level channel object alive while the detached one is used.
    _rtc_dc: Arc<RTCDataChannel>,
    role: Role,
    path: PathInfo,
    /// The connection's state as it changes.
    state: watch::Receiver<LinkState>,
    /// Fired when the connection failed or was closed: pending writes give up.
    lost: CancellationToken,
    /// Set once file data (a binary message) was read from the channel, or written to it
    /// and acknowledged by the peer.
    carried: Arc<AtomicBool>,
    /// Bytes written to the channel, and of those the control messages': the channel's
    /// queue holds what the peer has not acknowledged, so more acknowledged than the control
    /// messages is file data that reached the peer.
    written: Arc<AtomicU64>,
    written_text: Arc<AtomicU64>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("role", &self.role).finish()
    }
}

impl Link {
    pub(super) fn new(
        pc: Arc<RTCPeerConnection>,
        rtc_dc: Arc<RTCDataChannel>,
        dc: Arc<DataChannel>,
        role: Role,
        path: PathInfo,
    ) -> Self {
        let drained = Arc::new(Notify::new());
        dc.set_buffered_amount_low_threshold(BUFFERED_LOW);
        let notify = drained.clone();
        dc.on_buffered_amount_low(Box::new(move || {
            notify.notify_one();
            Box::pin(async {})
        }));
        // A failed connection (no packet from the peer for the ICE timeouts) closes the
        // channel, so that reads and writes end and the transfer can reconnect.
        let (state_tx, state) = watch::channel(LinkState::Connected);
        let lost = CancellationToken::new();
        let weak = Arc::downgrade(&dc);
        let gone = lost.clone();
        pc.on_peer_connection_state_change(Box::new(move |s| {
            let _ = state_tx.send(LinkState::from(s));
            let dc = weak.clone();
            let gone = gone.clone();
            Box::pin(async move {
                if matches!(
                    s,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    gone.cancel();
                    if let Some(dc) = dc.upgrade() {
                        close_channel(&dc).await;
                    }
                }
            })
        }));
        Self {
            pc,
            dc,
            drained,
            _rtc_dc: rtc_dc,
            role,
            path,
            state,
            lost,
            carried: Arc::default(),
            written: Arc::default(),
            written_text: Arc::default(),
        }
    }

    /// Whether file data was read from this connection, or written to it and acknowledged:
    /// on a path that takes the handshakes' small packets and none of the data's, neither
    /// side counts the connection as one that carried data.
    pub(crate) fn carried_data(&self) -> bool {
        self.carried.load(Ordering::Relaxed)
    }

    /// Resolves once the connection has failed or been closed.
    pub(crate) async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// The peer connection's state as it changes (connected, disconnected while no packet
    /// arrives, failed when the connection is given up).
    pub fn state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// How this connection's bytes travel.
    pub fn path(&self) -> &PathInfo {
        &self.path
    }

    /// The packet size that probing the path settled on; `None` when this connection does
    /// not probe ([`PathInfo::probe_up_to`]) or the search has not finished within
    /// [`PROBE_SETTLES_WITHIN`]. Looks every [`PROBE_POLL`]: the search runs inside the
    /// SCTP association, which only keeps a figure to read.
    pub(crate) async fn probed_packet_size(&self) -> Option<u32> {
        if self.path.probe_up_to == 0 {
            return None;
        }
        let sctp = self.pc.sctp();
        let polls = PROBE_SETTLES_WITHIN.as_millis() / PROBE_POLL.as_millis();
        for _ in 0..polls {
            if let Some((size, true)) = sctp.path_mtu().await {
                return Some(size);
            }
            tokio::time::sleep(PROBE_POLL).await;
        }
        None
    }

    /// This side's role in the session.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Sends a control message, split into fragments below the channel's message size.
    pub(crate) async fn send_text(&self, text: &str) -> Result<()> {
        let bytes = text.as_bytes();
        let piece = MAX_DC_MESSAGE - 1;
        let mut chunks = bytes.chunks(piece).peekable();
        if bytes.is_empty() {
            return self.write(Bytes::from_static(&[LAST]), true).await;
        }
        while let Some(chunk) = chunks.next() {
            let mut msg = Vec::with_capacity(chunk.len() + 1);
            msg.push(if chunks.peek().is_some() { MORE } else { LAST });
            msg.extend_from_slice(chunk);
            self.write(Bytes::from(msg), true).await?;
        }
        Ok(())
    }

    /// Whether so much is queued that the sender should wait before the next chunk.
    pub(crate) fn congested(&self) -> bool {
        self.dc.buffered_amount() > BUFFERED_HIGH
    }

    /// Resolves when the queue may have drained; cancel-safe, so callers can race it
    /// against other events and re-check [`Link::congested`].
    pub(crate) async fn drained(&self) {
        // The timeout only guards against a missed wake-up; the notification is the path.
        let _ = tokio::time::timeout(Duration::from_millis(50), self.drained.notified()).await;
    }

    /// Sends file bytes. Never race this against anything: dropping a write half-way leaves
    /// webrtc-rs's buffered-amount count wrong for good. Wait on [`Link::drained`] instead.
    pub(crate) async fn send_binary(&self, data: Bytes) -> Result<()> {
        self.write(data, false).await?;
        if self.carried.load(Ordering::Relaxed) {
            return Ok(());
        }
        let written = self.written.load(Ordering::Relaxed);
        let queued = self.dc.buffered_amount() as u64;
        if written.saturating_sub(queued) > self.written_text.load(Ordering::Relaxed) {
            self.carried.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn write(&self, data: Bytes, is_string: bool) -> Result<()> {
        // A write that cannot complete means the path stopped carrying packets while the
        // stack still says "connected" (a peer that closed DTLS without a word does this).
        // Giving up breaks the channel's buffered count, but the transfer ends here anyway.
        // A connection that failed ends the write at once (webrtc-rs would keep it waiting
        // for room in a queue that no longer drains).
        let write = tokio::time::timeout(
            SEND_STALL_TIMEOUT,
            self.dc.write_data_channel(&data, is_string),
        );
        let written = tokio::select! {
            r = write => r,
            _ = self.lost.cancelled() => return Err(Error::PeerGone),
        };
        match written {
            Ok(Ok(_)) => {
                let len = data.len() as u64;
                self.written.fetch_add(len, Ordering::Relaxed);
                if is_string {
                    self.written_text.fetch_add(len, Ordering::Relaxed);
                }
                Ok(())
            }
            Ok(Err(_)) => Err(Error::PeerGone),
            Err(_) => Err(Error::Connect(ConnectFailure::SendStalled)),
        }
    }

    /// Starts the task that reads the channel and reassembles control messages.
    /// The stream ends when the channel closes; an oversized control message ends it too,
    /// after an error item.
    pub(crate) fn reader(&self) -> mpsc::Receiver<Result<Incoming>> {
        let (tx, rx) = mpsc::channel(READ_QUEUE);
        let dc = self.dc.clone();
        let lost = self.lost.clone();
        let carried = self.carried.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DC_MESSAGE + 1024];
            let mut text: Vec<u8> = Vec::new();
            loop {
                let read = tokio::select! {
                    r = dc.read_data_channel(&mut buf) => r,
                    _ = lost.cancelled() => break,
                };
                let (n, is_string) = match read {
                    Ok((0, false)) | Err(_) => break,
                    Ok(r) => r,
                };
                let item = if is_string {
                    let Some((&marker, body)) = buf[..n].split_first() else {
                        continue;
                    };
                    if text.len() + body.len() > MAX_CONTROL_BYTES {
                        let _ = tx
                            .send(Err(Error::Protocol(
                                "a control message is larger than 4 MiB".into(),
                            )))
                            .await;
                        break;
                    }
                    text.extend_from_slice(body);
                    if marker == MORE {
                        continue;
                    }
                    match String::from_utf8(std::mem::take(&mut text)) {
                        Ok(s) => Ok(Incoming::Text(s)),
                        Err(_) => Err(Error::Protocol("a control message is not UTF-8".into())),
                    }
                } else {
                    carried.store(true, Ordering::Relaxed);
                    Ok(Incoming::Binary(Bytes::copy_from_slice(&buf[..n])))
                };
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Closes the data channel and the peer connection.
    pub async fn close(&self) {
        self.lost.cancel();
        close_channel(&self.dc).await;
        let _ = self.pc.close().await;
    }
}

/// Resets the channel's stream, within [`CHANNEL_CLOSE_GRACE`]: the reset waits behind what
/// is queued, and a peer that stopped reading (it cancelled) would hold it for ever.
async fn close_channel(dc: &DataChannel) {
    if tokio::time::timeout(CHANNEL_CLOSE_GRACE, dc.close())
        .await
        .is_err()
    {
        tracing::debug!("the data channel's reset did not go out; closing the connection");
    }
}
