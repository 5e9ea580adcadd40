//! The `toss-signal` command line: one option per limit of [`toss_signal::Config`], each
//! also read from an environment variable, with the defaults of [`toss_signal::defaults`].
//!
//! Part of the binary; it maps arguments to a `Config` and must never hold server logic.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use toss_signal::defaults;

/// Toss signaling server: introduces two peers, then gets out of the way.
///
/// Every limit has an option; lengths of time are written 90s, 30m, 2h or 500ms (a bare
/// number is seconds).
#[derive(Debug, Parser)]
#[command(name = "toss-signal", version)]
pub(crate) struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", env = "TOSS_SIGNAL_LISTEN")]
    listen: SocketAddr,
    /// Serve wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key", env = "TOSS_SIGNAL_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", env = "TOSS_SIGNAL_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy in front of this server (repeat for several): its X-Forwarded-For
    /// header names the client for the per-address limits. Behind a proxy, without this,
    /// every client counts as the proxy's address.
    #[arg(
        long = "trusted-proxy",
        env = "TOSS_SIGNAL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpAddr>,
    /// Serve GET /metrics (Prometheus text). Off by default: it tells anyone how many rooms
    /// are open; when on, keep /metrics off the public internet (docs/deploy.md).
    #[arg(long, env = "TOSS_SIGNAL_METRICS")]
    metrics: bool,
    /// A TURN server's URL handed to paired peers with short-lived credentials, like
    /// turn:turn.example.org:3478?transport=udp (repeat for several). Needs the secret it
    /// shares with the TURN server: --turn-secret-file, or the TOSS_TURN_SECRET variable.
    #[arg(
        long = "turn-url",
        env = "TOSS_SIGNAL_TURN_URLS",
        value_delimiter = ','
    )]
    turn_urls: Vec<String>,
    /// A file holding the secret shared with the TURN server (coturn's static-auth-secret).
    /// The secret itself is never an option: options show in the process list.
    #[arg(long, env = "TOSS_SIGNAL_TURN_SECRET_FILE")]
    turn_secret_file: Option<PathBuf>,
    /// How long the TURN credentials handed out are good for.
    #[arg(
        long,
        env = "TOSS_SIGNAL_TURN_TTL",
        default_value_t = Span(defaults::TURN_TTL),
        value_parser = nonzero_span
    )]
    turn_ttl: Span,
    /// TURN credentials one client may get in one room.
    #[arg(
        long,
        env = "TOSS_SIGNAL_TURN_PER_ROOM",
        default_value_t = defaults::TURN_PER_ROOM,
        value_parser = RangedU64ValueParser::<u32>::new().range(1..)
    )]
    turn_per_room: u32,
    /// TURN credentials one address may get in an hour.
    #[arg(
        long,
        env = "TOSS_SIGNAL_TURN_PER_HOUR",
        default_value_t = defaults::TURN_PER_HOUR,
        value_parser = RangedU64ValueParser::<u32>::new().range(1..)
    )]
    turn_per_hour: u32,
    /// Connections one address may hold open at once.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_CONNECTIONS_PER_IP",
        default_value_t = defaults::MAX_CONNECTIONS_PER_IP,
        value_parser = at_least_one()
    )]
    max_connections_per_ip: usize,
    /// Rooms one address may allocate or join per minute.
    #[arg(
        long,
        env = "TOSS_SIGNAL_ROOM_REQUESTS_PER_MINUTE",
        default_value_t = defaults::ROOM_REQUESTS_PER_IP_PER_MINUTE,
        value_parser = RangedU64ValueParser::<u32>::new().range(1..)
    )]
    room_requests_per_minute: u32,
    /// Rooms one address may join that no allocator confirmed with `paired` (guesses at a
    /// code), before it must wait for the refill.
    #[arg(
        long,
        env = "TOSS_SIGNAL_GUESS_BURST",
        default_value_t = defaults::GUESS_BURST,
        value_parser = RangedU64ValueParser::<u32>::new().range(1..)
    )]
    guess_burst: u32,
    /// Time that gives one unconfirmed join back to an address; 0 turns the guess budget
    /// off (for load tests only: it is what stops guessing codes).
    #[arg(
        long,
        env = "TOSS_SIGNAL_GUESS_REFILL",
        default_value_t = Span(defaults::GUESS_REFILL)
    )]
    guess_refill: Span,
    /// IPv6 addresses sharing this many leading bits count as one address for every
    /// per-address limit (128: each on its own).
    #[arg(
        long,
        env = "TOSS_SIGNAL_IPV6_PREFIX_LEN",
        default_value_t = defaults::IPV6_PREFIX_LEN,
        value_parser = RangedU64ValueParser::<u8>::new().range(1..=128)
    )]
    ipv6_prefix_len: u8,
    /// Addresses whose counts are kept at once; a new address past it gets HTTP 503 while
    /// all of them have connections open.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_TRACKED_IPS",
        default_value_t = defaults::MAX_TRACKED_IPS,
        value_parser = at_least_one()
    )]
    max_tracked_ips: usize,
    /// Refused connections answered with an HTTP status at once; more are closed unanswered.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_REFUSALS_IN_FLIGHT",
        default_value_t = defaults::MAX_REFUSALS_IN_FLIGHT
    )]
    max_refusals_in_flight: usize,
    /// Rooms open at once; `allocate` past it is answered server_busy.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_ROOMS",
        default_value_t = defaults::MAX_ROOMS,
        value_parser = at_least_one()
    )]
    max_rooms: usize,
    /// Most receivers one code lets join (a group code); a sender asking for more gets this
    /// many.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_RECEIVERS",
        default_value_t = defaults::MAX_RECEIVERS,
        value_parser = RangedU64ValueParser::<u32>::new().range(1..=64)
    )]
    max_receivers: u32,
    /// A room in which nothing is relayed for this long is closed.
    #[arg(
        long,
        env = "TOSS_SIGNAL_ROOM_IDLE",
        default_value_t = Span(defaults::ROOM_IDLE),
        value_parser = nonzero_span
    )]
    room_idle: Span,
    /// A room is closed this long after it was made, busy or not.
    #[arg(
        long,
        env = "TOSS_SIGNAL_ROOM_LIFETIME",
        default_value_t = Span(defaults::ROOM_LIFETIME),
        value_parser = nonzero_span
    )]
    room_lifetime: Span,
    /// Time for the TLS handshake and for each HTTP request head.
    #[arg(
        long,
        env = "TOSS_SIGNAL_HANDSHAKE_TIMEOUT",
        default_value_t = Span(defaults::HANDSHAKE_TIMEOUT),
        value_parser = nonzero_span
    )]
    handshake_timeout: Span,
    /// A WebSocket in no room for this long is closed.
    #[arg(
        long,
        env = "TOSS_SIGNAL_UNPAIRED_IDLE",
        default_value_t = Span(defaults::UNPAIRED_IDLE),
        value_parser = nonzero_span
    )]
    unpaired_idle: Span,
    /// Messages queued for a client that has not read them; past it a relayed message
    /// closes the room (relay_overflow), anything else the client's connection.
    #[arg(
        long,
        env = "TOSS_SIGNAL_OUTBOUND_QUEUE",
        default_value_t = defaults::OUTBOUND_QUEUE,
        value_parser = at_least_one()
    )]
    outbound_queue: usize,
}

