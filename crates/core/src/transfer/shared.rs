//! Blocks read and hashed once for several receivers of the same files (a group send).
//!
//! Each receiver's reader asks for a file's ranges (4 MiB, the unit the hash is built from)
//! in order. The first to ask for a range reads it from disk and hashes it; the others get
//! the same blocks (`Bytes`, shared, not copied) and the range's chaining value. Only the
//! last few ranges are kept, so memory stays bounded however many receivers there are: a
//! receiver that fell further behind (a slow disk on its side) reads on its own, and holds
//! nobody back. A range being read by one reader is waited for by another that wants it,
//! which is the time of one disk read.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use blake3::hazmat::ChainingValue;
use bytes::Bytes;

use crate::error::Result;

/// Ranges kept for readers close behind the first: 16 MiB.
const KEPT: usize = 4;

/// One range of a file: its blocks, in order, and its hash as a subtree.
#[derive(Debug)]
pub(crate) struct Range {
    pub(crate) blocks: Vec<Bytes>,
    /// The range's chaining value.
    pub(crate) cv: ChainingValue,
    /// The root hash of the first range, for a file that is exactly one range.
    pub(crate) root: Option<blake3::Hash>,
}

#[derive(Debug)]
enum Slot {
    /// One reader is reading it; the others wait.
    Reading,
    Ready(Arc<Range>),
}

type Key = (usize, u64);

/// The ranges read lately, shared by every receiver's reader of one send.
#[derive(Debug, Default)]
pub(crate) struct SharedReads {
    slots: Mutex<VecDeque<(Key, Slot)>>,
    changed: Condvar,
}

/// Takes a range's `Reading` mark away if its reader failed (or panicked), so that the
/// readers waiting for it read it themselves.
struct Unmark<'a> {
    reads: &'a SharedReads,
    key: Key,
    armed: bool,
}

impl Drop for Unmark<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut slots = self.reads.lock();
            slots.retain(|(k, slot)| !(*k == self.key && matches!(slot, Slot::Reading)));
            drop(slots);
            self.reads.changed.notify_all();
        }
    }
}

impl SharedReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Key, Slot)>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Range `index` of file `file`: kept from another reader, or read now with `read`
    /// (and kept for the others). Blocking: called on a reader's thread.
    ///
    /// # Errors
    /// What `read` failed with; a reader that waited for it then reads on its own.
    pub(crate) fn range(
        &self,
        file: usize,
        index: u64,
        read: impl FnOnce() -> Result<Range>,
    ) -> Result<Arc<Range>> {
        let key = (file, index);
        let mut slots = self.lock();
        loop {
            match slots.iter().find(|(k, _)| *k == key).map(|(_, slot)| slot) {
                Some(Slot::Ready(range)) => return Ok(range.clone()),
                Some(Slot::Reading) => {
                    slots = self
                        .changed
                        .wait(slots)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                None => break,
            }
        }
        slots.push_back((key, Slot::Reading));
        drop(slots);
        let mut unmark = Unmark {
            reads: self,
            key,
            armed: true,
        };
        let range = Arc::new(read()?);
        unmark.armed = false;
        let mut slots = self.lock();
        for (k, slot) in slots.iter_mut() {
            if *k == key {
                *slot = Slot::Ready(range.clone());
            }
        }
        // The oldest ready ranges go first; ranges being read stay.
        while slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Ready(_)))
            .count()
            > KEPT
        {
            if let Some(i) = slots.iter().position(|(_, s)| matches!(s, Slot::Ready(_))) {
                slots.remove(i);
            }
        }
        drop(slots);
        self.changed.notify_all();
        Ok(range)
    }

    /// Ranges held now (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn range(byte: u8) -> Range {
        Range {
            blocks: vec![Bytes::from(vec![byte; 8])],
            cv: [byte; 32],
            root: None,
        }
    }

    #[test]
    fn readers_moving_together_read_each_range_once_and_memory_stays_bounded() {
        let reads = Arc::new(SharedReads::default());
        let disk = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (reads, disk) = (reads.clone(), disk.clone());
                std::thread::spawn(move || {
                    // No more ranges than are kept: however the threads are scheduled,
                    // none can fall so far behind that its range is gone.
                    (0..4u8)
                        .map(|i| {
                            let r = reads.range(0, u64::from(i), || {
                                disk.fetch_add(1, Ordering::SeqCst);
                                // Slow enough that the others ask while it is read.
                                std::thread::sleep(std::time::Duration::from_millis(20));
                                Ok(range(i))
                            });
                            r.map(|r| r.cv[0])
                        })
                        .collect::<Result<Vec<u8>>>()
                })
            })
            .collect();
        for r in readers {
            let got = r.join().expect("a reader").expect("its ranges");
            assert_eq!(got, (0..4).collect::<Vec<u8>>());
        }
        // Four readers, four ranges: each read from disk once, the others waited for it.
        assert_eq!(disk.load(Ordering::SeqCst), 4);
        assert!(reads.kept() <= KEPT);
    }

    #[test]
    fn a_reader_far_behind_reads_on_its_own_and_a_failed_read_is_read_again() {
        let reads = SharedReads::default();
        let mut disk = 0;
        for i in 0..10 {
            reads
                .range(0, i, || {
                    disk += 1;
                    Ok(range(0))
                })
                .expect("read");
        }
        // The first ranges are gone: a reader that starts now reads them itself.
        let mut again = 0;
        reads
            .range(0, 0, || {
                again += 1;
                Ok(range(0))
            })
            .expect("read");
        assert_eq!((disk, again), (10, 1));
        let failed = reads.range(1, 0, || {
            Err(crate::error::Error::Input("the disk said no".into()))
        });
        assert!(failed.is_err());
        let mut read_afresh = false;
        reads
            .range(1, 0, || {
                read_afresh = true;
                Ok(range(1))
            })
            .expect("a second reader's own read");
        assert!(read_afresh, "a failed read leaves no mark behind");
    }
}
