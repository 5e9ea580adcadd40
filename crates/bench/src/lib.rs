//! `toss-bench`: programs that `make bench` runs (`scripts/bench.sh`), not tests. Each prints
//! one JSON line of figures on stdout.
//!
//! - `raw-webrtc`: two webrtc-rs peers in one process, one ordered reliable data channel,
//!   16 KiB messages: the ceiling of the stack Toss builds on, at a chosen SCTP packet size.
//! - `signal-load`: many WebSocket clients paired in rooms on a `toss-signal`, relaying
//!   offer-sized messages: relay latency percentiles.
