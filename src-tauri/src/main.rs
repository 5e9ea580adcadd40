//! The `toss-desktop` binary: everything lives in the library.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc, as the `toss` command: the WebRTC stack allocates and frees small buffers for
/// every datagram, often on different threads, where glibc's arenas contend.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    toss_desktop::run();
}
