//! The receiver's disk side, run on a blocking thread: writes each file to `NAME.part`
//! (created exclusively, so never through a symlink), hashes while writing, and after the
//! hash checks links it to a final name that did not exist (`name (1).ext`), so nothing is
//! ever overwritten. Failures remove the `.part` file.
//!
//! Trusts nothing it is given: names arrive already sanitized, and every path it creates
//! is a child of the output folder or of a folder it created there itself.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::error::{Error, Result};
use crate::transfer::journal::{Journal, Resumable, SavedFile};
use crate::transfer::quarantine;
use crate::transfer::ranges::{RangeHasher, RANGE};
use crate::transfer::writer::FileWriter;

/// Most ` (N)` suffixes tried before giving up on a name.
const MAX_SUFFIX: u32 = 9_999;

/// Write buffer per file: fewer system calls than one per 16 KiB chunk, and whole blocks for
/// direct I/O ([`FileWriter`]).
const WRITE_BUFFER: usize = 1024 * 1024;

/// A checkpoint (sync the `.part`, record its complete ranges in the journal) is made once
/// this much is unsynced and [`CHECKPOINT_EVERY`] has passed, or at [`CHECKPOINT_MOST`]
/// unsynced whatever the time: a killed receiver loses little, a fast one syncs rarely.
/// The sync runs on a thread of its own ([`Checkpoint`]) while writing goes on, and the
/// next checkpoint waits for it: the disk writes back while the network carries on.
const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
const CHECKPOINT_MOST: u64 = 32 * 1024 * 1024;

/// Where a file's bytes start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// A new `.part` file.
    Fresh,
    /// The `.part` the journal holds, after its complete ranges.
    Part,
    /// Nothing to write: the journal's saved file is this one (its hash is checked).
    Saved,
}

/// What the protocol loop asks of the writer.
#[derive(Debug)]
pub(crate) enum WriteCmd {
    /// Start file `index`, at `components` (sanitized) under the output folder.
    Start {
        index: usize,
        components: Vec<String>,
        from: From,
    },
    /// Bytes of the current file, several messages at once (one wake-up of this thread
    /// for up to [`crate::defaults::READ_BATCH`] messages), with their share of the room
    /// ahead of the disk ([`crate::defaults::WRITE_AHEAD`]), given back once written.
    Data {
        chunks: Vec<Bytes>,
        room: Option<OwnedSemaphorePermit>,
    },
    /// The current file is complete and should hash to `blake3` (hex).
    Finish { blake3: String },
}

/// What the writer reports back.
#[derive(Debug)]
pub(crate) enum WriteResult {
    /// File `index` is verified and saved at `path` (relative to the output folder).
    Saved { index: usize, path: String },
    /// Writing failed; the writer has stopped.
    Failed(Error),
}

/// A sync of the `.part` running on a thread of its own, and how many complete ranges the
/// bytes it covers hold: they go into the journal once it has succeeded.
struct Checkpoint {
    sync: JoinHandle<io::Result<()>>,
    ranges: usize,
}

struct Current {
    index: usize,
    dir: PathBuf,
    name: String,
    part: PathBuf,
    file: FileWriter,
    hasher: RangeHasher,
    /// Bytes written since the last checkpoint, and when it was.
    unsynced: u64,
    synced_at: Instant,
    /// A sync of this file failed once.
    sync_failed: bool,
    /// The checkpoint whose sync is running, if any.
    checkpoint: Option<Checkpoint>,
}

impl Current {
    fn new(
        index: usize,
        dir: PathBuf,
        name: String,
        part: PathBuf,
        file: File,
        hasher: RangeHasher,
    ) -> Self {
        Self {
            index,
            dir,
            name,
            part,
            file: FileWriter::new(file, WRITE_BUFFER),
            hasher,
            unsynced: 0,
            synced_at: Instant::now(),
            sync_failed: false,
            checkpoint: None,
        }
    }

