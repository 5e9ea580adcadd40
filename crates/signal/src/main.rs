//! The `toss-signal` binary: parses arguments and runs the server until Ctrl-C.
//!
//! Thin by design: everything it does lives in the library; the options are in `args.rs`.

use std::process::ExitCode;

use clap::Parser;

mod args;

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
    let config = args::Args::parse().config().map_err(anyhow::Error::msg)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "toss_signal=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = toss_signal::Server::spawn(config).await?;
        // Scripts wait for this line to know the port is open.
        println!("toss-signal listening on {}", server.url());
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
