//! File transfer over an open [`Link`]: the sender offers, the receiver accepts or declines,
//! then each file flows as 16 KiB binary messages framed by `file_start`/`file_end` and is
//! verified with BLAKE3 before it gets its final name.
//!
//! Sits on top of `peer`; knows nothing of signaling or the UI, and reports through
//! [`Events`](crate::Events).

mod journal;
mod manifest;
mod progress;
mod quarantine;
mod ranges;
mod receive;
mod send;
mod shared;
mod sink;
mod writer;

use std::path::PathBuf;

pub use toss_wire::names;
pub use toss_wire::transfer as protocol;

pub use manifest::Manifest;
pub use receive::{receive_offer, IncomingOffer};
pub use send::send;

/// What a finished transfer did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Files transferred.
    pub files: usize,
    /// Bytes transferred.
    pub bytes: u64,
    /// Of those, bytes that were not sent because the receiver held them already.
    pub skipped: u64,
    /// Seconds from the first byte to the last verification.
    pub seconds: f64,
    /// Receiver: the output folder.
    pub saved_to: Option<PathBuf>,
}

impl Summary {
    /// The `done` event that says it.
    pub(crate) fn done_event(&self) -> crate::events::Event {
        crate::events::Event::Done {
            files: self.files,
            bytes: self.bytes,
            skipped: self.skipped,
            seconds: self.seconds,
            saved_to: self
                .saved_to
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
        }
    }
}
