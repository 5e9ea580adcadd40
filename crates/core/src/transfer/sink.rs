//! The receiver's disk side, run on a blocking thread: writes each file to `NAME.part`
//! (created exclusively, so never through a symlink), hashes while writing, and after the
//! hash checks links it to a final name that did not exist (`name (1).ext`), so nothing is
//! ever overwritten. Failures remove the `.part` file.
//!
//! Trusts nothing it is given: names arrive already sanitized, and every path it creates
//! is a child of the output folder or of a folder it created there itself.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Most ` (N)` suffixes tried before giving up on a name.
const MAX_SUFFIX: u32 = 9_999;

/// Write buffer per file: fewer system calls than one per 16 KiB chunk.
const WRITE_BUFFER: usize = 1024 * 1024;

/// What the protocol loop asks of the writer.
#[derive(Debug)]
pub(crate) enum WriteCmd {
    /// Start file `index`, at `components` (sanitized) under the output folder.
    Start {
        index: usize,
        components: Vec<String>,
    },
    /// Bytes of the current file, several messages at once (one wake-up of this thread
    /// for up to [`crate::defaults::READ_BATCH`] messages).
    Data(Vec<Bytes>),
    /// The current file is complete and should hash to `blake3` (hex).
    Finish { blake3: String },
}

/// What the writer reports back.
#[derive(Debug)]
pub(crate) enum WriteResult {
    /// File `index` is verified and saved at `path` (relative to the output folder).
    Saved { index: usize, path: String },
    /// Writing failed; the writer has stopped and cleaned up.
    Failed(Error),
}

struct Current {
    index: usize,
    dir: PathBuf,
    name: String,
    part: PathBuf,
    file: BufWriter<File>,
    hasher: blake3::Hasher,
}

/// Owns the output folder's state for one transfer.
pub(crate) struct Sink {
    out_dir: PathBuf,
    /// Offered top-level folder name -> the fresh folder created for it.
    roots: HashMap<String, PathBuf>,
    current: Option<Current>,
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
    pub(crate) fn new(out_dir: PathBuf) -> Self {
        Self {
            out_dir,
            roots: HashMap::new(),
            current: None,
        }
    }

    /// Runs the writer until the command channel closes; cleans up an unfinished file.
    pub(crate) fn run(
        mut self,
        mut cmds: mpsc::Receiver<WriteCmd>,
        results: mpsc::UnboundedSender<WriteResult>,
    ) {
        while let Some(cmd) = cmds.blocking_recv() {
            let outcome = match cmd {
                WriteCmd::Start { index, components } => {
                    self.start(index, &components).map(|_| None)
                }
                WriteCmd::Data(chunks) => chunks
                    .iter()
                    .try_for_each(|bytes| self.write(bytes))
                    .map(|_| None),
                WriteCmd::Finish { blake3 } => self.finish(&blake3).map(Some),
            };
            match outcome {
                Ok(None) => {}
                Ok(Some(saved)) => {
                    let _ = results.send(saved);
                }
                Err(e) => {
                    self.abort();
                    let _ = results.send(WriteResult::Failed(e));
                    return;
                }
            }
        }
        self.abort();
    }

    /// Removes the unfinished `.part` file, if any.
    fn abort(&mut self) {
        if let Some(cur) = self.current.take() {
            drop(cur.file);
            let _ = fs::remove_file(&cur.part);
        }
    }

    /// The folder a file with these components goes in, creating fresh folders as needed.
    fn folder_for(&mut self, dirs: &[String]) -> Result<PathBuf> {
        let Some((root, rest)) = dirs.split_first() else {
            return Ok(self.out_dir.clone());
        };
        let root_dir = match self.roots.get(root) {
            Some(dir) => dir.clone(),
            None => {
                let dir = self.create_fresh_dir(root)?;
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

    fn start(&mut self, index: usize, components: &[String]) -> Result<()> {
        self.abort();
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
                    self.current = Some(Current {
                        index,
                        dir,
                        name,
                        part,
                        file: BufWriter::with_capacity(WRITE_BUFFER, file),
                        hasher: blake3::Hasher::new(),
                    });
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(part, e)),
            }
        }
        Err(Error::Input(format!("no free name for {name}")))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let cur = self
            .current
            .as_mut()
            .ok_or_else(|| Error::Protocol("file bytes arrived outside a file".into()))?;
        cur.hasher.update(bytes);
        cur.file
            .write_all(bytes)
            .map_err(|e| Error::io(&cur.part, e))
    }

    fn finish(&mut self, expected: &str) -> Result<WriteResult> {
        let mut cur = self
            .current
            .take()
            .ok_or_else(|| Error::Protocol("a file ended that never started".into()))?;
        let flushed = cur
            .file
            .flush()
            .and_then(|_| cur.file.get_ref().sync_data());
        if let Err(e) = flushed {
            let _ = fs::remove_file(&cur.part);
            return Err(Error::io(&cur.part, e));
        }
        drop(cur.file);
        let actual = cur.hasher.finalize().to_hex();
        if !constant_time_eq(actual.as_str().as_bytes(), expected.as_bytes()) {
            let _ = fs::remove_file(&cur.part);
            return Err(Error::Corrupt(cur.name));
        }
        let final_path = link_to_free_name(&cur.part, &cur.dir, &cur.name)?;
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
        sink.run(rx, rtx);
        let mut out = Vec::new();
        while let Ok(r) = rrx.try_recv() {
            out.push(r);
        }
        out
    }

    fn file(index: usize, path: &[&str], data: &'static [u8]) -> Vec<WriteCmd> {
        vec![
            WriteCmd::Start {
                index,
                components: path.iter().map(|s| s.to_string()).collect(),
            },
            WriteCmd::Data(vec![Bytes::from_static(data)]),
            WriteCmd::Finish {
                blake3: blake3::hash(data).to_hex().to_string(),
            },
        ]
    }

    #[test]
    fn never_overwrites_and_never_follows_a_symlink() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = tmp.path().to_path_buf();
        fs::write(out.join("a.txt"), b"old").map_err(|e| Error::io("a", e))?;
        let outside = tmp.path().join("outside-target");
        std::os::unix::fs::symlink(&outside, out.join("b.txt")).map_err(|e| Error::io("b", e))?;
        let mut cmds = file(0, &["a.txt"], b"new");
        cmds.extend(file(1, &["b.txt"], b"via link?"));
        let results = run(Sink::new(out.clone()), cmds);
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
            Sink::new(tmp.path().to_path_buf()),
            vec![
                WriteCmd::Start {
                    index: 0,
                    components: vec!["x.bin".into()],
                },
                WriteCmd::Data(vec![Bytes::from_static(b"abc")]),
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
        let results = run(
            Sink::new(out.clone()),
            file(0, &["photos", "sub", "x.jpg"], b"jpg"),
        );
        assert!(
            matches!(&results[0], WriteResult::Saved { path, .. } if path == "photos (1)/sub/x.jpg")
        );
        assert!(fs::read_dir(out.join("photos"))
            .map_err(|e| Error::io("p", e))?
            .next()
            .is_none());
        Ok(())
    }
}
