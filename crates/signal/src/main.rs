//! The `toss-signal` binary: parses arguments and runs the server until Ctrl-C.
//!
//! Thin by design: everything it does lives in the library.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;

/// Toss signaling server: introduces two peers, then gets out of the way.
#[derive(Debug, Parser)]
#[command(name = "toss-signal", version)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", env = "TOSS_SIGNAL_LISTEN")]
    listen: SocketAddr,
    /// Serve wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections one address may hold open at once.
    #[arg(
        long,
        env = "TOSS_SIGNAL_MAX_CONNECTIONS_PER_IP",
        default_value_t = toss_signal::defaults::MAX_CONNECTIONS_PER_IP
    )]
    max_connections_per_ip: usize,
    /// Rooms one address may allocate or join per minute.
    #[arg(
        long,
        env = "TOSS_SIGNAL_ROOM_REQUESTS_PER_MINUTE",
        default_value_t = toss_signal::defaults::ROOM_REQUESTS_PER_IP_PER_MINUTE
    )]
    room_requests_per_minute: u32,
    /// Rooms one address may join that no allocator confirmed with `paired` (guesses at a
    /// code), before it must wait for the refill.
    #[arg(
        long,
        env = "TOSS_SIGNAL_GUESS_BURST",
        default_value_t = toss_signal::defaults::GUESS_BURST
    )]
    guess_burst: u32,
    /// Time that gives one unconfirmed join back to an address (e.g. 300s, 5m); 0 turns the
    /// guess budget off.
    #[arg(
        long,
        env = "TOSS_SIGNAL_GUESS_REFILL",
        default_value_t = Span(toss_signal::defaults::GUESS_REFILL)
    )]
    guess_refill: Span,
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
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toss-signal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "toss_signal=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut config = toss_signal::Config::new(args.listen);
        config.max_connections_per_ip = args.max_connections_per_ip;
        config.room_requests_per_ip_per_minute = args.room_requests_per_minute;
        config.guess_burst = args.guess_burst;
        config.guess_refill = args.guess_refill.0;
        config.trusted_proxies = args.trusted_proxies;
        config.metrics = args.metrics;
        if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
            config.tls = Some(toss_signal::TlsFiles { cert, key });
        }
        let server = toss_signal::Server::spawn(config).await?;
        // Scripts wait for this line to know the port is open.
        println!("toss-signal listening on {}", server.url());
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
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
        let s = ms / 1000;
        match s {
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
