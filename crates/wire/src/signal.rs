//! The signaling wire protocol: one JSON text message per WebSocket message, each with a
//! protocol version `v` and a `type` tag.
//!
//! This module turns text into typed messages and back; it never touches sockets or rooms.
//! `docs/protocol.md` describes the same messages, and the tests below pin their exact JSON.

use serde::{Deserialize, Serialize};

/// Signaling protocol version; a peer with another one is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text message the server acts on. A sealed SDP offer with a full set of
/// candidates is under 8 KiB; 64 KiB leaves room without letting one client hog memory.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest WebSocket message either side reads at all. Above [`MAX_MESSAGE_BYTES`] so that
/// an oversized message still gets a clear error reply; past this the connection is
/// dropped. Servers and clients read with the same cap: it is part of the protocol.
pub const MAX_WS_MESSAGE_BYTES: usize = 256 * 1024;

/// Largest single WebSocket frame; equal to the message cap since clients never fragment.
pub const MAX_WS_FRAME_BYTES: usize = MAX_WS_MESSAGE_BYTES;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMsg {
    /// Open a new room; the server answers with its nameplate.
    Allocate {
        /// How many receivers may join (a group code), when more than one; the server
        /// caps it and says in `allocated` how many it allows. Without it, or with 1, the
        /// room is the protocol's two-peer room, message for message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receivers: Option<u32>,
    },
    /// Enter the room that another peer allocated.
    Join {
        /// The room's nameplate, as read from the code.
        nameplate: String,
    },
    /// Relay an opaque body to the other peer in the room.
    Send {
        /// Opaque to the server; Toss clients put sealed ciphertext here.
        body: String,
        /// In a group room, from its allocator: the receiver it is for (its `peer` number).
        /// Left out, it goes to receiver 1, as in a two-peer room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u32>,
    },
    /// Leave the room; from a group room's allocator with `peer`, send that one receiver
    /// out of it instead (it hears `peer_left`, as if the allocator had left).
    Leave {
        /// The receiver to send out (group rooms only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<u32>,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
    /// From the peer that allocated the room, once the key confirmation succeeded: the
    /// joiner knew the code, so the server gives back the guess its `join` cost. Never
    /// answered; from anyone else, or a second time, it changes nothing.
    Paired {
        /// In a group room: which receiver confirmed (its `peer` number). Left out, receiver 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<u32>,
    },
    /// From a group room's allocator: nobody else may join (someone typed a wrong code, or
    /// the sender stopped taking receivers). Later joins are refused with `room_full`;
    /// those in the room stay. Never answered.
    Lock,
    /// Short-lived TURN credentials, asked for once the key confirmation succeeded:
    /// answered with `turn`, or refused with `turn_unavailable`, `not_paired` or
    /// `rate_limited`.
    Turn,
    /// Any type this server does not know.
    #[serde(other)]
    Unknown,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMsg {
    /// A room was opened for you.
    Allocated {
        /// The room's short number.
        nameplate: String,
        /// For a group room: how many receivers may join, at most what was asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receivers: Option<u32>,
    },
    /// You are in the room; the peer who allocated it is there.
    Joined {
        /// The room's short number.
        nameplate: String,
    },
    /// The other peer entered your room.
    PeerJoined {
        /// In a group room, to its allocator: the receiver's number (1, 2, ... in the order
        /// they joined), which `send`, `paired` and `leave` name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<u32>,
    },
    /// The other peer left your room (or lost its connection).
    PeerLeft {
        /// In a group room, to its allocator: which receiver left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<u32>,
    },
    /// A body relayed from the other peer.
    Message {
        /// Exactly what the other peer sent.
        body: String,
        /// In a group room, to its allocator: which receiver sent it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u32>,
    },
    /// Answer to `ping`.
    Pong,
    /// TURN credentials in the TURN REST scheme (coturn's `use-auth-secret`): `username` is
    /// `EXPIRY:ID` (EXPIRY in Unix seconds), `credential` is base64 of HMAC-SHA1 over the
    /// username under the secret the server shares with the TURN server.
    Turn {
        /// The TURN server's URLs, `turn:HOST:3478?transport=udp` and the like.
        urls: Vec<String>,
        /// The TURN user name, `EXPIRY:ID`.
        username: String,
        /// The TURN password for `username`.
        credential: String,
        /// Seconds from now until the credentials expire.
        ttl: u64,
    },
    /// A request was refused; the connection stays usable unless said otherwise.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// One sentence for a person.
        message: String,
    },
    /// Any type this client does not know (a newer server).
    #[serde(other)]
    Unknown,
}

/// Why the server refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not JSON, or JSON of the wrong shape.
    Malformed,
    /// A missing or different protocol version.
    UnsupportedVersion,
    /// A `type` this server does not know.
    UnknownType,
    /// Larger than the server accepts.
    TooLarge,
    /// Binary WebSocket messages are not part of the protocol.
    BinaryNotSupported,
    /// No room has that nameplate.
    UnknownNameplate,
    /// The room already has had its two peers.
    RoomFull,
    /// `send` or `leave` outside a room.
    NotInRoom,
    /// `allocate` or `join` while already in a room.
    AlreadyInRoom,
    /// `send` while the other peer is not in the room.
    PeerAbsent,
    /// The room passed its idle time or lifetime.
    RoomExpired,
    /// The server has reached a limit; try again later.
    ServerBusy,
    /// The server is shutting down.
    ShuttingDown,
    /// This address made too many `allocate` or `join` requests in the last minute.
    RateLimited,
    /// This address joined too many rooms whose allocator never confirmed the code: it
    /// looks like someone guessing codes.
    TooManyGuesses,
    /// One peer did not read the messages relayed to it as fast as the other sent them, so
    /// the server closed the room rather than drop one.
    RelayOverflow,
    /// `turn` to a server that has no TURN server to hand out.
    TurnUnavailable,
    /// `turn` from a client whose room does not hold both peers.
    NotPaired,
}

