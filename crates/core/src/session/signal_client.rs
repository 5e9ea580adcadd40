//! The WebSocket client for `toss-signal`: connects (`ws://` or `wss://` via rustls), then
//! runs one task that owns the socket, so that the session can send from ICE callbacks while
//! it waits for the next server message.
//!
//! It speaks the signaling protocol's typed messages and never looks inside relayed bodies.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;
use toss_wire::signal::{self as protocol, ClientMsg, ServerMsg};

use crate::config::SignalEndpoint;
use crate::defaults::{SIGNAL_CONNECT_TIMEOUT, SIGNAL_PING, SIGNAL_QUEUE};
use crate::error::{Error, Result};

/// A live connection to the signaling server; dropping it closes the socket.
#[derive(Debug)]
pub(crate) struct SignalClient {
    /// Bounded ([`SIGNAL_QUEUE`]): a session that sends faster than the socket drains is
    /// refused instead of growing memory.
    outbound: mpsc::Sender<ClientMsg>,
    /// Bounded: when the session does not read, the socket task stops reading too, and the
    /// server holds or refuses what else comes.
    inbound: mpsc::Receiver<ServerMsg>,
    /// Owns the socket; aborted on drop.
    task: JoinHandle<()>,
}

impl Drop for SignalClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tls_config(endpoint: &SignalEndpoint) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // The authorities this computer trusts too (its CA bundle, or SSL_CERT_FILE and
    // SSL_CERT_DIR): a company or home server with a private CA installed works as it does
    // in the browser. A bundle that cannot be read only leaves the built-in ones.
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("this computer's certificate authorities: {e}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        "trusting {added} certificate authorities of this computer ({ignored} unusable)"
    );
    if let Some(path) = &endpoint.extra_ca {
        let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                Error::Input(format!(
                    "{}: not a PEM certificate file: {e}",
                    path.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                Error::Input(format!(
                    "{}: not a usable CA certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// What is wrong with the server's certificate, when that is why the connection failed:
/// tokio-tungstenite hands rustls's handshake error back inside an I/O error.
fn certificate_refusal(e: &tokio_tungstenite::tungstenite::Error) -> Option<String> {
    let tokio_tungstenite::tungstenite::Error::Io(io) = e else {
        return None;
    };
    match io.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(why) => Some(format!("{why:?}")),
        _ => None,
    }
}

impl SignalClient {
    /// Connects to the server at `endpoint`.
    ///
    /// # Errors
    /// [`Error::SignalUnreachable`] when the server cannot be reached in time or refuses
    /// the WebSocket handshake; [`Error::SignalCertificate`] when its certificate does not
    /// verify; [`Error::Input`] for a URL that is not `ws://` or `wss://`.
    pub(crate) async fn connect(endpoint: &SignalEndpoint) -> Result<Self> {
        let url = endpoint.url.trim().to_owned();
        let connector = if url.starts_with("wss://") {
            Connector::Rustls(Arc::new(tls_config(endpoint)?))
        } else if url.starts_with("ws://") {
            Connector::Plain
        } else {
            return Err(Error::Input(format!(
                "the signaling server URL must start with ws:// or wss:// (got \"{url}\")"
            )));
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(protocol::MAX_WS_MESSAGE_BYTES))
            .max_frame_size(Some(protocol::MAX_WS_FRAME_BYTES));
        let unreachable = |reason: String| Error::SignalUnreachable {
            url: url.clone(),
            reason,
        };
        let (ws, _) = tokio::time::timeout(
            SIGNAL_CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_tls_with_config(
                url.as_str(),
                Some(ws_config),
                true,
                Some(connector),
            ),
        )
        .await
        .map_err(|_| unreachable("no answer in time".into()))?
        .map_err(|e| match certificate_refusal(&e) {
            Some(reason) => Error::SignalCertificate {
                url: url.clone(),
                reason,
            },
            None => unreachable(e.to_string()),
        })?;
        let (out_tx, mut out_rx) = mpsc::channel::<ClientMsg>(SIGNAL_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(SIGNAL_QUEUE);
        let task = tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let mut ping = tokio::time::interval(SIGNAL_PING);
            ping.tick().await;
            loop {
                tokio::select! {
                    msg = out_rx.recv() => {
                        let Some(msg) = msg else { break };
                        let last = matches!(msg, ClientMsg::Leave { peer: None });
                        if sink.send(Message::Text(protocol::to_text(&msg).into())).await.is_err() || last {
                            break;
                        }
                    }
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => match protocol::parse_server(text.as_str()) {
                            // Keep-alive answers stop here: they would fill the bounded
                            // queue of a session that is not reading (mid-transfer).
                            Ok(ServerMsg::Pong) => {}
                            Ok(msg) => if in_tx.send(msg).await.is_err() { break },
                            Err(code) => tracing::warn!("unreadable message from the signaling server: {}", code.as_str()),
                        },
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                    _ = ping.tick() => {
                        if sink.send(Message::Text(protocol::to_text(&ClientMsg::Ping).into())).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sink.close().await;
        });
        Ok(Self {
            outbound: out_tx,
            inbound: in_rx,
            task,
        })
    }

    /// Another handle on the outbound queue, for a group room's receivers to send through.
    pub(crate) fn sender(&self) -> mpsc::Sender<ClientMsg> {
        self.outbound.clone()
    }

    /// Queues a message for the server.
    ///
    /// # Errors
    /// [`Error::SignalLost`] when the connection closed, or when [`SIGNAL_QUEUE`] messages
    /// are already waiting to go out (the server stopped reading).
    pub(crate) fn send(&self, msg: ClientMsg) -> Result<()> {
        self.outbound.try_send(msg).map_err(|_| Error::SignalLost)
    }

    /// The next message from the server, keep-alive answers skipped.
    ///
    /// # Errors
    /// [`Error::SignalLost`] when the connection closed.
    pub(crate) async fn recv(&mut self) -> Result<ServerMsg> {
        loop {
            match self.inbound.recv().await {
                Some(ServerMsg::Pong | ServerMsg::Unknown) => continue,
                Some(msg) => return Ok(msg),
                None => return Err(Error::SignalLost),
            }
        }
    }

    /// Leaves the room and closes the connection, letting queued messages go out first.
    /// `leave` is the last message the task sends before it closes the socket.
    /// Closing again does nothing.
    pub(crate) async fn close(&mut self) {
        if self.task.is_finished() {
            return;
        }
        let _ = self.outbound.try_send(ClientMsg::Leave { peer: None });
        // A task that ended while being awaited here is never polled again (see above).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await;
    }
}