/// The environment variable that holds the TURN secret, when no file does.
pub(crate) const TURN_SECRET_ENV: &str = "TOSS_TURN_SECRET";

impl Args {
    /// The server's configuration, the TURN secret read from its file or from
    /// [`TURN_SECRET_ENV`].
    ///
    /// # Errors
    /// A sentence for a TURN setting that cannot work.
    pub(crate) fn config(self) -> Result<toss_signal::Config, String> {
        let env_secret = std::env::var(TURN_SECRET_ENV).ok();
        self.config_with(env_secret)
    }

    /// [`Args::config`] with the environment's secret given.
    fn config_with(self, env_secret: Option<String>) -> Result<toss_signal::Config, String> {
        let turn = self.turn(env_secret)?;
        let mut config = self.limits();
        config.turn = turn;
        Ok(config)
    }

    /// The TURN server to hand out credentials for, if one was given.
    fn turn(&self, env_secret: Option<String>) -> Result<Option<toss_signal::Turn>, String> {
        let secret = match &self.turn_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("cannot read the TURN secret from {}: {e}", path.display())
                })?;
                let secret = toss_signal::TurnSecret::new(&text)
                    .ok_or_else(|| format!("the TURN secret file {} is empty", path.display()))?;
                Some(secret)
            }
            None => env_secret.as_deref().and_then(toss_signal::TurnSecret::new),
        };
        match (self.turn_urls.is_empty(), secret) {
            (true, None) => Ok(None),
            (true, Some(_)) => Err(
                "a TURN secret was given without --turn-url; say where the TURN server is, or leave the secret out"
                    .to_owned(),
            ),
            (false, None) => Err(format!(
                "--turn-url needs the secret shared with the TURN server: give --turn-secret-file PATH or set {TURN_SECRET_ENV}"
            )),
            (false, Some(secret)) => {
                for url in &self.turn_urls {
                    if !(url.starts_with("turn:") || url.starts_with("turns:")) {
                        return Err(format!(
                            "--turn-url takes a turn: or turns: URL such as turn:turn.example.org:3478?transport=udp, not {url:?}"
                        ));
                    }
                }
                Ok(Some(toss_signal::Turn {
                    urls: self.turn_urls.clone(),
                    secret,
                    ttl: self.turn_ttl.0,
                }))
            }
        }
    }

    /// Everything but TURN's server and secret.
    fn limits(self) -> toss_signal::Config {
        let mut config = toss_signal::Config::new(self.listen);
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            config.tls = Some(toss_signal::TlsFiles { cert, key });
        }
        config.trusted_proxies = self.trusted_proxies;
        config.metrics = self.metrics;
        config.max_connections_per_ip = self.max_connections_per_ip;
        config.room_requests_per_ip_per_minute = self.room_requests_per_minute;
        config.guess_burst = self.guess_burst;
        config.guess_refill = self.guess_refill.0;
        config.ipv6_prefix_len = self.ipv6_prefix_len;
        config.max_tracked_ips = self.max_tracked_ips;
        config.max_refusals_in_flight = self.max_refusals_in_flight;
        config.max_rooms = self.max_rooms;
        config.max_receivers = self.max_receivers;
        config.room_idle = self.room_idle.0;
        config.room_lifetime = self.room_lifetime.0;
        config.handshake_timeout = self.handshake_timeout.0;
        config.unpaired_idle = self.unpaired_idle.0;
        config.outbound_queue = self.outbound_queue;
        config.turn_per_room = self.turn_per_room;
        config.turn_per_hour = self.turn_per_hour;
        config
    }
}

