//! Recent transfers, kept across restarts as JSON in the app's data folder (newest first,
//! at most [`MAX_RECENT`]). Losing the file loses only the list, never a transfer.
//!
//! [`TransferLog`] turns one transfer's events into its entry, with no I/O and no clock:
//! whoever drives it says when, and writes the entry with [`record`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toss_core::{ErrorKind, Event};

/// How many recent transfers are kept.
pub(crate) const MAX_RECENT: usize = 50;

/// Which way a transfer went, from this computer (`send` or `receive` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    /// This computer sent.
    Send,
    /// This computer received.
    Receive,
}

/// How a transfer ended (`ok`, `failed`, `cancelled` or `declined` in JSON; the UI and the
/// `transfer-ended` event use the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Every file arrived and was verified.
    Ok,
    /// Something went wrong.
    Failed,
    /// Someone cancelled.
    Cancelled,
    /// The receiver said no.
    Declined,
}

impl Outcome {
    /// How a transfer that failed with `kind` counts in the history.
    fn of_error(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Cancelled => Outcome::Cancelled,
            ErrorKind::Declined => Outcome::Declined,
            _ => Outcome::Failed,
        }
    }
}

/// One finished (or failed) transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recent {
    /// First file's name, or the folder's.
    pub(crate) name: String,
    /// Number of files.
    pub(crate) files: usize,
    /// Total bytes.
    pub(crate) size: u64,
    /// Sent or received.
    pub(crate) direction: Direction,
    /// The other side's device name, when known.
    pub(crate) peer: String,
    /// Unix seconds.
    pub(crate) when: u64,
    /// How it ended.
    pub(crate) result: Outcome,
}

/// What is known of one running transfer, gathered from its events until it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransferLog {
    direction: Direction,
    /// What the history calls it: what was chosen (sender), or what was offered (receiver).
    name: String,
    /// The sender's device name, from the offer (receiver only).
    peer: String,
    files: usize,
    size: u64,
}

impl TransferLog {
    /// A send of what the user chose, called `name` in the history.
    pub(crate) fn sending(name: String) -> Self {
        Self::new(Direction::Send, name)
    }

    /// A receive: its name and sender come with the offer.
    pub(crate) fn receiving() -> Self {
        Self::new(Direction::Receive, String::new())
    }

    fn new(direction: Direction, name: String) -> Self {
        Self {
            direction,
            name,
            peer: String::new(),
            files: 0,
            size: 0,
        }
    }

    /// Takes in one event; when it ends the transfer (`done` or `error`), the entry for the
    /// history, dated `now` (Unix seconds).
    pub(crate) fn observe(&mut self, event: &Event, now: u64) -> Option<Recent> {
        let result = match event {
            Event::Offer {
                device,
                files,
                total_bytes,
                text,
            } => {
                self.peer.clone_from(device);
                self.files = files.len();
                self.size = *total_bytes;
                self.name = files
                    .first()
                    .map(|f| f.path.split('/').next().unwrap_or_default().to_owned())
                    .or_else(|| text.as_deref().map(first_line))
                    .unwrap_or_default();
                return None;
            }
            Event::Progress(p) => {
                self.size = p.total;
                return None;
            }
            Event::Done { files, bytes, .. } => {
                self.files = *files;
                self.size = *bytes;
                Outcome::Ok
            }
            Event::Error { kind, .. } => Outcome::of_error(*kind),
            _ => return None,
        };
        Some(Recent {
            name: self.name.clone(),
            files: self.files,
            size: self.size,
            direction: self.direction,
            peer: self.peer.clone(),
            when: now,
            result,
        })
    }
}

/// The first line of a text, at most 60 characters: its name in the history.
pub(crate) fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect()
}

