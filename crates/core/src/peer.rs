//! The WebRTC layer: one webrtc-rs peer connection with one ordered, reliable data channel,
//! negotiated through the sealed signaling of a [`Paired`] session (trickle ICE).
//!
//! It hands the transfer layer a [`Link`]: framed text and binary messages with backpressure.
//! It knows nothing of files.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use toss_signal::protocol::ServerMsg;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice_transport::ice_candidate::{RTCIceCandidate, RTCIceCandidateInit};
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use crate::config::Config;
use crate::crypto::{self, Role};
use crate::defaults::{BUFFERED_HIGH, BUFFERED_LOW, MAX_CONTROL_BYTES, MAX_DC_MESSAGE, READ_QUEUE};
use crate::error::{Error, Result, Side};
use crate::session::{Paired, Signal};

/// How long setup carries on after the signaling peer left, in case our data channel is
/// about to open (the peer leaves signaling as soon as its own side is open).
const PEER_LEFT_GRACE: Duration = Duration::from_secs(5);

/// Fragment markers: every text message starts with one of these.
const MORE: u8 = b'+';
const LAST: u8 = b'.';

/// How long a side that said its last word waits for the peer to close the channel.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

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

/// An open data channel to the peer.
pub struct Link {
    pc: Arc<RTCPeerConnection>,
    dc: Arc<DataChannel>,
    /// Woken when the send buffer drains below [`BUFFERED_LOW`].
    drained: Arc<Notify>,
    /// Keeps the webrtc-level channel object alive while the detached one is used.
    _rtc_dc: Arc<RTCDataChannel>,
    role: Role,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("role", &self.role).finish()
    }
}

fn build_api(config: &Config) -> webrtc::api::API {
    let mut se = SettingEngine::default();
    se.detach_data_channels();
    // Never multicast on the LAN: host candidates are plain addresses, and they travel sealed.
    se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if config.loopback_only {
        se.set_include_loopback_candidate(true);
        se.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    }
    APIBuilder::new().with_setting_engine(se).build()
}

fn rtc_config(config: &Config) -> RTCConfiguration {
    let ice_servers = if config.loopback_only {
        Vec::new()
    } else {
        config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect()
    };
    RTCConfiguration {
        ice_servers,
        ..Default::default()
    }
}

/// Negotiates the peer connection over `paired`'s sealed signaling and waits for the data
/// channel to open.
///
/// # Errors
/// [`Error::Tampered`] when a sealed message fails to open, [`Error::Connect`] when no path
/// is found in time, [`Error::PeerGone`] when the peer leaves, [`Error::Cancelled`] when
/// `cancel` fires (the peer is told).
pub async fn connect(paired: Paired, config: &Config, cancel: &CancellationToken) -> Result<Link> {
    connect_with(paired, config, cancel, Binding::Honest).await
}

/// What this side proves in the channel binding; only tests lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The fingerprints as this side sees them.
    Honest,
    /// Another certificate than the one the peer sees: what a man in the middle would show.
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    Forged,
}

pub(crate) async fn connect_with(
    mut paired: Paired,
    config: &Config,
    cancel: &CancellationToken,
    binding: Binding,
) -> Result<Link> {
    let api = build_api(config);
    let pc = Arc::new(api.new_peer_connection(rtc_config(config)).await?);
    let setup = async {
        let (rtc_dc, dc) = negotiate(&mut paired, &pc).await?;
        bind(&paired, &pc, &dc, binding).await?;
        Ok((rtc_dc, dc))
    };
    // Cancelling is handled here, not by dropping this future, so that the peer is told
    // and the peer connection is closed.
    let result = tokio::select! {
        biased;
        _ = cancel.cancelled() => Ok(Err(Error::Cancelled(Side::Local))),
        r = tokio::time::timeout(config.connect_timeout, setup) => r,
    };
    let failure = match result {
        Ok(Ok((rtc_dc, dc))) => {
            // Setup is over: leave the room so that the server forgets us.
            paired.client.close().await;
            return Ok(Link::new(pc, rtc_dc, dc, paired.role));
        }
        Ok(Err(e)) => e,
        Err(_) => Error::Connect(
            "no network path was found in time (a firewall may block it; a TURN server can help)"
                .into(),
        ),
    };
    let farewell = match &failure {
        Error::PeerGone | Error::PeerFailed(_) | Error::Cancelled(Side::Peer) => None,
        // Said sealed: a forger cannot fake it, and the peer learns why we stopped.
        Error::Tampered => Some(Signal::Tampered),
        Error::Cancelled(Side::Local) => Some(Signal::Cancel),
        other => Some(Signal::Abort {
            reason: other.to_string(),
        }),
    };
    if let Some(msg) = farewell.and_then(|f| paired.seal(&f).ok()) {
        let _ = paired.client.send(msg);
    }
    paired.client.close().await;
    let _ = pc.close().await;
    Err(failure)
}

