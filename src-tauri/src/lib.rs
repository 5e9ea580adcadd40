//! `toss-desktop`: the Tauri 2 shell. It loads settings, wires commands (`commands`) to
//! `toss-core` with the state they share (`state`), runs the built-in signaling server when
//! needed (`signal`), and hosts the plain HTML UI in `ui/`. A transfer's events become its
//! history entry (`history`) and notifications (`notify`); `nearby` keeps this computer
//! visible on the network `network` names.
//!
//! Thin by design: no transfer logic here; the UI only talks to the commands.

mod commands;
mod error;
mod history;
mod invite;
mod nearby;
mod network;
mod notify;
mod settings;
mod signal;
mod state;

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use settings::{settings_path, Settings};
use state::AppState;

/// Paths given on the command line (what a file manager's "Open with" passes, as paths or
/// as `file://` URLs); a server invite (`toss://...`) is not one.
fn paths_from_args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && !toss_core::invite::is_invite(a))
        .map(|a| {
            let path = url::Url::parse(&a)
                .ok()
                .filter(|u| u.scheme() == "file")
                .and_then(|u| u.to_file_path().ok())
                .unwrap_or_else(|| a.clone().into());
            std::fs::canonicalize(&path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(a)
        })
        .collect()
}

/// Starts the app and runs until its window closes.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOSS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let path = settings_path();
    let (settings, warning) = Settings::load(&path);
    // Damaged settings come first; the no-server notice then waits for the next start.
    let warning =
        warning.or_else(|| settings::no_server_notice(&settings, &toss_core::settings::data_dir()));
    let state = AppState {
        settings: Mutex::new(settings),
        settings_path: path,
        settings_warning: Mutex::new(warning),
        history_path: history::history_path(),
        signal: signal::LocalSignal::default(),
        transfers: Mutex::new(Default::default()),
        next_id: AtomicU64::new(1),
        initial_paths: Mutex::new(paths_from_args()),
        invite: Mutex::new(None),
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        .manage(nearby::NearbyState::default())
        .setup(|app| {
            nearby::watch(app.handle().clone());
            invite::watch(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::check_code,
            commands::start_send,
            commands::start_send_text,
            commands::start_send_group,
            commands::decide_receiver,
            commands::start_receive,
            commands::start_send_to,
            commands::start_send_to_many,
            commands::start_receive_knock,
            commands::ignore_knock,
            commands::nearby_status,
            commands::decide,
            commands::cancel,
            commands::get_settings,
            commands::settings_warning,
            commands::save_settings,
            commands::recent,
            commands::qr_svg,
            commands::show_in_folder,
            commands::initial_paths,
            commands::pending_invite,
            commands::use_server,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("toss-desktop: could not start: {e}");
        std::process::exit(1);
    }
}