impl ErrorCode {
    /// Every code, for metrics.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::Malformed,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::BinaryNotSupported,
        ErrorCode::UnknownNameplate,
        ErrorCode::RoomFull,
        ErrorCode::NotInRoom,
        ErrorCode::AlreadyInRoom,
        ErrorCode::PeerAbsent,
        ErrorCode::RoomExpired,
        ErrorCode::ServerBusy,
        ErrorCode::ShuttingDown,
        ErrorCode::RateLimited,
        ErrorCode::TooManyGuesses,
        ErrorCode::RelayOverflow,
        ErrorCode::TurnUnavailable,
        ErrorCode::NotPaired,
    ];

    /// The snake_case name used on the wire and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::UnknownNameplate => "unknown_nameplate",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::PeerAbsent => "peer_absent",
            ErrorCode::RoomExpired => "room_expired",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyGuesses => "too_many_guesses",
            ErrorCode::RelayOverflow => "relay_overflow",
            ErrorCode::TurnUnavailable => "turn_unavailable",
            ErrorCode::NotPaired => "not_paired",
        }
    }

    /// The error message with its standard sentence.
    pub fn reply(self) -> ServerMsg {
        let message = match self {
            ErrorCode::Malformed => "The message is not valid JSON of the signaling protocol.",
            ErrorCode::UnsupportedVersion => {
                "This server speaks signaling protocol version 1; update Toss."
            }
            ErrorCode::UnknownType => "The server does not know this message type.",
            ErrorCode::TooLarge => "The message is larger than the server accepts (64 KiB).",
            ErrorCode::BinaryNotSupported => "The server only accepts text messages.",
            ErrorCode::UnknownNameplate => {
                "No transfer is waiting with this code; check the number at its start."
            }
            ErrorCode::RoomFull => "This code has already been used; ask the sender for a new one.",
            ErrorCode::NotInRoom => "Join or allocate a room first.",
            ErrorCode::AlreadyInRoom => "This connection is already in a room.",
            ErrorCode::PeerAbsent => "The other side is not connected to the room.",
            ErrorCode::RoomExpired => "The code expired; ask the sender for a new one.",
            ErrorCode::ServerBusy => "The signaling server is busy; try again in a minute.",
            ErrorCode::ShuttingDown => "The signaling server is restarting; try again.",
            ErrorCode::RateLimited => {
                "Too many codes tried from this address; wait a minute and try again."
            }
            ErrorCode::TooManyGuesses => {
                "Too many codes from this address did not work; wait a few minutes and try again."
            }
            ErrorCode::RelayOverflow => {
                "One side did not keep up with the messages the signaling server relayed, so the transfer was stopped; try again."
            }
            ErrorCode::TurnUnavailable => {
                "This signaling server has no TURN relay to offer; connect directly or set a TURN server by hand."
            }
            ErrorCode::NotPaired => {
                "Relay credentials are only given once both sides of a code are in its room."
            }
        };
        ServerMsg::Error {
            code: self,
            message: message.to_owned(),
        }
    }

    /// `rate_limited` for a `turn` past its caps, with a sentence of its own: the standard
    /// one speaks of codes tried.
    pub fn turn_rate_limited() -> ServerMsg {
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            message: "Too many relay credentials were asked for from this address or room; wait and try again.".to_owned(),
        }
    }
}

