//! The real signaling server for tests, on a free loopback port: in process
//! ([`spawn`]), or the `toss-signal` binary as a child process ([`SignalProcess`]) for tests
//! that run `toss` itself.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::AnyResult;

/// The default configuration, listening on a free port of 127.0.0.1; a test changes the
/// limits it is about.
pub fn loopback() -> toss_signal::Config {
    toss_signal::Config::new(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// A server with the default configuration on a free loopback port, in this process;
/// dropping it stops it.
///
/// # Errors
///
/// When it cannot listen.
pub async fn spawn() -> Result<toss_signal::Server, toss_signal::SpawnError> {
    toss_signal::Server::spawn(loopback()).await
}

/// A `toss-signal` process on a free loopback port, killed when dropped.
#[derive(Debug)]
pub struct SignalProcess {
    /// The process, for a test that stops the server itself.
    pub child: Child,
    /// `ws://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
}

impl SignalProcess {
    /// Starts the `toss-signal` binary at `bin` on a free loopback port; returns once it
    /// listens.
    ///
    /// # Errors
    ///
    /// When it cannot start or does not say where it listens.
    pub fn start(bin: &Path) -> AnyResult<Self> {
        Self::start_with(Command::new(bin), "127.0.0.1:0")
    }

    /// Starts `toss-signal` as `cmd` runs it (inside a network namespace, say), listening on
    /// `listen`; returns once it listens, so that a client started next finds it.
    ///
    /// # Errors
    ///
    /// When it cannot start or does not say where it listens.
    pub fn start_with(mut cmd: Command, listen: &str) -> AnyResult<Self> {
        let child = cmd
            .args(["--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        // Killed from here on, whatever happens next.
        let mut server = Self {
            child,
            url: String::new(),
        };
        let stdout = server.child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        // It says where it listens once it does.
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().unwrap_or_default();
        let host = listen.rsplit_once(':').map_or(listen, |(host, _)| host);
        if !url.starts_with(&format!("ws://{host}:")) {
            return Err(format!("toss-signal said {line:?}, not where it listens").into());
        }
        server.url = url.to_owned();
        Ok(server)
    }
}

impl Drop for SignalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
