//! The room actor: owns every room and every client's outbound queue, pairs two peers per
//! room (or one sender with several receivers, in a group room) and relays their messages.
//!
//! Connections talk to it only through [`Command`]s; it never reads sockets and never
//! awaits anything but its own inbox, so one slow client cannot stall the others. Once a
//! two-peer room holds both peers, each connection relays its peer's messages straight into the
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
    match direct.to.try_send(ServerMsg::Message { body, from: None }) {
        Ok(()) => {
            metrics.count_relayed();
            direct.activity.touch(direct.created);
            Ok(())
        }
        Err(mpsc::error::TrySendError::Full(msg) | mpsc::error::TrySendError::Closed(msg)) => {
            match msg {
                ServerMsg::Message { body, .. } => Err(body),
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
    /// `allocate`, for `receivers` when it asked for a group room.
    Allocate {
        conn: ConnId,
        receivers: Option<u32>,
    },
    Join {
        conn: ConnId,
        nameplate: String,
    },
    /// `send`; `to` names the receiver when a group room's allocator sends.
    Relay {
        conn: ConnId,
        body: String,
        to: Option<u32>,
    },
    /// `leave`; from a group room's allocator with `peer`, that receiver is sent out.
    Leave {
        conn: ConnId,
        peer: Option<u32>,
    },
    /// The client confirmed its room's code (`paired`), for receiver `peer` in a group room.
    Paired {
        conn: ConnId,
        peer: Option<u32>,
    },
    /// The allocator lets nobody else join (`lock`).
    Lock {
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

/// Where a client sits in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seat {
    /// It allocated the room.
    Owner,
    /// It joined, as receiver number N (1, 2, ...).
    Joiner(u32),
}

struct Client {
    /// Where the client connects from: the address its joins are charged to.
    ip: IpAddr,
    /// Outbound queue drained by the connection's writer task.
    tx: mpsc::Sender<ServerMsg>,
    /// The room this client is in, if any, and its seat there.
    room: Option<(String, Seat)>,
    /// Since when the client has been in no room; `None` while it is in one.
    unpaired_since: Option<Instant>,
    /// Ends the client's connection task, for a client that stays out of rooms too long.
    cancel: CancellationToken,
    /// Its connection's way to its peer, while its two-peer room holds both.
    shortcut: Shortcut,
}

impl Client {
    fn enter(&mut self, nameplate: String, seat: Seat) {
        self.room = Some((nameplate, seat));
        self.unpaired_since = None;
    }

    fn exit(&mut self, now: Instant) -> Option<(String, Seat)> {
        self.unpaired_since.get_or_insert(now);
        self.room.take()
    }
}

/// The room limits, from the server's [`crate::Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomLimits {
    /// Most rooms open at once.
    pub(crate) max_rooms: usize,
    /// Most receivers in one group room.
    pub(crate) max_receivers: u32,
    /// A room with no message for this long is closed.
    pub(crate) idle: Duration,
    /// A room is closed this long after it was made.
    pub(crate) lifetime: Duration,
    /// A client in no room for this long is disconnected.
    pub(crate) unpaired_idle: Duration,
    /// TURN credentials one client may get in one room (an allocator, this many per
    /// receiver its room takes).
    pub(crate) turn_per_room: u32,
    /// Nameplates start with a 0 ([`crate::Config::local_codes`]).
    pub(crate) local_codes: bool,
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

/// One receiver of a room.
struct Joiner {
    /// Its connection, until it left or was sent out.
    conn: Option<ConnId>,
    /// The address charged a guess for joining; taken when the allocator confirms the code
    /// (`paired`), so that it is given back once at most.
    guess: Option<IpAddr>,
    /// TURN credentials given to it in this room, against the per-room cap.
    turn_issued: u32,
}

struct Room {
    /// The allocating peer, until it leaves.
    owner: Option<ConnId>,
    /// Receivers in the order they joined: receiver N is `joiners[N - 1]`. A seat stays
    /// taken after its receiver left: nameplates are single-use, seat by seat.
    joiners: Vec<Joiner>,
    /// How many receivers may join: 1 for the protocol's two-peer room.
    capacity: u32,
    /// Nobody else may join: the allocator said `lock`.
    locked: bool,
    created: Instant,
    last_activity: Instant,
    /// Messages its members relayed straight to each other.
    relayed: Arc<Activity>,
    /// TURN credentials given to the owner in this room.
    owner_turn: u32,
}

impl Room {
    /// A room for more than one receiver, whose messages to and from its owner name them.
    fn is_group(&self) -> bool {
        self.capacity > 1
    }

    /// Receiver `peer`'s connection, while it is in the room.
    fn joiner(&self, peer: u32) -> Option<ConnId> {
        let index = usize::try_from(peer.checked_sub(1)?).ok()?;
        self.joiners.get(index)?.conn
    }

    fn joiner_mut(&mut self, peer: u32) -> Option<&mut Joiner> {
        let index = usize::try_from(peer.checked_sub(1)?).ok()?;
        self.joiners.get_mut(index)
    }

    /// Everyone in the room now.
    fn members(&self) -> Vec<ConnId> {
        self.owner
            .into_iter()
            .chain(self.joiners.iter().filter_map(|j| j.conn))
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.owner.is_none() && self.joiners.iter().all(|j| j.conn.is_none())
    }

    /// `peer` as a group room tells it to its owner; a two-peer room names nobody.
    fn tag(&self, peer: u32) -> Option<u32> {
        self.is_group().then_some(peer)
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
            Command::Allocate { conn, receivers } => self.allocate(conn, receivers),
            Command::Join { conn, nameplate } => self.join(conn, nameplate),
            Command::Relay { conn, body, to } => {
                self.relay(conn, body, to);
                if let Some(client) = self.clients.get(&conn) {
                    client.shortcut.relayed_by_actor();
                }
            }
            Command::Leave { conn, peer } => {
                let sent_out = peer.is_some_and(|peer| self.send_out(conn, peer));
                if !sent_out && !self.leave(conn) {
                    self.send(conn, ErrorCode::NotInRoom.reply());
                }
            }
            Command::Paired { conn, peer } => self.confirm(conn, peer),
            Command::Lock { conn } => self.lock(conn),
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

    /// `conn`'s room's nameplate and its seat there.
    fn seat(&self, conn: ConnId) -> Option<(String, Seat)> {
        self.clients.get(&conn).and_then(|c| c.room.clone())
    }

    fn allocate(&mut self, conn: ConnId, receivers: Option<u32>) {
        if self.in_room(conn) {
            return self.send(conn, ErrorCode::AlreadyInRoom.reply());
        }
        if self.rooms.len() >= self.limits.max_rooms {
            return self.send(conn, ErrorCode::ServerBusy.reply());
        }
        let capacity = receivers
            .unwrap_or(1)
            .clamp(1, self.limits.max_receivers.max(1));
        let nameplate = self.free_nameplate();
        let now = Instant::now();
        self.rooms.insert(
            nameplate.clone(),
            Room {
                owner: Some(conn),
                joiners: Vec::new(),
                capacity,
                locked: false,
                created: now,
                last_activity: now,
                relayed: Arc::default(),
                owner_turn: 0,
            },
        );
        if let Some(client) = self.clients.get_mut(&conn) {
            client.enter(nameplate.clone(), Seat::Owner);
        }
        self.metrics.count_room();
        if let Some(announce) = &self.announce {
            // An owner that stopped listening, or is this far behind, misses the room; its
            // allocator then waits alone until the room expires, as with any absent peer.
            let _ = announce.try_send(nameplate.clone());
        }
        // Whoever asked for receivers is told how many it got; the two-peer answer is the
        // protocol's first one, field for field.
        let receivers = receivers.map(|_| capacity);
        self.send(
            conn,
            ServerMsg::Allocated {
                nameplate,
                receivers,
            },
        );
    }

    /// A random free nameplate, as short as the number of open rooms allows: one or two
    /// digits on a quiet server, more only when it is busy; after a 0 on a server of
    /// local-network codes.
    fn free_nameplate(&self) -> String {
        let mut rng = rand::thread_rng();
        let mut limit: u64 = 100;
        while (self.rooms.len() as u64) * 2 >= limit {
            limit *= 10;
        }
        let mark = if self.limits.local_codes { "0" } else { "" };
        loop {
            for _ in 0..32 {
                let candidate = format!("{mark}{}", rng.gen_range(1..limit));
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
        let full = room.joiners.len() >= usize::try_from(room.capacity).unwrap_or(usize::MAX);
        if room.locked || full || room.owner.is_none() {
            return self.send(conn, ErrorCode::RoomFull.reply());
        }
        // Entering a waiting room is a guess at its code until its allocator confirms it:
        // this, not the nameplate, is what a guesser must pay for.
        let now = Instant::now();
        if !self.per_address.charge_guess(ip, now) {
            return self.send(conn, ErrorCode::TooManyGuesses.reply());
        }
        room.joiners.push(Joiner {
            conn: Some(conn),
            guess: Some(ip),
            turn_issued: 0,
        });
        let peer = u32::try_from(room.joiners.len()).unwrap_or(u32::MAX);
        room.last_activity = now;
        let owner = room.owner;
        let tag = room.tag(peer);
        let shortcuts = (!room.is_group()).then(|| (room.relayed.clone(), room.created));
        if let Some(client) = self.clients.get_mut(&conn) {
            client.enter(nameplate.clone(), Seat::Joiner(peer));
        }
        self.send(conn, ServerMsg::Joined { nameplate });
        let Some(owner) = owner else {
            return;
        };
        self.send(owner, ServerMsg::PeerJoined { peer: tag });
        // In a two-peer room each relays straight to the other from now on. A group room's
        // messages are named by receiver, which is the actor's to do.
        let Some((activity, created)) = shortcuts else {
            return;
        };
        for (from, to) in [(conn, owner), (owner, conn)] {
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

    fn relay(&mut self, conn: ConnId, body: String, to: Option<u32>) {
        let Some((nameplate, seat)) = self.seat(conn) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return self.send(conn, ErrorCode::NotInRoom.reply());
        };
        // The owner speaks to the receiver it names (receiver 1 when it names none); a
        // receiver only ever to the owner, whom the owner is told it is.
        let (target, msg) = match seat {
            Seat::Owner => {
                let peer = to.unwrap_or(1);
                match room.joiner(peer) {
                    Some(joiner) => (joiner, ServerMsg::Message { body, from: None }),
                    // A group room's owner learns which receiver is gone.
                    None if room.is_group() => {
                        return self.send(conn, ServerMsg::PeerLeft { peer: Some(peer) });
                    }
                    None => return self.send(conn, ErrorCode::PeerAbsent.reply()),
                }
            }
            Seat::Joiner(peer) => match room.owner {
                Some(owner) => (
                    owner,
                    ServerMsg::Message {
                        body,
                        from: room.tag(peer),
                    },
                ),
                None => return self.send(conn, ErrorCode::PeerAbsent.reply()),
            },
        };
        // Only a message that reaches someone is activity: a lone member talking to an empty
        // room must not keep it open past its idle time.
        room.last_activity = Instant::now();
        let fits = self.clients.get(&target).is_some_and(|c| has_room(&c.tx));
        if fits {
            self.metrics.count_relayed();
            self.send(target, msg);
        } else {
            // Sealed messages carry counters: a dropped one would make the next fail as if
            // tampered with. The recipient gets everything queued so far, in order, then
            // this.
            self.close_room(&nameplate, ErrorCode::RelayOverflow, Instant::now());
        }
    }

    /// Takes away the members' shortcuts to each other (under the shortcut's lock): what
    /// either sends next goes through the actor, after whatever this step tells them.
    fn cut_shortcuts(&self, members: &[ConnId]) {
        for conn in members {
            if let Some(client) = self.clients.get(conn) {
                client.shortcut.set(None);
            }
        }
    }

    /// Closes a room with `code` as the last word to everyone in it; they stay connected.
    fn close_room(&mut self, nameplate: &str, code: ErrorCode, now: Instant) {
        let Some(room) = self.rooms.remove(nameplate) else {
            return;
        };
        let members = room.members();
        self.cut_shortcuts(&members);
        for conn in members {
            if let Some(client) = self.clients.get_mut(&conn) {
                client.exit(now);
            }
            self.send_last_word(conn, code.reply());
        }
    }

    /// The allocator's word that a receiver's code was confirmed: gives it back the guess its
    /// join cost. Ignored from a receiver, for a seat nobody took, and the second time.
    fn confirm(&mut self, conn: ConnId, peer: Option<u32>) {
        let Some((nameplate, Seat::Owner)) = self.seat(conn) else {
            return;
        };
        let Some(joiner) = self
            .rooms
            .get_mut(&nameplate)
            .and_then(|room| room.joiner_mut(peer.unwrap_or(1)))
        else {
            return;
        };
        if let Some(ip) = joiner.guess.take() {
            self.per_address.refund_guess(ip, Instant::now());
        }
    }

    /// The allocator lets nobody else join. Ignored from anyone else.
    fn lock(&mut self, conn: ConnId) {
        if let Some((nameplate, Seat::Owner)) = self.seat(conn) {
            if let Some(room) = self.rooms.get_mut(&nameplate) {
                room.locked = true;
            }
        }
    }

    /// TURN credentials for `conn`, only while its room holds the owner and a receiver (so
    /// that the TURN server is no open relay for whoever connects), and within the caps:
    /// per client per room, then per address per hour.
    fn turn(&mut self, conn: ConnId) {
        let Some(turn) = &self.turn else {
            return self.send(conn, ErrorCode::TurnUnavailable.reply());
        };
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let ip = client.ip;
        let seated = client
            .room
            .as_ref()
            .and_then(|(n, seat)| Some((self.rooms.get_mut(n)?, *seat)));
        let Some((room, seat)) = seated else {
            return self.send(conn, ErrorCode::NotPaired.reply());
        };
        let paired = room.owner.is_some() && room.joiners.iter().any(|j| j.conn.is_some());
        let per_room = self.limits.turn_per_room;
        let issued = match seat {
            Seat::Owner => Some((&mut room.owner_turn, per_room.saturating_mul(room.capacity))),
            Seat::Joiner(peer) => room
                .joiner_mut(peer)
                .map(|j| (&mut j.turn_issued, per_room)),
        };
        let Some((issued, cap)) = issued.filter(|_| paired) else {
            return self.send(conn, ErrorCode::NotPaired.reply());
        };
        if *issued >= cap || !self.per_address.allow_turn(ip, Instant::now()) {
            return self.send(conn, ErrorCode::turn_rate_limited());
        }
        *issued += 1;
        let credentials = turn.issue(std::time::SystemTime::now());
        self.metrics.count_turn_issued();
        self.send(conn, credentials);
    }

    /// A group room's owner sends receiver `peer` out of the room: it hears `peer_left`, as
    /// if the owner had gone. Returns whether `conn` owns a group room (whether or not that
    /// receiver was still there); anyone else's `peer` is no such request.
    fn send_out(&mut self, conn: ConnId, peer: u32) -> bool {
        let Some((nameplate, Seat::Owner)) = self.seat(conn) else {
            return false;
        };
        let Some(room) = self.rooms.get_mut(&nameplate).filter(|r| r.is_group()) else {
            return false;
        };
        let Some(joiner) = room.joiner_mut(peer).and_then(|j| j.conn.take()) else {
            return true;
        };
        if let Some(client) = self.clients.get_mut(&joiner) {
            client.exit(Instant::now());
        }
        self.send(joiner, ServerMsg::PeerLeft { peer: None });
        true
    }

    /// Takes `conn` out of its room, telling the others; frees an empty room.
    /// Returns whether it was in one.
    fn leave(&mut self, conn: ConnId) -> bool {
        let now = Instant::now();
        let Some((nameplate, seat)) = self.clients.get_mut(&conn).and_then(|c| c.exit(now)) else {
            return false;
        };
        let Some(room) = self.rooms.get(&nameplate) else {
            return true;
        };
        // Nobody relays straight to one who left, nor past the word that it did.
        self.cut_shortcuts(&room.members());
        let Some(room) = self.rooms.get_mut(&nameplate) else {
            return true;
        };
        let told: Vec<(ConnId, ServerMsg)> = match seat {
            Seat::Owner => {
                room.owner = None;
                room.joiners
                    .iter()
                    .filter_map(|j| j.conn)
                    .map(|c| (c, ServerMsg::PeerLeft { peer: None }))
                    .collect()
            }
            Seat::Joiner(peer) => {
                if let Some(joiner) = room.joiner_mut(peer) {
                    joiner.conn = None;
                }
                let tag = room.tag(peer);
                room.owner
                    .map(|owner| (owner, ServerMsg::PeerLeft { peer: tag }))
                    .into_iter()
                    .collect()
            }
        };
        if room.is_empty() {
            self.rooms.remove(&nameplate);
        }
        for (to, msg) in told {
            self.send(to, msg);
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
