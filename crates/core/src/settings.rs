//! The user's settings file, shared by the desktop app and `toss`:
//! `$XDG_CONFIG_HOME/toss/settings.json` on Linux, one JSON object. Each program changes
//! only the fields it owns and keeps every other one, fields it does not know included (a
//! newer version's, the other program's). The file holds TURN passwords, so it is written
//! whole to a temp file created readable by its owner only (mode 0600 on Unix), synced,
//! and renamed over the old one: nobody else can read it even for a moment, and a reader
//! never sees half a file.
//!
//! Also here: the signaling server the settings choose (the one field both programs use),
//! and the one-time word that a build with no server of its own works on this network
//! only, remembered by a marker file in the user's data folder.
//!
//! Core layer beside `config`: the user's own files only; it imports no session, transfer
//! or network module.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::defaults;
pub use crate::server_url::{check_server_url, BadServerUrl};

/// The settings file's fields, as they are on disk.
pub type Fields = Map<String, Value>;

/// The field holding the signaling server's URL (`ws://` or `wss://`).
pub const SERVER_FIELD: &str = "signal_url";

/// The marker file, in [`data_dir`], that says the no-server notice was given.
const NO_SERVER_MARKER: &str = "no-server-notice-shown";

/// Largest settings file read: a few kilobytes in practice; a huge one is not settings.
const MAX_SETTINGS_BYTES: u64 = 1024 * 1024;

/// What can go wrong with the settings file; each displays as a sentence for the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file exists but cannot be read.
    #[error("could not read the settings in {}: {source}", path.display())]
    Read {
        /// The settings file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a JSON object, or a field Toss reads from it is not usable.
    #[error("the settings in {} are damaged ({detail}); fix or delete that file", path.display())]
    Damaged {
        /// The settings file.
        path: PathBuf,
        /// What is wrong, for the user.
        detail: String,
    },
    /// The file (or its folder, or the temp file) cannot be written.
    #[error("could not save the settings in {}: {source}", path.display())]
    Write {
        /// The settings file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A signaling server address that is not one.
    #[error(transparent)]
    BadServer(#[from] BadServerUrl),
}

/// This user's Toss config folder: `$XDG_CONFIG_HOME/toss` on Linux.
pub fn config_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".toss"))
}

/// This user's Toss data folder: `$XDG_DATA_HOME/toss` on Linux.
pub fn data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".toss"))
}

/// Where the settings file lives: `$XDG_CONFIG_HOME/toss/settings.json` on Linux.
pub fn settings_path() -> PathBuf {
    config_dir().join("settings.json")
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "toss", "toss")
}

/// The fields of the settings file at `path`; none when there is no file yet. A file saved
/// before settings were private is made private first (best effort: reading matters more).
///
/// # Errors
/// [`SettingsError::Read`] when it cannot be read, [`SettingsError::Damaged`] when it is not
/// a JSON object.
pub fn read(path: &Path) -> Result<Fields, SettingsError> {
    let _ = make_private(path);
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fields::new()),
        Err(source) => return Err(read_error(path, source)),
    };
    let mut text = String::new();
    io::Read::read_to_string(&mut io::Read::take(file, MAX_SETTINGS_BYTES + 1), &mut text)
        .map_err(|source| read_error(path, source))?;
    let damaged = |detail: String| SettingsError::Damaged {
        path: path.to_owned(),
        detail,
    };
    if text.len() as u64 > MAX_SETTINGS_BYTES {
        return Err(damaged("it is larger than 1 MiB".into()));
    }
    match serde_json::from_str(&text) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(damaged("it is not a JSON object".into())),
        Err(e) => Err(damaged(e.to_string())),
    }
}

fn read_error(path: &Path, source: io::Error) -> SettingsError {
    SettingsError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Replaces the settings file at `path` with `fields`, atomically and readable by its owner
/// only, making its folder if needed.
///
/// # Errors
/// [`SettingsError::Write`] when the folder, the temp file or the rename fails.
pub fn write(path: &Path, fields: &Fields) -> Result<(), SettingsError> {
    let failed = |source| SettingsError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut text = serde_json::to_string_pretty(fields).map_err(|e| failed(e.into()))?;
    text.push('\n');
    let tmp = temp_path(path);
    if let Err(e) = write_private(&tmp, text.as_bytes()) {
        let _ = fs::remove_file(&tmp);
        return Err(failed(e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        failed(e)
    })
}

/// Reads the settings at `path`, lets `change` alter them, and writes them back with every
/// other field kept.
///
/// # Errors
/// As [`read`] (a damaged file is left as it is, for the user to look at) and [`write`].
pub fn update<T>(path: &Path, change: impl FnOnce(&mut Fields) -> T) -> Result<T, SettingsError> {
    let mut fields = read(path)?;
    let result = change(&mut fields);
    write(path, &fields)?;
    Ok(result)
}

/// The signaling server the settings at `path` choose, if they choose one. A missing or
/// empty field, or the built-in default itself (which the app used to save with every
/// other setting), chooses none.
///
/// # Errors
/// As [`read`]; [`SettingsError::Damaged`] when the field is not a usable address.
pub fn server(path: &Path) -> Result<Option<String>, SettingsError> {
    let fields = read(path)?;
    server_in(&fields).map_err(|detail| SettingsError::Damaged {
        path: path.to_owned(),
        detail,
    })
}

/// The signaling server `fields` choose (see [`server`]); the error says what is wrong.
fn server_in(fields: &Fields) -> Result<Option<String>, String> {
    match fields.get(SERVER_FIELD) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) if url.trim().is_empty() => Ok(None),
        Some(Value::String(url)) => match check_server_url(url) {
            Ok(url) if url == defaults::SIGNAL_URL => Ok(None),
            Ok(url) => Ok(Some(url.to_owned())),
            Err(e) => Err(e.to_string()),
        },
        Some(_) => Err(format!("{SERVER_FIELD} is not text")),
    }
}

