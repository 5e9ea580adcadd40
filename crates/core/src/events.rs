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
        /// The same code as a link a browser opens to receive, at the server hosting the
        /// room, which serves the web peer's page: `http://192.168.1.20:PORT/#42-orbit-lemon`
        /// for a rendezvous on this network, `https://SERVER/#42-orbit-lemon` for a `wss://`
        /// server (docs/protocol.md, section 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        link: Option<String>,
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
    /// Probing a direct path that is not known to be local (path MTU discovery) found the
    /// largest packet it carries: the connection now sends packets of this size instead
    /// of the [`Event::Connected`] one.
    PathProbed {
        /// Largest SCTP packet this side sends now, in bytes.
        packet_size: u32,
    },
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
    /// A group code's sender: a receiver came with the code, its key confirmation
    /// succeeded, and it waits to be let in ([`crate::Transfer::decide_for`] with its number;
    /// nothing is offered to it before). Both screens show the words.
    Joiner {
        /// The receiver's device name, when it said one.
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// Two words that must match on the receiver's screen.
        verification: String,
    },
    /// A group code takes nobody else (someone typed a wrong code); the receivers already
    /// connected carry on. A fresh code is a new send.
    CodeEnded {
        /// A sentence for a person.
        message: String,
    },
    /// What happens with one receiver of a group code: any event of a single transfer
    /// (`peer_connected`, `connected`, `accepted`, `progress`, `file_done`, `done`,
    /// `error`, ...), or `joiner`, with the receiver's number. Each receiver ends with its
    /// own `done` or `error`; the transfer as a whole ends with one more, untagged.
    #[serde(untagged)]
    Receiver(Tagged),
}

/// An event of one receiver of a group code: `{"receiver":2,"event":"progress",...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The receiver's number (1, 2, ... in the order they joined).
    pub receiver: u32,
    /// What happened.
    pub event: Box<Event>,
}

impl Serialize for Tagged {
    /// The event's own object with `receiver` first. Written by hand: serde's `flatten` of an
    /// [`Event`] inside an [`Event`] would make the compiler build serializers without end.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let serde_json::Value::Object(fields) =
            serde_json::to_value(self.event.as_ref()).map_err(S::Error::custom)?
        else {
            return Err(S::Error::custom("an event serializes as an object"));
        };
        let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
        map.serialize_entry("receiver", &self.receiver)?;
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Event {
    /// Whether this event waits for the user's answer on [`crate::Transfer::decide`]: an
    /// offer of files (a text alone is taken without asking), or words to compare before
    /// a nearby send.
    pub fn awaits_decision(&self) -> bool {
        match self {
            Event::Offer { files, .. } => !files.is_empty(),
            Event::CheckWords { .. } | Event::Joiner { .. } => true,
            Event::Receiver(tagged) => tagged.event.awaits_decision(),
            _ => false,
        }
    }
}

/// Where events go. Sending never blocks and never fails the session: a listener that went
/// away just stops hearing.
#[derive(Debug, Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<Event>,
    /// The receiver of a group code these events are about, if any.
    receiver: Option<u32>,
}

