//! Command-line arguments, and their translation into a `toss_core::Config`: the signaling
//! server from `--signal` or `TOSS_SIGNAL`, else the settings file the app shares, else the
//! build's default.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args as ClapArgs, CommandFactory, FromArgMatches, Parser, Subcommand};
use toss_core::{Config, IceServer, Reach, SignalEndpoint};

/// Send files to another computer with a short code.
#[derive(Debug, Parser)]
#[command(name = "toss", version, about)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Send files or folders; prints a code for the receiver.
    Send {
        #[command(flatten)]
        common: Common,
        /// Files and folders to send.
        #[arg(required_unless_present = "text", conflicts_with = "text")]
        paths: Vec<PathBuf>,
        /// Send this short text or link instead of files.
        #[arg(long)]
        text: Option<String>,
        /// Send straight to this nearby device (its name as `toss devices` shows it), with
        /// no code: it must accept after both sides check the verification words. Give it
        /// several times to send to several devices at once, each checked on its own.
        #[arg(long, value_name = "NAME", conflicts_with = "text")]
        to: Vec<String>,
        /// Let up to N receivers use the one code (each gets its own words, connection and
        /// progress); you let each one in as it comes, or all with --yes.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 1,
            value_parser = clap::value_parser!(u32).range(1..=64),
            conflicts_with_all = ["text", "to"]
        )]
        receivers: u32,
        /// With --receivers: let in every receiver that knows the code, without asking.
        #[arg(long, short, requires = "receivers")]
        yes: bool,
    },
    /// Receive files with the code the sender gave you; with no code, wait visible to
    /// nearby devices until one sends you something.
    Receive {
        #[command(flatten)]
        common: Common,
        /// Folder to save into (default: your Downloads folder).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Accept the offer without asking.
        #[arg(long, short)]
        yes: bool,
        /// The code, like 42-orbit-lemon.
        code: Option<String>,
    },
    /// Show the signaling server in use and what chose it; `toss config server URL` keeps
    /// one where the app keeps its settings.
    Config {
        #[command(subcommand)]
        setting: Option<Setting>,
        #[command(flatten)]
        signal: SignalArg,
    },
    /// List the Toss devices visible on this local network.
    Devices {
        /// Print one JSON object per device instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds to watch the network.
        #[arg(long, default_value_t = 3)]
        wait: u64,
    },
}

/// What `toss config` changes.
#[derive(Debug, Subcommand)]
pub(crate) enum Setting {
    /// Keep URL (ws:// or wss://) as the signaling server for `toss` and the app; with no
    /// URL, show the one in use.
    Server {
        /// The server's address, like wss://toss.example.org, or a server's invite link
        /// (toss://server?url=...).
        #[arg(conflicts_with = "clear")]
        url: Option<String>,
        /// Remove the kept server: the build's default applies again.
        #[arg(long)]
        clear: bool,
    },
}

impl Args {
    /// Parses the command line (exiting with clap's message when it does not parse), noting
    /// whether the signaling server came from `TOSS_SIGNAL` rather than `--signal`.
    pub(crate) fn from_command_line() -> Self {
        let matches = Self::command().get_matches();
        let mut args = Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let from_env = matches.subcommand().is_some_and(|(_, sub)| {
            sub.ids().any(|id| id == "signal")
                && sub.value_source("signal") == Some(ValueSource::EnvVariable)
        });
        match &mut args.command {
            Command::Send { common, .. } | Command::Receive { common, .. } => {
                common.signal.from_env = from_env;
            }
            Command::Config { signal, .. } => signal.from_env = from_env,
            Command::Devices { .. } => {}
        }
        args
    }
}

/// The signaling server as the command line gives it.
#[derive(Debug, ClapArgs)]
pub(crate) struct SignalArg {
    /// Signaling server URL (ws:// or wss://); wins over the one `toss config server` keeps.
    #[arg(long, env = "TOSS_SIGNAL")]
    signal: Option<String>,
    /// Whether `signal` came from `TOSS_SIGNAL` (set after parsing).
    #[arg(skip)]
    from_env: bool,
}

/// What chose the signaling server in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--signal`.
    Flag,
    /// `TOSS_SIGNAL`.
    Environment,
    /// The settings file at this path (`toss config server`, or the app's Settings).
    Settings(PathBuf),
    /// Nothing: the build's default.
    BuiltIn,
}

impl SignalArg {
    /// The signaling server to use and what chose it: `--signal` or `TOSS_SIGNAL`, else the
    /// settings, else the build's default.
    ///
    /// # Errors
    /// The settings file cannot be read or its server is not usable (only asked when no
    /// flag or variable gives one).
    pub(crate) fn resolve(&self) -> anyhow::Result<(String, Source)> {
        if let Some(url) = self.signal.as_deref().filter(|u| !u.trim().is_empty()) {
            let source = if self.from_env {
                Source::Environment
            } else {
                Source::Flag
            };
            return Ok((url.trim().to_owned(), source));
        }
        let path = toss_core::settings::settings_path();
        let kept = toss_core::settings::server(&path)?;
        Ok(match kept {
            Some(url) => (url, Source::Settings(path)),
            None => (toss_core::defaults::SIGNAL_URL.to_owned(), Source::BuiltIn),
        })
    }
}

