//! What a receiver keeps beside its files so that a transfer that was cut off (a lost
//! connection, a full disk, a killed process) picks up where it stopped, the next time the
//! same files are offered into the same folder.
//!
//! Two hidden files in the output folder, named after the offer (its paths and sizes):
//! `.toss-ID.resume`, JSON rewritten at each file boundary (folders created, files saved,
//! the `.part` being written), and `.toss-ID.ranges`, the BLAKE3 chaining values of the
//! current `.part`'s complete ranges, appended only after those bytes are synced to disk.
//! Both go once the transfer succeeds, or when it ends for good (cancelled, corrupt).
//!
//! Nothing in them is trusted blindly: every path is re-checked as a plain child of the
//! output folder, and a sender resumes only when its own file starts with the same bytes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use blake3::hazmat::ChainingValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::transfer::protocol::FileEntry;
use crate::transfer::ranges::{prefix_digest, RANGE};

const VERSION: u32 = 1;

/// A file saved by an earlier attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SavedFile {
    /// Where, relative to the output folder, `/`-separated.
    pub(crate) path: String,
    /// Its BLAKE3, hex, as verified when it was saved.
    pub(crate) blake3: String,
}

/// The `.part` file being written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PartFile {
    /// Index in the offer.
    pub(crate) index: usize,
    /// Folder of the file, relative to the output folder (`/`-separated, "" for itself).
    pub(crate) dir: String,
    /// The final name it was meant to get (a free one is chosen again when it is saved).
    pub(crate) name: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    v: u32,
    /// The offer as this side saw it: sanitized paths and sizes.
    files: Vec<FileEntry>,
    /// Offered top-level folder -> the folder created for it in the output folder.
    roots: BTreeMap<String, String>,
    /// Files already saved, by index.
    saved: BTreeMap<usize, SavedFile>,
    /// The file being written.
    current: Option<PartFile>,
}

/// One offer's resume state in one output folder.
#[derive(Debug)]
pub(crate) struct Journal {
    out_dir: PathBuf,
    resume_path: PathBuf,
    ranges_path: PathBuf,
    state: State,
    /// Chaining values of the current `.part`'s ranges that are safely on disk.
    cvs: Vec<ChainingValue>,
}

/// An unfinished `.part` from an earlier attempt.
#[derive(Debug, Clone)]
pub(crate) struct Resumable {
    pub(crate) index: usize,
    pub(crate) part: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    pub(crate) cvs: Vec<ChainingValue>,
}

/// What a receiver can offer to skip for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing: start from 0.
    Nothing,
    /// The whole file, saved earlier.
    Saved(SavedFile),
    /// The first `cvs.len()` ranges of the `.part`.
    Part(Vec<ChainingValue>),
}

impl Held {
    /// The offset and prefix digest to put in the `accept`.
    pub(crate) fn proposal(&self, size: u64) -> (u64, String) {
        match self {
            Held::Nothing => (0, String::new()),
            Held::Saved(saved) => (size, saved.blake3.clone()),
            Held::Part(cvs) => (cvs.len() as u64 * RANGE, prefix_digest(cvs)),
        }
    }
}

