//! The CLI's integration tests take their helpers from `toss-testkit`; this binds them to
//! this crate's binaries, which only this crate can find (`env!("CARGO_BIN_EXE_toss")`).
//! Each test file takes what it needs (`mod support;`).

#![allow(dead_code)]

use std::path::PathBuf;

use toss_testkit::signal::SignalProcess;
use toss_testkit::AnyResult;

/// A binary of this workspace, built next to `toss` (`toss-signal` is built there by
/// `cargo build --workspace --bins`).
pub(crate) fn bin(name: &str) -> PathBuf {
    toss_testkit::process::sibling(env!("CARGO_BIN_EXE_toss"), name)
}

/// A `toss-signal` process on a free loopback port, killed when dropped.
pub(crate) fn signal() -> AnyResult<SignalProcess> {
    SignalProcess::start(&bin("toss-signal"))
}