    /// Waits for the running checkpoint's sync, if any, and records its ranges.
    fn settle(&mut self, journal: &mut Journal) -> Result<()> {
        let Some(done) = self.checkpoint.take() else {
            return Ok(());
        };
        let synced = done
            .sync
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the sync thread stopped")));
        if let Err(e) = synced {
            self.sync_failed = true;
            return Err(Error::io(&self.part, e));
        }
        journal.add_ranges(&self.hasher.cvs()[..done.ranges])
    }

    /// Hands what is written so far to the system (but a tail shorter than a disk block,
    /// which holds no complete range) and starts syncing it on a thread.
    fn checkpoint(&mut self) -> Result<()> {
        self.file
            .flush_blocks()
            .map_err(|e| Error::io(&self.part, e))?;
        let file = self
            .file
            .get_ref()
            .try_clone()
            .map_err(|e| Error::io(&self.part, e))?;
        let sync = std::thread::Builder::new()
            .name("toss-sync".into())
            .spawn(move || file.sync_data())
            .map_err(|e| Error::io(&self.part, e))?;
        self.checkpoint = Some(Checkpoint {
            sync,
            ranges: self.hasher.cvs().len(),
        });
        self.unsynced = 0;
        self.synced_at = Instant::now();
        Ok(())
    }
}

/// Owns the output folder's state for one transfer.
pub(crate) struct Sink {
    out_dir: PathBuf,
    /// Offered top-level folder name -> the folder used for it.
    roots: HashMap<String, PathBuf>,
    current: Option<Current>,
    /// A file the journal says is saved already, awaiting its `file_end`.
    reused: Option<(usize, SavedFile)>,
    /// The `.part` an earlier attempt left, until its file comes (other files may be
    /// written first, and the journal's record of it is replaced meanwhile).
    resumable: Option<Resumable>,
    journal: Journal,
}

fn exists(path: &Path) -> bool {
    // symlink_metadata: a dangling symlink still counts as taken.
    fs::symlink_metadata(path).is_ok()
}

/// `name`, then `name (1).ext`, `name (2).ext`, ...
fn candidate(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{} ({n}){}", &name[..dot], &name[dot..]),
        _ => format!("{name} ({n})"),
    }
}

fn part_name(name: &str) -> String {
    format!("{name}.part")
}

impl Sink {
    pub(crate) fn new(out_dir: PathBuf, journal: Journal) -> Self {
        Self {
            out_dir,
            roots: HashMap::new(),
            current: None,
            reused: None,
            resumable: journal.resumable(),
            journal,
        }
    }

    /// Runs the writer until the command channel closes or a write fails, then hands itself
    /// back: the caller decides whether the unfinished file is kept ([`Sink::keep`]) or
    /// removed ([`Sink::discard`]).
    pub(crate) fn run(
        mut self,
        mut cmds: mpsc::Receiver<WriteCmd>,
        results: mpsc::UnboundedSender<WriteResult>,
    ) -> Self {
        while let Some(cmd) = cmds.blocking_recv() {
            let outcome = match cmd {
                WriteCmd::Start {
                    index,
                    components,
                    from,
                } => self.start(index, &components, from).map(|_| None),
                WriteCmd::Data { chunks, room } => {
                    let written = chunks.iter().try_for_each(|bytes| self.write(bytes));
                    drop(room);
                    written.map(|_| None)
                }
                WriteCmd::Finish { blake3 } => self.finish(&blake3).map(Some),
            };
            match outcome {
                Ok(None) => {}
                Ok(Some(saved)) => {
                    let _ = results.send(saved);
                }
                Err(e) => {
                    let _ = results.send(WriteResult::Failed(e));
                    return self;
                }
            }
        }
        self
    }

    /// Every file is saved: the journal goes.
    pub(crate) fn complete(self) {
        self.journal.remove();
    }

    /// The transfer ended for good (cancelled, corrupt, refused): the unfinished `.part`
    /// and the journal go.
    pub(crate) fn discard(mut self) {
        if let Some(cur) = self.current.take() {
            // No sync outlives the transfer, even of a file about to go.
            if let Some(running) = cur.checkpoint {
                let _ = running.sync.join();
            }
            drop(cur.file);
            let _ = fs::remove_file(&cur.part);
        }
        self.journal.remove();
    }

