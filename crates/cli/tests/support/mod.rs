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

/// Reads `--json` lines until a progress event says `at_least` file bytes arrived, and not
/// all of them; returns the count it said. Ends the test when the process ends first, or
/// nothing of the kind comes within `limit`.
pub(crate) fn wait_for_bytes(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    at_least: u64,
    limit: std::time::Duration,
) -> AnyResult<u64> {
    let start = std::time::Instant::now();
    loop {
        let line = lines.next().ok_or("the receiver ended early")??;
        let event: serde_json::Value = serde_json::from_str(&line)?;
        if event["event"] == "progress" {
            let bytes = event["bytes"].as_u64().unwrap_or(0);
            if bytes >= at_least {
                assert!(
                    event["bytes"].as_u64() < event["total"].as_u64(),
                    "everything arrived before the test could act mid-transfer: {event}"
                );
                return Ok(bytes);
            }
        }
        assert!(start.elapsed() < limit, "no progress");
    }
}
