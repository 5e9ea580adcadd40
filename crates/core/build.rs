//! Build script of `toss-core`: a release may bake in its own signaling server with
//! `TOSS_DEFAULT_SERVER=wss://... cargo build` (or `make package`), read by
//! `defaults::BAKED_SIGNAL_URL` through `option_env!`. Here it is only checked, by the rule
//! the settings use, so that a mistyped address fails the build instead of shipping; and a
//! change of the variable rebuilds the crate.

#[allow(dead_code, unreachable_pub)]
#[path = "src/server_url.rs"]
mod server_url;

fn main() {
    println!("cargo:rerun-if-env-changed=TOSS_DEFAULT_SERVER");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/server_url.rs");
    let Ok(url) = std::env::var("TOSS_DEFAULT_SERVER") else {
        return;
    };
    if url.trim().is_empty() {
        return;
    }
    if let Err(e) = server_url::check_server_url(&url) {
        eprintln!("TOSS_DEFAULT_SERVER: {e}");
        std::process::exit(1);
    }
}
