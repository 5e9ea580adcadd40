//! Raw webrtc-rs throughput: two peers over loopback, one ordered reliable data channel,
//! 16 KiB messages with the same backpressure Toss uses, N MiB. Prints
//! `{"mib":N,"packet_size":P,"seconds":S,"mib_per_s":R,...}`.
//!
//! Both peers run in one process, or with `--processes 2` in two (the receiving peer is this
//! program started again with `--answer`, the descriptions passed over its stdin and stdout),
//! as Toss's sender and receiver are. `--single-thread` runs each process on a
//! single-threaded tokio runtime, as Toss runs each transfer; the default is `#[tokio::main]`'s
//! runtime with a worker per core, the stack as used naively.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, Notify};
use webrtc::api::setting_engine::{SctpPacketSize, SettingEngine};
use webrtc::api::APIBuilder;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

/// Arguments.
#[derive(Parser)]
struct Args {
    /// MiB to send.
    #[arg(long, default_value_t = 256)]
    mib: usize,
    /// SCTP packet size; 0 is the stack's default (1191).
    #[arg(long, default_value_t = 0)]
    packet_size: u32,
    /// UDP socket receive buffer to ask for, bytes (as Toss does); 0 keeps the system's default.
    #[arg(long, default_value_t = 0)]
    udp_buffer: usize,
    /// 1: both peers in this process; 2: the receiving peer in a child process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    processes: u8,
    /// Run on a single-threaded runtime (in both processes with `--processes 2`).
    #[arg(long)]
    single_thread: bool,
    /// Be the receiving peer of a two-process run (started by the other one).
    #[arg(long, hide = true)]
    answer: bool,
}

const CHUNK: usize = 16 * 1024;
const HIGH: usize = 4 * 1024 * 1024;
const LOW: usize = 1024 * 1024;

async fn peer(packet_size: u32) -> Result<Arc<RTCPeerConnection>> {
    let mut se = SettingEngine::default();
    se.detach_data_channels();
    se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    se.set_include_loopback_candidate(true);
    se.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    se.set_receive_mtu(9000);
    if packet_size > 0 {
        se.set_sctp_mtu_policy(Arc::new(move |_| SctpPacketSize {
            initial: packet_size,
            probe_up_to: 0,
        }));
    }
    let api = APIBuilder::new().with_setting_engine(se).build();
    Ok(Arc::new(
        api.new_peer_connection(RTCConfiguration::default()).await?,
    ))
}

fn detach_on_open(dc: &Arc<RTCDataChannel>, tx: mpsc::UnboundedSender<Arc<DataChannel>>) {
    let weak = Arc::downgrade(dc);
    dc.on_open(Box::new(move || {
        Box::pin(async move {
            if let Some(dc) = weak.upgrade() {
                if let Ok(raw) = dc.detach().await {
                    let _ = tx.send(raw);
                }
            }
        })
    }));
}

/// Offer/answer without trickle: each side's description after gathering completes.
async fn connect(a: &RTCPeerConnection, b: &RTCPeerConnection) -> Result<()> {
    let offer = a.create_offer(None).await?;
    b.set_remote_description(serde_json::from_str(&described(a, offer).await?)?)
        .await?;
    let answer = b.create_answer(None).await?;
    a.set_remote_description(serde_json::from_str(&described(b, answer).await?)?)
        .await?;
    Ok(())
}

/// Reads bytes until `total` arrived; returns the time from the first byte to the last.
async fn count(dc: Arc<DataChannel>, total: usize) -> Result<Duration> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    let mut first: Option<Instant> = None;
    while got < total {
        let n = dc.read(&mut buf).await?;
        if n == 0 {
            return Err(anyhow!("closed after {got} bytes"));
        }
        first.get_or_insert_with(Instant::now);
        got += n;
    }
    Ok(first.map(|f| f.elapsed()).unwrap_or_default())
}

/// Sends `total` bytes in 16 KiB messages, waiting while more than 4 MiB is queued.
async fn pour(dc: &DataChannel, total: usize) -> Result<()> {
    let drained = Arc::new(Notify::new());
    dc.set_buffered_amount_low_threshold(LOW);
    let notify = drained.clone();
    dc.on_buffered_amount_low(Box::new(move || {
        notify.notify_one();
        Box::pin(async {})
    }));
    let chunk = Bytes::from(vec![7u8; CHUNK]);
    let mut sent = 0usize;
    while sent < total {
        while dc.buffered_amount() > HIGH {
            let _ = tokio::time::timeout(Duration::from_millis(50), drained.notified()).await;
        }
        dc.write(&chunk).await?;
        sent += CHUNK;
    }
    Ok(())
}

