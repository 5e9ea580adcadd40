//! The `toss` command: `toss send PATH...`, `toss receive CODE`, on a local network
//! `toss devices`, `toss send --to NAME PATH...` and `toss receive` (waiting, visible), and
//! `toss config server URL`.
//!
//! Thin: parses arguments into a `toss_core::Config`, starts a core transfer, and hands its
//! events to `output` to draw. No transfer logic lives here.

mod args;
mod output;
mod server;

use std::io::BufRead;
use std::process::ExitCode;

use toss_core::{Decision, Event, Events};

use crate::args::{Args, Command};
use crate::output::Output;

/// mimalloc instead of the system's allocator: the WebRTC stack allocates and frees small
/// buffers for every datagram, often on different threads, where glibc's arenas contend.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let args = Args::from_command_line();
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

/// Says what went wrong before any transfer started, in the transfer's own output style.
fn fail(json: bool, sending: bool, error: &toss_core::Error) -> ExitCode {
    Output::new(json, sending).event(&Event::Error {
        message: error.to_string(),
        kind: error.kind(),
    });
    ExitCode::FAILURE
}

async fn async_main(args: Args) -> anyhow::Result<ExitCode> {
    let (events, mut rx) = Events::channel();
    // Keeps this device visible (and its inbox open) for as long as the transfer runs.
    let mut _nearby = None;
    let (mut transfer, auto_accept, mut out) = match args.command {
        Command::Devices { json, wait } => return devices(json, wait).await,
        Command::Config { setting, signal } => return server::config(setting, &signal),
        Command::Send {
            common,
            paths,
            text,
            to,
            receivers,
            yes,
        } => {
            let (config, source) = common.config()?;
            server::say_once_if_no_server(&source, config.reach);
            if receivers > 1 {
                let let_in = if yes {
                    toss_core::LetIn::Everyone
                } else {
                    toss_core::LetIn::Ask
                };
                let transfer =
                    toss_core::start_send_group(config, paths, receivers, let_in, events);
                (transfer, true, Output::group(common.json, receivers))
            } else if to.len() > 1 {
                if !common.json {
                    eprintln!("Looking for {} on the local network...", to.join(", "));
                }
                let wait = toss_core::defaults::NEARBY_WAIT;
                let mut devices = Vec::new();
                for name in &to {
                    match toss_core::lan::find_device(name, wait).await {
                        Ok(device) => devices.push(device),
                        Err(e) => return Ok(fail(common.json, true, &e)),
                    }
                }
                if !common.json {
                    eprintln!("Asking each of them to accept...");
                }
                let names: Vec<String> = devices.iter().map(|d| d.name.clone()).collect();
                let transfer = toss_core::start_send_to_devices(config, devices, paths, events);
                (transfer, true, Output::devices(common.json, &names))
            } else {
                let out = Output::new(common.json, true);
                let transfer = match (text, to.first()) {
                    (Some(text), _) => toss_core::start_send_text(config, text, events),
                    (None, Some(name)) => {
                        if !common.json {
                            eprintln!("Looking for {name} on the local network...");
                        }
                        let wait = toss_core::defaults::NEARBY_WAIT;
                        let device = match toss_core::lan::find_device(name, wait).await {
                            Ok(device) => device,
                            Err(e) => return Ok(fail(common.json, true, &e)),
                        };
                        if !common.json {
                            eprintln!("Asking {} to accept...", device.name);
                        }
                        toss_core::start_send_to(config, device, paths, events)
                    }
                    (None, None) => toss_core::start_send(config, paths, events),
                };
                (transfer, true, out)
            }
        }
        Command::Receive {
            common,
            out,
            yes,
            code,
        } => {
            if yes && code.is_none() {
                let refused = toss_core::Error::Input(
                    "--yes needs a code: waiting without one, anyone nearby could send you files unasked; leave out --yes, or give the sender's code".into(),
                );
                return Ok(fail(common.json, false, &refused));
            }
            let (config, source) = common.config()?;
            server::say_once_if_no_server(&source, config.reach);
            let out_dir = out.unwrap_or_else(toss_core::config::default_download_dir);
            let mut transfer = match code {
                Some(code) => match code.parse::<toss_core::Code>() {
                    Ok(code) => toss_core::start_receive(config, code, out_dir, events),
                    Err(e) => return Ok(fail(common.json, false, &e.into())),
                },
                None => {
                    let (nearby, knock) = match wait_for_knock(&config, common.json).await {
                        Ok(found) => found,
                        Err(e) => return Ok(fail(common.json, false, &e)),
                    };
                    _nearby = Some(nearby);
                    toss_core::start_receive_knock(config, &knock, out_dir, events)
                }
            };
            if yes {
                transfer.decide(Decision::Accept);
            }
            (transfer, yes, Output::new(common.json, false))
        }
    };
    let mut interrupted = false;
    // The prompts run beside the event loop so that Ctrl-C still cancels while the user is
    // being asked; one at a time, in the order the questions came (a group code's receivers
    // may come together).
    let (question_tx, mut questions) =
        tokio::sync::mpsc::unbounded_channel::<(Option<u32>, String)>();
    let (answer_tx, mut answers) = tokio::sync::mpsc::channel::<(Option<u32>, Decision)>(1);
    tokio::spawn(async move {
        while let Some((receiver, question)) = questions.recv().await {
            if answer_tx
                .send((receiver, ask(&question).await))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                out.event(&event);
                let question = match &event {
                    _ if !event.awaits_decision() => None,
                    // A nearby send goes only once this side's user has compared the words.
                    Event::CheckWords { verification } => Some((None, format!(
                        "Does the other screen show \"{verification}\"? Send only if it does. [y/N] "
                    ))),
                    Event::Receiver(tagged) => match tagged.event.as_ref() {
                        Event::CheckWords { verification } => Some((Some(tagged.receiver), format!(
                            "{}: does its screen show \"{verification}\"? Send only if it does. [y/N] ",
                            out.receiver_name(tagged.receiver),
                        ))),
                        Event::Joiner { device, verification } => Some((Some(tagged.receiver), format!(
                            "{}: let it in? Only if its screen shows \"{verification}\". [y/N] ",
                            output::receiver_label(tagged.receiver, device.as_deref()),
                        ))),
                        _ => None,
                    },
                    _ if auto_accept => None,
                    _ => Some((None, "Accept? [y/N] ".to_owned())),
                };
                if let Some(question) = question {
                    let _ = question_tx.send(question);
                }
            }
            Some((receiver, decision)) = answers.recv() => match receiver {
                Some(receiver) => transfer.decide_for(receiver, decision),
                None => transfer.decide(decision),
            },
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

/// Makes this computer visible to nearby devices and waits until one sends something.
async fn wait_for_knock(
    config: &toss_core::Config,
    json: bool,
) -> Result<(toss_core::lan::Nearby, toss_core::lan::Knock), toss_core::Error> {
    if !config.reach.uses_local_network() {
        return Err(toss_core::Error::Input(
            "waiting for a nearby device needs the local network: give a code, or leave out --loopback and --no-discovery".into(),
        ));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let nearby = toss_core::lan::Nearby::start(&config.device_name, tx).await?;
    // Said in --json mode too: a script knows from it that others can now find this one.
    Output::new(json, false).event(&Event::Notice {
        message: format!(
            "Visible to nearby devices as \"{}\". Waiting for someone to send you something (Ctrl-C to stop)...",
            toss_core::lan::clean_device_name(&config.device_name)
        ),
    });
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(toss_core::lan::NearbyEvent::Knock(knock)) => return Ok((nearby, knock)),
                Some(toss_core::lan::NearbyEvent::Devices(_)) => {}
                None => return Err(toss_core::Error::LocalNetwork("local network discovery stopped".into())),
            },
            _ = tokio::signal::ctrl_c() => return Err(toss_core::Error::Cancelled(toss_core::Side::Local)),
        }
    }
}

/// `toss devices`: what this computer sees on the local network.
async fn devices(json: bool, wait: u64) -> anyhow::Result<ExitCode> {
    let wait = std::time::Duration::from_secs(wait.min(60));
    let found = match toss_core::lan::devices(wait).await {
        Ok(found) => found,
        Err(e) => return Ok(fail(json, false, &e)),
    };
    if json {
        for device in &found {
            println!("{}", serde_json::to_string(device)?);
        }
    } else if found.is_empty() {
        eprintln!("No Toss devices are visible on this network. On the other computer, open Toss or run `toss receive` (with no code).");
    } else {
        let shared = toss_core::lan::shared_names(&found);
        for device in &found {
            if shared.contains(&device.name.to_lowercase()) {
                println!(
                    "{}  (id {}; another device uses this name too: ask its owner which one is theirs)",
                    device.name, device.id
                );
                continue;
            }
            match &device.nameplate {
                Some(nameplate) if !device.receives => {
                    println!(
                        "{}  (showing a code that starts with {nameplate})",
                        device.name
                    )
                }
                _ => println!("{}", device.name),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; anything but yes (including end of input) declines.
async fn ask(question: &str) -> Decision {
    eprint!("{question}");
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
