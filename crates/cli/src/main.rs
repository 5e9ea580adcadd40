//! The `toss` command: `toss send PATH...` and `toss receive CODE`.
//!
//! Thin: parses arguments into a `toss_core::Config`, starts a core transfer, and hands its
//! events to `output` to draw. No transfer logic lives here.

mod args;
mod output;

use std::io::BufRead;
use std::process::ExitCode;

use clap::Parser;
use toss_core::{Decision, Event, Events};

use crate::args::{Args, Command};
use crate::output::Output;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toss: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOSS_LOG")
                .unwrap_or_else(|_| "off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async_main(args));
    // Do not wait for a terminal read that nobody will answer any more.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    result
}

async fn async_main(args: Args) -> anyhow::Result<ExitCode> {
    let (events, mut rx) = Events::channel();
    let (mut transfer, auto_accept, mut out) = match args.command {
        Command::Send {
            common,
            paths,
            text,
        } => {
            let config = common.config()?;
            let out = Output::new(common.json, true);
            let transfer = match text {
                Some(text) => toss_core::start_send_text(config, text, events),
                None => toss_core::start_send(config, paths, events),
            };
            (transfer, true, out)
        }
        Command::Receive {
            common,
            out,
            yes,
            code,
        } => {
            let config = common.config()?;
            let code: toss_core::Code = match code.parse() {
                Ok(code) => code,
                Err(e) => {
                    let mut output = Output::new(common.json, false);
                    output.event(&Event::Error {
                        message: e.to_string(),
                        kind: "bad_code".into(),
                    });
                    return Ok(ExitCode::FAILURE);
                }
            };
            let out_dir = out.unwrap_or_else(toss_core::config::default_download_dir);
            let mut transfer = toss_core::start_receive(config, code, out_dir, events);
            if yes {
                transfer.decide(Decision::Accept);
            }
            (transfer, yes, Output::new(common.json, false))
        }
    };
    let mut interrupted = false;
    // The accept prompt runs beside the event loop so that Ctrl-C still cancels while the
    // user is being asked.
    let (answer_tx, mut answers) = tokio::sync::mpsc::channel::<Decision>(1);
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                out.event(&event);
                // A text alone is already shown in the offer: nothing to accept.
                if let Event::Offer { files, .. } = &event {
                    if files.is_empty() {
                        transfer.decide(Decision::Accept);
                    }
                }
                if matches!(&event, Event::Offer { files, .. } if !files.is_empty()) && !auto_accept {
                    let answer_tx = answer_tx.clone();
                    tokio::spawn(async move { answer_tx.send(ask_accept().await).await });
                }
            }
            Some(decision) = answers.recv() => transfer.decide(decision),
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                // End the line the terminal's "^C" was echoed on.
                eprintln!();
                transfer.cancel();
            }
        }
    }
    Ok(match transfer.wait().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    })
}

/// Asks on the terminal; anything but yes (including end of input) declines.
async fn ask_accept() -> Decision {
    eprint!("Accept? [y/N] ");
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await;
    match line {
        Ok(Ok(answer)) if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") => {
            Decision::Accept
        }
        _ => Decision::Decline,
    }
}
