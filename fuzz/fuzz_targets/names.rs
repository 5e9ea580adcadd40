//! Fuzzes the received-name sanitizer: no panic, sanitizing is idempotent, and a sanitized
//! path is always confined (no empty, `.` or `..` component, no separator, no drive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use toss_wire::names::{display, sanitize_component, sanitize_path};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = display(raw);
    if let Some(once) = sanitize_component(raw) {
        assert_eq!(sanitize_component(&once).as_deref(), Some(once.as_str()), "not idempotent");
        assert!(once.len() <= 255, "longer than a file name may be");
    }
    if let Ok(parts) = sanitize_path(raw) {
        assert!(!parts.is_empty());
        for part in &parts {
            assert!(!part.is_empty() && part != "." && part != "..", "{part:?} escapes");
            assert!(!part.contains(['/', '\\', ':', '\0']), "{part:?} has a separator");
            assert!(!part.starts_with(' ') && !part.ends_with(['.', ' ']), "{part:?}");
            assert!(part.len() <= 255);
        }
        // The joined result is itself a clean path that sanitizes to the same parts.
        assert_eq!(sanitize_path(&parts.join("/")).as_ref(), Ok(&parts), "not idempotent");
    }
});
