//! The invite to use a signaling server: `toss://server?url=wss%3A%2F%2Ftoss.example.org`.
//! A server's web page offers it ("Use this server in Toss"), the desktop app is the
//! computer's handler for `toss://` links (its package registers it), and `toss config
//! server` takes one too. Whoever opens one is asked before the server is taken.
//!
//! Pure: building and reading the link; the address inside is checked by the same rule as
//! a typed one ([`check_server_url`]).

use std::fmt;

use crate::server_url::{check_server_url, BadServerUrl};

/// The URL scheme the desktop app handles.
pub const SCHEME: &str = "toss";

/// A link that is not a usable invite; it displays as the sentence a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadInvite {
    /// Not `toss://server?url=...` at all.
    NotAnInvite(String),
    /// An invite whose address is not a signaling server's.
    BadServer(BadServerUrl),
}

impl fmt::Display for BadInvite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadInvite::NotAnInvite(link) => write!(
                f,
                "\"{link}\" is not a Toss server invite: one looks like toss://server?url=wss://toss.example.org"
            ),
            BadInvite::BadServer(bad) => write!(f, "the invite's {bad}"),
        }
    }
}

impl std::error::Error for BadInvite {}

/// Whether `text` is meant as an invite (it has the `toss:` scheme), right or wrong.
pub fn is_invite(text: &str) -> bool {
    text.trim()
        .get(..SCHEME.len() + 1)
        .is_some_and(|s| s.eq_ignore_ascii_case("toss:"))
}

/// The invite to use the signaling server at `server` (checked first).
///
/// # Errors
/// [`BadServerUrl`] when `server` is not a signaling server's address.
pub fn invite_link(server: &str) -> Result<String, BadServerUrl> {
    let server = check_server_url(server)?;
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", server)
        .finish();
    Ok(format!("{SCHEME}://server?{query}"))
}

/// The signaling server an invite names, checked as a typed address is (a path of `/` alone
/// is dropped: `wss://host/` and `wss://host` are one server).
///
/// # Errors
/// [`BadInvite`]: not `toss://server` with exactly one `url`, or a `url` that is not a
/// signaling server's address.
pub fn server_from_invite(link: &str) -> Result<String, BadInvite> {
    let link = link.trim();
    let not = || BadInvite::NotAnInvite(link.chars().take(200).collect());
    let parsed = url::Url::parse(link).map_err(|_| not())?;
    if parsed.scheme() != SCHEME || parsed.host_str() != Some("server") {
        return Err(not());
    }
    if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
        return Err(not());
    }
    let mut urls = parsed.query_pairs().filter(|(k, _)| k == "url");
    let (Some((_, server)), None) = (urls.next(), urls.next()) else {
        return Err(not());
    };
    let server = check_server_url(&server).map_err(BadInvite::BadServer)?;
    let server = match server.strip_suffix('/') {
        Some(bare) if !bare.split_once("://").is_some_and(|(_, r)| r.contains('/')) => bare,
        _ => server,
    };
    Ok(server.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_carries_the_server_there_and_back() {
        for server in [
            "wss://toss.example.org",
            "ws://192.168.1.20:8787",
            "wss://example.org/toss/",
            "ws://[::1]:8787",
        ] {
            let link = invite_link(server).expect("a server's invite");
            assert!(link.starts_with("toss://server?url="), "{link}");
            assert_eq!(server_from_invite(&link).as_deref(), Ok(server), "{link}");
        }
    }

    #[test]
    fn the_web_pages_invite_is_read() {
        // What web/src/invite.js makes of the page at https://vps.toss.test/ (its test pins
        // the same string): encodeURIComponent, and the page's trailing slash.
        assert_eq!(
            server_from_invite("toss://server?url=wss%3A%2F%2Fvps.toss.test%2F").as_deref(),
            Ok("wss://vps.toss.test")
        );
        assert_eq!(
            server_from_invite("  TOSS://server/?url=wss%3A%2F%2Fexample.org%2Ftoss%2F ")
                .as_deref(),
            Ok("wss://example.org/toss/")
        );
    }

    #[test]
    fn anything_else_is_refused_with_one_sentence() {
        for link in [
            "",
            "wss://toss.example.org",
            "toss://",
            "toss://server",
            "toss://server?server=wss://a.example",
            "toss://other?url=wss%3A%2F%2Fa.example",
            "toss://server/x?url=wss%3A%2F%2Fa.example",
            "toss://server?url=wss%3A%2F%2Fa.example&url=wss%3A%2F%2Fb.example",
            "toss://server?url=wss%3A%2F%2Fa.example#frag",
            "toss://server?url=http%3A%2F%2Fa.example",
            "toss://server?url=wss%3A%2F%2Fuser%40a.example",
            "toss://server?url=",
        ] {
            let err = server_from_invite(link).expect_err(link);
            let sentence = err.to_string();
            assert_eq!(
                sentence.matches(". ").count(),
                0,
                "one sentence: {sentence}"
            );
            assert!(sentence.contains("wss://"), "{sentence}");
        }
        assert!(is_invite("toss://server?url=x") && is_invite(" Toss:x"));
        assert!(!is_invite("/home/ana/toss") && !is_invite("tos"));
    }
}
