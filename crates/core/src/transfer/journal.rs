//! What a receiver keeps so that a transfer that was cut off (a lost connection, a full
//! disk, a killed process) picks up where it stopped, the next time the same files are
//! offered into the same folder.
//!
//! The journal lives in this user's own data folder (`~/.local/share/toss/resume/` on
//! Linux), never in the receiving folder: anything in the receiving folder may have been
//! put there by a sender, so a journal there could be planted. Its files are named after
//! the output folder and the offer (its paths and sizes): `KEY.resume`, a log of JSON lines
//! (a header with the offer, then one line per folder made, file saved or `.part` begun,
//! appended, so a transfer of many files costs time linear in their count), and
//! `KEY.ranges`, the BLAKE3 chaining values of the current `.part`'s complete ranges,
//! appended only after those bytes are synced to disk. Both go once the transfer succeeds,
//! or when it ends for good (cancelled, corrupt).
//!
//! Even so, what it names in the receiving folder is checked before it is used: every path
//! is validated as a received name is and re-checked as a plain child of the output folder,
//! a `.part` is taken up only if it is the very file this journal created (same device and
//! inode), and its prefix is read back and must hash to the recorded chaining values.
//! A sender then resumes only when its own file starts with the same bytes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use blake3::hazmat::ChainingValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::transfer::names::sanitize_component;
use crate::transfer::protocol::FileEntry;
use crate::transfer::ranges::{prefix_digest, RangeHasher, RANGE};

const VERSION: u32 = 2;

/// Largest journal read back: a header for tens of thousands of files and their records.
const MAX_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;

/// The folder where this user's journals live, when this system has one.
pub(crate) fn default_root() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "toss").map(|d| d.data_local_dir().join("resume"))
}

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
    /// The `.part`'s identity (device, inode) when this journal created it: a file of the
    /// same name put there later by someone else is not it.
    #[serde(default)]
    pub(crate) id: Option<(u64, u64, u128)>,
}

/// The first line of a journal: which offer it is about.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    v: u32,
    /// The offer as this side saw it: sanitized paths and sizes.
    files: Vec<FileEntry>,
}

/// Every later line: one change, applied in order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    /// An offered top-level folder got this folder in the output folder.
    Root { offered: String, dir: String },
    /// File `index` was saved.
    Saved { index: usize, file: SavedFile },
    /// A `.part` was begun (or taken up again); its ranges start empty.
    Part(PartFile),
    /// No `.part` any more.
    NoPart,
}

#[derive(Debug, Default)]
struct State {
    /// Offered top-level folder -> the folder created for it in the output folder.
    roots: BTreeMap<String, String>,
    /// Files already saved, by index.
    saved: BTreeMap<usize, SavedFile>,
    /// The file being written.
    current: Option<PartFile>,
}

impl State {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Root { offered, dir } => {
                self.roots.insert(offered, dir);
            }
            Record::Saved { index, file } => {
                self.saved.insert(index, file);
                self.current = None;
            }
            Record::Part(part) => self.current = Some(part),
            Record::NoPart => self.current = None,
        }
    }

    /// The records that rebuild this state.
    fn records(&self) -> Vec<Record> {
        let roots = self.roots.iter().map(|(offered, dir)| Record::Root {
            offered: offered.clone(),
            dir: dir.clone(),
        });
        let saved = self.saved.iter().map(|(&index, file)| Record::Saved {
            index,
            file: file.clone(),
        });
        roots
            .chain(saved)
            .chain(self.current.clone().map(Record::Part))
            .collect()
    }
}

/// Where one offer's journal is kept.
#[derive(Debug)]
struct Paths {
    log: PathBuf,
    ranges: PathBuf,
}

