//! Desktop notifications (notify-rust). A machine without a notification service must never
//! break or stall a transfer: notifications run on a blocking thread, and a failure is a log
//! line.
//!
//! What they say comes partly from a stranger (a device name, an error message, a file
//! name), so it is cleaned like any text from a peer, and escaped where the notification
//! service reads markup: KDE turns `<a href=...>` in a body into a link to click.

use toss_wire::text::{clean_for_display, clean_lines_for_display};

/// Longest title shown, in characters.
const MAX_SUMMARY: usize = 100;

/// Longest body shown, in characters: a few lines, more than any notification shows.
const MAX_BODY: usize = 500;

/// Shows a notification in the background; never waits for it.
pub(crate) fn notify(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    std::thread::spawn(move || {
        let (summary, body) = prepare(&summary, &body, takes_markup());
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
    use super::*;

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
