//! Packetization-layer path MTU discovery (RFC 8899, section 6.2.1 for SCTP): learning how
//! large a packet the path carries by sending probe packets (a HEARTBEAT padded with a PAD
//! chunk, RFC 4820) and raising the association's packet size when one is acknowledged.
//!
//! This is the search alone, with no I/O and no clock: the association sends the probe it
//! is given, reports its acknowledgement, its loss (the probe timer fired) or a failure to
//! send it (a datagram larger than the local link, `EMSGSIZE`), and reads the packet size
//! confirmed so far. Only a size that a probe proved is ever used, so a path that carries
//! only the base size keeps it and never stalls.
//!
//! The search confirms the base size first (which also measures the round trip that sets
//! the probe timer), then tries the largest size allowed, since a local path carries it,
//! and then halves the interval between the largest confirmed size and the smallest failed
//! one until they are within [`SETTLED_WITHIN`] bytes of each other.

/// A size whose probe was lost this many times in a row is taken as too large for the
/// path (a single loss may be chance).
pub(crate) const PROBE_TRIES: u32 = 2;

/// The search ends when the confirmed size is within this many bytes of the smallest size
/// that failed.
pub(crate) const SETTLED_WITHIN: u32 = 16;

/// The smallest probe: a common header, a HEARTBEAT with its information, a PAD chunk.
pub(crate) const MIN_PROBE: u32 = 40;

use bytes::Bytes;

use crate::chunk::chunk_heartbeat::ChunkHeartbeat;
use crate::chunk::chunk_padding::ChunkPadding;
use crate::packet::Packet;
use crate::param::param_heartbeat_info::ParamHeartbeatInfo;

/// One probe in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Its size in bytes, the whole SCTP packet.
    pub(crate) size: u32,
    /// Carried in its heartbeat information, so that its acknowledgement names it.
    pub(crate) id: u64,
}

/// The state of the search.
#[derive(Debug)]
pub(crate) struct Plpmtud {
    /// The largest size allowed (a probe never exceeds it).
    max: u32,
    /// The largest size a probe proved (at first the base size, not yet proved).
    confirmed: u32,
    /// Whether the base size was proved yet.
    base_proved: bool,
    /// The smallest size known to fail, or one step past `max` while none has.
    ceiling: u32,
    /// The size being tried, and how many of its probes were lost.
    trying: Option<(u32, u32)>,
    /// The probe in flight.
    outstanding: Option<Probe>,
    next_id: u64,
    /// Round trip of the last acknowledged probe, in milliseconds.
    rtt_ms: Option<u64>,
    /// The search finished, or gave up: the size no longer changes.
    done: bool,
}

impl Plpmtud {
    /// A search from `base` (the size in use) up to `max` bytes, inclusive.
    pub(crate) fn new(base: u32, max: u32) -> Self {
        let max = round_down(max);
        Plpmtud {
            max,
            confirmed: base,
            base_proved: false,
            ceiling: max + 4,
            trying: None,
            outstanding: None,
            next_id: 1,
            rtt_ms: None,
            done: max <= base || base < MIN_PROBE,
        }
    }

    /// The largest packet size proved so far (the base size until a larger one is).
    pub(crate) fn size(&self) -> u32 {
        self.confirmed
    }

    /// Whether the search is over: the size will not change any more.
    pub(crate) fn settled(&self) -> bool {
        self.done
    }

    /// The round trip measured by the last acknowledged probe, in milliseconds.
    pub(crate) fn rtt_ms(&self) -> Option<u64> {
        self.rtt_ms
    }

    /// The probe in flight, if any.
    pub(crate) fn outstanding(&self) -> Option<Probe> {
        self.outstanding
    }

    /// The probe to send now, if any: none while one is in flight or once settled.
    pub(crate) fn next_probe(&mut self) -> Option<Probe> {
        if self.done || self.outstanding.is_some() {
            return None;
        }
        let size = match self.trying {
            Some((size, _)) => size,
            None => {
                let size = if !self.base_proved {
                    round_down(self.confirmed).max(MIN_PROBE)
                } else if self.ceiling > self.max {
                    self.max
                } else {
                    round_down(self.confirmed + (self.ceiling - self.confirmed) / 2)
                };
                self.trying = Some((size, 0));
                size
            }
        };
        let probe = Probe {
            size,
            id: self.next_id,
        };
        self.next_id += 1;
        self.outstanding = Some(probe);
        Some(probe)
    }

