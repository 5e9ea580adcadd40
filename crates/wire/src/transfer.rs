//! The transfer protocol's control messages: JSON text with a version field, one per
//! (reassembled) text message on the data channel. File bytes travel as binary messages
//! between `file_start` and `file_end` and never pass through here.
//!
//! Parsing only; the send and receive loops decide what a message means in their state.

use serde::{Deserialize, Serialize};

/// Version of the transfer protocol.
pub const TRANSFER_VERSION: u32 = 1;

/// One file in an offer, as the sender describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative path, `/`-separated. Untrusted on the receiving side.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Every control message, in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Control {
    /// Sender -> receiver: what is on offer.
    Offer {
        /// Sender's device name (untrusted text).
        device: String,
        /// The files, in the order they will be sent.
        files: Vec<FileEntry>,
        /// A short text or link sent along (or alone, with no files).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The sender keeps to a window the receiver sets in its accept (see
        /// [`Control::Consumed`]). Absent (false) from senders that do not.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        paced: bool,
    },
    /// Receiver -> sender: yes, starting each file at the given offset (0 for new files).
    /// A non-zero offset is where the receiver already holds the file's first bytes, from an
    /// earlier transfer that was cut off; the sender may take it or start again from 0.
    Accept {
        /// One offset per offered file.
        offsets: Vec<u64>,
        /// One per offered file when any offset is non-zero: what the receiver holds before
        /// its offset, as a digest of per-range BLAKE3 chaining values ("" for offset 0).
        /// The sender resumes only if its own file starts the same way.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        prefixes: Vec<String>,
        /// Only to a `paced` offer: at most this many file bytes may be on their way beyond
        /// what the receiver has said it took ([`Control::Consumed`]). A receiver that cannot
        /// slow the network down itself (a browser) sets it; absent, the sender is not held.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<u64>,
    },
    /// Receiver -> sender: no.
    Decline,
    /// Sender -> receiver: the binary messages that follow belong to file `index`.
    FileStart {
        /// Index into the offer.
        index: usize,
        /// Where in the file the bytes start: 0, or the offset the receiver accepted with.
        offset: u64,
    },
    /// Sender -> receiver: file `index` is complete; its whole content has this BLAKE3 hash.
    FileEnd {
        /// Index into the offer.
        index: usize,
        /// Lowercase hex BLAKE3 of the whole file.
        blake3: String,
    },
    /// Receiver -> sender: file `index` arrived, verified and saved.
    FileOk {
        /// Index into the offer.
        index: usize,
    },
    /// Receiver -> sender, only after an accept with a window: the file bytes it has taken
    /// so far in this transfer (a running total of the bytes of binary messages).
    Consumed {
        /// The running total.
        bytes: u64,
    },
    /// Receiver -> sender: every file is saved.
    Done,
    /// Either way: the user cancelled.
    Cancel,
    /// Either way: the transfer failed on this side.
    Error {
        /// A sentence for the other side's user.
        message: String,
    },
    /// A type this side does not know.
    #[serde(other)]
    Unknown,
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u32,
    #[serde(flatten)]
    msg: &'a Control,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Encodes a control message with the protocol version.
pub fn encode(msg: &Control) -> String {
    // Strings and integers only: serialization cannot fail.
    serde_json::to_string(&Versioned {
        v: TRANSFER_VERSION,
        msg,
    })
    .unwrap_or_default()
}

/// Why a control message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON, or not a control message.
    #[error("a control message is not valid JSON of the transfer protocol")]
    Malformed,
    /// Another protocol version.
    #[error("the other side speaks transfer protocol version {0}; update Toss on both computers")]
    Version(u32),
    /// A type this side does not know.
    #[error("the other side sent an unknown control message")]
    UnknownType,
}

