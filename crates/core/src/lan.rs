//! The local network, with no signaling server anywhere. Every Toss that may be seen
//! announces itself with mDNS/DNS-SD (`_toss._tcp`): its device name, a random per-run id,
//! and the port of a rendezvous it runs itself (`crate::embedded`).
//!
//! Two kinds of rendezvous are announced:
//! - a device's *inbox* ([`Nearby`]): anyone on the network may open a room there to send
//!   to that device (the owner is told at once and joins it; nothing is received without
//!   the owner's accept);
//! - a sender's *code* ([`LanHost`]): the room of a code read out to someone, announced by
//!   its nameplate so that the receiver typing the code can find it.
//!
//! The announcements never carry a code's words or the user's account name: the PAKE and
//! the sealed signaling run exactly as through any server.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{DaemonEvent, ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::code::{Code, Nameplate, Password};
use crate::embedded::EmbeddedServer;
use crate::error::{Error, Result};

/// The DNS-SD service type every Toss on the network announces.
pub const SERVICE_TYPE: &str = "_toss._tcp.local.";

/// Longest device name announced or shown, in characters (a DNS label's limit).
const MAX_DEVICE_NAME: usize = 63;

fn mdns_error(e: mdns_sd::Error) -> Error {
    Error::LocalNetwork(format!("local network discovery failed: {e}"))
}

/// A device name as it may be shown: no control or bidirectional-override characters
/// (a stranger on the network chose it), trimmed, at most 63 characters.
pub fn clean_device_name(name: &str) -> String {
    let cleaned = toss_wire::text::clean_for_display(name, MAX_DEVICE_NAME);
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "Toss".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// One Toss seen on the local network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Its random per-run id.
    pub id: String,
    /// Its device name, safe to show.
    pub name: String,
    /// It takes files sent straight to it (the app, or `toss receive` waiting); `false` for
    /// a sender showing a code.
    pub receives: bool,
    /// The nameplate of the code it shows, for a sender.
    pub nameplate: Option<String>,
    /// Its rendezvous, `ws://ADDR:PORT`, one per address it announced.
    pub urls: Vec<String>,
}

/// Someone opened a room in this device's inbox: they want to send files here.
#[derive(Debug, Clone)]
pub struct Knock {
    nameplate: Nameplate,
    url: String,
}

impl Knock {
    /// The code to join the room with (the nearby password: compare the words).
    pub fn code(&self) -> Code {
        Code::new(self.nameplate.clone(), Password::nearby())
    }

    /// The inbox's own address on this machine.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// What [`Nearby`] reports.
#[derive(Debug)]
pub enum NearbyEvent {
    /// The devices visible now, sorted by name (sent whenever the list changes).
    Devices(Vec<Device>),
    /// Someone wants to send to this device.
    Knock(Knock),
}

/// Announces a rendezvous on `port` with `props`, on every interface.
struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// Longest wait for an announcement to go out: mDNS first probes that its names are free
/// (about a second) and answers nobody until then.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(3);

impl Announcement {
    /// Registers the record and returns at once (mDNS announces it after its probe).
    fn register(id: &str, port: u16, props: &[(&str, &str)]) -> Result<Self> {
        Ok(Self::registered(id, port, props)?.0)
    }

    /// Registers the record and returns once the network has been told, so that a device
    /// asking from then on is answered at once; or after [`ANNOUNCE_WAIT`] on a computer too
    /// busy to say (the daemon goes on announcing when it can).
    async fn register_announced(id: &str, port: u16, props: &[(&str, &str)]) -> Result<Self> {
        let (this, monitor) = Self::registered(id, port, props)?;
        let fullname = &this.fullname;
        let announced = async {
            while let Ok(event) = monitor.recv_async().await {
                if matches!(&event, DaemonEvent::Announce(name, _) if name == fullname) {
                    return true;
                }
            }
            false
        };
        if !matches!(
            tokio::time::timeout(ANNOUNCE_WAIT, announced).await,
            Ok(true)
        ) {
            tracing::debug!("{fullname} not announced yet after {ANNOUNCE_WAIT:?}");
        }
        Ok(this)
    }

