//! The app's settings: download folder, signaling server, ICE servers (and relay only),
//! device name, nearby devices. Kept as JSON in the user's config folder; validated on load
//! and on save. A damaged file never stops the app: the defaults are used and the user is
//! told why. The file holds TURN passwords, so on Unix only its owner may read it (mode
//! 0600).
//!
//! Shell layer: turns settings into a `toss_core::Config`; knows nothing of transfers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toss_core::{Config, IceServer, Reach, SignalEndpoint};

use crate::error::AppError;

/// What the user can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    /// The name the other side sees.
    pub(crate) device_name: String,
    /// Where received files go.
    pub(crate) download_dir: String,
    /// `ws://` or `wss://` URL of the signaling server.
    pub(crate) signal_url: String,
    /// STUN and TURN servers.
    pub(crate) ice_servers: Vec<IceServer>,
    /// Find nearby devices on the local network and be visible to them.
    pub(crate) discovery: bool,
    /// Networks the user called public (`crate::network::network_id`): on them this
    /// computer stays hidden and does not look for others.
    pub(crate) public_networks: Vec<String>,
    /// Send everything through a TURN server (needs one in `ice_servers`).
    pub(crate) relay_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            device_name: toss_core::config::device_name(),
            download_dir: toss_core::config::default_download_dir()
                .to_string_lossy()
                .into_owned(),
            signal_url: toss_core::defaults::SIGNAL_URL.to_owned(),
            ice_servers: toss_core::config::default_ice_servers(),
            discovery: true,
            public_networks: Vec::new(),
            relay_only: false,
        }
    }
}

/// Where the settings file lives: `$XDG_CONFIG_HOME/toss/settings.json` on Linux.
pub(crate) fn settings_path() -> PathBuf {
    config_dir().join("settings.json")
}

/// The app's config folder.
pub(crate) fn config_dir() -> PathBuf {
    directories::ProjectDirs::from("org", "toss", "toss")
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".toss"))
}

impl Settings {
    /// Checks every field; returns a sentence about the first problem.
    ///
    /// # Errors
    /// [`AppError::Settings`] naming the field and what is wrong with it.
    pub(crate) fn validate(mut self) -> Result<Self, AppError> {
        let bad = |msg: String| Err(AppError::Settings(msg));
        self.device_name = self.device_name.trim().to_owned();
        if self.device_name.is_empty() || self.device_name.chars().count() > 64 {
            return bad("The device name must be 1 to 64 characters long.".into());
        }
        if self.device_name.chars().any(char::is_control) {
            return bad("The device name cannot contain control characters.".into());
        }
        self.signal_url = self.signal_url.trim().to_owned();
        if !(self.signal_url.starts_with("ws://") || self.signal_url.starts_with("wss://"))
            || self.signal_url.len() < 8
        {
            return bad("The signaling server must be a ws:// or wss:// address.".into());
        }
        self.download_dir = self.download_dir.trim().to_owned();
        if !Path::new(&self.download_dir).is_absolute() {
            return bad(
                "The download folder must be a full path, like /home/you/Downloads.".into(),
            );
        }
        self.ice_servers
            .retain(|s| !s.urls.iter().all(|u| u.trim().is_empty()));
        for server in &mut self.ice_servers {
            server.urls = server.urls.iter().map(|u| u.trim().to_owned()).collect();
            for url in &server.urls {
                let turn = url.starts_with("turn:") || url.starts_with("turns:");
                if !(turn || url.starts_with("stun:") || url.starts_with("stuns:")) {
                    return bad(format!(
                        "\"{url}\" is not an ICE server: use stun:host:port or turn:host:port."
                    ));
                }
                if turn && (server.username.is_empty() || server.credential.is_empty()) {
                    return bad(format!(
                        "The TURN server {url} needs a user name and a password."
                    ));
                }
            }
        }
        let has_turn = self.ice_servers.iter().any(|s| {
            s.urls
                .iter()
                .any(|u| u.starts_with("turn:") || u.starts_with("turns:"))
        });
        if self.relay_only && !has_turn {
            return bad(
                "Sending everything through a TURN server needs one: add a turn: URL with its user name and password."
                    .into(),
            );
        }
        self.public_networks.retain(|n| !n.trim().is_empty());
        self.public_networks.sort();
        self.public_networks.dedup();
        if self.public_networks.len() > MAX_PUBLIC_NETWORKS {
            return bad(format!(
                "At most {MAX_PUBLIC_NETWORKS} networks can be marked public."
            ));
        }
        Ok(self)
    }

    /// Whether this computer may use the local network (be visible, look for others) on
    /// `network`, the one it is on now.
    pub(crate) fn discovery_on(&self, network: Option<&str>) -> bool {
        self.discovery
            && !loopback_only()
            && network.is_none_or(|n| !self.public_networks.iter().any(|p| p == n))
    }

