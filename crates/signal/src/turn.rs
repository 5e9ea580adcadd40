//! TURN credentials in the TURN REST scheme that coturn implements (`use-auth-secret` with
//! `static-auth-secret`): the user name is `EXPIRY:ID` (Unix seconds, a random id), the
//! password base64 of HMAC-SHA1 over that user name under a secret shared with the TURN
//! server, which checks both and refuses the user name once EXPIRY has passed.
//!
//! Part of the server layer below the room actor, which alone decides who gets them (both
//! peers in the room, within the caps). Pure: no sockets, no rooms. The secret is never
//! logged, printed or sent.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;

use crate::protocol::ServerMsg;

/// The secret shared with the TURN server; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// A secret as read from a file or the environment, without surrounding whitespace
    /// (the newline an editor or `echo` leaves); `None` when nothing is left.
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Self(secret.to_owned()))
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

/// The TURN server this signaling server hands out credentials for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// What clients are told to use, `turn:HOST:3478?transport=udp` and the like.
    pub urls: Vec<String>,
    /// Shared with the TURN server (coturn's `static-auth-secret`).
    pub secret: TurnSecret,
    /// How long each credential is good for.
    pub ttl: Duration,
}

impl Turn {
    /// Fresh credentials, good from `now` for [`Turn::ttl`].
    pub(crate) fn issue(&self, now: SystemTime) -> ServerMsg {
        let expiry = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(self.ttl)
            .as_secs();
        let id: u64 = rand::thread_rng().gen();
        let username = format!("{expiry}:{id:016x}");
        ServerMsg::Turn {
            urls: self.urls.clone(),
            credential: credential(&self.secret, &username),
            username,
            ttl: self.ttl.as_secs(),
        }
    }
}

/// base64(HMAC-SHA1(secret, username)), as coturn computes it for `use-auth-secret`.
pub fn credential(secret: &TurnSecret, username: &str) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.0.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TURN REST API draft's scheme, checked against a value computed independently:
    /// `printf %s 1700000000:toss | openssl dgst -sha1 -hmac s3cret -binary | base64`.
    #[test]
    fn the_credential_is_base64_of_hmac_sha1_over_the_username() {
        let secret = TurnSecret::new("s3cret\n").expect("a secret");
        assert_eq!(
            credential(&secret, "1700000000:toss"),
            "WSM4MxPChaNEtbikk1YQl9r6IgY="
        );
    }

    #[test]
    fn issued_credentials_expire_after_the_ttl_and_verify() {
        let turn = Turn {
            urls: vec!["turn:example.org:3478?transport=udp".into()],
            secret: TurnSecret::new("abc").expect("a secret"),
            ttl: Duration::from_secs(600),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ServerMsg::Turn {
            urls,
            username,
            credential: password,
            ttl,
        } = turn.issue(now)
        else {
            panic!("not credentials");
        };
        assert_eq!(urls, turn.urls);
        assert_eq!(ttl, 600);
        let (expiry, id) = username.split_once(':').expect("EXPIRY:ID");
        assert_eq!(expiry, "1700000600");
        assert_eq!(id.len(), 16);
        assert_eq!(password, credential(&turn.secret, &username));
    }

    #[test]
    fn the_secret_is_never_shown_and_blank_is_none() {
        let secret = TurnSecret::new("hunter2").expect("a secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(TurnSecret::new(" \n").is_none());
    }
}
