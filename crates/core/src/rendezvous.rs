//! Finding the room. A sender opens it on the signaling server, on a rendezvous of its own
//! on the local network (its code then starts with a 0), or in a nearby device's inbox; a
//! receiver looks where its code says. [`Reach`] says which of these a session may use.
//! What happens in the room is `session`'s business; what comes after is `handle`'s.

use crate::code::{Code, Password};
use crate::config::{page_link, Config, Reach};
use crate::defaults::LAN_FIND_WAIT;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::lan::{self, Device, Knock, LanHost};
use crate::session::{self, Allocated, Paired};

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

/// Where a receiver looks for the room of a code.
#[derive(Debug, PartialEq, Eq)]
enum Look {
    /// On the local network: the code was made by a sender's own rendezvous there.
    Network,
    /// On the signaling server.
    Server,
}

/// Where to look for `code`'s room under `reach`, or why it cannot be looked for. A code
/// says where its room is (a 0 at its start: on the sender's local network), so a receiver
/// looks in that one place at once: a code from a server never waits on the network, and a
/// code from the network never lands in a stranger's room of the same number on a server.
fn look(reach: Reach, code: &Code) -> Result<Look> {
    if code.nameplate().is_local_network() {
        if reach.uses_local_network() {
            Ok(Look::Network)
        } else {
            Err(Error::LocalNetwork(format!(
                "the code {code} is for a transfer on the sender's local network (it starts with a 0), and this computer was told not to look on the network"
            )))
        }
    } else if reach.uses_server() {
        Ok(Look::Server)
    } else {
        Err(Error::LocalNetwork(format!(
            "the code {code} is for a transfer through a signaling server, and this computer was told to use the local network only"
        )))
    }
}

/// Joins the sender's room: on the local network (mDNS) for a code made there, else on the
/// configured server.
///
/// # Errors
/// When the room cannot be found or joined where the code says it is.
pub(crate) async fn join(config: &Config, code: &Code) -> Result<Paired> {
    match look(config.reach, code)? {
        Look::Server => session::join(&config.signal, code).await,
        Look::Network => join_on_lan(config, code).await?.ok_or_else(|| {
            Error::LocalNetwork(format!(
                "no transfer with the code {code} was found on this network: check the number at its start, and that both computers are on the same network"
            ))
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Code {
        text.parse().expect("a valid code")
    }

    #[test]
    fn a_code_is_looked_for_where_it_says_its_room_is() {
        let (server, network) = (code("42-orbit-lemon"), code("042-orbit-lemon"));
        for reach in [Reach::ServerThenLan, Reach::Server, Reach::Loopback] {
            assert_eq!(look(reach, &server).ok(), Some(Look::Server), "{reach:?}");
        }
        for reach in [Reach::ServerThenLan, Reach::LanOnly] {
            assert_eq!(look(reach, &network).ok(), Some(Look::Network), "{reach:?}");
        }
    }

    #[test]
    fn a_code_whose_place_is_ruled_out_says_so() {
        for reach in [Reach::Server, Reach::Loopback] {
            let err = look(reach, &code("042-orbit-lemon")).expect_err("not on the network");
            assert!(
                err.to_string()
                    .contains("local network (it starts with a 0)"),
                "{err}"
            );
        }
        let err = look(Reach::LanOnly, &code("42-orbit-lemon")).expect_err("not on a server");
        assert!(err.to_string().contains("signaling server"), "{err}");
    }
}
