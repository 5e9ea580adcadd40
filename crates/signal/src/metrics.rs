//! Counters the server exposes at `/metrics` in the Prometheus text format.
//!
//! Plain atomics, updated by the connections and the room actor; never locks, never blocks.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::ErrorCode;

/// Why the server refused or dropped a connection outside the protocol, where no error
/// message can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnRefusal {
    /// The address already held its share of connections.
    PerIpLimit,
    /// The table of addresses was full.
    TrackedIpsFull,
    /// No TLS handshake or HTTP request head within the handshake timeout.
    HandshakeTimeout,
    /// A WebSocket stayed out of any room for the unpaired idle time.
    UnpairedIdle,
}

impl ConnRefusal {
    const ALL: [ConnRefusal; 4] = [
        ConnRefusal::PerIpLimit,
        ConnRefusal::TrackedIpsFull,
        ConnRefusal::HandshakeTimeout,
        ConnRefusal::UnpairedIdle,
    ];

    /// The `reason` label in `/metrics`.
    fn as_str(self) -> &'static str {
        match self {
            ConnRefusal::PerIpLimit => "per_ip_limit",
            ConnRefusal::TrackedIpsFull => "tracked_ips_full",
            ConnRefusal::HandshakeTimeout => "handshake_timeout",
            ConnRefusal::UnpairedIdle => "unpaired_idle",
        }
    }
}

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
    connections_refused: [AtomicU64; ConnRefusal::ALL.len()],
    tracked_ips: AtomicU64,
    turn_issued: AtomicU64,
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

    pub(crate) fn count_turn_issued(&self) {
        self.turn_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// TURN credentials handed out.
    pub fn turn_issued(&self) -> u64 {
        self.turn_issued.load(Ordering::Relaxed)
    }

    pub(crate) fn count_error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|&c| c == code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_refusal(&self, reason: ConnRefusal) {
        if let Some(i) = ConnRefusal::ALL.iter().position(|&r| r == reason) {
            self.connections_refused[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_tracked_ips(&self, n: usize) {
        self.tracked_ips.store(n as u64, Ordering::Relaxed);
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
            "Messages not delivered because a client stopped reading; its room or connection was closed instead.",
            self.messages_dropped.load(Ordering::Relaxed),
        );
        metric(
            "toss_signal_turn_credentials_total",
            "counter",
            "TURN credentials handed out to paired peers.",
            self.turn_issued(),
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
        let _ = writeln!(
            out,
            "# HELP toss_signal_connections_refused_total Connections refused or dropped by a limit, by reason.\n# TYPE toss_signal_connections_refused_total counter"
        );
        for (reason, count) in ConnRefusal::ALL.iter().zip(&self.connections_refused) {
            let _ = writeln!(
                out,
                "toss_signal_connections_refused_total{{reason=\"{}\"}} {}",
                reason.as_str(),
                count.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP toss_signal_tracked_ips Addresses whose connections and requests are counted now.\n# TYPE toss_signal_tracked_ips gauge\ntoss_signal_tracked_ips {}",
            self.tracked_ips.load(Ordering::Relaxed)
        );
        out
    }
}