/// The local description once gathering is complete (no trickle), as one JSON line.
async fn described(pc: &RTCPeerConnection, sdp: RTCSessionDescription) -> Result<String> {
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(sdp).await?;
    let _ = gathered.recv().await;
    Ok(serde_json::to_string(
        &pc.local_description().await.context("description")?,
    )?)
}

/// The receiving peer of a two-process run: offer on stdin, answer then result on stdout.
async fn answer(args: &Args) -> Result<()> {
    let b = peer(args.packet_size).await?;
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
    b.on_data_channel(Box::new(move |dc| {
        detach_on_open(&dc, tx_b.clone());
        Box::pin(async {})
    }));
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let offer = stdin.next_line().await?.context("no offer")?;
    b.set_remote_description(serde_json::from_str(&offer)?)
        .await?;
    let answer = b.create_answer(None).await?;
    println!("{}", described(&b, answer).await?);
    let dc = tokio::time::timeout(Duration::from_secs(20), rx_b.recv())
        .await?
        .ok_or_else(|| anyhow!("no channel"))?;
    let elapsed = count(dc, args.mib * 1024 * 1024).await?;
    println!("{}", elapsed.as_secs_f64());
    let _ = b.close().await;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = if args.single_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    webrtc::util::vnet::net::set_udp_buffer_sizes(args.udp_buffer, 0);
    if args.answer {
        return answer(&args).await;
    }
    let total = args.mib * 1024 * 1024;
    let a = peer(args.packet_size).await?;
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    let dc = a
        .create_data_channel(
            "bench",
            Some(RTCDataChannelInit {
                ordered: Some(true),
                ..Default::default()
            }),
        )
        .await?;
    detach_on_open(&dc, tx_a);
    let open = Duration::from_secs(20);
    let limit = Duration::from_secs(600);
    let seconds = if args.processes == 2 {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--answer", "--mib", &args.mib.to_string()])
            .args(["--packet-size", &args.packet_size.to_string()])
            .args(["--udp-buffer", &args.udp_buffer.to_string()])
            .args(args.single_thread.then_some("--single-thread"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut to_child = child.stdin.take().context("stdin")?;
        let mut from_child = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let offer = a.create_offer(None).await?;
        to_child
            .write_all(format!("{}\n", described(&a, offer).await?).as_bytes())
            .await?;
        let answer = tokio::time::timeout(open, from_child.next_line())
            .await??
            .context("no answer")?;
        a.set_remote_description(serde_json::from_str(&answer)?)
            .await?;
        let send_dc = tokio::time::timeout(open, rx_a.recv())
            .await?
            .ok_or_else(|| anyhow!("no channel"))?;
        pour(&send_dc, total).await?;
        let line = tokio::time::timeout(limit, from_child.next_line())
            .await??
            .context("no result from the receiving process")?;
        let _ = child.wait().await;
        line.trim().parse::<f64>()?
    } else {
        let b = peer(args.packet_size).await?;
        let (tx_b, mut rx_b) = mpsc::unbounded_channel();
        b.on_data_channel(Box::new(move |dc| {
            detach_on_open(&dc, tx_b.clone());
            Box::pin(async {})
        }));
        connect(&a, &b).await?;
        let send_dc = tokio::time::timeout(open, rx_a.recv())
            .await?
            .ok_or_else(|| anyhow!("no channel"))?;
        let recv_dc = tokio::time::timeout(open, rx_b.recv())
            .await?
            .ok_or_else(|| anyhow!("no channel"))?;
        let reader = tokio::spawn(count(recv_dc, total));
        pour(&send_dc, total).await?;
        let elapsed = tokio::time::timeout(limit, reader).await???;
        let _ = b.close().await;
        elapsed.as_secs_f64()
    };
    let mib_per_s = args.mib as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({"mib": args.mib, "processes": args.processes, "single_thread": args.single_thread, "udp_buffer": args.udp_buffer, "packet_size": if args.packet_size == 0 { 1191 } else { args.packet_size }, "seconds": seconds, "mib_per_s": mib_per_s})
    );
    let _ = a.close().await;
    Ok(())
}
