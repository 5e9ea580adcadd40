//! Fuzzes the signaling message parsers, both directions: no panic on any input, and what
//! parses re-encodes to a message that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toss_wire::signal::{parse_client, parse_server, to_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = parse_client(text) {
        assert_eq!(parse_client(&to_text(&msg)), Ok(msg), "client message does not round-trip");
    }
    if let Ok(msg) = parse_server(text) {
        assert_eq!(parse_server(&to_text(&msg)), Ok(msg), "server message does not round-trip");
    }
});
