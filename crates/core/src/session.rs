//! Session setup, as phases that consume the one before: [`allocate`] -> [`Allocated`] ->
//! [`Paired`] (PAKE done, keys confirmed) -> [`crate::peer::Link`] (data channel open).
//! The receiver skips the first phase with [`join`].
//!
//! Everything the peers say to each other through the server after the PAKE is sealed;
//! the server only ever sees the nameplate, PAKE messages, MACs and ciphertext.

mod group;
mod signal_client;

use serde::{Deserialize, Serialize};
use toss_wire::signal::{ClientMsg, ErrorCode, ServerMsg};

use crate::code::{Code, Nameplate, Password};
use crate::config::{IceServer, SignalEndpoint};
use crate::crypto::{self, ChannelBinder, Opener, Pake, Role, Sealer, SessionKeys};
use crate::defaults::{PAKE_TIMEOUT, SERVER_ANSWER_TIMEOUT, TURN_ANSWER_TIMEOUT};
use crate::error::{Error, Phase, Result};

pub(crate) use group::{Group, Joiner, Line};
pub(crate) use signal_client::SignalClient;

/// What a Toss client puts in a relayed body: PAKE and confirmation in the clear (they are
/// safe to show), everything else sealed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RoomMsg {
    /// The sender's commitment to its PAKE message, sent first.
    Commit {
        hash: String,
    },
    Pake {
        msg: String,
    },
    Confirm {
        mac: String,
    },
    Sealed {
        data: String,
    },
}

/// What travels sealed: the WebRTC negotiation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Signal {
    Offer {
        sdp: String,
        /// This side can take SCTP packets larger than the WebRTC default (Toss's own
        /// stack); other stacks leave it out.
        #[serde(default)]
        large_packets: bool,
        /// Which connection of the session this is: 0, then one more per reconnection.
        #[serde(default)]
        round: u32,
    },
    Answer {
        sdp: String,
        /// As in the offer.
        #[serde(default)]
        large_packets: bool,
        /// The offer's round, echoed: an answer to an older offer is ignored.
        #[serde(default)]
        round: u32,
        /// The receiver's device name, for a sender that lists its receivers (a group
        /// code); older receivers and the web page leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    Candidate {
        candidate: webrtc::ice_transport::ice_candidate::RTCIceCandidateInit,
    },
    /// The peer gives up on setup, with a reason for its user.
    Abort { reason: String },
    /// The peer's user cancelled during setup.
    Cancel,
    /// The peer caught a message that failed its integrity check and stopped.
    Tampered,
    /// The peer lost the connection during the transfer and is about to set up a new one
    /// (the sender offers again).
    Reconnect,
}

impl Signal {
    /// Its kind, as on the wire, for the log (the rest may hold addresses).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Signal::Offer { .. } => "offer",
            Signal::Answer { .. } => "answer",
            Signal::Candidate { .. } => "candidate",
            Signal::Abort { .. } => "abort",
            Signal::Cancel => "cancel",
            Signal::Tampered => "tampered",
            Signal::Reconnect => "reconnect",
        }
    }
}

/// Turns an unexpected server message into the error a user sees.
///
/// A refusal is told in this program's own sentence for its code: the server's text could
/// carry terminal escapes or markup, and is never shown.
pub(crate) fn refused_msg(msg: ServerMsg) -> Error {
    match msg {
        ServerMsg::PeerLeft { .. }
        | ServerMsg::Error {
            code: ErrorCode::PeerAbsent,
            ..
        } => Error::PeerGone,
        ServerMsg::Error { code, .. } => match code.reply() {
            ServerMsg::Error { message, .. } => Error::SignalRefused(message),
            _ => Error::SignalRefused(format!("the signaling server refused ({})", code.as_str())),
        },
        other => Error::SignalRefused(format!(
            "the signaling server answered out of turn ({other:?})"
        )),
    }
}

