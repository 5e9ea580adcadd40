//! The WebRTC layer: one webrtc-rs peer connection with one ordered, reliable data channel,
//! set up through the sealed signaling of a [`Paired`] session, and handed to the transfer
//! layer as a [`Link`]. This file configures the stack and runs the attempts within their
//! time limit; `negotiate` speaks with the peer, `path` judges the path, `link` carries
//! the messages. It knows nothing of files, and imports nothing from `transfer`.

mod link;
mod negotiate;
mod path;
mod turn_check;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use webrtc::api::setting_engine::{SctpPacketSize, SettingEngine};
use webrtc::api::APIBuilder;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;

pub(crate) use link::{await_peer_close, Incoming};
pub use link::{Link, LinkState};
pub(crate) use negotiate::Binding;
pub use path::{PathInfo, PathKind};

use crate::config::{Config, IceServer};
use crate::defaults::{
    DEFAULT_SCTP_PACKET, ICE_DISCONNECTED_AFTER, ICE_FAILED_AFTER, RECEIVE_MTU, SETUP_AFTER_PATH,
    SETUP_RETRY_MIN_LEFT, UDP_BUFFER,
};
use crate::error::{ConnectFailure, Error, Result, Side};
use crate::session::{Paired, Signal, TurnAnswer};
use negotiate::{bind, negotiate};
use path::{own_addresses, path_of, OwnAddress, PeerSays};

/// The webrtc-rs stack for one attempt; `own` is this machine's addresses, for judging the
/// path ICE selects.
fn build_api(config: &Config, peer: &Arc<PeerSays>, own: &Arc<[OwnAddress]>) -> webrtc::api::API {
    let mut se = SettingEngine::default();
    se.detach_data_channels();
    // Room in the kernel for bursts of large packets while this process waits for a CPU.
    webrtc::util::vnet::net::set_udp_buffer_sizes(UDP_BUFFER, 0);
    // Accept datagrams as large as any packet size a peer may choose.
    se.set_receive_mtu(RECEIVE_MTU);
    if config.large_packets {
        let (peer, own) = (peer.clone(), own.clone());
        se.set_sctp_mtu_policy(Arc::new(move |pair| {
            let path = path_of(
                pair,
                peer.takes_large.load(Ordering::SeqCst),
                &peer.addresses(),
                &own,
            );
            SctpPacketSize {
                initial: path.packet_size,
                probe_up_to: path.probe_up_to,
            }
        }));
    }
    // A peer-reflexive pair (the peer's checks arrived before its trickled candidate) is as
    // good as a host pair here; webrtc-rs would wait a full second before using one.
    se.set_prflx_acceptance_min_wait(Some(Duration::ZERO));
    // Say "disconnected" after 3 s without a packet and give up 5 s later: a short outage
    // heals by itself, a longer one is met with a fresh connection (see `handle`).
    se.set_ice_timeouts(
        Some(ICE_DISCONNECTED_AFTER),
        Some(ICE_FAILED_AFTER),
        Some(Duration::from_secs(1)),
    );
    se.set_ice_multicast_dns_mode(mdns_mode(config));
    if config.reach.loopback_only() {
        se.set_include_loopback_candidate(true);
        se.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    }
    APIBuilder::new().with_setting_engine(se).build()
}

/// How ICE treats mDNS names. A browser gives its host candidates as random `UUID.local`
/// names rather than give its addresses away; resolving them lets a phone and this computer
/// on one Wi-Fi connect host to host with no STUN server. `QueryOnly` resolves a peer's
/// `.local` names and never announces a name of ours: our host candidates stay plain
/// addresses, which travel sealed. Only where the session may use the local network at
/// all ([`crate::config::Reach::uses_local_network`]): a loopback-only session, and one
/// kept off the local network (a network the user calls public, `--no-discovery`), send no
/// multicast (`Disabled`: a `.local` candidate is dropped there, and the browser's own
/// checks to our addresses still find a path, as the next paragraph says).
///
/// Why this cannot fail a connection (vendor/webrtc-ice, `Agent::new` and
/// `add_remote_candidate`; webrtc-mdns `DnsConn::server`): each attempt's ICE agent opens
/// its own IPv4 socket on 224.0.0.251:5353 with `SO_REUSEADDR` and `SO_REUSEPORT`, so it
/// shares the port with `lan`'s mdns-sd in this process (which sets both too) and with any
/// other responder that lets the port be shared, and on Linux every such socket gets its
/// copy of each multicast answer. When the socket cannot be opened (the port held
/// exclusively by another program, no interface that joins the group), `Agent::new` logs
/// it and goes on without mDNS ("opportunistic mDNS"), and a `.local` candidate is then
/// quietly not added: no error, only no path through that name. Either way the browser's
/// own checks still reach our plain host candidates, and the pair ICE learns from them
/// (peer-reflexive) is used at once (`set_prflx_acceptance_min_wait` above). A query for a
/// name nobody answers repeats once a second until the attempt's agent closes.
fn mdns_mode(config: &Config) -> MulticastDnsMode {
    if config.reach.uses_local_network() {
        MulticastDnsMode::QueryOnly
    } else {
        MulticastDnsMode::Disabled
    }
}

