//! The events `toss --json` prints, one JSON object a line.

use std::process::Output;

use serde_json::Value;

/// Every line of `text` that is a JSON value, in order; other lines are left out.
pub fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The events a finished `toss --json` printed on its standard output.
pub fn events(out: &Output) -> Vec<Value> {
    lines(&String::from_utf8_lossy(&out.stdout))
}

/// The first event called `name` (its `"event"` field).
pub fn find<'a>(events: &'a [Value], name: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == name)
}
