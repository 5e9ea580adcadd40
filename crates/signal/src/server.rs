//! The signaling server: HTTP routes (`/` WebSocket, and the web peer's page when `/` is
//! asked for without an upgrade, with its files from `web.rs`; `/healthz`; `/metrics` when
//! asked for), optional TLS, and one task per WebSocket that turns frames into [`Command`]s
//! for the room actor.
//!
//! Abuse is bounded here, where connections come in: per-address limits at TCP accept (see
//! [`crate::limits`]), a deadline on every handshake, size caps on every WebSocket message,
//! and a rate on `allocate`/`join` per address. (The guess budget is charged by the room
//! actor, which alone knows whether a `join` entered a waiting room.)
//!
//! Nothing here knows about rooms; nothing here ever panics on what a client sends.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::defaults::{
    ACTOR_QUEUE, ANNOUNCE_QUEUE, GUESS_BURST, GUESS_REFILL, HANDSHAKE_TIMEOUT, IPV6_PREFIX_LEN,
    MAX_CONNECTIONS_PER_IP, MAX_RECEIVERS, MAX_REFUSALS_IN_FLIGHT, MAX_ROOMS, MAX_TRACKED_IPS,
    MAX_WS_FRAME_BYTES, MAX_WS_MESSAGE_BYTES, OUTBOUND_QUEUE, ROOM_IDLE, ROOM_LIFETIME,
    ROOM_REQUESTS_PER_IP_PER_MINUTE, TURN_PER_HOUR, TURN_PER_ROOM, UNPAIRED_IDLE, WS_BUFFER_BYTES,
};
use crate::limits::{ConnectionGuard, Limits, PerAddress, Refused};
use crate::metrics::{ConnRefusal, Metrics};
use crate::protocol::{self, ClientMsg, ErrorCode, ServerMsg};
use crate::rooms::{
    has_room, relay_direct, Command, ConnId, RoomLimits, Rooms, Shortcut, LAST_WORD,
};
use crate::turn::Turn;
use crate::web;

