//! Codes on a local network with no signaling server anywhere: the sender runs the signaling
//! library itself on an ephemeral port and announces it with mDNS/DNS-SD (`_toss._tcp`),
//! with its device name, a random per-run id and, while a code is open, the code's
//! nameplate; the receiver finds the sender by that nameplate.
//!
//! The announcement never carries the code's words or the user's account name: the PAKE and
//! the sealed signaling run exactly as through any server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::error::{Error, Result};

/// The DNS-SD service type every Toss on the network announces.
pub const SERVICE_TYPE: &str = "_toss._tcp.local.";

fn mdns_error(e: mdns_sd::Error) -> Error {
    Error::Input(format!("local network discovery failed: {e}"))
}

/// A sender's own rendezvous: a signaling server on all interfaces, announced on the LAN.
/// Dropping it withdraws the announcement and stops the server.
pub struct LanHost {
    server: toss_signal::Server,
    daemon: ServiceDaemon,
    id: String,
    device: String,
    fullname: Option<String>,
}

impl std::fmt::Debug for LanHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanHost").field("id", &self.id).finish()
    }
}

impl LanHost {
    /// Starts the server on an ephemeral port of every interface.
    ///
    /// # Errors
    /// When the server cannot listen or mDNS cannot start.
    pub async fn start(device: &str) -> Result<LanHost> {
        let listen = "0.0.0.0:0"
            .parse()
            .map_err(|_| Error::Input("address".into()))?;
        let server = toss_signal::Server::spawn(toss_signal::Config::new(listen))
            .await
            .map_err(|e| Error::Input(format!("cannot start the local rendezvous: {e}")))?;
        let daemon = ServiceDaemon::new().map_err(mdns_error)?;
        Ok(LanHost {
            server,
            daemon,
            id: format!("{:016x}", rand::random::<u64>()),
            device: device.chars().take(63).collect(),
            fullname: None,
        })
    }

    /// The URL this machine's own clients use to reach the server.
    pub fn local_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.server.local_addr().port())
    }

    /// Announces this host with the nameplate of the code now open.
    ///
    /// # Errors
    /// When mDNS refuses the record.
    pub fn announce(&mut self, nameplate: &str) -> Result<()> {
        let host = format!("toss-{}.local.", self.id);
        let props = [
            ("id", self.id.as_str()),
            ("device", self.device.as_str()),
            ("nameplate", nameplate),
        ];
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &self.id,
            &host,
            "",
            self.server.local_addr().port(),
            &props[..],
        )
        .map_err(mdns_error)?
        .enable_addr_auto();
        self.fullname = Some(info.get_fullname().to_owned());
        self.daemon.register(info).map_err(mdns_error)
    }
}

impl Drop for LanHost {
    fn drop(&mut self) {
        if let Some(name) = &self.fullname {
            let _ = self.daemon.unregister(name);
        }
        let _ = self.daemon.shutdown();
    }
}

/// Looks on the local network for a Toss announcing `nameplate`; returns the signaling URLs
/// to try (one per address it announced), or an empty list after `wait`.
///
/// # Errors
/// When mDNS cannot start.
pub async fn find(nameplate: &str, wait: Duration) -> Result<Vec<String>> {
    let daemon = ServiceDaemon::new().map_err(mdns_error)?;
    let events = daemon.browse(SERVICE_TYPE).map_err(mdns_error)?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        let event = tokio::select! {
            e = events.recv_async() => e,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let Ok(ServiceEvent::ServiceResolved(service)) = event else {
            if event.is_err() {
                break;
            }
            continue;
        };
        if service.get_property_val_str("nameplate") != Some(nameplate) {
            continue;
        }
        let mut urls: Vec<String> = service
            .get_addresses()
            .iter()
            .map(|a| a.to_ip_addr())
            .filter(|ip| matches!(ip, IpAddr::V4(_)))
            .map(|ip| format!("ws://{ip}:{}", service.get_port()))
            .collect();
        urls.sort();
        if !urls.is_empty() {
            found.insert(service.get_fullname().to_owned(), urls);
            break;
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_values().flatten().collect())
}
