//! Judging a connection's network path from the candidate pair ICE selected: how the bytes
//! travel (directly, through a NAT, relayed), whether both ends are local, and the SCTP
//! packet size that suits it. Pure: no sockets, no I/O.

use std::net::IpAddr;
use std::sync::atomic::AtomicBool;

use webrtc::ice_transport::ice_candidate_pair::RTCIceCandidatePair;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;

use crate::defaults::{DEFAULT_SCTP_PACKET, LARGE_SCTP_PACKET};

/// How a connection's bytes travel, best first: the worse end of a pair decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// Host to host (`direct` in JSON).
    Direct,
    /// Through a NAT, with an address found with STUN (`stun`).
    Stun,
    /// Through a relay (TURN) server (`relay`).
    Relay,
}

/// How a connection's bytes travel, from the candidate pair ICE selected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathInfo {
    /// Direct, through a NAT, or relayed.
    pub kind: PathKind,
    /// Both ends are on this machine or the same local network.
    pub local_network: bool,
    /// Largest SCTP packet this side sends, in bytes.
    pub packet_size: u32,
}

impl PathInfo {
    /// A few words for people: "directly on the local network, 8220-byte packets".
    pub fn describe(&self) -> String {
        let how = match (self.kind, self.local_network) {
            (PathKind::Direct, true) => "directly on the local network",
            (PathKind::Direct, false) => "directly",
            (PathKind::Stun, _) => "directly, through a NAT",
            (PathKind::Relay, _) => "through a relay server",
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
pub(super) struct PeerSays {
    /// It takes SCTP packets larger than the WebRTC default.
    pub(super) takes_large: AtomicBool,
    /// Its relay (TURN) candidates, address and port, as they arrived.
    pub(super) relays: std::sync::Mutex<Vec<(String, u16)>>,
}

impl PeerSays {
    pub(super) fn relays(&self) -> Vec<(String, u16)> {
        self.relays.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The address and port of a relay candidate line (`... ADDRESS PORT typ relay ...`).
pub(super) fn relay_address(candidate: &str) -> Option<(String, u16)> {
    let fields: Vec<&str> = candidate.split_whitespace().collect();
    let typ = fields.iter().position(|f| *f == "typ")?;
    if fields.get(typ + 1) != Some(&"relay") || typ < 2 {
        return None;
    }
    Some((fields[typ - 2].to_owned(), fields[typ - 1].parse().ok()?))
}

/// The path of a selected candidate pair; `peer_relays` are the peer's relay candidates.
pub(super) fn path_of(
    pair: &RTCIceCandidatePair,
    peer_takes_large: bool,
    peer_relays: &[(String, u16)],
) -> PathInfo {
    // A peer-reflexive candidate is the peer's address as seen in a connectivity check that
    // arrived before its candidate did (common with trickle ICE): a direct path, whose
    // address says whether it is local, unless it is one of the peer's relay addresses
    // (the peer's check came through its TURN server).
    let kind = |t: RTCIceCandidateType| match t {
        RTCIceCandidateType::Host | RTCIceCandidateType::Prflx => PathKind::Direct,
        RTCIceCandidateType::Srflx => PathKind::Stun,
        _ => PathKind::Relay,
    };
    let remote_relayed = pair.remote.typ == RTCIceCandidateType::Prflx
        && peer_relays
            .iter()
            .any(|(a, p)| *a == pair.remote.address && *p == pair.remote.port);
    let remote = if remote_relayed {
        PathKind::Relay
    } else {
        kind(pair.remote.typ)
    };
    let kind = kind(pair.local.typ).max(remote);
    let local = |a: &str| a.parse::<IpAddr>().is_ok_and(is_local_address);
    let local_network = local(&pair.local.address) && local(&pair.remote.address);
    // Large packets only host to host on a local path, and only toward a peer that said
    // it takes them: elsewhere they would be IP-fragmented, and fragments are often lost.
    let packet_size = if kind == PathKind::Direct && local_network && peer_takes_large {
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
            assert_eq!(p.kind, PathKind::Direct);
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
        assert_eq!(
            (internet.kind, internet.local_network),
            (PathKind::Direct, false)
        );
        assert_eq!(internet.packet_size, DEFAULT_SCTP_PACKET);
        let nat = path_of(
            &pair(("192.168.1.4", Srflx), ("192.168.1.9", Host)),
            true,
            &[],
        );
        assert_eq!(
            (nat.kind, nat.packet_size),
            (PathKind::Stun, DEFAULT_SCTP_PACKET)
        );
        let relay = path_of(&pair(("127.0.0.1", Relay), ("127.0.0.1", Host)), true, &[]);
        assert_eq!(
            (relay.kind, relay.packet_size),
            (PathKind::Relay, DEFAULT_SCTP_PACKET)
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
            (PathKind::Relay, DEFAULT_SCTP_PACKET)
        );
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

    #[test]
    fn path_kinds_keep_their_json_names() {
        let info = PathInfo {
            kind: PathKind::Stun,
            local_network: false,
            packet_size: DEFAULT_SCTP_PACKET,
        };
        assert_eq!(
            serde_json::to_value(&info).expect("a path serializes"),
            serde_json::json!({"kind": "stun", "local_network": false, "packet_size": DEFAULT_SCTP_PACKET})
        );
        for (kind, name) in [
            (PathKind::Direct, "direct"),
            (PathKind::Stun, "stun"),
            (PathKind::Relay, "relay"),
        ] {
            assert_eq!(serde_json::to_value(kind).expect("a kind serializes"), name);
        }
    }
}