/// A count of which zero would refuse everything.
fn at_least_one() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..)
}

/// A length of time of which zero would close everything at once.
fn nonzero_span(s: &str) -> Result<Span, String> {
    let span: Span = s.parse()?;
    if span.0.is_zero() {
        return Err("must be longer than 0".to_owned());
    }
    Ok(span)
}

/// A length of time on the command line: a whole number with `ms`, `s`, `m` or `h`, or of
/// seconds when it has no unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span(Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let bad = || format!("{s:?} is not a length of time such as 90s, 30m, 2h or 500ms");
        let n: u64 = number.parse().map_err(|_| bad())?;
        let seconds = |factor: u64| n.checked_mul(factor).map(Duration::from_secs);
        let duration = match unit.trim() {
            "ms" => Some(Duration::from_millis(n)),
            "" | "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(60 * 60),
            _ => None,
        };
        duration.map(Span).ok_or_else(bad)
    }
}

impl fmt::Display for Span {
    /// The largest unit that shows the length exactly, so defaults read as they were meant.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 != 0 {
            return write!(f, "{ms}ms");
        }
        match ms / 1000 {
            0 => write!(f, "0s"),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use toss_signal::Config;

    type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

    fn parse(args: &[&str]) -> AnyResult<Config> {
        parse_with(args, None)
    }

    fn parse_with(args: &[&str], env_secret: Option<&str>) -> AnyResult<Config> {
        let argv = std::iter::once("toss-signal").chain(args.iter().copied());
        Ok(Args::try_parse_from(argv)?.config_with(env_secret.map(str::to_owned))?)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn with_no_options_every_limit_is_the_library_default() -> AnyResult<()> {
        let parsed = parse(&[])?;
        let default = Config::new("127.0.0.1:8787".parse().expect("an address"));
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
        Ok(())
    }

    #[test]
    fn every_limit_is_an_option_that_reaches_the_config() -> AnyResult<()> {
        let dir = tempfile::tempdir()?;
        let secret_file = dir.path().join("turn-secret");
        std::fs::write(&secret_file, "s3cret\n")?;
        let secret_arg = format!("--turn-secret-file={}", secret_file.display());
        let config = parse(&[
            "--turn-url=turn:turn.example.org:3478?transport=udp",
            "--turn-url=turn:turn.example.org:3478?transport=tcp",
            &secret_arg,
            "--turn-ttl=90s",
            "--turn-per-room=2",
            "--turn-per-hour=14",
            "--listen=127.0.0.1:9999",
            "--tls-cert=cert.pem",
            "--tls-key=key.pem",
            "--trusted-proxy=127.0.0.9",
            "--trusted-proxy=::1",
            "--metrics",
            "--max-connections-per-ip=3",
            "--room-requests-per-minute=4",
            "--guess-burst=5",
            "--guess-refill=6m",
            "--ipv6-prefix-len=48",
            "--max-tracked-ips=7",
            "--max-refusals-in-flight=8",
            "--max-rooms=9",
            "--max-receivers=5",
            "--room-idle=10s",
            "--room-lifetime=11h",
            "--handshake-timeout=1500ms",
            "--unpaired-idle=12",
            "--outbound-queue=13",
        ])?;
        // Taken apart whole: a field added to Config fails to compile here until it has an
        // option (or a reason not to).
        let Config {
            listen,
            tls,
            max_connections_per_ip,
            room_requests_per_ip_per_minute,
            guess_burst,
            guess_refill,
            ipv6_prefix_len,
            max_tracked_ips,
            max_refusals_in_flight,
            max_rooms,
            max_receivers,
            room_idle,
            room_lifetime,
            handshake_timeout,
            unpaired_idle,
            outbound_queue,
            trusted_proxies,
            metrics,
            turn,
            turn_per_room,
            turn_per_hour,
            // The owner of an in-process server asks for this; the binary has no owner.
            announce_rooms,
            // Only a sender's own rendezvous hands out local-network codes.
            local_codes,
        } = config;
        assert_eq!(listen.to_string(), "127.0.0.1:9999");
        let tls = tls.expect("TLS files");
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("cert.pem"), Some("key.pem"))
        );
        assert_eq!(
            trusted_proxies,
            ["127.0.0.9".parse::<IpAddr>().ok(), "::1".parse().ok()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        );
        assert!(metrics);
        assert!(!announce_rooms);
        assert!(!local_codes);
        assert_eq!(max_connections_per_ip, 3);
        assert_eq!(room_requests_per_ip_per_minute, 4);
        assert_eq!(guess_burst, 5);
        assert_eq!(guess_refill, Duration::from_secs(360));
        assert_eq!(ipv6_prefix_len, 48);
        assert_eq!(max_tracked_ips, 7);
        assert_eq!(max_refusals_in_flight, 8);
        assert_eq!(max_rooms, 9);
        assert_eq!(max_receivers, 5);
        assert_eq!(room_idle, Duration::from_secs(10));
        assert_eq!(room_lifetime, Duration::from_secs(11 * 3600));
        assert_eq!(handshake_timeout, Duration::from_millis(1500));
        assert_eq!(unpaired_idle, Duration::from_secs(12));
        assert_eq!(outbound_queue, 13);
        let turn = turn.ok_or("TURN")?;
        assert_eq!(
            turn.urls,
            [
                "turn:turn.example.org:3478?transport=udp",
                "turn:turn.example.org:3478?transport=tcp"
            ]
        );
        assert_eq!(
            turn.secret,
            toss_signal::TurnSecret::new("s3cret").ok_or("secret")?
        );
        assert_eq!(turn.ttl, Duration::from_secs(90));
        assert_eq!(turn_per_room, 2);
        assert_eq!(turn_per_hour, 14);
        Ok(())
    }

    #[test]
    fn the_turn_secret_comes_from_a_file_or_the_environment_and_never_alone() -> AnyResult<()> {
        let url = "--turn-url=turn:192.0.2.1:3478?transport=udp";
        let from_env = parse_with(&[url], Some("env-secret\n"))?
            .turn
            .ok_or("TURN")?;
        assert_eq!(
            from_env.secret,
            toss_signal::TurnSecret::new("env-secret").ok_or("secret")?
        );
        assert_eq!(
            from_env.ttl,
            Duration::from_secs(600),
            "ten minutes by default"
        );
        let no_secret = parse(&[url]).err().ok_or("no secret accepted")?;
        assert!(
            no_secret.to_string().contains("TOSS_TURN_SECRET"),
            "{no_secret}"
        );
        assert!(
            parse_with(&[], Some("lonely")).is_err(),
            "a secret without a URL"
        );
        assert!(parse_with(&["--turn-url=stun:192.0.2.1"], Some("x")).is_err());
        assert!(parse(&["--turn-secret-file=/nonexistent/secret", url]).is_err());
        assert!(parse_with(&[], None)?.turn.is_none());
        // No option takes the secret itself.
        for arg in Args::command().get_arguments() {
            let long = arg.get_long().unwrap_or_default();
            assert!(
                !long.contains("secret") || long.ends_with("-file"),
                "--{long}"
            );
        }
        Ok(())
    }

    #[test]
    fn limits_that_would_refuse_everything_are_refused() {
        for bad in [
            "--max-connections-per-ip=0",
            "--room-requests-per-minute=0",
            "--guess-burst=0",
            "--ipv6-prefix-len=0",
            "--ipv6-prefix-len=129",
            "--max-tracked-ips=0",
            "--max-rooms=0",
            "--room-idle=0",
            "--room-lifetime=0s",
            "--handshake-timeout=0ms",
            "--unpaired-idle=0",
            "--outbound-queue=0",
            "--turn-ttl=0",
            "--turn-per-room=0",
            "--turn-per-hour=0",
            "--room-idle=soon",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad}");
        }
        // The guess budget may be turned off, for load tests.
        assert!(parse(&["--guess-refill=0"]).is_ok());
    }

    #[test]
    fn every_option_is_documented_in_deploy_md() {
        let deploy = include_str!("../../../docs/deploy.md");
        for arg in Args::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            assert!(deploy.contains(&format!("--{long}")), "--{long}");
            if let Some(env) = arg.get_env() {
                let env = env.to_string_lossy();
                assert!(deploy.contains(env.as_ref()), "{env}");
            }
        }
    }

    #[test]
    fn spans_parse_with_or_without_a_unit_and_print_back() {
        for (text, duration, shown) in [
            ("90", Duration::from_secs(90), "90s"),
            ("90s", Duration::from_secs(90), "90s"),
            ("30m", Duration::from_secs(1800), "30m"),
            ("2h", Duration::from_secs(7200), "2h"),
            ("120m", Duration::from_secs(7200), "2h"),
            ("500ms", Duration::from_millis(500), "500ms"),
            ("0", Duration::ZERO, "0s"),
        ] {
            let span: Span = text.parse().expect(text);
            assert_eq!(span, Span(duration), "{text}");
            assert_eq!(span.to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "m",
            "-5s",
            "1.5h",
            "5 days",
            "5d",
            "99999999999999999999h",
        ] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?}");
        }
    }
}
