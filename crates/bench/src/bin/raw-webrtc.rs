//! Raw webrtc-rs throughput: two peers in one process over loopback, one ordered reliable
//! data channel, 16 KiB messages with the same backpressure Toss uses, N MiB. Prints
//! `{"mib":N,"packet_size":P,"seconds":S,"mib_per_s":R}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use clap::Parser;
use tokio::sync::{mpsc, Notify};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::peer_connection::configuration::RTCConfiguration;
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
    /// UDP socket receive and send buffer to ask for, bytes; 0 keeps the system's default.
    #[arg(long, default_value_t = 0)]
    udp_buffer: usize,
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
        se.set_sctp_mtu_policy(Arc::new(move |_| packet_size));
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
    let mut gathered = a.gathering_complete_promise().await;
    a.set_local_description(offer).await?;
    let _ = gathered.recv().await;
    b.set_remote_description(a.local_description().await.context("offer")?)
        .await?;
    let answer = b.create_answer(None).await?;
    let mut gathered = b.gathering_complete_promise().await;
    b.set_local_description(answer).await?;
    let _ = gathered.recv().await;
    a.set_remote_description(b.local_description().await.context("answer")?)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    webrtc::util::vnet::net::set_udp_buffer_sizes(args.udp_buffer, args.udp_buffer);
    let a = peer(args.packet_size).await?;
    let b = peer(args.packet_size).await?;
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
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
    b.on_data_channel(Box::new(move |dc| {
        detach_on_open(&dc, tx_b.clone());
        Box::pin(async {})
    }));
    connect(&a, &b).await?;
    let open = Duration::from_secs(20);
    let send_dc = tokio::time::timeout(open, rx_a.recv())
        .await?
        .ok_or_else(|| anyhow!("no channel"))?;
    let recv_dc = tokio::time::timeout(open, rx_b.recv())
        .await?
        .ok_or_else(|| anyhow!("no channel"))?;

    let total = args.mib * 1024 * 1024;
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0usize;
        let mut first: Option<Instant> = None;
        while got < total {
            let n = recv_dc.read(&mut buf).await?;
            if n == 0 {
                return Err(anyhow!("closed after {got} bytes"));
            }
            first.get_or_insert_with(Instant::now);
            got += n;
        }
        Ok::<_, anyhow::Error>(first.map(|f| f.elapsed()).unwrap_or_default())
    });
    let drained = Arc::new(Notify::new());
    send_dc.set_buffered_amount_low_threshold(LOW);
    let notify = drained.clone();
    send_dc.on_buffered_amount_low(Box::new(move || {
        notify.notify_one();
        Box::pin(async {})
    }));
    let chunk = Bytes::from(vec![7u8; CHUNK]);
    let mut sent = 0usize;
    while sent < total {
        while send_dc.buffered_amount() > HIGH {
            let _ = tokio::time::timeout(Duration::from_millis(50), drained.notified()).await;
        }
        send_dc.write(&chunk).await?;
        sent += CHUNK;
    }
    let limit = Duration::from_secs(600);
    let elapsed = tokio::time::timeout(limit, reader).await???;
    let seconds = elapsed.as_secs_f64();
    let mib_per_s = args.mib as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({"mib": args.mib, "udp_buffer": args.udp_buffer, "packet_size": if args.packet_size == 0 { 1191 } else { args.packet_size }, "seconds": seconds, "mib_per_s": mib_per_s})
    );
    let _ = a.close().await;
    let _ = b.close().await;
    Ok(())
}