    /// Loads the settings file. Returns the defaults and a sentence for the user when it is
    /// missing (no sentence), unreadable or invalid (a sentence).
    pub(crate) fn load(path: &Path) -> (Settings, Option<String>) {
        // A file saved before settings were private keeps its password readable to others
        // until the next save: close it now. Best effort: reading matters more.
        let _ = make_private(path);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "Could not read the settings ({e}); using the defaults."
                    )),
                )
            }
        };
        let parsed = serde_json::from_str::<Settings>(&text)
            .map_err(|e| AppError::Settings(format!("the file is damaged ({e})")))
            .and_then(Settings::validate);
        match parsed {
            Ok(s) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "The settings could not be used: {e} The defaults are in use until you save."
                )),
            ),
        }
    }

    /// Validates and writes atomically (temp file, then rename). On Unix the file is
    /// readable by its owner only, whatever mode an earlier file had: the new one replaces
    /// it.
    ///
    /// # Errors
    /// Validation errors, or the file cannot be written.
    pub(crate) fn save(self, path: &Path) -> Result<Settings, AppError> {
        let valid = self.validate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Io(format!("{}: {e}", dir.display())))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&valid).map_err(|e| AppError::Io(e.to_string()))?;
        write_private(&tmp, text.as_bytes())
            .map_err(|e| AppError::Io(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| AppError::Io(format!("{}: {e}", path.display())))?;
        Ok(valid)
    }

    /// The core configuration for these settings on `network`. `TOSS_LOOPBACK` (for running
    /// both ends on one machine) keeps the connection on loopback and drops the ICE servers.
    pub(crate) fn to_config(&self, signal_url: &str, network: Option<&str>) -> Config {
        let loopback = loopback_only();
        Config {
            reach: if loopback {
                Reach::Loopback
            } else if self.discovery_on(network) {
                Reach::ServerThenLan
            } else {
                Reach::Server
            },
            signal: SignalEndpoint::new(signal_url),
            ice_servers: if loopback {
                Vec::new()
            } else {
                self.ice_servers.clone()
            },
            relay_only: self.relay_only && !loopback,
            device_name: self.device_name.clone(),
            ..Config::default()
        }
    }
}

/// Writes a new file at `path` that only its owner can read (mode 0600 on Unix, set when it
/// is created, so it is never readable by others even for a moment), and syncs it. A file
/// left at `path` by an earlier attempt goes first: its mode may be anything, and creating
/// afresh never follows a symlink.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;

    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Takes group and other permissions off the file at `path`, if it has any.
#[cfg(unix)]
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Elsewhere the user's profile folder already keeps it from other users.
#[cfg(not(unix))]
fn make_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Most networks kept in [`Settings::public_networks`].
const MAX_PUBLIC_NETWORKS: usize = 200;

/// `TOSS_LOOPBACK`: both ends on this machine, loopback only (tests and demos).
pub(crate) fn loopback_only() -> bool {
    std::env::var("TOSS_LOOPBACK").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("toss/settings.json");
        let saved = Settings::default().save(&path).expect("saves");
        assert_eq!(Settings::load(&path), (saved, None));
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn the_turn_password_is_saved_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;

        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("toss/settings.json");
        let with_turn = Settings {
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478".into()],
                username: "u".into(),
                credential: "secret".into(),
            }],
            ..Settings::default()
        };
        with_turn.clone().save(&path).expect("saves");
        assert_eq!(mode(&path), 0o600);

        // A file from before, and a temp file left by a crash, both readable by all.
        let open = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&path, open.clone()).expect("chmod");
        let stale = path.with_extension("json.tmp");
        std::fs::write(&stale, "old").expect("write");
        std::fs::set_permissions(&stale, open).expect("chmod");
        let saved = with_turn.save(&path).expect("saves");
        assert_eq!(mode(&path), 0o600);
        assert!(!stale.exists());
        assert_eq!(Settings::load(&path), (saved, None));
    }

    #[cfg(unix)]
    #[test]
    fn loading_an_older_file_readable_by_others_makes_it_private() {
        use std::os::unix::fs::PermissionsExt;

        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        std::fs::write(&path, "{}").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        let _ = Settings::load(&path);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_damaged_file_keeps_the_defaults_and_says_why() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        std::fs::write(&path, "{ not json").expect("write");
        let (s, msg) = Settings::load(&path);
        assert_eq!(s, Settings::default());
        assert!(msg.expect("a message").contains("damaged"));
        std::fs::write(&path, r#"{"signal_url":"http://x"}"#).expect("write");
        let (s, msg) = Settings::load(&path);
        assert_eq!(s, Settings::default());
        assert!(msg.expect("a message").contains("ws://"));
    }

    #[test]
    fn turn_needs_credentials() {
        let s = Settings {
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478".into()],
                username: String::new(),
                credential: String::new(),
            }],
            ..Settings::default()
        };
        let err = s.validate().expect_err("invalid");
        assert!(err.to_string().contains("needs a user name and a password"));
    }

    #[test]
    fn relay_only_needs_a_turn_server_and_reaches_the_config() {
        let no_turn = Settings {
            relay_only: true,
            ..Settings::default()
        };
        let err = no_turn.validate().expect_err("invalid");
        assert!(
            err.to_string().contains("needs one: add a turn: URL"),
            "{err}"
        );
        let s = Settings {
            relay_only: true,
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478".into()],
                username: "u".into(),
                credential: "p".into(),
            }],
            ..Settings::default()
        };
        let s = s.validate().expect("valid");
        assert_eq!(
            s.to_config("ws://127.0.0.1:1", None).relay_only,
            !loopback_only()
        );
    }

    #[test]
    fn a_public_network_turns_discovery_off_there_only() {
        if loopback_only() {
            return;
        }
        let s = Settings {
            public_networks: vec!["10.1.2.0/24 via aa:bb:cc:dd:ee:ff".into()],
            ..Settings::default()
        };
        assert!(!s.discovery_on(Some("10.1.2.0/24 via aa:bb:cc:dd:ee:ff")));
        assert!(s.discovery_on(Some("192.168.1.0/24")));
        assert!(s.discovery_on(None));
        let off = Settings {
            discovery: false,
            ..Settings::default()
        };
        assert!(!off.discovery_on(Some("192.168.1.0/24")));
        let config = s.to_config(
            "ws://127.0.0.1:1",
            Some("10.1.2.0/24 via aa:bb:cc:dd:ee:ff"),
        );
        assert_eq!(config.reach, Reach::Server);
    }
}
