//! Data for tests to send: random bytes and files, and what a folder holds afterwards.
//! Random, not a pattern, so that a file put together from the wrong pieces never matches.

use std::io;
use std::path::Path;

use rand::RngCore;

/// `len` random bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut data);
    data
}

/// Writes `len` random bytes to `path` and returns them.
///
/// # Errors
///
/// When the file cannot be written.
pub fn random_file(path: &Path, len: usize) -> io::Result<Vec<u8>> {
    let data = random_bytes(len);
    std::fs::write(path, &data)?;
    Ok(data)
}

/// The names of what `dir` holds (not below it), sorted.
///
/// # Errors
///
/// When `dir` cannot be read.
pub fn names_in(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}