fn rtc_config(config: &Config) -> RTCConfiguration {
    // Loopback-only configurations come without ICE servers (`Config::local`); any that a
    // caller adds anyway are used, which lets a benchmark show that an unreachable STUN
    // server does not delay setup.
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    RTCConfiguration {
        ice_servers,
        ice_transport_policy: if config.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..Default::default()
    }
}

/// Negotiates the peer connection over `paired`'s sealed signaling and waits for the data
/// channel to open. Signaling stays open afterwards, for [`reconnect`]; [`Paired::leave`]
/// ends it.
///
/// # Errors
/// [`Error::Tampered`] when a sealed message fails to open, [`Error::Connect`] when no path
/// is found in time, [`Error::PeerGone`] when the peer leaves, [`Error::Cancelled`] when
/// `cancel` fires (the peer is told, and signaling is closed on any error).
pub async fn connect(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
) -> Result<Link> {
    connect_with(paired, config, cancel, Binding::Honest).await
}

pub(crate) async fn connect_with(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    binding: Binding,
) -> Result<Link> {
    // A setup that stalls on a lossy network (a handshake flight lost for good, a path
    // that never settles) is begun afresh within the same time limit, as many times as
    // the time allows: the peer sees the newer offer and follows.
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let config = &match with_server_turn(paired, config).await {
        Ok(config) => config,
        Err(failure) => {
            give_up(paired, &failure).await;
            return Err(failure);
        }
    };
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let failure = match attempt(paired, config, cancel, binding, left).await {
            Ok(link) => return Ok(link),
            Err(failure) => failure,
        };
        let time_left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !matches!(failure, Error::Connect(_)) || time_left < SETUP_RETRY_MIN_LEFT {
            let failure = explain(failure, config).await;
            give_up(paired, &failure).await;
            return Err(failure);
        }
        tracing::info!("setting up the connection again: {failure}");
        paired.next_round();
    }
}

/// Negotiates a fresh peer connection in the same session, after the last one was lost:
/// the sender offers again, the receiver waits for that offer. The caller paces attempts
/// and calls [`give_up`] after the last one.
///
/// # Errors
/// As [`connect`], without telling the peer.
pub(crate) async fn reconnect(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    timeout: Duration,
) -> Result<Link> {
    paired.next_round();
    let config = &with_server_turn(paired, config).await?;
    match attempt(paired, config, cancel, Binding::Honest, timeout).await {
        Err(failure) => Err(explain(failure, config).await),
        ok => ok,
    }
}

/// `config` for one connection of the session, with the signaling server's TURN server
/// (short-lived credentials, asked for now) among its ICE servers, unless a TURN server
/// was set by hand, which wins. Without one from the server the connection goes on
/// without a relay, as before: only a relay-only connection cannot.
///
/// # Errors
/// [`Error::NoRelay`] when only relayed paths are allowed and no TURN server is to be had;
/// signaling errors met while waiting for the answer.
async fn with_server_turn(paired: &mut Paired, config: &Config) -> Result<Config> {
    let mut config = config.clone();
    if config.has_turn_server() {
        return Ok(config);
    }
    match paired.turn().await? {
        TurnAnswer::Granted(server) => {
            tracing::info!(
                "relaying through the signaling server's TURN server if needed: {:?}",
                server.urls
            );
            // Every TURN server answers STUN on its port too: asking it for this side's
            // public address is what lets two NATs find a direct path, with no STUN server
            // typed anywhere (browsers take it from the TURN allocation all the same).
            for url in stun_beside(&server.urls) {
                if !config.ice_servers.iter().any(|s| s.urls.contains(&url)) {
                    config.ice_servers.push(IceServer::stun(url));
                }
            }
            config.ice_servers.push(server);
        }
        TurnAnswer::Refused(why) => {
            tracing::info!("no TURN server from the signaling server: {why}");
            if config.relay_only {
                return Err(Error::NoRelay(why));
            }
        }
    }
    Ok(config)
}

