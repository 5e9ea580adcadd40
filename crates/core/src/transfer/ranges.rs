//! A file's BLAKE3 hash computed range by range: every aligned [`RANGE`] of the file is
//! hashed as its own BLAKE3 subtree, and the subtrees' chaining values merge into exactly
//! the hash `blake3::hash` gives for the whole file.
//!
//! That is what makes resuming cheap: a receiver keeps the chaining values of the ranges
//! it has on disk (32 bytes per range, beside the `.part` file) and picks up the hash where
//! it stopped without reading the file again; both sides compare a prefix by its
//! [`prefix_digest`].

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};

/// Bytes per range: a power of two, so that every range starts a valid BLAKE3 subtree.
pub(crate) const RANGE: u64 = 4 * 1024 * 1024;

/// Hashes a file's bytes as they come, range by range.
#[derive(Clone)]
pub(crate) struct RangeHasher {
    /// Chaining values of the complete ranges so far.
    cvs: Vec<ChainingValue>,
    /// The range being filled.
    current: blake3::Hasher,
    /// Bytes in `current`.
    filled: u64,
    /// Root hash of the first range, kept for a file of exactly one range.
    first_root: Option<blake3::Hash>,
}

impl Default for RangeHasher {
    fn default() -> Self {
        Self::from_cvs(Vec::new())
    }
}

impl RangeHasher {
    /// Continues after `cvs.len()` complete ranges whose chaining values are known.
    pub(crate) fn from_cvs(cvs: Vec<ChainingValue>) -> Self {
        let mut current = blake3::Hasher::new();
        current.set_input_offset(cvs.len() as u64 * RANGE);
        Self {
            cvs,
            current,
            filled: 0,
            first_root: None,
        }
    }

    /// Bytes hashed so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.cvs.len() as u64 * RANGE + self.filled
    }

    /// Chaining values of the complete ranges.
    pub(crate) fn cvs(&self) -> &[ChainingValue] {
        &self.cvs
    }

    /// Hashes the next bytes of the file.
    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = usize::try_from(RANGE - self.filled).unwrap_or(usize::MAX);
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.current.update(now);
            self.filled += now.len() as u64;
            bytes = rest;
            if self.filled == RANGE {
                if self.cvs.is_empty() {
                    self.first_root = Some(self.current.finalize());
                }
                self.cvs.push(self.current.finalize_non_root());
                self.current = blake3::Hasher::new();
                self.current.set_input_offset(self.cvs.len() as u64 * RANGE);
                self.filled = 0;
            }
        }
    }

    /// Takes a whole range hashed elsewhere (`cv`, and for the first range its `root`), at a
    /// range boundary: what [`RangeHasher::update`] would have made of its bytes.
    pub(crate) fn push_range(&mut self, cv: ChainingValue, root: Option<blake3::Hash>) {
        debug_assert_eq!(self.filled, 0, "a range is taken at a range boundary");
        if self.cvs.is_empty() {
            self.first_root = root;
        }
        self.cvs.push(cv);
        self.current = blake3::Hasher::new();
        self.current.set_input_offset(self.cvs.len() as u64 * RANGE);
    }

    /// The whole file's BLAKE3 hash, once every byte has been hashed.
    pub(crate) fn finalize(&self) -> blake3::Hash {
        match (self.cvs.len(), self.filled) {
            // Within the first range the hasher is an ordinary one.
            (0, _) => self.current.finalize(),
            (1, 0) => self.first_root.unwrap_or_else(|| merge(&self.cvs, None)),
            (_, 0) => merge(&self.cvs, None),
            _ => merge(&self.cvs, Some(self.current.finalize_non_root())),
        }
    }
}

/// Range `index` of a file hashed on its own: its chaining value, and for the first range
/// its root hash too (the whole file's hash when the file is exactly that range).
pub(crate) fn hash_range(
    blocks: &[bytes::Bytes],
    index: u64,
) -> (ChainingValue, Option<blake3::Hash>) {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * RANGE);
    for block in blocks {
        hasher.update(block);
    }
    let root = (index == 0).then(|| hasher.finalize());
    (hasher.finalize_non_root(), root)
}

/// The root hash from the chaining values of complete ranges and, maybe, a partial last one
/// (at least two subtrees in all).
fn merge(cvs: &[ChainingValue], last: Option<ChainingValue>) -> blake3::Hash {
    let mut all = cvs.to_vec();
    all.extend(last);
    let (left, right) = split(&all);
    merge_subtrees_root(&node(left), &node(right), Mode::Hash)
}

/// BLAKE3's tree: the left subtree holds the largest power of two of ranges that leaves
/// something on the right.
fn split(cvs: &[ChainingValue]) -> (&[ChainingValue], &[ChainingValue]) {
    let left = (cvs.len() - 1).next_power_of_two().max(1);
    let left = if left >= cvs.len() { left / 2 } else { left };
    cvs.split_at(left)
}

fn node(cvs: &[ChainingValue]) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let (left, right) = split(cvs);
    merge_subtrees_non_root(&node(left), &node(right), Mode::Hash)
}

/// Names a prefix of complete ranges: both sides compute it, so a receiver can say what it
/// has and the sender can check that its file still starts that way.
pub(crate) fn prefix_digest(cvs: &[ChainingValue]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"toss range prefix v1");
    h.update(&(cvs.len() as u64).to_le_bytes());
    for cv in cvs {
        h.update(cv);
    }
    h.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: u64) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect()
    }

    #[test]
    fn range_hashes_merge_into_the_plain_hash() {
        let r = RANGE;
        for len in [
            0,
            1,
            1023,
            1024,
            r - 1,
            r,
            r + 1,
            2 * r,
            2 * r + 1024,
            3 * r,
            3 * r + 7,
            4 * r,
            5 * r - 1,
            8 * r + 1,
        ] {
            let bytes = data(len);
            let mut h = RangeHasher::default();
            // Odd piece sizes, so that pieces straddle range boundaries.
            for piece in bytes.chunks(1_000_003) {
                h.update(piece);
            }
            assert_eq!(h.len(), len);
            assert_eq!(h.finalize(), blake3::hash(&bytes), "length {len}");
        }
    }

    #[test]
    fn ranges_hashed_elsewhere_make_the_same_hash() {
        for len in [RANGE, RANGE + 5, 3 * RANGE, 3 * RANGE + 4097] {
            let bytes = data(len);
            let mut hasher = RangeHasher::default();
            let whole = usize::try_from(len / RANGE).expect("fits");
            for (i, range) in bytes.chunks(RANGE as usize).take(whole).enumerate() {
                let blocks = [bytes::Bytes::copy_from_slice(range)];
                let (cv, root) = hash_range(&blocks, i as u64);
                hasher.push_range(cv, root);
            }
            hasher.update(&bytes[whole * RANGE as usize..]);
            assert_eq!(hasher.finalize(), blake3::hash(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn a_hash_picks_up_from_saved_chaining_values() {
        let bytes = data(5 * RANGE + 12_345);
        let mut first = RangeHasher::default();
        first.update(&bytes[..(3 * RANGE + 99) as usize]);
        let kept = first.cvs().to_vec();
        assert_eq!(kept.len(), 3);
        let mut resumed = RangeHasher::from_cvs(kept.clone());
        resumed.update(&bytes[(3 * RANGE) as usize..]);
        assert_eq!(resumed.finalize(), blake3::hash(&bytes));
        assert_eq!(prefix_digest(&kept), prefix_digest(&resumed.cvs()[..3]));
        assert_ne!(prefix_digest(&kept), prefix_digest(&kept[..2]));
    }
}