/// One offer's resume state in one output folder.
#[derive(Debug)]
pub(crate) struct Journal {
    out_dir: PathBuf,
    /// `None` when this system has no private folder for journals: the transfer works,
    /// it just cannot be resumed.
    paths: Option<Paths>,
    files: Vec<FileEntry>,
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

/// A relative path from the journal, as components, if each is one a received name could
/// have become (the same rules, so a journal can name nothing an offer could not).
fn components(rel: &str) -> Option<Vec<&str>> {
    if rel.is_empty() {
        return Some(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    parts.iter().all(|p| is_clean_name(p)).then_some(parts)
}

/// Whether `name` is a name the receiver could have given a received file or folder: it is
/// unchanged by the cleaning every received name goes through.
fn is_clean_name(name: &str) -> bool {
    sanitize_component(name).as_deref() == Some(name)
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

/// A file's identity on this system, to tell it from another file later put at its path:
/// its device and inode, and its creation time where the file system keeps one (a freed
/// inode number is soon given to a new file).
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64, u128)> {
    use std::os::unix::fs::MetadataExt;
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Some((meta.dev(), meta.ino(), born))
}

/// Elsewhere only the prefix check guards a `.part`.
#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64, u128)> {
    None
}

/// The journal's name for an offer received into a folder: from the folder's full path
/// and the offer's paths and sizes.
fn journal_key(out_dir: &Path, files: &[FileEntry]) -> String {
    let folder = fs::canonicalize(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    let mut id = blake3::Hasher::new();
    id.update(b"toss journal v2");
    let folder = folder.as_os_str().as_encoded_bytes();
    id.update(&(folder.len() as u64).to_le_bytes());
    id.update(folder);
    for f in files {
        id.update(&(f.path.len() as u64).to_le_bytes());
        id.update(f.path.as_bytes());
        id.update(&f.size.to_le_bytes());
    }
    id.finalize().to_hex().as_str()[..32].to_owned()
}

/// Makes the journal folder, readable by this user only.
fn private_dir(root: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(root)
}

/// Opens a journal file for writing, never through a symlink.
fn open_private(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(false);
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    options.open(path)
}

/// This process receiving an offer into a folder, held while it writes there: a second
/// receiver of the same files into the same folder would resume from, and write into, the
/// same `.part`. An advisory lock on `KEY.lock` beside the journal, released (and the file
/// removed) when dropped, and by the system if the process dies.
#[derive(Debug)]
pub(crate) struct Claim {
    path: PathBuf,
    _file: File,
}

impl Claim {
    /// Claims `out_dir` for `files`; refused with a sentence while another transfer holds
    /// it. Where the lock cannot even be made (no journal folder), nothing is refused: such
    /// a transfer keeps no journal either.
    pub(crate) fn take(
        root: Option<&Path>,
        out_dir: &Path,
        files: &[FileEntry],
    ) -> Result<Option<Self>> {
        let Some(root) = root else {
            return Ok(None);
        };
        if private_dir(root).is_err() {
            return Ok(None);
        }
        let path = root.join(format!("{}.lock", journal_key(out_dir, files)));
        let Ok(file) = open_private(&path, false) else {
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
    /// The journal for `files` received into `out_dir`, kept under `root`: what an earlier
    /// attempt left, or a fresh one. An unreadable or foreign journal counts as none; a
    /// `.part` it names is held only if its prefix still hashes as recorded (this reads the
    /// prefix: call it off the network's thread).
    pub(crate) fn open(root: Option<&Path>, out_dir: &Path, files: &[FileEntry]) -> Self {
        let paths = root.filter(|r| private_dir(r).is_ok()).map(|root| {
            let key = journal_key(out_dir, files);
            Paths {
                log: root.join(format!("{key}.resume")),
                ranges: root.join(format!("{key}.ranges")),
            }
        });
        let mut journal = Self {
            out_dir: out_dir.to_path_buf(),
            paths,
            files: files.to_vec(),
            state: State::default(),
            cvs: Vec::new(),
        };
        if let Some(state) = journal.load() {
            journal.state = state;
            journal.cvs = journal.load_ranges();
        }
        // Written afresh, compact: a torn last line from a killed process goes, and the
        // records from here on are appended to a whole file.
        if journal.paths.is_some() && journal.rewrite().is_err() {
            journal.paths = None;
        }
        journal
    }

    fn load(&self) -> Option<State> {
        let paths = self.paths.as_ref()?;
        let meta = fs::symlink_metadata(&paths.log).ok()?;
        if !meta.is_file() || meta.len() > MAX_JOURNAL_BYTES {
            return None;
        }
        let mut lines = BufReader::new(File::open(&paths.log).ok()?).lines();
        let header: Header = serde_json::from_str(&lines.next()?.ok()?).ok()?;
        if header.v != VERSION || header.files != self.files {
            return None;
        }
        let mut state = State::default();
        // A line that does not parse is the torn end of a killed process's last append.
        for line in lines {
            match line.ok().and_then(|l| serde_json::from_str(&l).ok()) {
                Some(record) => state.apply(record),
                None => break,
            }
        }
        Some(state)
    }

    /// The chaining values of the current `.part` that are on disk and still hash as
    /// recorded; none if the `.part` is not the one this journal began.
    fn load_ranges(&self) -> Vec<ChainingValue> {
        let (Some(paths), Some(current)) = (&self.paths, &self.state.current) else {
            return Vec::new();
        };
        let (Some(part), Some(entry)) = (self.part_of(current), self.files.get(current.index))
        else {
            return Vec::new();
        };
        let on_disk = fs::symlink_metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut raw = Vec::new();
        let read =
            File::open(&paths.ranges).and_then(|f| f.take(MAX_JOURNAL_BYTES).read_to_end(&mut raw));
        if read.is_err() {
            return Vec::new();
        }
        // Only whole ranges that are on disk, and never the whole file: a file is finished
        // by its `file_end`, whose hash is checked.
        let most = on_disk.min(entry.size.saturating_sub(1)) / RANGE;
        let recorded: Vec<ChainingValue> = raw
            .chunks_exact(32)
            .take(usize::try_from(most).unwrap_or(usize::MAX))
            .filter_map(|c| c.try_into().ok())
            .collect();
        verified_prefix(&part, &recorded)
    }

    /// The `.part` a record names, if it is still there and is the file this journal began.
    fn part_of(&self, part: &PartFile) -> Option<PathBuf> {
        if !is_clean_name(&part.name) {
            return None;
        }
        let dir = plain_child(&self.out_dir, &part.dir, true)?;
        let path = dir.join(format!("{}.part", part.name));
        let meta = fs::symlink_metadata(&path).ok()?;
        let ours = match (part.id, identity(&meta)) {
            (Some(recorded), Some(now)) => recorded == now,
            // Without identities on this system, the prefix check alone decides.
            (_, None) => true,
            (None, Some(_)) => false,
        };
        (meta.is_file() && ours).then_some(path)
    }

    /// What is already here for file `index`.
    pub(crate) fn held(&self, index: usize) -> Held {
        let Some(entry) = self.files.get(index) else {
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
        let record = Record::Root {
            offered: offered.to_owned(),
            dir: self.rel(dir),
        };
        self.record(record)
    }

    /// Records the start of a `.part` file (no ranges yet), which must exist by now.
    pub(crate) fn start_part(&mut self, index: usize, dir: &Path, name: &str) -> Result<()> {
        let id = fs::symlink_metadata(dir.join(format!("{name}.part")))
            .ok()
            .and_then(|m| identity(&m));
        let part = PartFile {
            index,
            dir: self.rel(dir),
            name: name.to_owned(),
            id,
        };
        self.truncate_ranges(0)?;
        self.record(Record::Part(part))
    }

    /// Keeps only the first `n` ranges of the current `.part`.
    pub(crate) fn truncate_ranges(&mut self, n: usize) -> Result<()> {
        let had = self.cvs.len();
        self.cvs.truncate(n);
        let Some(paths) = &self.paths else {
            return Ok(());
        };
        if had == 0 && n == 0 && !paths.ranges.exists() {
            return Ok(());
        }
        let file = open_private(&paths.ranges, false).map_err(|e| Error::io(&paths.ranges, e))?;
        file.set_len(n as u64 * 32)
            .map_err(|e| Error::io(&paths.ranges, e))
    }

    /// Records ranges of the current `.part` whose bytes are synced to disk.
    pub(crate) fn add_ranges(&mut self, cvs: &[ChainingValue]) -> Result<()> {
        let fresh = cvs.get(self.cvs.len()..).unwrap_or_default();
        if fresh.is_empty() {
            return Ok(());
        }
        if let Some(paths) = &self.paths {
            let mut file =
                open_private(&paths.ranges, true).map_err(|e| Error::io(&paths.ranges, e))?;
            if let Err(e) = file.write_all(&fresh.concat()) {
                // No torn record: the file keeps only whole ones.
                let _ = file.set_len(self.cvs.len() as u64 * 32);
                return Err(Error::io(&paths.ranges, e));
            }
        }
        self.cvs.extend_from_slice(fresh);
        Ok(())
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
        let file = SavedFile {
            path: self.rel(path),
            blake3: blake3.to_owned(),
        };
        self.truncate_ranges(0)?;
        self.record(Record::Saved { index, file })
    }

    /// Forgets the current `.part` (it was removed).
    pub(crate) fn drop_part(&mut self) {
        self.cvs.clear();
        if let Some(paths) = &self.paths {
            let _ = fs::remove_file(&paths.ranges);
        }
        let _ = self.record(Record::NoPart);
    }

    /// Applies a change and appends it to the log: one short line, whatever the offer's size.
    fn record(&mut self, record: Record) -> Result<()> {
        let line = self.paths.as_ref().map(|_| serde_json::to_string(&record));
        self.state.apply(record);
        let (Some(paths), Some(line)) = (&self.paths, line) else {
            return Ok(());
        };
        let mut line = line.map_err(|e| Error::io(&paths.log, std::io::Error::other(e)))?;
        line.push('\n');
        open_private(&paths.log, true)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| Error::io(&paths.log, e))
    }

    /// Writes the whole log afresh (a new file renamed over the old one).
    fn rewrite(&self) -> std::io::Result<()> {
        let Some(paths) = &self.paths else {
            return Ok(());
        };
        let header = Header {
            v: VERSION,
            files: self.files.clone(),
        };
        let mut text = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        text.push('\n');
        for record in self.state.records() {
            text.push_str(&serde_json::to_string(&record).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let tmp = paths.log.with_extension("resume.tmp");
        let _ = fs::remove_file(&tmp);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .and_then(|()| fs::rename(&tmp, &paths.log))
    }

    /// Removes the journal: the transfer is over for good.
    pub(crate) fn remove(&self) {
        if let Some(paths) = &self.paths {
            let _ = fs::remove_file(&paths.log);
            let _ = fs::remove_file(&paths.ranges);
        }
    }
}

/// The longest prefix of `recorded` that the file's bytes still hash to, read back from
/// the disk: a resumed prefix is trusted only for what it holds now.
fn verified_prefix(part: &Path, recorded: &[ChainingValue]) -> Vec<ChainingValue> {
    let Ok(mut file) = File::open(part) else {
        return Vec::new();
    };
    let mut hasher = RangeHasher::default();
    let mut buf = vec![0u8; 1024 * 1024];
    let want = recorded.len() as u64 * RANGE;
    let mut read = 0u64;
    while read < want {
        let room = usize::try_from(want - read)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match file.read(&mut buf[..room]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                read += n as u64;
            }
        }
    }
    hasher
        .cvs()
        .iter()
        .zip(recorded)
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| *a)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| Error::io("tmp", e))
    }

    #[test]
    fn one_receiver_at_a_time_per_offer_and_folder() -> Result<()> {
        let dir = tmp()?;
        let state = tmp()?;
        let (out, root) = (dir.path(), Some(state.path()));
        let files = vec![FileEntry {
            path: "video.mov".into(),
            size: 10,
        }];
        let first = Claim::take(root, out, &files)?;
        assert!(first.is_some());
        let second = Claim::take(root, out, &files).expect_err("a second claim is refused");
        assert_eq!(second.kind(), crate::ErrorKind::Busy);
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
        assert!(Claim::take(root, out, &other)?.is_some());
        drop(first);
        let again = Claim::take(root, out, &files)?;
        assert!(again.is_some());
        drop(again);
        // Nothing is left behind, in the folder or beside the journals.
        assert_eq!(fs::read_dir(out).map_err(|e| Error::io(out, e))?.count(), 0);
        let left = fs::read_dir(state.path()).map_err(|e| Error::io("state", e))?;
        assert_eq!(left.count(), 0);
        Ok(())
    }

    #[test]
    fn names_from_a_journal_must_be_names_an_offer_could_give() {
        assert_eq!(components(""), Some(vec![]));
        assert_eq!(components("a/b"), Some(vec!["a", "b"]));
        for bad in [
            "../x",
            "a/../b",
            "/abs",
            "a//b",
            "a/./b",
            "a\\b",
            "..",
            "a/b:c",
            "CON",
            "x.",
            "a/\u{202E}txt.exe",
        ] {
            assert_eq!(components(bad), None, "{bad}");
        }
    }

    fn two_files() -> Vec<FileEntry> {
        vec![
            FileEntry {
                path: "a.bin".into(),
                size: 3 * RANGE + 5,
            },
            FileEntry {
                path: "b.bin".into(),
                size: 10,
            },
        ]
    }

    /// The first ranges of `a.bin`, as an earlier attempt wrote them.
    fn prefix(ranges: u64, extra: u64) -> Vec<u8> {
        (0..ranges * RANGE + extra)
            .map(|i| (i % 251) as u8)
            .collect()
    }

    fn cvs_of(bytes: &[u8]) -> Vec<ChainingValue> {
        let mut h = RangeHasher::default();
        h.update(bytes);
        h.cvs().to_vec()
    }

    #[test]
    fn a_journal_survives_a_reopen_and_keeps_only_ranges_on_disk() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files = two_files();
        fs::write(out.join("b.bin"), b"0123456789").map_err(|e| Error::io("b", e))?;
        let mut j = Journal::open(root, out, &files);
        j.saved(1, &out.join("b.bin"), "hash-of-b")?;
        let part = out.join("a.bin.part");
        // Two ranges and a bit written; three chaining values claimed.
        let bytes = prefix(2, 9);
        fs::write(&part, &bytes).map_err(|e| Error::io("p", e))?;
        j.start_part(0, out, "a.bin")?;
        let mut claimed = cvs_of(&bytes);
        claimed.push([3u8; 32]);
        j.add_ranges(&claimed)?;

        let again = Journal::open(root, out, &files);
        assert_eq!(again.held(0), Held::Part(claimed[..2].to_vec()));
        assert_eq!(again.held(0).proposal(files[0].size).0, 2 * RANGE);
        assert!(matches!(again.held(1), Held::Saved(s) if s.path == "b.bin"));
        assert_eq!(again.part(0).map(|p| p.0), Some(part.clone()));

        // Another offer, or the same offer into another folder, sees nothing; a saved file
        // that changed size is not held.
        assert_eq!(Journal::open(root, out, &files[..1]).held(0), Held::Nothing);
        let elsewhere = tmp()?;
        assert_eq!(
            Journal::open(root, elsewhere.path(), &files).held(0),
            Held::Nothing
        );
        fs::write(out.join("b.bin"), b"short").map_err(|e| Error::io("b", e))?;
        assert_eq!(Journal::open(root, out, &files).held(1), Held::Nothing);

        again.remove();
        assert_eq!(Journal::open(root, out, &files).held(0), Held::Nothing);
        // Nothing of the journal was ever in the receiving folder.
        let mut names: Vec<_> = fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        assert_eq!(names, ["a.bin.part", "b.bin"]);
        Ok(())
    }

    #[test]
    fn a_part_put_in_place_of_the_journals_own_is_not_taken_up() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files = two_files();
        let part = out.join("a.bin.part");
        let bytes = prefix(2, 0);
        fs::write(&part, &bytes).map_err(|e| Error::io("p", e))?;
        let mut j = Journal::open(root, out, &files);
        j.start_part(0, out, "a.bin")?;
        j.add_ranges(&cvs_of(&bytes))?;
        assert!(matches!(Journal::open(root, out, &files).held(0), Held::Part(c) if c.len() == 2));

        // Another file with the very same bytes under that name is still not ours.
        fs::remove_file(&part).map_err(|e| Error::io("p", e))?;
        fs::write(out.join("other"), &bytes).map_err(|e| Error::io("o", e))?;
        fs::rename(out.join("other"), &part).map_err(|e| Error::io("p", e))?;
        let j = Journal::open(root, out, &files);
        assert_eq!(j.held(0), Held::Nothing);
        assert!(j.resumable().is_none());
        assert_eq!(j.part_bytes(0), 0);
        Ok(())
    }

    #[test]
    fn a_resumed_prefix_is_trusted_only_for_what_it_still_holds() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files = two_files();
        let part = out.join("a.bin.part");
        let mut bytes = prefix(3, 0);
        fs::write(&part, &bytes).map_err(|e| Error::io("p", e))?;
        let mut j = Journal::open(root, out, &files);
        j.start_part(0, out, "a.bin")?;
        j.add_ranges(&cvs_of(&bytes))?;
        // One byte of the second range changed on disk, in place (same file).
        bytes[(RANGE + 7) as usize] ^= 1;
        let mut f = OpenOptions::new()
            .write(true)
            .open(&part)
            .map_err(|e| Error::io("p", e))?;
        f.write_all(&bytes).map_err(|e| Error::io("p", e))?;
        drop(f);
        let again = Journal::open(root, out, &files);
        assert_eq!(again.held(0), Held::Part(cvs_of(&bytes)[..1].to_vec()));
        Ok(())
    }

