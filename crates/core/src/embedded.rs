//! The signaling server run inside this process, on every interface: a sender's own
//! rendezvous for a code on the local network, and a device's inbox. This is the one place
//! where `toss-core` uses the `toss-signal` crate (its server); the messages themselves
//! come from `toss-wire`, as for any other client.

use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// A running in-process server; dropping it stops the server.
pub(crate) struct EmbeddedServer(toss_signal::Server);

impl EmbeddedServer {
    /// Starts a server on an ephemeral port of every interface. An `inbox` tells its owner
    /// of every room opened in it ([`EmbeddedServer::take_room_announcements`]).
    ///
    /// # Errors
    /// When the server cannot listen.
    pub(crate) async fn spawn(inbox: bool) -> Result<Self> {
        let listen = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let mut config = toss_signal::Config::new(listen);
        config.announce_rooms = inbox;
        if inbox {
            // An inbox's rooms are joined by its owner alone, over loopback, with the public
            // nearby password: no join there is a guess, and a budget would only let a
            // sender that never says `paired` lock the owner out of its own inbox.
            config.guess_refill = std::time::Duration::ZERO;
        }
        toss_signal::Server::spawn(config)
            .await
            .map(EmbeddedServer)
            .map_err(|e| Error::LocalNetwork(format!("cannot start the local rendezvous: {e}")))
    }

    /// The port it listens on, on every interface.
    pub(crate) fn port(&self) -> u16 {
        self.0.local_addr().port()
    }

    /// The URL this machine's own clients use to reach it.
    pub(crate) fn local_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port())
    }

    /// The nameplate of every room opened in an inbox, once.
    pub(crate) fn take_room_announcements(&mut self) -> Option<mpsc::Receiver<String>> {
        self.0.take_room_announcements()
    }
}
