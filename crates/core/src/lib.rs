//! `toss-core`: the product. Codes, PAKE and sealed signaling (`session`), the WebRTC data
//! channel (`peer`), files with hashing and safe saving (`transfer`), and typed events.
//!
//! Headless and UI-free: the CLI and the desktop shell sit on top and only map user actions
//! to these calls and events to output. Everything it reads from a stranger is parsed by
//! `toss-wire`, the signaling messages included. It runs the `toss-signal` server inside
//! this process for a rendezvous on the local network and a device's inbox (`embedded`),
//! and uses that crate for nothing else.

pub mod code;
pub mod config;
pub mod crypto;
pub mod defaults;
mod embedded;
mod error;
pub mod events;
mod handle;
pub mod invite;
pub mod lan;
pub mod peer;
mod rendezvous;
mod server_url;
pub mod session;
pub mod settings;
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod transfer;
pub mod wordlist;

pub use code::{Code, CodeError, Nameplate, Password};
pub use config::{Config, IceServer, Reach, SignalEndpoint};
pub use error::{ConnectFailure, Error, ErrorKind, Phase, Result, Side};
pub use events::{Event, Events};
pub use handle::{
    start_receive, start_receive_knock, start_send, start_send_group, start_send_text,
    start_send_to, start_send_to_devices, Decision, LetIn, Transfer,
};
pub use transfer::Summary;