    /// The transfer was cut off: the unfinished `.part` stays, and every complete range of
    /// it that is on disk goes into the journal, for a later resume.
    pub(crate) fn keep(mut self) {
        if let Some(mut cur) = self.current.take() {
            // A checkpoint's sync that failed marks the file (`sync_failed`).
            let _ = cur.settle(&mut self.journal);
            // On a full disk the flush fails part-way: only what reached the file counts,
            // and what is still buffered is dropped (a resume sends it again).
            let _ = cur.file.flush();
            let file = cur.file.into_file();
            // Ranges are recorded only for bytes known to be on disk: after a sync that
            // worked, and never once a sync failed (the system may not say so twice).
            if file.sync_data().is_err() || cur.sync_failed {
                return;
            }
            let on_disk = file.metadata().map(|m| m.len()).unwrap_or(0);
            let n = usize::try_from(on_disk / RANGE)
                .unwrap_or(usize::MAX)
                .min(cur.hasher.cvs().len());
            // A resume starts after the last complete range anyway; dropping the tail now
            // frees room to record the ranges on a disk that is full, and if that is not
            // enough, giving up the last range is.
            let _ = file.set_len(n as u64 * RANGE);
            if self.journal.add_ranges(&cur.hasher.cvs()[..n]).is_err() && n > 0 {
                let _ = file.set_len((n - 1) as u64 * RANGE);
                let _ = self.journal.add_ranges(&cur.hasher.cvs()[..n - 1]);
            }
        }
    }

    /// The folder a file with these components goes in, creating fresh folders as needed
    /// (or the one an earlier attempt at this transfer created).
    fn folder_for(&mut self, dirs: &[String]) -> Result<PathBuf> {
        let Some((root, rest)) = dirs.split_first() else {
            return Ok(self.out_dir.clone());
        };
        let root_dir = match self.roots.get(root) {
            Some(dir) => dir.clone(),
            None => {
                let dir = match self.journal.root(root) {
                    Some(dir) => dir,
                    None => {
                        let dir = self.create_fresh_dir(root)?;
                        self.journal.set_root(root, &dir)?;
                        dir
                    }
                };
                self.roots.insert(root.clone(), dir.clone());
                dir
            }
        };
        let mut dir = root_dir;
        for part in rest {
            dir.push(part);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                // Inside a folder this transfer created, an existing entry is our own;
                // it must still be a real folder, never a symlink or a file.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let meta = fs::symlink_metadata(&dir).map_err(|e| Error::io(&dir, e))?;
                    if !meta.is_dir() {
                        return Err(Error::Protocol(format!(
                            "the offer uses \"{part}\" both as a file and as a folder"
                        )));
                    }
                }
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        Ok(dir)
    }