/// Checks `url` and keeps it as the signaling server in the settings at `path`; returns it
/// as kept (trimmed). Nothing is written for an address that is not one.
///
/// # Errors
/// [`SettingsError::BadServer`] for such an address; otherwise as [`update`].
pub fn set_server(path: &Path, url: &str) -> Result<String, SettingsError> {
    let url = check_server_url(url)?.to_owned();
    update(path, |fields| {
        fields.insert(SERVER_FIELD.into(), Value::String(url.clone()));
    })?;
    Ok(url)
}

/// Removes the signaling server from the settings at `path` (the build's default applies
/// again); whether there was one. A missing file stays missing.
///
/// # Errors
/// As [`update`].
pub fn clear_server(path: &Path) -> Result<bool, SettingsError> {
    if read(path)?.get(SERVER_FIELD).is_none() {
        return Ok(false);
    }
    update(path, |fields| fields.remove(SERVER_FIELD).is_some())
}

/// Whether to tell the user, this once, that codes work on this network only until a
/// signaling server is set: only in a build with no server baked in
/// ([`defaults::BAKED_SIGNAL_URL`]), only when `server_set` is false (no setting, flag or
/// environment variable), and only the first time on this account, which a marker file in
/// `data_dir` remembers. The marker is created before the answer, so two programs starting
/// together say it once between them; a folder that cannot be written means it is said
/// again next time, better than never.
pub fn first_no_server_notice(data_dir: &Path, server_set: bool) -> bool {
    if server_set || defaults::BAKED_SIGNAL_URL.is_some() {
        return false;
    }
    let marker = data_dir.join(NO_SERVER_MARKER);
    let _ = fs::create_dir_all(data_dir);
    let made = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker);
    !matches!(made, Err(e) if e.kind() == io::ErrorKind::AlreadyExists)
}

/// The temp file a new settings file is written to, beside it (one rename away).
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes a new file at `path` that only its owner can read (mode 0600 on Unix, set when it
/// is created, so it is never readable by others even for a moment), and syncs it. A file
/// left at `path` by an earlier attempt goes first: its mode may be anything, and creating
/// afresh never follows a symlink.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Takes group and other permissions off the file at `path`, if it has any.
#[cfg(unix)]
fn make_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Elsewhere the user's profile folder already keeps it from other users.
#[cfg(not(unix))]
fn make_private(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Fields {
        match value {
            Value::Object(fields) => fields,
            _ => Fields::new(),
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn setting_the_server_keeps_every_other_field() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("toss/settings.json");
        let before = json!({
            "device_name": "Bea's desk",
            "ice_servers": [{"urls": ["turn:t.example:3478"], "username": "u", "credential": "p"}],
            "from_a_newer_version": {"x": 1},
        });
        write(&path, &object(before.clone())).expect("writes");
        assert_eq!(
            set_server(&path, " wss://toss.example.org ").expect("sets"),
            "wss://toss.example.org"
        );
        let mut expected = before;
        expected[SERVER_FIELD] = json!("wss://toss.example.org");
        assert_eq!(Value::Object(read(&path).expect("reads")), expected);
        assert_eq!(
            server(&path).expect("reads").as_deref(),
            Some("wss://toss.example.org")
        );
        assert!(clear_server(&path).expect("clears"));
        assert!(!clear_server(&path).expect("clears"));
        assert_eq!(server(&path).expect("reads"), None);
        assert_eq!(read(&path).expect("reads").len(), 3);
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn a_bad_address_writes_nothing_and_a_missing_file_stays_missing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        let err = set_server(&path, "http://toss.example.org").expect_err("refused");
        assert!(matches!(err, SettingsError::BadServer(_)), "{err}");
        assert!(!path.exists());
        assert!(!clear_server(&path).expect("nothing to clear"));
        assert!(!path.exists());
        assert_eq!(server(&path).expect("no file"), None);
    }

    #[test]
    fn a_damaged_file_is_left_as_it_is() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        for text in ["{ not json", "[1, 2]"] {
            fs::write(&path, text).expect("write");
            let err = set_server(&path, "wss://toss.example.org").expect_err("damaged");
            assert!(err.to_string().contains("are damaged"), "{err}");
            assert_eq!(fs::read_to_string(&path).expect("read"), text);
        }
        fs::write(&path, r#"{"signal_url": "http://x"}"#).expect("write");
        let err = server(&path).expect_err("unusable");
        assert!(
            err.to_string().contains("not a signaling server address"),
            "{err}"
        );
    }

    #[test]
    fn the_default_or_nothing_stored_chooses_no_server() {
        for fields in [
            json!({}),
            json!({ "signal_url": "" }),
            json!({ "signal_url": null }),
            json!({ "signal_url": defaults::SIGNAL_URL }),
        ] {
            assert_eq!(server_in(&object(fields.clone())), Ok(None), "{fields}");
        }
        assert!(server_in(&object(json!({ "signal_url": 5 }))).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn an_older_file_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;

        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("settings.json");
        fs::write(&path, "{}").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).expect("chmod");
        read(&path).expect("reads");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn the_no_server_notice_is_given_once_and_never_with_a_server() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data/toss");
        assert!(!first_no_server_notice(&data, true));
        let first = first_no_server_notice(&data, false);
        assert_eq!(first, defaults::BAKED_SIGNAL_URL.is_none());
        assert!(!first_no_server_notice(&data, false));
    }
}