/// How to run a server. [`Config::new`] fills every limit from [`crate::defaults`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Serve `wss://` with this certificate chain and key (PEM files) instead of `ws://`.
    pub tls: Option<TlsFiles>,
    /// Connections one address may hold open at once (an IPv6 prefix counts as one address,
    /// see [`Config::ipv6_prefix_len`]).
    /// Counted from TCP accept, before TLS or HTTP, so idle sockets count too. A connection
    /// over the cap is answered `429 Too Many Requests` (with a sentence) and closed, without
    /// ever reaching the WebSocket; when many such answers are under way at once, further
    /// ones are closed unanswered.
    pub max_connections_per_ip: usize,
    /// `allocate` and `join` requests one address may make per minute; past it they are
    /// answered with the `rate_limited` error and the connection stays usable. This slows
    /// floods; the guess budget below is what bounds guessing codes.
    pub room_requests_per_ip_per_minute: u32,
    /// Joins of a waiting room one address may make at once that no allocator has confirmed
    /// with `paired` (its guess budget); past it a `join` is answered `too_many_guesses`.
    /// Zero is taken as one.
    pub guess_burst: u32,
    /// Time that gives back one unconfirmed join. Zero turns the guess budget off (for load
    /// tests); a confirmed join is given back at once.
    pub guess_refill: Duration,
    /// IPv6 addresses that share this many leading bits count as one address for every
    /// per-address limit (at most 128; 128 counts each IPv6 address on its own).
    pub ipv6_prefix_len: u8,
    /// Most addresses whose counts are kept at once; a connection from a new address past it
    /// is answered `503` while every tracked address still has a connection open.
    pub max_tracked_ips: usize,
    /// Connections over a per-address cap being answered with an HTTP status at once; more
    /// are closed unanswered.
    pub max_refusals_in_flight: usize,
    /// Most rooms open at once; `allocate` past it is answered `server_busy`.
    pub max_rooms: usize,
    /// Most receivers one room takes (a group code); an `allocate` that asks for more gets
    /// this many, and says so in `allocated`.
    pub max_receivers: u32,
    /// A room in which nothing was relayed from one peer to the other for this long is
    /// closed (`room_expired`).
    pub room_idle: Duration,
    /// A room is closed this long after it was made, busy or not (`room_expired`).
    pub room_lifetime: Duration,
    /// Time for the TLS handshake, and for each HTTP request head; a connection that takes
    /// longer is closed.
    pub handshake_timeout: Duration,
    /// A WebSocket that stays in no room this long is closed.
    pub unpaired_idle: Duration,
    /// Messages queued for one client that has not read them yet. A relayed message past it
    /// closes the room for both peers (`relay_overflow`), any other message the client's
    /// connection: a message is never dropped without its recipient knowing.
    pub outbound_queue: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client. Their own connections are
    /// not capped per address; instead each WebSocket is counted, and rate limited, under
    /// the last address in that header (the proxy's own when there is none). Leave empty
    /// when clients connect directly: a header from anyone else is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Serve `GET /metrics` (Prometheus text). Off by default: the counters, and the number
    /// of rooms open above all, tell anyone who asks how busy the server is and when
    /// transfers happen.
    pub metrics: bool,
    /// The TURN server whose short-lived credentials are handed to the two peers of a room
    /// (`turn`); `None` answers `turn` with `turn_unavailable`.
    pub turn: Option<Turn>,
    /// TURN credentials one client may get in one room; past it `rate_limited`.
    pub turn_per_room: u32,
    /// TURN credentials one address may get in an hour; past it `rate_limited`.
    pub turn_per_hour: u32,
    /// Tell the owner of the [`Server`] every nameplate allocated
    /// ([`Server::take_room_announcements`]): for a server that is one device's inbox,
    /// where each room is someone asking to send to that device.
    pub announce_rooms: bool,
    /// Nameplates start with a 0 (`042-orbit-lemon`), which no other server hands out:
    /// for a sender's own rendezvous on its local network, whose codes say so, so that a
    /// receiver looks for them there and never asks a signaling server (where a stranger's
    /// room may have the same number).
    pub local_codes: bool,
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

impl Config {
    /// A plain `ws://` server on `listen`, with the default limits.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            tls: None,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            room_requests_per_ip_per_minute: ROOM_REQUESTS_PER_IP_PER_MINUTE,
            guess_burst: GUESS_BURST,
            guess_refill: GUESS_REFILL,
            ipv6_prefix_len: IPV6_PREFIX_LEN,
            max_tracked_ips: MAX_TRACKED_IPS,
            max_refusals_in_flight: MAX_REFUSALS_IN_FLIGHT,
            max_rooms: MAX_ROOMS,
            max_receivers: MAX_RECEIVERS,
            room_idle: ROOM_IDLE,
            room_lifetime: ROOM_LIFETIME,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            unpaired_idle: UNPAIRED_IDLE,
            outbound_queue: OUTBOUND_QUEUE,
            trusted_proxies: Vec::new(),
            metrics: false,
            turn: None,
            turn_per_room: TURN_PER_ROOM,
            turn_per_hour: TURN_PER_HOUR,
            announce_rooms: false,
            local_codes: false,
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The certificate or key could not be read or used.
    #[error("cannot use the TLS certificate or key: {0}")]
    Tls(String),
}

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    tls: bool,
    metrics: Arc<Metrics>,
    /// Cancels the accept loop, the room actor and every connection.
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// Nameplates as they are allocated, with [`Config::announce_rooms`].
    announcements: Option<mpsc::Receiver<String>>,
}

