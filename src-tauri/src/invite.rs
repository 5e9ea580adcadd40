//! A server's invite opened with the app (`toss://server?url=...`, from the "Use this
//! server in Toss" link on a server's page): the deep-link plugin hands the link over, at
//! start (the link is the app's only argument) or while it runs; this keeps it for the UI,
//! which asks the person before anything changes ([`use_server`]).
//!
//! Shell layer: reading the link is `toss_core::invite`'s; saving is the settings'.

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::state::{lock, AppState};

/// The UI's event for an invite opened while the app runs.
pub(crate) const EVENT: &str = "server-invite";

/// What the UI is shown: the server to confirm, or why the link is no invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum Invite {
    /// Asks to use `server` (checked); nothing changes until the person says yes.
    Server { server: String },
    /// A `toss:` link that names no usable server; `message` is the sentence.
    Bad { message: String },
}

impl Invite {
    /// What the link `link` asks.
    pub(crate) fn read(link: &str) -> Self {
        match toss_core::invite::server_from_invite(link) {
            Ok(server) => Invite::Server { server },
            Err(e) => Invite::Bad {
                message: crate::settings::capitalized(&format!("{e}.")),
            },
        }
    }
}

/// Takes the link the app was started with, and tells the UI of every one opened later.
/// The plugin knows a link only when it is the one argument; a launcher that adds options
/// of its own (a WebDriver's `--automation`) still passes it, so the arguments are read too.
pub(crate) fn watch<R: Runtime>(app: &AppHandle<R>) {
    let links = app.deep_link();
    let at_start = links
        .get_current()
        .ok()
        .flatten()
        .and_then(|urls| urls.last().map(ToString::to_string))
        .or_else(|| {
            std::env::args()
                .skip(1)
                .rfind(|a| toss_core::invite::is_invite(a))
        });
    if let Some(link) = at_start {
        *lock(&app.state::<AppState>().invite) = Some(Invite::read(&link));
    }
    let handle = app.clone();
    links.on_open_url(move |event| {
        for url in event.urls() {
            let invite = Invite::read(url.as_str());
            *lock(&handle.state::<AppState>().invite) = Some(invite.clone());
            let _ = handle.emit(EVENT, invite);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_becomes_a_server_to_confirm_or_one_sentence() {
        assert_eq!(
            Invite::read("toss://server?url=wss%3A%2F%2Fvps.toss.test%2F"),
            Invite::Server {
                server: "wss://vps.toss.test".into()
            }
        );
        let Invite::Bad { message } = Invite::read("toss://server?url=http%3A%2F%2Fa.example")
        else {
            panic!("an http server was taken");
        };
        assert!(
            message
                .starts_with("The invite's \"http://a.example\" is not a signaling server address"),
            "{message}"
        );
        assert!(
            message.ends_with('.') && !message.ends_with(".."),
            "{message}"
        );
    }

    /// The package makes the app the computer's handler for toss:// links: its desktop
    /// file says so and passes the link on (%U), and the plugin is told the same scheme.
    #[test]
    fn the_package_registers_the_app_for_toss_links() {
        let desktop = include_str!("../toss.desktop");
        assert!(
            desktop
                .lines()
                .any(|l| l == "MimeType=x-scheme-handler/toss;"),
            "{desktop}"
        );
        assert!(
            desktop
                .lines()
                .any(|l| l.starts_with("Exec=") && l.ends_with(" %U")),
            "{desktop}"
        );
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json");
        assert_eq!(
            conf["plugins"]["deep-link"]["desktop"]["schemes"],
            serde_json::json!([toss_core::invite::SCHEME])
        );
    }
}