/// The STUN addresses of the TURN servers at `turn_urls`: `stun:HOST:PORT` for each plain
/// `turn:` URL over UDP (the default transport), each once. `turns:` and TCP-only URLs give
/// none: ICE asks STUN over UDP only.
fn stun_beside(turn_urls: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for url in turn_urls {
        let Some(rest) = url.trim().strip_prefix("turn:") else {
            continue;
        };
        let (host_port, query) = rest.split_once('?').unwrap_or((rest, ""));
        let udp = query
            .split('&')
            .all(|kv| !kv.starts_with("transport=") || kv == "transport=udp");
        let stun = format!("stun:{host_port}");
        if udp && !host_port.is_empty() && !out.contains(&stun) {
            out.push(stun);
        }
    }
    out
}

/// A relay-only setup that found no path, told apart when the TURN server refused its
/// credentials (expired, another secret): the user can then do something about it. The
/// peer may have given up first and said so; with this side's relay refused, that is why,
/// and this side's own sentence says more than the peer's "no path".
async fn explain(failure: Error, config: &Config) -> Error {
    if config.relay_only
        && matches!(failure, Error::Connect(_) | Error::PeerFailed(_))
        && turn_check::credentials_refused(config).await
    {
        return Error::TurnRefused;
    }
    failure
}

/// Tells the peer why this side stops setting up (sealed, so a forger cannot fake it), and
/// leaves signaling.
pub(crate) async fn give_up(paired: &mut Paired, failure: &Error) {
    let farewell = match failure {
        Error::PeerGone | Error::PeerFailed(_) | Error::Cancelled(Side::Peer) => None,
        Error::Tampered => Some(Signal::Tampered),
        Error::Cancelled(Side::Local) => Some(Signal::Cancel),
        other => Some(Signal::Abort {
            reason: other.to_string(),
        }),
    };
    if let Some(farewell) = farewell {
        // Best effort: signaling may already be gone, and this side stops either way.
        let _ = paired.say(&farewell);
    }
    paired.leave().await;
}