/// Shared by every route handler.
#[derive(Clone)]
struct AppState {
    actor: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    /// Connections per address and room requests per address.
    limits: Arc<Limits>,
    next_conn: Arc<AtomicU64>,
    cancel: CancellationToken,
    /// Messages queued for one client before it is given up on.
    outbound_queue: usize,
}

/// Where a request came from, as the accept loop saw it; put in every request's extensions.
#[derive(Debug, Clone)]
struct Origin {
    /// The TCP peer.
    peer: SocketAddr,
    /// The peer is a trusted reverse proxy: the client is named by `X-Forwarded-For`, and
    /// its connection was not counted at accept.
    via_proxy: bool,
    /// The connection's place in the per-address count (none through a proxy); a WebSocket
    /// session keeps a clone, since it outlives the HTTP connection task that accepted it.
    slot: Option<Arc<ConnectionGuard>>,
}

/// What every new TCP connection needs; shared by the accept loop and connection tasks.
struct Acceptor {
    router: Router,
    /// Answers every request with `429` and closes: serves connections over the per-address cap.
    too_many: Router,
    /// Answers every request with `503` and closes: serves connections refused for a full table.
    busy: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    handshake_timeout: Duration,
    trusted_proxies: Vec<IpAddr>,
    /// Bounds the refused connections being answered at once, so a flood of them costs a
    /// bounded number of tasks; past it they are closed unanswered.
    refusing: Arc<Semaphore>,
}