/// Options both commands share.
#[derive(Debug, ClapArgs)]
pub(crate) struct Common {
    #[command(flatten)]
    signal: SignalArg,
    /// Extra CA certificate (PEM) to trust for a wss:// signaling server.
    #[arg(long, env = "TOSS_SIGNAL_CA")]
    signal_ca: Option<PathBuf>,
    /// STUN or TURN server URL; repeat for several (default: public STUN servers).
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// Use no STUN or TURN server at all (local networks).
    #[arg(long, conflicts_with = "ice_servers")]
    no_ice_servers: bool,
    /// TURN relay server, like turn:turn.example.org:3478 (added to the ICE servers); it
    /// wins over the short-lived credentials a signaling server hands out.
    #[arg(long, env = "TOSS_TURN", requires = "turn_user")]
    turn: Option<String>,
    /// User name on the TURN server.
    #[arg(long, env = "TOSS_TURN_USER", requires = "turn")]
    turn_user: Option<String>,
    /// Password on the TURN server (prefer the environment variable: command lines are
    /// visible to other users of this computer).
    #[arg(
        long,
        env = "TOSS_TURN_PASSWORD",
        hide_env_values = true,
        requires = "turn"
    )]
    turn_password: Option<String>,
    /// Local network, no server: the sender hosts the rendezvous and announces it on the
    /// network (mDNS); the receiver finds it there.
    #[arg(long, env = "TOSS_LAN", value_parser = clap::builder::BoolishValueParser::new())]
    lan: bool,
    /// Never use the local network unless told to with --lan: no looking for the sender
    /// there, no falling back to it when the signaling server cannot be reached (for
    /// networks you do not trust).
    #[arg(long, env = "TOSS_NO_DISCOVERY", value_parser = clap::builder::BoolishValueParser::new(), conflicts_with = "lan")]
    no_discovery: bool,
    /// Send everything through a TURN server, for networks where direct paths fail or
    /// must not be used: the one set with --turn, else the signaling server's.
    #[arg(long, env = "TOSS_RELAY_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    relay_only: bool,
    /// Connect over this machine's loopback interface only (both ends on one computer).
    #[arg(long, env = "TOSS_LOOPBACK", value_parser = clap::builder::BoolishValueParser::new(), conflicts_with = "lan")]
    loopback: bool,
    /// The name the other side sees (default: this computer's name).
    #[arg(long, env = "TOSS_DEVICE_NAME")]
    device_name: Option<String>,
    /// Print one JSON event per line instead of progress bars.
    #[arg(long)]
    pub(crate) json: bool,
    /// Always use WebRTC's default packet size (1191 bytes), even on a local network.
    #[arg(long)]
    pub(crate) small_packets: bool,
    /// Fresh connections to try when the connection drops mid-transfer (after 1 s, 2 s,
    /// 4 s...); the transfer goes on from where it stopped. 0 gives up at once.
    #[arg(long, env = "TOSS_RECONNECT_ATTEMPTS", default_value_t = toss_core::defaults::RECONNECT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(0..=10))]
    reconnect_attempts: u32,
}

impl Common {
    /// Where the room is looked for: `--loopback`, `--lan` and `--no-discovery` exclude one
    /// another (clap refuses them together).
    fn reach(&self) -> Reach {
        if self.loopback {
            Reach::Loopback
        } else if self.lan {
            Reach::LanOnly
        } else if self.no_discovery {
            Reach::Server
        } else {
            Reach::ServerThenLan
        }
    }

    /// The core's configuration, and what chose its signaling server.
    ///
    /// # Errors
    /// As [`SignalArg::resolve`].
    pub(crate) fn config(&self) -> anyhow::Result<(Config, Source)> {
        let (url, source) = self.signal.resolve()?;
        let mut config = Config {
            signal: SignalEndpoint {
                url,
                extra_ca: self.signal_ca.clone(),
            },
            reach: self.reach(),
            large_packets: !self.small_packets,
            ..Config::default()
        };
        if self.no_ice_servers || (self.loopback && self.ice_servers.is_empty()) {
            config.ice_servers.clear();
        } else if !self.ice_servers.is_empty() {
            config.ice_servers = self.ice_servers.iter().map(IceServer::stun).collect();
        }
        if let Some(url) = &self.turn {
            config.ice_servers.push(IceServer {
                urls: vec![url.clone()],
                username: self.turn_user.clone().unwrap_or_default(),
                credential: self.turn_password.clone().unwrap_or_default(),
            });
        }
        config.relay_only = self.relay_only;
        config.reconnect_attempts = self.reconnect_attempts;
        if let Some(name) = &self.device_name {
            config.device_name = name.clone();
        }
        Ok((config, source))
    }
}