    /// Registers the record; the daemon's events from just before come with it.
    fn registered(
        id: &str,
        port: u16,
        props: &[(&str, &str)],
    ) -> Result<(Self, mdns_sd::Receiver<DaemonEvent>)> {
        let daemon = ServiceDaemon::new().map_err(mdns_error)?;
        let host = format!("toss-{id}.local.");
        let info = ServiceInfo::new(SERVICE_TYPE, id, &host, "", port, props)
            .map_err(mdns_error)?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        let monitor = daemon.monitor().map_err(mdns_error)?;
        daemon.register(info).map_err(mdns_error)?;
        Ok((Self { daemon, fullname }, monitor))
    }
}

/// Longest wait for the goodbye to go out when an announcement ends (it usually goes at
/// once; a busy computer can hold the daemon's thread back for a while).
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

impl Drop for Announcement {
    fn drop(&mut self) {
        // Says goodbye on the network, so that others drop this device from their lists at
        // once rather than when the record expires; waits for it to be sent, since a
        // process that exits next would otherwise take the unsent goodbye with it.
        if let Ok(sent) = self.daemon.unregister(&self.fullname) {
            let _ = sent.recv_timeout(GOODBYE_WAIT);
        }
        if let Ok(stopped) = self.daemon.shutdown() {
            let _ = stopped.recv_timeout(GOODBYE_WAIT);
        }
    }
}

fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A sender's own rendezvous for a code: a signaling server on all interfaces, announced on
/// the LAN with the code's nameplate. Dropping it withdraws the announcement and stops the
/// server.
pub struct LanHost {
    server: EmbeddedServer,
    id: String,
    device: String,
    announcement: Option<Announcement>,
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
    /// When the server cannot listen.
    pub async fn start(device: &str) -> Result<LanHost> {
        Ok(LanHost {
            server: EmbeddedServer::spawn(false).await?,
            id: random_id(),
            device: clean_device_name(device),
            announcement: None,
        })
    }

    /// The URL this machine's own clients use to reach the server.
    pub fn local_url(&self) -> String {
        self.server.local_url()
    }

    /// The URL a device on the network reaches the server at: this machine's address on
    /// the local network (127.0.0.1 when it has none). Its page link is a code's link.
    pub fn lan_url(&self) -> String {
        self.server.lan_url()
    }