impl Server {
    /// Binds and starts serving in the background.
    ///
    /// # Errors
    /// When the address cannot be bound or the TLS files cannot be loaded.
    pub async fn spawn(config: Config) -> Result<Server, SpawnError> {
        let tls = match &config.tls {
            Some(files) => Some(load_tls(files)?),
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| SpawnError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| SpawnError::Bind {
            addr: config.listen,
            source,
        })?;
        let metrics = Arc::new(Metrics::default());
        let limits = Arc::new(Limits::new(
            PerAddress {
                max_connections: config.max_connections_per_ip,
                room_requests_per_minute: config.room_requests_per_ip_per_minute,
                guess_burst: config.guess_burst,
                guess_refill: config.guess_refill,
                ipv6_prefix_len: config.ipv6_prefix_len,
                max_addresses: config.max_tracked_ips,
                turn_per_hour: config.turn_per_hour,
            },
            Instant::now(),
        ));
        let cancel = CancellationToken::new();
        let (actor_tx, actor_rx) = mpsc::channel(ACTOR_QUEUE);
        let room_limits = RoomLimits {
            max_rooms: config.max_rooms,
            max_receivers: config.max_receivers,
            idle: config.room_idle,
            lifetime: config.room_lifetime,
            unpaired_idle: config.unpaired_idle,
            turn_per_room: config.turn_per_room,
            local_codes: config.local_codes,
        };
        let (announce, announcements) = if config.announce_rooms {
            let (tx, rx) = mpsc::channel(ANNOUNCE_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let rooms = Rooms::new(
            actor_rx,
            room_limits,
            limits.clone(),
            metrics.clone(),
            announce,
            config.turn.clone(),
        );
        // Shutdown order: the token stops the accept loop first, then every connection
        // (child tokens), then the actor, which tells remaining clients it is going away.
        tokio::spawn(rooms.run(cancel.child_token()));
        let state = AppState {
            actor: actor_tx,
            metrics: metrics.clone(),
            limits: limits.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            cancel: cancel.clone(),
            outbound_queue: config.outbound_queue,
        };
        let mut router = Router::new()
            .route("/", get(root_route))
            .route("/healthz", get(|| async { "ok\n" }));
        for file in &web::FILES {
            router = router.route(
                file.path,
                get(move |headers: HeaderMap| async move { file.respond(&headers) }),
            );
        }
        if config.metrics {
            router = router.route("/metrics", get(metrics_route));
        }
        let router = router.with_state(state);
        let is_tls = tls.is_some();
        let acceptor = Acceptor {
            router,
            too_many: refusal_router(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_CONNECTIONS),
            busy: refusal_router(StatusCode::SERVICE_UNAVAILABLE, BUSY),
            tls,
            limits,
            metrics: metrics.clone(),
            handshake_timeout: config.handshake_timeout,
            trusted_proxies: config.trusted_proxies.clone(),
            refusing: Arc::new(Semaphore::new(config.max_refusals_in_flight)),
        };
        let task = tokio::spawn(accept_loop(listener, Arc::new(acceptor), cancel.clone()));
        Ok(Server {
            local_addr,
            tls: is_tls,
            metrics,
            cancel,
            task: Some(task),
            announcements,
        })
    }

    /// The nameplates of rooms as they are allocated; `Some` once, and only when the server
    /// was started with [`Config::announce_rooms`].
    pub fn take_room_announcements(&mut self) -> Option<mpsc::Receiver<String>> {
        self.announcements.take()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL clients use: `ws://ADDR` or `wss://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server stops (it only stops when shut down or on a fatal error).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn load_tls(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, SpawnError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| SpawnError::Tls(format!("{}: {e}", path.display())))
    };
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SpawnError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(SpawnError::Tls(format!(
            "{} holds no certificate",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            SpawnError::Tls(format!("{} holds no private key", files.key.display()))
        }
        e => SpawnError::Tls(format!("{}: {e}", files.key.display())),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SpawnError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| SpawnError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The body of a `429` for a connection over the per-address cap.
const TOO_MANY_CONNECTIONS: &str =
    "Too many connections from this address; close some and try again.\n";

/// The body of a `503` for a connection refused because the server tracks too many addresses.
const BUSY: &str = "The signaling server is busy; try again in a minute.\n";

/// A router that answers anything with `status` and `body`, then closes the connection.
fn refusal_router(status: StatusCode, body: &'static str) -> Router {
    Router::new().fallback(move || async move {
        (status, [(header::CONNECTION, "close")], body).into_response()
    })
}

async fn accept_loop(listener: TcpListener, acceptor: Arc<Acceptor>, cancel: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let via_proxy = acceptor.trusted_proxies.contains(&peer.ip().to_canonical());
        // A proxy's connections are counted per client, at the WebSocket route.
        let admitted = if via_proxy {
            Ok(None)
        } else {
            acceptor
                .limits
                .connect(peer.ip(), Instant::now())
                .map(|guard| Some(Arc::new(guard)))
        };
        let (router, slot, permit) = match admitted {
            Ok(slot) => (acceptor.router.clone(), slot, None),
            Err(refused) => {
                let (reason, router) = match refused {
                    Refused::PerIpLimit => (ConnRefusal::PerIpLimit, &acceptor.too_many),
                    Refused::TooManyAddresses => (ConnRefusal::TrackedIpsFull, &acceptor.busy),
                };
                acceptor.metrics.count_refusal(reason);
                tracing::debug!("refused a connection from {peer}: {reason:?}");
                match acceptor.refusing.clone().try_acquire_owned() {
                    Ok(permit) => (router.clone(), None, Some(permit)),
                    // Dropping the stream closes it.
                    Err(_) => continue,
                }
            }
        };
        // The slot is shared with the WebSocket session, which outlives this task after an
        // upgrade; the count goes down when both are done.
        let origin = Origin {
            peer,
            via_proxy,
            slot,
        };
        let acceptor = acceptor.clone();
        let cancel = cancel.child_token();
        tokio::spawn(async move {
            // Held for the refused connection's life: its place among those being answered.
            let refusing = permit.is_some();
            let _permit = permit;
            let served = async {
                let served = serve_connection(stream, origin, router, &acceptor);
                if refusing {
                    // A refusal gets one handshake timeout in all, whatever the client does.
                    let _ = tokio::time::timeout(acceptor.handshake_timeout, served).await;
                } else {
                    served.await;
                }
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {}
                _ = served => {}
            }
        });
    }
}

async fn serve_connection(stream: TcpStream, origin: Origin, router: Router, acceptor: &Acceptor) {
    let _ = stream.set_nodelay(true);
    let peer = origin.peer;
    match &acceptor.tls {
        Some(tls) => {
            match tokio::time::timeout(acceptor.handshake_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => serve_http(TokioIo::new(stream), origin, router, acceptor).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => {
                    acceptor
                        .metrics
                        .count_refusal(ConnRefusal::HandshakeTimeout);
                    tracing::debug!("TLS handshake with {peer} timed out");
                }
            }
        }
        None => serve_http(TokioIo::new(stream), origin, router, acceptor).await,
    }
}

async fn serve_http<I>(io: I, origin: Origin, router: Router, acceptor: &Acceptor)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let peer = origin.peer;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            req.extensions_mut().insert(origin.clone());
            let mut router = router.clone();
            async move { tower_service_call(&mut router, req).await }
        });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Runs from the first read of every request head, so it also closes a connection
        // that sends nothing at all.
        .header_read_timeout(acceptor.handshake_timeout)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
    if let Err(e) = result {
        if e.is_timeout() {
            acceptor
                .metrics
                .count_refusal(ConnRefusal::HandshakeTimeout);
        }
        tracing::debug!("HTTP connection with {peer} ended: {e}");
    }
}

async fn tower_service_call(
    router: &mut Router,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use tower_service::Service;
    router.call(req.map(axum::body::Body::new)).await
}

async fn metrics_route(State(state): State<AppState>) -> String {
    state.metrics.set_tracked_ips(state.limits.tracked());
    state.metrics.render()
}

/// The client a proxied request is for: the last address in the last `X-Forwarded-For`,
/// which is the one the trusted proxy appended.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// `/`: the WebSocket for a request that asks for an upgrade, and the web peer's page for a
/// plain GET or HEAD (a browser opening a link), which has no `Upgrade` header. A request
/// that asks for an upgrade but gets it wrong is refused as before.
async fn root_route(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws_route(state, origin, &headers, ws),
        Err(_) if !headers.contains_key(header::UPGRADE) => web::PAGE.respond(&headers),
        Err(refused) => refused.into_response(),
    }
}

/// The signaling WebSocket: counted per client address behind a trusted proxy, then upgraded
/// with the protocol's size caps.
fn ws_route(
    state: AppState,
    origin: Origin,
    headers: &HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let mut client = origin.peer.ip();
    let mut slot = origin.slot;
    if origin.via_proxy {
        client = forwarded_for(headers).unwrap_or(client);
        match state.limits.connect(client, Instant::now()) {
            Ok(guard) => slot = Some(Arc::new(guard)),
            Err(refused) => {
                let (reason, status, body) = match refused {
                    Refused::PerIpLimit => (
                        ConnRefusal::PerIpLimit,
                        StatusCode::TOO_MANY_REQUESTS,
                        TOO_MANY_CONNECTIONS,
                    ),
                    Refused::TooManyAddresses => (
                        ConnRefusal::TrackedIpsFull,
                        StatusCode::SERVICE_UNAVAILABLE,
                        BUSY,
                    ),
                };
                state.metrics.count_refusal(reason);
                return (status, body).into_response();
            }
        }
    }
    // Both caps are set here explicitly rather than trusting the library's defaults (64 MiB):
    // past them the transport drops the connection before the message is buffered whole.
    ws.max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_FRAME_BYTES)
        // The 128 KiB defaults, allocated up front, would cost 2.5 GiB for 10,000 idle
        // clients; setup messages are a few KiB, and the buffers grow when one is larger.
        .read_buffer_size(WS_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WS_MESSAGE_BYTES * 2)
        .on_upgrade(move |socket| client_session(socket, state, client, slot))
}

/// One client, from upgrade to close: reads frames, parses them, forwards commands to the
/// actor, and writes what the actor queues for this client. `slot` is the client's place in
/// the per-address count, held until the session ends.
async fn client_session(
    socket: WebSocket,
    state: AppState,
    client: IpAddr,
    slot: Option<Arc<ConnectionGuard>>,
) {
    let _slot = slot;
    let conn: ConnId = state.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<ServerMsg>(state.outbound_queue.max(1) + LAST_WORD);
    let cancel = state.cancel.child_token();
    let shortcut = Shortcut::default();
    if state
        .actor
        .send(Command::Connect {
            conn,
            ip: client,
            tx: tx.clone(),
            cancel: cancel.clone(),
            shortcut: shortcut.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    state.metrics.connection_opened();
    let (mut sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink
                .send(Message::Text(protocol::server_text(&msg).into()))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
    loop {
        let frame = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            frame = stream.next() => frame,
        };
        let command = match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => Err(ErrorCode::BinaryNotSupported),
            Some(Ok(Message::Text(text))) => protocol::parse_client(text.as_str()),
        };
        let outcome = if matches!(
            command,
            Ok(ClientMsg::Allocate { .. } | ClientMsg::Join { .. })
        ) && !state.limits.allow_room_request(client, Instant::now())
        {
            Err(ErrorCode::RateLimited)
        } else {
            match command {
                Ok(ClientMsg::Allocate { receivers }) => Ok(Command::Allocate { conn, receivers }),
                Ok(ClientMsg::Join { nameplate }) => Ok(Command::Join { conn, nameplate }),
                Ok(ClientMsg::Send { body, to }) => {
                    // Straight to the peer while a two-peer room holds both; through the
                    // actor (which knows what to do with a full queue, no peer, or a group
                    // room's receivers) otherwise.
                    let direct = match to {
                        None | Some(1) => relay_direct(&shortcut, body, &state.metrics),
                        Some(_) => Err(body),
                    };
                    match direct {
                        Ok(()) => continue,
                        Err(body) => {
                            shortcut.queue();
                            Ok(Command::Relay { conn, body, to })
                        }
                    }
                }
                Ok(ClientMsg::Leave { peer }) => Ok(Command::Leave { conn, peer }),
                Ok(ClientMsg::Paired { peer }) => Ok(Command::Paired { conn, peer }),
                Ok(ClientMsg::Lock) => Ok(Command::Lock { conn }),
                Ok(ClientMsg::Turn) => Ok(Command::Turn { conn }),
                Ok(ClientMsg::Ping) => {
                    if !reply(&tx, ServerMsg::Pong) {
                        break;
                    }
                    continue;
                }
                Ok(_) => Err(ErrorCode::UnknownType),
                Err(code) => Err(code),
            }
        };
        match outcome {
            Ok(command) => {
                if state.actor.send(command).await.is_err() {
                    break;
                }
            }
            Err(code) => {
                state.metrics.count_error(code);
                if !reply(&tx, code.reply()) {
                    break;
                }
            }
        }
    }
    let _ = state.actor.send(Command::Disconnect { conn }).await;
    drop(tx);
    // The actor dropped its copy of `tx` on Disconnect, so the writer sends what is queued
    // and ends. A client that reads nothing for this long is not waited for: aborting the
    // writer closes its socket.
    if tokio::time::timeout(DRAIN, &mut writer).await.is_err() {
        writer.abort();
    }
    state.metrics.connection_closed();
}

/// Longest wait for a closing connection's writer to send what was queued for it.
const DRAIN: Duration = Duration::from_secs(5);

/// Queues the connection's own answer to `msg`'s request; `false` when the client has let its
/// queue fill up and is given up on (it sees its connection close after what was queued).
fn reply(tx: &mpsc::Sender<ServerMsg>, msg: ServerMsg) -> bool {
    has_room(tx) && tx.try_send(msg).is_ok()
}
