//! `toss-signal`: the tiny server that introduces two Toss peers.
//!
//! It allocates short numeric nameplates, pairs exactly two peers per room, and relays
//! opaque (sealed) payloads between them. It knows nothing of files, keys or codes' words.
//! Given a TURN server and the secret it shares with it, it hands short-lived TURN
//! credentials (`turn.rs`) to the two peers of a room, and to no one else.
//! It also serves the web peer (the page a browser opens to take part) at `/`, from files
//! embedded at build time (`web.rs`).
//! It sits on `toss-wire` (the messages, [`protocol`]) and never imports `toss-core`.
//! `toss-core` runs this server in-process for a rendezvous on the local network and a
//! device's inbox (its `embedded` module, the only place it uses this crate), and the
//! desktop app runs it when no other server is reachable.

pub mod defaults;
mod limits;
mod metrics;
pub use toss_wire::signal as protocol;
mod rooms;
mod server;
mod turn;
mod web;

pub use metrics::Metrics;
pub use server::{Config, Server, SpawnError, TlsFiles};
pub use turn::{credential as turn_credential, Turn, TurnSecret};