/// The sender's room is open and the code can be read out.
#[derive(Debug)]
pub struct Allocated {
    client: SignalClient,
    code: Code,
    /// How many receivers the room takes (1: the two-peer room).
    receivers: u32,
}

/// Opens a room on the signaling server and makes a fresh code for it.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn allocate(server: &SignalEndpoint) -> Result<Allocated> {
    allocate_with(server, Password::random()).await
}

/// Opens a room with a given password ([`Password::nearby`] for a send to a nearby device).
///
/// # Errors
/// As [`allocate`].
pub async fn allocate_with(server: &SignalEndpoint, password: Password) -> Result<Allocated> {
    allocate_for(server, password, 1).await
}

/// Opens a room that up to `receivers` may join with the same code (a group room, when
/// more than one; docs/protocol.md).
///
/// # Errors
/// As [`allocate`]; [`Error::SignalRefused`] when the server takes fewer receivers per code
/// than asked (an older server takes one).
pub async fn allocate_for(
    server: &SignalEndpoint,
    password: Password,
    receivers: u32,
) -> Result<Allocated> {
    let mut client = SignalClient::connect(server).await?;
    let asked = (receivers > 1).then_some(receivers);
    client.send(ClientMsg::Allocate { receivers: asked })?;
    match answer(&mut client).await? {
        ServerMsg::Allocated {
            nameplate,
            receivers: given,
        } => {
            let nameplate: Nameplate = nameplate.parse().map_err(|_| {
                Error::SignalRefused("the signaling server sent an invalid room number".into())
            })?;
            if let Some(asked) = asked {
                let given = given.unwrap_or(1);
                if given < asked {
                    client.close().await;
                    return Err(Error::SignalRefused(match given {
                        1 => format!("the signaling server at {} lets only one receiver join a code; update it, or send to fewer receivers", server.url),
                        n => format!("the signaling server at {} lets at most {n} receivers join one code", server.url),
                    }));
                }
            }
            Ok(Allocated {
                client,
                code: Code::new(nameplate, password),
                receivers,
            })
        }
        other => Err(refused_msg(other)),
    }
}

impl Allocated {
    /// The code to read out to the receiver.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// How many receivers may join with the code.
    pub fn receivers(&self) -> u32 {
        self.receivers
    }

    /// Waits for the receiver to join, then runs the PAKE.
    ///
    /// # Errors
    /// [`Error::WrongCode`] when the receiver typed another code; signaling errors.
    pub async fn wait_for_peer(mut self) -> Result<Paired> {
        match self.client.recv().await? {
            ServerMsg::PeerJoined { .. } => {}
            other => return Err(refused_msg(other)),
        }
        pake(Line::Own(self.client), &self.code, Role::Sender).await
    }

    /// Shares the room out to the receivers that join it (a group room).
    pub(crate) fn into_group(self) -> (Group, Code) {
        (Group::new(self.client), self.code)
    }
}

/// The key exchange with one receiver of a group room, on its line.
///
/// # Errors
/// As [`Allocated::wait_for_peer`]; a wrong code locks the room ([`Line::burn`]).
pub(crate) async fn pake_joiner(joiner: Joiner, code: &Code) -> Result<Paired> {
    pake(joiner.line, code, Role::Sender).await
}

/// Joins the sender's room with the code and runs the PAKE.
///
/// # Errors
/// [`Error::WrongCode`] when the code's words are wrong; [`Error::SignalRefused`] when the
/// nameplate is unknown or used; signaling errors.
pub async fn join(server: &SignalEndpoint, code: &Code) -> Result<Paired> {
    join_with(SignalClient::connect(server).await?, code).await
}

/// [`join`] over a signaling connection already open.
pub(crate) async fn join_with(mut client: SignalClient, code: &Code) -> Result<Paired> {
    client.send(ClientMsg::Join {
        nameplate: code.nameplate().to_string(),
    })?;
    match answer(&mut client).await? {
        ServerMsg::Joined { .. } => {}
        ServerMsg::Error {
            code: ErrorCode::UnknownNameplate,
            ..
        } => {
            return Err(Error::SignalRefused(format!(
                "no transfer is waiting with the code {code}: check the number at its start, or ask the sender for a new code"
            )))
        }
        other => return Err(refused_msg(other)),
    }
    pake(Line::Own(client), code, Role::Receiver).await
}

