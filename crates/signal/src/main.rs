//! The `toss-signal` binary: parses arguments and runs the server until Ctrl-C.
//!
//! Thin by design: everything it does lives in the library.

use std::net::SocketAddr;
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
