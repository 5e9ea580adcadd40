//! Text from strangers made safe to show: a peer's device name, its error messages, the text
//! it sends, a file name in a log line or a notification. The one cleaner for all of them,
//! so that what one screen shows safely another cannot show dangerously.
//!
//! What goes: control characters (C0, DEL and C1, so no ESC and no 8-bit CSI: a terminal
//! sees no escape sequence, CSI or OSC, and no carriage return that rewrites a line),
//! direction overrides, embeddings and isolates (which make `gpj.exe` read as `exe.jpg`),
//! zero-width and other invisible format characters (which hide text, or make two
//! different names look the same), and Unicode tag characters (which smuggle invisible
//! ASCII). What stays is bounded in length.
//!
//! Pure string work, like the rest of the crate. It cleans for *display*: escaping for a
//! particular markup (HTML, notification markup) is the caller's job, after cleaning.

/// Characters that are dropped wherever a stranger's text is shown or saved: invisible,
/// or changing the direction of what follows. Unicode's format characters (category Cf)
/// and the fillers that render as nothing.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul choseong and jungseong fillers
        | '\u{180E}'                    // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'       // isolates
        | '\u{206A}'..='\u{206F}'       // deprecated format characters
        | '\u{3164}'                    // Hangul filler
        | '\u{FEFF}'                    // byte order mark, zero-width no-break space
        | '\u{FFA0}'                    // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'     // musical symbol format controls
        | '\u{E0000}'..='\u{E007F}' // tags
    )
}

/// Line breaks, including the Unicode ones some renderers honour (NEL, line and paragraph
/// separators). `\r` is one too: alone it would move a terminal's cursor back over the line.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// What a control character that is not a line break or a tab becomes: visible, so that a
/// reader sees something was there (an escape sequence shows as `�[31m`).
const REPLACEMENT: char = '\u{FFFD}';

/// What marks text that was cut.
const ELLIPSIS: char = '…';

/// `raw` made safe to show on one line (a title, a device name, a log line, an error
/// message): at most `max_chars` characters, the last of them `…` when it was cut.
///
/// Control characters become `�`, line breaks and tabs a space (`\r\n` one space), and
/// invisible or direction-changing characters are dropped. Nothing is trimmed: the caller
/// decides what an empty or blank result means.
pub fn clean_for_display(raw: &str, max_chars: usize) -> String {
    clean(raw, max_chars, false)
}

/// Like [`clean_for_display`], for text meant to span lines (the text a peer sends): line
/// breaks of any kind become `\n` (`\r\n` one `\n`) and tabs stay.
pub fn clean_lines_for_display(raw: &str, max_chars: usize) -> String {
    clean(raw, max_chars, true)
}

