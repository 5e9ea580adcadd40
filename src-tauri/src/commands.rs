//! Tauri commands: each maps one user action to a `toss-core` call. Transfer events stream
//! to the UI through a `tauri::ipc::Channel`; the end of a transfer is also emitted as a
//! `transfer-ended` event, recorded in the history and announced by a notification.
//!
//! No transfer logic lives here.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_opener::OpenerExt;
use toss_core::{Code, Decision, Event, Events, Transfer};

use crate::error::AppError;
use crate::history::{self, Recent, TransferLog};
use crate::invite::Invite;
use crate::nearby::{NearbyState, NearbyStatus};
use crate::network::network_id;
use crate::notify::{self, notify};
use crate::settings::Settings;
use crate::state::{lock, AppState};

/// Answer of [`check_code`].
#[derive(Debug, Serialize)]
pub(crate) struct CodeCheck {
    ok: bool,
    message: Option<String>,
}

/// Checks a code's format as the user types.
#[tauri::command]
pub(crate) fn check_code(code: String) -> CodeCheck {
    if code.trim().is_empty() {
        return CodeCheck {
            ok: false,
            message: None,
        };
    }
    match code.parse::<Code>() {
        Ok(_) => CodeCheck {
            ok: true,
            message: None,
        },
        Err(e) => CodeCheck {
            ok: false,
            message: Some(capitalize(&e.to_string())),
        },
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => {
            f.to_uppercase().chain(c).collect::<String>() + if s.ends_with('.') { "" } else { "." }
        }
        None => String::new(),
    }
}

/// The chosen files and folders, or a sentence when there are none.
fn to_send(paths: Vec<String>) -> Result<Vec<PathBuf>, AppError> {
    if paths.is_empty() {
        return Err(AppError::Invalid(
            "Choose at least one file or folder to send.".into(),
        ));
    }
    Ok(paths.into_iter().map(PathBuf::from).collect())
}

/// Starts sending `paths`; events arrive on `on_event`.
#[tauri::command]
pub(crate) async fn start_send(
    app: AppHandle,
    state: State<'_, AppState>,
    paths: Vec<String>,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let paths = to_send(paths)?;
    let log = TransferLog::sending(describe(&paths));
    Ok(launch(&app, &state, on_event, log, |_, config, events| {
        toss_core::start_send(config, paths, events)
    })
    .await)
}

/// Starts sending `paths` to up to `receivers` people with one code (a group code): each
/// receiver's events arrive tagged with its number, and each waits for [`decide_receiver`].
#[tauri::command]
pub(crate) async fn start_send_group(
    app: AppHandle,
    state: State<'_, AppState>,
    paths: Vec<String>,
    receivers: u32,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let paths = to_send(paths)?;
    if !(2..=toss_core::defaults::MAX_GROUP_RECEIVERS).contains(&receivers) {
        return Err(AppError::Invalid(format!(
            "A code can be shared by 2 to {} people.",
            toss_core::defaults::MAX_GROUP_RECEIVERS
        )));
    }
    let log = TransferLog::sending(describe(&paths));
    Ok(launch(&app, &state, on_event, log, |_, config, events| {
        toss_core::start_send_group(config, paths, receivers, toss_core::LetIn::Ask, events)
    })
    .await)
}

/// Starts sending a short text or link; events arrive on `on_event`.
#[tauri::command]
pub(crate) async fn start_send_text(
    app: AppHandle,
    state: State<'_, AppState>,
    text: String,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let log = TransferLog::sending(history::first_line(&text));
    Ok(launch(&app, &state, on_event, log, |_, config, events| {
        toss_core::start_send_text(config, text, events)
    })
    .await)
}

