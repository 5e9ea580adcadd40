//! The receiver's file writer: a buffer of whole blocks written with direct I/O where the
//! system and the file system allow it (Linux `O_DIRECT`), so that the bytes go from this
//! buffer to the disk without being copied into the page cache first. That copy, and the
//! file system's work on each cached page, cost the receiver more CPU than decrypting the
//! same bytes. A file's last few bytes, and every write where direct I/O is refused, go
//! through the page cache as usual.
//!
//! Direct I/O says nothing about durability: the sink still syncs at each checkpoint and
//! before a file gets its final name.

use std::fs::File;
use std::io::{self, Write};

/// Alignment of direct writes: of the buffer's address, the file offset and the length.
/// 4096 covers every common block size.
const ALIGN: usize = 4096;

/// A file opened for writing at an offset that is a multiple of [`ALIGN`] (0, or a resume
/// point, which is a whole number of 4 MiB ranges), with its write buffer.
pub(crate) struct FileWriter {
    file: File,
    /// Room for `capacity + ALIGN` bytes, never reallocated; the buffered bytes start at
    /// `start` (aligned, after zeros) and run to its end. Filled by appending, so that no
    /// file pays for zeroing a whole buffer it may barely use.
    storage: Vec<u8>,
    start: usize,
    capacity: usize,
    /// Writes bypass the page cache.
    direct: bool,
}

impl FileWriter {
    /// Wraps `file` with a buffer of `capacity` bytes (a multiple of [`ALIGN`]) and turns
    /// direct I/O on where it can.
    pub(crate) fn new(file: File, capacity: usize) -> Self {
        let capacity = capacity.next_multiple_of(ALIGN);
        let mut storage: Vec<u8> = Vec::with_capacity(capacity + ALIGN);
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        storage.resize(start, 0);
        let direct = set_direct(&file, true);
        Self {
            file,
            storage,
            start,
            capacity,
            direct,
        }
    }

    /// Bytes buffered, not yet written.
    fn len(&self) -> usize {
        self.storage.len() - self.start
    }

    pub(crate) fn get_ref(&self) -> &File {
        &self.file
    }

    /// Buffers `bytes`, writing out each block that fills.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = (self.capacity - self.len()).min(bytes.len());
            self.storage.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.len() == self.capacity {
                self.write_out(self.capacity)?;
            }
        }
        Ok(())
    }

    /// Writes out everything but, with direct I/O, a tail shorter than [`ALIGN`], which
    /// stays buffered: what is in the file then ends on a block boundary.
    pub(crate) fn flush_blocks(&mut self) -> io::Result<()> {
        let len = self.len();
        let n = if self.direct { len - len % ALIGN } else { len };
        self.write_out(n)
    }

    /// Writes out everything, the tail through the page cache: for the end of a file.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.flush_blocks()?;
        if self.len() > 0 {
            self.buffered()?;
            self.write_out(self.len())?;
        }
        Ok(())
    }

    /// The file, with what is still buffered dropped.
    pub(crate) fn into_file(self) -> File {
        self.file
    }

    /// Writes the first `n` buffered bytes and keeps the rest at the buffer's start. On an
    /// error, what was written is gone from the buffer and the rest stays.
    fn write_out(&mut self, n: usize) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == n {
                break Ok(());
            }
            let chunk = &self.storage[self.start + done..self.start + n];
            match self.file.write(chunk) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The file system takes no direct write here (or a short write left the
                // next one unaligned): the page cache it is, for the rest of this file.
                Err(e) if self.direct && e.raw_os_error() == Some(EINVAL) => {
                    if let Err(e) = self.buffered() {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.storage.drain(self.start..self.start + done);
        result
    }

    /// Turns direct I/O off for the rest of this file.
    fn buffered(&mut self) -> io::Result<()> {
        if self.direct {
            if !set_direct(&self.file, false) {
                return Err(io::Error::other("could not leave direct I/O"));
            }
            self.direct = false;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

/// Turns `O_DIRECT` on or off for `file`; false where the system or file system refuses.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL and F_SETFL on a descriptor this `File` owns; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let flags = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, flags) == 0
    }
}

/// Direct I/O is used on Linux only; elsewhere every write goes through the page cache.
#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, on: bool) -> bool {
    !on
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    // Odd-sized writes across several blocks, a flush of whole blocks in the middle (a
    // checkpoint) and a final flush: the file holds exactly the bytes, in order.
    fn writes_every_byte_in_order(direct: bool) -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.part");
        let data = pattern(3 * 65536 + 12345);
        let mut w = FileWriter::new(File::create(&path)?, 65536);
        if !direct {
            w.buffered()?;
        } else if !w.direct {
            eprintln!("SKIPPED: the file system under {dir:?} takes no direct I/O");
            return Ok(());
        }
        let mut at = 0;
        for (i, size) in [1usize, 4095, 16384, 70000, 3, 65536]
            .iter()
            .cycle()
            .enumerate()
        {
            if at == data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            w.write_all(&data[at..end])?;
            at = end;
            if i == 3 {
                w.flush_blocks()?;
                let on_disk = w.get_ref().metadata()?.len() as usize;
                if direct {
                    assert_eq!(on_disk % ALIGN, 0, "a checkpoint leaves whole blocks");
                    assert!(
                        at - on_disk < ALIGN,
                        "only a tail shorter than a block stays"
                    );
                } else {
                    assert_eq!(on_disk, at, "without direct I/O everything is written");
                }
            }
        }
        assert_eq!(w.direct, direct, "no write was refused on the way");
        w.flush()?;
        drop(w);
        assert_eq!(std::fs::read(&path)?, data);
        Ok(())
    }

    #[test]
    fn writes_every_byte_in_order_with_direct_io() -> io::Result<()> {
        writes_every_byte_in_order(true)
    }

    #[test]
    fn writes_every_byte_in_order_through_the_page_cache() -> io::Result<()> {
        writes_every_byte_in_order(false)
    }
}
