//! The room actor: owns every room and every client's outbound queue, pairs two peers per
//! room and relays their messages.
//!
//! Connections talk to it only through [`Command`]s; it never reads sockets and never
//! awaits anything but its own inbox, so one slow client cannot stall the others.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::defaults::{MAX_ROOMS, ROOM_IDLE, ROOM_LIFETIME, SWEEP_INTERVAL};
use crate::metrics::Metrics;
use crate::protocol::{ErrorCode, ServerMsg};

/// Identifies one client connection for the server's lifetime.
pub(crate) type ConnId = u64;

/// What a connection asks of the actor.
#[derive(Debug)]
pub(crate) enum Command {
    /// A client connected; its outbound messages go to `tx`.
    Connect {
        conn: ConnId,
        tx: mpsc::Sender<ServerMsg>,
    },
    Allocate {
        conn: ConnId,
    },
    Join {
        conn: ConnId,
        nameplate: String,
    },
    Relay {
        conn: ConnId,
        body: String,
    },
    Leave {
        conn: ConnId,
    },
    /// The client's connection ended.
    Disconnect {
        conn: ConnId,
    },
}

struct Client {
    /// Outbound queue drained by the connection's writer task.
    tx: mpsc::Sender<ServerMsg>,
    /// The room this client is in, if any.
    room: Option<String>,
}

struct Room {
    /// Slot 0 is the allocating peer, slot 1 the joining one.
    members: [Option<ConnId>; 2],
    /// Set once a second peer joined: nameplates are single-use.
    paired: bool,
    created: Instant,
    last_activity: Instant,
}

impl Room {
    fn other(&self, conn: ConnId) -> Option<ConnId> {
        self.members.iter().flatten().copied().find(|&c| c != conn)
    }

    fn is_empty(&self) -> bool {
        self.members.iter().all(Option::is_none)
    }
}

/// The state the actor owns.
pub(crate) struct Rooms {
    inbox: mpsc::Receiver<Command>,
    clients: HashMap<ConnId, Client>,
    rooms: HashMap<String, Room>,
    metrics: Arc<Metrics>,
}

impl Rooms {
    pub(crate) fn new(inbox: mpsc::Receiver<Command>, metrics: Arc<Metrics>) -> Self {
        Self {
            inbox,
            clients: HashMap::new(),
            rooms: HashMap::new(),
            metrics,
        }
    }

