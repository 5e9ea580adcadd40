//! The sender's list of what to send: files and whole folders turned into relative,
//! `/`-separated paths with sizes, each tied to its source on disk.
//!
//! Reads metadata only; file contents are read later by the send loop.

use std::path::{Path, PathBuf};

use crate::defaults::{MAX_FILES, MAX_TEXT_BYTES, MAX_TOTAL_BYTES};
use crate::error::{Error, Result};
use crate::transfer::protocol::FileEntry;

/// Files to send, in order.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub(crate) entries: Vec<FileEntry>,
    pub(crate) sources: Vec<PathBuf>,
    /// A short text or link sent along.
    pub(crate) text: Option<String>,
    /// For several receivers of the same files: the ranges read lately, which every
    /// receiver's reader takes instead of reading and hashing them again.
    pub(crate) shared: Option<std::sync::Arc<crate::transfer::shared::SharedReads>>,
}

fn name_of(path: &Path) -> Result<String> {
    let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Input(format!("cannot send {}: it has no name", path.display())))
}

impl Manifest {
    /// The same files, read once for every receiver that sends a clone of it (a group
    /// send): see [`crate::transfer::shared`].
    pub(crate) fn read_once(mut self) -> Self {
        self.shared = Some(std::sync::Arc::default());
        self
    }

    /// Walks `paths` (files and folders; folders keep their own name as the top folder).
    /// Symlinks to files are followed; symlinked folders inside a folder are skipped.
    ///
    /// # Errors
    /// [`Error::Input`] when nothing is given, a path does not exist or is empty, or the
    /// total passes the limits; [`Error::Io`] when a folder cannot be read.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Manifest> {
        if paths.is_empty() {
            return Err(Error::Input(
                "nothing to send: give at least one file or folder".into(),
            ));
        }
        let mut manifest = Manifest {
            entries: Vec::new(),
            sources: Vec::new(),
            text: None,
            shared: None,
        };
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::Input(format!(
                    "cannot send {}: no such file or folder",
                    path.display()
                )),
                _ => Error::io(path, e),
            })?;
            let top = name_of(path)?;
            if meta.is_file() {
                manifest.push(top, meta.len(), path.clone())?;
            } else if meta.is_dir() {
                let before = manifest.entries.len();
                manifest.walk(path, &top)?;
                if manifest.entries.len() == before {
                    return Err(Error::Input(format!(
                        "cannot send {}: the folder has no files",
                        path.display()
                    )));
                }
            } else {
                return Err(Error::Input(format!(
                    "cannot send {}: not a regular file or folder",
                    path.display()
                )));
            }
        }
        Ok(manifest)
    }

    /// A manifest with no files, only a short text or link.
    ///
    /// # Errors
    /// [`Error::Input`] when the text is empty or longer than [`MAX_TEXT_BYTES`].
    pub fn from_text(text: &str) -> Result<Manifest> {
        if text.trim().is_empty() {
            return Err(Error::Input("nothing to send: the text is empty".into()));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(Error::Input(format!(
                "the text is too long: Toss sends at most {} KiB of text",
                MAX_TEXT_BYTES / 1024
            )));
        }
        Ok(Manifest {
            entries: Vec::new(),
            sources: Vec::new(),
            text: Some(text.to_owned()),
            shared: None,
        })
    }

    /// The text sent along, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    fn walk(&mut self, dir: &Path, top: &str) -> Result<()> {
        let walker = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name()
            .min_depth(1);
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(dir).to_path_buf();
                Error::io(
                    path,
                    e.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("loop")),
                )
            })?;
            let meta = match std::fs::metadata(entry.path()) {
                Ok(m) => m,
                // A dangling symlink: nothing to send.
                Err(_) if entry.path_is_symlink() => continue,
                Err(e) => return Err(Error::io(entry.path(), e)),
            };
            if !meta.is_file() {
                continue;
            }
            let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let mut path = top.to_owned();
            for comp in rel.components() {
                path.push('/');
                path.push_str(&comp.as_os_str().to_string_lossy());
            }
            self.push(path, meta.len(), entry.path().to_path_buf())?;
        }
        Ok(())
    }

    fn push(&mut self, path: String, size: u64, source: PathBuf) -> Result<()> {
        if self.entries.len() >= MAX_FILES {
            return Err(Error::Input(format!(
                "too many files: Toss sends at most {MAX_FILES} in one transfer"
            )));
        }
        if self.total_bytes().saturating_add(size) > MAX_TOTAL_BYTES {
            return Err(Error::Input(
                "too much data for one transfer (16 TiB at most)".into(),
            ));
        }
        self.entries.push(FileEntry { path, size });
        self.sources.push(source);
        Ok(())
    }

    /// The offered entries.
    pub fn entries(&self) -> &[FileEntry] {
        &self.entries
    }

    /// Sum of all sizes.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_keep_their_name_and_relative_paths() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let root = tmp.path().join("album");
        std::fs::create_dir_all(root.join("2024/summer")).map_err(|e| Error::io("d", e))?;
        std::fs::write(root.join("a.txt"), b"a").map_err(|e| Error::io("a", e))?;
        std::fs::write(root.join("2024/summer/b.txt"), b"bb").map_err(|e| Error::io("b", e))?;
        std::fs::create_dir(root.join("empty")).map_err(|e| Error::io("e", e))?;
        let m = Manifest::from_paths(&[root])?;
        let got: Vec<_> = m
            .entries()
            .iter()
            .map(|e| (e.path.as_str(), e.size))
            .collect();
        assert_eq!(got, [("album/2024/summer/b.txt", 2), ("album/a.txt", 1)]);
        Ok(())
    }

    #[test]
    fn missing_and_empty_inputs_are_refused_with_a_sentence() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let err = Manifest::from_paths(&[tmp.path().join("nope")]).expect_err("missing");
        assert!(err.to_string().contains("no such file or folder"), "{err}");
        let err = Manifest::from_paths(&[tmp.path().to_path_buf()]).expect_err("empty");
        assert!(err.to_string().contains("has no files"), "{err}");
        assert!(Manifest::from_paths(&[]).is_err());
        Ok(())
    }
}
