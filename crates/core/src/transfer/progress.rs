//! Turns byte counts into throttled [`Progress`] events with a smoothed rate and ETA.
//!
//! Called once per chunk on the data path, so it does a clock read and an add, and builds
//! an event only about ten times a second.

use std::time::Instant;

use crate::defaults::PROGRESS_INTERVAL;
use crate::events::{Direction, Event, Events, Progress};
use crate::transfer::protocol::FileEntry;

/// Weight of the newest sample in the smoothed rate.
const RATE_SMOOTHING: f64 = 0.3;

pub(crate) struct Meter {
    direction: Direction,
    files: Vec<FileEntry>,
    total: u64,
    bytes: u64,
    file_index: usize,
    file_bytes: u64,
    /// Bytes not moved because the receiver already held them.
    skipped: u64,
    /// First byte seen; the rate in the summary counts from here.
    started: Option<Instant>,
    last_emit: Instant,
    last_bytes: u64,
    rate: f64,
}

impl Meter {
    pub(crate) fn new(direction: Direction, files: Vec<FileEntry>) -> Self {
        let total = files.iter().map(|f| f.size).sum();
        Self {
            direction,
            files,
            total,
            bytes: 0,
            file_index: 0,
            file_bytes: 0,
            skipped: 0,
            started: None,
            last_emit: Instant::now(),
            last_bytes: 0,
            rate: 0.0,
        }
    }

    pub(crate) fn start_file(&mut self, index: usize) {
        self.file_index = index;
        self.file_bytes = 0;
        self.started.get_or_insert_with(Instant::now);
    }

    /// Counts `n` bytes of the current file that the receiver already holds: progress, but
    /// not rate.
    pub(crate) fn skip(&mut self, n: u64) {
        self.bytes += n;
        self.file_bytes += n;
        self.last_bytes += n;
        self.skipped += n;
    }

    /// Bytes skipped because the receiver held them.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Counts `n` bytes and emits an event if the last one is old enough.
    pub(crate) fn add(&mut self, n: u64, events: &Events) {
        self.bytes += n;
        self.file_bytes += n;
        let now = Instant::now();
        if now.duration_since(self.last_emit) >= PROGRESS_INTERVAL {
            self.emit_at(now, events);
        }
    }

    /// Emits an event now (at the end of a file or the transfer).
    pub(crate) fn emit(&mut self, events: &Events) {
        self.emit_at(Instant::now(), events);
    }

    fn emit_at(&mut self, now: Instant, events: &Events) {
        let dt = now.duration_since(self.last_emit).as_secs_f64();
        if dt > 0.0 {
            let sample = (self.bytes - self.last_bytes) as f64 / dt;
            self.rate = if self.rate == 0.0 {
                sample
            } else {
                RATE_SMOOTHING * sample + (1.0 - RATE_SMOOTHING) * self.rate
            };
        }
        self.last_emit = now;
        self.last_bytes = self.bytes;
        let file = self.files.get(self.file_index);
        let left = self.total.saturating_sub(self.bytes) as f64;
        events.emit(Event::Progress(Progress {
            direction: self.direction,
            file_index: self.file_index,
            file_path: file.map(|f| f.path.clone()).unwrap_or_default(),
            file_bytes: self.file_bytes,
            file_total: file.map_or(0, |f| f.size),
            bytes: self.bytes,
            total: self.total,
            rate: self.rate,
            eta_secs: (self.rate > 0.0).then(|| left / self.rate),
        }));
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Seconds since the first file started.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }
}