    #[test]
    fn a_journal_naming_paths_outside_the_rules_is_not_followed() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files = two_files();
        let j = Journal::open(root, out, &files);
        let Some(paths) = &j.paths else {
            panic!("the journal has a folder");
        };
        fs::create_dir(out.join(".config")).map_err(|e| Error::io("c", e))?;
        fs::write(out.join("notes.txt.part"), prefix(1, 0)).map_err(|e| Error::io("n", e))?;
        // A journal that names a part outside the folder, and a root that is not fresh.
        let mut log = fs::read_to_string(&paths.log).map_err(|e| Error::io("log", e))?;
        log.push_str(r#"{"root":{"offered":"photos","dir":".config/autostart"}}"#);
        log.push('\n');
        log.push_str(r#"{"part":{"index":0,"dir":"","name":"../notes.txt","id":null}}"#);
        log.push('\n');
        fs::write(&paths.log, log).map_err(|e| Error::io("log", e))?;
        let again = Journal::open(root, out, &files);
        assert_eq!(again.root("photos"), None);
        assert!(again.part(0).is_none());
        assert_eq!(again.held(0), Held::Nothing);
        Ok(())
    }

    #[test]
    fn each_change_appends_one_line() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files: Vec<FileEntry> = (0..500)
            .map(|i| FileEntry {
                path: format!("f{i}"),
                size: 0,
            })
            .collect();
        let mut j = Journal::open(root, out, &files);
        let Some(log) = j.paths.as_ref().map(|p| p.log.clone()) else {
            panic!("the journal has a folder");
        };
        let header = fs::metadata(&log).map_err(|e| Error::io("log", e))?.len();
        for i in 0..files.len() {
            fs::write(out.join(format!("f{i}")), b"").map_err(|e| Error::io("f", e))?;
            j.saved(i, &out.join(format!("f{i}")), "h")?;
        }
        let text = fs::read_to_string(&log).map_err(|e| Error::io("log", e))?;
        assert_eq!(text.lines().count(), 1 + files.len());
        // Each record is a short line, not the whole offer again.
        let per_record = (text.len() as u64 - header) / files.len() as u64;
        assert!(per_record < 80, "{per_record} bytes a record");
        let again = Journal::open(root, out, &files);
        assert!((0..files.len()).all(|i| matches!(again.held(i), Held::Saved(_))));
        Ok(())
    }

