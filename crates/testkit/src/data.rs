//! Data for tests to send: random bytes and files, and what a folder holds afterwards.
//! Random, not a pattern, so that a file put together from the wrong pieces never matches.

use std::io::{self, Read, Write};
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

/// Writes `size` random bytes to `path`, 8 MiB at a time: a 1 GiB file never sits in
/// memory.
///
/// # Errors
///
/// When the file cannot be written.
pub fn large_random_file(path: &Path, size: u64) -> io::Result<()> {
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = size;
    while left > 0 {
        let n = left.min(8 << 20);
        file.write_all(&random_bytes(n as usize))?;
        left -= n;
    }
    file.flush()
}

/// Whether the files `a` and `b` hold the same bytes, read 8 MiB at a time.
///
/// # Errors
///
/// When either cannot be read.
pub fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    if std::fs::metadata(a)?.len() != std::fs::metadata(b)?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut x, mut y) = (vec![0u8; 8 << 20], vec![0u8; 8 << 20]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
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