/// A relative path from the journal, as components, if it is a plain one.
fn components(rel: &str) -> Option<Vec<&str>> {
    if rel.is_empty() {
        return Some(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    parts
        .iter()
        .all(|p| !p.is_empty() && *p != "." && *p != ".." && !p.contains('\\'))
        .then_some(parts)
}

/// `rel` under `base`, only if every step is a real folder (no symlink) and the last one is
/// what `want_dir` says.
fn plain_child(base: &Path, rel: &str, want_dir: bool) -> Option<PathBuf> {
    let parts = components(rel)?;
    let mut path = base.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let meta = fs::symlink_metadata(&path).ok()?;
        let last = i + 1 == parts.len();
        let ok = if last && !want_dir {
            meta.is_file()
        } else {
            meta.is_dir()
        };
        if !ok {
            return None;
        }
    }
    Some(path)
}

/// A short name for an offer, from its paths and sizes.
fn offer_id(files: &[FileEntry]) -> String {
    let mut id = blake3::Hasher::new();
    id.update(b"toss offer v1");
    for f in files {
        id.update(&(f.path.len() as u64).to_le_bytes());
        id.update(f.path.as_bytes());
        id.update(&f.size.to_le_bytes());
    }
    id.finalize().to_hex().as_str()[..16].to_owned()
}

/// This process receiving an offer into a folder, held while it writes there: a second
/// receiver of the same files into the same folder would resume from, and write into, the
/// same `.part`. An advisory lock on `.toss-ID.lock`, released (and the file removed) when
/// dropped, and by the system if the process dies.
#[derive(Debug)]
pub(crate) struct Claim {
    path: PathBuf,
    _file: File,
}

impl Claim {
    /// Claims `out_dir` for `files`; refused with a sentence while another transfer holds
    /// it. A folder where the lock cannot even be made is not refused here: writing there
    /// fails on its own, with its own sentence.
    pub(crate) fn take(out_dir: &Path, files: &[FileEntry]) -> Result<Option<Self>> {
        let path = out_dir.join(format!(".toss-{}.lock", offer_id(files)));
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let Ok(file) = options.open(&path) else {
            return Ok(None);
        };
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(Some(Self { path, _file: file })),
            Ok(false) => Err(Error::Busy(out_dir.to_path_buf())),
            Err(_) => Ok(None),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Journal {
    /// The journal for `files` in `out_dir`: what an earlier attempt left, or a fresh one.
    /// An unreadable or foreign journal counts as none.
    pub(crate) fn open(out_dir: &Path, files: &[FileEntry]) -> Self {
        let id = offer_id(files);
        let mut journal = Self {
            out_dir: out_dir.to_path_buf(),
            resume_path: out_dir.join(format!(".toss-{id}.resume")),
            ranges_path: out_dir.join(format!(".toss-{id}.ranges")),
            state: State {
                v: VERSION,
                files: files.to_vec(),
                ..State::default()
            },
            cvs: Vec::new(),
        };
        if let Some(state) = journal.load(files) {
            journal.cvs = journal.load_ranges(&state);
            journal.state = state;
        }
        journal
    }

    fn load(&self, files: &[FileEntry]) -> Option<State> {
        let meta = fs::symlink_metadata(&self.resume_path).ok()?;
        if !meta.is_file() || meta.len() > 64 * 1024 * 1024 {
            return None;
        }
        let state: State = serde_json::from_slice(&fs::read(&self.resume_path).ok()?).ok()?;
        if state.v != VERSION || state.files != files {
            return None;
        }
        Some(state)
    }

    fn load_ranges(&self, state: &State) -> Vec<ChainingValue> {
        let Some(part) = state.current.as_ref().and_then(|c| self.part_of(c)) else {
            return Vec::new();
        };
        let Some(entry) = state
            .current
            .as_ref()
            .and_then(|c| state.files.get(c.index))
        else {
            return Vec::new();
        };
        let on_disk = fs::symlink_metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut raw = Vec::new();
        let read = File::open(&self.ranges_path)
            .and_then(|f| f.take(64 * 1024 * 1024).read_to_end(&mut raw));
        if read.is_err() {
            return Vec::new();
        }
        // Only whole ranges that are on disk, and never the whole file: a file is finished
        // by its `file_end`, whose hash is checked.
        let most = on_disk.min(entry.size.saturating_sub(1)) / RANGE;
        raw.chunks_exact(32)
            .take(usize::try_from(most).unwrap_or(usize::MAX))
            .filter_map(|c| c.try_into().ok())
            .collect()
    }

    fn part_of(&self, part: &PartFile) -> Option<PathBuf> {
        let dir = plain_child(&self.out_dir, &part.dir, true)?;
        let path = dir.join(format!("{}.part", part.name));
        fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|_| path)
    }

    /// What is already here for file `index`.
    pub(crate) fn held(&self, index: usize) -> Held {
        let Some(entry) = self.state.files.get(index) else {
            return Held::Nothing;
        };
        if let Some(saved) = self.state.saved.get(&index) {
            let intact = plain_child(&self.out_dir, &saved.path, false)
                .and_then(|p| fs::metadata(p).ok())
                .is_some_and(|m| m.len() == entry.size);
            return if intact {
                Held::Saved(saved.clone())
            } else {
                Held::Nothing
            };
        }
        match &self.state.current {
            Some(c) if c.index == index && !self.cvs.is_empty() => Held::Part(self.cvs.clone()),
            _ => Held::Nothing,
        }
    }

    /// The folder created earlier for an offered top-level folder, if it is still there.
    pub(crate) fn root(&self, offered: &str) -> Option<PathBuf> {
        let name = self.state.roots.get(offered)?;
        if name.contains('/') {
            return None;
        }
        plain_child(&self.out_dir, name, true)
    }

    /// The `.part` of file `index` and where it was going, when the journal holds it.
    pub(crate) fn part(&self, index: usize) -> Option<(PathBuf, PathBuf, String)> {
        let current = self.state.current.as_ref().filter(|c| c.index == index)?;
        let path = self.part_of(current)?;
        let dir = plain_child(&self.out_dir, &current.dir, true)?;
        Some((path, dir, current.name.clone()))
    }

    /// Bytes the `.part` of file `index` takes on disk now (0 when the journal holds none).
    /// Resuming writes over them, so they need no new room; the `.part` may hold more than
    /// its journal, which records only what was synced.
    pub(crate) fn part_bytes(&self, index: usize) -> u64 {
        self.part(index)
            .and_then(|(path, _, _)| fs::symlink_metadata(path).ok())
            .map_or(0, |m| m.len())
    }

    /// The `.part` an earlier attempt left and what it holds, for the sink to take up later
    /// even if other files are written first.
    pub(crate) fn resumable(&self) -> Option<Resumable> {
        let index = self.state.current.as_ref()?.index;
        let (part, dir, name) = self.part(index)?;
        Some(Resumable {
            index,
            part,
            dir,
            name,
            cvs: self.cvs.clone(),
        })
    }

    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.out_dir)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Records a folder made for an offered top-level folder.
    pub(crate) fn set_root(&mut self, offered: &str, dir: &Path) -> Result<()> {
        let rel = self.rel(dir);
        self.state.roots.insert(offered.to_owned(), rel);
        self.save()
    }

    /// Records the start of a `.part` file (no ranges yet).
    pub(crate) fn start_part(&mut self, index: usize, dir: &Path, name: &str) -> Result<()> {
        self.state.current = Some(PartFile {
            index,
            dir: self.rel(dir),
            name: name.to_owned(),
        });
        self.truncate_ranges(0)?;
        self.save()
    }

    /// Keeps only the first `n` ranges of the current `.part`.
    pub(crate) fn truncate_ranges(&mut self, n: usize) -> Result<()> {
        self.cvs.truncate(n);
        let file = self
            .open_ranges(false)
            .map_err(|e| Error::io(&self.ranges_path, e))?;
        file.set_len(n as u64 * 32)
            .map_err(|e| Error::io(&self.ranges_path, e))
    }

    /// Records ranges of the current `.part` whose bytes are synced to disk.
    pub(crate) fn add_ranges(&mut self, cvs: &[ChainingValue]) -> Result<()> {
        let fresh = cvs.get(self.cvs.len()..).unwrap_or_default();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut file = self
            .open_ranges(true)
            .map_err(|e| Error::io(&self.ranges_path, e))?;
        if let Err(e) = file.write_all(&fresh.concat()) {
            // No torn record: the file keeps only whole ones.
            let _ = file.set_len(self.cvs.len() as u64 * 32);
            return Err(Error::io(&self.ranges_path, e));
        }
        self.cvs.extend_from_slice(fresh);
        Ok(())
    }

    /// Opens the ranges file for writing, never through a symlink.
    fn open_ranges(&self, append: bool) -> std::io::Result<File> {
        let mut options = OpenOptions::new();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(false);
        }
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        options.open(&self.ranges_path)
    }

    /// Records the `.part` of file `index`, taken up again with the ranges it holds.
    pub(crate) fn resume_part(
        &mut self,
        index: usize,
        dir: &Path,
        name: &str,
        cvs: &[ChainingValue],
    ) -> Result<()> {
        self.start_part(index, dir, name)?;
        self.add_ranges(cvs)
    }

    /// Records a file saved under its final name.
    pub(crate) fn saved(&mut self, index: usize, path: &Path, blake3: &str) -> Result<()> {
        let path = self.rel(path);
        self.state.saved.insert(
            index,
            SavedFile {
                path,
                blake3: blake3.to_owned(),
            },
        );
        self.state.current = None;
        self.truncate_ranges(0)?;
        self.save()
    }

    /// Forgets the current `.part` (it was removed).
    pub(crate) fn drop_part(&mut self) {
        self.state.current = None;
        self.cvs.clear();
        let _ = fs::remove_file(&self.ranges_path);
        let _ = self.save();
    }

    fn save(&self) -> Result<()> {
        let json = serde_json::to_vec(&self.state)
            .map_err(|e| Error::Input(format!("cannot record the transfer's progress: {e}")))?;
        let tmp = self.resume_path.with_extension("resume.tmp");
        // A fresh file (never one planted there, nor a symlink), then renamed over.
        let _ = fs::remove_file(&tmp);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&json))
            .and_then(|_| fs::rename(&tmp, &self.resume_path))
            .map_err(|e| Error::io(&self.resume_path, e))
    }

    /// Removes the journal: the transfer is over for good.
    pub(crate) fn remove(&self) {
        let _ = fs::remove_file(&self.resume_path);
        let _ = fs::remove_file(&self.ranges_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_receiver_at_a_time_per_offer_and_folder() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(Path::new("tmp"), e))?;
        let out = dir.path();
        let files = vec![FileEntry {
            path: "video.mov".into(),
            size: 10,
        }];
        let first = Claim::take(out, &files)?;
        assert!(first.is_some());
        let second = Claim::take(out, &files).expect_err("a second claim is refused");
        assert_eq!(second.kind(), "busy");
        assert_eq!(
            second.for_peer(),
            "the same files are already being received on that computer"
        );
        assert_eq!(
            second.to_string(),
            format!(
                "another transfer is already receiving these files into {}; wait for it to finish or choose another folder",
                out.display()
            )
        );
        // Other files into the same folder are another matter.
        let other = vec![FileEntry {
            path: "other.mov".into(),
            size: 10,
        }];
        assert!(Claim::take(out, &other)?.is_some());
        drop(first);
        let again = Claim::take(out, &files)?;
        assert!(again.is_some());
        drop(again);
        // Nothing is left behind in the folder.
        assert_eq!(fs::read_dir(out).map_err(|e| Error::io(out, e))?.count(), 0);
        Ok(())
    }

    #[test]
    fn paths_from_a_journal_must_be_plain() {
        assert_eq!(components(""), Some(vec![]));
        assert_eq!(components("a/b"), Some(vec!["a", "b"]));
        for bad in ["../x", "a/../b", "/abs", "a//b", "a/./b", "a\\b"] {
            assert_eq!(components(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_journal_survives_a_reopen_and_keeps_only_ranges_on_disk() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = tmp.path();
        let files = vec![
            FileEntry {
                path: "a.bin".into(),
                size: 3 * RANGE + 5,
            },
            FileEntry {
                path: "b.bin".into(),
                size: 10,
            },
        ];
        fs::write(out.join("b.bin"), b"0123456789").map_err(|e| Error::io("b", e))?;
        let mut j = Journal::open(out, &files);
        j.saved(1, &out.join("b.bin"), "hash-of-b")?;
        j.start_part(0, out, "a.bin")?;
        let part = out.join("a.bin.part");
        // Two ranges and a bit written; three chaining values claimed.
        fs::write(&part, vec![7u8; (2 * RANGE + 9) as usize]).map_err(|e| Error::io("p", e))?;
        j.add_ranges(&[[1u8; 32], [2u8; 32], [3u8; 32]])?;

        let again = Journal::open(out, &files);
        assert_eq!(again.held(0), Held::Part(vec![[1u8; 32], [2u8; 32]]));
        assert_eq!(again.held(0).proposal(files[0].size).0, 2 * RANGE);
        assert!(matches!(again.held(1), Held::Saved(s) if s.path == "b.bin"));
        assert_eq!(again.part(0).map(|p| p.0), Some(part.clone()));

        // Another offer sees nothing; a saved file that changed size is not held.
        let other = Journal::open(out, &files[..1]);
        assert_eq!(other.held(0), Held::Nothing);
        fs::write(out.join("b.bin"), b"short").map_err(|e| Error::io("b", e))?;
        assert_eq!(Journal::open(out, &files).held(1), Held::Nothing);

        again.remove();
        assert_eq!(Journal::open(out, &files).held(0), Held::Nothing);
        Ok(())
    }
}
