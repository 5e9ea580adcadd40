//! What a caller configures for a session: signaling server, where to look for the room
//! ([`Reach`]), ICE servers, device name.
//!
//! Plain data with defaults; the CLI and the app fill it from flags, settings and the
//! environment, and the link to a server's web page for a code ([`page_link`]). Never reads
//! files or the network itself.

use std::path::PathBuf;
use std::time::Duration;

use crate::code::Code;
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

    /// The link to the web peer's page on this server with `code` in it; see [`page_link`].
    pub fn page_link(&self, code: &Code) -> Option<String> {
        page_link(&self.url, code)
    }
}

/// The link a browser opens to receive `code` from the signaling server at `signal_url`,
/// which serves the web peer's page at its own `/`: `http://HOST:PORT/#CODE` for
/// `ws://HOST:PORT`, `https://HOST/#CODE` for `wss://HOST`. The code goes in the fragment,
/// which a browser never sends to any server. A path in the URL is kept, with a slash at
/// its end (`wss://example.org/toss` -> `https://example.org/toss/#CODE`): a reverse proxy
/// that serves the server under that prefix serves the page there, and the page finds its
/// files and its WebSocket relative to that folder (docs/protocol.md, section 1). A query
/// and any user name in the URL are left out. `None` when the URL is not `ws://` or
/// `wss://` with a host.
pub fn page_link(signal_url: &str, code: &Code) -> Option<String> {
    let (scheme, rest) = signal_url.trim().split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" => "http",
        "wss" => "https",
        _ => return None,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        return None;
    }
    let slash = if path.ends_with('/') { "" } else { "/" };
    Some(format!("{scheme}://{host}{path}{slash}#{code}"))
}

/// Where a session looks for its room, and which addresses its connection may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// The signaling server only; never the local network (a network the user calls
    /// public, or told so).
    Server,
    /// The signaling server, and the local network where it helps: a sender whose server
    /// cannot be reached hosts the rendezvous itself and announces it (mDNS; its code then
    /// starts with a 0), and a receiver looks for such a code's sender on the network.
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
    /// Whether a TURN server is among the ICE servers (set by hand: the signaling server's
    /// is only added for one connection at a time).
    pub fn has_turn_server(&self) -> bool {
        self.ice_servers.iter().flat_map(|s| &s.urls).any(|url| {
            let url = url.trim_start().to_ascii_lowercase();
            url.starts_with("turn:") || url.starts_with("turns:")
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn link(url: &str) -> Option<String> {
        page_link(url, &"42-orbit-lemon".parse().expect("a code"))
    }

    #[test]
    fn a_page_link_is_the_servers_origin_with_the_code_in_the_fragment() {
        assert_eq!(
            link("ws://127.0.0.1:8787").as_deref(),
            Some("http://127.0.0.1:8787/#42-orbit-lemon")
        );
        assert_eq!(
            link("wss://toss.example.org").as_deref(),
            Some("https://toss.example.org/#42-orbit-lemon")
        );
        assert_eq!(
            link("WSS://toss.example.org:8443/").as_deref(),
            Some("https://toss.example.org:8443/#42-orbit-lemon")
        );
        assert_eq!(
            link("ws://[::1]:9000").as_deref(),
            Some("http://[::1]:9000/#42-orbit-lemon")
        );
    }

    #[test]
    fn a_page_link_keeps_the_servers_path_as_a_folder_and_nothing_else() {
        assert_eq!(
            link("wss://example.org/toss").as_deref(),
            Some("https://example.org/toss/#42-orbit-lemon")
        );
        assert_eq!(
            link("wss://example.org/toss/?token=1#x").as_deref(),
            Some("https://example.org/toss/#42-orbit-lemon")
        );
        assert_eq!(
            link("wss://ana:secret@example.org").as_deref(),
            Some("https://example.org/#42-orbit-lemon")
        );
        assert_eq!(
            link("ws://example.org?x=1").as_deref(),
            Some("http://example.org/#42-orbit-lemon")
        );
    }

    #[test]
    fn no_page_link_for_a_url_that_is_not_a_websocket_server() {
        for url in [
            "http://example.org",
            "example.org",
            "ws://",
            "ws:///toss",
            "",
        ] {
            assert_eq!(link(url), None, "{url}");
        }
    }
}
