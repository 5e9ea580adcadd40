//! Desktop notifications (notify-rust): what they say about a transfer's events
//! ([`incoming`], [`ended`]: pure, tested here), and showing them ([`notify`]). A machine
//! without a notification service must never break or stall a transfer: notifications run
//! on a blocking thread, and a failure is a log line.
//!
//! What they say comes partly from a stranger (a device name, an error message, a file
//! name), so it is cleaned like any text from a peer, and escaped where the notification
//! service reads markup: KDE turns `<a href=...>` in a body into a link to click.

use toss_core::Event;
use toss_wire::text::{clean_for_display, clean_lines_for_display};

use crate::history::{Direction, Recent};

/// Longest title shown, in characters.
const MAX_SUMMARY: usize = 100;

/// Longest body shown, in characters: a few lines, more than any notification shows.
const MAX_BODY: usize = 500;

/// A notification's words, before they are cleaned for the notification service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// The title (the service calls it the summary).
    pub(crate) title: &'static str,
    /// One sentence or more; parts of it may come from the other computer.
    pub(crate) body: String,
}

/// What to say about an offer that arrived (receiver), for when the window is not in
/// front: who wants to send how many files, or sent a text. `None` for any other event.
pub(crate) fn incoming(event: &Event) -> Option<Notice> {
    let Event::Offer { device, files, .. } = event else {
        return None;
    };
    Some(match files.len() {
        0 => Notice {
            title: "Incoming text",
            body: format!("{device} sent you a text."),
        },
        1 => Notice {
            title: "Incoming files",
            body: format!("{device} wants to send you 1 file."),
        },
        n => Notice {
            title: "Incoming files",
            body: format!("{device} wants to send you {n} files."),
        },
    })
}

/// What to say when `event` ended the transfer that `recent` records: what was sent or
/// received, or the error's own sentence. `None` for an event that ends nothing.
pub(crate) fn ended(event: &Event, recent: &Recent) -> Option<Notice> {
    match event {
        Event::Done { .. } => {
            let verb = match recent.direction {
                Direction::Send => "Sent",
                Direction::Receive => "Received",
            };
            Some(Notice {
                title: "Transfer complete",
                body: format!("{verb} {}.", recent.name),
            })
        }
        Event::Error { message, .. } => Some(Notice {
            title: "Transfer failed",
            body: message.clone(),
        }),
        _ => None,
    }
}

/// Shows a notification in the background; never waits for it.
pub(crate) fn notify(notice: Notice) {
    std::thread::spawn(move || {
        let (summary, body) = prepare(notice.title, &notice.body, takes_markup());
        let shown = notify_rust::Notification::new()
            .appname("Toss")
            .summary(&summary)
            .body(&body)
            .icon("toss-desktop")
            .show();
        if let Err(e) = shown {
            tracing::info!("no desktop notification ({e}): {summary}");
        }
    });
}

/// The title and body as they go to the notification service: cleaned, then escaped when
/// it reads markup.
fn prepare(summary: &str, body: &str, markup: bool) -> (String, String) {
    let summary = clean_for_display(summary, MAX_SUMMARY);
    let body = clean_lines_for_display(body, MAX_BODY);
    if markup {
        (escape_markup(&summary), escape_markup(&body))
    } else {
        (summary, body)
    }
}

/// `text` with every character that notification markup (a small XML/HTML subset) gives a
/// meaning written as an entity, so it shows as itself.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the freedesktop notification service reads markup. One that does not shows it
/// as typed, so escaping there would show `&amp;`. When it cannot be asked, escape: the
/// notification most likely fails anyway, and an extra entity is harmless.
#[cfg(all(unix, not(target_os = "macos")))]
fn takes_markup() -> bool {
    notify_rust::get_capabilities()
        .map(|caps| caps.iter().any(|c| c == "body-markup"))
        .unwrap_or(true)
}

