//! What the integration tests of the Toss crates share, so that no test crate copies a
//! helper from another: the real `toss-signal` server (in process, or its binary as a child
//! process), random data, commands that must succeed, processes that die with the test, the
//! root check and network namespaces, free ports, coturn's command line, the `--json` events
//! that `toss` prints, the raw messages of a hostile peer, real browsers under WebDriver
//! for the web peer, a slow disk for one process (a cgroup's write cap), and two homes
//! behind NATs with a VPS made of the deploy files (Linux).
//!
//! A dev-dependency only (`publish = false`): it never reaches a release. It fakes no part of
//! Toss; every server it starts is the real one. Paths to the workspace's binaries
//! (`env!("CARGO_BIN_EXE_toss")`) exist only in the crate that owns them, so the tests pass
//! them in.

#[cfg(target_os = "linux")]
pub mod browser;
#[cfg(target_os = "linux")]
pub mod browser_extra;
pub mod coturn;
pub mod data;
pub mod hostile;
pub mod json;
pub mod netns;
pub mod ports;
pub mod process;
pub mod signal;
#[cfg(target_os = "linux")]
pub mod throttle;
#[cfg(target_os = "linux")]
pub mod vps;

/// What a helper returns: `?` in a test turns any error into its failure.
pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What a test returns.
pub type TestResult = AnyResult<()>;
