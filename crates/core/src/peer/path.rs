//! Judging a connection's network path from the candidate pair ICE selected: how the bytes
//! travel (directly, through a NAT, relayed), whether the peer is on this machine or on the
//! network of the interface that carries the pair, and the SCTP packet size that suits it.
//! Pure, given this machine's addresses ([`own_addresses`] reads them once per attempt).

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
    /// How large probing may prove the packets to be, when this side probes the path
    /// (path MTU discovery; [`crate::Event::PathProbed`] then tells what it found);
    /// 0 when it does not.
    #[serde(skip)]
    pub probe_up_to: u32,
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

/// One address of this machine, with the length of its network's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OwnAddress {
    /// The address.
    pub(super) ip: IpAddr,
    /// How many leading bits name its network (24 for a /24).
    pub(super) prefix: u8,
}

/// This machine's addresses and their networks, as the system lists them now; none when it
/// cannot say (every path then counts as remote, which is only slower).
pub(super) fn own_addresses() -> Vec<OwnAddress> {
    if_addrs::get_if_addrs()
        .map(|interfaces| {
            interfaces
                .into_iter()
                .map(|i| match i.addr {
                    if_addrs::IfAddr::V4(a) => OwnAddress {
                        ip: IpAddr::V4(a.ip),
                        prefix: a.prefixlen,
                    },
                    if_addrs::IfAddr::V6(a) => OwnAddress {
                        ip: IpAddr::V6(a.ip),
                        prefix: a.prefixlen,
                    },
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `a` and `b` share their first `prefix` bits (false across address families).
fn same_network(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    let (a, b, width) = match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return true;
    }
    let shift = width - prefix;
    (a >> shift) == (b >> shift)
}

/// Whether the peer at `remote` is reached without a router from `local`: it is this
/// machine (one of its own addresses), or it is inside the network of the interface that
/// holds `local`. Where the peer is decides, not its address range: a home network on
/// IPv6 and an office with public IPv4 addresses are local, and two private networks
/// joined by a router are not.
fn is_local_path(local: IpAddr, remote: IpAddr, own: &[OwnAddress]) -> bool {
    own.iter().any(|a| a.ip == remote)
        || own
            .iter()
            .filter(|a| a.ip == local)
            .any(|a| same_network(a.ip, remote, a.prefix))
}

/// A private (RFC 1918, unique-local) or link-local address: one a NAT's outside rarely has.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// What the peer said about itself during setup, for judging the path.
#[derive(Debug, Default)]
pub(super) struct PeerSays {
    /// It takes SCTP packets larger than the WebRTC default.
    pub(super) takes_large: AtomicBool,
    /// The addresses its candidates named, as they arrived.
    pub(super) addresses: std::sync::Mutex<PeerAddresses>,
}

impl PeerSays {
    /// What its candidates said so far.
    pub(super) fn addresses(&self) -> PeerAddresses {
        self.addresses.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Notes the address of a candidate line of the peer's.
    pub(super) fn heard(&self, candidate: &str) {
        let Some((address, port, typ)) = candidate_address(candidate) else {
            return;
        };
        if let Ok(mut known) = self.addresses.lock() {
            match typ {
                "relay" => known.relays.push((address, port)),
                "host" => {
                    if let Ok(ip) = address.parse() {
                        known.hosts.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The addresses the peer's candidates named.
#[derive(Debug, Default, Clone)]
pub(super) struct PeerAddresses {
    /// Its relay (TURN) candidates, address and port.
    pub(super) relays: Vec<(String, u16)>,
    /// The addresses of its host candidates: its own.
    pub(super) hosts: Vec<IpAddr>,
}

/// The address, port and type of a candidate line (`... ADDRESS PORT typ TYPE ...`).
fn candidate_address(candidate: &str) -> Option<(String, u16, &str)> {
    let fields: Vec<&str> = candidate.split_whitespace().collect();
    let typ = fields.iter().position(|f| *f == "typ")?;
    if typ < 2 {
        return None;
    }
    Some((
        fields[typ - 2].to_owned(),
        fields[typ - 1].parse().ok()?,
        fields.get(typ + 1)?,
    ))
}

/// The path of a selected candidate pair; `peer` is what the peer's candidates said of its
/// addresses, `own` this machine's addresses.
pub(super) fn path_of(
    pair: &RTCIceCandidatePair,
    peer_takes_large: bool,
    peer: &PeerAddresses,
    own: &[OwnAddress],
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
        && peer
            .relays
            .iter()
            .any(|(a, p)| *a == pair.remote.address && *p == pair.remote.port);
    let remote = if remote_relayed {
        PathKind::Relay
    } else {
        kind(pair.remote.typ)
    };
    let kind = kind(pair.local.typ).max(remote);
    let local_network = match (
        pair.local.address.parse::<IpAddr>(),
        pair.remote.address.parse::<IpAddr>(),
    ) {
        (Ok(local), Ok(remote)) => {
            is_local_path(local, remote, own)
                // A peer-reflexive address may be a NAT's on this link with the peer behind
                // it: only one the peer named as its own (a host candidate that arrived after
                // its checks), or a private or link-local one, is taken for the peer itself.
                && (pair.remote.typ != RTCIceCandidateType::Prflx
                    || own.iter().any(|a| a.ip == remote)
                    || peer.hosts.contains(&remote)
                    || is_private(remote))
        }
        // A name (a browser's `.local` host candidate) says nothing of where it is.
        _ => false,
    };
    // Large packets only host to host on a local path, and only toward a peer that said
    // it takes them: elsewhere they would be IP-fragmented, and fragments are often lost.
    let packet_size = if kind == PathKind::Direct && local_network && peer_takes_large {
        LARGE_SCTP_PACKET
    } else {
        DEFAULT_SCTP_PACKET
    };
    // Any other direct path (through NATs too) is probed for what it carries without
    // fragments, toward a peer that takes large packets. Not a relayed one: the relay's
    // own path to the peer is out of sight, and TURN's headers eat into the packet.
    let probe_up_to =
        if kind != PathKind::Relay && packet_size == DEFAULT_SCTP_PACKET && peer_takes_large {
            LARGE_SCTP_PACKET
        } else {
            0
        };
    PathInfo {
        kind,
        local_network,
        packet_size,
        probe_up_to,
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

    /// A machine with loopback, a home LAN on IPv4, a global IPv6 network, an office LAN
    /// with public IPv4 addresses, link-local addresses, and a public address of its own.
    fn machine() -> Vec<OwnAddress> {
        [
            ("127.0.0.1", 8),
            ("::1", 128),
            ("192.168.1.4", 24),
            ("2001:db8:1::4", 64),
            ("203.0.113.5", 24),
            ("169.254.77.1", 16),
            ("fe80::1", 64),
            ("198.51.100.7", 32),
        ]
        .iter()
        .map(|(ip, prefix)| OwnAddress {
            ip: ip.parse().expect("an address"),
            prefix: *prefix,
        })
        .collect()
    }

    #[test]
    fn large_packets_only_host_to_host_toward_a_peer_on_this_machine_or_its_link() {
        let own = machine();
        let none = PeerAddresses::default();
        for (l, r) in [
            // This machine: loopback, and its own addresses whatever their range.
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("198.51.100.7", "198.51.100.7"),
            ("192.168.1.4", "203.0.113.5"),
            // On the link of the interface that carries the pair.
            ("192.168.1.4", "192.168.1.9"),
            ("2001:db8:1::4", "2001:db8:1::9"),
            ("203.0.113.5", "203.0.113.77"),
            ("169.254.77.1", "169.254.3.2"),
            ("fe80::1", "fe80::2"),
        ] {
            let p = path_of(&pair((l, Host), (r, Host)), true, &none, &own);
            assert_eq!(p.kind, PathKind::Direct);
            assert!(p.local_network, "{l} {r}");
            assert_eq!(p.packet_size, LARGE_SCTP_PACKET, "{l} {r}");
            assert_eq!(
                p.probe_up_to, 0,
                "nothing to probe on a local path: {l} {r}"
            );
            // Toward a peer that did not say it takes them: the default.
            let p = path_of(&pair((l, Host), (r, Host)), false, &none, &own);
            assert_eq!(p.packet_size, DEFAULT_SCTP_PACKET, "{l} {r}");
        }
        for (l, r) in [
            // Private, but behind a router: another subnet.
            ("192.168.1.4", "192.168.2.9"),
            ("192.168.1.4", "10.0.0.2"),
            // Global IPv6 in another network.
            ("2001:db8:1::4", "2001:db8:2::9"),
            // The internet.
            ("203.0.113.5", "198.51.100.8"),
            // An address this machine does not hold is nobody's link.
            ("10.9.9.9", "10.9.9.10"),
            // Across families, and a name instead of an address.
            ("192.168.1.4", "2001:db8:1::9"),
            ("192.168.1.4", "3c0e0b9a.local"),
        ] {
            let p = path_of(&pair((l, Host), (r, Host)), true, &none, &own);
            assert!(!p.local_network, "{l} {r}");
            assert_eq!(p.packet_size, DEFAULT_SCTP_PACKET, "{l} {r}");
            // A direct path elsewhere starts at the default and is probed for more,
            // toward a peer that takes large packets only.
            assert_eq!(p.probe_up_to, LARGE_SCTP_PACKET, "{l} {r}");
            let p = path_of(&pair((l, Host), (r, Host)), false, &none, &own);
            assert_eq!(p.probe_up_to, 0, "{l} {r}");
        }
        let early = path_of(
            &pair(("127.0.0.1", Host), ("127.0.0.1", Prflx)),
            true,
            &none,
            &own,
        );
        assert_eq!(early.packet_size, LARGE_SCTP_PACKET);
        let nat = path_of(
            &pair(("192.168.1.4", Srflx), ("192.168.1.9", Host)),
            true,
            &none,
            &own,
        );
        assert_eq!(
            (nat.kind, nat.packet_size, nat.probe_up_to),
            (PathKind::Stun, DEFAULT_SCTP_PACKET, LARGE_SCTP_PACKET)
        );
        let relay = path_of(
            &pair(("127.0.0.1", Relay), ("127.0.0.1", Host)),
            true,
            &none,
            &own,
        );
        assert_eq!(
            (relay.kind, relay.packet_size, relay.probe_up_to),
            (PathKind::Relay, DEFAULT_SCTP_PACKET, 0)
        );
        assert_eq!(
            relay.describe(),
            "through a relay server, 1191-byte packets"
        );
        // The peer's checks came through its TURN server before its relay candidate did:
        // relayed, not direct, even on the local network.
        let relays = PeerAddresses {
            relays: vec![("192.168.1.9".to_owned(), 0)],
            hosts: vec![],
        };
        let through_turn = path_of(
            &pair(("192.168.1.4", Host), ("192.168.1.9", Prflx)),
            true,
            &relays,
            &own,
        );
        assert_eq!(
            (
                through_turn.kind,
                through_turn.packet_size,
                through_turn.probe_up_to
            ),
            (PathKind::Relay, DEFAULT_SCTP_PACKET, 0)
        );
        // A peer-reflexive address on this link in a public range is most likely a NAT's,
        // with the peer behind it; a private one on this link is taken for the peer.
        let behind_nat = path_of(
            &pair(("203.0.113.5", Host), ("203.0.113.1", Prflx)),
            true,
            &none,
            &own,
        );
        assert!(!behind_nat.local_network);
        assert_eq!(behind_nat.packet_size, DEFAULT_SCTP_PACKET);
        // Unless the peer named that address as its own (its host candidate came after its
        // first checks): two computers on one link with global addresses.
        for (l, r) in [
            ("203.0.113.5", "203.0.113.1"),
            ("2001:db8:1::4", "2001:db8:1::9"),
        ] {
            let itself = PeerAddresses {
                relays: vec![],
                hosts: vec![r.parse().expect("an address")],
            };
            let on_link = path_of(&pair((l, Host), (r, Prflx)), true, &itself, &own);
            assert!(on_link.local_network, "{l} {r}");
            assert_eq!(on_link.packet_size, LARGE_SCTP_PACKET, "{l} {r}");
        }
        let early_on_lan = path_of(
            &pair(("192.168.1.4", Host), ("192.168.1.9", Prflx)),
            true,
            &none,
            &own,
        );
        assert_eq!(early_on_lan.packet_size, LARGE_SCTP_PACKET);
        // A machine that cannot list its addresses judges every path remote.
        let unknown = path_of(
            &pair(("192.168.1.4", Host), ("192.168.1.9", Host)),
            true,
            &none,
            &[],
        );
        assert_eq!(unknown.packet_size, DEFAULT_SCTP_PACKET);
    }

    #[test]
    fn this_machines_addresses_include_loopback_with_its_prefix() {
        let own = own_addresses();
        assert!(
            own.iter()
                .any(|a| a.ip == IpAddr::from([127, 0, 0, 1]) && a.prefix == 8),
            "{own:?}"
        );
    }

    #[test]
    fn the_peers_relay_and_host_addresses_are_read_from_its_candidates() {
        let peer = PeerSays::default();
        for line in [
            "candidate:1 1 udp 16777215 203.0.113.254 49201 typ relay raddr 0.0.0.0 rport 50000",
            "candidate:2 1 udp 2130706431 192.0.2.2 40000 typ host",
            "candidate:3 1 udp 2130706431 2001:db8::2 40001 typ host",
            "candidate:4 1 udp 1694498815 198.51.100.9 40002 typ srflx raddr 0.0.0.0 rport 0",
            "candidate:5 1 udp 2130706431 3c0e0b9a.local 40003 typ host",
            "typ relay",
            "",
        ] {
            peer.heard(line);
        }
        let known = peer.addresses();
        assert_eq!(known.relays, [("203.0.113.254".to_owned(), 49201)]);
        assert_eq!(
            known.hosts,
            [
                "192.0.2.2".parse::<IpAddr>().expect("an address"),
                "2001:db8::2".parse().expect("an address")
            ]
        );
    }

    #[test]
    fn path_kinds_keep_their_json_names() {
        let info = PathInfo {
            kind: PathKind::Stun,
            local_network: false,
            packet_size: DEFAULT_SCTP_PACKET,
            probe_up_to: LARGE_SCTP_PACKET,
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
