//! Counters the server exposes at `/metrics` in the Prometheus text format.
//!
//! Plain atomics, updated by the connections and the room actor; never locks, never blocks.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::ErrorCode;

/// The server's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    connections_total: AtomicU64,
    connections_open: AtomicU64,
    rooms_total: AtomicU64,
    rooms_open: AtomicU64,
    messages_relayed: AtomicU64,
    messages_dropped: AtomicU64,
    errors: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    pub(crate) fn connection_opened(&self) {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn count_room(&self) {
        self.rooms_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_rooms_open(&self, n: usize) {
        self.rooms_open.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_relayed(&self) {
        self.messages_relayed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self) {
        self.messages_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|&c| c == code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times the server refused something with `code`.
    pub fn errors(&self, code: ErrorCode) -> u64 {
        ErrorCode::ALL
            .iter()
            .position(|&c| c == code)
            .map_or(0, |i| self.errors[i].load(Ordering::Relaxed))
    }

    /// Rooms open right now.
    pub fn rooms_open(&self) -> u64 {
        self.rooms_open.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "toss_signal_connections_total",
            "counter",
            "WebSocket connections accepted.",
            self.connections_total.load(Ordering::Relaxed),
        );
        metric(
            "toss_signal_connections_open",
            "gauge",
            "WebSocket connections open now.",
            self.connections_open.load(Ordering::Relaxed),
        );
        metric(
            "toss_signal_rooms_total",
            "counter",
            "Rooms allocated.",
            self.rooms_total.load(Ordering::Relaxed),
        );
        metric(
            "toss_signal_rooms_open",
            "gauge",
            "Rooms open now.",
            self.rooms_open(),
        );
        metric(
            "toss_signal_messages_relayed_total",
            "counter",
            "Messages relayed between peers.",
            self.messages_relayed.load(Ordering::Relaxed),
        );
        metric(
            "toss_signal_messages_dropped_total",
            "counter",
            "Messages dropped because a client stopped reading.",
            self.messages_dropped.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP toss_signal_refusals_total Requests refused, by reason.\n# TYPE toss_signal_refusals_total counter"
        );
        for code in ErrorCode::ALL {
            let _ = writeln!(
                out,
                "toss_signal_refusals_total{{reason=\"{}\"}} {}",
                code.as_str(),
                self.errors(code)
            );
        }
        out
    }
}
