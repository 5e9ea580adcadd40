//! Received names are hostile input: this module turns an offered path into components that
//! are safe to create inside the output folder on any desktop OS, or refuses it.
//!
//! Pure string work; it never touches the disk (see `sink` for that).

use unicode_normalization::UnicodeNormalization;

/// Deepest folder nesting accepted in an offer.
pub const MAX_DEPTH: usize = 32;

/// Longest file name most file systems accept, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Room kept under [`MAX_NAME_BYTES`] for a ` (NN)` collision suffix and `.part`.
const NAME_BUDGET: usize = MAX_NAME_BYTES - 16;

/// Windows device names, reserved with any extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why an offered path cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Absolute, or with `..`/`.`/empty components.
    #[error("the file name \"{0}\" tries to leave the download folder")]
    Escapes(String),
    /// Nothing usable remains after cleaning.
    #[error("the file name \"{0}\" has no usable characters")]
    Empty(String),
    /// Folders nested deeper than allowed.
    #[error("the path \"{0}\" is nested too deeply")]
    TooDeep(String),
}

/// Characters that are dropped: invisible or direction-changing, a classic way to disguise
/// `exe.txt` as `txt.exe`.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

/// Characters that are replaced by `_`: control characters (terminal escapes) and what
/// Windows or macOS forbid in names.
fn is_replaced(c: char) -> bool {
    c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
}

/// Makes one path component safe; `None` when nothing usable remains.
pub fn sanitize_component(raw: &str) -> Option<String> {
    // Drop and replace first, normalize last: removing a character between two combining
    // marks can change their canonical order, so normalizing first would not be stable.
    let cleaned: String = raw
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(|c| if is_replaced(c) { '_' } else { c })
        .collect::<String>()
        .nfc()
        .collect();
    // Windows drops trailing dots and spaces silently; leading spaces confuse everyone.
    let mut name = cleaned
        .trim_start_matches(' ')
        .trim_end_matches(['.', ' '])
        .to_owned();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return None;
    }
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        name.insert(0, '_');
    }
    if name.len() > NAME_BUDGET {
        // The cut may land after a space or a dot: trim again so that a second pass
        // changes nothing.
        name = shorten(&name, NAME_BUDGET)
            .trim_end_matches(['.', ' '])
            .to_owned();
        if name.is_empty() || name.chars().all(|c| c == '.') {
            return None;
        }
    }
    Some(name)
}

/// Cuts a name to at most `max` bytes on a character boundary, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16 && e.len() > 1)
        .unwrap_or("");
    let keep = max - ext.len();
    let mut end = keep.min(name.len() - ext.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &name[..end], ext)
}

/// Splits an offered `/`-separated path and sanitizes each component.
///
/// # Errors
/// [`NameError`] for absolute paths, `..`, `.` or empty components, too deep nesting, or
/// a component with nothing usable in it.
pub fn sanitize_path(raw: &str) -> Result<Vec<String>, NameError> {
    let escapes = || NameError::Escapes(display(raw));
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(escapes());
    }
    let parts: Vec<&str> = raw.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return Err(NameError::TooDeep(display(raw)));
    }
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || *part == "." || *part == ".." {
            return Err(escapes());
        }
        // A drive letter at the start ("C:") means an absolute Windows path.
        if i == 0
            && part.len() >= 2
            && part.as_bytes()[1] == b':'
            && part.as_bytes()[0].is_ascii_alphabetic()
        {
            return Err(escapes());
        }
        out.push(sanitize_component(part).ok_or_else(|| NameError::Empty(display(raw)))?);
    }
    Ok(out)
}

/// A peer-supplied string made safe to print in a terminal or a log line: control and
/// invisible characters shown as `_`, at most 200 characters.
pub fn display(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(|c| if c.is_control() { '_' } else { c })
        .take(200)
        .collect();
    if raw.chars().count() > 200 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_unchanged() {
        assert_eq!(
            sanitize_path("photos/2024/img 1.jpg").expect("ok"),
            ["photos", "2024", "img 1.jpg"]
        );
        assert_eq!(sanitize_path(".bashrc").expect("ok"), [".bashrc"]);
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        for bad in [
            "../../x",
            "/etc/x",
            "a/../b",
            "a//b",
            "./a",
            "C:\\x",
            "c:x",
            "\\\\srv\\s\\x",
            "a/",
        ] {
            assert!(
                matches!(sanitize_path(bad), Err(NameError::Escapes(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn hostile_characters_are_neutralized() {
        assert_eq!(sanitize_component("a:b").as_deref(), Some("a_b"));
        assert_eq!(
            sanitize_component("<img src=x onerror=alert(1)>").as_deref(),
            Some("_img src=x onerror=alert(1)_")
        );
        assert_eq!(
            sanitize_component("evil\u{1b}[31m.txt").as_deref(),
            Some("evil_[31m.txt")
        );
        assert_eq!(
            sanitize_component("cod\u{202e}gpj.exe").as_deref(),
            Some("codgpj.exe")
        );
        assert_eq!(
            sanitize_component("zero\u{200b}width").as_deref(),
            Some("zerowidth")
        );
        assert_eq!(sanitize_component("trail. . ").as_deref(), Some("trail"));
        assert_eq!(sanitize_component("CON.txt").as_deref(), Some("_CON.txt"));
        assert_eq!(sanitize_component("NUL").as_deref(), Some("_NUL"));
        assert_eq!(sanitize_component("COM1 ").as_deref(), Some("_COM1"));
        assert_eq!(sanitize_component("..."), None);
        assert_eq!(sanitize_component("\u{202e}"), None);
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.txt", "é".repeat(300));
        let s = sanitize_component(&long).expect("usable");
        assert!(s.len() <= NAME_BUDGET);
        assert!(s.ends_with(".txt"));
    }

    #[test]
    fn decomposed_and_precomposed_become_the_same() {
        assert_eq!(sanitize_component("e\u{301}"), sanitize_component("\u{e9}"));
    }

    #[test]
    fn sanitizing_is_idempotent() {
        for raw in [
            "a:b",
            "CON.txt",
            "x\u{202e}y",
            "trail. ",
            "<b>",
            "é".repeat(300).as_str(),
            // Found by the fuzzer: a cut that ended on a space.
            format!("{}{}x", "7".repeat(238), " ".repeat(30)).as_str(),
            "z\u{321}\u{200b}\u{321}\u{31c}\u{301}\u{200d}\u{321}",
        ] {
            let once = sanitize_component(raw).expect("usable");
            assert_eq!(sanitize_component(&once).as_deref(), Some(once.as_str()));
        }
    }
}
