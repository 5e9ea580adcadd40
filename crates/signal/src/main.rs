//! The `toss-signal` binary: parses arguments and runs the server until Ctrl-C.
//!
//! Thin by design: everything it does lives in the library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Toss signaling server: introduces two peers, then gets out of the way.
#[derive(Debug, Parser)]
#[command(name = "toss-signal", version)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", env = "TOSS_SIGNAL_LISTEN")]
    listen: SocketAddr,
    /// Serve wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections one address may hold open at once.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_CONNECTIONS_PER_IP",
        default_value_t = toss_signal::defaults::MAX_CONNECTIONS_PER_IP
    )]
    max_connections_per_ip: usize,
    /// Rooms one address may allocate or join per minute.
    #[arg(
        long,
        env = "TOSS_SIGNAL_ROOM_REQUESTS_PER_MINUTE",
        default_value_t = toss_signal::defaults::ROOM_REQUESTS_PER_IP_PER_MINUTE
    )]
    room_requests_per_minute: u32,
    /// A reverse proxy in front of this server (repeat for several): its X-Forwarded-For
    /// header names the client for the per-address limits. Behind a proxy, without this,
    /// every client counts as the proxy's address.
    #[arg(
        long = "trusted-proxy",
        env = "TOSS_SIGNAL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpAddr>,
    /// Serve GET /metrics (Prometheus text). Off by default: it tells anyone how many rooms
    /// are open; when on, keep /metrics off the public internet (docs/deploy.md).
    #[arg(long, env = "TOSS_SIGNAL_METRICS")]
    metrics: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toss-signal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "toss_signal=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut config = toss_signal::Config::new(args.listen);
        config.max_connections_per_ip = args.max_connections_per_ip;
        config.room_requests_per_ip_per_minute = args.room_requests_per_minute;
        config.trusted_proxies = args.trusted_proxies;
        config.metrics = args.metrics;
        if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
            config.tls = Some(toss_signal::TlsFiles { cert, key });
        }
        let server = toss_signal::Server::spawn(config).await?;
        // Scripts wait for this line to know the port is open.
        println!("toss-signal listening on {}", server.url());
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