    /// Runs until cancelled or until every connection handle is gone.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                cmd = self.inbox.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
                _ = sweep.tick() => self.sweep(Instant::now()),
            }
        }
        for client in self.clients.values() {
            let _ = client.tx.try_send(ErrorCode::ShuttingDown.reply());
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Connect { conn, tx } => {
                self.clients.insert(conn, Client { tx, room: None });
            }
            Command::Allocate { conn } => self.allocate(conn),
            Command::Join { conn, nameplate } => self.join(conn, nameplate),
            Command::Relay { conn, body } => self.relay(conn, body),
            Command::Leave { conn } => {
                if !self.leave(conn) {
                    self.send(conn, ErrorCode::NotInRoom.reply());
                }
            }
            Command::Disconnect { conn } => {
                self.leave(conn);
                self.clients.remove(&conn);
            }
        }
        self.metrics.set_rooms_open(self.rooms.len());
    }

    fn send(&self, conn: ConnId, msg: ServerMsg) {
        if let ServerMsg::Error { code, .. } = &msg {
            self.metrics.count_error(*code);
        }
        if let Some(client) = self.clients.get(&conn) {
            // A full queue means the client stopped reading; its connection task will
            // notice the closed socket. Dropping the message is all the actor may do.
            if client.tx.try_send(msg).is_err() {
                self.metrics.count_dropped();
            }
        }
    }

    fn in_room(&self, conn: ConnId) -> bool {
        self.clients.get(&conn).is_some_and(|c| c.room.is_some())
    }

    fn allocate(&mut self, conn: ConnId) {
        if self.in_room(conn) {
            return self.send(conn, ErrorCode::AlreadyInRoom.reply());
        }
        if self.rooms.len() >= MAX_ROOMS {
            return self.send(conn, ErrorCode::ServerBusy.reply());
        }
        let nameplate = self.free_nameplate();
        let now = Instant::now();
        self.rooms.insert(
            nameplate.clone(),
            Room {
                members: [Some(conn), None],
                paired: false,
                created: now,
                last_activity: now,
            },
        );
        if let Some(client) = self.clients.get_mut(&conn) {
            client.room = Some(nameplate.clone());
        }
        self.metrics.count_room();
        self.send(conn, ServerMsg::Allocated { nameplate });
    }

    /// A random free nameplate, as short as the number of open rooms allows: one or two
    /// digits on a quiet server, more only when it is busy.
    fn free_nameplate(&self) -> String {
        let mut rng = rand::thread_rng();
        let mut limit: u64 = 100;
        while (self.rooms.len() as u64) * 2 >= limit {
            limit *= 10;
        }
        loop {
            for _ in 0..32 {
                let candidate = rng.gen_range(1..limit).to_string();
                if !self.rooms.contains_key(&candidate) {
                    return candidate;
                }
            }
            limit *= 10;
        }
    }

    fn join(&mut self, conn: ConnId, nameplate: String) {
        if self.in_room(conn) {
            return self.send(conn, ErrorCode::AlreadyInRoom.reply());
        }
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return self.send(conn, ErrorCode::UnknownNameplate.reply());
        };
        if room.paired || room.members[1].is_some() {
            return self.send(conn, ErrorCode::RoomFull.reply());
        }
        room.members[1] = Some(conn);
        room.paired = true;
        room.last_activity = Instant::now();
        let other = room.other(conn);
        if let Some(client) = self.clients.get_mut(&conn) {
            client.room = Some(nameplate.clone());
        }
        self.send(conn, ServerMsg::Joined { nameplate });
        if let Some(other) = other {
            self.send(other, ServerMsg::PeerJoined);
        }
    }

    fn relay(&mut self, conn: ConnId, body: String) {
        let Some(nameplate) = self.clients.get(&conn).and_then(|c| c.room.clone()) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        room.last_activity = Instant::now();
        match room.other(conn) {
            Some(other) => {
                self.metrics.count_relayed();
                self.send(other, ServerMsg::Message { body });
            }
            None => self.send(conn, ErrorCode::PeerAbsent.reply()),
        }
    }

    /// Takes `conn` out of its room, telling the other peer; frees an empty room.
    /// Returns whether it was in one.
    fn leave(&mut self, conn: ConnId) -> bool {
        let Some(nameplate) = self.clients.get_mut(&conn).and_then(|c| c.room.take()) else {
            return false;
        };
        let mut other = None;
        let mut empty = false;
        if let Some(room) = self.rooms.get_mut(&nameplate) {
            for slot in &mut room.members {
                if *slot == Some(conn) {
                    *slot = None;
                }
            }
            other = room.other(conn);
            empty = room.is_empty();
        }
        if empty {
            self.rooms.remove(&nameplate);
        }
        if let Some(other) = other {
            self.send(other, ServerMsg::PeerLeft);
        }
        true
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| {
                now.duration_since(r.last_activity) >= ROOM_IDLE
                    || now.duration_since(r.created) >= ROOM_LIFETIME
            })
            .map(|(n, _)| n.clone())
            .collect();
        for nameplate in expired {
            if let Some(room) = self.rooms.remove(&nameplate) {
                for conn in room.members.into_iter().flatten() {
                    if let Some(client) = self.clients.get_mut(&conn) {
                        client.room = None;
                    }
                    self.send(conn, ErrorCode::RoomExpired.reply());
                }
            }
        }
        self.metrics.set_rooms_open(self.rooms.len());
    }
}
