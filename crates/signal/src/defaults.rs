//! Tunables of the signaling server, each with the reason for its value.
//!
//! Two kinds. The *limits* bound what clients may make the server do or hold: each is a
//! field of [`crate::Config`] and a command-line option of `toss-signal` (docs/deploy.md).
//! The rest are fixed: the message sizes belong to the protocol (clients are built with the
//! same numbers, so a server that changed them would break its clients), and the others are
//! how the server works inside, not limits on anyone.
//!
//! Part of `toss-signal`; holds constants only and must never hold logic.

use std::time::Duration;

pub use toss_wire::signal::{MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

// Limits: each a `Config` field and a command-line option.

/// Connections one address may hold open at once, counted from TCP accept (so half-open
/// handshakes count too). A transfer needs two; 64 leaves room for a household or office
/// behind one NAT while keeping one host from holding thousands of sockets.
pub const MAX_CONNECTIONS_PER_IP: usize = 64;

/// `allocate` and `join` requests one address may make per minute (as a burst, then one
/// every two seconds). A person makes a few; a flood wants thousands.
pub const ROOM_REQUESTS_PER_IP_PER_MINUTE: u32 = 30;

/// Joins of a waiting room one address may make that no allocator vouched for (`paired`),
/// before it must wait: each is a guess at a 16-bit code. Ten leaves a person who mistypes
/// a code several tries.
pub const GUESS_BURST: u32 = 10;

/// Time that gives back one such join: 288 a day, so with the burst at most 298 wrong
/// guesses per address a day, 298 / 65,536 = 0.0045 expected hijacks (docs/security.md).
pub const GUESS_REFILL: Duration = Duration::from_secs(5 * 60);

/// IPv6 prefix length that the per-address limits count as one address. Providers hand a
/// home or small office a /56 (RIPE-690's advice; some give a /48), so counting per /64, one
/// customer held 256 budgets and one /48 could fill every room; per /56 a customer holds one,
/// and a /48 at most 256.
pub const IPV6_PREFIX_LEN: u8 = 56;

/// Most addresses whose counts are kept at once; an entry is a few dozen bytes, so the
/// table stays under about 10 MiB however many addresses come.
pub const MAX_TRACKED_IPS: usize = 100_000;

/// Connections over a per-address cap being told so with an HTTP status at once; more are
/// closed unanswered, so that refusing a flood costs no more than accepting and closing.
pub const MAX_REFUSALS_IN_FLIGHT: usize = 256;

/// Most rooms open at once; a room costs a few hundred bytes, so this bounds memory at
/// well under 100 MiB even when every room is full.
pub const MAX_ROOMS: usize = 100_000;

/// Most receivers one code lets join (a group code, `allocate` with `receivers`): each is a
/// key exchange and a connection the sender runs at once, and a guess charged to its
/// address until the sender confirms it.
pub const MAX_RECEIVERS: u32 = 8;

/// A room in which nothing is relayed for this long is closed: setup takes seconds, but a
/// receiver may take a while to type the code that was read out to them.
pub const ROOM_IDLE: Duration = Duration::from_secs(30 * 60);

/// A room is closed this long after it was made, whatever happens in it.
pub const ROOM_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// Time allowed for the TLS handshake, and again for each HTTP request head (an idle
/// keep-alive connection waits under it too): ample on any real link, while a client that
/// connects and sends nothing holds its socket no longer than this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A WebSocket that is in no room for this long is closed: Toss clients allocate or join
/// at once, so only a stuck or idle client waits ten minutes.
pub const UNPAIRED_IDLE: Duration = Duration::from_secs(10 * 60);

/// Outbound messages queued for one client before the server gives up on it as too slow: a
/// relayed message that does not fit closes the room for both (`relay_overflow`), anything
/// else closes the connection; nothing is dropped silently. A setup relays a few dozen
/// messages, read as they come; 64 of at most 64 KiB bound a client's queue at 4 MiB.
pub const OUTBOUND_QUEUE: usize = 64;

/// How long the TURN credentials handed out (`turn`) are good for: setup takes seconds, and
/// a reconnect mid-transfer asks for fresh ones; a credential that leaks is useless for
/// new allocations ten minutes later (the TURN server checks the expiry in its user name).
pub const TURN_TTL: Duration = Duration::from_secs(10 * 60);

/// TURN credentials one client may get in one room: one for the first connection, the rest
/// for fresh connections after a lost one. A client asking more is not setting up a
/// transfer.
pub const TURN_PER_ROOM: u32 = 4;

/// TURN credentials one address may get in an hour (a burst, then one back every minute):
/// a transfer takes one per side, so sixty covers a busy household behind one NAT, while
/// someone harvesting credentials for a free relay must make a paired room for each.
pub const TURN_PER_HOUR: u32 = 60;

// Fixed: the protocol's message sizes and the server's inner workings.

/// The protocol's WebSocket message and frame caps, which clients read with too.
pub use toss_wire::signal::{MAX_WS_FRAME_BYTES, MAX_WS_MESSAGE_BYTES};

/// Initial read buffer of a WebSocket connection: a sealed setup message fits; larger ones
/// grow it. Small because every open connection holds one.
pub const WS_BUFFER_BYTES: usize = 8 * 1024;

/// Longest time between two looks of the room actor for rooms past their idle time or
/// lifetime and clients past the unpaired idle time; shorter configured limits are looked at
/// more often.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Commands queued for the room actor; senders wait when it is full.
pub const ACTOR_QUEUE: usize = 1024;

/// Room announcements queued for a server's owner (`Config::announce_rooms`); past it they
/// are dropped.
pub const ANNOUNCE_QUEUE: usize = 16;
