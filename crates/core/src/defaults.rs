//! Tunables of the Toss engine, each with the reason for its value.
//!
//! Constants only; no logic.

use std::time::Duration;

/// Longest wait for the signaling server's answer to `turn` before connecting without its
/// TURN server: a server answers in one round trip; one that does not must not hold up a
/// direct connection.
pub const TURN_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest look at why the TURN server gave no relayed path (an Allocate with the same
/// credentials), after a relay-only setup failed.
pub const TURN_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Signaling server of a build given none: a local one, so nothing leaves the machine
/// unless the user points Toss at a server.
pub const LOCAL_SIGNAL_URL: &str = "ws://127.0.0.1:8787";

/// The signaling server baked into this build with `TOSS_DEFAULT_SERVER` when it was
/// compiled (a release's own server), if any. The build script fails the build for an
/// address that is not one, and rebuilds the crate when the variable changes.
pub const BAKED_SIGNAL_URL: Option<&str> = baked(option_env!("TOSS_DEFAULT_SERVER"));

/// Signaling server used when the user has set none: the baked-in one, else the local one.
pub const SIGNAL_URL: &str = match BAKED_SIGNAL_URL {
    Some(url) => url,
    None => LOCAL_SIGNAL_URL,
};

/// `TOSS_DEFAULT_SERVER` as the compiler saw it, trimmed: unset or blank means none.
const fn baked(raw: Option<&'static str>) -> Option<&'static str> {
    match raw {
        Some(url) if !url.trim_ascii().is_empty() => Some(url.trim_ascii()),
        _ => None,
    }
}

/// STUN servers from the product guide, used unless the user configures others or none.
pub const STUN_SERVERS: [&str; 3] = [
    "stun:stun.l.google.com:19302",
    "stun:stun1.l.google.com:19302",
    "stun:stun.services.mozilla.com:3478",
];

/// File bytes per data-channel message: the size every WebRTC stack handles well.
pub const CHUNK_SIZE: usize = 16 * 1024;

/// SCTP packet size on paths where large packets are not safe (the internet, STUN, TURN,
/// other WebRTC stacks): webrtc-rs's default, which fits a 1280-byte IPv6 path.
pub const DEFAULT_SCTP_PACKET: u32 = 1191;

/// SCTP packet size host to host on loopback or a local network when both ends are Toss:
/// exactly half a 16 KiB message plus the SCTP common and DATA chunk headers (12 + 16
/// bytes), so one message is 2 datagrams instead of 14. With DTLS around it a datagram is
/// 8257 bytes, under [`RECEIVE_MTU`].
pub const LARGE_SCTP_PACKET: u32 = (CHUNK_SIZE as u32) / 2 + 12 + 16;

/// Largest UDP datagram accepted: a large SCTP packet plus DTLS, with room to spare.
pub const RECEIVE_MTU: usize = 9000;

/// Closing a data channel resets its stream, a message queued behind whatever the channel
/// still holds; a peer that stopped reading never takes it, so the close waits this long at
/// most before the connection itself is closed.
pub const CHANNEL_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// A data-channel write that makes no progress for this long ends the transfer, and so does
/// a receiver's window that stays full for this long.
pub const SEND_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The smallest and largest receive window a sender takes in an accept (docs/protocol.md
/// section 3): below 256 KiB a window would let too little through to move at any speed, and
/// above 1 GiB it holds nothing back.
pub const MIN_WINDOW: u64 = 256 * 1024;
/// See [`MIN_WINDOW`].
pub const MAX_WINDOW: u64 = 1 << 30;

/// The sender pauses while this much is queued in the data channel. A few hundred
/// milliseconds of data at loopback speed; more only adds memory and latency.
pub const BUFFERED_HIGH: usize = 4 * 1024 * 1024;

/// The sender resumes when the queue drains below this.
pub const BUFFERED_LOW: usize = 1024 * 1024;

/// Largest data-channel message webrtc-rs sends (the SDP default max-message-size).
/// Longer control messages are split into fragments below it.
pub const MAX_DC_MESSAGE: usize = 64 * 1024;

/// Longest control message accepted after reassembly: an offer of the largest allowed
/// file count fits; 10 MiB of JSON from a hostile peer does not.
pub const MAX_CONTROL_BYTES: usize = 4 * 1024 * 1024;

/// Longest text (or link) sent in an offer: a message, not a document.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Most files in one offer.
pub const MAX_FILES: usize = 20_000;

/// Largest total size of one offer (16 TiB): beyond any real transfer, far below overflow.
pub const MAX_TOTAL_BYTES: u64 = 16 << 40;

/// Deepest folder nesting accepted in an offer.
pub use toss_wire::names::MAX_DEPTH;

/// Bytes kept free on the receiver's disk beyond the offer's size.
pub const DISK_MARGIN: u64 = 16 * 1024 * 1024;

/// Progress events per second, at most: enough for smooth bars, cheap for the UI.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// A connection with no packet from the peer for this long is "disconnected"...
pub const ICE_DISCONNECTED_AFTER: Duration = Duration::from_secs(3);

/// ...and this much longer, failed: the transfer then reconnects.
pub const ICE_FAILED_AFTER: Duration = Duration::from_secs(5);

/// Fresh connections tried after one is lost, waiting 1 s, 2 s, 4 s... before each.
pub const RECONNECT_ATTEMPTS: u32 = 3;

/// How long one reconnection attempt may take.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Time allowed from the code being typed to the data channel opening.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a receiver looks on the local network for the sender of a code made there.
pub const LAN_FIND_WAIT: Duration = Duration::from_secs(5);

/// How long `toss devices` and a send to a named device watch the network.
pub const NEARBY_WAIT: Duration = Duration::from_secs(3);

/// Time allowed for reaching the signaling server.
pub const SIGNAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Keep-alive interval on the signaling connection, under common proxy idle timeouts.
pub const SIGNAL_PING: Duration = Duration::from_secs(20);

/// Receive buffer asked of the system for each WebRTC UDP socket. The default (about
/// 208 KiB on Linux) fills within a burst of large SCTP packets whenever the receiving
/// task waits for a CPU, and each datagram dropped there costs SCTP a retransmission. The
/// system caps it (Linux: `net.core.rmem_max`, then doubles it). The send buffer stays at
/// the default: a large one let bursts of fragmented packets pile onto a lossy 1500-byte
/// link, and connections there failed to set up.
pub const UDP_BUFFER: usize = 4 * 1024 * 1024;

/// File bytes the receiving loop may hand the disk writer ahead of what it has written:
/// enough to go on reading the network through a sync to disk (every 16-32 MiB, for the
/// resume journal). Bounded in commands instead, a sync filled the queue with small
/// batches within a millisecond, the network stalled, and SCTP took a retransmission
/// timeout to start again each time (256 MiB to disk: 76 -> 170 MiB/s on loopback).
pub const WRITE_AHEAD: usize = 8 * 1024 * 1024;

/// Commands queued between the receiving loop and the disk writer; file bytes are bounded
/// by [`WRITE_AHEAD`], so this only has to be large enough never to be the limit.
pub const WRITE_QUEUE: usize = WRITE_AHEAD / CHUNK_SIZE;

/// Messages the receiving loop takes from the reader at once, and hands the disk writer
/// in one go: fewer thread wake-ups per byte, which dominated the receiver's CPU time.
pub const READ_BATCH: usize = 64;

/// Messages queued between the data channel reader task and the protocol loop.
pub const READ_QUEUE: usize = 64;

/// Most receivers the app offers for one code (the signaling server's own cap is 8 by
/// default; `toss send --receivers` may ask more of a server that allows it).
pub const MAX_GROUP_RECEIVERS: u32 = 8;

/// Time for the key exchange once both sides are in the room: a few messages through the
/// server, so seconds at most; a room whose other side never speaks fails with a sentence.
pub const PAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Time for the signaling server to answer `allocate` or `join`.
pub const SERVER_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Most ICE candidates taken from the peer in one connection attempt: a computer has a
/// few per network interface; a flood of them would otherwise be kept without limit.
pub const MAX_REMOTE_CANDIDATES: usize = 100;

/// Signaling messages queued in each direction between the session and the socket's
/// task: setup is a few dozen messages; a peer or server sending faster than this side
/// reads is slowed (inbound) or refused (outbound) instead of growing memory.
pub const SIGNAL_QUEUE: usize = 64;

/// How long a send to a nearby device by name listens on after the first device of that
/// name answers, for a second one claiming the same name. Announcements arrive together, but
/// resolving each one (its service, text and address records) lagged by more than 750 ms on
/// a busy machine, and the second twin went unseen.
pub const NEARBY_SAME_NAME_WAIT: Duration = Duration::from_secs(2);

/// How long path MTU discovery is given to settle before the user is told of the packet
/// size: a search takes a dozen probes, each a round trip or, when lost, a few (at least
/// 200 ms), so it is done in a few seconds on any path that carries data at all.
pub const PROBE_SETTLES_WITHIN: Duration = Duration::from_secs(30);

/// How often the packet size is looked at while the search runs.
pub const PROBE_POLL: Duration = Duration::from_millis(100);

/// Time for the secure handshakes (DTLS, SCTP, the data channel) once ICE has found a
/// path: a second or two even over a lossy link with retransmissions; past this the setup
/// is begun afresh rather than left to wait out [`CONNECT_TIMEOUT`].
pub const SETUP_AFTER_PATH: Duration = Duration::from_secs(8);

/// A setup that failed is begun afresh only with at least this much of
/// [`CONNECT_TIMEOUT`] left: less would not be enough for a fresh attempt to finish.
pub const SETUP_RETRY_MIN_LEFT: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baked_default_is_taken_trimmed_and_a_blank_one_is_none() {
        assert_eq!(baked(None), None);
        assert_eq!(baked(Some("")), None);
        assert_eq!(baked(Some(" \t\n")), None);
        assert_eq!(
            baked(Some(" wss://toss.example.org\n")),
            Some("wss://toss.example.org")
        );
        assert_eq!(SIGNAL_URL, BAKED_SIGNAL_URL.unwrap_or(LOCAL_SIGNAL_URL));
    }
}
