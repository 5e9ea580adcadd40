//! Command-line arguments, and their translation into a `toss_core::Config`.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};
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
        /// no code: it must accept after both sides check the verification words.
        #[arg(long, value_name = "NAME", conflicts_with = "text")]
        to: Option<String>,
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

/// Options both commands share.
#[derive(Debug, ClapArgs)]
pub(crate) struct Common {
    /// Signaling server URL (ws:// or wss://).
    #[arg(long, env = "TOSS_SIGNAL", default_value = toss_core::defaults::SIGNAL_URL)]
    signal: String,
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

    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config {
            signal: SignalEndpoint {
                url: self.signal.clone(),
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
        Ok(config)
    }
}
