//! The WebRTC layer: one webrtc-rs peer connection with one ordered, reliable data channel,
//! negotiated through the sealed signaling of a [`Paired`] session (trickle ICE).
//!
//! It hands the transfer layer a [`Link`]: framed text and binary messages with backpressure.
//! It knows nothing of files.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice_transport::ice_candidate::{RTCIceCandidate, RTCIceCandidateInit};
use webrtc::ice_transport::ice_candidate_pair::RTCIceCandidatePair;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::ice_transport::ice_connection_state::RTCIceConnectionState;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use crate::config::Config;
use crate::crypto::{self, Role};
use crate::defaults::{
    BUFFERED_HIGH, BUFFERED_LOW, DEFAULT_SCTP_PACKET, ICE_DISCONNECTED_AFTER, ICE_FAILED_AFTER,
    LARGE_SCTP_PACKET, MAX_CONTROL_BYTES, MAX_DC_MESSAGE, MAX_REMOTE_CANDIDATES, READ_QUEUE,
    RECEIVE_MTU, SEND_STALL_TIMEOUT, SETUP_AFTER_PATH, SETUP_RETRY_MIN_LEFT, UDP_BUFFER,
};
use crate::error::{ConnectFailure, Error, Result, Side};
use crate::session::{Heard, Paired, Signal};

/// How long setup carries on after the signaling peer left, in case our data channel is
/// about to open (the peer leaves signaling as soon as its own side is open).
const PEER_LEFT_GRACE: Duration = Duration::from_secs(5);

/// Fragment markers: every text message starts with one of these.
const MORE: u8 = b'+';
const LAST: u8 = b'.';

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

/// How a connection's bytes travel, from the candidate pair ICE selected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathInfo {
    /// `direct` (host to host), `stun` (through a NAT, found with STUN) or `relay` (TURN).
    pub kind: &'static str,
    /// Both ends are on this machine or the same local network.
    pub local_network: bool,
    /// Largest SCTP packet this side sends, in bytes.
    pub packet_size: u32,
}

impl PathInfo {
    /// A few words for people: "directly on the local network, 8220-byte packets".
    pub fn describe(&self) -> String {
        let how = match (self.kind, self.local_network) {
            ("direct", true) => "directly on the local network",
            ("direct", false) => "directly",
            ("stun", _) => "directly, through a NAT",
            _ => "through a relay server",
        };
        format!("{how}, {}-byte packets", self.packet_size)
    }
}

/// An address on this machine or a local network: loopback, private (RFC 1918, unique
/// local) or link-local.
fn is_local_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// What the peer said about itself during setup, for judging the path.
#[derive(Debug, Default)]
struct PeerSays {
    /// It takes SCTP packets larger than the WebRTC default.
    takes_large: AtomicBool,
    /// Its relay (TURN) candidates, address and port, as they arrived.
    relays: std::sync::Mutex<Vec<(String, u16)>>,
}