/// The server's answer to a request, bounded in time.
async fn answer(client: &mut SignalClient) -> Result<ServerMsg> {
    tokio::time::timeout(SERVER_ANSWER_TIMEOUT, client.recv())
        .await
        .map_err(|_| Error::TimedOut(Phase::ServerAnswer))?
}

async fn next_room_msg(client: &mut Line) -> Result<RoomMsg> {
    match client.recv().await? {
        ServerMsg::Message { body, .. } => serde_json::from_str(&body)
            .map_err(|_| Error::Protocol("an unreadable setup message arrived".into())),
        other => Err(refused_msg(other)),
    }
}

fn send_room_msg(client: &Line, msg: &RoomMsg) -> Result<()> {
    let body = serde_json::to_string(msg)
        .map_err(|e| Error::Protocol(format!("cannot encode a setup message: {e}")))?;
    client.send(ClientMsg::Send { body, to: None })
}

/// The key exchange, bounded in time: a room where nobody answers does not hold a
/// receiver forever.
async fn pake(mut client: Line, code: &Code, role: Role) -> Result<Paired> {
    let keys = tokio::time::timeout(PAKE_TIMEOUT, exchange(&mut client, code, role))
        .await
        .map_err(|_| Error::TimedOut(Phase::KeyExchange))?;
    match keys {
        Ok(keys) => Ok(Paired::new(client, keys)),
        Err(e) => {
            // Burn the room: one guess per code.
            if e.is_wrong_code() {
                client.burn().await;
            }
            Err(e)
        }
    }
}

/// SPAKE2 with a commitment, then key confirmation. The sender commits to its message
/// first and reveals it only once the receiver's has arrived: whoever sits in the middle
/// must fix each message it sends before it learns the honest message it will meet, so it
/// gets one try at matching verification words per session, 1 in 65,536.
async fn exchange(client: &mut Line, code: &Code, role: Role) -> Result<SessionKeys> {
    let nameplate = code.nameplate();
    let (state, outbound) = Pake::start(nameplate, code.password());
    let pake_msg = RoomMsg::Pake {
        msg: crypto::encode(&outbound),
    };
    let theirs = |msg: RoomMsg| match msg {
        RoomMsg::Pake { msg } => crypto::decode(&msg).map_err(|_| Error::WrongCode),
        _ => Err(Error::Protocol("expected the key exchange".into())),
    };
    let inbound = match role {
        Role::Sender => {
            let hash = crypto::encode(&crypto::pake_commitment(nameplate, &outbound));
            send_room_msg(client, &RoomMsg::Commit { hash })?;
            let inbound = theirs(next_room_msg(client).await?)?;
            send_room_msg(client, &pake_msg)?;
            inbound
        }
        Role::Receiver => {
            let commitment = match next_room_msg(client).await? {
                RoomMsg::Commit { hash } => crypto::decode(&hash).map_err(|_| Error::WrongCode)?,
                _ => return Err(Error::Protocol("expected the key exchange".into())),
            };
            send_room_msg(client, &pake_msg)?;
            let inbound = theirs(next_room_msg(client).await?)?;
            if !crypto::check_commitment(nameplate, &commitment, &inbound) {
                return Err(Error::WrongCode);
            }
            inbound
        }
    };
    let keys = state.finish(&inbound, role).map_err(|_| Error::WrongCode)?;
    send_room_msg(
        client,
        &RoomMsg::Confirm {
            mac: crypto::encode(&keys.my_confirmation()),
        },
    )?;
    let mac = match next_room_msg(client).await {
        Ok(RoomMsg::Confirm { mac }) => crypto::decode(&mac).map_err(|_| Error::WrongCode)?,
        Ok(_) => return Err(Error::Protocol("expected the key confirmation".into())),
        // A peer whose confirmation failed leaves at once: to us that is a wrong code too.
        Err(Error::PeerGone) => return Err(Error::WrongCode),
        Err(e) => return Err(e),
    };
    keys.check_confirmation(&mac)
        .map_err(|_| Error::WrongCode)?;
    if role == Role::Sender {
        // The room's owner vouches for its joiner: the server gives back the guess that
        // joining cost the joiner's address.
        client.send(ClientMsg::Paired { peer: None })?;
    }
    Ok(keys)
}