type Opened = webrtc::error::Result<(Arc<RTCDataChannel>, Arc<DataChannel>)>;

fn on_open_detach(dc: &Arc<RTCDataChannel>, tx: mpsc::UnboundedSender<Opened>) {
    let weak = Arc::downgrade(dc);
    dc.on_open(Box::new(move || {
        Box::pin(async move {
            if let Some(dc) = weak.upgrade() {
                let _ = tx.send(dc.detach().await.map(|raw| (dc, raw)));
            }
        })
    }));
}

async fn negotiate(
    paired: &mut Paired,
    pc: &Arc<RTCPeerConnection>,
) -> Result<(Arc<RTCDataChannel>, Arc<DataChannel>)> {
    let (cand_tx, mut cand_rx) = mpsc::unbounded_channel::<RTCIceCandidateInit>();
    pc.on_ice_candidate(Box::new(move |c: Option<RTCIceCandidate>| {
        let tx = cand_tx.clone();
        Box::pin(async move {
            if let Some(init) = c.and_then(|c| c.to_json().ok()) {
                let _ = tx.send(init);
            }
        })
    }));
    let (state_tx, mut state_rx) = mpsc::unbounded_channel();
    pc.on_peer_connection_state_change(Box::new(move |s| {
        let _ = state_tx.send(s);
        Box::pin(async {})
    }));
    let (open_tx, mut open_rx) = mpsc::unbounded_channel::<Opened>();
    match paired.role {
        Role::Sender => {
            let dc = pc
                .create_data_channel(
                    "toss",
                    Some(RTCDataChannelInit {
                        ordered: Some(true),
                        ..Default::default()
                    }),
                )
                .await?;
            on_open_detach(&dc, open_tx);
            let offer = pc.create_offer(None).await?;
            pc.set_local_description(offer.clone()).await?;
            let msg = paired.seal(&Signal::Offer { sdp: offer.sdp })?;
            paired.client.send(msg)?;
        }
        Role::Receiver => {
            pc.on_data_channel(Box::new(move |dc| {
                on_open_detach(&dc, open_tx.clone());
                Box::pin(async {})
            }));
        }
    }
    let mut remote_set = false;
    let mut early_candidates = Vec::new();
    let mut peer_left: Option<tokio::time::Instant> = None;
    loop {
        let grace = async {
            match peer_left {
                Some(at) => tokio::time::sleep_until(at + PEER_LEFT_GRACE).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            opened = open_rx.recv() => match opened {
                Some(Ok(pair)) => return Ok(pair),
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Error::WebRtc("the data channel closed during setup".into())),
            },
            cand = cand_rx.recv() => {
                if let Some(candidate) = cand {
                    let msg = paired.seal(&Signal::Candidate { candidate })?;
                    paired.client.send(msg)?;
                }
            }
            state = state_rx.recv() => {
                if state == Some(RTCPeerConnectionState::Failed) {
                    return Err(Error::Connect(
                        "the two computers could not reach each other directly (a TURN server can help)".into(),
                    ));
                }
            }
            msg = paired.client.recv(), if peer_left.is_none() => match msg? {
                ServerMsg::Message { body } => match paired.open(&body)? {
                    Signal::Offer { sdp } if paired.role == Role::Receiver && !remote_set => {
                        pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
                        remote_set = true;
                        for c in early_candidates.drain(..) {
                            pc.add_ice_candidate(c).await?;
                        }
                        let answer = pc.create_answer(None).await?;
                        pc.set_local_description(answer.clone()).await?;
                        let msg = paired.seal(&Signal::Answer { sdp: answer.sdp })?;
                        paired.client.send(msg)?;
                    }
                    Signal::Answer { sdp } if paired.role == Role::Sender && !remote_set => {
                        pc.set_remote_description(RTCSessionDescription::answer(sdp)?).await?;
                        remote_set = true;
                        for c in early_candidates.drain(..) {
                            pc.add_ice_candidate(c).await?;
                        }
                    }
                    Signal::Candidate { candidate } => {
                        if remote_set {
                            pc.add_ice_candidate(candidate).await?;
                        } else {
                            early_candidates.push(candidate);
                        }
                    }
                    Signal::Abort { reason } => {
                        return Err(Error::PeerFailed(crate::transfer::names::display(&reason)))
                    }
                    Signal::Cancel => return Err(Error::Cancelled(Side::Peer)),
                    Signal::Tampered => return Err(Error::Tampered),
                    _ => return Err(Error::Protocol("setup messages arrived out of order".into())),
                },
                ServerMsg::PeerLeft => peer_left = Some(tokio::time::Instant::now()),
                other => return Err(crate::session::refused_msg(other)),
            },
            _ = grace => return Err(Error::PeerGone),
        }
    }
}