/// The version field every message carries, read before the rest.
#[derive(Deserialize)]
struct Version {
    v: Option<serde_json::Value>,
}

/// Every field a `send` has, read in one pass with no intermediate buffer: the fast path
/// for the message a server relays most. Serde's tagged enums buffer the whole message
/// before they look at its tag, and the version is read in a pass of its own. Any other
/// field sends the message down the general path: skipping a field checks less than
/// buffering it does (a number too large for a float, say).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendFields<'a> {
    v: Option<serde_json::Value>,
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    body: Option<String>,
    to: Option<u32>,
}

/// A well-formed `send` of this version, or `None` for anything else, which the general
/// path then parses (and refuses) exactly as it always has: this path only ever accepts
/// what that one would, with the same result.
fn parse_send(text: &str) -> Option<ClientMsg> {
    if text.len() > MAX_MESSAGE_BYTES {
        return None;
    }
    let fields: SendFields<'_> = serde_json::from_str(text).ok()?;
    let version_ok = matches!(
        &fields.v,
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION))
    );
    let body = (version_ok && fields.kind.as_deref() == Some("send")).then_some(fields.body)??;
    Some(ClientMsg::Send {
        body,
        to: fields.to,
    })
}

/// Serializing wrapper that adds the version field.
#[derive(Serialize)]
struct Versioned<'a, T> {
    v: u32,
    #[serde(flatten)]
    msg: &'a T,
}

/// Parses a client message, checking size and version first.
///
/// # Errors
/// The [`ErrorCode`] to send back: `TooLarge`, `Malformed`, `UnsupportedVersion` or
/// `UnknownType`.
pub fn parse_client(text: &str) -> Result<ClientMsg, ErrorCode> {
    match parse_send(text) {
        Some(send) => Ok(send),
        None => parse_client_general(text),
    }
}

/// [`parse_client`] for every message, without the fast path.
fn parse_client_general(text: &str) -> Result<ClientMsg, ErrorCode> {
    let msg: ClientMsg = parse_versioned(text)?;
    match msg {
        ClientMsg::Unknown => Err(ErrorCode::UnknownType),
        msg => Ok(msg),
    }
}

/// Parses a server message (the client side of the protocol).
///
/// # Errors
/// As [`parse_client`]; an unknown type is returned as [`ServerMsg::Unknown`].
pub fn parse_server(text: &str) -> Result<ServerMsg, ErrorCode> {
    parse_versioned(text)
}

fn parse_versioned<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ErrorCode> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ErrorCode::TooLarge);
    }
    let version: Version = serde_json::from_str(text).map_err(|_| ErrorCode::Malformed)?;
    match version.v {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        _ => return Err(ErrorCode::UnsupportedVersion),
    }
    serde_json::from_str(text).map_err(|_| ErrorCode::Malformed)
}

/// Serializes a message with the current protocol version.
pub fn to_text<T: Serialize>(msg: &T) -> String {
    // Serializing these enums of strings cannot fail: no maps with non-string keys, no
    // non-finite floats.
    serde_json::to_string(&Versioned {
        v: PROTOCOL_VERSION,
        msg,
    })
    .unwrap_or_else(|_| String::from("{}"))
}

