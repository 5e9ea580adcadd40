//! Signaling load: N WebSocket clients on one `toss-signal`, paired in N/2 rooms; in each
//! room one peer relays offer-sized messages (4 KiB) to the other, each after a random pause
//! of up to a second. Prints relay latency
//! percentiles (send to receive, both clients in this process) as one JSON line. The
//! server's memory and CPU are measured from outside (scripts/bench.sh).

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, WebSocketStream};

/// Arguments.
#[derive(Parser)]
struct Args {
    /// The server, `host:port` on loopback.
    #[arg(long)]
    addr: std::net::SocketAddr,
    /// Clients in all (two per room).
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Messages each room relays.
    #[arg(long, default_value_t = 5)]
    messages: usize,
    /// Bytes per message body.
    #[arg(long, default_value_t = 4096)]
    body: usize,
}

type Ws = WebSocketStream<tokio::net::TcpStream>;

async fn open(addr: std::net::SocketAddr) -> Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    let tcp = socket.connect(addr).await?;
    // As Toss's own signaling client: small messages go out at once (no Nagle delay).
    tcp.set_nodelay(true)?;
    let (ws, _) = client_async(format!("ws://{addr}/"), tcp).await?;
    Ok(ws)
}

async fn next_json(ws: &mut Ws) -> Result<Value> {
    loop {
        match ws.next().await.ok_or_else(|| anyhow!("closed"))?? {
            Message::Text(t) => return Ok(serde_json::from_str(t.as_str())?),
            _ => continue,
        }
    }
}

async fn send(ws: &mut Ws, v: Value) -> Result<()> {
    ws.send(Message::Text(v.to_string().into())).await?;
    Ok(())
}

/// Opens a room and joins it: (allocator, joiner).
async fn pair(args: &Args) -> Result<(Ws, Ws)> {
    let mut a = open(args.addr).await?;
    send(&mut a, json!({"v":1,"type":"allocate"})).await?;
    let allocated = next_json(&mut a).await?;
    let nameplate = allocated["nameplate"]
        .as_str()
        .with_context(|| format!("allocate answered {allocated}"))?
        .to_owned();
    let mut b = open(args.addr).await?;
    send(&mut b, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    let joined = next_json(&mut b).await?;
    if joined["type"] != "joined" {
        return Err(anyhow!("join answered {joined}"));
    }
    let _peer_joined = next_json(&mut a).await?;
    Ok((a, b))
}

/// One room: pair, wait until every room is open (all clients connected at once), then
/// relay `messages` bodies; returns the latencies in microseconds.
async fn room(
    args: &Args,
    epoch: Instant,
    gate: &tokio::sync::Semaphore,
    ready: &tokio::sync::Barrier,
) -> Result<Vec<u64>> {
    // At most a few hundred rooms pair at once.
    let paired = match gate.acquire().await {
        Ok(_permit) => tokio::time::timeout(Duration::from_secs(120), pair(args))
            .await
            .unwrap_or_else(|_| Err(anyhow!("pairing timed out"))),
        Err(e) => Err(e.into()),
    };
    ready.wait().await;
    let (mut a, mut b) = paired?;
    let filler = "x".repeat(args.body);
    let mut latencies = Vec::with_capacity(args.messages);
    for _ in 0..args.messages {
        // Rooms relay at random moments, as real setups do, not all in the same instant.
        let pause = rand::random::<u64>() % 1000;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let sent = epoch.elapsed().as_micros() as u64;
        send(
            &mut a,
            json!({"v":1,"type":"send","body":format!("{sent}:{filler}")}),
        )
        .await?;
        let got = next_json(&mut b).await?;
        let now = epoch.elapsed().as_micros() as u64;
        let body = got["body"].as_str().context("a relayed body")?;
        let stamp: u64 = body.split(':').next().unwrap_or("0").parse()?;
        latencies.push(now.saturating_sub(stamp));
    }
    Ok(latencies)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = std::sync::Arc::new(Args::parse());
    let rooms = args.clients / 2;
    let epoch = Instant::now();
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(rooms));
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = Vec::with_capacity(rooms);
    for _ in 0..rooms {
        let (args, ready, gate) = (args.clone(), ready.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            room(&args, epoch, &gate, &ready).await
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0usize;
    let mut first_error = None;
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(600), t).await {
            Ok(Ok(Ok(l))) => all.extend(l),
            Ok(Ok(Err(e))) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
            _ => failed += 1,
        }
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i] as f64 / 1000.0
    };
    println!(
        "{}",
        json!({"clients": args.clients, "rooms": rooms, "failed_rooms": failed,
               "messages": all.len(), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
               "max_ms": pct(1.0), "seconds": epoch.elapsed().as_secs_f64(),
               "first_error": first_error})
    );
    Ok(())
}
