//! The room actor: owns every room and every client's outbound queue, pairs two peers per
//! room and relays their messages.
//!
//! Connections talk to it only through [`Command`]s; it never reads sockets and never
//! awaits anything but its own inbox, so one slow client cannot stall the others. Once a
//! room holds both peers, each connection relays its peer's messages straight into the
//! other's queue through a [`Shortcut`] the actor hands it, so that the busiest message
//! (`send`) passes through one task fewer; the actor takes the shortcut away before the
//! room ends. It charges
//! and refunds guesses in the per-address limits ([`crate::limits`]), because only here is
//! it known whether a `join` entered a waiting room and whether its code was confirmed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::defaults::SWEEP_INTERVAL;
use crate::limits::Limits;
use crate::metrics::{ConnRefusal, Metrics};
use crate::protocol::{ErrorCode, ServerMsg};
use crate::turn::Turn;

/// Identifies one client connection for the server's lifetime.
pub(crate) type ConnId = u64;

/// Places at the end of every client's outbound queue kept for the last word, the error
/// that says why its room or connection is being closed, so that it always fits: the queue
/// holds the configured number of messages plus these.
pub(crate) const LAST_WORD: usize = 1;

/// Whether `tx` takes one more ordinary message, leaving the last word's place free.
pub(crate) fn has_room(tx: &mpsc::Sender<ServerMsg>) -> bool {
    tx.capacity() > LAST_WORD
}

/// A connection's way to relay straight into its peer's queue, shared by the connection's
/// task and the actor.
pub(crate) type Shortcut = Arc<Lane>;

/// See [`Shortcut`].
#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// Set by the actor while the connection's room holds both peers. The actor clears it
    /// (under its lock) before it tells either member anything about the room ending, so a
    /// relayed message never lands after a room's last word or a `peer_left`.
    direct: Mutex<Option<Direct>>,
    /// The connection's messages handed to the actor and not yet relayed by it: while there
    /// are any, later ones go the same way, so that none overtakes another.
    queued: AtomicUsize,
}

