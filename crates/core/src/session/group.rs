//! A sender's group room: one signaling connection shared by several receivers' sessions.
//!
//! The server numbers the receivers of a group room and names them in what it tells the
//! room's owner (docs/protocol.md, "Group rooms"). One task reads the connection and hands
//! each receiver's messages to that receiver's [`Line`]; each line names its receiver in
//! what it sends. A receiver's session (PAKE, sealed signaling, reconnects) then runs on its
//! line exactly as a two-peer session runs on a connection of its own, and knows nothing of
//! the others: one receiver's messages can never reach another's session.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use toss_wire::signal::{ClientMsg, ErrorCode, ServerMsg};

use super::SignalClient;
use crate::defaults::SIGNAL_QUEUE;
use crate::error::{Error, Result};

/// Receivers whose `turn` awaits the server's answer, oldest first: answers come in the
/// order asked, and name nobody.
type TurnWaiters = Arc<Mutex<VecDeque<u32>>>;

/// Where one session's signaling goes: a connection of its own (a two-peer room, and every
/// receiver), or one receiver's share of a group room's connection (the sender's side).
#[derive(Debug)]
pub(crate) enum Line {
    /// The whole connection.
    Own(SignalClient),
    /// One receiver of a group room.
    Member(MemberLine),
}

impl Line {
    /// Queues a message for the server, on this receiver's behalf in a group room.
    ///
    /// # Errors
    /// [`Error::SignalLost`] when the connection closed or its queue is full.
    pub(crate) fn send(&self, msg: ClientMsg) -> Result<()> {
        match self {
            Line::Own(client) => client.send(msg),
            Line::Member(member) => member.send(msg),
        }
    }

    /// The next message for this session.
    ///
    /// # Errors
    /// [`Error::SignalLost`] when the connection closed.
    pub(crate) async fn recv(&mut self) -> Result<ServerMsg> {
        match self {
            Line::Own(client) => client.recv().await,
            Line::Member(member) => member.inbound.recv().await.ok_or(Error::SignalLost),
        }
    }

    /// Leaves: the whole room for a connection of its own; in a group room, this receiver
    /// is sent out of it (it hears that the sender left) and the others stay.
    pub(crate) async fn close(&mut self) {
        match self {
            Line::Own(client) => client.close().await,
            Line::Member(member) => {
                if !member.closed {
                    member.closed = true;
                    let _ = member.send(ClientMsg::Leave { peer: None });
                }
            }
        }
    }

    /// Ends the code after a failed key confirmation, so that it is worth one guess: the
    /// room is left (a two-peer room) or locked to anyone else (a group room, whose
    /// receivers already in carry on), and this peer is gone from it.
    pub(crate) async fn burn(&mut self) {
        if let Line::Member(member) = self {
            let _ = member.send(ClientMsg::Lock);
        }
        self.close().await;
    }
}

/// One receiver's share of a group room's connection.
#[derive(Debug)]
pub(crate) struct MemberLine {
    /// The receiver's number in the room.
    peer: u32,
    outbound: mpsc::Sender<ClientMsg>,
    inbound: mpsc::Receiver<ServerMsg>,
    turn_waiters: TurnWaiters,
    /// Sent out of the room already.
    closed: bool,
}

impl MemberLine {
    /// Names this receiver in what names one; `turn` is queued for its answer.
    fn send(&self, msg: ClientMsg) -> Result<()> {
        let peer = Some(self.peer);
        let msg = match msg {
            ClientMsg::Send { body, .. } => ClientMsg::Send { body, to: peer },
            ClientMsg::Paired { .. } => ClientMsg::Paired { peer },
            ClientMsg::Leave { .. } => ClientMsg::Leave { peer },
            ClientMsg::Turn => {
                // Queued before it is sent: the answer cannot come first.
                let mut waiters = self
                    .turn_waiters
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                waiters.push_back(self.peer);
                drop(waiters);
                ClientMsg::Turn
            }
            other => other,
        };
        self.outbound.try_send(msg).map_err(|_| Error::SignalLost)
    }
}

