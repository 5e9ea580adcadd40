//! What a caller configures for a session: signaling server, where to look for the room
//! ([`Reach`]), ICE servers, device name.
//!
//! Plain data with defaults; the CLI and the app fill it from flags, settings and the
//! environment. Never reads files or the network itself.

use std::path::PathBuf;
use std::time::Duration;

use crate::defaults;

/// One ICE server (STUN or TURN).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp` and the like.
    pub urls: Vec<String>,
    /// TURN user name; empty for STUN.
    #[serde(default)]
    pub username: String,
    /// TURN password; empty for STUN.
    #[serde(default)]
    pub credential: String,
}

impl IceServer {
    /// A STUN server without credentials.
    pub fn stun(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            username: String::new(),
            credential: String::new(),
        }
    }
}

/// Where a session's signaling server is, and whom to trust for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEndpoint {
    /// `ws://` or `wss://` URL of the signaling server.
    pub url: String,
    /// Extra PEM CA certificates trusted for `wss://` (self-hosted servers).
    pub extra_ca: Option<PathBuf>,
}

impl SignalEndpoint {
    /// A server trusted through the usual certificate authorities.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_ca: None,
        }
    }

    /// Another server with the same trust: a rendezvous found on the local network, a
    /// nearby device's inbox.
    pub fn at(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_ca: self.extra_ca.clone(),
        }
    }
}

/// Where a session looks for its room, and which addresses its connection may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// The signaling server only; never the local network (a network the user calls
    /// public, or told so).
    Server,
    /// The signaling server, and the local network where it helps: a sender whose server
    /// cannot be reached hosts the rendezvous itself and announces it (mDNS), and a
    /// receiver looks for the code's sender on the network while asking the server.
    #[default]
    ServerThenLan,
    /// The local network only: the sender hosts the rendezvous and announces it; the
    /// receiver looks there. No signaling server needed.
    LanOnly,
    /// This machine only: the signaling server, and loopback addresses for the
    /// connection; nothing on the network (tests and one-machine demos).
    Loopback,
}

impl Reach {
    /// Whether the session may talk mDNS on the local network at all.
    pub fn uses_local_network(self) -> bool {
        matches!(self, Reach::ServerThenLan | Reach::LanOnly)
    }

    /// Whether the signaling server is asked at all.
    pub fn uses_server(self) -> bool {
        self != Reach::LanOnly
    }

    /// Whether the connection keeps to loopback addresses.
    pub fn loopback_only(self) -> bool {
        self == Reach::Loopback
    }

    /// The same, at one given server only (a nearby device's inbox): no looking on the
    /// network, and loopback stays loopback.
    pub fn server_only(self) -> Reach {
        if self == Reach::Loopback {
            Reach::Loopback
        } else {
            Reach::Server
        }
    }
}

/// Everything a session needs to know besides the files and the code.
#[derive(Debug, Clone)]
pub struct Config {
    /// The signaling server.
    pub signal: SignalEndpoint,
    /// ICE servers; empty for local-only use.
    pub ice_servers: Vec<IceServer>,
    /// Where the room is looked for, and which addresses the connection may use.
    pub reach: Reach,
    /// The name the other side sees.
    pub device_name: String,
    /// Time allowed from pairing to an open data channel.
    pub connect_timeout: Duration,
    /// Use large SCTP packets where the path and the peer allow it (local paths only).
    pub large_packets: bool,
    /// Only relayed (TURN) paths: for networks where direct paths fail or must not be used.
    pub relay_only: bool,
    /// Fresh connections tried when one is lost mid-transfer (0: none), after waiting 1 s,
    /// 2 s, 4 s... The transfer resumes where it stopped.
    pub reconnect_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            signal: SignalEndpoint::new(defaults::SIGNAL_URL),
            ice_servers: default_ice_servers(),
            reach: Reach::default(),
            device_name: device_name(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            large_packets: true,
            relay_only: false,
            reconnect_attempts: defaults::RECONNECT_ATTEMPTS,
        }
    }
}

impl Config {
    /// A configuration for two peers on this machine: loopback only, no STUN.
    pub fn local(signal_url: impl Into<String>) -> Self {
        Self {
            signal: SignalEndpoint::new(signal_url),
            ice_servers: Vec::new(),
            reach: Reach::Loopback,
            ..Self::default()
        }
    }
}

/// The STUN servers from the product guide.
pub fn default_ice_servers() -> Vec<IceServer> {
    defaults::STUN_SERVERS
        .iter()
        .map(|u| IceServer::stun(*u))
        .collect()
}

/// This computer's host name, the default device name.
pub fn device_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if name.trim().is_empty() {
        "Toss".to_owned()
    } else {
        name
    }
}

/// The user's Downloads folder, else the home folder, else the current folder.
pub fn default_download_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(PathBuf::from)
                .or_else(|| Some(u.home_dir().join("Downloads")))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}
