//! `toss config`: the signaling server kept in the settings file the app shares (shown,
//! set, cleared), and the first start's word, in a build with no server of its own, that
//! codes reach this network only until one is set.
//!
//! Thin: the file itself (private, atomic, other fields kept) is `toss_core::settings`'s.

use std::process::ExitCode;

use toss_core::Reach;
use toss_core::{invite, settings};

use crate::args::{SignalArg, Source};

/// What a build with no server of its own says once, on the first `toss send` or `toss
/// receive` that uses the built-in one.
const NO_SERVER_NOTICE: &str = "toss: no signaling server is set, so codes work on this network only; to reach other networks, run `toss config server wss://YOUR-SERVER` (said once).";

/// `toss config [server [URL | --clear]]`.
///
/// # Errors
/// The settings file cannot be read or written, or `url` is not a server's address (then
/// nothing is written).
pub(crate) fn config(
    setting: Option<crate::args::Setting>,
    signal: &SignalArg,
) -> anyhow::Result<ExitCode> {
    let path = settings::settings_path();
    match setting {
        None
        | Some(crate::args::Setting::Server {
            url: None,
            clear: false,
        }) => {
            let (url, source) = signal.resolve()?;
            let why = match source {
                Source::Flag => "from --signal, which wins over the settings".to_owned(),
                Source::Environment => "from TOSS_SIGNAL, which wins over the settings".to_owned(),
                Source::Settings(path) => format!("set in {}", path.display()),
                Source::BuiltIn if toss_core::defaults::BAKED_SIGNAL_URL.is_some() => {
                    "this build's default".to_owned()
                }
                Source::BuiltIn => "the built-in default: codes work on this network only until a server is set with `toss config server wss://YOUR-SERVER`".to_owned(),
            };
            println!("Signaling server: {url} ({why})");
        }
        Some(crate::args::Setting::Server { url: Some(url), .. }) => {
            // A server's invite (toss://server?url=...) names the server as well: the
            // person typed it here, which is the confirmation.
            let url = if invite::is_invite(&url) {
                invite::server_from_invite(&url)?
            } else {
                url
            };
            let url = settings::set_server(&path, &url)?;
            println!("Signaling server set to {url} (in {}).", path.display());
            if std::env::var_os("TOSS_SIGNAL").is_some_and(|v| !v.is_empty()) {
                eprintln!(
                    "toss: TOSS_SIGNAL is set here, and wins over this setting until it is unset."
                );
            }
        }
        Some(crate::args::Setting::Server {
            url: None,
            clear: true,
        }) => {
            let default = toss_core::defaults::SIGNAL_URL;
            if settings::clear_server(&path)? {
                println!("Signaling server setting removed; the default {default} applies.");
            } else {
                println!("No signaling server was set; the default {default} applies.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr, once per account, that codes reach this network only, when this build
/// has no server of its own, nothing chose another, and the transfer could use a server
/// (not `--lan` or `--loopback`).
pub(crate) fn say_once_if_no_server(source: &Source, reach: Reach) {
    if *source != Source::BuiltIn || matches!(reach, Reach::LanOnly | Reach::Loopback) {
        return;
    }
    if settings::first_no_server_notice(&settings::data_dir(), false) {
        eprintln!("{NO_SERVER_NOTICE}");
    }
}
