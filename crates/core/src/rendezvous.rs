//! Finding the room. A sender opens it on the signaling server, on a rendezvous of its own
//! on the local network, or in a nearby device's inbox; a receiver asks the server and
//! looks on the local network side by side. [`Reach`] says which of these a session may
//! use. What happens in the room is `session`'s business; what comes after is `handle`'s.

use crate::code::{Code, Password};
use crate::config::{page_link, Config, Reach};
use crate::defaults::{LAN_FIND_WAIT, LAN_HEAD_START};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::lan::{self, Device, Knock, LanHost};
use crate::session::{self, Allocated, Paired, SignalClient};

/// A sender's open room, and the rendezvous hosting it when this sender is its own.
pub(crate) struct Room {
    /// The room, waiting for the receiver.
    pub(crate) allocated: Allocated,
    /// This sender's rendezvous on the local network, kept as long as the transfer runs:
    /// dropping it stops the server and withdraws the announcement.
    pub(crate) _host: Option<LanHost>,
    /// The link a browser opens to receive with the code, at the server hosting the room
    /// (which serves the web peer's page); none for a room in a device's inbox.
    pub(crate) link: Option<String>,
}

/// Opens a sender's room (for up to `receivers` receivers of one code): in `device`'s inbox
/// for a nearby send, else on the configured
/// server, else (when the server cannot be reached and the local network may be used, or
/// with [`Reach::LanOnly`]) on a rendezvous of its own, announced on the network. A
/// notice says when a code works on this network only.
///
/// # Errors
/// When no room can be opened anywhere allowed.
pub(crate) async fn open(
    config: &Config,
    device: Option<&Device>,
    receivers: u32,
    events: &Events,
) -> Result<Room> {
    if let Some(device) = device {
        return open_in_inbox(config, device).await;
    }
    if config.reach.uses_server() {
        match session::allocate_for(&config.signal, Password::random(), receivers).await {
            Err(e) if e.is_signal_unreachable() && config.reach.uses_local_network() => {
                let url = &config.signal.url;
                let message = match e {
                    Error::SignalCertificate { .. } => format!(
                        "The signaling server at {url} showed a certificate this computer does not trust; this code works on this local network only."
                    ),
                    _ => format!(
                        "No signaling server answered at {url}; this code works on this local network only."
                    ),
                };
                tracing::warn!("{e}");
                events.emit(Event::Notice { message });
            }
            other => {
                return other.map(|allocated| Room {
                    link: config.signal.page_link(allocated.code()),
                    allocated,
                    _host: None,
                })
            }
        }
    }
    // On a LAN with no server, this sender is the rendezvous, and its page is at this
    // machine's address on the network, where a phone on the same Wi-Fi finds it.
    let mut host = LanHost::start(&config.device_name).await?;
    let allocated = session::allocate_for(
        &config.signal.at(host.local_url()),
        Password::random(),
        receivers,
    )
    .await?;
    host.announce(&allocated.code().nameplate().to_string())?;
    Ok(Room {
        link: page_link(&host.lan_url(), allocated.code()),
        allocated,
        _host: Some(host),
    })
}

/// A room in a nearby device's inbox, at the first of its addresses that answers.
async fn open_in_inbox(config: &Config, device: &Device) -> Result<Room> {
    let mut last = None;
    for url in &device.urls {
        match session::allocate_with(&config.signal.at(url.as_str()), Password::nearby()).await {
            Ok(allocated) => {
                return Ok(Room {
                    allocated,
                    _host: None,
                    link: None,
                })
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(Error::SignalUnreachable { .. }) | None => Error::LocalNetwork(format!(
            "{} cannot be reached on the network any more",
            device.name
        )),
        Some(e) => e,
    })
}

/// The configuration for answering a knock on this device's inbox: that one server,
/// nowhere else.
pub(crate) fn at_knock(config: Config, knock: &Knock) -> Config {
    Config {
        signal: config.signal.at(knock.url()),
        reach: config.reach.server_only(),
        ..config
    }
}

/// Joins the sender's room. With the local network in use, the sender is looked for there
/// (mDNS) while the configured server is contacted; the server is asked for the room only
/// after a short head start for the network, so that a code from a sender on this network
/// does not end up in a stranger's room of the same number on the server. Whichever finds
/// the room wins; a failure on one side waits for the other.
///
/// # Errors
/// The one error that says best why neither found the room.
pub(crate) async fn join(config: &Config, code: &Code) -> Result<Paired> {
    if !config.reach.uses_local_network() {
        return session::join(&config.signal, code).await;
    }
    let started = tokio::time::Instant::now();
    let lan = join_on_lan(config, code);
    let server = async {
        if config.reach == Reach::LanOnly {
            return Ok(None);
        }
        let client = SignalClient::connect(&config.signal).await?;
        tokio::time::sleep_until(started + LAN_HEAD_START).await;
        session::join_with(client, code).await.map(Some)
    };
    tokio::pin!(lan, server);
    let (mut on_lan, mut on_server) = (None, None);
    loop {
        tokio::select! {
            r = &mut lan, if on_lan.is_none() => match r {
                Ok(Some(paired)) => return Ok(paired),
                other => on_lan = Some(other),
            },
            r = &mut server, if on_server.is_none() => match r {
                Ok(Some(paired)) => return Ok(paired),
                other => on_server = Some(other),
            },
        }
        match (on_lan.take(), on_server.take()) {
            (Some(lan), Some(server)) => return Err(join_error(code, lan, server)),
            (lan, server) => (on_lan, on_server) = (lan, server),
        }
    }
}

/// The one error to show when neither the network nor the server had the room.
fn join_error(code: &Code, lan: Result<Option<Paired>>, server: Result<Option<Paired>>) -> Error {
    match (lan, server) {
        // Found on the network and failed there (a wrong code, most likely).
        (Err(e), _) => e,
        (_, Err(Error::SignalUnreachable { url, .. })) => Error::LocalNetwork(format!(
            "no transfer with the code {code} was found on this network, and the signaling server at {url} cannot be reached"
        )),
        (_, Err(Error::SignalCertificate { url, .. })) => Error::LocalNetwork(format!(
            "no transfer with the code {code} was found on this network, and the signaling server at {url} showed a certificate this computer does not trust (add its CA to this computer's trusted certificates, or give it to toss with --signal-ca)"
        )),
        (_, Err(e)) => e,
        (_, Ok(_)) => Error::LocalNetwork(format!(
            "no transfer with the code {code} was found on this network: check the number at its start, and that both computers are on the same network"
        )),
    }
}

/// Looks for the sender of `code` on the local network and joins its room there; `None`
/// when no sender announces it.
async fn join_on_lan(config: &Config, code: &Code) -> Result<Option<Paired>> {
    let urls = lan::find(code.nameplate(), LAN_FIND_WAIT).await?;
    for url in urls {
        match session::join(&config.signal.at(url), code).await {
            Err(e) if e.is_signal_unreachable() => continue,
            other => return other.map(Some),
        }
    }
    Ok(None)
}