fn clean(raw: &str, max_chars: usize, lines: bool) -> String {
    let (line_break, tab) = if lines { ('\n', '\t') } else { (' ', ' ') };
    let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
    let mut count = 0;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        let shown = if is_line_break(c) {
            if c == '\r' {
                chars.next_if_eq(&'\n');
            }
            line_break
        } else if c == '\t' {
            tab
        } else if c.is_control() {
            REPLACEMENT
        } else if is_invisible(c) {
            continue;
        } else {
            c
        };
        if count == max_chars {
            // One character too many: the last one kept gives way to the ellipsis.
            if out.pop().is_some() {
                out.push(ELLIPSIS);
            }
            return out;
        }
        out.push(shown);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_passes_unchanged() {
        for s in [
            "Alice's laptop",
            "photos 2024.jpg",
            "日本語のファイル",
            "👍🏽 ok",
            "é",
        ] {
            assert_eq!(clean_for_display(s, 200), s);
            assert_eq!(clean_lines_for_display(s, 200), s);
        }
        assert_eq!(clean_lines_for_display("a\n\tb", 200), "a\n\tb");
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        // CSI colour, OSC 8 hyperlink, OSC 52 clipboard write, 8-bit CSI.
        assert_eq!(
            clean_for_display("evil\u{1b}[31mred", 200),
            "evil\u{fffd}[31mred"
        );
        assert_eq!(
            clean_for_display("\u{1b}]8;;http://x\u{7}a\u{1b}]8;;\u{7}", 200),
            "\u{fffd}]8;;http://x\u{fffd}a\u{fffd}]8;;\u{fffd}"
        );
        assert_eq!(
            clean_for_display("\u{1b}]52;c;aGk=\u{1b}\\", 200),
            "\u{fffd}]52;c;aGk=\u{fffd}\\"
        );
        assert_eq!(clean_for_display("a\u{9b}2Jb", 200), "a\u{fffd}2Jb");
        assert_eq!(
            clean_for_display("nul\0del\u{7f}", 200),
            "nul\u{fffd}del\u{fffd}"
        );
    }

    #[test]
    fn line_breaks_are_one_line_or_plain_newlines() {
        let raw = "a\r\nb\rc\nd\u{85}e\u{2028}f\u{2029}g\th";
        assert_eq!(clean_for_display(raw, 200), "a b c d e f g h");
        assert_eq!(clean_lines_for_display(raw, 200), "a\nb\nc\nd\ne\nf\ng\th");
        // A carriage return never survives to rewrite a terminal line.
        assert!(!clean_lines_for_display("safe.txt\revil", 200).contains('\r'));
    }

    #[test]
    fn direction_and_invisible_characters_are_dropped() {
        assert_eq!(clean_for_display("cod\u{202e}gpj.exe", 200), "codgpj.exe");
        assert_eq!(clean_for_display("a\u{2066}b\u{2069}c\u{200f}", 200), "abc");
        assert_eq!(
            clean_for_display("ze\u{200b}ro\u{feff}\u{2060}", 200),
            "zero"
        );
        // Tag characters smuggle invisible ASCII ("hi" here).
        assert_eq!(
            clean_for_display("ok\u{e0001}\u{e0068}\u{e0069}\u{e007f}", 200),
            "ok"
        );
        assert_eq!(clean_for_display("\u{3164}\u{115f}\u{ffa0}", 200), "");
        assert_eq!(clean_for_display("a\u{206a}\u{fff9}b\u{1d173}", 200), "ab");
    }

    #[test]
    fn length_is_bounded_with_an_ellipsis_inside_the_bound() {
        assert_eq!(clean_for_display("abcdef", 6), "abcdef");
        assert_eq!(clean_for_display("abcdefg", 6), "abcde…");
        assert_eq!(clean_for_display("abc", 0), "");
        assert_eq!(clean_for_display("a", 0), "");
        // Dropped characters do not count, replaced ones do.
        assert_eq!(clean_for_display("\u{200b}".repeat(50).as_str(), 3), "");
        assert_eq!(
            clean_for_display("\u{1b}\u{1b}\u{1b}\u{1b}", 3),
            "\u{fffd}\u{fffd}…"
        );
        let long = clean_for_display(&"é".repeat(10_000), 64);
        assert_eq!(long.chars().count(), 64);
        assert!(long.ends_with('…'));
    }

    /// A small deterministic generator (xorshift), so the property tests need no crate.
    fn strings(seed: u64, n: usize) -> impl Iterator<Item = String> {
        const ALPHABET: &[char] = &[
            'a',
            'Z',
            ' ',
            '.',
            '\n',
            '\r',
            '\t',
            '\0',
            '\u{1b}',
            '[',
            ']',
            '\u{7}',
            '\u{7f}',
            '\u{85}',
            '\u{9b}',
            '\u{9d}',
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2028}',
            '\u{feff}',
            '\u{e0041}',
            'é',
            'e',
            '\u{301}',
            '日',
            '👍',
            '<',
            '&',
            '"',
        ];
        crate::random_strings(ALPHABET, 40, seed, n)
    }

    #[test]
    fn property_nothing_dangerous_survives_and_the_bound_holds() {
        for (i, raw) in strings(0x5eed, 5_000).enumerate() {
            let max = i % 50;
            for (lines, out) in [
                (false, clean_for_display(&raw, max)),
                (true, clean_lines_for_display(&raw, max)),
            ] {
                assert!(out.chars().count() <= max, "{raw:?} -> {out:?}");
                for c in out.chars() {
                    let allowed = lines && matches!(c, '\n' | '\t');
                    assert!(
                        allowed || !(c.is_control() || is_invisible(c) || is_line_break(c)),
                        "{raw:?} -> {out:?} keeps {c:?}"
                    );
                }
                // Clean text cleans to itself when nothing was cut.
                if !out.ends_with(ELLIPSIS) {
                    let again = clean(&out, max, lines);
                    assert_eq!(again, out, "{raw:?}");
                }
            }
        }
    }
}