impl Lane {
    /// Counts a message the connection hands to the actor instead.
    pub(crate) fn queue(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    fn relayed_by_actor(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    fn set(&self, direct: Option<Direct>) {
        *self.direct.lock().unwrap_or_else(PoisonError::into_inner) = direct;
    }
}

/// The other member's queue, and the room's clock of relayed messages.
#[derive(Debug)]
pub(crate) struct Direct {
    to: mpsc::Sender<ServerMsg>,
    activity: Arc<Activity>,
    /// When the room was made: the clock's start.
    created: Instant,
}

/// When a room last relayed a message, in milliseconds since it was made: what keeps it
/// from expiring as idle.
#[derive(Debug, Default)]
pub(crate) struct Activity(AtomicU64);

impl Activity {
    fn touch(&self, created: Instant) {
        let ms = u64::try_from(created.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self, created: Instant) -> Instant {
        created + Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// Relays `body` through the shortcut when there is one, nothing the connection sent earlier
/// is still with the actor, and the peer's queue has room; otherwise gives it back, for the
/// actor (which closes the room when the peer's queue is full, as ever). A caller that then
/// hands it to the actor calls [`Lane::queue`] first.
pub(crate) fn relay_direct(
    shortcut: &Shortcut,
    body: String,
    metrics: &Metrics,
) -> Result<(), String> {
    if shortcut.queued.load(Ordering::Acquire) != 0 {
        return Err(body);
    }
    let guard = shortcut
        .direct
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(direct) = guard.as_ref() else {
        return Err(body);
    };
    if !has_room(&direct.to) {
        return Err(body);
    }
    match direct.to.try_send(ServerMsg::Message { body }) {
        Ok(()) => {
            metrics.count_relayed();
            direct.activity.touch(direct.created);
            Ok(())
        }
        Err(mpsc::error::TrySendError::Full(msg) | mpsc::error::TrySendError::Closed(msg)) => {
            match msg {
                ServerMsg::Message { body } => Err(body),
                _ => unreachable!("the message sent is the one given back"),
            }
        }
    }
}

/// What a connection asks of the actor.
#[derive(Debug)]
pub(crate) enum Command {
    /// A client connected from `ip` (as the per-address limits count it); its outbound
    /// messages go to `tx`, and cancelling `cancel` ends its connection.
    Connect {
        conn: ConnId,
        ip: IpAddr,
        tx: mpsc::Sender<ServerMsg>,
        cancel: CancellationToken,
        shortcut: Shortcut,
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
    /// The client confirmed its room's code (`paired`).
    Paired {
        conn: ConnId,
    },
    /// The client asks for TURN credentials (`turn`); the server has a TURN server.
    Turn {
        conn: ConnId,
    },
    /// The client's connection ended.
    Disconnect {
        conn: ConnId,
    },
}

struct Client {
    /// Where the client connects from: the address its joins are charged to.
    ip: IpAddr,
    /// Outbound queue drained by the connection's writer task.
    tx: mpsc::Sender<ServerMsg>,
    /// The room this client is in, if any.
    room: Option<String>,
    /// Since when the client has been in no room; `None` while it is in one.
    unpaired_since: Option<Instant>,
    /// Ends the client's connection task, for a client that stays out of rooms too long.
    cancel: CancellationToken,
    /// Its connection's way to its peer, while its room holds both.
    shortcut: Shortcut,
}

impl Client {
    fn enter(&mut self, nameplate: String) {
        self.room = Some(nameplate);
        self.unpaired_since = None;
    }

    fn exit(&mut self, now: Instant) -> Option<String> {
        self.unpaired_since.get_or_insert(now);
        self.room.take()
    }
}

/// The room limits, from the server's [`crate::Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomLimits {
    /// Most rooms open at once.
    pub(crate) max_rooms: usize,
    /// A room with no message for this long is closed.
    pub(crate) idle: Duration,
    /// A room is closed this long after it was made.
    pub(crate) lifetime: Duration,
    /// A client in no room for this long is disconnected.
    pub(crate) unpaired_idle: Duration,
    /// TURN credentials one client may get in one room.
    pub(crate) turn_per_room: u32,
}

impl RoomLimits {
    /// How often to look for what expired: at least twice per shortest limit, so nothing
    /// outlives its limit by more than half of it, and never in a busy loop.
    fn sweep_interval(&self) -> Duration {
        let shortest = self.idle.min(self.lifetime).min(self.unpaired_idle);
        (shortest / 2)
            .min(SWEEP_INTERVAL)
            .max(Duration::from_millis(10))
    }
}

struct Room {
    /// Slot 0 is the allocating peer, slot 1 the joining one.
    members: [Option<ConnId>; 2],
    /// Set once a second peer joined: nameplates are single-use.
    paired: bool,
    /// The address charged a guess for joining; taken when the allocator confirms the code
    /// (`paired`), so that it is given back once at most.
    guess: Option<IpAddr>,
    created: Instant,
    last_activity: Instant,
    /// Messages its members relayed straight to each other.
    relayed: Arc<Activity>,
    /// TURN credentials given to each slot's client in this room, against the per-room cap.
    turn_issued: [u32; 2],
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
    limits: RoomLimits,
    /// The per-address limits, for the guess budget of joining addresses.
    per_address: Arc<Limits>,
    metrics: Arc<Metrics>,
    /// Told every nameplate allocated, when the server's owner asked for it.
    announce: Option<mpsc::Sender<String>>,
    /// The TURN server whose credentials are handed out, if any.
    turn: Option<Turn>,
}

impl Rooms {
    pub(crate) fn new(
        inbox: mpsc::Receiver<Command>,
        limits: RoomLimits,
        per_address: Arc<Limits>,
        metrics: Arc<Metrics>,
        announce: Option<mpsc::Sender<String>>,
        turn: Option<Turn>,
    ) -> Self {
        Self {
            inbox,
            clients: HashMap::new(),
            rooms: HashMap::new(),
            limits,
            per_address,
            metrics,
            announce,
            turn,
        }
    }

    /// Runs until cancelled or until every connection handle is gone.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut sweep = tokio::time::interval(self.limits.sweep_interval());
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
            Command::Connect {
                conn,
                ip,
                tx,
                cancel,
                shortcut,
            } => {
                let client = Client {
                    ip,
                    tx,
                    room: None,
                    unpaired_since: Some(Instant::now()),
                    cancel,
                    shortcut,
                };
                self.clients.insert(conn, client);
            }
            Command::Allocate { conn } => self.allocate(conn),
            Command::Join { conn, nameplate } => self.join(conn, nameplate),
            Command::Relay { conn, body } => {
                self.relay(conn, body);
                if let Some(client) = self.clients.get(&conn) {
                    client.shortcut.relayed_by_actor();
                }
            }
            Command::Leave { conn } => {
                if !self.leave(conn) {
                    self.send(conn, ErrorCode::NotInRoom.reply());
                }
            }
            Command::Paired { conn } => self.confirm(conn),
            Command::Turn { conn } => self.turn(conn),
            Command::Disconnect { conn } => {
                self.leave(conn);
                self.clients.remove(&conn);
            }
        }
        self.metrics.set_rooms_open(self.rooms.len());
    }

    /// Queues `msg` for `conn`. A client whose queue is full has stopped reading: it is
    /// disconnected (it sees its connection close after what was queued) rather than left
    /// to miss a message without knowing.
    fn send(&self, conn: ConnId, msg: ServerMsg) {
        if let ServerMsg::Error { code, .. } = &msg {
            self.metrics.count_error(*code);
        }
        if let Some(client) = self.clients.get(&conn) {
            if !has_room(&client.tx) || client.tx.try_send(msg).is_err() {
                self.give_up(client);
            }
        }
    }

    /// Queues `msg` as `conn`'s last word, in the place kept for it; if even that is taken,
    /// the client is disconnected.
    fn send_last_word(&self, conn: ConnId, msg: ServerMsg) {
        if let ServerMsg::Error { code, .. } = &msg {
            self.metrics.count_error(*code);
        }
        if let Some(client) = self.clients.get(&conn) {
            if client.tx.try_send(msg).is_err() {
                self.give_up(client);
            }
        }
    }

    /// Ends a client's connection: its connection task sees the cancel, says Disconnect, and
    /// its writer sends what is queued before closing the socket.
    fn give_up(&self, client: &Client) {
        self.metrics.count_dropped();
        client.cancel.cancel();
    }

    fn in_room(&self, conn: ConnId) -> bool {
        self.clients.get(&conn).is_some_and(|c| c.room.is_some())
    }

    fn allocate(&mut self, conn: ConnId) {
        if self.in_room(conn) {
            return self.send(conn, ErrorCode::AlreadyInRoom.reply());
        }
        if self.rooms.len() >= self.limits.max_rooms {
            return self.send(conn, ErrorCode::ServerBusy.reply());
        }
        let nameplate = self.free_nameplate();
        let now = Instant::now();
        self.rooms.insert(
            nameplate.clone(),
            Room {
                members: [Some(conn), None],
                paired: false,
                guess: None,
                created: now,
                last_activity: now,
                relayed: Arc::default(),
                turn_issued: [0; 2],
            },
        );
        if let Some(client) = self.clients.get_mut(&conn) {
            client.enter(nameplate.clone());
        }
        self.metrics.count_room();
        if let Some(announce) = &self.announce {
            // An owner that stopped listening, or is this far behind, misses the room; its
            // allocator then waits alone until the room expires, as with any absent peer.
            let _ = announce.try_send(nameplate.clone());
        }
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
        let Some(ip) = self.clients.get(&conn).map(|c| c.ip) else {
            return;
        };
        if self.in_room(conn) {
            return self.send(conn, ErrorCode::AlreadyInRoom.reply());
        }
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return self.send(conn, ErrorCode::UnknownNameplate.reply());
        };
        if room.paired || room.members[1].is_some() {
            return self.send(conn, ErrorCode::RoomFull.reply());
        }
        // Entering a waiting room is a guess at its code until its allocator confirms it:
        // this, not the nameplate, is what a guesser must pay for.
        let now = Instant::now();
        if !self.per_address.charge_guess(ip, now) {
            return self.send(conn, ErrorCode::TooManyGuesses.reply());
        }
        room.guess = Some(ip);
        room.members[1] = Some(conn);
        room.paired = true;
        room.last_activity = now;
        let other = room.other(conn);
        if let Some(client) = self.clients.get_mut(&conn) {
            client.enter(nameplate.clone());
        }
        let shortcuts = other.map(|other| (other, room.relayed.clone(), room.created));
        self.send(conn, ServerMsg::Joined { nameplate });
        if let Some((other, activity, created)) = shortcuts {
            self.send(other, ServerMsg::PeerJoined);
            // From now on each relays straight to the other.
            for (from, to) in [(conn, other), (other, conn)] {
                let Some(to) = self.clients.get(&to).map(|c| c.tx.clone()) else {
                    continue;
                };
                if let Some(client) = self.clients.get(&from) {
                    client.shortcut.set(Some(Direct {
                        to,
                        activity: activity.clone(),
                        created,
                    }));
                }
            }
        }
    }

    fn relay(&mut self, conn: ConnId, body: String) {
        let Some(nameplate) = self.clients.get(&conn).and_then(|c| c.room.clone()) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        match room.other(conn) {
            Some(other) => {
                // Only a message that reaches someone is activity: a lone member talking to
                // an empty room must not keep it open past its idle time.
                room.last_activity = Instant::now();
                let fits = self.clients.get(&other).is_some_and(|c| has_room(&c.tx));
                if fits {
                    self.metrics.count_relayed();
                    self.send(other, ServerMsg::Message { body });
                } else {
                    // Sealed messages carry counters: a dropped one would make the next fail
                    // as if tampered with. The recipient gets everything queued so far, in
                    // order, then this.
                    self.close_room(&nameplate, ErrorCode::RelayOverflow, Instant::now());
                }
            }
            None => self.send(conn, ErrorCode::PeerAbsent.reply()),
        }
    }

    /// Closes a room with `code` as the last word to everyone in it; they stay connected.
    /// Takes away the members' shortcuts to each other (under the shortcut's lock): what
    /// either sends next goes through the actor, after whatever this step tells them.
    fn cut_shortcuts(&self, members: &[Option<ConnId>; 2]) {
        for conn in members.iter().flatten() {
            if let Some(client) = self.clients.get(conn) {
                client.shortcut.set(None);
            }
        }
    }

    fn close_room(&mut self, nameplate: &str, code: ErrorCode, now: Instant) {
        let Some(room) = self.rooms.remove(nameplate) else {
            return;
        };
        self.cut_shortcuts(&room.members);
        for conn in room.members.into_iter().flatten() {
            if let Some(client) = self.clients.get_mut(&conn) {
                client.exit(now);
            }
            self.send_last_word(conn, code.reply());
        }
    }

    /// The allocator's word that the code was confirmed: gives the joiner back the guess its
    /// join cost. Ignored from the joiner, before anyone joined, and the second time.
    fn confirm(&mut self, conn: ConnId) {
        let Some(nameplate) = self.clients.get(&conn).and_then(|c| c.room.as_ref()) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(nameplate) else {
            return;
        };
        if room.members[0] != Some(conn) {
            return;
        }
        if let Some(ip) = room.guess.take() {
            self.per_address.refund_guess(ip, Instant::now());
        }
    }

    /// TURN credentials for `conn`, only while its room holds both peers (so that the TURN
    /// server is no open relay for whoever connects), and within the caps: per client per
    /// room, then per address per hour.
    fn turn(&mut self, conn: ConnId) {
        let Some(turn) = &self.turn else {
            return self.send(conn, ErrorCode::TurnUnavailable.reply());
        };
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let ip = client.ip;
        let room = client.room.as_ref().and_then(|n| self.rooms.get_mut(n));
        let Some(room) = room.filter(|r| r.members.iter().all(Option::is_some)) else {
            return self.send(conn, ErrorCode::NotPaired.reply());
        };
        let Some(slot) = room.members.iter().position(|&m| m == Some(conn)) else {
            return self.send(conn, ErrorCode::NotPaired.reply());
        };
        if room.turn_issued[slot] >= self.limits.turn_per_room
            || !self.per_address.allow_turn(ip, Instant::now())
        {
            return self.send(conn, ErrorCode::turn_rate_limited());
        }
        room.turn_issued[slot] += 1;
        let credentials = turn.issue(std::time::SystemTime::now());
        self.metrics.count_turn_issued();
        self.send(conn, credentials);
    }

    /// Takes `conn` out of its room, telling the other peer; frees an empty room.
    /// Returns whether it was in one.
    fn leave(&mut self, conn: ConnId) -> bool {
        let now = Instant::now();
        let Some(nameplate) = self.clients.get_mut(&conn).and_then(|c| c.exit(now)) else {
            return false;
        };
        let mut other = None;
        let mut empty = false;
        if let Some(room) = self.rooms.get(&nameplate) {
            self.cut_shortcuts(&room.members);
        }
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
                let last = r.last_activity.max(r.relayed.last(r.created));
                now.duration_since(last) >= self.limits.idle
                    || now.duration_since(r.created) >= self.limits.lifetime
            })
            .map(|(n, _)| n.clone())
            .collect();
        for nameplate in expired {
            self.close_room(&nameplate, ErrorCode::RoomExpired, now);
        }
        for client in self.clients.values_mut() {
            let idle = client
                .unpaired_since
                .is_some_and(|since| now.duration_since(since) >= self.limits.unpaired_idle);
            if idle && !client.cancel.is_cancelled() {
                // The connection task sees the cancel, says Disconnect, and closes the socket.
                client.cancel.cancel();
                self.metrics.count_refusal(ConnRefusal::UnpairedIdle);
            }
        }
        self.metrics.set_rooms_open(self.rooms.len());
    }
}