/// A receiver that entered the group room, with its line, for the key exchange.
#[derive(Debug)]
pub(crate) struct Joiner {
    /// Its number in the room (1, 2, ...).
    pub(crate) peer: u32,
    /// Its share of the room's connection.
    pub(crate) line: Line,
}

/// The sender's group room, shared out to its receivers' sessions; dropping it stops the
/// routing and so every session's signaling.
#[derive(Debug)]
pub(crate) struct Group {
    joins: mpsc::Receiver<Joiner>,
    outbound: mpsc::Sender<ClientMsg>,
    task: JoinHandle<()>,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Group {
    /// Starts routing the room's messages to its receivers.
    pub(crate) fn new(client: SignalClient) -> Group {
        let outbound = client.sender();
        let (joins_tx, joins) = mpsc::channel(SIGNAL_QUEUE);
        let task = tokio::spawn(route(client, joins_tx));
        Group {
            joins,
            outbound,
            task,
        }
    }

    /// The next receiver to enter the room; `None` once the room is gone (closed, expired,
    /// or the connection lost).
    pub(crate) async fn joined(&mut self) -> Option<Joiner> {
        self.joins.recv().await
    }

    /// Lets nobody else join; those in the room stay.
    pub(crate) fn lock(&self) {
        let _ = self.outbound.try_send(ClientMsg::Lock);
    }
}

/// Reads the room's connection and hands each message to the receiver it concerns, until
/// the connection or the room ends.
async fn route(mut client: SignalClient, joins: mpsc::Sender<Joiner>) {
    let outbound = client.sender();
    let turn_waiters = TurnWaiters::default();
    let mut routes: HashMap<u32, mpsc::Sender<ServerMsg>> = HashMap::new();
    let deliver = |routes: &mut HashMap<u32, mpsc::Sender<ServerMsg>>, peer: u32, msg| {
        // A session that has stopped reading loses its signaling rather than hold up the
        // others: it sees its line close.
        if let Some(tx) = routes.get(&peer) {
            if tx.try_send(msg).is_err() {
                routes.remove(&peer);
            }
        }
    };
    while let Ok(msg) = client.recv().await {
        match msg {
            ServerMsg::PeerJoined { peer: Some(peer) } => {
                let (tx, rx) = mpsc::channel(SIGNAL_QUEUE);
                routes.insert(peer, tx);
                let line = Line::Member(MemberLine {
                    peer,
                    outbound: outbound.clone(),
                    inbound: rx,
                    turn_waiters: turn_waiters.clone(),
                    closed: false,
                });
                if let Err(refused) = joins.try_send(Joiner { peer, line }) {
                    // Nobody takes receivers any more: this one is sent out at once.
                    let Joiner { mut line, .. } = refused.into_inner();
                    line.close().await;
                }
            }
            ServerMsg::Message {
                body,
                from: Some(peer),
            } => deliver(&mut routes, peer, ServerMsg::Message { body, from: None }),
            ServerMsg::PeerLeft { peer: Some(peer) } => {
                deliver(&mut routes, peer, ServerMsg::PeerLeft { peer: None });
                routes.remove(&peer);
            }
            msg @ (ServerMsg::Turn { .. }
            | ServerMsg::Error {
                code:
                    ErrorCode::TurnUnavailable
                    | ErrorCode::NotPaired
                    | ErrorCode::RateLimited
                    | ErrorCode::UnknownType,
                ..
            }) => {
                let asked = turn_waiters
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                if let Some(peer) = asked {
                    deliver(&mut routes, peer, msg);
                }
            }
            // What ends the room (expired, overflow, shutting down) is everyone's last word.
            msg @ ServerMsg::Error { .. } => {
                for tx in routes.values() {
                    let _ = tx.try_send(msg.clone());
                }
                break;
            }
            // Messages that name no receiver have no place in a group room.
            other => tracing::debug!("group room: ignored {other:?}"),
        }
    }
}