/// What the signaling connection brought, once opened.
#[derive(Debug)]
pub(crate) enum Heard {
    /// A sealed message from the peer.
    Signal(Signal),
    /// The peer's signaling connection went away.
    PeerLeft,
}

/// The signaling server's answer to `turn`.
#[derive(Debug)]
pub(crate) enum TurnAnswer {
    /// Short-lived credentials for the server's TURN server.
    Granted(IceServer),
    /// No credentials, and why, in a few words for the log and the no-relay sentence.
    Refused(String),
}

/// Both sides proved they hold the same code; signaling from here on is sealed.
#[derive(Debug)]
pub struct Paired {
    client: Line,
    role: Role,
    verification: String,
    sealer: Sealer,
    opener: Opener,
    binder: ChannelBinder,
    /// What signaling brought while something else was awaited (a transfer ran, the
    /// server's answer to `turn`), for the next [`Paired::hear`] to take, in order.
    pending: std::collections::VecDeque<Heard>,
    /// Which connection of the session is being set up: the sender counts its offers, the
    /// receiver follows the newest one it has answered.
    round: u32,
    /// This side's device name, said in the answer (receiver).
    device: Option<String>,
    /// The receiver's device name, from its answer (sender), made safe to show.
    peer_device: Option<String>,
}

impl Paired {
    fn new(client: Line, keys: SessionKeys) -> Self {
        let role = keys.role();
        let verification = keys.verification().to_owned();
        let (sealer, opener, binder) = keys.into_channel();
        Self {
            client,
            role,
            verification,
            sealer,
            opener,
            binder,
            pending: std::collections::VecDeque::new(),
            round: 0,
            device: None,
            peer_device: None,
        }
    }

    /// Says this device's name in the answer (receiver).
    pub(crate) fn set_device(&mut self, name: &str) {
        self.device = Some(crate::lan::clean_device_name(name));
    }

    /// This side's device name, for the answer.
    pub(crate) fn device(&self) -> Option<String> {
        self.device.clone()
    }

    /// Keeps the receiver's device name from its answer, made safe to show.
    pub(crate) fn heard_device(&mut self, name: Option<String>) {
        if let Some(name) = name {
            let name = crate::lan::clean_device_name(&name);
            if !name.is_empty() {
                self.peer_device = Some(name);
            }
        }
    }

    /// The receiver's device name, when it said one.
    pub(crate) fn peer_device(&self) -> Option<&str> {
        self.peer_device.as_deref()
    }

    /// The next thing the peer said through signaling, opened. Cancel-safe.
    ///
    /// # Errors
    /// [`Error::Tampered`] for a message that does not open; [`Error::SignalLost`] when
    /// signaling closed; a refusal from the server.
    pub(crate) async fn hear(&mut self) -> Result<Heard> {
        if let Some(heard) = self.pending.pop_front() {
            return Ok(heard);
        }
        loop {
            return match self.client.recv().await? {
                ServerMsg::Message { body, .. } => self.open(&body).map(Heard::Signal),
                // The server's answer to something said after the peer left: it has left.
                ServerMsg::PeerLeft { .. }
                | ServerMsg::Error {
                    code: ErrorCode::PeerAbsent,
                    ..
                } => Ok(Heard::PeerLeft),
                // A late answer to `turn`, after its wait gave up.
                ServerMsg::Turn { .. }
                | ServerMsg::Error {
                    code: ErrorCode::TurnUnavailable | ErrorCode::NotPaired,
                    ..
                } => continue,
                other => Err(refused_msg(other)),
            };
        }
    }

