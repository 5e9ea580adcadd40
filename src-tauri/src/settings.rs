//! The app's settings: download folder, signaling server, ICE servers (and relay only),
//! device name, nearby devices. Kept as JSON in the user's config folder, the file `toss`
//! keeps its server in too (`toss_core::settings` reads and writes it for both: private,
//! atomic, other fields kept); validated on load and on save. A damaged file never stops the
//! app: the defaults are used and the user is told why.
//!
//! Shell layer: turns settings into a `toss_core::Config`; knows nothing of transfers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toss_core::settings::{self as core_settings, SettingsError};
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
    /// Send everything through a TURN server (one in `ice_servers`, or the signaling
    /// server's).
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
    toss_core::settings::settings_path()
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
        self.signal_url = match toss_core::settings::check_server_url(&self.signal_url) {
            Ok(url) => url.to_owned(),
            Err(e) => return bad(format!("{e}.")),
        };
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
        // Relay-only needs no TURN server typed here: the signaling server hands out its
        // own, and a transfer with neither says so in its own sentence (no_relay).
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
        let fields = match core_settings::read(path) {
            Ok(fields) => Ok(fields),
            Err(SettingsError::Damaged { detail, .. }) => Err(detail),
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "Could not read the settings ({e}); using the defaults."
                    )),
                )
            }
        };
        let parsed = fields
            .and_then(|f| {
                serde_json::from_value::<Settings>(serde_json::Value::Object(f))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| AppError::Settings(format!("the file is damaged ({e}).")))
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

    /// Validates and writes atomically (temp file, then rename), keeping the fields of the
    /// file this app does not know (a newer version's). A damaged file is replaced, as the
    /// notice about it promised. The signaling server is left out while it is the build's
    /// default, so that a user who never chose one follows a new release's. On Unix the
    /// file is readable by its owner only, whatever mode an earlier file had.
    ///
    /// # Errors
    /// Validation errors, or the file cannot be written.
    pub(crate) fn save(self, path: &Path) -> Result<Settings, AppError> {
        let valid = self.validate()?;
        let mut fields = match core_settings::read(path) {
            Ok(fields) => fields,
            Err(SettingsError::Damaged { .. }) => Default::default(),
            Err(e) => return Err(AppError::Io(format!("{}.", capitalized(&e.to_string())))),
        };
        if let Ok(serde_json::Value::Object(ours)) = serde_json::to_value(&valid) {
            fields.extend(ours);
        }
        if valid.signal_url == toss_core::defaults::SIGNAL_URL {
            fields.remove(core_settings::SERVER_FIELD);
        }
        core_settings::write(path, &fields)
            .map_err(|e| AppError::Io(format!("{}.", capitalized(&e.to_string()))))?;
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

/// `sentence` with a capital first letter: the core's sentences go after `toss: `.
pub(crate) fn capitalized(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the app says once, on its first start, in a build with no signaling server of its
/// own while none is set.
const NO_SERVER_NOTICE: &str = "No signaling server is set, so codes work on this network only; to reach other networks, enter one (wss://...) in Settings under Signaling server.";

/// The no-server notice, when this start is the one to give it (see
/// `toss_core::settings::first_no_server_notice`; the marker goes in `data_dir`).
pub(crate) fn no_server_notice(settings: &Settings, data_dir: &Path) -> Option<String> {
    let server_set = settings.signal_url != toss_core::defaults::SIGNAL_URL;
    core_settings::first_no_server_notice(data_dir, server_set).then(|| NO_SERVER_NOTICE.into())
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
    fn saving_keeps_fields_it_does_not_know_and_leaves_out_the_default_server() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        std::fs::write(
            &path,
            r#"{"from_a_newer_version": [1, 2], "signal_url": "wss://old.example.org"}"#,
        )
        .expect("write");
        let (loaded, msg) = Settings::load(&path);
        assert_eq!(
            (loaded.signal_url.as_str(), msg),
            ("wss://old.example.org", None)
        );
        let saved = Settings::default().save(&path).expect("saves");
        let text = std::fs::read_to_string(&path).expect("read");
        let fields: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            fields["from_a_newer_version"],
            serde_json::json!([1, 2]),
            "{text}"
        );
        assert!(fields.get("signal_url").is_none(), "{text}");
        assert_eq!(Settings::load(&path), (saved, None));
        let set = Settings {
            signal_url: " wss://toss.example.org ".into(),
            ..Settings::default()
        };
        set.save(&path).expect("saves");
        assert_eq!(
            toss_core::settings::server(&path)
                .expect("reads")
                .as_deref(),
            Some("wss://toss.example.org")
        );
    }

    #[test]
    fn the_no_server_notice_is_given_once_and_not_with_a_server_set() {
        let tmp = tempfile::tempdir().expect("tmp");
        let with_server = Settings {
            signal_url: "wss://toss.example.org".into(),
            ..Settings::default()
        };
        assert_eq!(no_server_notice(&with_server, tmp.path()), None);
        let first = no_server_notice(&Settings::default(), tmp.path());
        if toss_core::defaults::BAKED_SIGNAL_URL.is_none() {
            assert!(first.expect("said").contains("this network only"));
        } else {
            assert_eq!(first, None);
        }
        assert_eq!(no_server_notice(&Settings::default(), tmp.path()), None);
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
    fn relay_only_reaches_the_config_with_or_without_a_turn_server_typed() {
        // The signaling server's TURN server serves when none is typed.
        let no_turn = Settings {
            relay_only: true,
            ..Settings::default()
        };
        let no_turn = no_turn.validate().expect("valid");
        assert_eq!(
            no_turn.to_config(&no_turn.signal_url, None).relay_only,
            !loopback_only()
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
