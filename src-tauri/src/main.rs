//! The `toss-desktop` binary: everything lives in the library.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    toss_desktop::run();
}
