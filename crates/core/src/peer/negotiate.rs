//! Negotiating one peer connection over a [`Paired`] session's sealed signaling: the offer
//! and the answer (with the round they belong to), trickle ICE (candidates that come early
//! are queued, and every attempt's are bounded), and the channel binding that proves
//! nobody terminated DTLS in the middle.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice_transport::ice_candidate::{RTCIceCandidate, RTCIceCandidateInit};
use webrtc::ice_transport::ice_connection_state::RTCIceConnectionState;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use super::link::LAST;
use super::path::PeerSays;
use crate::crypto::{self, Role};
use crate::defaults::{MAX_REMOTE_CANDIDATES, SETUP_AFTER_PATH};
use crate::error::{ConnectFailure, Error, Result, Side};
use crate::session::{Heard, Paired, Signal};

/// How long setup carries on after the signaling peer left, in case our data channel is
/// about to open (the peer leaves signaling as soon as its own side is open).
const PEER_LEFT_GRACE: Duration = Duration::from_secs(5);

/// What this side proves in the channel binding; only tests lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The fingerprints as this side sees them.
    Honest,
    /// Another certificate than the one the peer sees: what a man in the middle would show.
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    Forged,
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

pub(super) async fn negotiate(
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
    match paired.role() {
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
            paired.say(&Signal::Offer {
                sdp: offer.sdp,
                large_packets,
                round: paired.round(),
            })?;
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
                Some(Ok(pair)) => {
                    tracing::debug!("the data channel is open");
                    return Ok(pair);
                }
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Error::WebRtc("the data channel closed during setup".into())),
            },
            cand = cand_rx.recv() => {
                if let Some(candidate) = cand {
                    paired.say(&Signal::Candidate { candidate })?;
                }
            }
            ice = ice_rx.recv() => {
                tracing::debug!("ICE: {ice:?}");
                if ice == Some(RTCIceConnectionState::Connected) && path_found.is_none() {
                    path_found = Some(tokio::time::Instant::now());
                }
            }
            _ = stalled => {
                return Err(Error::Connect(ConnectFailure::HandshakeStalled));
            }
            state = state_rx.recv() => {
                tracing::debug!("connection: {state:?}");
                if state == Some(RTCPeerConnectionState::Failed) {
                    return Err(Error::Connect(ConnectFailure::NoDirectPath));
                }
            }
            heard = paired.hear(), if peer_left.is_none() => match heard.inspect(|h| if let Heard::Signal(s) = h { tracing::debug!("heard {}", s.kind()) })? {
                Heard::Signal(signal) => match signal {
                    // An offer from an attempt the sender has given up on: ignored.
                    Signal::Offer { round, .. } if paired.role() == Role::Receiver && round < paired.round() => {}
                    // The sender has moved on to a newer attempt while this one was being set
                    // up: this attempt ends, and the next one starts with that offer.
                    Signal::Offer { sdp, large_packets: theirs, round } if paired.role() == Role::Receiver && remote_set => {
                        if round > paired.round() {
                            paired.unhear(Signal::Offer { sdp, large_packets: theirs, round });
                            return Err(Error::Connect(ConnectFailure::PeerStartedOver));
                        }
                    }
                    Signal::Offer { sdp, large_packets: theirs, round } if paired.role() == Role::Receiver => {
                        paired.follow_round(round);
                        peer.takes_large.store(theirs, Ordering::SeqCst);
                        pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
                        remote_set = true;
                        for c in early_candidates.drain(..) {
                            pc.add_ice_candidate(c).await?;
                        }
                        let answer = pc.create_answer(None).await?;
                        pc.set_local_description(answer.clone()).await?;
                        let device = paired.device();
                        paired.say(&Signal::Answer { sdp: answer.sdp, large_packets, round, device })?;
                    }
                    Signal::Answer { sdp, large_packets: theirs, round, device } if paired.role() == Role::Sender && !remote_set && round == paired.round() => {
                        paired.heard_device(device);
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
                        peer.heard(&candidate.candidate);
                        if remote_set {
                            pc.add_ice_candidate(candidate).await?;
                        } else {
                            early_candidates.push(candidate);
                        }
                    }
                    Signal::Abort { reason } => {
                        return Err(Error::PeerFailed(toss_wire::names::display(&reason)))
                    }
                    Signal::Cancel => return Err(Error::Cancelled(Side::Peer)),
                    Signal::Tampered => return Err(Error::Tampered),
                    // The peer saw the last connection go too: this is the next one.
                    Signal::Reconnect => {}
                    // An answer to an earlier attempt's offer, which the peer sent before
                    // it saw this one: this attempt's answer follows.
                    Signal::Answer { .. } if paired.role() == Role::Sender => {}
                    _ => return Err(Error::Protocol("setup messages arrived out of order".into())),
                },
                Heard::PeerLeft => peer_left = Some(tokio::time::Instant::now()),
            },
            _ = grace => return Err(Error::PeerGone),
        }
    }
}

/// SHA-256 fingerprint of a DER certificate, written as webrtc-rs writes its own
/// (`ab:cd:...`, lowercase).
pub(super) fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(":")
}

/// Channel binding, the first message each way on the new data channel: a MAC, under a key
/// from the PAKE, over both DTLS certificate fingerprints as this side sees them. If anyone
/// terminated DTLS in the middle, the two sides see different certificates and both stop.
pub(super) async fn bind(
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
    let (sender_fp, receiver_fp) = match paired.role() {
        Role::Sender => (local, remote),
        Role::Receiver => (remote, local),
    };
    let mine = match (binding, paired.role()) {
        (Binding::Honest, _) => paired.binder().my_binding(&sender_fp, &receiver_fp),
        (Binding::Forged, Role::Sender) => paired.binder().my_binding("forged", &receiver_fp),
        (Binding::Forged, Role::Receiver) => paired.binder().my_binding(&sender_fp, "forged"),
    };
    let mut msg = vec![LAST];
    msg.extend_from_slice(crypto::encode(&mine).as_bytes());
    dc.write_data_channel(&Bytes::from(msg), true)
        .await
        .map_err(|_| Error::PeerGone)?;
    tracing::debug!("binding sent; waiting for the peer's");
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
        .binder()
        .check_binding(&theirs, &sender_fp, &receiver_fp)
        .map_err(|_| Error::Tampered)
}
