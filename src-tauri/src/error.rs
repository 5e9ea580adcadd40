//! The shell's one error type; it serializes to its message so the UI can show it as text.

use serde::Serialize;

/// What a command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AppError {
    /// Settings that do not validate.
    #[error("{0}")]
    Settings(String),
    /// The core refused (bad code, bad paths...).
    #[error("{0}")]
    Core(#[from] toss_core::Error),
    /// What the UI asked for cannot be done as asked: nothing chosen to send, a device or a
    /// request that has gone, text too long for a QR code.
    #[error("{0}")]
    Invalid(String),
    /// A file or folder could not be read, written or opened.
    #[error("{0}")]
    Io(String),
    /// No transfer has that id (it ended already).
    #[error("That transfer has already ended.")]
    NoSuchTransfer,
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}
