//! `toss-wire`: everything Toss parses from a stranger, kept apart from all I/O so that it
//! can be fuzzed on its own: the signaling protocol (`signal`), the transfer protocol's
//! control messages (`transfer`), the sanitizing of received file names (`names`) and the
//! cleaning of any text a stranger sends before it is shown (`text`).
//!
//! The lowest layer: the server, the engine and the fuzz targets build on it.

pub mod names;
pub mod signal;
pub mod text;
pub mod transfer;

/// For the property tests: strings of `n` random picks from `pieces`, up to `longest` each,
/// from a small deterministic generator (xorshift), so that they need no crate and every
/// run sees the same cases; the fuzz targets explore further.
#[cfg(test)]
pub(crate) fn random_strings<T: std::fmt::Display + Copy>(
    pieces: &'static [T],
    longest: u64,
    seed: u64,
    n: usize,
) -> impl Iterator<Item = String> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n).map(move |_| {
        let len = next() % longest;
        (0..len)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize].to_string())
            .collect()
    })
}
