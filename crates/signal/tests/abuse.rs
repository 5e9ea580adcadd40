//! The signaling server under abuse, through real clients on loopback addresses (Linux routes
//! all of 127.0.0.0/8 to `lo`, so each test plays several hosts): size caps, the per-address
//! connection cap, the per-address rate of `allocate`/`join`, the guess budget and `paired`,
//! IPv6 prefixes, room limits, a recipient that falls behind, handshake and idle timeouts,
//! trusted proxies, and the `/metrics` counters that record each refusal.
//!
//! Each test would fail if the protection it names were removed. Limits are configured small
//! so the tests are quick; the only timing asserted is a generous upper bound on "dropped".

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use toss_signal::defaults::{MAX_MESSAGE_BYTES, MAX_WS_MESSAGE_BYTES};
use toss_signal::{Config, Server};
use toss_testkit::{AnyResult, TestResult};

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Longest wait for one server reply.
const REPLY: Duration = Duration::from_secs(5);

/// Upper bound for "dropped eventually": ten times any timeout the tests configure.
const DROPPED: Duration = Duration::from_secs(5);

/// The default limits, with `/metrics` served so that refusals can be counted.
fn config() -> Config {
    let mut config = toss_testkit::signal::loopback();
    config.metrics = true;
    config
}

/// A TCP connection to `server` from the loopback address `from`.
async fn tcp_from(from: &str, server: &Server) -> AnyResult<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse()?, 0))?;
    Ok(socket.connect(server.local_addr()).await?)
}

/// A WebSocket handshake from `from`, optionally with an `X-Forwarded-For` header; the outer
/// error is the test's, the inner one the handshake's.
async fn handshake_from(
    from: &str,
    server: &Server,
    forwarded_for: Option<&str>,
) -> AnyResult<Result<Ws, tungstenite::Error>> {
    let tcp = tcp_from(from, server).await?;
    let mut request = server.url().into_client_request()?;
    if let Some(xff) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", HeaderValue::from_str(xff)?);
    }
    let handshake = tokio_tungstenite::client_async(request, tcp);
    Ok(tokio::time::timeout(REPLY, handshake)
        .await?
        .map(|(ws, _)| ws))
}

async fn client_from(from: &str, server: &Server) -> AnyResult<Ws> {
    Ok(handshake_from(from, server, None).await??)
}

/// Asserts the handshake was answered with `status` and a sentence, not upgraded.
fn assert_refused(result: Result<Ws, tungstenite::Error>, status: u16) -> TestResult {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), status);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.trim_end().ends_with('.'), "a sentence: {body:?}");
            Ok(())
        }
        Err(e) => Err(format!("expected HTTP {status}, got {e}").into()),
        Ok(_) => Err(format!("expected HTTP {status}, got a WebSocket").into()),
    }
}

async fn send(ws: &mut Ws, v: Value) -> TestResult {
    send_text(ws, v.to_string()).await
}

async fn send_text(ws: &mut Ws, text: String) -> TestResult {
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}

async fn recv(ws: &mut Ws) -> AnyResult<Value> {
    loop {
        let msg = tokio::time::timeout(REPLY, ws.next())
            .await?
            .ok_or("closed")??;
        if let Message::Text(t) = msg {
            return Ok(serde_json::from_str(t.as_str())?);
        }
    }
}

fn error_code(v: &Value) -> &str {
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.ends_with('.')),
        "a sentence: {v}"
    );
    v["code"].as_str().unwrap_or("")
}

