//! Tunables of the signaling server, each with the reason for its value.
//!
//! Part of `toss-signal`; holds constants only and must never hold logic.

use std::time::Duration;

pub use toss_wire::signal::{MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

/// Largest WebSocket message the transport reads at all. Above [`MAX_MESSAGE_BYTES`] so that
/// an oversized message still gets a clear error reply; past this the connection is dropped.
pub const MAX_WS_MESSAGE_BYTES: usize = 256 * 1024;

/// Largest single WebSocket frame; equal to the message cap since clients never fragment.
pub const MAX_WS_FRAME_BYTES: usize = MAX_WS_MESSAGE_BYTES;

/// Most rooms open at once; a room costs a few hundred bytes, so this bounds memory at
/// well under 100 MiB even when every room is full.
pub const MAX_ROOMS: usize = 100_000;

/// A room with no message for this long is closed: setup takes seconds, but a receiver
/// may take a while to type the code that was read out to them.
pub const ROOM_IDLE: Duration = Duration::from_secs(30 * 60);

/// A room is closed this long after it was made, whatever happens in it.
pub const ROOM_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// How often the room actor looks for rooms past their idle time or lifetime.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Time allowed for the TLS handshake and the HTTP request head of a new connection.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Outbound messages queued for one client before the server gives up on it as too slow.
pub const OUTBOUND_QUEUE: usize = 64;

/// Commands queued for the room actor; senders wait when it is full.
pub const ACTOR_QUEUE: usize = 1024;
