//! Draws core events: progress bars and sentences on a terminal, or one JSON object per
//! line with `--json`. Peer-supplied text is already made safe by the core.

use std::io::Write;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use toss_core::Event;

/// Where events go.
pub(crate) struct Output {
    json: bool,
    sending: bool,
    bar: Option<ProgressBar>,
    /// The transfer is a text alone: no bars, and a different summary.
    text_only: bool,
}

impl Output {
    pub(crate) fn new(json: bool, sending: bool) -> Self {
        Self {
            json,
            sending,
            bar: None,
            text_only: false,
        }
    }

    pub(crate) fn event(&mut self, event: &Event) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            if let Ok(line) = serde_json::to_string(event) {
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            }
            if let Event::Error { message, .. } = event {
                eprintln!("toss: error: {message}");
            }
            return;
        }
        self.human(event);
    }

    /// A line on stderr, above the progress bar if there is one.
    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn human(&mut self, event: &Event) {
        match event {
            Event::Code { code, link } => {
                println!("Code: {code}");
                println!("On the other computer run: toss receive {code}");
                if let Some(link) = link {
                    println!("Or open this link in a browser: {link}");
                }
                eprintln!("Waiting for the receiver...");
            }
            Event::Notice { message } => eprintln!("{message}"),
            Event::PeerConnected { verification } => {
                eprintln!("Peer found. Check that both screens show: {verification}");
            }
            Event::Connected { path } => self.say(&format!("Connected {}.", path.describe())),
            Event::Interrupted => {
                self.say("The connection was interrupted; waiting for it to come back...")
            }
            Event::Restored => self.say("The connection is back."),
            Event::PathProbed { packet_size } => self.say(&format!(
                "The path carries {packet_size}-byte packets (found by probing)."
            )),
            Event::Reconnecting { attempt, attempts } => self.say(&format!(
                "The connection was lost; reconnecting (attempt {attempt} of {attempts})..."
            )),
            Event::Offer {
                device,
                files,
                total_bytes,
                text,
            } => {
                if let Some(text) = text {
                    eprintln!("{device} sends a text:");
                    println!("{text}");
                    self.text_only = files.is_empty();
                    if self.text_only {
                        return;
                    }
                }
                eprintln!(
                    "{device} wants to send {} file{} ({}):",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    HumanBytes(*total_bytes)
                );
                for f in files.iter().take(20) {
                    eprintln!("  {}  ({})", f.path, HumanBytes(f.size));
                }
                if files.len() > 20 {
                    eprintln!("  ... and {} more", files.len() - 20);
                }
            }
            Event::WaitingForAccept => eprintln!("Waiting for the receiver to accept..."),
            Event::Accepted => {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                self.bar = Some(bar);
            }
            Event::Progress(p) => {
                if let Some(bar) = &self.bar {
                    bar.set_length(p.total);
                    bar.set_position(p.bytes);
                    bar.set_message(p.file_path.clone());
                }
            }
            Event::FileDone { .. } => {}
            Event::Resumed { path, offset, .. } => {
                let line = format!(
                    "Resuming {path}: {} already there from an earlier attempt.",
                    HumanBytes(*offset)
                );
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => println!("{line}"),
                }
            }
            Event::Done {
                files,
                bytes,
                skipped,
                seconds,
                saved_to,
            } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let moved = bytes - skipped;
                let rate = if *seconds > 0.0 {
                    (moved as f64 / seconds) as u64
                } else {
                    0
                };
                let verb = if self.sending { "Sent" } else { "Received" };
                if self.text_only || (*files == 0 && *bytes == 0) {
                    println!("{verb} the text.");
                    return;
                }
                println!(
                    "{verb} {files} file{} ({}) in {seconds:.1} s ({}/s), all verified.",
                    if *files == 1 { "" } else { "s" },
                    HumanBytes(*bytes),
                    HumanBytes(rate)
                );
                if *skipped > 0 {
                    println!(
                        "{} of it was already there and was not sent again.",
                        HumanBytes(*skipped)
                    );
                }
                if let Some(dir) = saved_to {
                    println!("Saved to {dir}");
                }
            }
            Event::Error { message, .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.abandon();
                }
                eprintln!("toss: error: {message}");
            }
            _ => {}
        }
    }
}
