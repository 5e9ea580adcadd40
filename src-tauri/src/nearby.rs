//! Nearby devices in the app: keeps this computer visible on the local network (with
//! `toss_core::lan::Nearby`) while the settings and the network allow it, and tells the UI
//! what it sees: the `nearby` event carries the whole [`NearbyStatus`] on every change,
//! `nearby-knock` says that someone wants to send here. The UI shows that as a request the
//! user opens or ignores, never taking the screen over; opening it starts the receive, which
//! shows the verification words and the offer (nothing is received before Accept).
//!
//! Shell layer: starts, stops and forwards; discovery itself lives in `toss-core`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use toss_core::lan::{Device, Knock, Nearby, NearbyEvent};

use crate::network::network_id;
use crate::settings::loopback_only;
use crate::state::{lock, AppState};

/// How often the network is looked at again (a laptop moves between networks).
const NETWORK_CHECK: Duration = Duration::from_secs(10);

/// Knocks kept for the UI to pick up; older ones are dropped.
const MAX_KNOCKS: usize = 16;

/// What the UI shows about nearby devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct NearbyStatus {
    /// This computer is visible and looking.
    pub(crate) visible: bool,
    /// Why not, as a sentence; also why starting failed.
    pub(crate) hidden_because: Option<String>,
    /// The network this computer is on now ([`network_id`]).
    pub(crate) network: Option<String>,
    /// The user called this network public.
    pub(crate) network_public: bool,
    /// Devices that take files, sorted by name.
    pub(crate) devices: Vec<Device>,
    /// Names (lower-cased) that more than one of `devices` announces: anyone can take any
    /// name, so the UI says so and tells them apart by id.
    pub(crate) shared_names: Vec<String>,
    /// How this computer appears to the others while visible: its announced name and id.
    pub(crate) this_device: Option<ThisDevice>,
}

/// This computer as the other devices see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ThisDevice {
    /// The device name as announced (cleaned).
    pub(crate) name: String,
    /// The per-run id, which the others see beside a name used twice.
    pub(crate) id: String,
}

struct Running {
    nearby: Nearby,
    /// The device name and network it was started with.
    device_name: String,
    network: Option<String>,
    forward: tauri::async_runtime::JoinHandle<()>,
}

/// Managed by Tauri beside [`AppState`].
#[derive(Default)]
pub(crate) struct NearbyState {
    running: tokio::sync::Mutex<Option<Running>>,
    status: Mutex<NearbyStatus>,
    knocks: Mutex<HashMap<u64, Knock>>,
    next_knock: AtomicU64,
}

impl NearbyState {
    /// The status as last sent to the UI.
    pub(crate) fn status(&self) -> NearbyStatus {
        lock(&self.status).clone()
    }

    /// The device with `id` as last seen.
    pub(crate) fn device(&self, id: &str) -> Option<Device> {
        lock(&self.status)
            .devices
            .iter()
            .find(|d| d.id == id)
            .cloned()
    }

    /// Takes the knock with `id`, once (to answer it, or to drop it when the user ignores
    /// it).
    pub(crate) fn take_knock(&self, id: u64) -> Option<Knock> {
        lock(&self.knocks).remove(&id)
    }

    fn set_status(&self, app: &AppHandle, change: impl FnOnce(&mut NearbyStatus)) {
        let status = {
            let mut status = lock(&self.status);
            let before = status.clone();
            change(&mut status);
            if *status == before {
                return;
            }
            status.clone()
        };
        let _ = app.emit("nearby", status);
    }
}

/// Starts or stops being visible so that it matches the settings and the network now.
pub(crate) async fn refresh(app: &AppHandle) {
    let state = app.state::<NearbyState>();
    let settings = app.state::<AppState>().settings();
    let network = network_id();
    let wanted = settings.discovery_on(network.as_deref());
    let public = network
        .as_ref()
        .is_some_and(|n| settings.public_networks.contains(n));
    let mut running = state.running.lock().await;
    let current = running
        .as_ref()
        .is_some_and(|r| r.device_name == settings.device_name && r.network == network);
    if wanted && current {
        return;
    }
    if let Some(old) = running.take() {
        old.forward.abort();
        drop(old.nearby);
    }
    let hidden_because = if !settings.discovery {
        Some("Nearby devices are turned off in Settings.".to_owned())
    } else if public {
        Some("Hidden on this network: you marked it as public.".to_owned())
    } else if loopback_only() {
        Some("Nearby devices are off while Toss runs on loopback only.".to_owned())
    } else {
        None
    };
    if wanted {
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        match Nearby::start(&settings.device_name, tx).await {
            Ok(nearby) => {
                let this_device = ThisDevice {
                    name: toss_core::lan::clean_device_name(&settings.device_name),
                    id: nearby.id().to_owned(),
                };
                // The fresh status first: the forwarder may report devices at once.
                state.set_status(app, |s| {
                    s.visible = true;
                    s.hidden_because = None;
                    s.network = network.clone();
                    s.network_public = false;
                    s.devices.clear();
                    s.shared_names.clear();
                    s.this_device = Some(this_device);
                });
                let forward = tauri::async_runtime::spawn(forward(app.clone(), rx));
                *running = Some(Running {
                    nearby,
                    device_name: settings.device_name.clone(),
                    network,
                    forward,
                });
                return;
            }
            Err(e) => {
                tracing::warn!("nearby devices: {e}");
                state.set_status(app, |s| {
                    s.visible = false;
                    s.hidden_because = Some(format!("Nearby devices are unavailable: {e}."));
                    s.network = network;
                    s.network_public = public;
                    s.devices.clear();
                    s.shared_names.clear();
                    s.this_device = None;
                });
                return;
            }
        }
    }
    state.set_status(app, |s| {
        s.visible = false;
        s.hidden_because = hidden_because;
        s.network = network;
        s.network_public = public;
        s.devices.clear();
        s.shared_names.clear();
        s.this_device = None;
    });
}

/// Passes what the network says on to the UI.
async fn forward(app: AppHandle, mut rx: tokio::sync::mpsc::Receiver<NearbyEvent>) {
    while let Some(event) = rx.recv().await {
        let state = app.state::<NearbyState>();
        match event {
            NearbyEvent::Devices(list) => state.set_status(&app, |s| {
                s.devices = list.into_iter().filter(|d| d.receives).collect();
                s.shared_names = toss_core::lan::shared_names(&s.devices);
            }),
            NearbyEvent::Knock(knock) => {
                let id = state.next_knock.fetch_add(1, Ordering::Relaxed) + 1;
                {
                    let mut knocks = lock(&state.knocks);
                    if knocks.len() >= MAX_KNOCKS {
                        if let Some(oldest) = knocks.keys().min().copied() {
                            knocks.remove(&oldest);
                        }
                    }
                    knocks.insert(id, knock);
                }
                let _ = app.emit("nearby-knock", serde_json::json!({ "id": id }));
            }
        }
    }
}

/// Keeps [`refresh`] running as networks come and go.
pub(crate) fn watch(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            refresh(&app).await;
            tokio::time::sleep(NETWORK_CHECK).await;
        }
    });
}