impl PeerSays {
    fn relays(&self) -> Vec<(String, u16)> {
        self.relays.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The address and port of a relay candidate line (`... ADDRESS PORT typ relay ...`).
fn relay_address(candidate: &str) -> Option<(String, u16)> {
    let fields: Vec<&str> = candidate.split_whitespace().collect();
    let typ = fields.iter().position(|f| *f == "typ")?;
    if fields.get(typ + 1) != Some(&"relay") || typ < 2 {
        return None;
    }
    Some((fields[typ - 2].to_owned(), fields[typ - 1].parse().ok()?))
}

/// The path of a selected candidate pair; `peer_relays` are the peer's relay candidates.
fn path_of(
    pair: &RTCIceCandidatePair,
    peer_takes_large: bool,
    peer_relays: &[(String, u16)],
) -> PathInfo {
    // A peer-reflexive candidate is the peer's address as seen in a connectivity check that
    // arrived before its candidate did (common with trickle ICE): a direct path, whose
    // address says whether it is local, unless it is one of the peer's relay addresses
    // (the peer's check came through its TURN server).
    let kind = |t: RTCIceCandidateType| match t {
        RTCIceCandidateType::Host | RTCIceCandidateType::Prflx => "direct",
        RTCIceCandidateType::Srflx => "stun",
        _ => "relay",
    };
    let remote_relayed = pair.remote.typ == RTCIceCandidateType::Prflx
        && peer_relays
            .iter()
            .any(|(a, p)| *a == pair.remote.address && *p == pair.remote.port);
    let l = kind(pair.local.typ);
    let r = if remote_relayed {
        "relay"
    } else {
        kind(pair.remote.typ)
    };
    let kind = if l == "relay" || r == "relay" {
        "relay"
    } else if l == "stun" || r == "stun" {
        "stun"
    } else {
        "direct"
    };
    let local = |a: &str| a.parse::<IpAddr>().is_ok_and(is_local_address);
    let local_network = local(&pair.local.address) && local(&pair.remote.address);
    // Large packets only host to host on a local path, and only toward a peer that said
    // it takes them: elsewhere they would be IP-fragmented, and fragments are often lost.
    let packet_size = if kind == "direct" && local_network && peer_takes_large {
        LARGE_SCTP_PACKET
    } else {
        DEFAULT_SCTP_PACKET
    };
    PathInfo {
        kind,
        local_network,
        packet_size,
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
    /// The peer connection's state, as webrtc-rs reports it.
    state: watch::Receiver<RTCPeerConnectionState>,
    /// Fired when the connection failed or was closed: pending writes give up.
    lost: CancellationToken,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("role", &self.role).finish()
    }
}

fn build_api(config: &Config, peer: &Arc<PeerSays>) -> webrtc::api::API {
    let mut se = SettingEngine::default();
    se.detach_data_channels();
    // Room in the kernel for bursts of large packets while this process waits for a CPU.
    webrtc::util::vnet::net::set_udp_buffer_sizes(UDP_BUFFER, 0);
    // Accept datagrams as large as any packet size a peer may choose.
    se.set_receive_mtu(RECEIVE_MTU);
    if config.large_packets {
        let peer = peer.clone();
        se.set_sctp_mtu_policy(Arc::new(move |pair| {
            path_of(
                pair,
                peer.takes_large.load(Ordering::SeqCst),
                &peer.relays(),
            )
            .packet_size
        }));
    }
    // A peer-reflexive pair (the peer's checks arrived before its trickled candidate) is as
    // good as a host pair here; webrtc-rs would wait a full second before using one.
    se.set_prflx_acceptance_min_wait(Some(Duration::ZERO));
    // Say "disconnected" after 3 s without a packet and give up 5 s later: a short outage
    // heals by itself, a longer one is met with a fresh connection (see `handle`).
    se.set_ice_timeouts(
        Some(ICE_DISCONNECTED_AFTER),
        Some(ICE_FAILED_AFTER),
        Some(Duration::from_secs(1)),
    );
    // Never multicast on the LAN: host candidates are plain addresses, and they travel sealed.
    se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if config.loopback_only {
        se.set_include_loopback_candidate(true);
        se.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    }
    APIBuilder::new().with_setting_engine(se).build()
}

fn rtc_config(config: &Config) -> RTCConfiguration {
    // Loopback-only configurations come without ICE servers (`Config::local`); any that a
    // caller adds anyway are used, which lets a benchmark show that an unreachable STUN
    // server does not delay setup.
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    RTCConfiguration {
        ice_servers,
        ice_transport_policy: if config.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..Default::default()
    }
}

/// Negotiates the peer connection over `paired`'s sealed signaling and waits for the data
/// channel to open. Signaling stays open afterwards, for [`reconnect`]; [`Paired::leave`]
/// ends it.
///
/// # Errors
/// [`Error::Tampered`] when a sealed message fails to open, [`Error::Connect`] when no path
/// is found in time, [`Error::PeerGone`] when the peer leaves, [`Error::Cancelled`] when
/// `cancel` fires (the peer is told, and signaling is closed on any error).
pub async fn connect(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
) -> Result<Link> {
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
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    binding: Binding,
) -> Result<Link> {
    // A setup that stalls on a lossy network (a handshake flight lost for good, a path
    // that never settles) is begun afresh within the same time limit, as many times as
    // the time allows: the peer sees the newer offer and follows.
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let failure = match attempt(paired, config, cancel, binding, left).await {
            Ok(link) => return Ok(link),
            Err(failure) => failure,
        };
        let time_left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !matches!(failure, Error::Connect(_)) || time_left < SETUP_RETRY_MIN_LEFT {
            give_up(paired, &failure).await;
            return Err(failure);
        }
        tracing::info!("setting up the connection again: {failure}");
        if paired.role == Role::Sender {
            paired.round += 1;
        }
    }
}

/// Negotiates a fresh peer connection in the same session, after the last one was lost:
/// the sender offers again, the receiver waits for that offer. The caller paces attempts
/// and calls [`give_up`] after the last one.
///
/// # Errors
/// As [`connect`], without telling the peer.
pub(crate) async fn reconnect(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    timeout: Duration,
) -> Result<Link> {
    if paired.role == Role::Sender {
        paired.round += 1;
    }
    attempt(paired, config, cancel, Binding::Honest, timeout).await
}

/// Tells the peer why this side stops setting up (sealed, so a forger cannot fake it), and
/// leaves signaling.
pub(crate) async fn give_up(paired: &mut Paired, failure: &Error) {
    let farewell = match failure {
        Error::PeerGone | Error::PeerFailed(_) | Error::Cancelled(Side::Peer) => None,
        Error::Tampered => Some(Signal::Tampered),
        Error::Cancelled(Side::Local) => Some(Signal::Cancel),
        other => Some(Signal::Abort {
            reason: other.to_string(),
        }),
    };
    if let Some(msg) = farewell.and_then(|f| paired.seal(&f).ok()) {
        let _ = paired.client.send(msg);
    }
    paired.leave().await;
}

async fn attempt(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    binding: Binding,
    timeout: Duration,
) -> Result<Link> {
    let peer = Arc::new(PeerSays::default());
    let api = build_api(config, &peer);
    let pc = Arc::new(api.new_peer_connection(rtc_config(config)).await?);
    let setup = async {
        let (rtc_dc, dc) = negotiate(paired, &pc, config.large_packets, &peer).await?;
        bind(paired, &pc, &dc, binding).await?;
        Ok((rtc_dc, dc))
    };
    // Cancelling is handled here, not by dropping this future, so that the peer is told
    // and the peer connection is closed.
    let result = tokio::select! {
        biased;
        _ = cancel.cancelled() => Ok(Err(Error::Cancelled(Side::Local))),
        r = tokio::time::timeout(timeout, setup) => r,
    };
    let failure = match result {
        Ok(Ok((rtc_dc, dc))) => {
            let pair = pc
                .sctp()
                .transport()
                .ice_transport()
                .get_selected_candidate_pair()
                .await;
            let large = config.large_packets && peer.takes_large.load(Ordering::SeqCst);
            let path = match pair {
                Some(pair) => path_of(&pair, large, &peer.relays()),
                None => PathInfo {
                    kind: "direct",
                    local_network: false,
                    packet_size: DEFAULT_SCTP_PACKET,
                },
            };
            return Ok(Link::new(pc, rtc_dc, dc, paired.role, path));
        }
        Ok(Err(e)) => e,
        Err(_) => Error::Connect(ConnectFailure::NoPathInTime),
    };
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
    large_packets: bool,
    peer: &PeerSays,
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
    let (ice_tx, mut ice_rx) = mpsc::unbounded_channel();
    pc.on_ice_connection_state_change(Box::new(move |s| {
        let _ = ice_tx.send(s);
        Box::pin(async {})
    }));
    // Once a path is found, the handshakes over it get a bounded time: a flight lost for
    // good would otherwise hold the setup until its overall limit.
    let mut path_found: Option<tokio::time::Instant> = None;
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
            let msg = paired.seal(&Signal::Offer {
                sdp: offer.sdp,
                large_packets,
                round: paired.round,
            })?;
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
    // Every candidate of this attempt, early or not, counts against one bound.
    let mut candidates = 0usize;
    let mut peer_left: Option<tokio::time::Instant> = None;
    loop {
        let grace = async {
            match peer_left {
                Some(at) => tokio::time::sleep_until(at + PEER_LEFT_GRACE).await,
                None => std::future::pending().await,
            }
        };
        let stalled = async {
            match path_found {
                Some(at) => tokio::time::sleep_until(at + SETUP_AFTER_PATH).await,
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
            ice = ice_rx.recv() => {
                if ice == Some(RTCIceConnectionState::Connected) && path_found.is_none() {
                    path_found = Some(tokio::time::Instant::now());
                }
            }
            _ = stalled => {
                return Err(Error::Connect(ConnectFailure::HandshakeStalled));
            }
            state = state_rx.recv() => {
                if state == Some(RTCPeerConnectionState::Failed) {
                    return Err(Error::Connect(ConnectFailure::NoDirectPath));
                }
            }
            heard = paired.hear(), if peer_left.is_none() => match heard? {
                Heard::Signal(signal) => match signal {
                    // An offer from an attempt the sender has given up on: ignored.
                    Signal::Offer { round, .. } if paired.role == Role::Receiver && round < paired.round => {}
                    // The sender has moved on to a newer attempt while this one was being set
                    // up: this attempt ends, and the next one starts with that offer.
                    Signal::Offer { sdp, large_packets: theirs, round } if paired.role == Role::Receiver && remote_set => {
                        if round > paired.round {
                            paired.unhear(Signal::Offer { sdp, large_packets: theirs, round });
                            return Err(Error::Connect(ConnectFailure::PeerStartedOver));
                        }
                    }
                    Signal::Offer { sdp, large_packets: theirs, round } if paired.role == Role::Receiver => {
                        paired.round = round;
                        peer.takes_large.store(theirs, Ordering::SeqCst);
                        pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
                        remote_set = true;
                        for c in early_candidates.drain(..) {
                            pc.add_ice_candidate(c).await?;
                        }
                        let answer = pc.create_answer(None).await?;
                        pc.set_local_description(answer.clone()).await?;
                        let msg = paired.seal(&Signal::Answer { sdp: answer.sdp, large_packets, round })?;
                        paired.client.send(msg)?;
                    }
                    Signal::Answer { sdp, large_packets: theirs, round } if paired.role == Role::Sender && !remote_set && round == paired.round => {
                        peer.takes_large.store(theirs, Ordering::SeqCst);
                        pc.set_remote_description(RTCSessionDescription::answer(sdp)?).await?;
                        remote_set = true;
                        for c in early_candidates.drain(..) {
                            pc.add_ice_candidate(c).await?;
                        }
                    }
                    Signal::Candidate { candidate } => {
                        candidates += 1;
                        if candidates > MAX_REMOTE_CANDIDATES {
                            return Err(Error::Protocol(
                                "the other computer sent far more network addresses than any computer has".into(),
                            ));
                        }
                        if let Some(relay) = relay_address(&candidate.candidate) {
                            if let Ok(mut relays) = peer.relays.lock() {
                                relays.push(relay);
                            }
                        }
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
                    // The peer saw the last connection go too: this is the next one.
                    Signal::Reconnect => {}
                    // An answer to an earlier attempt's offer, which the peer sent before
                    // it saw this one: this attempt's answer follows.
                    Signal::Answer { .. } if paired.role == Role::Sender => {}
                    _ => return Err(Error::Protocol("setup messages arrived out of order".into())),
                },
                Heard::PeerLeft => peer_left = Some(tokio::time::Instant::now()),
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
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::Connected);
        let lost = CancellationToken::new();
        let weak = Arc::downgrade(&dc);
        let gone = lost.clone();
        pc.on_peer_connection_state_change(Box::new(move |s| {
            let _ = state_tx.send(s);
            let dc = weak.clone();
            let gone = gone.clone();
            Box::pin(async move {
                if matches!(
                    s,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    gone.cancel();
                    if let Some(dc) = dc.upgrade() {
                        let _ = dc.close().await;
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
        }
    }

    /// Resolves once the connection has failed or been closed.
    pub(crate) async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// The peer connection's state as it changes (connected, disconnected while no packet
    /// arrives, failed when the connection is given up).
    pub(crate) fn state(&self) -> watch::Receiver<RTCPeerConnectionState> {
        self.state.clone()
    }

    /// How this connection's bytes travel.
    pub fn path(&self) -> &PathInfo {
        &self.path
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
            Ok(Ok(_)) => Ok(()),
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
        let _ = self.dc.close().await;
        let _ = self.pc.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc::ice_transport::ice_candidate::RTCIceCandidate;

    fn pair(
        local: (&str, RTCIceCandidateType),
        remote: (&str, RTCIceCandidateType),
    ) -> RTCIceCandidatePair {
        let cand = |(address, typ): (&str, RTCIceCandidateType)| RTCIceCandidate {
            address: address.into(),
            typ,
            ..Default::default()
        };
        RTCIceCandidatePair::new(cand(local), cand(remote))
    }

    use RTCIceCandidateType::{Host, Prflx, Relay, Srflx};

    #[test]
    fn large_packets_only_host_to_host_on_a_local_path_toward_toss() {
        for (l, r) in [
            ("127.0.0.1", "127.0.0.1"),
            ("192.168.1.4", "192.168.1.9"),
            ("10.0.0.2", "172.16.5.5"),
            ("169.254.77.1", "169.254.77.2"),
            ("fe80::1", "fe80::2"),
            ("::1", "::1"),
        ] {
            let p = path_of(&pair((l, Host), (r, Host)), true, &[]);
            assert_eq!(p.kind, "direct");
            assert!(p.local_network, "{l} {r}");
            assert_eq!(p.packet_size, LARGE_SCTP_PACKET, "{l} {r}");
            // Toward a peer that did not say it takes them: the default.
            let p = path_of(&pair((l, Host), (r, Host)), false, &[]);
            assert_eq!(p.packet_size, DEFAULT_SCTP_PACKET, "{l} {r}");
        }
        let early = path_of(&pair(("127.0.0.1", Host), ("127.0.0.1", Prflx)), true, &[]);
        assert_eq!(early.packet_size, LARGE_SCTP_PACKET);
        let internet = path_of(
            &pair(("203.0.113.5", Host), ("198.51.100.7", Host)),
            true,
            &[],
        );
        assert_eq!((internet.kind, internet.local_network), ("direct", false));
        assert_eq!(internet.packet_size, DEFAULT_SCTP_PACKET);
        let nat = path_of(
            &pair(("192.168.1.4", Srflx), ("192.168.1.9", Host)),
            true,
            &[],
        );
        assert_eq!((nat.kind, nat.packet_size), ("stun", DEFAULT_SCTP_PACKET));
        let relay = path_of(&pair(("127.0.0.1", Relay), ("127.0.0.1", Host)), true, &[]);
        assert_eq!(
            (relay.kind, relay.packet_size),
            ("relay", DEFAULT_SCTP_PACKET)
        );
        assert_eq!(
            relay.describe(),
            "through a relay server, 1191-byte packets"
        );
        // The peer's checks came through its TURN server before its relay candidate did:
        // relayed, not direct, even on a local network.
        let relays = [("10.0.0.9".to_owned(), 0)];
        let through_turn = path_of(
            &pair(("10.0.0.2", Host), ("10.0.0.9", Prflx)),
            true,
            &relays,
        );
        assert_eq!(
            (through_turn.kind, through_turn.packet_size),
            ("relay", DEFAULT_SCTP_PACKET)
        );
    }

    /// Once Toss has set up a connection's stack, every UDP socket the stack opens asks for
    /// the larger buffers, and gets what the system grants: twice the size asked, capped at
    /// `net.core.rmem_max`. Without the request it would hold `rmem_default`.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_stacks_udp_sockets_ask_for_larger_buffers() {
        let _api = build_api(
            &Config::local("ws://127.0.0.1:9"),
            &Arc::new(PeerSays::default()),
        );
        let net = webrtc::util::vnet::net::Net::new(None);
        let conn = net
            .bind("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("a loopback socket");
        let socket = conn
            .as_any()
            .downcast_ref::<tokio::net::UdpSocket>()
            .expect("a real UDP socket");
        let granted = socket2::SockRef::from(socket)
            .recv_buffer_size()
            .expect("its receive buffer");
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .expect("rmem_max")
            .trim()
            .parse()
            .expect("a number");
        assert_eq!(granted, 2 * UDP_BUFFER.min(max));
    }

    #[test]
    fn relay_candidates_are_read_from_their_line() {
        assert_eq!(
            relay_address("candidate:1 1 udp 16777215 203.0.113.254 49201 typ relay raddr 0.0.0.0 rport 50000"),
            Some(("203.0.113.254".to_owned(), 49201))
        );
        assert_eq!(
            relay_address("candidate:2 1 udp 2130706431 192.0.2.2 40000 typ host"),
            None
        );
        assert_eq!(relay_address("typ relay"), None);
    }
}
