//! Per-address limits: how many connections one address may hold open, how often it may
//! ask for a room (`allocate` or `join`), and how many rooms it may join that no allocator
//! vouched for (its guess budget), which is what stops online guessing of codes.
//!
//! Part of the server layer, below the connection tasks: it knows addresses, counts and
//! clocks, never sockets, frames or rooms. Its table is bounded: idle entries are swept, and
//! past [`crate::defaults::MAX_TRACKED_IPS`] a new address is refused rather than tracked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How often idle entries are swept while the table is not full.
const IDLE_SWEEP: Duration = Duration::from_secs(60);

/// Least time between two sweeps forced by a full table, so that a flood of new addresses
/// costs one scan of the table per second, not one per connection.
const FULL_SWEEP: Duration = Duration::from_secs(1);

/// Why an address was refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The address already holds as many connections as one address may.
    PerIpLimit,
    /// The table of addresses is full of addresses with open connections.
    TooManyAddresses,
}

/// What the limits count by: an IPv4 address, or an IPv6 prefix (a /56 by default,
/// [`crate::defaults::IPV6_PREFIX_LEN`]: one customer's usual share), with IPv4-mapped IPv6
/// addresses taken as the IPv4 address they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AddrKey(IpAddr);

impl AddrKey {
    /// The key of `ip` when IPv6 addresses count per `/ipv6_prefix_len` (at most 128).
    fn of(ip: IpAddr, ipv6_prefix_len: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let host_bits = 128 - u32::from(ipv6_prefix_len.min(128));
                // A shift by all 128 bits is no prefix at all: every IPv6 address is one.
                let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
                Self(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)))
            }
        }
    }
}

/// What [`Limits`] allows each address, from the server's [`crate::Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerAddress {
    /// Connections one address may hold open at once.
    pub(crate) max_connections: usize,
    /// `allocate` and `join` requests per minute; zero is taken as one.
    pub(crate) room_requests_per_minute: u32,
    /// Unconfirmed joins one address may make at once; zero is taken as one.
    pub(crate) guess_burst: u32,
    /// Time that gives back one unconfirmed join; zero turns the guess budget off.
    pub(crate) guess_refill: Duration,
    /// IPv6 addresses sharing this many leading bits count as one address.
    pub(crate) ipv6_prefix_len: u8,
    /// Most addresses tracked at once.
    pub(crate) max_addresses: usize,
    /// TURN credentials per hour; zero is taken as one.
    pub(crate) turn_per_hour: u32,
}

/// One address's state.
#[derive(Debug)]
struct Entry {
    /// Connections open now.
    connections: usize,
    /// The room-request bucket as a "theoretical arrival time" (GCRA): each request pushes it
    /// one interval later, a request is allowed while it stays within a minute of now, and
    /// the bucket is full again once it is not after now.
    tat: Instant,
    /// The guess budget, a bucket kept the same way: each join of a waiting room pushes it
    /// one refill later, and the allocator's `paired` pulls it one refill back.
    guess_tat: Instant,
    /// TURN credentials, a bucket kept the same way.
    turn_tat: Instant,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Self {
            connections: 0,
            tat: now,
            guess_tat: now,
            turn_tat: now,
        }
    }

    /// Nothing to remember: no connection and full buckets.
    fn is_idle(&self, now: Instant) -> bool {
        self.connections == 0 && self.tat <= now && self.guess_tat <= now && self.turn_tat <= now
    }
}

/// One step of a GCRA bucket of `burst` tokens, one back every `interval`: whether a token
/// may be taken at `now`, and if so, taken.
fn take(tat: &mut Instant, now: Instant, interval: Duration, burst: u32) -> bool {
    let next = (*tat).max(now) + interval;
    if next.duration_since(now) > interval * burst {
        return false;
    }
    *tat = next;
    true
}

#[derive(Debug)]
struct Table {
    entries: HashMap<AddrKey, Entry>,
    last_idle_sweep: Instant,
    last_full_sweep: Option<Instant>,
}