/// Parses a control message.
///
/// # Errors
/// [`ParseError`] for anything but a known message of this version.
pub fn decode(text: &str) -> Result<Control, ParseError> {
    let VersionOnly { v } = serde_json::from_str(text).map_err(|_| ParseError::Malformed)?;
    if v != TRANSFER_VERSION {
        return Err(ParseError::Version(v));
    }
    match serde_json::from_str(text).map_err(|_| ParseError::Malformed)? {
        Control::Unknown => Err(ParseError::UnknownType),
        msg => Ok(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn j(msg: &Control) -> Value {
        serde_json::from_str(&encode(msg)).expect("json")
    }

    #[test]
    fn messages_pin_their_json() {
        assert_eq!(
            j(&Control::Offer {
                device: "laptop".into(),
                files: vec![FileEntry {
                    path: "a/b.txt".into(),
                    size: 3
                }],
                text: None,
                paced: false,
            }),
            json!({"v":1,"type":"offer","device":"laptop","files":[{"path":"a/b.txt","size":3}]})
        );
        assert_eq!(
            j(&Control::Offer {
                device: "laptop".into(),
                files: vec![],
                text: Some("hi".into()),
                paced: true,
            }),
            json!({"v":1,"type":"offer","device":"laptop","files":[],"text":"hi","paced":true})
        );
        assert_eq!(
            j(&Control::Offer {
                device: "phone".into(),
                files: vec![],
                text: Some("https://example.org".into()),
                paced: false,
            }),
            json!({"v":1,"type":"offer","device":"phone","files":[],"text":"https://example.org"})
        );
        assert_eq!(
            j(&Control::Accept {
                offsets: vec![0],
                prefixes: vec![],
                window: None,
            }),
            json!({"v":1,"type":"accept","offsets":[0]})
        );
        assert_eq!(
            j(&Control::Accept {
                offsets: vec![0],
                prefixes: vec![],
                window: Some(16777216),
            }),
            json!({"v":1,"type":"accept","offsets":[0],"window":16777216})
        );
        assert_eq!(
            j(&Control::Consumed { bytes: 2097152 }),
            json!({"v":1,"type":"consumed","bytes":2097152})
        );
        assert_eq!(
            j(&Control::Accept {
                offsets: vec![0, 4194304],
                prefixes: vec![String::new(), "ab".into()],
                window: None,
            }),
            json!({"v":1,"type":"accept","offsets":[0,4194304],"prefixes":["","ab"]})
        );
        assert_eq!(j(&Control::Decline), json!({"v":1,"type":"decline"}));
        assert_eq!(
            j(&Control::FileStart {
                index: 2,
                offset: 0
            }),
            json!({"v":1,"type":"file_start","index":2,"offset":0})
        );
        assert_eq!(
            j(&Control::FileEnd {
                index: 2,
                blake3: "ab".into()
            }),
            json!({"v":1,"type":"file_end","index":2,"blake3":"ab"})
        );
        assert_eq!(
            j(&Control::FileOk { index: 2 }),
            json!({"v":1,"type":"file_ok","index":2})
        );
        assert_eq!(j(&Control::Done), json!({"v":1,"type":"done"}));
        assert_eq!(j(&Control::Cancel), json!({"v":1,"type":"cancel"}));
        assert_eq!(
            j(&Control::Error {
                message: "disk full".into()
            }),
            json!({"v":1,"type":"error","message":"disk full"})
        );
    }

    #[test]
    fn decode_round_trips_and_refuses() {
        let msg = Control::FileOk { index: 7 };
        assert_eq!(decode(&encode(&msg)), Ok(msg));
        assert_eq!(decode("nope"), Err(ParseError::Malformed));
        assert_eq!(
            decode(r#"{"v":2,"type":"done"}"#),
            Err(ParseError::Version(2))
        );
        assert_eq!(
            decode(r#"{"v":1,"type":"warp"}"#),
            Err(ParseError::UnknownType)
        );
        assert_eq!(
            decode(r#"{"v":1,"type":"file_start","index":-1,"offset":0}"#),
            Err(ParseError::Malformed)
        );
        assert_eq!(
            decode(r#"{"v":1,"type":"offer","device":"x","files":[{"path":"a","size":1e30}]}"#),
            Err(ParseError::Malformed)
        );
    }
}