    /// The probe `id` was acknowledged after `rtt_ms`: returns the new packet size when it
    /// grew. An acknowledgement of any other probe (a late one) is ignored.
    pub(crate) fn acknowledged(&mut self, id: u64, rtt_ms: u64) -> Option<u32> {
        let probe = self.outstanding.filter(|p| p.id == id)?;
        self.outstanding = None;
        self.trying = None;
        self.rtt_ms = Some(rtt_ms);
        let grew = if self.base_proved {
            self.confirmed = self.confirmed.max(probe.size);
            Some(self.confirmed)
        } else {
            self.base_proved = true;
            None
        };
        self.check_settled();
        grew
    }

    /// The probe `id` got no acknowledgement in time. Its size is given up after
    /// [`PROBE_TRIES`] losses; a lost probe of the base size ends the search, since the
    /// path then loses too much to tell anything from a loss.
    pub(crate) fn lost(&mut self, id: u64) {
        if self.outstanding.is_none_or(|p| p.id != id) {
            return;
        }
        self.outstanding = None;
        if let Some((size, losses)) = self.trying {
            if losses + 1 < PROBE_TRIES {
                self.trying = Some((size, losses + 1));
            } else {
                self.failed(size);
            }
        }
    }

    /// The probe `id` could not be sent at all (larger than the local link takes): its
    /// size fails at once.
    pub(crate) fn unsendable(&mut self, id: u64) {
        if self.outstanding.is_none_or(|p| p.id != id) {
            return;
        }
        self.outstanding = None;
        if let Some((size, _)) = self.trying {
            self.failed(size);
        }
    }

    fn failed(&mut self, size: u32) {
        self.trying = None;
        if !self.base_proved {
            self.done = true;
            return;
        }
        self.ceiling = self.ceiling.min(size);
        self.check_settled();
    }

    fn check_settled(&mut self) {
        if self.confirmed >= self.max
            || self.ceiling.saturating_sub(self.confirmed) <= SETTLED_WITHIN
        {
            self.done = true;
        }
    }
}

/// What a probe's heartbeat information starts with; its id follows (8 bytes, big-endian).
const PROBE_MAGIC: &[u8; 8] = b"PLPMTUD\0";

/// A probe packet: a HEARTBEAT naming the probe and a PAD chunk that makes the whole
/// packet `probe.size` bytes (12 of common header, 24 of HEARTBEAT, 4 of PAD header).
pub(crate) fn probe_packet(
    source_port: u16,
    destination_port: u16,
    verification_tag: u32,
    probe: Probe,
) -> Packet {
    let mut info = Vec::with_capacity(16);
    info.extend_from_slice(PROBE_MAGIC);
    info.extend_from_slice(&probe.id.to_be_bytes());
    Packet {
        source_port,
        destination_port,
        verification_tag,
        chunks: vec![
            Box::new(ChunkHeartbeat {
                params: vec![Box::new(ParamHeartbeatInfo {
                    heartbeat_information: Bytes::from(info),
                })],
            }),
            Box::new(ChunkPadding {
                len: probe.size.max(MIN_PROBE) as usize - MIN_PROBE as usize,
            }),
        ],
    }
}

/// The probe id that a heartbeat's information names, if it is one of ours.
pub(crate) fn probe_id_of(info: &[u8]) -> Option<u64> {
    let id = info.strip_prefix(PROBE_MAGIC)?;
    Some(u64::from_be_bytes(id.try_into().ok()?))
}

/// The id of a probe packet (one made by [`probe_packet`]); `None` for any other packet.
pub(crate) fn probe_id(packet: &Packet) -> Option<u64> {
    packet.chunks.iter().find_map(|c| {
        let heartbeat = c.as_any().downcast_ref::<ChunkHeartbeat>()?;
        let info = heartbeat.params.first()?.as_any();
        probe_id_of(
            &info
                .downcast_ref::<ParamHeartbeatInfo>()?
                .heartbeat_information,
        )
    })
}

