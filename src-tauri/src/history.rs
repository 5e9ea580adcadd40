//! Recent transfers, kept across restarts as JSON in the app's data folder (newest first,
//! at most [`MAX_RECENT`]). Losing the file loses only the list, never a transfer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many recent transfers are kept.
pub(crate) const MAX_RECENT: usize = 50;

/// One finished (or failed) transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recent {
    /// First file's name, or the folder's.
    pub(crate) name: String,
    /// Number of files.
    pub(crate) files: usize,
    /// Total bytes.
    pub(crate) size: u64,
    /// `send` or `receive`.
    pub(crate) direction: String,
    /// The other side's device name, when known.
    pub(crate) peer: String,
    /// Unix seconds.
    pub(crate) when: u64,
    /// `ok`, `failed`, `cancelled` or `declined`.
    pub(crate) result: String,
}

/// The history file: `$XDG_DATA_HOME/toss/recent.json` on Linux.
pub(crate) fn history_path() -> PathBuf {
    directories::ProjectDirs::from("org", "toss", "toss")
        .map(|d| d.data_dir().join("recent.json"))
        .unwrap_or_else(|| PathBuf::from(".toss/recent.json"))
}

/// Reads the list; a missing or damaged file is an empty list.
pub(crate) fn load(path: &Path) -> Vec<Recent> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Puts `entry` first and writes the list back (atomically).
pub(crate) fn record(path: &Path, entry: Recent) {
    let mut list = load(path);
    list.insert(0, entry);
    list.truncate(MAX_RECENT);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&list)?)?;
        std::fs::rename(tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!("could not save the recent transfers: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_and_capped() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("d/recent.json");
        for i in 0..(MAX_RECENT + 5) {
            record(
                &path,
                Recent {
                    name: format!("f{i}"),
                    files: 1,
                    size: 1,
                    direction: "send".into(),
                    peer: String::new(),
                    when: i as u64,
                    result: "ok".into(),
                },
            );
        }
        let list = load(&path);
        assert_eq!(list.len(), MAX_RECENT);
        assert_eq!(list[0].name, format!("f{}", MAX_RECENT + 4));
    }
}