    fn create_fresh_dir(&self, name: &str) -> Result<PathBuf> {
        for n in 0..=MAX_SUFFIX {
            let dir = self.out_dir.join(candidate(name, n));
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        Err(Error::Input(format!("no free name for the folder {name}")))
    }

    fn start(&mut self, index: usize, components: &[String], from: From) -> Result<()> {
        if self.current.is_some() || self.reused.is_some() {
            return Err(Error::Protocol("a file started inside another".into()));
        }
        match from {
            From::Fresh => self.start_fresh(index, components),
            From::Part => self.resume_part(index),
            From::Saved => match self.journal.held(index) {
                super::journal::Held::Saved(saved) => {
                    self.reused = Some((index, saved));
                    Ok(())
                }
                _ => Err(Error::Protocol("a file resumed that is not here".into())),
            },
        }
    }

    fn start_fresh(&mut self, index: usize, components: &[String]) -> Result<()> {
        // The sender chose to start again: an earlier attempt's `.part` goes.
        if let Some(old) = self.resumable.take_if(|r| r.index == index) {
            let _ = fs::remove_file(old.part);
        }
        let (name, dirs) = components
            .split_last()
            .ok_or_else(|| Error::Protocol("a file has an empty name".into()))?;
        let dir = self.folder_for(dirs)?;
        for n in 0..=MAX_SUFFIX {
            let name = candidate(name, n);
            if exists(&dir.join(&name)) {
                continue;
            }
            let part = dir.join(part_name(&name));
            match OpenOptions::new().write(true).create_new(true).open(&part) {
                Ok(file) => {
                    self.journal.start_part(index, &dir, &name)?;
                    self.current = Some(Current::new(
                        index,
                        dir,
                        name,
                        part,
                        file,
                        RangeHasher::default(),
                    ));
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(part, e)),
            }
        }
        Err(Error::Input(format!("no free name for {name}")))
    }

    fn resume_part(&mut self, index: usize) -> Result<()> {
        let Resumable {
            part,
            dir,
            name,
            cvs,
            ..
        } = self
            .resumable
            .take_if(|r| r.index == index)
            .ok_or_else(|| Error::Protocol("a file resumed that is not here".into()))?;
        let keep = cvs.len() as u64 * RANGE;
        let mut options = OpenOptions::new();
        options.write(true);
        // A `.part` reopened for a resume is never reached through a symlink.
        #[cfg(unix)]
        options.custom_flags(libc::O_NOFOLLOW);
        let mut file = options.open(&part).map_err(|e| Error::io(&part, e))?;
        file.set_len(keep).map_err(|e| Error::io(&part, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&part, e))?;
        self.journal.resume_part(index, &dir, &name, &cvs)?;
        self.current = Some(Current::new(
            index,
            dir,
            name,
            part,
            file,
            RangeHasher::from_cvs(cvs),
        ));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let cur = self
            .current
            .as_mut()
            .ok_or_else(|| Error::Protocol("file bytes arrived outside a file".into()))?;
        cur.hasher.update(bytes);
        cur.file
            .write_all(bytes)
            .map_err(|e| Error::io(&cur.part, e))?;
        cur.unsynced += bytes.len() as u64;
        let due = (cur.unsynced >= CHECKPOINT_BYTES && cur.synced_at.elapsed() >= CHECKPOINT_EVERY)
            || cur.unsynced >= CHECKPOINT_MOST;
        // While the last checkpoint's sync runs, writing goes on and the next one waits.
        if due
            && cur
                .checkpoint
                .as_ref()
                .is_none_or(|running| running.sync.is_finished())
        {
            cur.settle(&mut self.journal)?;
            cur.checkpoint()?;
        }
        Ok(())
    }

    fn finish(&mut self, expected: &str) -> Result<WriteResult> {
        if let Some((index, saved)) = self.reused.take() {
            if !constant_time_eq(saved.blake3.as_bytes(), expected.as_bytes()) {
                return Err(Error::Protocol(
                    "the sender's file changed after the receiver said what it holds".into(),
                ));
            }
            return Ok(WriteResult::Saved {
                index,
                path: saved.path,
            });
        }
        let mut cur = self
            .current
            .take()
            .ok_or_else(|| Error::Protocol("a file ended that never started".into()))?;
        let flushed = cur.settle(&mut self.journal).and_then(|()| {
            cur.file
                .flush()
                .and_then(|_| cur.file.get_ref().sync_data())
                .map_err(|e| Error::io(&cur.part, e))
        });
        if let Err(err) = flushed {
            // Kept for a later resume, as on any write failure.
            self.current = Some(cur);
            return Err(err);
        }
        drop(cur.file);
        let actual = cur.hasher.finalize().to_hex();
        if !constant_time_eq(actual.as_str().as_bytes(), expected.as_bytes()) {
            let _ = fs::remove_file(&cur.part);
            self.journal.drop_part();
            return Err(Error::Corrupt(cur.name));
        }
        // Marked as downloaded before it has a name anyone would open (the mark belongs to
        // the file, so the final name shares it); a disk that takes no marks still saves.
        if let Err(e) = quarantine::mark_downloaded(&cur.part, "") {
            tracing::debug!("could not mark {} as downloaded: {e}", cur.part.display());
        }
        let final_path = link_to_free_name(&cur.part, &cur.dir, &cur.name)?;
        self.journal
            .saved(cur.index, &final_path, actual.as_str())?;
        let rel = final_path
            .strip_prefix(&self.out_dir)
            .unwrap_or(&final_path)
            .to_string_lossy()
            .into_owned();
        Ok(WriteResult::Saved {
            index: cur.index,
            path: rel,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Gives `part` its final name without ever replacing an existing file: a hard link fails
/// if the name is taken, so the first free candidate wins even against a racing process.
fn link_to_free_name(part: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    for n in 0..=MAX_SUFFIX {
        let target = dir.join(candidate(name, n));
        match fs::hard_link(part, &target) {
            Ok(()) => {
                let _ = fs::remove_file(part);
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // File systems without hard links (FAT, some network shares): check, then
            // rename. The window between the two is the best such a file system allows.
            Err(_) if !exists(&target) => {
                fs::rename(part, &target).map_err(|e| Error::io(&target, e))?;
                return Ok(target);
            }
            Err(_) => continue,
        }
    }
    let _ = fs::remove_file(part);
    Err(Error::Input(format!("no free name for {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_the_extension() {
        assert_eq!(candidate("a.txt", 0), "a.txt");
        assert_eq!(candidate("a.txt", 1), "a (1).txt");
        assert_eq!(candidate("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(candidate(".bashrc", 1), ".bashrc (1)");
        assert_eq!(candidate("README", 3), "README (3)");
    }

    fn run(sink: Sink, cmds: Vec<WriteCmd>) -> Vec<WriteResult> {
        let (tx, rx) = mpsc::channel(cmds.len() + 1);
        for c in cmds {
            tx.try_send(c).expect("room");
        }
        drop(tx);
        let (rtx, mut rrx) = mpsc::unbounded_channel();
        let sink = sink.run(rx, rtx);
        let mut out = Vec::new();
        while let Ok(r) = rrx.try_recv() {
            out.push(r);
        }
        if out.iter().any(|r| matches!(r, WriteResult::Failed(_))) {
            sink.discard();
        } else {
            sink.complete();
        }
        out
    }

    fn sink(out: &Path) -> Sink {
        Sink::new(out.to_path_buf(), Journal::open(None, out, &[]))
    }

    fn file(index: usize, path: &[&str], data: &'static [u8]) -> Vec<WriteCmd> {
        vec![
            WriteCmd::Start {
                index,
                components: path.iter().map(|s| s.to_string()).collect(),
                from: From::Fresh,
            },
            WriteCmd::Data {
                chunks: vec![Bytes::from_static(data)],
                room: None,
            },
            WriteCmd::Finish {
                blake3: blake3::hash(data).to_hex().to_string(),
            },
        ]
    }

    #[cfg(unix)]
    #[test]
    fn never_overwrites_and_never_follows_a_symlink() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = tmp.path().to_path_buf();
        fs::write(out.join("a.txt"), b"old").map_err(|e| Error::io("a", e))?;
        let outside = tmp.path().join("outside-target");
        std::os::unix::fs::symlink(&outside, out.join("b.txt")).map_err(|e| Error::io("b", e))?;
        let mut cmds = file(0, &["a.txt"], b"new");
        cmds.extend(file(1, &["b.txt"], b"via link?"));
        let results = run(sink(&out), cmds);
        assert!(matches!(&results[0], WriteResult::Saved { path, .. } if path == "a (1).txt"));
        assert!(matches!(&results[1], WriteResult::Saved { path, .. } if path == "b (1).txt"));
        assert_eq!(
            fs::read(out.join("a.txt")).map_err(|e| Error::io("a", e))?,
            b"old"
        );
        assert_eq!(
            fs::read(out.join("a (1).txt")).map_err(|e| Error::io("a1", e))?,
            b"new"
        );
        assert!(!outside.exists(), "nothing written through the symlink");
        Ok(())
    }

    #[test]
    fn a_wrong_hash_leaves_no_file_behind() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let results = run(
            sink(tmp.path()),
            vec![
                WriteCmd::Start {
                    index: 0,
                    components: vec!["x.bin".into()],
                    from: From::Fresh,
                },
                WriteCmd::Data {
                    chunks: vec![Bytes::from_static(b"abc")],
                    room: None,
                },
                WriteCmd::Finish {
                    blake3: blake3::hash(b"abd").to_hex().to_string(),
                },
            ],
        );
        assert!(matches!(
            &results[0],
            WriteResult::Failed(Error::Corrupt(_))
        ));
        let left: Vec<_> = fs::read_dir(tmp.path())
            .map_err(|e| Error::io("tmp", e))?
            .collect();
        assert!(left.is_empty(), "no .part and no final file: {left:?}");
        Ok(())
    }

    #[test]
    fn an_existing_folder_gets_a_fresh_sibling() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = tmp.path().to_path_buf();
        fs::create_dir(out.join("photos")).map_err(|e| Error::io("p", e))?;
        let results = run(sink(&out), file(0, &["photos", "sub", "x.jpg"], b"jpg"));
        assert!(
            matches!(&results[0], WriteResult::Saved { path, .. } if path == "photos (1)/sub/x.jpg")
        );
        assert!(fs::read_dir(out.join("photos"))
            .map_err(|e| Error::io("p", e))?
            .next()
            .is_none());
        Ok(())
    }

    #[test]
    fn a_part_is_taken_up_after_other_files_are_written_first() -> Result<()> {
        use crate::transfer::protocol::FileEntry;
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = tmp.path().to_path_buf();
        let big: Vec<u8> = (0..(2 * RANGE + 10)).map(|i| (i % 253) as u8).collect();
        let files = vec![
            FileEntry {
                path: "changed.txt".into(),
                size: 3,
            },
            FileEntry {
                path: "big.bin".into(),
                size: big.len() as u64,
            },
        ];
        // An earlier attempt: changed.txt saved, big.bin cut off after its first range.
        let state = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let root = Some(state.path());
        let mut journal = Journal::open(root, &out, &files);
        journal.saved(0, &out.join("changed.txt"), "old-hash")?;
        fs::write(out.join("changed.txt"), b"old").map_err(|e| Error::io("c", e))?;
        fs::write(out.join("big.bin.part"), &big[..(RANGE + 5) as usize])
            .map_err(|e| Error::io("p", e))?;
        journal.start_part(1, &out, "big.bin")?;
        let mut first = RangeHasher::default();
        first.update(&big[..RANGE as usize]);
        journal.add_ranges(first.cvs())?;

        // The sender's changed.txt is not what was saved: it comes again, fresh, before
        // big.bin resumes after its first range.
        let journal = Journal::open(root, &out, &files);
        let mut cmds = file(0, &["changed.txt"], b"new");
        cmds.extend([
            WriteCmd::Start {
                index: 1,
                components: vec!["big.bin".into()],
                from: From::Part,
            },
            WriteCmd::Data {
                chunks: vec![Bytes::copy_from_slice(&big[RANGE as usize..])],
                room: None,
            },
            WriteCmd::Finish {
                blake3: blake3::hash(&big).to_hex().to_string(),
            },
        ]);
        let results = run(Sink::new(out.clone(), journal), cmds);
        assert!(
            matches!(&results[0], WriteResult::Saved { path, .. } if path == "changed (1).txt"),
            "{results:?}"
        );
        assert!(
            matches!(&results[1], WriteResult::Saved { path, .. } if path == "big.bin"),
            "{results:?}"
        );
        assert_eq!(
            fs::read(out.join("big.bin")).map_err(|e| Error::io("b", e))?,
            big
        );
        assert!(!out.join("big.bin.part").exists());
        Ok(())
    }
}