/// Sizes are multiples of 4: SCTP chunks are padded to 4 bytes.
fn round_down(size: u32) -> u32 {
    size & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a path that carries packets up to `limit` bytes and refuses
    /// to send those above `link` at once; returns the settled size and the probes sent.
    fn search(base: u32, max: u32, limit: u32, link: u32) -> (u32, Vec<u32>) {
        let mut p = Plpmtud::new(base, max);
        let mut sent = vec![];
        for _ in 0..100 {
            let Some(probe) = p.next_probe() else { break };
            sent.push(probe.size);
            if probe.size > link {
                p.unsendable(probe.id);
            } else if probe.size > limit {
                p.lost(probe.id);
            } else {
                p.acknowledged(probe.id, 1);
            }
        }
        assert!(p.settled(), "{sent:?}");
        (p.size(), sent)
    }

    #[test]
    fn a_path_that_carries_the_largest_size_takes_two_probes() {
        assert_eq!(search(1191, 8220, 9000, 65535), (8220, vec![1188, 8220]));
    }

    #[test]
    fn a_1500_byte_link_settles_just_under_what_it_carries() {
        // IPv4: 1500 - 20 (IP) - 8 (UDP) - 37 (DTLS with AES-GCM) = 1435.
        let (size, sent) = search(1191, 8220, 1435, 1435);
        assert!(
            (1435 - SETTLED_WITHIN..=1435).contains(&size),
            "{size} {sent:?}"
        );
        // Sizes above the link fail once each, silent losses twice.
        assert!(sent.len() < 20, "{sent:?}");
    }

    #[test]
    fn a_firewall_that_drops_large_datagrams_is_found_by_loss_alone() {
        let (size, sent) = search(1191, 8220, 1335, 1435);
        assert!(
            (1335 - SETTLED_WITHIN..=1335).contains(&size),
            "{size} {sent:?}"
        );
        let lost: Vec<_> = sent.iter().filter(|s| (1336..=1435).contains(*s)).collect();
        assert_eq!(
            lost.len() % PROBE_TRIES as usize,
            0,
            "each lost size tried twice: {sent:?}"
        );
    }

    #[test]
    fn a_path_that_carries_only_the_base_size_keeps_it() {
        assert_eq!(search(1191, 8220, 1191, 1191).0, 1191);
        assert_eq!(search(1191, 8220, 1191, 65535).0, 1191);
        // And a path that carries a little more gets it.
        assert_eq!(search(1191, 8220, 1200, 65535).0, 1200);
    }

    #[test]
    fn a_lost_base_probe_ends_the_search_at_the_base_size() {
        let mut p = Plpmtud::new(1191, 8220);
        for _ in 0..PROBE_TRIES {
            let probe = p.next_probe().unwrap();
            assert_eq!(probe.size, 1188);
            p.lost(probe.id);
        }
        assert!(p.settled());
        assert_eq!(p.next_probe(), None);
        assert_eq!(p.size(), 1191);
    }

    #[test]
    fn only_the_probe_in_flight_counts() {
        let mut p = Plpmtud::new(1191, 8220);
        let base = p.next_probe().unwrap();
        assert_eq!(p.next_probe(), None, "one probe at a time");
        assert_eq!(p.acknowledged(base.id + 7, 1), None);
        p.lost(base.id + 7);
        assert_eq!(p.outstanding(), Some(base));
        assert_eq!(
            p.acknowledged(base.id, 3),
            None,
            "the base size is no growth"
        );
        assert_eq!(p.rtt_ms(), Some(3));
        let big = p.next_probe().unwrap();
        assert_eq!(p.acknowledged(base.id, 1), None, "a late acknowledgement");
        assert_eq!(p.acknowledged(big.id, 1), Some(8220));
        assert!(p.settled());
    }

    #[test]
    fn a_probe_packet_is_exactly_its_size_and_names_itself() {
        for size in [MIN_PROBE, 1188, 1400, 8220] {
            let packet = probe_packet(5000, 5000, 7, Probe { size, id: 42 });
            let raw = packet.marshal().unwrap();
            assert_eq!(raw.len(), size as usize);
            let back = Packet::unmarshal(&raw).unwrap();
            assert_eq!(probe_id(&back), Some(42));
        }
        assert_eq!(probe_id_of(b"something else"), None);
    }

    #[test]
    fn nothing_to_search_when_the_base_is_the_largest() {
        let mut p = Plpmtud::new(1191, 1191);
        assert!(p.settled());
        assert_eq!(p.next_probe(), None);
    }
}
