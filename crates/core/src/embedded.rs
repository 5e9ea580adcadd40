//! The signaling server run inside this process, on every interface: a sender's own
//! rendezvous for a code on the local network, and a device's inbox. This is the one place
//! where `toss-core` uses the `toss-signal` crate (its server); the messages themselves
//! come from `toss-wire`, as for any other client. The server serves the web peer's page
//! too, so a browser on the network can open a link to a code hosted here.

use std::net::Ipv4Addr;

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
        // A code made here says so (it starts with a 0): a receiver looks for it on the
        // local network and never asks a signaling server.
        config.local_codes = !inbox;
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

    /// The URL a device on the same network (a phone on the Wi-Fi) reaches it at, at this
    /// machine's address on the local network ([`lan_address`]). The server also serves
    /// the web peer's page there, over plain `http://`.
    pub(crate) fn lan_url(&self) -> String {
        format!("ws://{}:{}", lan_address(), self.port())
    }

    /// The nameplate of every room opened in an inbox, once.
    pub(crate) fn take_room_announcements(&mut self) -> Option<mpsc::Receiver<String>> {
        self.0.take_room_announcements()
    }
}

/// This machine's IPv4 address on the local network, the kind a phone on the same Wi-Fi
/// can reach; 127.0.0.1 when it has none (no network, or loopback only).
fn lan_address() -> Ipv4Addr {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    best_lan_address(interfaces.iter().filter_map(|i| match &i.addr {
        if_addrs::IfAddr::V4(a) => Some((i.name.as_str(), a.ip)),
        if_addrs::IfAddr::V6(_) => None,
    }))
}

/// Of `(interface name, address)` pairs in the system's order: the first private address
/// (10/8, 172.16/12, 192.168/16: what home and office networks hand out), else the first
/// link-local one (169.254/16: two machines with no DHCP server), else the first other
/// one. Interfaces named as virtual machines', containers' or VPNs' come last: a phone on
/// the Wi-Fi does not reach a Docker bridge's 172.17.0.1. Never loopback unless nothing
/// else is there.
fn best_lan_address<'a>(addrs: impl IntoIterator<Item = (&'a str, Ipv4Addr)>) -> Ipv4Addr {
    addrs
        .into_iter()
        .filter(|(_, ip)| !ip.is_loopback() && !ip.is_unspecified() && !ip.is_multicast())
        .min_by_key(|(name, ip)| {
            let kind = if ip.is_private() {
                0
            } else if ip.is_link_local() {
                1
            } else {
                2
            };
            (is_virtual(name), kind)
        })
        .map_or(Ipv4Addr::LOCALHOST, |(_, ip)| ip)
}

/// Whether an interface's name is that of a container bridge, a virtual machine's network
/// or a VPN tunnel, none of which a phone on the same Wi-Fi reaches.
fn is_virtual(name: &str) -> bool {
    const PREFIXES: [&str; 15] = [
        "docker",
        "br-",
        "veth",
        "virbr",
        "vboxnet",
        "vmnet",
        "podman",
        "cni",
        "lxcbr",
        "lxdbr",
        "tun",
        "tap",
        "wg",
        "utun",
        "vethernet",
    ];
    let name = name.to_ascii_lowercase();
    PREFIXES.iter().any(|p| name.starts_with(p))
        || name.contains("tailscale")
        || name.contains("zerotier")
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("an address")
    }

    #[test]
    fn the_lan_address_is_the_first_private_one_off_virtual_interfaces() {
        let pick = |list: &[(&'static str, &str)]| {
            best_lan_address(list.iter().map(|(n, a)| (*n, ip(a)))).to_string()
        };
        assert_eq!(
            pick(&[
                ("lo", "127.0.0.1"),
                ("docker0", "172.17.0.1"),
                ("wlan0", "192.168.1.20"),
                ("eth0", "10.0.0.5"),
            ]),
            "192.168.1.20"
        );
        // A private address beats a public one, a link-local one comes between.
        assert_eq!(
            pick(&[
                ("eth0", "203.0.113.7"),
                ("eth1", "169.254.3.2"),
                ("eth2", "10.1.2.3")
            ]),
            "10.1.2.3"
        );
        assert_eq!(
            pick(&[("eth0", "203.0.113.7"), ("eth1", "169.254.3.2")]),
            "169.254.3.2"
        );
        assert_eq!(pick(&[("eth0", "203.0.113.7")]), "203.0.113.7");
        // A container's bridge only when nothing else is there.
        assert_eq!(
            pick(&[
                ("wg0", "10.8.0.2"),
                ("br-1a2b", "172.18.0.1"),
                ("wlp2s0", "100.70.1.1")
            ]),
            "100.70.1.1"
        );
        assert_eq!(pick(&[("docker0", "172.17.0.1")]), "172.17.0.1");
        assert_eq!(pick(&[("lo", "127.0.0.1")]), "127.0.0.1");
        assert_eq!(pick(&[]), "127.0.0.1");
    }

    /// The desktop app's and the CLI's own rendezvous serves the web peer's page, so that a
    /// phone on the same network can open the link to a code hosted here.
    #[tokio::test]
    async fn the_embedded_server_serves_the_web_peer_at_its_root() {
        let server = EmbeddedServer::spawn(false)
            .await
            .expect("the server starts");
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .expect("it listens on loopback too");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: toss\r\nConnection: close\r\n\r\n")
            .await
            .expect("the request goes out");
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tcp.read_to_end(&mut answer),
        )
        .await
        .expect("an answer in time")
        .expect("the answer is read");
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/html; charset=utf-8"),
            "{head}"
        );
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist/index.html"),
        )
        .expect("the page as built");
        assert_eq!(body, page);
        assert!(server.lan_url().ends_with(&format!(":{}", server.port())));
    }
}
