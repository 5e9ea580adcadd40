//! The in-process signaling server: when the configured server is the default local one and
//! nothing answers there, the app runs `toss-signal`'s library itself, so that the app works
//! on a machine where nothing else was started.

use std::time::Duration;

use tokio::sync::Mutex;

/// How long to wait for an existing server to answer before starting our own.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Holds the in-process server once started.
#[derive(Default)]
pub(crate) struct LocalSignal {
    server: Mutex<Option<toss_signal::Server>>,
}

impl LocalSignal {
    /// The URL to use for `configured`: itself, unless it is the local default address
    /// (of a build with no server of its own) with no server behind it, in which case a
    /// server is started here (on that address, or on a free port if something else holds
    /// it).
    pub(crate) async fn url_for(&self, configured: &str) -> String {
        if configured != toss_core::defaults::LOCAL_SIGNAL_URL {
            return configured.to_owned();
        }
        let mut server = self.server.lock().await;
        if let Some(s) = server.as_ref() {
            return s.url();
        }
        let addr = configured.trim_start_matches("ws://");
        let reachable = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
            Ok(Ok(_))
        );
        if reachable {
            return configured.to_owned();
        }
        for listen in [addr, "127.0.0.1:0"] {
            let Ok(listen) = listen.parse() else { continue };
            match toss_signal::Server::spawn(toss_signal::Config::new(listen)).await {
                Ok(s) => {
                    tracing::info!("started the built-in signaling server on {}", s.url());
                    let url = s.url();
                    *server = Some(s);
                    return url;
                }
                Err(e) => tracing::warn!("built-in signaling server: {e}"),
            }
        }
        configured.to_owned()
    }
}
