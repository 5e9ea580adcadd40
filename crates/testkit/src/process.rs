//! Other programs in a test: commands that must succeed, child processes that die with the
//! test, bounded waits, and where a program or a sibling binary is.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use crate::AnyResult;

/// How often a bounded wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// Runs `args[0]` with the rest.
///
/// # Errors
///
/// When it cannot start or fails; the error names the command and says what it printed.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> AnyResult<()> {
    let shown = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let Some((program, rest)) = args.split_first() else {
        return Err("run: no command".into());
    };
    let out = match Command::new(program).args(rest).output() {
        Ok(out) => out,
        Err(e) => return Err(format!("{shown}: {e}").into()),
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        )
        .into())
    }
}

/// Where `program` is on the `PATH`, if it is.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The workspace binary `name`, built into the same folder as `exe` (a test passes its own
/// crate's `env!("CARGO_BIN_EXE_...")`: only that crate can read it).
///
/// # Panics
///
/// When it has not been built, saying how to build it.
pub fn sibling(exe: &str, name: &str) -> PathBuf {
    let path = Path::new(exe).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with cargo build --workspace --bins",
        path.display()
    );
    path
}

/// Whether this process runs as root (which network namespaces and mounts need).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The first line of a test that needs root, ignored as `"needs root"`: run without root
/// (`--run-ignored`), it fails with a sentence instead of an error from deep inside.
///
/// # Panics
///
/// Without root.
pub fn assert_root(what: &str) {
    assert!(
        is_root(),
        "{what} needs root: run this test as root (make test does, when run as root)"
    );
}

/// A child process, killed and reaped when dropped.
#[derive(Debug)]
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, at most `limit`.
///
/// # Errors
///
/// When it has not exited by then (it is killed), or cannot be waited for.
pub fn wait(child: &mut Child, limit: Duration) -> AnyResult<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the process did not exit within {limit:?}").into());
        }
        std::thread::sleep(POLL);
    }
}

/// Runs `child` to its end, killed after `limit`, and returns what it printed: a test then
/// says what was missing from it.
///
/// # Errors
///
/// When it cannot be waited for.
pub fn finish(mut child: Child, limit: Duration) -> std::io::Result<Output> {
    let started = Instant::now();
    while child.try_wait()?.is_none() && started.elapsed() < limit {
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    child.wait_with_output()
}

/// Reads `stream` (a child's stdout or stderr) to its end on a thread of its own, so that
/// the child never blocks on a full pipe while the test waits for it; the text comes back
/// when the thread is joined.
pub fn drain<R: std::io::Read + Send + 'static>(mut stream: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Sends `child` SIGINT, as Ctrl-C in its terminal would (through `kill`, a Unix program).
///
/// # Errors
///
/// When `kill` cannot run or fails (the process is gone).
pub fn interrupt(child: &Child) -> AnyResult<()> {
    run(&["kill", "-INT", &child.id().to_string()])
}
