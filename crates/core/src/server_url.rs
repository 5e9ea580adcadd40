//! A signaling server's address as a person types it: `ws://` or `wss://`, then a host.
//!
//! Pure and std-only: the build script includes this very file (`build.rs`) to check a
//! default baked in with `TOSS_DEFAULT_SERVER` by the same rule the settings use. It must
//! never import anything from the rest of the crate.

use std::fmt;

/// An address that cannot be a signaling server; it displays as the sentence a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadServerUrl(pub String);

impl fmt::Display for BadServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a signaling server address: use ws:// or wss:// followed by the server's name, like wss://toss.example.org",
            self.0
        )
    }
}

impl std::error::Error for BadServerUrl {}

/// `url` without surrounding spaces, when it is `ws://` or `wss://` followed by a host (a
/// name, an IPv4 address or a bracketed IPv6 one), an optional port and an optional path.
///
/// # Errors
/// [`BadServerUrl`] for another scheme, no host, a user name, a bad port or spaces inside.
pub fn check_server_url(url: &str) -> Result<&str, BadServerUrl> {
    let url = url.trim();
    let bad = || BadServerUrl(url.to_owned());
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(bad)?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port, ipv6) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (host, None, true),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(bad)?), true),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port), false),
            None => (authority, None, false),
        },
    };
    let host_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') || (ipv6 && c == ':');
    if host.is_empty() || !host.chars().all(host_char) {
        return Err(bad());
    }
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        if !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(bad());
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_people_type_are_taken_trimmed() {
        for (typed, kept) in [
            ("wss://toss.example.org", "wss://toss.example.org"),
            ("  ws://127.0.0.1:8787 ", "ws://127.0.0.1:8787"),
            ("wss://example.org/toss/", "wss://example.org/toss/"),
            ("ws://[::1]:8787", "ws://[::1]:8787"),
            ("ws://[fe80::1]", "ws://[fe80::1]"),
            (
                "wss://my-server.local:443/path?x=1",
                "wss://my-server.local:443/path?x=1",
            ),
        ] {
            assert_eq!(check_server_url(typed), Ok(kept), "{typed}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_one_sentence() {
        for typed in [
            "",
            "toss.example.org",
            "http://toss.example.org",
            "WSS://toss.example.org",
            "wss://",
            "wss:///path",
            "ws://:8787",
            "ws://host:",
            "ws://host:port",
            "ws://host:0",
            "ws://host:65536",
            "ws://user@host",
            "ws://ho st",
            "ws://[::1",
            "ws://[::1]x",
            "ws://héllo.example",
        ] {
            let err = check_server_url(typed).expect_err(typed);
            let sentence = err.to_string();
            assert!(
                sentence.ends_with("like wss://toss.example.org"),
                "{sentence}"
            );
            assert_eq!(
                sentence.matches(". ").count(),
                0,
                "one sentence: {sentence}"
            );
        }
    }
}
