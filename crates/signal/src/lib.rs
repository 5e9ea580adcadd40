//! `toss-signal`: the tiny server that introduces two Toss peers.
//!
//! It allocates short numeric nameplates, pairs exactly two peers per room, and relays
//! opaque (sealed) payloads between them. It knows nothing of files, keys or codes' words,
//! and it is the lowest layer: it never imports `toss-core`.

pub mod defaults;
mod limits;
mod metrics;
pub use toss_wire::signal as protocol;
mod rooms;
mod server;

pub use metrics::Metrics;
pub use server::{Config, Server, SpawnError, TlsFiles};