/// The per-address limits, shared by the accept loop and every connection task.
#[derive(Debug)]
pub(crate) struct Limits {
    /// Connections one address may hold open at once.
    max_connections: usize,
    /// Room requests one address may make at once after a quiet minute.
    burst: u32,
    /// Time that gives back one room request: a minute over the per-minute rate.
    interval: Duration,
    /// Unconfirmed joins one address may make at once.
    guess_burst: u32,
    /// Time that gives back one unconfirmed join.
    guess_refill: Duration,
    /// Most addresses tracked at once.
    max_addresses: usize,
    /// TURN credentials one address may get at once after a quiet hour.
    turn_burst: u32,
    /// Time that gives back one TURN credential: an hour over the hourly rate.
    turn_interval: Duration,
    /// IPv6 addresses sharing this many leading bits count as one.
    ipv6_prefix_len: u8,
    /// Locked only for a lookup or a sweep, never across an `.await`.
    table: Mutex<Table>,
}

impl Limits {
    /// `room_requests_per_minute` of zero is taken as one: a server that refuses every room
    /// is not a server.
    pub(crate) fn new(per_address: PerAddress, now: Instant) -> Self {
        let burst = per_address.room_requests_per_minute.max(1);
        Self {
            max_connections: per_address.max_connections,
            burst,
            interval: Duration::from_secs(60) / burst,
            guess_burst: per_address.guess_burst.max(1),
            guess_refill: per_address.guess_refill,
            max_addresses: per_address.max_addresses,
            turn_burst: per_address.turn_per_hour.max(1),
            turn_interval: Duration::from_secs(60 * 60) / per_address.turn_per_hour.max(1),
            ipv6_prefix_len: per_address.ipv6_prefix_len,
            table: Mutex::new(Table {
                entries: HashMap::new(),
                last_idle_sweep: now,
                last_full_sweep: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table is consistent after every statement, so a panic elsewhere leaves it usable.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a new connection from `ip`; the slot is given back when the guard drops.
    ///
    /// # Errors
    /// [`Refused`] when `ip` already holds its share, or when the table is full.
    pub(crate) fn connect(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<ConnectionGuard, Refused> {
        let key = self.key(ip);
        let mut table = self.lock();
        let entry = self.entry(&mut table, key, now)?;
        if entry.connections >= self.max_connections {
            return Err(Refused::PerIpLimit);
        }
        entry.connections += 1;
        Ok(ConnectionGuard {
            limits: self.clone(),
            key,
        })
    }

    /// Whether `ip` may make one more room request now; if so, it is counted.
    pub(crate) fn allow_room_request(&self, ip: IpAddr, now: Instant) -> bool {
        let mut table = self.lock();
        let Ok(entry) = self.entry(&mut table, self.key(ip), now) else {
            return false;
        };
        take(&mut entry.tat, now, self.interval, self.burst)
    }

    /// Whether `ip` may be given one more set of TURN credentials now; if so, it is counted.
    pub(crate) fn allow_turn(&self, ip: IpAddr, now: Instant) -> bool {
        let mut table = self.lock();
        let Ok(entry) = self.entry(&mut table, self.key(ip), now) else {
            return false;
        };
        take(
            &mut entry.turn_tat,
            now,
            self.turn_interval,
            self.turn_burst,
        )
    }

    /// Whether `ip` may join one more waiting room now, each such join being a guess at a
    /// code until the room's allocator says otherwise; if so, it is charged.
    pub(crate) fn charge_guess(&self, ip: IpAddr, now: Instant) -> bool {
        let mut table = self.lock();
        let Ok(entry) = self.entry(&mut table, self.key(ip), now) else {
            return false;
        };
        take(
            &mut entry.guess_tat,
            now,
            self.guess_refill,
            self.guess_burst,
        )
    }

    /// Gives back one join charged to `ip`: its room's allocator confirmed the code. A bucket
    /// that is full already (or an address no longer tracked, which means the same) stays so.
    pub(crate) fn refund_guess(&self, ip: IpAddr, now: Instant) {
        let key = self.key(ip);
        let mut table = self.lock();
        if let Some(entry) = table.entries.get_mut(&key) {
            if entry.guess_tat > now {
                let back = entry.guess_tat.checked_sub(self.guess_refill);
                entry.guess_tat = back.map_or(now, |t| t.max(now));
            }
        }
    }

    fn key(&self, ip: IpAddr) -> AddrKey {
        AddrKey::of(ip, self.ipv6_prefix_len)
    }

    /// Addresses tracked now.
    pub(crate) fn tracked(&self) -> usize {
        self.lock().entries.len()
    }

    fn disconnect(&self, key: AddrKey) {
        let mut table = self.lock();
        if let Some(entry) = table.entries.get_mut(&key) {
            entry.connections = entry.connections.saturating_sub(1);
        }
    }

    /// The entry for `key`, made if need be, sweeping the table first when it is due or full.
    fn entry<'t>(
        &self,
        table: &'t mut Table,
        key: AddrKey,
        now: Instant,
    ) -> Result<&'t mut Entry, Refused> {
        if now.duration_since(table.last_idle_sweep) >= IDLE_SWEEP {
            table.entries.retain(|_, e| !e.is_idle(now));
            table.last_idle_sweep = now;
        }
        if !table.entries.contains_key(&key) && table.entries.len() >= self.max_addresses {
            let due = table
                .last_full_sweep
                .is_none_or(|last| now.duration_since(last) >= FULL_SWEEP);
            if !due {
                return Err(Refused::TooManyAddresses);
            }
            table.last_full_sweep = Some(now);
            table.entries.retain(|_, e| !e.is_idle(now));
            if table.entries.len() >= self.max_addresses {
                // Still full: forget addresses with no connection, rate state and all. Whoever
                // holds that many addresses is not slowed by per-address limits anyway.
                table.entries.retain(|_, e| e.connections > 0);
            }
            if table.entries.len() >= self.max_addresses {
                return Err(Refused::TooManyAddresses);
            }
        }
        Ok(table.entries.entry(key).or_insert_with(|| Entry::new(now)))
    }
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    limits: Arc<Limits>,
    key: AddrKey,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.limits.disconnect(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn per_address(connections: usize, per_minute: u32, addresses: usize) -> PerAddress {
        PerAddress {
            max_connections: connections,
            room_requests_per_minute: per_minute,
            guess_burst: crate::defaults::GUESS_BURST,
            guess_refill: crate::defaults::GUESS_REFILL,
            ipv6_prefix_len: crate::defaults::IPV6_PREFIX_LEN,
            max_addresses: addresses,
            turn_per_hour: crate::defaults::TURN_PER_HOUR,
        }
    }

    fn limits(connections: usize, per_minute: u32, addresses: usize) -> Arc<Limits> {
        Arc::new(Limits::new(
            per_address(connections, per_minute, addresses),
            Instant::now(),
        ))
    }

    #[test]
    fn connections_are_capped_per_address_and_given_back_on_drop() {
        let l = limits(2, 30, 100);
        let now = Instant::now();
        let a = l.connect(ip("10.0.0.1"), now).expect("first");
        let _b = l.connect(ip("10.0.0.1"), now).expect("second");
        assert_eq!(
            l.connect(ip("10.0.0.1"), now).map(|_| ()),
            Err(Refused::PerIpLimit)
        );
        let _other = l.connect(ip("10.0.0.2"), now).expect("another address");
        drop(a);
        assert!(l.connect(ip("10.0.0.1"), now).is_ok());
    }

    #[test]
    fn an_ipv6_slash_56_is_one_address_and_mapped_ipv4_is_ipv4() {
        let l = limits(1, 30, 100);
        let now = Instant::now();
        let _a = l.connect(ip("2001:db8:1:200::1"), now).expect("first");
        assert!(l.connect(ip("2001:db8:1:200:ffff::9"), now).is_err());
        // Another /64 of the same /56 is the same customer.
        assert!(l.connect(ip("2001:db8:1:2ff::1"), now).is_err());
        assert!(l.connect(ip("2001:db8:1:300::1"), now).is_ok());
        let _v4 = l.connect(ip("192.0.2.7"), now).expect("v4");
        assert!(l.connect(ip("::ffff:192.0.2.7"), now).is_err());
    }

    #[test]
    fn the_ipv6_key_keeps_exactly_the_prefix() {
        let key = |s: &str, len: u8| AddrKey::of(ip(s), len).0;
        let a = "2001:db8:aaaa:12ab:1:2:3:4";
        assert_eq!(key(a, 56), ip("2001:db8:aaaa:1200::"));
        assert_eq!(key(a, 64), ip("2001:db8:aaaa:12ab::"));
        assert_eq!(key(a, 48), ip("2001:db8:aaaa::"));
        assert_eq!(key(a, 128), ip(a));
        assert_eq!(key(a, 200), ip(a), "past 128 is the whole address");
        assert_eq!(key(a, 0), ip("::"));
        assert_eq!(
            key("2001:db8:0:100::1", 56),
            key("2001:db8:0:1ff:ffff::1", 56)
        );
        assert_ne!(key("2001:db8:0:100::1", 64), key("2001:db8:0:1ff::1", 64));
        assert_ne!(key("2001:db8:0:100::1", 56), key("2001:db8:0:200::1", 56));
        assert_eq!(key("::ffff:192.0.2.7", 56), ip("192.0.2.7"));
    }

    #[test]
    fn room_requests_refill_one_interval_at_a_time() {
        let l = limits(8, 3, 100);
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        for _ in 0..3 {
            assert!(l.allow_room_request(a, t0));
        }
        assert!(!l.allow_room_request(a, t0));
        assert!(
            l.allow_room_request(ip("10.0.0.2"), t0),
            "others are not slowed"
        );
        // Refused requests do not push the bucket further back.
        let t1 = t0 + Duration::from_secs(20);
        assert!(l.allow_room_request(a, t1));
        assert!(!l.allow_room_request(a, t1));
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.allow_room_request(a, t2));
        }
        assert!(!l.allow_room_request(a, t2));
    }

    #[test]
    fn a_zero_rate_still_allows_one_request_a_minute() {
        let l = limits(8, 0, 100);
        let t0 = Instant::now();
        assert!(l.allow_room_request(ip("10.0.0.1"), t0));
        assert!(!l.allow_room_request(ip("10.0.0.1"), t0));
    }

    #[test]
    fn turn_credentials_are_a_burst_per_hour_refilled_one_at_a_time() {
        let l = Limits::new(
            PerAddress {
                turn_per_hour: 2,
                ..per_address(8, 30, 100)
            },
            Instant::now(),
        );
        let t0 = Instant::now();
        assert!(l.allow_turn(ip("10.0.0.1"), t0));
        assert!(l.allow_turn(ip("10.0.0.1"), t0));
        assert!(!l.allow_turn(ip("10.0.0.1"), t0));
        assert!(l.allow_turn(ip("10.0.0.2"), t0), "another address");
        assert!(!l.allow_turn(ip("10.0.0.1"), t0 + Duration::from_secs(29 * 60)));
        assert!(l.allow_turn(ip("10.0.0.1"), t0 + Duration::from_secs(30 * 60)));
    }

    fn guesses(burst: u32, refill: Duration) -> Limits {
        Limits::new(
            PerAddress {
                guess_burst: burst,
                guess_refill: refill,
                ..per_address(8, 30, 100)
            },
            Instant::now(),
        )
    }

    #[test]
    fn the_guess_budget_is_a_burst_refilled_one_at_a_time() {
        let refill = Duration::from_secs(300);
        let l = guesses(10, refill);
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        for _ in 0..10 {
            assert!(l.charge_guess(a, t0));
        }
        assert!(!l.charge_guess(a, t0));
        assert!(l.charge_guess(ip("10.0.0.2"), t0), "others keep theirs");
        // Refused joins cost nothing: one comes back after one refill, no sooner.
        assert!(!l.charge_guess(a, t0 + refill - Duration::from_secs(1)));
        assert!(l.charge_guess(a, t0 + refill));
        assert!(!l.charge_guess(a, t0 + refill));
        // A day holds the burst and 288 refills: 298 guesses at most.
        let day = Duration::from_secs(24 * 60 * 60);
        let fresh = ip("10.0.0.3");
        let mut allowed = 0;
        let mut t = t0;
        while t <= t0 + day {
            while l.charge_guess(fresh, t) {
                allowed += 1;
            }
            t += Duration::from_secs(60);
        }
        assert_eq!(allowed, 10 + 288);
    }

    #[test]
    fn a_refund_gives_back_one_guess_and_never_more_than_the_burst() {
        let refill = Duration::from_secs(300);
        let l = guesses(3, refill);
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        // A full bucket stays full: refunds do not bank guesses for later.
        l.refund_guess(a, t0);
        l.refund_guess(a, t0);
        for _ in 0..3 {
            assert!(l.charge_guess(a, t0));
        }
        assert!(!l.charge_guess(a, t0));
        l.refund_guess(a, t0);
        assert!(l.charge_guess(a, t0));
        assert!(!l.charge_guess(a, t0));
        for _ in 0..10 {
            l.refund_guess(a, t0);
        }
        for _ in 0..3 {
            assert!(l.charge_guess(a, t0));
        }
        assert!(!l.charge_guess(a, t0));
        // An address never seen is not made up by a refund.
        let before = l.tracked();
        l.refund_guess(ip("10.9.9.9"), t0);
        assert_eq!(l.tracked(), before);
    }

    #[test]
    fn a_zero_refill_turns_the_guess_budget_off() {
        let l = guesses(1, Duration::ZERO);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(l.charge_guess(ip("10.0.0.1"), t0));
        }
    }

    #[test]
    fn idle_entries_are_swept_after_a_minute() {
        let t0 = Instant::now();
        let l = Arc::new(Limits::new(per_address(8, 30, 100), t0));
        for i in 0..10 {
            drop(l.connect(ip(&format!("10.0.0.{i}")), t0));
        }
        let held = l.connect(ip("10.0.1.1"), t0).expect("held");
        assert!(l.allow_room_request(ip("10.0.1.2"), t0));
        assert_eq!(l.tracked(), 12);
        let later = t0 + IDLE_SWEEP;
        let _probe = l.connect(ip("10.0.2.1"), later);
        // The held connection and the new probe remain; the rate entry's bucket refilled.
        assert_eq!(l.tracked(), 2);
        drop(held);
    }

    #[test]
    fn the_table_is_bounded_and_a_full_table_forgets_before_it_refuses() {
        let t0 = Instant::now();
        let l = limits(8, 2, 2);
        let _a = l.connect(ip("10.0.0.1"), t0).expect("a");
        let b = l.connect(ip("10.0.0.2"), t0).expect("b");
        assert_eq!(
            l.connect(ip("10.0.0.3"), t0).map(|_| ()),
            Err(Refused::TooManyAddresses)
        );
        assert_eq!(l.tracked(), 2);
        drop(b);
        // A sweep forced by a full table runs at most once a second.
        assert!(l.connect(ip("10.0.0.3"), t0).is_err());
        let t1 = t0 + FULL_SWEEP;
        let c = l
            .connect(ip("10.0.0.3"), t1)
            .expect("b's idle entry was swept");
        assert_eq!(l.tracked(), 2);
        // An address that spent its budget and left is forgotten rather than refusing others.
        drop(c);
        assert!(l.allow_room_request(ip("10.0.0.3"), t1));
        let t2 = t1 + FULL_SWEEP;
        assert!(l.connect(ip("10.0.0.4"), t2).is_ok());
        assert!(l.tracked() <= 2);
    }
}