    #[test]
    fn a_torn_last_line_is_dropped() -> Result<()> {
        let (dir, state) = (tmp()?, tmp()?);
        let (out, root) = (dir.path(), Some(state.path()));
        let files = two_files();
        fs::write(out.join("b.bin"), b"0123456789").map_err(|e| Error::io("b", e))?;
        let mut j = Journal::open(root, out, &files);
        j.saved(1, &out.join("b.bin"), "hash-of-b")?;
        let Some(log) = j.paths.as_ref().map(|p| p.log.clone()) else {
            panic!("the journal has a folder");
        };
        let mut f = open_private(&log, true).map_err(|e| Error::io("log", e))?;
        f.write_all(br#"{"saved":{"index":0,"fi"#)
            .map_err(|e| Error::io("log", e))?;
        drop(f);
        let mut again = Journal::open(root, out, &files);
        assert!(matches!(again.held(1), Held::Saved(_)));
        assert_eq!(again.held(0), Held::Nothing);
        // And what comes next is read back whole.
        fs::write(out.join("a.bin"), prefix(3, 5)).map_err(|e| Error::io("a", e))?;
        again.saved(0, &out.join("a.bin"), "hash-of-a")?;
        assert!(matches!(
            Journal::open(root, out, &files).held(0),
            Held::Saved(_)
        ));
        Ok(())
    }
}