/// Starts sending `paths` straight to each of the nearby devices `device_ids` at once: each
/// gets its own request and words; events as for [`start_send_group`] (receiver N is the
/// N-th device), each device waiting for [`decide_receiver`] once its words are shown.
#[tauri::command]
pub(crate) async fn start_send_to_many(
    app: AppHandle,
    state: State<'_, AppState>,
    nearby: State<'_, NearbyState>,
    device_ids: Vec<String>,
    paths: Vec<String>,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let paths = to_send(paths)?;
    if device_ids.is_empty() {
        return Err(AppError::Invalid("Choose at least one device.".into()));
    }
    let devices = device_ids
        .iter()
        .map(|id| {
            nearby.device(id).ok_or_else(|| {
                AppError::Invalid("A chosen device is no longer on the network.".into())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let log = TransferLog::sending(describe(&paths));
    Ok(launch(&app, &state, on_event, log, |_, config, events| {
        toss_core::start_send_to_devices(config, devices, paths, events)
    })
    .await)
}

/// Starts sending `paths` straight to the nearby device `device_id`; events as for
/// [`start_send`] (no code: the device's user accepts after comparing the words).
#[tauri::command]
pub(crate) async fn start_send_to(
    app: AppHandle,
    state: State<'_, AppState>,
    nearby: State<'_, NearbyState>,
    device_id: String,
    paths: Vec<String>,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let paths = to_send(paths)?;
    let device = nearby
        .device(&device_id)
        .ok_or_else(|| AppError::Invalid("That device is no longer on the network.".into()))?;
    let log = TransferLog::sending(describe(&paths));
    Ok(launch(&app, &state, on_event, log, |_, config, events| {
        toss_core::start_send_to(config, device, paths, events)
    })
    .await)
}

/// Starts receiving what a nearby device sends here (knock `knock_id`); events as for
/// [`start_receive`]: the offer waits for [`decide`].
#[tauri::command]
pub(crate) async fn start_receive_knock(
    app: AppHandle,
    state: State<'_, AppState>,
    nearby: State<'_, NearbyState>,
    knock_id: u64,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let knock = nearby.take_knock(knock_id).ok_or_else(|| {
        AppError::Invalid("That request to send has gone; ask the sender to try again.".into())
    })?;
    Ok(launch(
        &app,
        &state,
        on_event,
        TransferLog::receiving(),
        |settings, config, events| {
            let out_dir = PathBuf::from(&settings.download_dir);
            toss_core::start_receive_knock(config, &knock, out_dir, events)
        },
    )
    .await)
}

/// Drops the knock `knock_id` unanswered: the user ignored the request, and it can no
/// longer be opened. The sender is not told (nothing in the protocol declines before the
/// words are compared); it waits until its user cancels or its room expires.
#[tauri::command]
pub(crate) fn ignore_knock(nearby: State<'_, NearbyState>, knock_id: u64) {
    drop(nearby.take_knock(knock_id));
}

/// Nearby devices and whether this computer is visible.
#[tauri::command]
pub(crate) fn nearby_status(nearby: State<'_, NearbyState>) -> NearbyStatus {
    nearby.status()
}

/// Starts receiving with `code` into the download folder; events arrive on `on_event`.
#[tauri::command]
pub(crate) async fn start_receive(
    app: AppHandle,
    state: State<'_, AppState>,
    code: String,
    on_event: Channel<Event>,
) -> Result<u64, AppError> {
    let code: Code = code
        .parse()
        .map_err(|e: toss_core::CodeError| AppError::Core(e.into()))?;
    Ok(launch(
        &app,
        &state,
        on_event,
        TransferLog::receiving(),
        |settings, config, events| {
            let out_dir = PathBuf::from(&settings.download_dir);
            toss_core::start_receive(config, code, out_dir, events)
        },
    )
    .await)
}

/// Reads the settings, finds the signaling server (with the local network off, starting the
/// built-in one if needed; with it on, the core falls back to the network by itself),
/// starts the transfer with `start` and tracks it.
async fn launch(
    app: &AppHandle,
    state: &AppState,
    on_event: Channel<Event>,
    log: TransferLog,
    start: impl FnOnce(&Settings, toss_core::Config, Events) -> Transfer,
) -> u64 {
    let settings = state.settings();
    let network = network_id();
    let url = if settings.discovery_on(network.as_deref()) {
        settings.signal_url.clone()
    } else {
        state.signal.url_for(&settings.signal_url).await
    };
    let (events, rx) = Events::channel();
    let transfer = start(
        &settings,
        settings.to_config(&url, network.as_deref()),
        events,
    );
    track(app, state, transfer, rx, on_event, log)
}

fn describe(paths: &[PathBuf]) -> String {
    let first = paths
        .first()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match paths.len() {
        0 | 1 => first,
        n => format!("{first} and {} more", n - 1),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Registers the transfer and forwards its events to the UI until it ends; the end goes
/// into the history, and offers and ends are announced by notifications.
fn track(
    app: &AppHandle,
    state: &AppState,
    transfer: Transfer,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    channel: Channel<Event>,
    mut log: TransferLog,
) -> u64 {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    lock(&state.transfers).insert(id, transfer);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = rx.recv().await {
            let ended = log.observe(&event, now_secs());
            if let Some(notice) = notify::incoming(&event) {
                if !focused(&app) {
                    notify(notice);
                }
            }
            if let Some(notice) = ended.as_ref().and_then(|r| notify::ended(&event, r)) {
                notify(notice);
            }
            let _ = channel.send(event);
            if let Some(recent) = ended {
                let result = recent.result;
                history::record(&app.state::<AppState>().history_path, recent);
                let _ = app.emit(
                    "transfer-ended",
                    serde_json::json!({ "id": id, "result": result }),
                );
            }
        }
        let state = app.state::<AppState>();
        let transfer = lock(&state.transfers).remove(&id);
        if let Some(t) = transfer {
            let _ = t.wait().await;
        }
    });
    id
}

/// Whether the app's window is in front (an offer is then seen without a notification).
fn focused(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false)
}

/// Accepts or declines the offer of transfer `id`.
#[tauri::command]
pub(crate) fn decide(state: State<'_, AppState>, id: u64, accept: bool) -> Result<(), AppError> {
    let mut transfers = lock(&state.transfers);
    let t = transfers.get_mut(&id).ok_or(AppError::NoSuchTransfer)?;
    t.decide(if accept {
        Decision::Accept
    } else {
        Decision::Decline
    });
    Ok(())
}

/// Lets receiver `receiver` of group transfer `id` in, or turns it away.
#[tauri::command]
pub(crate) fn decide_receiver(
    state: State<'_, AppState>,
    id: u64,
    receiver: u32,
    accept: bool,
) -> Result<(), AppError> {
    let transfers = lock(&state.transfers);
    let t = transfers.get(&id).ok_or(AppError::NoSuchTransfer)?;
    t.decide_for(
        receiver,
        if accept {
            Decision::Accept
        } else {
            Decision::Decline
        },
    );
    Ok(())
}

/// Cancels transfer `id` (either side).
#[tauri::command]
pub(crate) fn cancel(state: State<'_, AppState>, id: u64) -> Result<(), AppError> {
    lock(&state.transfers)
        .get(&id)
        .ok_or(AppError::NoSuchTransfer)?
        .cancel();
    Ok(())
}

/// The current settings, and why the saved ones were not used (once).
#[tauri::command]
pub(crate) fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings()
}

/// A sentence about damaged settings, or the first start's word about no signaling server,
/// given once.
#[tauri::command]
pub(crate) fn settings_warning(state: State<'_, AppState>) -> Option<String> {
    lock(&state.settings_warning).take()
}

/// Validates and saves settings; returns what was saved. Nearby visibility follows at once.
#[tauri::command]
pub(crate) async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings, AppError> {
    let saved = settings.save(&state.settings_path)?;
    *lock(&state.settings) = saved.clone();
    crate::nearby::refresh(&app).await;
    Ok(saved)
}

/// The server invite (`toss://server?url=...`) the app was opened with, given once; one
/// opened while the app runs also comes as the `server-invite` event.
#[tauri::command]
pub(crate) fn pending_invite(state: State<'_, AppState>) -> Option<Invite> {
    lock(&state.invite).take()
}

/// Makes `server`, from an invite the person confirmed, the signaling server (checked and
/// saved as Settings saves it); returns what was saved.
#[tauri::command]
pub(crate) async fn use_server(
    app: AppHandle,
    state: State<'_, AppState>,
    server: String,
) -> Result<Settings, AppError> {
    let mut settings = state.settings();
    settings.signal_url = server;
    let saved = settings.save(&state.settings_path)?;
    *lock(&state.settings) = saved.clone();
    lock(&state.invite).take();
    crate::nearby::refresh(&app).await;
    Ok(saved)
}

/// Recent transfers, newest first.
#[tauri::command]
pub(crate) fn recent(state: State<'_, AppState>) -> Vec<Recent> {
    history::load(&state.history_path)
}

/// An SVG QR code of `text` (the code the sender shows).
#[tauri::command]
pub(crate) fn qr_svg(text: String) -> Result<String, AppError> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Opens the folder where files were saved.
#[tauri::command]
pub(crate) fn show_in_folder(app: AppHandle, path: String) -> Result<(), AppError> {
    app.opener()
        .open_path(path, None::<&str>)
        .map_err(|e| AppError::Io(format!("Could not open the folder: {e}")))
}

/// Files passed on the command line, given once.
#[tauri::command]
pub(crate) fn initial_paths(state: State<'_, AppState>) -> Vec<String> {
    std::mem::take(&mut *lock(&state.initial_paths))
}
