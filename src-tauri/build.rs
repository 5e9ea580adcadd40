//! Build script of the desktop shell: lets Tauri generate its context from the top-level
//! `tauri.conf.json` (reached through the `src-tauri/tauri.conf.json` symlink).

fn main() {
    println!("cargo:rerun-if-changed=../tauri.conf.json");
    println!("cargo:rerun-if-changed=../ui");
    tauri_build::build();
}
