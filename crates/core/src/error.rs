//! The one error type of `toss-core`: every failure a caller can meet, each with a message
//! a person understands and predicates for what callers decide on.

use std::path::PathBuf;

use crate::code::CodeError;

/// Who ended a transfer early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This computer.
    Local,
    /// The other computer.
    Peer,
}

/// A stage of setting up a session, each with its own time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Waiting for the signaling server to answer a request.
    ServerAnswer,
    /// The key exchange with the other side (PAKE and key confirmation).
    KeyExchange,
}

impl Phase {
    fn sentence(self) -> &'static str {
        match self {
            Phase::ServerAnswer => {
                "the signaling server did not answer in time; check the connection and try again"
            }
            Phase::KeyExchange => {
                "the other side did not finish the key exchange in time; check the code, or ask the sender for a new one"
            }
        }
    }
}

/// Why a connection to the other computer could not be made or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// ICE found no path within the setup's time limit.
    NoPathInTime,
    /// ICE tried every pair of addresses and none worked.
    NoDirectPath,
    /// A path was found, but the handshakes over it (DTLS, SCTP) did not finish.
    HandshakeStalled,
    /// The other side began this setup afresh (a newer offer) while it ran.
    PeerStartedOver,
    /// The path stopped carrying packets while the stack still called it connected.
    SendStalled,
}

impl ConnectFailure {
    fn sentence(self) -> String {
        match self {
            ConnectFailure::NoPathInTime => {
                "no network path was found in time (a firewall may block it; a TURN server can help)".into()
            }
            ConnectFailure::NoDirectPath => {
                "the two computers could not reach each other directly (a TURN server can help)".into()
            }
            ConnectFailure::HandshakeStalled => {
                "the secure connection did not complete over the network path that was found".into()
            }
            ConnectFailure::PeerStartedOver => "the other computer started over".into(),
            ConnectFailure::SendStalled => format!(
                "the connection stalled: nothing could be sent for {} seconds",
                crate::defaults::SEND_STALL_TIMEOUT.as_secs()
            ),
        }
    }
}

/// A stable, machine-readable name for each [`Error`], for `--json` output, the app and
/// scripts. The JSON strings never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::BadCode`].
    BadCode,
    /// [`Error::SignalUnreachable`].
    SignalUnreachable,
    /// [`Error::SignalCertificate`].
    SignalCertificate,
    /// [`Error::SignalRefused`].
    SignalRefused,
    /// [`Error::SignalLost`].
    SignalLost,
    /// [`Error::WrongCode`].
    WrongCode,
    /// [`Error::Tampered`].
    Tampered,
    /// [`Error::PeerGone`].
    PeerGone,
    /// [`Error::Connect`].
    Connect,
    /// [`Error::LocalNetwork`].
    LocalNetwork,
    /// [`Error::Declined`].
    Declined,
    /// [`Error::Cancelled`].
    Cancelled,
    /// [`Error::PeerFailed`].
    PeerFailed,
    /// [`Error::Protocol`].
    Protocol,
    /// [`Error::Corrupt`].
    Corrupt,
    /// [`Error::NoSpace`].
    NoSpace,
    /// [`Error::DiskFull`].
    DiskFull,
    /// [`Error::Io`].
    Io,
    /// [`Error::Input`].
    Input,
    /// [`Error::Busy`].
    Busy,
    /// [`Error::WebRtc`].
    #[serde(rename = "webrtc")]
    WebRtc,
    /// [`Error::Unreachable`].
    Unreachable,
    /// [`Error::TimedOut`].
    TimedOut,
    /// [`Error::WordsDiffer`].
    WordsDiffer,
    /// [`Error::WriterStopped`].
    WriterStopped,
    /// [`Error::Internal`].
    Internal,
    /// [`Error::NoRelay`].
    NoRelay,
    /// [`Error::TurnRefused`].
    TurnRefused,
    /// [`Error::TurnedAway`].
    TurnedAway,
    /// [`Error::SomeReceiversMissed`].
    SomeReceiversMissed,
}