/// The history file: `$XDG_DATA_HOME/toss/recent.json` on Linux.
pub(crate) fn history_path() -> PathBuf {
    directories::ProjectDirs::from("org", "toss", "toss")
        .map(|d| d.data_dir().join("recent.json"))
        .unwrap_or_else(|| PathBuf::from(".toss/recent.json"))
}

/// Reads the list; a missing or damaged file is an empty list.
pub(crate) fn load(path: &Path) -> Vec<Recent> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Puts `entry` first and writes the list back (atomically).
pub(crate) fn record(path: &Path, entry: Recent) {
    let mut list = load(path);
    list.insert(0, entry);
    list.truncate(MAX_RECENT);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&list)?)?;
        std::fs::rename(tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!("could not save the recent transfers: {e}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use toss_core::events::{Direction as Flow, OfferedFile, Progress};

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn progress(direction: Flow, bytes: u64, total: u64) -> Event {
        Event::Progress(Progress {
            direction,
            file_index: 0,
            file_path: "photos/a.jpg".into(),
            file_bytes: bytes,
            file_total: total,
            bytes,
            total,
            rate: 1e6,
            eta_secs: Some(1.0),
        })
    }

    fn done(files: usize, bytes: u64, saved_to: Option<&str>) -> Event {
        Event::Done {
            files,
            bytes,
            skipped: 0,
            seconds: 1.5,
            saved_to: saved_to.map(str::to_owned),
        }
    }

    fn error(kind: ErrorKind, message: &str) -> Event {
        Event::Error {
            message: message.into(),
            kind,
        }
    }

    fn offer(files: &[(&str, u64)], text: Option<&str>) -> Event {
        Event::Offer {
            device: "Ana's laptop".into(),
            files: files
                .iter()
                .map(|(path, size)| OfferedFile {
                    path: (*path).into(),
                    size: *size,
                })
                .collect(),
            total_bytes: files.iter().map(|(_, size)| size).sum(),
            text: text.map(str::to_owned),
        }
    }

    /// Feeds `events` in order; every one but the last must leave the transfer running.
    fn run(mut log: TransferLog, events: &[Event]) -> Recent {
        let (last, before) = events.split_last().expect("events");
        for event in before {
            assert_eq!(log.observe(event, NOW), None, "{event:?} ends nothing");
        }
        log.observe(last, NOW)
            .expect("the last event ends the transfer")
    }

    #[test]
    fn a_send_is_named_after_what_was_chosen_and_counts_what_went() {
        let recent = run(
            TransferLog::sending("photos and 2 more".into()),
            &[
                Event::Code {
                    code: "42-orbit-lemon".into(),
                    link: Some("http://127.0.0.1:8787/#42-orbit-lemon".into()),
                },
                Event::WaitingForAccept,
                Event::Accepted,
                progress(Flow::Send, 10, 3000),
                done(3, 3000, None),
            ],
        );
        assert_eq!(
            recent,
            Recent {
                name: "photos and 2 more".into(),
                files: 3,
                size: 3000,
                direction: Direction::Send,
                peer: String::new(),
                when: NOW,
                result: Outcome::Ok,
            }
        );
    }

    #[test]
    fn a_receive_is_named_after_the_offer_and_its_sender() {
        let recent = run(
            TransferLog::receiving(),
            &[
                offer(&[("photos/a.jpg", 1000), ("photos/b.jpg", 2000)], None),
                Event::Accepted,
                progress(Flow::Receive, 1000, 3000),
                done(2, 3000, Some("/home/u/Downloads")),
            ],
        );
        assert_eq!(
            recent,
            Recent {
                name: "photos".into(),
                files: 2,
                size: 3000,
                direction: Direction::Receive,
                peer: "Ana's laptop".into(),
                when: NOW,
                result: Outcome::Ok,
            }
        );
    }

    #[test]
    fn a_text_is_named_after_its_first_line_cut_at_60_characters() {
        let long = format!("{}\nsecond line", "a".repeat(80));
        let recent = run(
            TransferLog::receiving(),
            &[offer(&[], Some(&long)), Event::Accepted, done(0, 0, None)],
        );
        assert_eq!(recent.name, "a".repeat(60));
        assert_eq!((recent.files, recent.size), (0, 0));
        assert_eq!(recent.result, Outcome::Ok);
        // Files come first in the name when a text goes with them.
        let with_files = run(
            TransferLog::receiving(),
            &[
                offer(&[("notes.txt", 5)], Some("hello")),
                error(ErrorKind::PeerGone, "gone"),
            ],
        );
        assert_eq!(with_files.name, "notes.txt");
    }

    #[test]
    fn a_declined_offer_is_declined() {
        let recent = run(
            TransferLog::sending("report.pdf".into()),
            &[
                Event::WaitingForAccept,
                error(ErrorKind::Declined, "the receiver declined the transfer"),
            ],
        );
        assert_eq!(recent.result, Outcome::Declined);
        assert_eq!(recent.name, "report.pdf");
    }

    #[test]
    fn a_cancel_on_either_side_is_cancelled() {
        let recent = run(
            TransferLog::receiving(),
            &[
                offer(&[("big.iso", 5_000_000)], None),
                Event::Accepted,
                progress(Flow::Receive, 1_000_000, 5_000_000),
                error(
                    ErrorKind::Cancelled,
                    "the other side cancelled the transfer",
                ),
            ],
        );
        assert_eq!(
            recent,
            Recent {
                name: "big.iso".into(),
                files: 1,
                size: 5_000_000,
                direction: Direction::Receive,
                peer: "Ana's laptop".into(),
                when: NOW,
                result: Outcome::Cancelled,
            }
        );
    }

    #[test]
    fn any_other_error_is_a_failure() {
        for kind in ErrorKind::ALL {
            if matches!(kind, ErrorKind::Cancelled | ErrorKind::Declined) {
                continue;
            }
            let recent = run(
                TransferLog::sending("x".into()),
                &[error(kind, "something went wrong")],
            );
            assert_eq!(recent.result, Outcome::Failed, "{kind}");
        }
    }

    /// The UI reads the history and the `transfer-ended` event with these very words.
    #[test]
    fn an_entry_keeps_its_json() {
        let entry = Recent {
            name: "photos".into(),
            files: 2,
            size: 3000,
            direction: Direction::Receive,
            peer: "Ana's laptop".into(),
            when: NOW,
            result: Outcome::Declined,
        };
        let value = json!({
            "name": "photos",
            "files": 2,
            "size": 3000,
            "direction": "receive",
            "peer": "Ana's laptop",
            "when": NOW,
            "result": "declined",
        });
        assert_eq!(serde_json::to_value(&entry).expect("serializes"), value);
        assert_eq!(
            serde_json::from_value::<Recent>(value).expect("reads back"),
            entry
        );
        let words: Vec<serde_json::Value> = [
            (Direction::Send, Outcome::Ok),
            (Direction::Receive, Outcome::Failed),
            (Direction::Send, Outcome::Cancelled),
        ]
        .iter()
        .flat_map(|(d, o)| [json!(d), json!(o)])
        .collect();
        assert_eq!(
            words,
            [
                json!("send"),
                json!("ok"),
                json!("receive"),
                json!("failed"),
                json!("send"),
                json!("cancelled")
            ]
        );
    }

    #[test]
    fn newest_first_and_capped() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("d/recent.json");
        for i in 0..(MAX_RECENT + 5) {
            record(
                &path,
                Recent {
                    name: format!("f{i}"),
                    files: 1,
                    size: 1,
                    direction: Direction::Send,
                    peer: String::new(),
                    when: i as u64,
                    result: Outcome::Ok,
                },
            );
        }
        let list = load(&path);
        assert_eq!(list.len(), MAX_RECENT);
        assert_eq!(list[0].name, format!("f{}", MAX_RECENT + 4));
    }
}
