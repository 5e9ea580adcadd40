//! Draws core events: progress bars and sentences on a terminal, or one JSON object per
//! line with `--json`. Peer-supplied text is already made safe by the core.

use std::collections::HashMap;
use std::io::Write;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};
use toss_core::events::Tagged;
use toss_core::Event;

/// Where events go.
pub(crate) struct Output {
    json: bool,
    sending: bool,
    bar: Option<ProgressBar>,
    /// The transfer is a text alone: no bars, and a different summary.
    text_only: bool,
    /// A group code's receivers, each with its own line; `None` for a single transfer.
    group: Option<Group>,
}

/// A group code's receivers as the terminal shows them: a bar each.
struct Group {
    /// Receivers the code takes.
    receivers: u32,
    bars: MultiProgress,
    each: HashMap<u32, Receiver>,
    /// Receivers that got everything.
    done: u32,
    /// Nearby devices sent to straight (no code): each opens a request, then its words are
    /// checked.
    nearby: bool,
}

/// Receiver `number` of a group, with its device name where one is known.
pub(crate) fn receiver_label(number: u32, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("Receiver {number} ({device})"),
        None => format!("Receiver {number}"),
    }
}

/// One receiver of a group code.
#[derive(Default)]
struct Receiver {
    /// Its device name, once said.
    device: Option<String>,
    bar: Option<ProgressBar>,
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:20} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Output {
    pub(crate) fn new(json: bool, sending: bool) -> Self {
        Self {
            json,
            sending,
            bar: None,
            text_only: false,
            group: None,
        }
    }

    /// A send to several nearby devices at once: receiver N is `names[N - 1]`.
    pub(crate) fn devices(json: bool, names: &[String]) -> Self {
        let mut out = Self::group(json, u32::try_from(names.len()).unwrap_or(u32::MAX));
        if let Some(group) = &mut out.group {
            group.nearby = true;
            for (number, name) in (1u32..).zip(names) {
                group.each.insert(
                    number,
                    Receiver {
                        device: Some(name.clone()),
                        bar: None,
                    },
                );
            }
        }
        out
    }

    /// How receiver `number` of a group is named: by its number, and its device name where
    /// one is known ("Receiver 2 (Bea's desk)").
    pub(crate) fn receiver_name(&self, number: u32) -> String {
        let device = self
            .group
            .as_ref()
            .and_then(|g| g.each.get(&number))
            .and_then(|r| r.device.as_deref());
        receiver_label(number, device)
    }

    /// A group code's sender, for up to `receivers`.
    pub(crate) fn group(json: bool, receivers: u32) -> Self {
        Self {
            group: Some(Group {
                receivers,
                bars: MultiProgress::new(),
                each: HashMap::new(),
                done: 0,
                nearby: false,
            }),
            ..Self::new(json, true)
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
        if let Some(group) = &mut self.group {
            if group.human(event) {
                return;
            }
        }
        match event {
            Event::Code { code, link } => {
                println!("Code: {code}");
                println!("On the other computer run: toss receive {code}");
                if let Some(link) = link {
                    println!("Or open this link in a browser: {link}");
                }
                match &self.group {
                    Some(group) => eprintln!(
                        "Up to {} receivers can use this code. Waiting for them...",
                        group.receivers
                    ),
                    None => eprintln!("Waiting for the receiver..."),
                }
            }
            Event::CodeEnded { message } => eprintln!("{message}"),
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
                if let Some(group) = &self.group {
                    println!(
                        "Sent {files} file{} ({}) to {} receiver{}, all verified.",
                        if *files == 1 { "" } else { "s" },
                        HumanBytes(*bytes),
                        group.done,
                        if group.done == 1 { "" } else { "s" },
                    );
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

impl Group {
    /// Draws what concerns one receiver; `false` for anything else.
    fn human(&mut self, event: &Event) -> bool {
        let Event::Receiver(Tagged { receiver, event }) = event else {
            return false;
        };
        let number = *receiver;
        let me = self.each.entry(number).or_default();
        let name = receiver_label(number, me.device.as_deref());
        let say = |line: String| {
            // Bars are drawn only on a terminal; elsewhere each line is printed as it is.
            if self.bars.is_hidden() {
                eprintln!("{line}");
            } else {
                let _ = self.bars.println(line);
            }
        };
        match event.as_ref() {
            // A nearby device's words come with the question (check_words).
            Event::PeerConnected { .. } if self.nearby => {}
            Event::PeerConnected { verification } => say(format!(
                "{name} knew the code. Its screen should show: {verification}"
            )),
            Event::Joiner {
                device,
                verification,
            } => {
                me.device.clone_from(device);
                let name = receiver_label(number, device.as_deref());
                say(format!("{name} is connected and shows: {verification}"));
            }
            Event::CheckWords { verification } => say(format!(
                "{name} opened your request. Its screen should show: {verification}"
            )),
            Event::Connected { path } => say(format!("{name}: connected {}.", path.describe())),
            Event::WaitingForAccept => say(format!("{name}: waiting for it to accept...")),
            Event::Accepted => {
                let bar = self.bars.add(ProgressBar::new(0));
                bar.set_style(bar_style());
                bar.set_prefix(name);
                me.bar = Some(bar);
            }
            Event::Progress(p) => {
                if let Some(bar) = &me.bar {
                    bar.set_length(p.total);
                    bar.set_position(p.bytes);
                    bar.set_message(p.file_path.clone());
                }
            }
            Event::Interrupted => say(format!("{name}: the connection was interrupted...")),
            Event::Restored => say(format!("{name}: the connection is back.")),
            Event::Reconnecting { attempt, attempts } => say(format!(
                "{name}: the connection was lost; reconnecting (attempt {attempt} of {attempts})..."
            )),
            Event::Resumed { path, offset, .. } => say(format!(
                "{name}: resuming {path}, {} already there.",
                HumanBytes(*offset)
            )),
            Event::Done { files, bytes, .. } => {
                if let Some(bar) = me.bar.take() {
                    bar.finish_and_clear();
                }
                self.done += 1;
                say(format!(
                    "{name} got {files} file{} ({}), all verified.",
                    if *files == 1 { "" } else { "s" },
                    HumanBytes(*bytes)
                ));
            }
            Event::Error { message, .. } => {
                if let Some(bar) = me.bar.take() {
                    bar.abandon();
                }
                say(format!("{name}: {message}"));
            }
            _ => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_names_a_picked_device_by_its_name() {
        let out = Output::devices(true, &["Bea's desk".to_owned(), "Cy".to_owned()]);
        assert_eq!(out.receiver_name(1), "Receiver 1 (Bea's desk)");
        assert_eq!(out.receiver_name(2), "Receiver 2 (Cy)");
        assert_eq!(out.receiver_name(3), "Receiver 3");
        assert_eq!(Output::group(true, 3).receiver_name(2), "Receiver 2");
    }
}