/// macOS and Windows notifications take plain text.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn takes_markup() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use toss_core::events::OfferedFile;
    use toss_core::ErrorKind;

    use super::*;
    use crate::history::Outcome;

    fn offer(files: usize, text: Option<&str>) -> Event {
        Event::Offer {
            device: "Ana's laptop".into(),
            files: (0..files)
                .map(|i| OfferedFile {
                    path: format!("photos/{i}.jpg"),
                    size: 10,
                })
                .collect(),
            total_bytes: 10 * files as u64,
            text: text.map(str::to_owned),
        }
    }

    fn notice(title: &'static str, body: &str) -> Option<Notice> {
        Some(Notice {
            title,
            body: body.into(),
        })
    }

    fn recent(direction: Direction, name: &str, result: Outcome) -> Recent {
        Recent {
            name: name.into(),
            files: 2,
            size: 20,
            direction,
            peer: "Ana's laptop".into(),
            when: 1_700_000_000,
            result,
        }
    }

    #[test]
    fn an_offer_says_who_sends_what() {
        assert_eq!(
            incoming(&offer(0, Some("https://example.com"))),
            notice("Incoming text", "Ana's laptop sent you a text.")
        );
        assert_eq!(
            incoming(&offer(1, None)),
            notice("Incoming files", "Ana's laptop wants to send you 1 file.")
        );
        assert_eq!(
            incoming(&offer(3, Some("see these"))),
            notice("Incoming files", "Ana's laptop wants to send you 3 files.")
        );
        assert_eq!(incoming(&Event::Accepted), None);
    }

    #[test]
    fn the_end_says_what_went_or_what_went_wrong() {
        let done = Event::Done {
            files: 2,
            bytes: 20,
            skipped: 0,
            seconds: 1.0,
            saved_to: None,
        };
        assert_eq!(
            ended(&done, &recent(Direction::Send, "photos", Outcome::Ok)),
            notice("Transfer complete", "Sent photos.")
        );
        assert_eq!(
            ended(&done, &recent(Direction::Receive, "photos", Outcome::Ok)),
            notice("Transfer complete", "Received photos.")
        );
        let declined = Event::Error {
            message: "the receiver declined the transfer".into(),
            kind: ErrorKind::Declined,
        };
        assert_eq!(
            ended(
                &declined,
                &recent(Direction::Send, "photos", Outcome::Declined)
            ),
            notice("Transfer failed", "the receiver declined the transfer")
        );
        assert_eq!(
            ended(
                &Event::Accepted,
                &recent(Direction::Send, "photos", Outcome::Ok)
            ),
            None
        );
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape_markup(r#"<a href="https://evil.example">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;https://evil.example&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        // An entity someone typed stays text, not a character.
        assert_eq!(escape_markup("&lt;b&gt;"), "&amp;lt;b&amp;gt;");
        assert_eq!(escape_markup("plain text, é 👍"), "plain text, é 👍");
    }

    #[test]
    fn a_peer_cannot_put_a_link_in_a_notification() {
        let (summary, body) = prepare(
            "Incoming files",
            "<a href=\"file:///etc/passwd\">Bob</a>\u{202e} wants to send you 1 file.",
            true,
        );
        assert_eq!(summary, "Incoming files");
        assert_eq!(
            body,
            "&lt;a href=&quot;file:///etc/passwd&quot;&gt;Bob&lt;/a&gt; wants to send you 1 file."
        );
    }

    #[test]
    fn text_is_cleaned_and_bounded_before_it_is_escaped() {
        let (summary, body) = prepare("Transfer\nfailed\u{1b}[2J", &"<".repeat(2000), true);
        assert_eq!(summary, "Transfer failed\u{fffd}[2J");
        // The bound counts characters as shown, not the entities standing for them.
        assert_eq!(body, format!("{}…", "&lt;".repeat(MAX_BODY - 1)));
        let (_, plain) = prepare("t", "a <b> & c\u{200b}", false);
        assert_eq!(plain, "a <b> & c");
    }
}