impl ErrorKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [ErrorKind; 30] = [
        ErrorKind::BadCode,
        ErrorKind::SignalUnreachable,
        ErrorKind::SignalRefused,
        ErrorKind::SignalLost,
        ErrorKind::WrongCode,
        ErrorKind::Tampered,
        ErrorKind::PeerGone,
        ErrorKind::Connect,
        ErrorKind::LocalNetwork,
        ErrorKind::Declined,
        ErrorKind::Cancelled,
        ErrorKind::PeerFailed,
        ErrorKind::Protocol,
        ErrorKind::Corrupt,
        ErrorKind::NoSpace,
        ErrorKind::DiskFull,
        ErrorKind::Io,
        ErrorKind::Input,
        ErrorKind::Busy,
        ErrorKind::WebRtc,
        ErrorKind::Unreachable,
        ErrorKind::TimedOut,
        ErrorKind::WordsDiffer,
        ErrorKind::WriterStopped,
        ErrorKind::Internal,
        ErrorKind::SignalCertificate,
        ErrorKind::NoRelay,
        ErrorKind::TurnRefused,
        ErrorKind::TurnedAway,
        ErrorKind::SomeReceiversMissed,
    ];

    /// The name as it appears in JSON (`wrong_code`, `declined`, `peer_gone`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadCode => "bad_code",
            ErrorKind::SignalUnreachable => "signal_unreachable",
            ErrorKind::SignalRefused => "signal_refused",
            ErrorKind::SignalLost => "signal_lost",
            ErrorKind::WrongCode => "wrong_code",
            ErrorKind::Tampered => "tampered",
            ErrorKind::PeerGone => "peer_gone",
            ErrorKind::Connect => "connect",
            ErrorKind::LocalNetwork => "local_network",
            ErrorKind::Declined => "declined",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::PeerFailed => "peer_failed",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::Io => "io",
            ErrorKind::Input => "input",
            ErrorKind::Busy => "busy",
            ErrorKind::WebRtc => "webrtc",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::WordsDiffer => "words_differ",
            ErrorKind::WriterStopped => "writer_stopped",
            ErrorKind::Internal => "internal",
            ErrorKind::SignalCertificate => "signal_certificate",
            ErrorKind::NoRelay => "no_relay",
            ErrorKind::TurnRefused => "turn_refused",
            ErrorKind::TurnedAway => "turned_away",
            ErrorKind::SomeReceiversMissed => "some_receivers_missed",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in a session or transfer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The code as typed is not a code.
    #[error("{0}")]
    BadCode(#[from] CodeError),
    /// The signaling server could not be reached or spoke nonsense.
    #[error("cannot reach the signaling server at {url}: {reason}")]
    SignalUnreachable {
        /// The URL tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The signaling server's TLS certificate did not verify (`wss://`): a self-signed or
    /// private certificate not given with `--signal-ca`, a wrong host name, an expired one.
    #[error("the signaling server at {url} showed a certificate this computer does not trust ({reason}); if it is your own server with a private certificate, add its CA to this computer's trusted certificates (or give it to toss with --signal-ca)")]
    SignalCertificate {
        /// The URL tried.
        url: String,
        /// What the TLS library said.
        reason: String,
    },
    /// The signaling server refused a request.
    #[error("{0}")]
    SignalRefused(String),
    /// The signaling connection dropped during setup.
    #[error("lost the connection to the signaling server before the other side was reached")]
    SignalLost,
    /// The PAKE failed: the two sides used different codes.
    #[error("wrong code: the code was mistyped, or someone tried to guess it; ask the sender for a new code")]
    WrongCode,
    /// A sealed signaling message did not open: tampered or forged on the way.
    #[error("the connection was tampered with on the way (it failed its integrity check against the code); the transfer was stopped")]
    Tampered,
    /// The other side left during setup or transfer.
    #[error("the other side disconnected before the transfer finished")]
    PeerGone,
    /// No network path was found between the two computers.
    #[error("could not connect to the other computer: {}", .0.sentence())]
    Connect(ConnectFailure),
    /// The receiver said no.
    #[error("the receiver declined the transfer")]
    Declined,
    /// Someone cancelled.
    #[error("{}", match .0 { Side::Local => "the transfer was cancelled", Side::Peer => "the other side cancelled the transfer" })]
    Cancelled(Side),
    /// The other side reported a failure on its end.
    #[error("the other side stopped the transfer: {0}")]
    PeerFailed(String),
    /// The other side broke the transfer protocol.
    #[error("the other side sent something invalid: {0}")]
    Protocol(String),
    /// A received file did not match the sender's hash.
    #[error("{0} arrived damaged (its checksum does not match); it was not kept")]
    Corrupt(String),
    /// The receiver's disk has too little room.
    #[error(
        "not enough free disk space: the transfer needs {needed} bytes but {available} are free"
    )]
    NoSpace {
        /// Bytes the offer needs.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// The disk filled up while a file was being written.
    #[error("the disk is full: {} could not be written; free some space and try again", .0.display())]
    DiskFull(PathBuf),
    /// A local file or folder operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The caller asked for something impossible (no files, unreadable path...).
    #[error("{0}")]
    Input(String),
    /// Something in this program failed that no input should make fail (a thread that
    /// could not start or stopped half-way).
    #[error("something went wrong inside Toss: {0}")]
    Internal(String),
    /// The WebRTC stack failed.
    #[error("the peer connection failed: {0}")]
    WebRtc(String),
    /// Another transfer is receiving the same files into the same folder right now.
    #[error("another transfer is already receiving these files into {}; wait for it to finish or choose another folder", .0.display())]
    Busy(PathBuf),
    /// The connection was lost mid-transfer, and the attempts in a row to bring it back
    /// moved no file data (none connected, or each failed right after connecting).
    #[error("the connection to the other computer was lost and {} in a row to bring it back moved no data; send the same files again to pick up where they stopped", attempts(*.0))]
    Unreachable(u32),
    /// Finding or announcing devices on the local network failed.
    #[error("{0}")]
    LocalNetwork(String),
    /// This side's user saw other verification words than the other screen showed.
    #[error("the verification words were not the same on both screens, so someone may be in the middle; nothing was sent")]
    WordsDiffer,
    /// The receiver's disk writer stopped without saying why (it says why when it can, and
    /// that reason is what the user is told instead).
    #[error("the disk writer stopped")]
    WriterStopped,
    /// A stage of setup took longer than it may.
    #[error("{}", .0.sentence())]
    TimedOut(Phase),
    /// Only relayed paths were asked for, and there is no TURN server to relay through:
    /// none set by hand, and the signaling server gave none.
    #[error("only relayed connections were asked for, but no TURN server is set and the signaling server offers none ({0}); set a TURN server, or allow direct connections")]
    NoRelay(String),
    /// The TURN server refused the credentials (expired, or not made with its secret).
    #[error("the TURN server refused the relay credentials (they expired, or the server's shared secret changed); try again, and if it persists, check the TURN server's secret")]
    TurnRefused,
    /// A group code's sender did not let this receiver in.
    #[error("you did not let this receiver in; nothing was sent to it")]
    TurnedAway,
    /// A group code's transfer ended with some of its receivers without the files.
    #[error("{done} of {of} receivers got everything; each of the others says why")]
    SomeReceiversMissed {
        /// Receivers that got every file.
        done: usize,
        /// Receivers that joined and were let in.
        of: usize,
    },
}