/// SHA-256 fingerprint of a DER certificate, written as webrtc-rs writes its own
/// (`ab:cd:...`).
fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(":")
}

/// Channel binding, the first message each way on the new data channel: a MAC, under a key
/// from the PAKE, over both DTLS certificate fingerprints as this side sees them. If anyone
/// terminated DTLS in the middle, the two sides see different certificates and both stop.
async fn bind(
    paired: &Paired,
    pc: &RTCPeerConnection,
    dc: &DataChannel,
    binding: Binding,
) -> Result<()> {
    let dtls = pc.dtls_transport();
    let local = dtls
        .get_local_parameters()?
        .fingerprints
        .into_iter()
        .next()
        .map(|f| f.value)
        .ok_or_else(|| Error::WebRtc("the connection has no certificate".into()))?;
    let remote_der = dtls.get_remote_certificate().await;
    if remote_der.is_empty() {
        return Err(Error::Tampered);
    }
    let remote = fingerprint(&remote_der);
    let (sender_fp, receiver_fp) = match paired.role {
        Role::Sender => (local, remote),
        Role::Receiver => (remote, local),
    };
    let mine = match (binding, paired.role) {
        (Binding::Honest, _) => paired.binder.my_binding(&sender_fp, &receiver_fp),
        (Binding::Forged, Role::Sender) => paired.binder.my_binding("forged", &receiver_fp),
        (Binding::Forged, Role::Receiver) => paired.binder.my_binding(&sender_fp, "forged"),
    };
    let mut msg = vec![LAST];
    msg.extend_from_slice(crypto::encode(&mine).as_bytes());
    dc.write_data_channel(&Bytes::from(msg), true)
        .await
        .map_err(|_| Error::PeerGone)?;
    let mut buf = [0u8; 256];
    let n = match dc.read_data_channel(&mut buf).await {
        Ok((0, _)) | Err(_) => return Err(Error::PeerGone),
        Ok((n, true)) => n,
        Ok((_, false)) => return Err(Error::Tampered),
    };
    let theirs = match buf[..n].split_first() {
        Some((&LAST, body)) => std::str::from_utf8(body)
            .ok()
            .and_then(|b| crypto::decode(b).ok())
            .ok_or(Error::Tampered)?,
        _ => return Err(Error::Tampered),
    };
    paired
        .binder
        .check_binding(&theirs, &sender_fp, &receiver_fp)
        .map_err(|_| Error::Tampered)
}

impl Link {
    fn new(
        pc: Arc<RTCPeerConnection>,
        rtc_dc: Arc<RTCDataChannel>,
        dc: Arc<DataChannel>,
        role: Role,
    ) -> Self {
        let drained = Arc::new(Notify::new());
        dc.set_buffered_amount_low_threshold(BUFFERED_LOW);
        let notify = drained.clone();
        dc.on_buffered_amount_low(Box::new(move || {
            notify.notify_one();
            Box::pin(async {})
        }));
        Self {
            pc,
            dc,
            drained,
            _rtc_dc: rtc_dc,
            role,
        }
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
        self.write(data, false).await
    }

    async fn write(&self, data: Bytes, is_string: bool) -> Result<()> {
        self.dc
            .write_data_channel(&data, is_string)
            .await
            .map(|_| ())
            .map_err(|_| Error::PeerGone)
    }

    /// Starts the task that reads the channel and reassembles control messages.
    /// The stream ends when the channel closes; an oversized control message ends it too,
    /// after an error item.
    pub(crate) fn reader(&self) -> mpsc::Receiver<Result<Incoming>> {
        let (tx, rx) = mpsc::channel(READ_QUEUE);
        let dc = self.dc.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DC_MESSAGE + 1024];
            let mut text: Vec<u8> = Vec::new();
            loop {
                let (n, is_string) = match dc.read_data_channel(&mut buf).await {
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
        let _ = self.dc.close().await;
        let _ = self.pc.close().await;
    }
}
