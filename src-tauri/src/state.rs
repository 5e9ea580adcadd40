//! What the commands share, managed by Tauri: settings, the history's place, the built-in
//! signaling server and the running transfers. Its own file so that the commands and the
//! nearby devices both use it without importing each other.
//!
//! Shell layer: holds state; it starts nothing and decides nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use toss_core::Transfer;

use crate::invite::Invite;
use crate::settings::Settings;
use crate::signal::LocalSignal;

/// Everything the commands share, managed by Tauri.
pub(crate) struct AppState {
    /// Current settings (validated).
    pub(crate) settings: Mutex<Settings>,
    /// Where settings are saved.
    pub(crate) settings_path: PathBuf,
    /// Why the saved settings could not be used, or else on a first start that no
    /// signaling server is set: shown once by the UI.
    pub(crate) settings_warning: Mutex<Option<String>>,
    /// Where the history is kept.
    pub(crate) history_path: PathBuf,
    /// The in-process signaling server, when no other is reachable.
    pub(crate) signal: LocalSignal,
    /// Running transfers by id; a finished one removes itself.
    pub(crate) transfers: Mutex<HashMap<u64, Transfer>>,
    /// Next transfer id.
    pub(crate) next_id: AtomicU64,
    /// Files given on the command line ("Open with").
    pub(crate) initial_paths: Mutex<Vec<String>>,
    /// A server invite opened with the app, until the UI takes it.
    pub(crate) invite: Mutex<Option<Invite>>,
}

impl AppState {
    /// A copy of the current settings.
    pub(crate) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }
}

/// Locks one of the shell's short-lived mutexes.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks cannot leave the data half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