/// [`to_text`] for a server message, written straight into a buffer of the right size when
/// it is a relayed `message` (the one a server sends most), with no reallocation.
pub fn server_text(msg: &ServerMsg) -> String {
    let ServerMsg::Message { body, from: None } = msg else {
        return to_text(msg);
    };
    const HEAD: &str = r#"{"v":1,"type":"message","body":"#;
    // Escaping rarely grows a body of base64 or JSON by much; a few bytes over is fine.
    let mut out = Vec::with_capacity(HEAD.len() + body.len() + body.len() / 16 + 3);
    out.extend_from_slice(HEAD.as_bytes());
    if serde_json::to_writer(&mut out, body).is_err() {
        return to_text(msg);
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_else(|_| to_text(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn the_fast_path_for_send_agrees_with_the_general_parser() {
        let texts = [
            r#"{"v":1,"type":"send","body":"x"}"#,
            r#"{"type":"send","body":"x","v":1}"#,
            r#"{"v":1,"type":"s\u0065nd","body":"\u00e9\n"}"#,
            r#"{"v":1,"type":"send","body":"x","nameplate":5,"extra":{"a":[1,2]}}"#,
            r#"{"v":1,"type":"send"}"#,
            r#"{"v":1,"type":"send","body":"x","pad":-1e999}"#,
            r#"{"v":1,"type":"send","body":"x","pad":1e999}"#,
            r#"{"v":1,"type":"send","body":"x","to":2}"#,
            r#"{"to":3,"v":1,"type":"send","body":"x"}"#,
            r#"{"v":1,"type":"send","body":"x","to":null}"#,
            r#"{"v":1,"type":"send","body":"x","to":-1}"#,
            r#"{"v":1,"type":"send","body":"x","to":1e999}"#,
            r#"{"v":1,"type":"send","body":"x","to":2.5}"#,
            r#"{"v":1,"type":"send","body":"x","to":"2"}"#,
            r#"{"v":1,"type":"send","body":"x","to":4294967296}"#,
            r#"{"v":1,"type":"send","body":"x","to":1,"to":2}"#,
            r#"{"v":1,"type":"send","body":7}"#,
            r#"{"v":1,"type":"send","body":null}"#,
            r#"{"v":1,"type":"send","body":"x","body":"y"}"#,
            r#"{"v":1,"v":1,"type":"send","body":"x"}"#,
            r#"{"v":1,"type":"send","type":"ping","body":"x"}"#,
            r#"{"v":2,"type":"send","body":"x"}"#,
            r#"{"v":"1","type":"send","body":"x"}"#,
            r#"{"v":1.0,"type":"send","body":"x"}"#,
            r#"{"type":"send","body":"x"}"#,
            r#"{"v":1,"type":"Send","body":"x"}"#,
            r#"{"v":1,"type":7,"body":"x"}"#,
            r#"{"v":1,"type":"join","nameplate":"12","body":"x"}"#,
            r#"{"v":1,"body":"x"}"#,
            r#"{"v":1,"type":"send","body":"x"} trailing"#,
            r#"["send"]"#,
            "",
        ];
        for text in texts {
            assert_eq!(
                parse_client(text),
                parse_client_general(text),
                "fast and general paths differ on {text}"
            );
        }
        let big = format!(
            r#"{{"v":1,"type":"send","body":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(parse_client(&big), Err(ErrorCode::TooLarge));
        assert_eq!(
            parse_send(r#"{"v":1,"type":"send","body":"x"}"#),
            Some(ClientMsg::Send {
                body: "x".into(),
                to: None
            })
        );
    }

    #[test]
    fn a_message_written_straight_is_what_serde_writes() {
        for body in [
            "",
            "x",
            "quote \" and \\ and \n\u{1} and é and 🎉",
            &"b".repeat(5000),
        ] {
            let msg = ServerMsg::Message {
                body: body.to_owned(),
                from: None,
            };
            assert_eq!(server_text(&msg), to_text(&msg));
            assert_eq!(parse_server(&server_text(&msg)), Ok(msg));
        }
        assert_eq!(server_text(&ServerMsg::Pong), to_text(&ServerMsg::Pong));
        let tagged = ServerMsg::Message {
            body: "x".into(),
            from: Some(2),
        };
        assert_eq!(server_text(&tagged), to_text(&tagged));
    }

    fn as_json<T: Serialize>(msg: &T) -> Value {
        serde_json::from_str(&to_text(msg)).expect("valid json")
    }

    #[test]
    fn client_messages_pin_their_json() {
        assert_eq!(
            as_json(&ClientMsg::Allocate { receivers: None }),
            json!({"v": 1, "type": "allocate"})
        );
        assert_eq!(
            as_json(&ClientMsg::Allocate { receivers: Some(3) }),
            json!({"v": 1, "type": "allocate", "receivers": 3})
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"allocate"}"#),
            Ok(ClientMsg::Allocate { receivers: None })
        );
        assert_eq!(
            as_json(&ClientMsg::Join {
                nameplate: "42".into()
            }),
            json!({"v": 1, "type": "join", "nameplate": "42"})
        );
        assert_eq!(
            as_json(&ClientMsg::Send {
                body: "x".into(),
                to: None
            }),
            json!({"v": 1, "type": "send", "body": "x"})
        );
        assert_eq!(
            as_json(&ClientMsg::Send {
                body: "x".into(),
                to: Some(2)
            }),
            json!({"v": 1, "type": "send", "body": "x", "to": 2})
        );
        assert_eq!(
            as_json(&ClientMsg::Leave { peer: None }),
            json!({"v": 1, "type": "leave"})
        );
        assert_eq!(
            as_json(&ClientMsg::Leave { peer: Some(3) }),
            json!({"v": 1, "type": "leave", "peer": 3})
        );
        assert_eq!(as_json(&ClientMsg::Lock), json!({"v": 1, "type": "lock"}));
        assert_eq!(as_json(&ClientMsg::Ping), json!({"v": 1, "type": "ping"}));
        assert_eq!(
            as_json(&ClientMsg::Paired { peer: None }),
            json!({"v": 1, "type": "paired"})
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"paired"}"#),
            Ok(ClientMsg::Paired { peer: None })
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"paired","peer":2}"#),
            Ok(ClientMsg::Paired { peer: Some(2) })
        );
        assert_eq!(as_json(&ClientMsg::Turn), json!({"v": 1, "type": "turn"}));
        assert_eq!(
            parse_client(r#"{"v":1,"type":"turn"}"#),
            Ok(ClientMsg::Turn)
        );
    }

    #[test]
    fn server_messages_pin_their_json() {
        assert_eq!(
            as_json(&ServerMsg::Allocated {
                nameplate: "7".into(),
                receivers: None
            }),
            json!({"v": 1, "type": "allocated", "nameplate": "7"})
        );
        assert_eq!(
            as_json(&ServerMsg::Allocated {
                nameplate: "7".into(),
                receivers: Some(3)
            }),
            json!({"v": 1, "type": "allocated", "nameplate": "7", "receivers": 3})
        );
        assert_eq!(
            as_json(&ServerMsg::Joined {
                nameplate: "7".into()
            }),
            json!({"v": 1, "type": "joined", "nameplate": "7"})
        );
        assert_eq!(
            as_json(&ServerMsg::PeerJoined { peer: None }),
            json!({"v": 1, "type": "peer_joined"})
        );
        assert_eq!(
            as_json(&ServerMsg::PeerJoined { peer: Some(2) }),
            json!({"v": 1, "type": "peer_joined", "peer": 2})
        );
        assert_eq!(
            as_json(&ServerMsg::PeerLeft { peer: None }),
            json!({"v": 1, "type": "peer_left"})
        );
        assert_eq!(
            as_json(&ServerMsg::PeerLeft { peer: Some(2) }),
            json!({"v": 1, "type": "peer_left", "peer": 2})
        );
        assert_eq!(
            as_json(&ServerMsg::Message {
                body: "b".into(),
                from: None
            }),
            json!({"v": 1, "type": "message", "body": "b"})
        );
        assert_eq!(
            as_json(&ServerMsg::Message {
                body: "b".into(),
                from: Some(3)
            }),
            json!({"v": 1, "type": "message", "body": "b", "from": 3})
        );
        // A client of the two-peer protocol reads a group room's messages as before.
        assert_eq!(
            parse_server(r#"{"v":1,"type":"peer_joined","peer":2}"#),
            Ok(ServerMsg::PeerJoined { peer: Some(2) })
        );
        assert_eq!(as_json(&ServerMsg::Pong), json!({"v": 1, "type": "pong"}));
        assert_eq!(
            as_json(&ErrorCode::RoomFull.reply()),
            json!({"v": 1, "type": "error", "code": "room_full",
                   "message": "This code has already been used; ask the sender for a new one."})
        );
        assert_eq!(
            as_json(&ErrorCode::RateLimited.reply()),
            json!({"v": 1, "type": "error", "code": "rate_limited",
                   "message": "Too many codes tried from this address; wait a minute and try again."})
        );
        assert_eq!(
            as_json(&ErrorCode::TooManyGuesses.reply()),
            json!({"v": 1, "type": "error", "code": "too_many_guesses",
                   "message": "Too many codes from this address did not work; wait a few minutes and try again."})
        );
        assert_eq!(
            as_json(&ErrorCode::RelayOverflow.reply()),
            json!({"v": 1, "type": "error", "code": "relay_overflow",
                   "message": "One side did not keep up with the messages the signaling server relayed, so the transfer was stopped; try again."})
        );
    }

    #[test]
    fn turn_messages_pin_their_json() {
        let turn = ServerMsg::Turn {
            urls: vec![
                "turn:turn.example.org:3478?transport=udp".into(),
                "turn:turn.example.org:3478?transport=tcp".into(),
            ],
            username: "1767225600:3f2a9c0d11e4b7a8".into(),
            credential: "c2VjcmV0LWhtYWMtc2hhMS1oZXJlPT0=".into(),
            ttl: 600,
        };
        let pinned = json!({
            "v": 1,
            "type": "turn",
            "urls": [
                "turn:turn.example.org:3478?transport=udp",
                "turn:turn.example.org:3478?transport=tcp"
            ],
            "username": "1767225600:3f2a9c0d11e4b7a8",
            "credential": "c2VjcmV0LWhtYWMtc2hhMS1oZXJlPT0=",
            "ttl": 600
        });
        assert_eq!(as_json(&turn), pinned);
        assert_eq!(parse_server(&pinned.to_string()), Ok(turn));
        assert_eq!(
            as_json(&ErrorCode::TurnUnavailable.reply()),
            json!({"v": 1, "type": "error", "code": "turn_unavailable",
                   "message": "This signaling server has no TURN relay to offer; connect directly or set a TURN server by hand."})
        );
        assert_eq!(
            as_json(&ErrorCode::NotPaired.reply()),
            json!({"v": 1, "type": "error", "code": "not_paired",
                   "message": "Relay credentials are only given once both sides of a code are in its room."})
        );
        assert_eq!(
            as_json(&ErrorCode::turn_rate_limited()),
            json!({"v": 1, "type": "error", "code": "rate_limited",
                   "message": "Too many relay credentials were asked for from this address or room; wait and try again."})
        );
    }

    #[test]
    fn parse_round_trips_and_refuses_bad_input() {
        assert_eq!(
            parse_client(r#"{"v":1,"type":"join","nameplate":"12"}"#),
            Ok(ClientMsg::Join {
                nameplate: "12".into()
            })
        );
        assert_eq!(parse_client("not json"), Err(ErrorCode::Malformed));
        assert_eq!(parse_client("[1,2]"), Err(ErrorCode::Malformed));
        assert_eq!(
            parse_client(r#"{"type":"ping"}"#),
            Err(ErrorCode::UnsupportedVersion)
        );
        assert_eq!(
            parse_client(r#"{"v":2,"type":"ping"}"#),
            Err(ErrorCode::UnsupportedVersion)
        );
        assert_eq!(
            parse_client(r#"{"v":1e400,"type":"ping"}"#),
            Err(ErrorCode::Malformed)
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"teleport"}"#),
            Err(ErrorCode::UnknownType)
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"join"}"#),
            Err(ErrorCode::Malformed)
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"join","nameplate":99999999999999999999999}"#),
            Err(ErrorCode::Malformed)
        );
        let big = format!(
            r#"{{"v":1,"type":"send","body":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(parse_client(&big), Err(ErrorCode::TooLarge));
    }

    #[test]
    fn every_error_code_has_a_distinct_name() {
        let names: std::collections::HashSet<_> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).expect("serializes"),
                Value::String(code.as_str().into())
            );
        }
    }
}