/// "1 attempt", "3 attempts".
fn attempts(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

impl Error {
    /// The two sides used different codes.
    pub fn is_wrong_code(&self) -> bool {
        matches!(self, Error::WrongCode)
    }

    /// The other side went away.
    pub fn is_peer_gone(&self) -> bool {
        matches!(self, Error::PeerGone)
    }

    /// The signaling server could not be used at all (unreachable, or its certificate not
    /// trusted): where the local network may be used, a code can still meet there.
    pub fn is_signal_unreachable(&self) -> bool {
        matches!(
            self,
            Error::SignalUnreachable { .. } | Error::SignalCertificate { .. }
        )
    }

    /// The connection itself went (the peer may still be there): worth a fresh one.
    pub fn is_connection_loss(&self) -> bool {
        matches!(self, Error::PeerGone | Error::Connect(_))
    }

    /// The transfer was cut off rather than ended: the connection went, or the disk could
    /// not take more. What arrived is worth keeping for a resume.
    pub fn is_interruption(&self) -> bool {
        matches!(
            self,
            Error::PeerGone
                | Error::Connect(_)
                | Error::Unreachable(_)
                | Error::WebRtc(_)
                | Error::SignalLost
                | Error::DiskFull(_)
                | Error::Io { .. }
        )
    }

    /// Someone cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }

    /// A short machine-readable name, for `--json` output and the app.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadCode(_) => ErrorKind::BadCode,
            Error::SignalUnreachable { .. } => ErrorKind::SignalUnreachable,
            Error::SignalCertificate { .. } => ErrorKind::SignalCertificate,
            Error::SignalRefused(_) => ErrorKind::SignalRefused,
            Error::SignalLost => ErrorKind::SignalLost,
            Error::WrongCode => ErrorKind::WrongCode,
            Error::Tampered => ErrorKind::Tampered,
            Error::PeerGone => ErrorKind::PeerGone,
            Error::Connect(_) => ErrorKind::Connect,
            Error::LocalNetwork(_) => ErrorKind::LocalNetwork,
            Error::Declined => ErrorKind::Declined,
            Error::Cancelled(_) => ErrorKind::Cancelled,
            Error::PeerFailed(_) => ErrorKind::PeerFailed,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Corrupt(_) => ErrorKind::Corrupt,
            Error::NoSpace { .. } => ErrorKind::NoSpace,
            Error::DiskFull(_) => ErrorKind::DiskFull,
            Error::Io { .. } => ErrorKind::Io,
            Error::Input(_) => ErrorKind::Input,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Busy(_) => ErrorKind::Busy,
            Error::WebRtc(_) => ErrorKind::WebRtc,
            Error::Unreachable(_) => ErrorKind::Unreachable,
            Error::TimedOut(_) => ErrorKind::TimedOut,
            Error::WordsDiffer => ErrorKind::WordsDiffer,
            Error::WriterStopped => ErrorKind::WriterStopped,
            Error::NoRelay(_) => ErrorKind::NoRelay,
            Error::TurnRefused => ErrorKind::TurnRefused,
            Error::TurnedAway => ErrorKind::TurnedAway,
            Error::SomeReceiversMissed { .. } => ErrorKind::SomeReceiversMissed,
        }
    }

    /// What the other side is told when this error stops a transfer: the reason, without
    /// this computer's paths.
    pub fn for_peer(&self) -> String {
        match self {
            Error::DiskFull(_) => "the disk on that computer is full".into(),
            Error::Io { .. } => "a file could not be read or written on that computer".into(),
            Error::Busy(_) => "the same files are already being received on that computer".into(),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull {
            return Error::DiskFull(path.into());
        }
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<webrtc::Error> for Error {
    fn from(e: webrtc::Error) -> Self {
        Error::WebRtc(e.to_string())
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds are a published interface (`--json`, the app, scripts): their JSON
    /// strings are pinned here, and `as_str` agrees with serde.
    #[test]
    fn the_attempts_that_moved_nothing_are_counted_in_words() {
        assert!(Error::Unreachable(1)
            .to_string()
            .contains("lost and 1 attempt in a row to bring it back moved no data"));
        assert!(Error::Unreachable(3)
            .to_string()
            .contains("lost and 3 attempts in a row to bring it back moved no data"));
    }

    #[test]
    fn error_kinds_keep_their_json_names() {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "bad_code",
                "signal_unreachable",
                "signal_refused",
                "signal_lost",
                "wrong_code",
                "tampered",
                "peer_gone",
                "connect",
                "local_network",
                "declined",
                "cancelled",
                "peer_failed",
                "protocol",
                "corrupt",
                "no_space",
                "disk_full",
                "io",
                "input",
                "busy",
                "webrtc",
                "unreachable",
                "timed_out",
                "words_differ",
                "writer_stopped",
                "internal",
                "signal_certificate",
                "no_relay",
                "turn_refused",
                "turned_away",
                "some_receivers_missed",
            ]
        );
        for kind in ErrorKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("a kind serializes"),
                serde_json::Value::String(kind.as_str().into())
            );
        }
        let event = crate::Event::Error {
            message: Error::WrongCode.to_string(),
            kind: Error::WrongCode.kind(),
        };
        assert_eq!(
            serde_json::to_value(event).expect("an event serializes"),
            serde_json::json!({
                "event": "error",
                "kind": "wrong_code",
                "message": Error::WrongCode.to_string(),
            })
        );
    }
}
