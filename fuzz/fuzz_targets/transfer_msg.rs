//! Fuzzes the transfer protocol's control-message parser: no panic on any input, and what
//! parses re-encodes to a message that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toss_wire::transfer::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = decode(text) {
        assert_eq!(decode(&encode(&msg)), Ok(msg), "does not round-trip");
    }
});