    /// Puts back a signal for the next [`Paired::hear`].
    pub(crate) fn unhear(&mut self, signal: Signal) {
        self.pending.push_back(Heard::Signal(signal));
    }

    /// Asks the signaling server for TURN credentials (`turn`), which it gives only to the
    /// two peers of a room. What the peer says meanwhile is opened in order and kept for
    /// [`Paired::hear`]. A server that does not answer in time, has no TURN, refuses, or is
    /// older than `turn` is a refusal, never an error: the connection goes on without.
    ///
    /// # Errors
    /// What [`Paired::hear`] would have failed with meanwhile (a tampered message, lost
    /// signaling, the room closed).
    pub(crate) async fn turn(&mut self) -> Result<TurnAnswer> {
        self.client.send(ClientMsg::Turn)?;
        let deadline = tokio::time::Instant::now() + TURN_ANSWER_TIMEOUT;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.client.recv()).await {
                Ok(msg) => msg?,
                Err(_) => return Ok(TurnAnswer::Refused("it did not answer in time".into())),
            };
            match msg {
                ServerMsg::Turn {
                    urls,
                    username,
                    credential,
                    ..
                } if !urls.is_empty() => {
                    return Ok(TurnAnswer::Granted(IceServer {
                        urls,
                        username,
                        credential,
                    }))
                }
                ServerMsg::Turn { .. } => {
                    return Ok(TurnAnswer::Refused("it named no TURN server".into()))
                }
                ServerMsg::Error {
                    code:
                        code @ (ErrorCode::TurnUnavailable
                        | ErrorCode::NotPaired
                        | ErrorCode::RateLimited
                        | ErrorCode::UnknownType),
                    ..
                } => return Ok(TurnAnswer::Refused(code.as_str().replace('_', " "))),
                ServerMsg::Message { body, .. } => {
                    let heard = Heard::Signal(self.open(&body)?);
                    self.pending.push_back(heard);
                }
                // The peer left, and may have said why first (kept above, in order): that
                // is for `hear`, not a refusal of `turn`.
                ServerMsg::PeerLeft { .. }
                | ServerMsg::Error {
                    code: ErrorCode::PeerAbsent,
                    ..
                } => self.pending.push_back(Heard::PeerLeft),
                other => return Err(refused_msg(other)),
            }
        }
    }

    /// Leaves the room: the server forgets this side.
    pub(crate) async fn leave(&mut self) {
        self.client.close().await;
    }

    /// Two words both screens show.
    pub fn verification(&self) -> &str {
        &self.verification
    }

    /// Which side of the session this is.
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// The key that proves, on a new data channel, which certificates each side saw.
    pub(crate) fn binder(&self) -> &ChannelBinder {
        &self.binder
    }

    /// Which connection of the session is being set up (0, then one more per fresh one).
    pub(crate) fn round(&self) -> u32 {
        self.round
    }

    /// Begins the next connection of the session: the sender counts one more offer. The
    /// receiver follows the sender's offers as they come ([`Paired::follow_round`]).
    pub(crate) fn next_round(&mut self) {
        if self.role == Role::Sender {
            self.round += 1;
        }
    }

    /// The receiver answers the sender's offer of `round`.
    pub(crate) fn follow_round(&mut self, round: u32) {
        self.round = round;
    }

    /// Says `signal` to the peer, sealed.
    ///
    /// # Errors
    /// [`Error::SignalLost`] when signaling is closed or its queue is full.
    pub(crate) fn say(&mut self, signal: &Signal) -> Result<()> {
        let msg = self.seal(signal)?;
        self.client.send(msg)
    }

    /// Sends a message sealed earlier, as it is (tests that flood or replay).
    #[cfg(feature = "test-utils")]
    pub(crate) fn send_sealed(&self, msg: ClientMsg) -> Result<()> {
        self.client.send(msg)
    }

    /// Seals a signal into a relayed body.
    pub(crate) fn seal(&mut self, signal: &Signal) -> Result<ClientMsg> {
        let plain = serde_json::to_vec(signal)
            .map_err(|e| Error::Protocol(format!("cannot encode a setup message: {e}")))?;
        let body = serde_json::to_string(&RoomMsg::Sealed {
            data: self.sealer.seal(&plain),
        })
        .map_err(|e| Error::Protocol(format!("cannot encode a setup message: {e}")))?;
        Ok(ClientMsg::Send { body, to: None })
    }

    /// Opens a relayed body; anything but a genuine next message fails closed.
    pub(crate) fn open(&mut self, body: &str) -> Result<Signal> {
        let RoomMsg::Sealed { data } = serde_json::from_str(body).map_err(|_| Error::Tampered)?
        else {
            return Err(Error::Tampered);
        };
        let plain = self.opener.open(&data).map_err(|_| Error::Tampered)?;
        serde_json::from_slice(&plain).map_err(|_| Error::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Another stack's offer or answer (the web peer says `false`, others leave the field
    /// out) does not ask for large SCTP packets, so the path gets the 1191-byte default
    /// (`peer::path`'s tests: a peer that does not take them gets it on every path).
    #[test]
    fn an_offer_or_answer_that_does_not_say_it_takes_large_packets_does_not() {
        for json in [
            r#"{"kind":"offer","sdp":"v=0","large_packets":false,"round":0}"#,
            r#"{"kind":"answer","sdp":"v=0","large_packets":false,"round":0}"#,
            r#"{"kind":"offer","sdp":"v=0"}"#,
            r#"{"kind":"answer","sdp":"v=0"}"#,
        ] {
            match serde_json::from_str::<Signal>(json) {
                Ok(Signal::Offer { large_packets, .. } | Signal::Answer { large_packets, .. }) => {
                    assert!(!large_packets, "{json}");
                }
                other => panic!("{json} parsed as {other:?}"),
            }
        }
    }

    /// A sender that commits to one PAKE message and reveals another, valid one for the
    /// same public password: what a machine in the middle of a nearby send would do to
    /// choose its message after seeing the receiver's. The receiver refuses it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revealed_message_other_than_the_committed_one_is_refused(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let addr = "127.0.0.1:0".parse()?;
        let server = toss_signal::Server::spawn(toss_signal::Config::new(addr)).await?;
        let endpoint = SignalEndpoint::new(server.url());
        let Allocated { client, code, .. } = allocate_with(&endpoint, Password::nearby()).await?;
        let mut client = Line::Own(client);
        let receiver = {
            let (endpoint, code) = (endpoint.clone(), code.clone());
            tokio::spawn(async move { join(&endpoint, &code).await.map(|_| ()) })
        };
        assert!(matches!(client.recv().await?, ServerMsg::PeerJoined { .. }));
        let (_, committed) = Pake::start(code.nameplate(), code.password());
        let (_, revealed) = Pake::start(code.nameplate(), code.password());
        let hash = crypto::encode(&crypto::pake_commitment(code.nameplate(), &committed));
        send_room_msg(&client, &RoomMsg::Commit { hash })?;
        assert!(matches!(
            next_room_msg(&mut client).await?,
            RoomMsg::Pake { .. }
        ));
        send_room_msg(
            &client,
            &RoomMsg::Pake {
                msg: crypto::encode(&revealed),
            },
        )?;
        let refused = tokio::time::timeout(std::time::Duration::from_secs(30), receiver).await??;
        assert!(matches!(refused, Err(Error::WrongCode)), "{refused:?}");
        Ok(())
    }

    /// A sender that gives up says why and leaves; a receiver that meanwhile lost the
    /// connection says "reconnect" (which the server answers with "the other side is not in
    /// the room") and asks for TURN for the next attempt. What it then hears is the
    /// sender's reason, then that it left: never the server's refusal in their place.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_that_says_why_and_leaves_is_heard_after_a_turn_request(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let addr = "127.0.0.1:0".parse()?;
        let server = toss_signal::Server::spawn(toss_signal::Config::new(addr)).await?;
        let endpoint = SignalEndpoint::new(server.url());
        let allocated = allocate(&endpoint).await?;
        let code = allocated.code().clone();
        let joining = tokio::spawn(async move { join(&endpoint, &code).await });
        let mut sender = allocated.wait_for_peer().await?;
        let mut receiver = joining.await??;
        let reason = "the sender saw other verification words on its screen; nothing was sent";
        sender.say(&Signal::Abort {
            reason: reason.into(),
        })?;
        sender.leave().await;
        let within = std::time::Duration::from_secs(10);
        // The sender's leaving has reached the receiver before it speaks again.
        let mut early = Vec::new();
        loop {
            match tokio::time::timeout(within, receiver.client.recv()).await?? {
                ServerMsg::PeerLeft { .. } => break,
                ServerMsg::Message { body, .. } => early.push(body),
                other => panic!("unexpected {other:?}"),
            }
        }
        for body in early {
            let heard = Heard::Signal(receiver.open(&body)?);
            receiver.pending.push_back(heard);
        }
        receiver.pending.push_back(Heard::PeerLeft);
        receiver.say(&Signal::Reconnect)?;
        let answer = tokio::time::timeout(within, receiver.turn()).await??;
        assert!(matches!(answer, TurnAnswer::Refused(_)), "{answer:?}");
        match receiver.hear().await? {
            Heard::Signal(Signal::Abort { reason: heard }) => assert_eq!(heard, reason),
            other => panic!("heard {other:?} before the reason"),
        }
        assert!(matches!(receiver.hear().await?, Heard::PeerLeft));
        Ok(())
    }

    /// A group code's receivers each have their own session with the sender: what one
    /// receiver seals opens in its own session on the sender's side and in no other, and
    /// each pair shows words of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_receiver_of_a_group_code_has_keys_of_its_own(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let addr = "127.0.0.1:0".parse()?;
        let server = toss_signal::Server::spawn(toss_signal::Config::new(addr)).await?;
        let endpoint = SignalEndpoint::new(server.url());
        let allocated = allocate_for(&endpoint, Password::random(), 2).await?;
        assert_eq!(allocated.receivers(), 2);
        let (mut group, code) = allocated.into_group();
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..2 {
            let joining = {
                let (endpoint, code) = (endpoint.clone(), code.clone());
                tokio::spawn(async move { join(&endpoint, &code).await })
            };
            let joiner = group.joined().await.ok_or("the room ended")?;
            senders.push(pake_joiner(joiner, &code).await?);
            receivers.push(joining.await??);
        }
        for (sender, receiver) in senders.iter().zip(&receivers) {
            assert_eq!(sender.verification(), receiver.verification());
        }
        assert_ne!(
            senders[0].verification(),
            senders[1].verification(),
            "two receivers, two keys (equal words by chance: 1 in 65,536)"
        );
        let ClientMsg::Send { body, .. } = receivers[0].seal(&Signal::Reconnect)? else {
            return Err("a sealed message is a send".into());
        };
        assert!(matches!(senders[1].open(&body), Err(Error::Tampered)));
        assert!(matches!(senders[0].open(&body), Ok(Signal::Reconnect)));
        // And through the room: receiver 2's message reaches receiver 2's session only.
        receivers[1].say(&Signal::Cancel)?;
        let heard =
            tokio::time::timeout(std::time::Duration::from_secs(10), senders[1].hear()).await??;
        assert!(matches!(heard, Heard::Signal(Signal::Cancel)), "{heard:?}");
        Ok(())
    }
}