/// Waits until the server closes `ws`, failing if it answers anything instead.
async fn assert_closed(ws: &mut Ws) -> TestResult {
    let deadline = tokio::time::Instant::now() + DROPPED;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("the server kept the connection open".into()),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Ok(()),
            Ok(Some(Ok(Message::Text(t)))) => {
                return Err(format!("answered instead of closed: {t}").into())
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Waits until the server closes a raw TCP connection (EOF or reset).
async fn assert_tcp_closed(tcp: &mut TcpStream) -> TestResult {
    let mut sink = Vec::new();
    match tokio::time::timeout(DROPPED, tcp.read_to_end(&mut sink)).await {
        Ok(_) => Ok(()),
        Err(_) => Err("the server kept a silent connection open".into()),
    }
}

async fn allocate(ws: &mut Ws) -> AnyResult<String> {
    send(ws, json!({"v":1,"type":"allocate"})).await?;
    let reply = recv(ws).await?;
    assert_eq!(reply["type"], "allocated", "{reply}");
    Ok(reply["nameplate"].as_str().ok_or("nameplate")?.to_owned())
}

/// Two peers from two addresses, paired.
async fn pair(server: &Server, from: [&str; 2]) -> AnyResult<(Ws, Ws)> {
    let mut a = client_from(from[0], server).await?;
    let nameplate = allocate(&mut a).await?;
    let mut b = client_from(from[1], server).await?;
    send(&mut b, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    assert_eq!(recv(&mut b).await?["type"], "joined");
    assert_eq!(recv(&mut a).await?["type"], "peer_joined");
    Ok((a, b))
}

/// One sample from `/metrics`, read over HTTP from 127.0.0.1, e.g.
/// `toss_signal_refusals_total{reason="too_large"}`.
async fn metric(server: &Server, sample: &str) -> AnyResult<u64> {
    let mut tcp = tcp_from("127.0.0.1", server).await?;
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    tokio::time::timeout(REPLY, tcp.read_to_string(&mut out)).await??;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let value = out
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .ok_or_else(|| format!("no {sample} in {out}"))?;
    Ok(value.parse()?)
}

#[tokio::test]
async fn a_send_at_the_message_cap_is_relayed_and_one_byte_over_is_refused() -> TestResult {
    let server = Server::spawn(config()).await?;
    let (mut a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    let overhead = json!({"v":1,"type":"send","body":""}).to_string().len();
    let body = "y".repeat(MAX_MESSAGE_BYTES - overhead);
    let at_cap = json!({"v":1,"type":"send","body":body}).to_string();
    assert_eq!(at_cap.len(), MAX_MESSAGE_BYTES);
    send_text(&mut a, at_cap).await?;
    let relayed = recv(&mut b).await?;
    assert_eq!(relayed["type"], "message");
    assert_eq!(relayed["body"].as_str().map(str::len), Some(body.len()));
    let over = json!({"v":1,"type":"send","body":format!("{body}y")}).to_string();
    assert_eq!(over.len(), MAX_MESSAGE_BYTES + 1);
    send_text(&mut a, over).await?;
    assert_eq!(error_code(&recv(&mut a).await?), "too_large");
    // The refused sender and its room carry on.
    send(&mut a, json!({"v":1,"type":"send","body":"after"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "after");
    assert_eq!(
        metric(&server, "toss_signal_refusals_total{reason=\"too_large\"}").await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn a_websocket_message_over_the_transport_cap_closes_the_connection() -> TestResult {
    let server = Server::spawn(config()).await?;
    let mut ws = client_from("127.0.0.2", &server).await?;
    // Exactly at the transport cap, a message is still read and refused with a reply...
    send_text(&mut ws, "z".repeat(MAX_WS_MESSAGE_BYTES)).await?;
    assert_eq!(error_code(&recv(&mut ws).await?), "too_large");
    // ...one byte over, the transport drops the connection without buffering it.
    send_text(&mut ws, "z".repeat(MAX_WS_MESSAGE_BYTES + 1)).await?;
    assert_closed(&mut ws).await?;
    // Others are unaffected.
    let mut other = client_from("127.0.0.3", &server).await?;
    allocate(&mut other).await?;
    Ok(())
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_get_429_and_the_slot_comes_back() -> TestResult {
    let mut config = config();
    config.max_connections_per_ip = 2;
    let server = Server::spawn(config).await?;
    // A socket that never speaks holds a slot as much as a WebSocket does.
    let _silent = tcp_from("127.0.0.2", &server).await?;
    let ws = client_from("127.0.0.2", &server).await?;
    assert_refused(handshake_from("127.0.0.2", &server, None).await?, 429)?;
    // Another address is not affected.
    let mut other = client_from("127.0.0.3", &server).await?;
    allocate(&mut other).await?;
    // Closing one gives its slot back, once the server has seen the close.
    drop(ws);
    let mut back = None;
    for _ in 0..100 {
        if let Ok(ws) = handshake_from("127.0.0.2", &server, None).await? {
            back = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut back = back.ok_or("the slot never came back")?;
    allocate(&mut back).await?;
    assert!(
        metric(
            &server,
            "toss_signal_connections_refused_total{reason=\"per_ip_limit\"}"
        )
        .await?
            >= 1
    );
    Ok(())
}

#[tokio::test]
async fn room_requests_over_the_rate_are_refused_per_address() -> TestResult {
    let mut config = config();
    config.room_requests_per_ip_per_minute = 3;
    let server = Server::spawn(config).await?;
    let mut ws = client_from("127.0.0.2", &server).await?;
    allocate(&mut ws).await?;
    send(&mut ws, json!({"v":1,"type":"leave"})).await?;
    for guess in ["98", "97"] {
        send(&mut ws, json!({"v":1,"type":"join","nameplate":guess})).await?;
        assert_eq!(error_code(&recv(&mut ws).await?), "unknown_nameplate");
    }
    send(&mut ws, json!({"v":1,"type":"join","nameplate":"96"})).await?;
    assert_eq!(error_code(&recv(&mut ws).await?), "rate_limited");
    // The connection stays usable.
    send(&mut ws, json!({"v":1,"type":"ping"})).await?;
    assert_eq!(recv(&mut ws).await?["type"], "pong");
    // A new connection from the same address does not get a fresh budget.
    let mut again = client_from("127.0.0.2", &server).await?;
    send(&mut again, json!({"v":1,"type":"allocate"})).await?;
    assert_eq!(error_code(&recv(&mut again).await?), "rate_limited");
    // Another address does.
    let mut other = client_from("127.0.0.3", &server).await?;
    allocate(&mut other).await?;
    assert_eq!(
        metric(
            &server,
            "toss_signal_refusals_total{reason=\"rate_limited\"}"
        )
        .await?,
        2
    );
    Ok(())
}

/// `from` says `paired`, then relays a message to `to` through the actor: once `to` has it,
/// the actor has handled `paired` (one connection's commands stay in order).
async fn confirm(from: &mut Ws, to: &mut Ws) -> TestResult {
    send(from, json!({"v":1,"type":"paired"})).await?;
    send(from, json!({"v":1,"type":"send","body":"confirmed"})).await?;
    assert_eq!(recv(to).await?["body"], "confirmed");
    Ok(())
}

/// A guess budget of three that does not refill within a test.
fn three_guesses() -> Config {
    let mut config = config();
    config.guess_burst = 3;
    config.guess_refill = Duration::from_secs(3600);
    config
}

/// A room allocated from 127.0.0.2 and a join of it from `from`, answered with `expected`.
async fn join_new_room(server: &Server, from: &str, expected: &str) -> TestResult {
    let mut sender = client_from("127.0.0.2", server).await?;
    let nameplate = allocate(&mut sender).await?;
    let mut joiner = client_from(from, server).await?;
    send(
        &mut joiner,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    let reply = recv(&mut joiner).await?;
    if expected == "joined" {
        assert_eq!(reply["type"], "joined", "{reply}");
    } else {
        assert_eq!(error_code(&reply), expected);
    }
    Ok(())
}

#[tokio::test]
async fn unconfirmed_joins_run_out_and_confirmed_ones_are_given_back() -> TestResult {
    let server = Server::spawn(three_guesses()).await?;
    // 127.0.0.3 joins three rooms whose allocators never confirm the code: three guesses.
    for _ in 0..3 {
        pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    }
    let mut sender = client_from("127.0.0.2", &server).await?;
    let nameplate = allocate(&mut sender).await?;
    let mut guesser = client_from("127.0.0.3", &server).await?;
    send(
        &mut guesser,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(error_code(&recv(&mut guesser).await?), "too_many_guesses");
    // The refused guess took nothing: the room still waits for its receiver.
    let mut receiver = client_from("127.0.0.4", &server).await?;
    send(
        &mut receiver,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(recv(&mut receiver).await?["type"], "joined");
    assert_eq!(recv(&mut sender).await?["type"], "peer_joined");
    confirm(&mut sender, &mut receiver).await?;
    // 127.0.0.4's joins are all confirmed, so it joins far more than three rooms.
    for _ in 0..10 {
        let (mut a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.4"]).await?;
        confirm(&mut a, &mut b).await?;
    }
    join_new_room(&server, "127.0.0.4", "joined").await?;
    assert_eq!(
        metric(
            &server,
            "toss_signal_refusals_total{reason=\"too_many_guesses\"}"
        )
        .await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn a_join_is_given_back_once_and_only_by_its_allocator() -> TestResult {
    let server = Server::spawn(three_guesses()).await?;
    let joiner = "127.0.0.3";
    // A joiner that confirms its own join gets nothing back.
    let (mut a, mut b) = pair(&server, ["127.0.0.2", joiner]).await?;
    confirm(&mut b, &mut a).await?;
    // An allocator that confirms three times gives back one join, not three.
    let (mut c, mut d) = pair(&server, ["127.0.0.2", joiner]).await?;
    send(&mut c, json!({"v":1,"type":"paired"})).await?;
    send(&mut c, json!({"v":1,"type":"paired"})).await?;
    confirm(&mut c, &mut d).await?;
    // `paired` before anyone joined does not pay for the join that follows.
    let mut early = client_from("127.0.0.2", &server).await?;
    let nameplate = allocate(&mut early).await?;
    send(&mut early, json!({"v":1,"type":"paired"})).await?;
    send(&mut early, json!({"v":1,"type":"send","body":"anyone?"})).await?;
    assert_eq!(error_code(&recv(&mut early).await?), "peer_absent");
    let mut e = client_from(joiner, &server).await?;
    send(&mut e, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    assert_eq!(recv(&mut e).await?["type"], "joined");
    // Three joins, one given back: one guess is left, and then none.
    join_new_room(&server, joiner, "joined").await?;
    join_new_room(&server, joiner, "too_many_guesses").await?;
    Ok(())
}

#[tokio::test]
async fn each_receiver_of_a_group_room_pays_a_guess_until_its_own_code_is_confirmed() -> TestResult
{
    let server = Server::spawn(three_guesses()).await?;
    let mut owner = client_from("127.0.0.2", &server).await?;
    send(&mut owner, json!({"v":1,"type":"allocate","receivers":3})).await?;
    let nameplate = recv(&mut owner).await?["nameplate"]
        .as_str()
        .ok_or("nameplate")?
        .to_owned();
    let mut joiners = Vec::new();
    for peer in 1..=3 {
        let mut joiner = client_from("127.0.0.3", &server).await?;
        send(
            &mut joiner,
            json!({"v":1,"type":"join","nameplate":nameplate}),
        )
        .await?;
        assert_eq!(recv(&mut joiner).await?["type"], "joined");
        assert_eq!(recv(&mut owner).await?["peer"], peer);
        joiners.push(joiner);
    }
    // Three joins from one address are three guesses: the next join of any room is refused.
    join_new_room(&server, "127.0.0.3", "too_many_guesses").await?;
    // The owner confirms receiver 2 (twice, and a receiver that never joined): one back.
    send(&mut owner, json!({"v":1,"type":"paired","peer":2})).await?;
    send(&mut owner, json!({"v":1,"type":"paired","peer":2})).await?;
    send(&mut owner, json!({"v":1,"type":"paired","peer":7})).await?;
    send(
        &mut owner,
        json!({"v":1,"type":"send","body":"confirmed","to":2}),
    )
    .await?;
    assert_eq!(recv(&mut joiners[1]).await?["body"], "confirmed");
    // A receiver's own `paired` gives nothing back.
    send(&mut joiners[0], json!({"v":1,"type":"paired","peer":1})).await?;
    send(&mut joiners[0], json!({"v":1,"type":"send","body":"x"})).await?;
    assert_eq!(recv(&mut owner).await?["from"], 1);
    join_new_room(&server, "127.0.0.3", "joined").await?;
    join_new_room(&server, "127.0.0.3", "too_many_guesses").await?;
    Ok(())
}

#[tokio::test]
async fn allocate_past_max_rooms_is_server_busy_until_a_room_frees() -> TestResult {
    let mut config = config();
    config.max_rooms = 2;
    let server = Server::spawn(config).await?;
    let mut first = client_from("127.0.0.2", &server).await?;
    allocate(&mut first).await?;
    let mut second = client_from("127.0.0.2", &server).await?;
    allocate(&mut second).await?;
    let mut third = client_from("127.0.0.3", &server).await?;
    send(&mut third, json!({"v":1,"type":"allocate"})).await?;
    assert_eq!(error_code(&recv(&mut third).await?), "server_busy");
    send(&mut first, json!({"v":1,"type":"leave"})).await?;
    // The leave travels through another connection's task: retry a little.
    for _ in 0..50 {
        send(&mut third, json!({"v":1,"type":"allocate"})).await?;
        let reply = recv(&mut third).await?;
        if reply["type"] == "allocated" {
            return Ok(());
        }
        assert_eq!(error_code(&reply), "server_busy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("a freed room was never made available".into())
}

#[tokio::test]
async fn a_room_with_no_messages_expires_after_its_idle_time() -> TestResult {
    let mut config = config();
    config.room_idle = Duration::from_millis(300);
    let server = Server::spawn(config).await?;
    let mut ws = client_from("127.0.0.2", &server).await?;
    allocate(&mut ws).await?;
    assert_eq!(error_code(&recv(&mut ws).await?), "room_expired");
    assert_eq!(server.metrics().rooms_open(), 0);
    Ok(())
}

#[tokio::test]
async fn sends_to_an_absent_peer_do_not_keep_a_room_open() -> TestResult {
    let mut config = config();
    config.room_idle = Duration::from_millis(300);
    let server = Server::spawn(config).await?;
    let mut ws = client_from("127.0.0.2", &server).await?;
    allocate(&mut ws).await?;
    // Ten times the idle time of sends into the empty room, each well inside the idle time.
    for _ in 0..60 {
        send(&mut ws, json!({"v":1,"type":"send","body":"anyone?"})).await?;
        match error_code(&recv(&mut ws).await?) {
            "peer_absent" => tokio::time::sleep(Duration::from_millis(50)).await,
            "room_expired" => {
                assert_eq!(server.metrics().rooms_open(), 0);
                return Ok(());
            }
            other => return Err(format!("unexpected {other}").into()),
        }
    }
    Err("sends to nobody kept the room open".into())
}

#[tokio::test]
async fn messages_between_paired_peers_keep_a_room_open_past_its_idle_time() -> TestResult {
    let mut config = config();
    config.room_idle = Duration::from_millis(300);
    let server = Server::spawn(config).await?;
    let (mut a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    // Four times the idle time of messages (relayed straight between the two connections),
    // each well inside the idle time, both ways.
    for i in 0..24 {
        let (from, to) = if i % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        send(
            from,
            json!({"v":1,"type":"send","body":format!("tick {i}")}),
        )
        .await?;
        assert_eq!(recv(to).await?["body"], format!("tick {i}"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.metrics().rooms_open(), 1);
    // Then silence: the room expires, and both are told.
    assert_eq!(error_code(&recv(&mut a).await?), "room_expired");
    assert_eq!(error_code(&recv(&mut b).await?), "room_expired");
    assert_eq!(server.metrics().rooms_open(), 0);
    Ok(())
}

#[tokio::test]
async fn a_busy_room_expires_at_its_lifetime() -> TestResult {
    let mut config = config();
    config.room_lifetime = Duration::from_secs(1);
    let server = Server::spawn(config).await?;
    let (mut a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    // Messages keep the room from ever being idle; only the lifetime can close it.
    for _ in 0..50 {
        send(&mut a, json!({"v":1,"type":"send","body":"tick"})).await?;
        let reply = recv(&mut b).await?;
        if reply["type"] == "error" {
            assert_eq!(error_code(&reply), "room_expired");
            return Ok(());
        }
        assert_eq!(reply["body"], "tick");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the room outlived its lifetime".into())
}

#[tokio::test]
async fn a_recipient_that_falls_behind_gets_every_message_in_order_then_relay_overflow(
) -> TestResult {
    let mut config = config();
    config.outbound_queue = 4;
    let server = Server::spawn(config).await?;
    let (a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    let (mut to_server, mut from_server) = a.split();
    // The sender reads its own replies aside, until it is told the room closed.
    let told = tokio::spawn(async move {
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(DROPPED, from_server.next()).await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] == "error" {
                    return Ok::<_, serde_json::Error>(v["code"].as_str().map(str::to_owned));
                }
            }
        }
        Ok(None)
    });
    // b reads nothing while a sends far more than the socket buffers and b's queue hold.
    let filler = "x".repeat(60 * 1024);
    let mut sent = 0;
    while sent < 5000 && !told.is_finished() {
        let msg = json!({"v":1,"type":"send","body":format!("{sent}:{filler}")});
        if to_server
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    assert_eq!(told.await??.as_deref(), Some("relay_overflow"));
    // b gets what was relayed, every message in order, then the reason it stopped.
    let mut received = 0;
    loop {
        let msg = recv(&mut b).await?;
        if msg["type"] == "error" {
            assert_eq!(error_code(&msg), "relay_overflow");
            break;
        }
        let body = msg["body"].as_str().ok_or("a body")?;
        assert_eq!(
            body.split(':').next(),
            Some(received.to_string().as_str()),
            "message {received} is missing"
        );
        received += 1;
        assert!(received <= sent, "more received than sent");
    }
    assert!(received > 0 && received < sent, "{received} of {sent}");
    // The room is closed for both, and b is still served.
    send(&mut b, json!({"v":1,"type":"send","body":"after"})).await?;
    assert_eq!(error_code(&recv(&mut b).await?), "not_in_room");
    assert_eq!(server.metrics().rooms_open(), 0);
    Ok(())
}

#[tokio::test]
async fn a_silent_or_half_sent_handshake_is_dropped_and_counted() -> TestResult {
    let mut config = config();
    config.handshake_timeout = Duration::from_millis(500);
    let server = Server::spawn(config).await?;
    let mut silent = tcp_from("127.0.0.2", &server).await?;
    let mut half = tcp_from("127.0.0.3", &server).await?;
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: webs")
        .await?;
    assert_tcp_closed(&mut silent).await?;
    assert_tcp_closed(&mut half).await?;
    assert_eq!(
        metric(
            &server,
            "toss_signal_connections_refused_total{reason=\"handshake_timeout\"}"
        )
        .await?,
        2
    );
    Ok(())
}

#[tokio::test]
async fn a_silent_tls_handshake_is_dropped() -> TestResult {
    let dir = std::env::temp_dir().join(format!("toss-signal-abuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let tls = toss_signal::TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&tls.cert, cert.cert.pem())?;
    std::fs::write(&tls.key, cert.key_pair.serialize_pem())?;
    let mut config = config();
    config.tls = Some(tls);
    config.handshake_timeout = Duration::from_millis(500);
    let server = Server::spawn(config).await?;
    std::fs::remove_dir_all(&dir)?;
    let mut silent = tcp_from("127.0.0.2", &server).await?;
    assert_tcp_closed(&mut silent).await?;
    assert_eq!(
        server
            .metrics()
            .render()
            .lines()
            .find(|l| l.contains("reason=\"handshake_timeout\"")),
        Some("toss_signal_connections_refused_total{reason=\"handshake_timeout\"} 1")
    );
    Ok(())
}

#[tokio::test]
async fn a_websocket_in_no_room_is_dropped_while_a_pair_stays() -> TestResult {
    let mut config = config();
    config.unpaired_idle = Duration::from_millis(500);
    let server = Server::spawn(config).await?;
    let (mut a, mut b) = pair(&server, ["127.0.0.2", "127.0.0.3"]).await?;
    let mut loiterer = client_from("127.0.0.4", &server).await?;
    assert_closed(&mut loiterer).await?;
    // By now the pair has been connected longer than the unpaired idle time.
    send(&mut a, json!({"v":1,"type":"send","body":"still here"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "still here");
    assert_eq!(
        metric(
            &server,
            "toss_signal_connections_refused_total{reason=\"unpaired_idle\"}"
        )
        .await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn a_flood_from_one_address_does_not_stop_another() -> TestResult {
    let mut config = config();
    config.max_connections_per_ip = 4;
    config.room_requests_per_ip_per_minute = 5;
    let server = Server::spawn(config).await?;
    let mut sender = client_from("127.0.0.3", &server).await?;
    let nameplate = allocate(&mut sender).await?;

    // The flooder fills its share of connections, with idle sockets past the first...
    let mut flooder = client_from("127.0.0.2", &server).await?;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tcp_from("127.0.0.2", &server).await?);
    }
    // ...then every further connection is refused...
    for _ in 0..20 {
        assert_refused(handshake_from("127.0.0.2", &server, None).await?, 429)?;
    }
    // ...and it guesses every nameplate, the sender's last, and allocates besides.
    let guesses = (1..100)
        .map(|n| n.to_string())
        .filter(|n| *n != nameplate)
        .chain([nameplate.clone()]);
    let mut tried = 0;
    for guess in guesses {
        send(&mut flooder, json!({"v":1,"type":"join","nameplate":guess})).await?;
        let reply = recv(&mut flooder).await?;
        assert_ne!(reply["type"], "joined", "the flooder took the room {guess}");
        if error_code(&reply) == "unknown_nameplate" {
            tried += 1;
        } else {
            assert_eq!(error_code(&reply), "rate_limited");
        }
    }
    assert_eq!(tried, 5);
    for _ in 0..10 {
        send(&mut flooder, json!({"v":1,"type":"allocate"})).await?;
        assert_eq!(error_code(&recv(&mut flooder).await?), "rate_limited");
    }

    // Meanwhile the receiver, from another address, joins and the room relays.
    let mut receiver = client_from("127.0.0.1", &server).await?;
    send(
        &mut receiver,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(recv(&mut receiver).await?["type"], "joined");
    assert_eq!(recv(&mut sender).await?["type"], "peer_joined");
    send(&mut sender, json!({"v":1,"type":"send","body":"through"})).await?;
    assert_eq!(recv(&mut receiver).await?["body"], "through");

    assert_eq!(
        metric(
            &server,
            "toss_signal_connections_refused_total{reason=\"per_ip_limit\"}"
        )
        .await?,
        20
    );
    assert_eq!(
        metric(
            &server,
            "toss_signal_refusals_total{reason=\"rate_limited\"}"
        )
        .await?,
        99 - 5 + 10
    );
    Ok(())
}

#[tokio::test]
async fn ipv6_addresses_in_one_slash_56_share_their_limits() -> TestResult {
    // Loopback has one IPv6 address, so the addresses come through a trusted proxy.
    let mut config = config();
    config.max_connections_per_ip = 1;
    config.trusted_proxies = vec!["127.0.0.5".parse()?];
    let server = Server::spawn(config).await?;
    let proxy = "127.0.0.5";
    let mut first = handshake_from(proxy, &server, Some("2001:db8:0:100::1")).await??;
    allocate(&mut first).await?;
    // Another /64 of the same /56: the same customer, over its one connection.
    assert_refused(
        handshake_from(proxy, &server, Some("2001:db8:0:1ff::2")).await?,
        429,
    )?;
    // The next /56 is someone else.
    let mut next = handshake_from(proxy, &server, Some("2001:db8:0:200::1")).await??;
    allocate(&mut next).await?;
    Ok(())
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped_but_the_clients_behind_it_are() -> TestResult {
    let mut config = config();
    config.max_connections_per_ip = 1;
    config.room_requests_per_ip_per_minute = 1;
    config.trusted_proxies = vec!["127.0.0.5".parse()?];
    let server = Server::spawn(config).await?;
    let proxy = "127.0.0.5";
    let mut one = handshake_from(proxy, &server, Some("192.0.2.1")).await??;
    let mut two = handshake_from(proxy, &server, Some("198.51.100.9, 192.0.2.2")).await??;
    allocate(&mut one).await?;
    allocate(&mut two).await?;
    assert_refused(
        handshake_from(proxy, &server, Some("192.0.2.1")).await?,
        429,
    )?;
    // Only the proxy's last entry counts: what the client wrote itself is not trusted.
    assert_refused(
        handshake_from(proxy, &server, Some("192.0.2.3, 192.0.2.2")).await?,
        429,
    )?;
    // Anyone else's header is ignored: this address is counted as itself.
    let _direct = handshake_from("127.0.0.6", &server, Some("192.0.2.4")).await??;
    assert_refused(
        handshake_from("127.0.0.6", &server, Some("192.0.2.5")).await?,
        429,
    )?;
    Ok(())
}
