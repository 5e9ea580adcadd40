//! Why a TURN server gave no relayed path: one Allocate with the same credentials, made
//! only after a relay-only setup failed, so that "the credentials were refused" (expired,
//! or made with another secret) gets its own sentence instead of "no path".
//!
//! Part of the WebRTC layer; it opens one UDP socket of its own and never touches the
//! session or the peer connection.

use std::net::SocketAddr;
use std::sync::Arc;

use webrtc::turn::client::{Client, ClientConfig};

use crate::config::{Config, IceServer};
use crate::defaults::TURN_CHECK_TIMEOUT;

/// Whether a TURN server of `config` answers its credentials with 401 Unauthorized or 438
/// Stale Nonce: a refusal of the credentials, not of the network. `false` when it cannot
/// tell (no UDP TURN server, no answer in time).
pub(crate) async fn credentials_refused(config: &Config) -> bool {
    for server in &config.ice_servers {
        for url in &server.urls {
            let Some(host_port) = udp_turn_host(url) else {
                continue;
            };
            let check = refuses(host_port, server);
            if let Ok(Some(refused)) = tokio::time::timeout(TURN_CHECK_TIMEOUT, check).await {
                return refused;
            }
        }
    }
    false
}

/// `HOST:PORT` of a `turn:` URL over UDP (no `transport`, or `transport=udp`); the port
/// defaults to 3478.
fn udp_turn_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("turn:")?;
    let (host_port, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !(query.is_empty() || query.eq_ignore_ascii_case("transport=udp")) {
        return None;
    }
    let has_port = match host_port.rfind(']') {
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:3478")
    })
}

/// One Allocate at `host_port`; `Some(true)` when the credentials were refused, `None`
/// when the server could not be asked.
async fn refuses(host_port: String, server: &IceServer) -> Option<bool> {
    let addr: SocketAddr = tokio::net::lookup_host(&host_port).await.ok()?.next()?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
    let client = Client::new(ClientConfig {
        stun_serv_addr: addr.to_string(),
        turn_serv_addr: addr.to_string(),
        username: server.username.clone(),
        password: server.credential.clone(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .ok()?;
    client.listen().await.ok()?;
    let answer = client.allocate().await;
    let _ = client.close().await;
    match answer {
        Ok(_) => Some(false),
        Err(e) => {
            let said = e.to_string();
            tracing::info!("the TURN server at {host_port} refused an allocation: {said}");
            Some(said.contains("401") || said.contains("438"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_turn_urls_give_their_host_and_port() {
        for (url, host) in [
            ("turn:192.0.2.1:3478?transport=udp", Some("192.0.2.1:3478")),
            ("turn:turn.example.org", Some("turn.example.org:3478")),
            ("turn:[2001:db8::1]:5349", Some("[2001:db8::1]:5349")),
            ("turn:[2001:db8::1]", Some("[2001:db8::1]:3478")),
            ("turn:192.0.2.1:3478?transport=tcp", None),
            ("turns:192.0.2.1:5349", None),
            ("stun:192.0.2.1:3478", None),
        ] {
            assert_eq!(udp_turn_host(url).as_deref(), host, "{url}");
        }
    }
}