impl Events {
    /// A sender and the stream to read events from.
    pub fn channel() -> (Events, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Events { tx, receiver: None }, rx)
    }

    /// A sink that drops everything.
    pub fn discard() -> Events {
        let (tx, _) = mpsc::unbounded_channel();
        Events { tx, receiver: None }
    }

    /// The same stream, each event tagged with a group code's receiver ([`Event::Receiver`]).
    pub(crate) fn for_receiver(&self, receiver: u32) -> Events {
        Events {
            tx: self.tx.clone(),
            receiver: Some(receiver),
        }
    }

    pub(crate) fn emit(&self, event: Event) {
        let event = match self.receiver {
            Some(receiver) => Event::Receiver(Tagged {
                receiver,
                event: Box::new(event),
            }),
            None => event,
        };
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::error::{ConnectFailure, Error, Phase, Side};
    use crate::peer::{PathInfo, PathKind};

    /// Lists the fixture's examples by variant, and writes `covered`, a `match` over
    /// [`Event`] with one arm per variant listed and no wildcard arm: inside this crate
    /// `#[non_exhaustive]` does not excuse a missing arm, so a new variant fails to compile
    /// until it is listed here with at least one example.
    macro_rules! fixture {
        ($($variant:ident => [$($example:expr),+ $(,)?]),+ $(,)?) => {
            fn covered(event: &Event) {
                match event {
                    $(Event::$variant { .. } => {})+
                }
            }

            /// Every example with the variant it is listed under.
            fn examples() -> Vec<(&'static str, Event)> {
                vec![$($((stringify!($variant), $example)),+),+]
            }

            /// Whether `event` is of the variant named `variant`.
            fn is_variant(variant: &str, event: &Event) -> bool {
                match variant {
                    $(stringify!($variant) => matches!(event, Event::$variant { .. }),)+
                    _ => false,
                }
            }
        };
    }

    fn error(e: Error) -> Event {
        Event::Error {
            message: e.to_string(),
            kind: e.kind(),
        }
    }

    fn file(path: &str, size: u64) -> OfferedFile {
        OfferedFile {
            path: path.into(),
            size,
        }
    }

    const MIB: u64 = 1024 * 1024;

    fixture! {
        Code => [
            Event::Code {
                code: "42-orbit-lemon".into(),
                link: Some("http://192.168.1.20:41234/#42-orbit-lemon".into()),
            },
            // A signaling server whose URL makes no link (not ws:// or wss://).
            Event::Code {
                code: "7-kiwi-ocean".into(),
                link: None,
            },
        ],
        Notice => [Event::Notice {
            message: "No signaling server answered at ws://127.0.0.1:9000; this code works on this local network only.".into(),
        }],
        PeerConnected => [Event::PeerConnected {
            verification: "otter lantern".into(),
        }],
        CheckWords => [Event::CheckWords {
            verification: "kiwi ocean".into(),
        }],
        Connected => [
            Event::Connected {
                path: PathInfo {
                    kind: PathKind::Direct,
                    local_network: true,
                    packet_size: 8220,
                    probe_up_to: 0,
                },
            },
            Event::Connected {
                path: PathInfo {
                    kind: PathKind::Stun,
                    local_network: false,
                    packet_size: 1191,
                    probe_up_to: 0,
                },
            },
            Event::Connected {
                path: PathInfo {
                    kind: PathKind::Relay,
                    local_network: false,
                    packet_size: 1191,
                    probe_up_to: 0,
                },
            },
        ],
        Offer => [
            Event::Offer {
                device: "Ana's laptop".into(),
                files: vec![
                    file("holiday/beach.jpg", 3 * MIB + 512 * 1024),
                    file("holiday/notes.txt", 1536),
                    file("report.pdf", 2 * MIB),
                ],
                total_bytes: 5 * MIB + 512 * 1024 + 1536,
                text: None,
            },
            Event::Offer {
                device: "Ana's laptop".into(),
                files: Vec::new(),
                total_bytes: 0,
                text: Some("https://example.com/holiday-album".into()),
            },
            Event::Offer {
                device: "Ana's laptop".into(),
                files: vec![file("report.pdf", 2 * MIB)],
                total_bytes: 2 * MIB,
                text: Some("The report, page 4 is the one.".into()),
            },
        ],
        WaitingForAccept => [Event::WaitingForAccept],
        Accepted => [Event::Accepted],
        Progress => [
            Event::Progress(Progress {
                direction: Direction::Receive,
                file_index: 0,
                file_path: "holiday/beach.jpg".into(),
                file_bytes: 1536 * 1024,
                file_total: 3 * MIB + 512 * 1024,
                bytes: 1536 * 1024,
                total: 5 * MIB + 512 * 1024 + 1536,
                rate: 12.5 * MIB as f64,
                eta_secs: Some(0.34),
            }),
            // A sender's first report, before a speed is known.
            Event::Progress(Progress {
                direction: Direction::Send,
                file_index: 1,
                file_path: "holiday/notes.txt".into(),
                file_bytes: 0,
                file_total: 1536,
                bytes: 3 * MIB + 512 * 1024,
                total: 5 * MIB + 512 * 1024 + 1536,
                rate: 0.0,
                eta_secs: None,
            }),
        ],
        FileDone => [Event::FileDone {
            index: 0,
            path: "holiday/beach.jpg".into(),
            bytes: 3 * MIB + 512 * 1024,
        }],
        Interrupted => [Event::Interrupted],
        Restored => [Event::Restored],
        PathProbed => [Event::PathProbed { packet_size: 1432 }],
        Reconnecting => [Event::Reconnecting {
            attempt: 2,
            attempts: 5,
        }],
        Resumed => [Event::Resumed {
            index: 0,
            path: "holiday/beach.jpg".into(),
            offset: 2 * MIB,
        }],
        Done => [
            Event::Done {
                files: 3,
                bytes: 5 * MIB + 512 * 1024 + 1536,
                skipped: 2 * MIB,
                seconds: 2.5,
                saved_to: Some("/home/ana/Downloads".into()),
            },
            Event::Done {
                files: 3,
                bytes: 5 * MIB + 512 * 1024 + 1536,
                skipped: 0,
                seconds: 75.0,
                saved_to: None,
            },
            // A text alone: nothing saved, but the receiver names its folder all the same.
            Event::Done {
                files: 0,
                bytes: 0,
                skipped: 0,
                seconds: 0.2,
                saved_to: Some("/home/ana/Downloads".into()),
            },
        ],
        Error => [
            error(Error::WrongCode),
            error(Error::Declined),
            error(Error::Cancelled(Side::Local)),
            error(Error::Cancelled(Side::Peer)),
            error(Error::PeerGone),
            error(Error::Connect(ConnectFailure::NoDirectPath)),
            error(Error::NoSpace {
                needed: 5 * MIB,
                available: MIB,
            }),
            error(Error::Unreachable(5)),
            error(Error::WordsDiffer),
            error(Error::TimedOut(Phase::KeyExchange)),
            error(Error::Corrupt("holiday/beach.jpg".into())),
            error(Error::DiskFull("/home/ana/Downloads/holiday/beach.jpg.part".into())),
            // The signaling server and its relay, each with a sentence of its own.
            error(Error::SignalUnreachable {
                url: "wss://toss.example.org".into(),
                reason: "no answer in time".into(),
            }),
            error(Error::SignalCertificate {
                url: "wss://toss.example.org".into(),
                reason: "UnknownIssuer".into(),
            }),
            error(Error::NoRelay("turn unavailable".into())),
            error(Error::TurnRefused),
            error(Error::TurnedAway),
            error(Error::SomeReceiversMissed { done: 2, of: 3 }),
        ],
        Joiner => [
            Event::Joiner {
                device: Some("Ana's laptop".into()),
                verification: "otter lantern".into(),
            },
            // The web page and older versions say no device name.
            Event::Joiner {
                device: None,
                verification: "kiwi ocean".into(),
            },
        ],
        CodeEnded => [Event::CodeEnded {
            message: "Someone typed this code with other words, so it lets nobody else in; the receivers already connected carry on. Send again for a fresh code.".into(),
        }],
        Receiver => [
            Event::Receiver(Tagged {
                receiver: 1,
                event: Box::new(Event::PeerConnected {
                    verification: "otter lantern".into(),
                }),
            }),
            Event::Receiver(Tagged {
                receiver: 1,
                event: Box::new(Event::Joiner {
                    device: Some("Ana's laptop".into()),
                    verification: "otter lantern".into(),
                }),
            }),
            Event::Receiver(Tagged {
                receiver: 2,
                event: Box::new(Event::Progress(Progress {
                    direction: Direction::Send,
                    file_index: 0,
                    file_path: "holiday/beach.jpg".into(),
                    file_bytes: MIB,
                    file_total: 4 * MIB,
                    bytes: MIB,
                    total: 4 * MIB,
                    rate: 2.0 * MIB as f64,
                    eta_secs: Some(1.5),
                })),
            }),
            Event::Receiver(Tagged {
                receiver: 2,
                event: Box::new(Event::Done {
                    files: 1,
                    bytes: 4 * MIB,
                    skipped: 0,
                    seconds: 2.0,
                    saved_to: None,
                }),
            }),
            Event::Receiver(Tagged {
                receiver: 3,
                event: Box::new(error(Error::Declined)),
            }),
        ],
    }

    /// Where the UI's tests read every event from.
    fn fixture_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/tests/fixtures/events.json")
    }

    /// Writes every event as the UI receives it to `ui/tests/fixtures/events.json`, which
    /// the UI's own tests (`node --test ui/tests/`) run through its modules; fails when the
    /// file had other content, so that a change to an event reaches the UI's tests.
    #[test]
    fn the_ui_fixture_holds_every_event_as_serialized() {
        let examples = examples();
        for (variant, event) in &examples {
            covered(event);
            assert!(
                is_variant(variant, event),
                "{event:?} is listed under {variant}"
            );
        }
        let events: Vec<serde_json::Value> = examples
            .iter()
            .map(|(_, e)| serde_json::to_value(e).expect("an event serializes"))
            .collect();
        let text = serde_json::to_string_pretty(&events).expect("the fixture serializes") + "\n";
        let path = fixture_path();
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        if before != text {
            std::fs::create_dir_all(path.parent().expect("a parent folder"))
                .expect("the fixture folder can be created");
            std::fs::write(&path, &text).expect("the fixture can be written");
            panic!(
                "ui/tests/fixtures/events.json was out of date and has been rewritten: run the UI tests (node --test ui/tests/) and commit the new file"
            );
        }
    }
}
