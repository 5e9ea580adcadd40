//! What a hostile peer sends over the data channel once the genuine handshake is done: the
//! transfer protocol's messages, written as raw JSON (not through the wire types) so that a
//! test can say anything a liar could.

use serde_json::json;

/// An `offer` of `files` (path, size) from a device called `device`.
pub fn offer(device: &str, files: &[(&str, u64)]) -> String {
    let files: Vec<_> = files
        .iter()
        .map(|(path, size)| json!({"path": path, "size": size}))
        .collect();
    json!({"v": 1, "type": "offer", "device": device, "files": files}).to_string()
}

/// `file_start`: the bytes of file `index` follow, from `offset` on.
pub fn file_start(index: usize, offset: u64) -> String {
    json!({"v": 1, "type": "file_start", "index": index, "offset": offset}).to_string()
}

/// `file_end`: file `index` is complete, and `blake3` (hex) is the hash of all of it.
pub fn file_end(index: usize, blake3: &str) -> String {
    json!({"v": 1, "type": "file_end", "index": index, "blake3": blake3}).to_string()
}
