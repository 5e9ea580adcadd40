//! The mark a system puts on files that came from elsewhere, so that opening a received
//! program or document gets the same warnings and protections as a browser download:
//! Windows' `Zone.Identifier` (Mark of the Web, zone 3, the Internet) and macOS'
//! `com.apple.quarantine` (Gatekeeper). Other systems have no such mark.
//!
//! Part of the receiver's saving, used once a verified file has its final name. A file that
//! cannot be marked (a FAT drive has no alternate streams, a network share may refuse
//! extended attributes) is still a good file: marking is best effort and must never fail a
//! transfer; the caller logs the error and goes on.
//!
//! The contents of both marks are built by pure functions compiled everywhere, so that
//! they are tested on any system; only the writing is per system, with std and libc alone.

// On systems without a mark, only the tests use the builders.
#![cfg_attr(
    not(any(windows, target_os = "macos")),
    allow(dead_code, reason = "the builders serve the Windows and macOS writers")
)]

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The agent named in a macOS quarantine mark (shown as "downloaded by Toss").
const AGENT: &str = "Toss";

/// Longest origin written into a `Zone.Identifier`; a longer one is left out.
const MAX_ORIGIN: usize = 2048;

/// Marks `path` as downloaded from the Internet, where the system has such a mark; a no-op
/// returning `Ok` elsewhere.
///
/// `origin` is where the file came from, as a URL (the signaling server, say). Windows
/// records it as the `HostUrl` when it is a plain URL (a scheme, then printable ASCII);
/// anything else, a peer's device name included, is left out rather than cleaned, so no
/// stranger's text ever lands in the mark. macOS' mark has no place for it.
///
/// # Errors
/// The system refused the mark. The file itself is untouched and complete: callers log the
/// error and never fail the transfer for it.
pub(crate) fn mark_downloaded(path: &Path, origin: &str) -> io::Result<()> {
    #[cfg(windows)]
    {
        write_zone_identifier(path, &zone_identifier_contents(origin))
    }
    #[cfg(target_os = "macos")]
    {
        let _ = origin;
        write_quarantine(path, &quarantine_value(SystemTime::now()))
    }
    #[cfg(not(any(windows, target_os = "macos")))]
    {
        let _ = (path, origin);
        Ok(())
    }
}

/// The `Zone.Identifier` stream for a file from `origin`: zone 3 (the Internet zone, what
/// browsers write for downloads), and the origin as `HostUrl` when it is a plain URL.
pub(crate) fn zone_identifier_contents(origin: &str) -> String {
    let mut contents = String::from("[ZoneTransfer]\r\nZoneId=3\r\n");
    if is_plain_url(origin) {
        contents.push_str("HostUrl=");
        contents.push_str(origin);
        contents.push_str("\r\n");
    }
    contents
}

/// Whether `s` is safe to put on a line of an INI file as a URL: `scheme:` then printable
/// ASCII, no spaces, no line breaks, bounded.
fn is_plain_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    s.len() <= MAX_ORIGIN
        && !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && rest.chars().all(|c| c.is_ascii_graphic())
}

/// The `com.apple.quarantine` value for a file received at `now`: flags `0083` (downloaded,
/// as browsers write them: Gatekeeper checks the file when it is first opened), the time in
/// seconds as 8 hex digits, the agent, and an empty event id (no entry in the quarantine
/// events database).
pub(crate) fn quarantine_value(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("0083;{secs:08x};{AGENT};")
}

/// Writes the `Zone.Identifier` alternate data stream (`PATH:Zone.Identifier`).
#[cfg(windows)]
fn write_zone_identifier(path: &Path, contents: &str) -> io::Result<()> {
    let mut stream = path.as_os_str().to_owned();
    stream.push(":Zone.Identifier");
    std::fs::write(stream, contents)
}

/// Sets the `com.apple.quarantine` extended attribute, never through a symlink.
#[cfg(target_os = "macos")]
fn write_quarantine(path: &Path, value: &str) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let name = c"com.apple.quarantine";
    // SAFETY: both strings are NUL-terminated and live across the call; `value` points to
    // `value.len()` readable bytes.
    let rc = unsafe {
        libc::setxattr(
            c_path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
            libc::XATTR_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zone_identifier_says_internet_zone_in_windows_line_endings() {
        assert_eq!(
            zone_identifier_contents(""),
            "[ZoneTransfer]\r\nZoneId=3\r\n"
        );
        assert_eq!(
            zone_identifier_contents("wss://toss.example.org/v1"),
            "[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=wss://toss.example.org/v1\r\n"
        );
    }

    #[test]
    fn an_origin_that_is_not_a_plain_url_is_left_out() {
        for origin in [
            "Alice's laptop",
            "ws://x\r\nZoneId=0",
            "ws://x\nZoneId=0",
            "no-scheme",
            ":nothing",
            "1ws://x",
            "ws:",
            "ws://é",
            "ws://a b",
            &format!("ws://{}", "a".repeat(MAX_ORIGIN)),
        ] {
            assert_eq!(
                zone_identifier_contents(origin),
                "[ZoneTransfer]\r\nZoneId=3\r\n",
                "{origin:?}"
            );
        }
    }

    #[test]
    fn quarantine_value_has_flags_hex_time_and_agent() {
        let at = UNIX_EPOCH + Duration::from_secs(0x6650_0000);
        assert_eq!(quarantine_value(at), "0083;66500000;Toss;");
        assert_eq!(quarantine_value(UNIX_EPOCH), "0083;00000000;Toss;");
        // A clock before 1970 is not an error worth failing over.
        assert_eq!(
            quarantine_value(UNIX_EPOCH - Duration::from_secs(5)),
            "0083;00000000;Toss;"
        );
    }

    #[cfg(not(any(windows, target_os = "macos")))]
    #[test]
    fn elsewhere_marking_is_a_no_op() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("a.exe");
        std::fs::write(&file, b"MZ").expect("write");
        mark_downloaded(&file, "wss://x").expect("no-op");
        assert_eq!(std::fs::read(&file).expect("read"), b"MZ");
        // Even a path that does not exist: nothing is attempted.
        mark_downloaded(&tmp.path().join("missing"), "").expect("no-op");
    }
}
