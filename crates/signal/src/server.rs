//! The signaling server: HTTP routes (`/` WebSocket, `/healthz`, `/metrics`), optional TLS,
//! and one task per WebSocket that turns frames into [`Command`]s for the room actor.
//!
//! Nothing here knows about rooms; nothing here ever panics on what a client sends.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::defaults::{
    ACTOR_QUEUE, HANDSHAKE_TIMEOUT, MAX_WS_FRAME_BYTES, MAX_WS_MESSAGE_BYTES, OUTBOUND_QUEUE,
};
use crate::metrics::Metrics;
use crate::protocol::{self, ClientMsg, ErrorCode, ServerMsg};
use crate::rooms::{Command, ConnId, Rooms};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Serve `wss://` with this certificate chain and key (PEM files) instead of `ws://`.
    pub tls: Option<TlsFiles>,
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
    /// A plain `ws://` server on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self { listen, tls: None }
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
}

/// Shared by every route handler.
#[derive(Clone)]
struct AppState {
    actor: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    next_conn: Arc<AtomicU64>,
    cancel: CancellationToken,
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
        let cancel = CancellationToken::new();
        let (actor_tx, actor_rx) = mpsc::channel(ACTOR_QUEUE);
        let rooms = Rooms::new(actor_rx, metrics.clone());
        // Shutdown order: the token stops the accept loop first, then every connection
        // (child tokens), then the actor, which tells remaining clients it is going away.
        tokio::spawn(rooms.run(cancel.child_token()));
        let state = AppState {
            actor: actor_tx,
            metrics: metrics.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            cancel: cancel.clone(),
        };
        let router = Router::new()
            .route("/", get(ws_route))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics_route))
            .with_state(state);
        let is_tls = tls.is_some();
        let task = tokio::spawn(accept_loop(listener, router, tls, cancel.clone()));
        Ok(Server {
            local_addr,
            tls: is_tls,
            metrics,
            cancel,
            task: Some(task),
        })
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

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cancel: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let tls = tls.clone();
        let cancel = cancel.child_token();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {}
                _ = serve_connection(stream, peer, router, tls) => {}
            }
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_http(TokioIo::new(stream), peer, router).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
            }
        }
        None => serve_http(TokioIo::new(stream), peer, router).await,
    }
}

async fn serve_http<I>(io: I, peer: SocketAddr, router: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let mut router = router.clone();
            async move { tower_service_call(&mut router, req).await }
        });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
    if let Err(e) = result {
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
    state.metrics.render()
}

async fn ws_route(State(state): State<AppState>, ws: WebSocketUpgrade) -> axum::response::Response {
    ws.max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_FRAME_BYTES)
        .on_upgrade(move |socket| client_session(socket, state))
}

/// One client, from upgrade to close: reads frames, parses them, forwards commands to the
/// actor, and writes what the actor queues for this client.
async fn client_session(socket: WebSocket, state: AppState) {
    let conn: ConnId = state.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<ServerMsg>(OUTBOUND_QUEUE);
    if state
        .actor
        .send(Command::Connect {
            conn,
            tx: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    state.metrics.connection_opened();
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink
                .send(Message::Text(protocol::to_text(&msg).into()))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let cancel = state.cancel.child_token();
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
        let command = match command {
            Ok(ClientMsg::Allocate) => Command::Allocate { conn },
            Ok(ClientMsg::Join { nameplate }) => Command::Join { conn, nameplate },
            Ok(ClientMsg::Send { body }) => Command::Relay { conn, body },
            Ok(ClientMsg::Leave) => Command::Leave { conn },
            Ok(ClientMsg::Ping) => {
                let _ = tx.try_send(ServerMsg::Pong);
                continue;
            }
            Ok(_) => {
                reply_error(&state, &tx, ErrorCode::UnknownType);
                continue;
            }
            Err(code) => {
                reply_error(&state, &tx, code);
                continue;
            }
        };
        if state.actor.send(command).await.is_err() {
            break;
        }
    }
    let _ = state.actor.send(Command::Disconnect { conn }).await;
    drop(tx);
    // The actor dropped its copy of `tx` on Disconnect, so the writer drains and ends.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
    state.metrics.connection_closed();
}

fn reply_error(state: &AppState, tx: &mpsc::Sender<ServerMsg>, code: ErrorCode) {
    state.metrics.count_error(code);
    let _ = tx.try_send(code.reply());
}
