//! The typed events a session emits, consumed by the CLI (terminal lines or `--json`) and
//! the desktop app (pixels). Serializable, one JSON object per event.
//!
//! Events describe; they never ask. Decisions (accept, decline, cancel) go through the
//! [`crate::Transfer`] handle.

use serde::Serialize;
use tokio::sync::mpsc;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Which way bytes flow for this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// This side sends.
    Send,
    /// This side receives.
    Receive,
}

/// One file as listed in an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferedFile {
    /// Relative path with `/` separators, already made safe for display and disk.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where a transfer stands, throttled to about ten a second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Send or receive.
    pub direction: Direction,
    /// Index of the current file in the offer.
    pub file_index: usize,
    /// Path of the current file.
    pub file_path: String,
    /// Bytes of the current file done.
    pub file_bytes: u64,
    /// Size of the current file.
    pub file_total: u64,
    /// Bytes done over all files.
    pub bytes: u64,
    /// Size of all files.
    pub total: u64,
    /// Recent speed in bytes per second.
    pub rate: f64,
    /// Estimated seconds left, once a speed is known.
    pub eta_secs: Option<f64>,
}

/// Everything a listener is told.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The sender has a code to read out.
    Code {
        /// The whole code, e.g. `42-orbit-lemon`.
        code: String,
    },
    /// Worth telling the user, without changing what happens next (for example that the
    /// code works on this local network only).
    Notice {
        /// A sentence for a person.
        message: String,
    },
    /// The other side entered the room with the same code; both see these words.
    PeerConnected {
        /// Two words that must match on both screens.
        verification: String,
    },
    /// A send to a nearby device: this side's user must check that the other screen shows
    /// these same words and answer on the handle ([`crate::Decision::Accept`]: they match)
    /// before anything is offered. Nearby devices share no secret code, so the words are
    /// what proves nobody is in the middle.
    CheckWords {
        /// The two words, as in [`Event::PeerConnected`].
        verification: String,
    },
    /// The data channel is open, over this network path.
    Connected {
        /// How the bytes travel.
        path: crate::peer::PathInfo,
    },
    /// The sender offers these files (receiver side).
    Offer {
        /// The sender's device name.
        device: String,
        /// The files, in transfer order.
        files: Vec<OfferedFile>,
        /// Sum of their sizes.
        total_bytes: u64,
        /// A short text or link sent along, safe to show as text.
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The offer is on its way and waits for the receiver's answer (sender side).
    WaitingForAccept,
    /// The receiver accepted; bytes start flowing.
    Accepted,
    /// Bytes are moving.
    Progress(Progress),
    /// One file arrived and passed its hash check.
    FileDone {
        /// Index in the offer.
        index: usize,
        /// Path relative to the output folder as saved (receiver) or as sent (sender).
        path: String,
        /// Its size.
        bytes: u64,
    },
    /// No packet has come from the other computer for a few seconds; the connection may
    /// come back by itself.
    Interrupted,
    /// The connection came back by itself after [`Event::Interrupted`].
    Restored,
    /// The connection was lost; a fresh one is being tried (attempt `attempt` of
    /// `attempts`). A [`Event::Connected`] follows when it works, and the transfer goes on
    /// from where it stopped.
    Reconnecting {
        /// 1, 2, ...
        attempt: u32,
        /// How many will be tried.
        attempts: u32,
    },
    /// A file picks up where an earlier attempt that was cut off stopped: its first
    /// `offset` bytes are already on the receiver's disk and are not sent again.
    Resumed {
        /// Index in the offer.
        index: usize,
        /// Its path in the offer (sanitized on the receiving side).
        path: String,
        /// Bytes already there.
        offset: u64,
    },
    /// Every file arrived and verified.
    Done {
        /// Number of files.
        files: usize,
        /// Total bytes.
        bytes: u64,
        /// Of those, bytes that were not sent because the receiver held them already.
        #[serde(skip_serializing_if = "is_zero")]
        skipped: u64,
        /// Seconds from the first byte to the last verification.
        seconds: f64,
        /// Where they were saved (receiver only).
        #[serde(skip_serializing_if = "Option::is_none")]
        saved_to: Option<String>,
    },
    /// The session failed; no more events follow.
    Error {
        /// A sentence for a person.
        message: String,
        /// A stable name for scripts (`wrong_code`, `declined`, `peer_gone`, ...).
        kind: crate::ErrorKind,
    },
}

impl Event {
    /// Whether this event waits for the user's answer on [`crate::Transfer::decide`]: an
    /// offer of files (a text alone is taken without asking), or words to compare before
    /// a nearby send.
    pub fn awaits_decision(&self) -> bool {
        match self {
            Event::Offer { files, .. } => !files.is_empty(),
            Event::CheckWords { .. } => true,
            _ => false,
        }
    }
}

/// Where events go. Sending never blocks and never fails the session: a listener that went
/// away just stops hearing.
#[derive(Debug, Clone)]
pub struct Events(mpsc::UnboundedSender<Event>);

impl Events {
    /// A sender and the stream to read events from.
    pub fn channel() -> (Events, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Events(tx), rx)
    }

    /// A sink that drops everything.
    pub fn discard() -> Events {
        let (tx, _) = mpsc::unbounded_channel();
        Events(tx)
    }

    pub(crate) fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }
}