    /// Announces this host with the nameplate of the code now open.
    ///
    /// # Errors
    /// When mDNS cannot start or refuses the record.
    pub fn announce(&mut self, nameplate: &str) -> Result<()> {
        let props = [
            ("id", self.id.as_str()),
            ("device", self.device.as_str()),
            ("role", "code"),
            ("nameplate", nameplate),
        ];
        // Not waited for: a code is read out and typed, which takes longer than the probe.
        self.announcement = Some(Announcement::register(
            &self.id,
            self.server.port(),
            &props,
        )?);
        Ok(())
    }
}

/// This device on the network: its inbox announced, and the other devices as they come
/// and go. Dropping it says goodbye and stops everything it started.
pub struct Nearby {
    server: EmbeddedServer,
    id: String,
    _announcement: Announcement,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Nearby {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nearby").field("id", &self.id).finish()
    }
}

impl Nearby {
    /// Announces this device as `device_name` and starts watching the network; the list of
    /// other devices and every knock go to `events`. Returns once the announcement is out.
    ///
    /// # Errors
    /// When the inbox cannot listen or mDNS cannot start.
    pub async fn start(device_name: &str, events: mpsc::Sender<NearbyEvent>) -> Result<Nearby> {
        let mut server = EmbeddedServer::spawn(true).await?;
        let id = random_id();
        let name = clean_device_name(device_name);
        let port = server.port();
        let props = [
            ("id", id.as_str()),
            ("device", name.as_str()),
            ("role", "inbox"),
        ];
        // Announced before this returns: "visible" is then true, and a device that looks
        // from now on finds this one.
        let announcement = Announcement::register_announced(&id, port, &props).await?;
        let mut browser = Browser::start(Some(id.clone()))?;
        let mut tasks = Vec::new();
        let list_events = events.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(list) = browser.next_change().await {
                if list_events.send(NearbyEvent::Devices(list)).await.is_err() {
                    break;
                }
            }
        }));
        if let Some(mut rooms) = server.take_room_announcements() {
            let url = format!("ws://127.0.0.1:{port}");
            tasks.push(tokio::spawn(async move {
                while let Some(nameplate) = rooms.recv().await {
                    let Ok(nameplate) = nameplate.parse::<Nameplate>() else {
                        continue;
                    };
                    let knock = Knock {
                        nameplate,
                        url: url.clone(),
                    };
                    if events.send(NearbyEvent::Knock(knock)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(Nearby {
            server,
            id,
            _announcement: announcement,
            tasks,
        })
    }

    /// This device's per-run id (others see it in [`Device::id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The inbox's port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }
}

impl Drop for Nearby {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How often a long-running browser asks the network afresh (mDNS answers are multicast
/// and the cache is replayed on each new browse, so nothing missed stays missed).
const BROWSE_REFRESH: Duration = Duration::from_secs(20);

/// How soon to ask again after an announcement that was not complete yet (no IPv4 address
/// or no TXT record at first).
const BROWSE_RETRY: Duration = Duration::from_secs(1);

/// How long a removed announcement is not taken back from a replayed cache. Every run of
/// Toss announces under a new random id, so a real return never has the same name.
const GONE_MEMORY: Duration = Duration::from_secs(10);

/// Longest wait for the daemon to let go of the browse before a new one (it does at once;
/// this only bounds a daemon that stopped answering).
const HANDOVER: Duration = Duration::from_secs(2);

/// Announcements remembered as retried or gone; past it, no more are remembered.
const MAX_RETRIED: usize = 256;

/// Watches the announcements of other Toss instances.
struct Browser {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    /// The browse before the last, read to its end before `events`.
    previous: Option<mdns_sd::Receiver<ServiceEvent>>,
    /// When to browse afresh.
    refresh_at: tokio::time::Instant,
    /// Announcements already asked about again because they came incomplete (once each).
    retried: std::collections::HashSet<String>,
    /// Announcements removed lately, and when: a browse replays the daemon's cache, which
    /// may still hold a record that said goodbye a moment ago.
    gone: std::collections::HashMap<String, tokio::time::Instant>,
    /// By mDNS full name.
    seen: BTreeMap<String, Device>,
    /// This process's own announcement, left out.
    own_id: Option<String>,
}

impl Browser {
    fn start(own_id: Option<String>) -> Result<Self> {
        let daemon = ServiceDaemon::new().map_err(mdns_error)?;
        let events = daemon.browse(SERVICE_TYPE).map_err(mdns_error)?;
        Ok(Self {
            daemon,
            events,
            previous: None,
            refresh_at: tokio::time::Instant::now() + BROWSE_REFRESH,
            retried: std::collections::HashSet::new(),
            gone: std::collections::HashMap::new(),
            seen: BTreeMap::new(),
            own_id,
        })
    }

    /// Browses again: a new query goes out and the daemon replays its cache. Not a stop and
    /// a start: stopping empties the daemon's cache, and with it the removals still due (a
    /// goodbye takes a second to apply, a device that vanished goes when its record
    /// expires), so a device that left would stay listed. The new browse takes the place of
    /// the old one; the old one's last events are read first, until the daemon lets it go.
    fn rebrowse(&mut self) {
        if let Ok(events) = self.daemon.browse(SERVICE_TYPE) {
            // (Called only once the browse before has been let go of.)
            self.previous = Some(std::mem::replace(&mut self.events, events));
        }
        self.refresh_at = tokio::time::Instant::now() + BROWSE_REFRESH;
    }

    fn list(&self) -> Vec<Device> {
        let mut list: Vec<Device> = self.seen.values().cloned().collect();
        list.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
        list
    }

    /// Waits until the set of devices changes and returns it; `None` when mDNS stopped.
    async fn next_change(&mut self) -> Option<Vec<Device>> {
        loop {
            let event = if let Some(previous) = &self.previous {
                match tokio::time::timeout(HANDOVER, previous.recv_async()).await {
                    Ok(Ok(event)) => event,
                    // Let go of (or given up on): on to the new browse.
                    _ => {
                        self.previous = None;
                        continue;
                    }
                }
            } else {
                tokio::select! {
                    event = self.events.recv_async() => event.ok()?,
                    _ = tokio::time::sleep_until(self.refresh_at) => {
                        self.rebrowse();
                        continue;
                    }
                }
            };
            let now = tokio::time::Instant::now();
            self.gone
                .retain(|_, at| now.duration_since(*at) < GONE_MEMORY);
            let changed = match event {
                ServiceEvent::ServiceResolved(service) => {
                    let fullname = service.get_fullname().to_owned();
                    if self.gone.contains_key(&fullname) {
                        // Said goodbye: a replayed cache entry, not the device coming back.
                        continue;
                    }
                    let Some(device) = device_of(&service) else {
                        if self.seen.remove(&fullname).is_some() {
                            // It lost its last IPv4 address: it cannot be reached now.
                            tracing::debug!("nearby: {fullname} has no IPv4 address now");
                            return Some(self.list());
                        }
                        // A Toss whose IPv4 address had not come yet: ask once more soon.
                        if service.get_property_val_str("id").is_some()
                            && self.retried.len() < MAX_RETRIED
                            && self.retried.insert(fullname)
                        {
                            let soon = tokio::time::Instant::now() + BROWSE_RETRY;
                            self.refresh_at = self.refresh_at.min(soon);
                        }
                        continue;
                    };
                    if self.own_id.as_deref() == Some(device.id.as_str()) {
                        continue;
                    }
                    tracing::debug!(
                        "nearby: {fullname} is {:?} at {:?}",
                        device.name,
                        device.urls
                    );
                    self.seen.insert(fullname, device.clone()) != Some(device)
                }
                ServiceEvent::ServiceRemoved(_, fullname) => {
                    tracing::debug!("nearby: {fullname} left");
                    let removed = self.seen.remove(&fullname).is_some();
                    if self.gone.len() < MAX_RETRIED {
                        self.gone.insert(fullname, now);
                    }
                    removed
                }
                _ => false,
            };
            if changed {
                return Some(self.list());
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

fn device_of(service: &mdns_sd::ResolvedService) -> Option<Device> {
    let id = service.get_property_val_str("id")?;
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut urls: Vec<String> = service
        .get_addresses()
        .iter()
        .map(|a| a.to_ip_addr())
        .filter(|ip| matches!(ip, IpAddr::V4(_)))
        .map(|ip| format!("ws://{ip}:{}", service.get_port()))
        .collect();
    urls.sort();
    if urls.is_empty() {
        return None;
    }
    Some(Device {
        id: id.to_owned(),
        name: clean_device_name(service.get_property_val_str("device").unwrap_or("")),
        receives: service.get_property_val_str("role") == Some("inbox"),
        nameplate: service
            .get_property_val_str("nameplate")
            .and_then(|n| n.parse::<Nameplate>().ok())
            .map(|n| n.to_string()),
        urls,
    })
}

/// Every Toss visible on the network after watching for `wait` (what `toss devices` lists).
///
/// # Errors
/// When mDNS cannot start.
pub async fn devices(wait: Duration) -> Result<Vec<Device>> {
    let mut browser = Browser::start(None)?;
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, browser.next_change()).await {}
    Ok(browser.list())
}

/// Waits up to `wait` for the first device `matches` accepts.
async fn first_device(wait: Duration, matches: impl Fn(&Device) -> bool) -> Result<Option<Device>> {
    let mut browser = Browser::start(None)?;
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(list)) = tokio::time::timeout_at(deadline, browser.next_change()).await {
        if let Some(found) = list.into_iter().find(&matches) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Looks for a device that takes files, by name (any case) or id. Once one answers, it
/// listens a moment longer: anyone can take any name, and two devices of the same name
/// are refused with a sentence rather than one of them picked.
///
/// # Errors
/// [`Error::LocalNetwork`] when none answers within `wait`, when several of that name
/// answer, or when mDNS cannot start.
pub async fn find_device(name: &str, wait: Duration) -> Result<Device> {
    let wanted = name.trim().to_lowercase();
    let matches = |d: &Device| d.receives && (d.name.to_lowercase() == wanted || d.id == wanted);
    let mut browser = Browser::start(None)?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut first_at = None;
    loop {
        // However soon the first answers, the whole wait is listened to (a second device
        // of the name may be slow to resolve on a busy network), and longer when the first
        // came late.
        let until = first_at.map_or(deadline, |at: tokio::time::Instant| {
            deadline.max(at + crate::defaults::NEARBY_SAME_NAME_WAIT)
        });
        match tokio::time::timeout_at(until, browser.next_change()).await {
            Ok(Some(list)) => {
                if first_at.is_none() && list.iter().any(matches) {
                    first_at = Some(tokio::time::Instant::now());
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let mut found: Vec<Device> = browser.list().into_iter().filter(matches).collect();
    match found.len() {
        0 => Err(Error::LocalNetwork(format!(
            "no nearby device called \"{}\" answered; `toss devices` lists the ones that can be seen",
            clean_device_name(name)
        ))),
        1 => Ok(found.remove(0)),
        n => Err(Error::LocalNetwork(format!(
            "{n} nearby devices are called \"{}\" (anyone can take any name); `toss devices` shows each one's id, and `--to ID` picks one",
            found[0].name
        ))),
    }
}

/// Names that more than one of `devices` announces (any case): the user must be told, since
/// a name alone does not say which device is whose.
pub fn shared_names(devices: &[Device]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for d in devices {
        *seen.entry(d.name.to_lowercase()).or_default() += 1;
    }
    let mut shared: Vec<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    shared.sort();
    shared
}

/// Looks on the local network for a Toss announcing `nameplate`; returns the signaling URLs
/// to try (one per address it announced), or an empty list after `wait`.
///
/// # Errors
/// When mDNS cannot start.
pub async fn find(nameplate: &Nameplate, wait: Duration) -> Result<Vec<String>> {
    let wanted = nameplate.to_string();
    Ok(
        first_device(wait, |d| d.nameplate.as_deref() == Some(wanted.as_str()))
            .await?
            .map(|d| d.urls)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_from_strangers_are_made_safe_to_show() {
        assert_eq!(clean_device_name("Ana's laptop"), "Ana's laptop");
        assert_eq!(
            clean_device_name("evil\u{1b}[2Jname\n"),
            "evil\u{fffd}[2Jname"
        );
        assert_eq!(clean_device_name("\u{202e}txt.exe"), "txt.exe");
        assert_eq!(clean_device_name("  \u{200b} "), "Toss");
        assert_eq!(clean_device_name(&"x".repeat(300)).chars().count(), 63);
    }
}