async fn attempt(
    paired: &mut Paired,
    config: &Config,
    cancel: &CancellationToken,
    binding: Binding,
    timeout: Duration,
) -> Result<Link> {
    let peer = Arc::new(PeerSays::default());
    let own: Arc<[OwnAddress]> = own_addresses().into();
    let api = build_api(config, &peer, &own);
    let pc = Arc::new(api.new_peer_connection(rtc_config(config)).await?);
    let setup = async {
        let (rtc_dc, dc) = negotiate(paired, &pc, config.large_packets, &peer).await?;
        // The peer's binding comes right after its channel opened; one lost for good
        // (the peer never saw the channel open) ends this attempt and a fresh one begins.
        tokio::time::timeout(SETUP_AFTER_PATH, bind(paired, &pc, &dc, binding))
            .await
            .map_err(|_| Error::Connect(ConnectFailure::HandshakeStalled))??;
        Ok((rtc_dc, dc))
    };
    // Cancelling is handled here, not by dropping this future, so that the peer is told
    // and the peer connection is closed.
    let result = tokio::select! {
        biased;
        _ = cancel.cancelled() => Ok(Err(Error::Cancelled(Side::Local))),
        r = tokio::time::timeout(timeout, setup) => r,
    };
    let failure = match result {
        Ok(Ok((rtc_dc, dc))) => {
            let pair = pc
                .sctp()
                .transport()
                .ice_transport()
                .get_selected_candidate_pair()
                .await;
            let large = config.large_packets && peer.takes_large.load(Ordering::SeqCst);
            let path = match pair {
                Some(pair) => path_of(&pair, large, &peer.addresses(), &own),
                None => PathInfo {
                    kind: PathKind::Direct,
                    local_network: false,
                    packet_size: DEFAULT_SCTP_PACKET,
                    probe_up_to: 0,
                },
            };
            return Ok(Link::new(pc, rtc_dc, dc, paired.role(), path));
        }
        Ok(Err(e)) => e,
        Err(_) => Error::Connect(ConnectFailure::NoPathInTime),
    };
    let _ = pc.close().await;
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Reach;

    #[test]
    fn a_turn_server_is_asked_for_stun_on_its_udp_port() {
        let urls = |list: &[&str]| list.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            stun_beside(&urls(&[
                "turn:vps.example.org:3478?transport=udp",
                "turn:vps.example.org:3478?transport=tcp",
                "turn:10.9.8.7:3479",
                "turns:vps.example.org:5349?transport=tcp",
                "turn:[2001:db8::1]:3478",
                "turn:",
                "stun:vps.example.org:3478",
            ])),
            [
                "stun:vps.example.org:3478",
                "stun:10.9.8.7:3479",
                "stun:[2001:db8::1]:3478",
            ]
        );
        assert!(stun_beside(&urls(&["turn:h:1?transport=tcp"])).is_empty());
    }

    #[test]
    fn a_peers_mdns_names_are_resolved_where_the_local_network_may_be_used() {
        for (reach, mode) in [
            (Reach::Server, MulticastDnsMode::Disabled),
            (Reach::ServerThenLan, MulticastDnsMode::QueryOnly),
            (Reach::LanOnly, MulticastDnsMode::QueryOnly),
            (Reach::Loopback, MulticastDnsMode::Disabled),
        ] {
            let config = Config {
                reach,
                ..Config::local("ws://127.0.0.1:9")
            };
            // Never QueryAndGather: our own host candidates are never hidden behind names.
            assert_eq!(mdns_mode(&config), mode, "{reach:?}");
        }
    }

    /// The fingerprints Toss binds (its own from its certificate, the peer's from the
    /// certificate it presented in the handshake) are the two SDPs' `a=fingerprint:sha-256`
    /// values, lowercased: what the web peer binds, since a browser cannot read the peer's
    /// certificate (docs/security.md, "The browser peer's channel binding").
    #[tokio::test]
    async fn the_bound_fingerprints_are_the_two_sdps_fingerprints_lowercased(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let config = Config::local("ws://127.0.0.1:9");
        let api = build_api(
            &config,
            &Arc::new(PeerSays::default()),
            &own_addresses().into(),
        );
        let a = api.new_peer_connection(rtc_config(&config)).await?;
        let b = api.new_peer_connection(rtc_config(&config)).await?;
        let dc = a.create_data_channel("toss", None).await?;
        let (opened, mut open) = tokio::sync::mpsc::channel::<()>(1);
        dc.on_open(Box::new(move || {
            Box::pin(async move {
                let _ = opened.send(()).await;
            })
        }));
        let offer = a.create_offer(None).await?;
        let mut gathered = a.gathering_complete_promise().await;
        a.set_local_description(offer).await?;
        let _ = gathered.recv().await;
        b.set_remote_description(a.local_description().await.ok_or("no offer")?)
            .await?;
        let answer = b.create_answer(None).await?;
        let mut gathered = b.gathering_complete_promise().await;
        b.set_local_description(answer).await?;
        let _ = gathered.recv().await;
        a.set_remote_description(b.local_description().await.ok_or("no answer")?)
            .await?;
        tokio::time::timeout(Duration::from_secs(10), open.recv())
            .await?
            .ok_or("the channel never opened")?;
        async fn sdp_fingerprint(pc: &webrtc::peer_connection::RTCPeerConnection) -> String {
            let sdp = pc
                .local_description()
                .await
                .map(|d| d.sdp)
                .unwrap_or_default();
            let lines: Vec<&str> = sdp
                .lines()
                .filter_map(|l| l.strip_prefix("a=fingerprint:"))
                .collect();
            assert_eq!(lines.len(), 1, "one fingerprint: {sdp}");
            lines[0]
                .strip_prefix("sha-256 ")
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        }
        for (me, peer) in [(&a, &b), (&b, &a)] {
            let dtls = me.dtls_transport();
            let local = dtls.get_local_parameters()?.fingerprints[0].value.clone();
            let remote = negotiate::fingerprint(&dtls.get_remote_certificate().await);
            assert_eq!(local, sdp_fingerprint(me).await);
            assert_eq!(remote, sdp_fingerprint(peer).await);
            for fp in [&local, &remote] {
                assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
                assert!(
                    fp.split(':').all(|h| h.len() == 2
                        && h.bytes()
                            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))),
                    "lowercase hex pairs: {fp}"
                );
            }
        }
        a.close().await?;
        b.close().await?;
        Ok(())
    }

    /// Once Toss has set up a connection's stack, every UDP socket the stack opens asks for
    /// the larger buffers, and gets what the system grants: twice the size asked, capped at
    /// `net.core.rmem_max`. Without the request it would hold `rmem_default`.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_stacks_udp_sockets_ask_for_larger_buffers() {
        let _api = build_api(
            &Config::local("ws://127.0.0.1:9"),
            &Arc::new(PeerSays::default()),
            &own_addresses().into(),
        );
        let net = webrtc::util::vnet::net::Net::new(None);
        let conn = net
            .bind("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("a loopback socket");
        let socket = conn
            .as_any()
            .downcast_ref::<tokio::net::UdpSocket>()
            .expect("a real UDP socket");
        let granted = socket2::SockRef::from(socket)
            .recv_buffer_size()
            .expect("its receive buffer");
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .expect("rmem_max")
            .trim()
            .parse()
            .expect("a number");
        assert_eq!(granted, 2 * UDP_BUFFER.min(max));
    }
}
