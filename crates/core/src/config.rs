//! What a caller configures for a session: signaling server, ICE servers, device name.
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

/// Everything a session needs to know besides the files and the code.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ws://` or `wss://` URL of the signaling server.
    pub signal_url: String,
    /// Extra PEM CA certificates trusted for `wss://` (self-hosted servers).
    pub extra_ca: Option<PathBuf>,
    /// ICE servers; empty for local-only use.
    pub ice_servers: Vec<IceServer>,
    /// Use only loopback addresses for the peer connection (tests, one-machine demos).
    pub loopback_only: bool,
    /// The name the other side sees.
    pub device_name: String,
    /// Time allowed from pairing to an open data channel.
    pub connect_timeout: Duration,
    /// Use large SCTP packets where the path and the peer allow it (local paths only).
    pub large_packets: bool,
    /// Only relayed (TURN) paths: for networks where direct paths fail or must not be used.
    pub relay_only: bool,
    /// Local network mode: the sender hosts the rendezvous and announces it with mDNS; the
    /// receiver looks there first. No signaling server needed.
    pub lan: bool,
    /// Use the local network when it helps: a sender whose signaling server cannot be
    /// reached hosts the rendezvous itself and announces it (mDNS), and a receiver looks
    /// for the code's sender on the network while asking the server. Off on networks the
    /// user calls public; never used with `loopback_only`.
    pub discovery: bool,
    /// Fresh connections tried when one is lost mid-transfer (0: none), after waiting 1 s,
    /// 2 s, 4 s... The transfer resumes where it stopped.
    pub reconnect_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            signal_url: defaults::SIGNAL_URL.to_owned(),
            extra_ca: None,
            ice_servers: default_ice_servers(),
            loopback_only: false,
            device_name: device_name(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            large_packets: true,
            relay_only: false,
            lan: false,
            discovery: true,
            reconnect_attempts: defaults::RECONNECT_ATTEMPTS,
        }
    }
}

impl Config {
    /// A configuration for two peers on this machine: loopback only, no STUN.
    pub fn local(signal_url: impl Into<String>) -> Self {
        Self {
            signal_url: signal_url.into(),
            ice_servers: Vec::new(),
            loopback_only: true,
            ..Self::default()
        }
    }

    /// Whether this session may talk mDNS on the local network at all.
    pub fn uses_local_network(&self) -> bool {
        (self.lan || self.discovery) && !self.loopback_only
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
