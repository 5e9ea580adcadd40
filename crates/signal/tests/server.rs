//! The signaling server through real WebSocket clients on loopback: pairing, relaying,
//! departures, every refusal, TLS, the web peer's files over plain HTTP, and the
//! `toss-signal` binary itself.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use toss_signal::Server;
use toss_testkit::signal::{loopback, spawn};
use toss_testkit::{AnyResult, TestResult};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Longest wait for one server reply.
const REPLY: Duration = Duration::from_secs(5);

async fn client(server: &Server) -> AnyResult<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async(server.url()).await?;
    Ok(ws)
}

async fn send(ws: &mut Ws, v: Value) -> TestResult {
    ws.send(Message::Text(v.to_string().into())).await?;
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

async fn pair(server: &Server) -> AnyResult<(Ws, Ws, String)> {
    let mut a = client(server).await?;
    send(&mut a, json!({"v":1,"type":"allocate"})).await?;
    let allocated = recv(&mut a).await?;
    assert_eq!(allocated["type"], "allocated");
    let nameplate = allocated["nameplate"]
        .as_str()
        .ok_or("nameplate")?
        .to_owned();
    assert!(
        nameplate.len() <= 2,
        "a quiet server hands out short nameplates: {nameplate}"
    );
    let mut b = client(server).await?;
    send(&mut b, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    assert_eq!(
        recv(&mut b).await?,
        json!({"v":1,"type":"joined","nameplate":nameplate})
    );
    assert_eq!(recv(&mut a).await?, json!({"v":1,"type":"peer_joined"}));
    Ok((a, b, nameplate))
}

fn error_code(v: &Value) -> &str {
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.ends_with('.')),
        "a sentence: {v}"
    );
    v["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn pairs_two_peers_and_relays_both_ways() -> TestResult {
    let server = spawn().await?;
    let (mut a, mut b, _) = pair(&server).await?;
    send(&mut a, json!({"v":1,"type":"send","body":"hello"})).await?;
    assert_eq!(
        recv(&mut b).await?,
        json!({"v":1,"type":"message","body":"hello"})
    );
    send(&mut b, json!({"v":1,"type":"send","body":"hi"})).await?;
    assert_eq!(
        recv(&mut a).await?,
        json!({"v":1,"type":"message","body":"hi"})
    );
    send(&mut a, json!({"v":1,"type":"ping"})).await?;
    assert_eq!(recv(&mut a).await?, json!({"v":1,"type":"pong"}));
    Ok(())
}

#[tokio::test]
async fn departures_are_announced_and_empty_rooms_freed() -> TestResult {
    let server = spawn().await?;
    let (mut a, mut b, nameplate) = pair(&server).await?;
    send(&mut a, json!({"v":1,"type":"leave"})).await?;
    assert_eq!(recv(&mut b).await?, json!({"v":1,"type":"peer_left"}));
    send(&mut b, json!({"v":1,"type":"send","body":"anyone?"})).await?;
    assert_eq!(error_code(&recv(&mut b).await?), "peer_absent");
    drop(b);
    // Both gone: the room is freed, its nameplate unknown.
    let mut c = client(&server).await?;
    for _ in 0..50 {
        send(&mut c, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
        if error_code(&recv(&mut c).await?) == "unknown_nameplate" {
            assert_eq!(server.metrics().rooms_open(), 0);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the room was never freed".into())
}

#[tokio::test]
async fn a_third_peer_is_refused_and_the_pair_carries_on() -> TestResult {
    let server = spawn().await?;
    let (mut a, mut b, nameplate) = pair(&server).await?;
    let mut c = client(&server).await?;
    send(&mut c, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    assert_eq!(error_code(&recv(&mut c).await?), "room_full");
    send(&mut a, json!({"v":1,"type":"send","body":"still here"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "still here");
    Ok(())
}

/// A group room for `receivers`, and that many joiners in it: the owner hears each one's
/// number in order.
async fn group(server: &Server, receivers: u32) -> AnyResult<(Ws, Vec<Ws>, String)> {
    let mut owner = client(server).await?;
    send(
        &mut owner,
        json!({"v":1,"type":"allocate","receivers":receivers}),
    )
    .await?;
    let allocated = recv(&mut owner).await?;
    assert_eq!(allocated["receivers"], receivers, "{allocated}");
    let nameplate = allocated["nameplate"]
        .as_str()
        .ok_or("nameplate")?
        .to_owned();
    let mut joiners = Vec::new();
    for peer in 1..=receivers {
        let mut joiner = client(server).await?;
        send(
            &mut joiner,
            json!({"v":1,"type":"join","nameplate":nameplate}),
        )
        .await?;
        // A receiver's side of a group room is the two-peer protocol's, field for field.
        assert_eq!(
            recv(&mut joiner).await?,
            json!({"v":1,"type":"joined","nameplate":nameplate})
        );
        assert_eq!(
            recv(&mut owner).await?,
            json!({"v":1,"type":"peer_joined","peer":peer})
        );
        joiners.push(joiner);
    }
    Ok((owner, joiners, nameplate))
}

#[tokio::test]
async fn a_group_room_relays_between_its_owner_and_each_receiver_apart() -> TestResult {
    let server = spawn().await?;
    let (mut owner, mut joiners, nameplate) = group(&server, 3).await?;
    // A fourth is refused; the three carry on.
    let mut fourth = client(&server).await?;
    send(
        &mut fourth,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(error_code(&recv(&mut fourth).await?), "room_full");
    for peer in [3u32, 1, 2] {
        let body = format!("for {peer}");
        send(
            &mut owner,
            json!({"v":1,"type":"send","body":body,"to":peer}),
        )
        .await?;
    }
    for (i, joiner) in joiners.iter_mut().enumerate() {
        // Each hears only what was sent to it, with no receiver number.
        assert_eq!(
            recv(joiner).await?,
            json!({"v":1,"type":"message","body":format!("for {}", i + 1)})
        );
        send(
            joiner,
            json!({"v":1,"type":"send","body":format!("from {}", i + 1)}),
        )
        .await?;
        assert_eq!(
            recv(&mut owner).await?,
            json!({"v":1,"type":"message","body":format!("from {}", i + 1),"from":i + 1})
        );
    }
    // The owner sends receiver 2 out: it hears that the owner left; the others stay.
    send(&mut owner, json!({"v":1,"type":"leave","peer":2})).await?;
    assert_eq!(
        recv(&mut joiners[1]).await?,
        json!({"v":1,"type":"peer_left"})
    );
    send(
        &mut joiners[1],
        json!({"v":1,"type":"send","body":"still?"}),
    )
    .await?;
    assert_eq!(error_code(&recv(&mut joiners[1]).await?), "not_in_room");
    send(
        &mut owner,
        json!({"v":1,"type":"send","body":"gone?","to":2}),
    )
    .await?;
    assert_eq!(
        recv(&mut owner).await?,
        json!({"v":1,"type":"peer_left","peer":2})
    );
    // Receiver 1 leaves: the owner hears which one.
    send(&mut joiners[0], json!({"v":1,"type":"leave"})).await?;
    assert_eq!(
        recv(&mut owner).await?,
        json!({"v":1,"type":"peer_left","peer":1})
    );
    send(
        &mut owner,
        json!({"v":1,"type":"send","body":"last","to":3}),
    )
    .await?;
    assert_eq!(recv(&mut joiners[2]).await?["body"], "last");
    // The owner leaves: everyone still in the room hears it.
    send(&mut owner, json!({"v":1,"type":"leave"})).await?;
    assert_eq!(
        recv(&mut joiners[2]).await?,
        json!({"v":1,"type":"peer_left"})
    );
    Ok(())
}

#[tokio::test]
async fn a_locked_group_room_takes_nobody_else_and_its_receivers_carry_on() -> TestResult {
    let server = spawn().await?;
    // One receiver asked for is the two-peer room, said so, and used up by its one join.
    let mut owner = client(&server).await?;
    send(&mut owner, json!({"v":1,"type":"allocate","receivers":1})).await?;
    let allocated = recv(&mut owner).await?;
    assert_eq!(allocated["receivers"], 1);
    let mut only = client(&server).await?;
    send(
        &mut only,
        json!({"v":1,"type":"join","nameplate":allocated["nameplate"]}),
    )
    .await?;
    assert_eq!(recv(&mut only).await?["type"], "joined");
    assert_eq!(recv(&mut owner).await?, json!({"v":1,"type":"peer_joined"}));
    let mut late = client(&server).await?;
    send(
        &mut late,
        json!({"v":1,"type":"join","nameplate":allocated["nameplate"]}),
    )
    .await?;
    assert_eq!(error_code(&recv(&mut late).await?), "room_full");
    send(&mut owner, json!({"v":1,"type":"send","body":"hi"})).await?;
    assert_eq!(
        recv(&mut only).await?,
        json!({"v":1,"type":"message","body":"hi"})
    );

    let mut owner = client(&server).await?;
    send(&mut owner, json!({"v":1,"type":"allocate","receivers":3})).await?;
    let nameplate = recv(&mut owner).await?["nameplate"]
        .as_str()
        .ok_or("nameplate")?
        .to_owned();
    let mut first = client(&server).await?;
    send(
        &mut first,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(recv(&mut first).await?["type"], "joined");
    assert_eq!(recv(&mut owner).await?["peer"], 1);
    // Only the owner locks; a receiver's lock changes nothing.
    send(&mut first, json!({"v":1,"type":"lock"})).await?;
    let mut second = client(&server).await?;
    send(
        &mut second,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(recv(&mut second).await?["type"], "joined");
    assert_eq!(recv(&mut owner).await?["peer"], 2);
    send(&mut owner, json!({"v":1,"type":"lock"})).await?;
    let mut third = client(&server).await?;
    send(
        &mut third,
        json!({"v":1,"type":"join","nameplate":nameplate}),
    )
    .await?;
    assert_eq!(error_code(&recv(&mut third).await?), "room_full");
    send(&mut owner, json!({"v":1,"type":"send","body":"on","to":2})).await?;
    assert_eq!(recv(&mut second).await?["body"], "on");
    Ok(())
}

#[tokio::test]
async fn a_group_room_gets_at_most_the_servers_cap() -> TestResult {
    let server = spawn().await?;
    let mut owner = client(&server).await?;
    send(
        &mut owner,
        json!({"v":1,"type":"allocate","receivers":1000}),
    )
    .await?;
    assert_eq!(recv(&mut owner).await?["receivers"], 8);
    let mut zero = client(&server).await?;
    send(&mut zero, json!({"v":1,"type":"allocate","receivers":0})).await?;
    assert_eq!(recv(&mut zero).await?["receivers"], 1);
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_an_error_and_other_rooms_carry_on() -> TestResult {
    let server = spawn().await?;
    let (mut a, mut b, _) = pair(&server).await?;
    let mut bad = client(&server).await?;
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "malformed"),
        (json!({"v":1,"type":"teleport"}).to_string(), "unknown_type"),
        (json!({"type":"allocate"}).to_string(), "unsupported_version"),
        (json!({"v":99,"type":"allocate"}).to_string(), "unsupported_version"),
        (r#"{"v":1,"type":"join","nameplate":123456789012345678901234567890}"#.into(), "malformed"),
        (r#"{"v":1e999,"type":"allocate"}"#.into(), "malformed"),
        (r#"{"v":18446744073709551616,"type":"allocate"}"#.into(), "unsupported_version"),
        (r#"{"v":-1,"type":"allocate"}"#.into(), "unsupported_version"),
        (r#"{"v":1,"type":"ping","pad":1e999}"#.into(), "malformed"),
        (r#"{"v":1,"type":"send","body":"x","pad":-1e999}"#.into(), "malformed"),
        ("[".repeat(10_000), "malformed"),
        (json!({"v":1,"type":""}).to_string(), "unknown_type"),
        (json!({"v":1,"type":"allocate".repeat(1000)}).to_string(), "unknown_type"),
        (json!({"v":1,"type":7}).to_string(), "malformed"),
        (json!({"v":1,"type":"join","nameplate":"4242"}).to_string(), "unknown_nameplate"),
        (json!({"v":1,"type":"send","body":"x"}).to_string(), "not_in_room"),
        (json!({"v":1,"type":"leave"}).to_string(), "not_in_room"),
        (
            json!({"v":1,"type":"send","body":"x".repeat(toss_signal::defaults::MAX_MESSAGE_BYTES)}).to_string(),
            "too_large",
        ),
    ];
    for (text, code) in &cases {
        bad.send(Message::Text(text.clone().into())).await?;
        assert_eq!(error_code(&recv(&mut bad).await?), *code, "for {text:.60}");
    }
    bad.send(Message::Binary(vec![1, 2, 3].into())).await?;
    assert_eq!(error_code(&recv(&mut bad).await?), "binary_not_supported");
    // The sender of all that is still served, and the paired room still relays.
    send(&mut bad, json!({"v":1,"type":"ping"})).await?;
    assert_eq!(recv(&mut bad).await?["type"], "pong");
    send(&mut a, json!({"v":1,"type":"send","body":"unbothered"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "unbothered");
    send(&mut b, json!({"v":1,"type":"send","body":"likewise"})).await?;
    assert_eq!(recv(&mut a).await?["body"], "likewise");
    // Allocating twice on one connection is refused.
    send(&mut a, json!({"v":1,"type":"allocate"})).await?;
    assert_eq!(error_code(&recv(&mut a).await?), "already_in_room");
    let metrics = server.metrics();
    assert_eq!(
        metrics.errors(toss_signal::protocol::ErrorCode::Malformed),
        7
    );
    Ok(())
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> AnyResult<String> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut out = String::new();
    tokio::time::timeout(REPLY, tcp.read_to_string(&mut out)).await??;
    Ok(out)
}

/// One HTTP/1.1 answer, read whole.
struct Answer {
    status: u16,
    /// Header names lowercased, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `method path` with `extra` header lines and reads the answer until the server
/// closes the connection.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
) -> AnyResult<Answer> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(REPLY, tcp.read_to_end(&mut raw)).await??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the head")?;
    let head = std::str::from_utf8(&raw[..split])?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// A file of the web peer as built, which the server embeds.
fn dist(name: &str) -> AnyResult<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/dist")
        .join(name);
    Ok(std::fs::read(path)?)
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; frame-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The headers every file of the web peer carries.
fn assert_strict_headers(answer: &Answer, what: &str) {
    assert_eq!(answer.header("cache-control"), Some("no-cache"), "{what}");
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        answer.header("content-security-policy"),
        Some(CSP),
        "{what}"
    );
    let etag = answer.header("etag").unwrap_or("");
    assert!(
        etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'),
        "{what}: etag {etag}"
    );
}

#[tokio::test]
async fn a_plain_get_of_the_root_is_the_web_peer_and_the_websocket_still_pairs() -> TestResult {
    let server = spawn().await?;
    let page = http(server.local_addr(), "GET", "/", "").await?;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_strict_headers(&page, "/");
    assert_eq!(page.header("service-worker-allowed"), None);
    assert_eq!(page.body, dist("index.html")?);
    // The same path, the same server: an upgrade is the signaling WebSocket.
    let (mut a, mut b, _) = pair(&server).await?;
    send(&mut a, json!({"v":1,"type":"send","body":"after the page"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "after the page");
    // A request that asks for an upgrade and gets it wrong is still refused, not the page.
    let botched = http(
        server.local_addr(),
        "GET",
        "/",
        "Upgrade: websocket\r\nConnection: Upgrade\r\n",
    )
    .await?;
    assert!(botched.status >= 400, "{}", botched.status);
    assert_eq!(botched.header("content-security-policy"), None);
    Ok(())
}

#[tokio::test]
async fn each_file_of_the_web_peer_is_served_with_its_type() -> TestResult {
    let server = spawn().await?;
    for (path, file, content_type) in [
        ("/toss.js", "toss.js", "text/javascript; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/sw.js", "sw.js", "text/javascript; charset=utf-8"),
        ("/icon.svg", "icon.svg", "image/svg+xml"),
    ] {
        let answer = http(server.local_addr(), "GET", path, "").await?;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_strict_headers(&answer, path);
        assert_eq!(answer.body, dist(file)?, "{path}");
        // Only the service worker may control the whole origin.
        let allowed = (path == "/sw.js").then_some("/");
        assert_eq!(answer.header("service-worker-allowed"), allowed, "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn the_web_peer_answers_head_and_a_known_etag_without_a_body() -> TestResult {
    let server = spawn().await?;
    let addr = server.local_addr();
    let got = http(addr, "GET", "/toss.js", "").await?;
    let etag = got.header("etag").ok_or("no etag")?.to_owned();
    let head = http(addr, "HEAD", "/", "").await?;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_strict_headers(&head, "HEAD /");
    assert!(head.body.is_empty(), "{} bytes", head.body.len());
    let again = http(
        addr,
        "GET",
        "/toss.js",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await?;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert!(again.body.is_empty());
    // Another file's tag is not this one's.
    let page_tag = http(addr, "GET", "/", "").await?;
    let stale = format!(
        "If-None-Match: {}\r\n",
        page_tag.header("etag").ok_or("etag")?
    );
    if page_tag.header("etag") != Some(etag.as_str()) {
        assert_eq!(http(addr, "GET", "/toss.js", &stale).await?.status, 200);
    }
    Ok(())
}

#[tokio::test]
async fn paths_that_are_not_the_web_peers_files_are_not_found() -> TestResult {
    let server = spawn().await?;
    for path in [
        "/index.html",
        "/nope",
        "/dl/1/file.bin",
        "/toss.js/",
        "/../web/dist/index.html",
        "/%2e%2e/Cargo.toml",
    ] {
        let answer = http(server.local_addr(), "GET", path, "").await?;
        assert_eq!(answer.status, 404, "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn healthz_and_metrics_answer_over_http() -> TestResult {
    let mut config = loopback();
    config.metrics = true;
    let server = Server::spawn(config).await?;
    let health = http_get(server.local_addr(), "/healthz").await?;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let mut c = client(&server).await?;
    send(&mut c, json!({"v":1,"type":"nope"})).await?;
    recv(&mut c).await?;
    let metrics = http_get(server.local_addr(), "/metrics").await?;
    assert!(metrics.starts_with("HTTP/1.1 200"));
    assert!(
        metrics.contains("toss_signal_refusals_total{reason=\"unknown_type\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("toss_signal_connections_open 1"),
        "{metrics}"
    );
    assert!(metrics.contains("toss_signal_rooms_open 0"), "{metrics}");
    Ok(())
}

#[tokio::test]
async fn metrics_are_not_served_unless_asked_for() -> TestResult {
    let server = spawn().await?;
    let (_a, _b, _) = pair(&server).await?;
    let metrics = http_get(server.local_addr(), "/metrics").await?;
    assert!(metrics.starts_with("HTTP/1.1 404"), "{metrics}");
    assert!(!metrics.contains("rooms_open"), "{metrics}");
    let health = http_get(server.local_addr(), "/healthz").await?;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // The owner of an in-process server still reads them.
    assert_eq!(server.metrics().rooms_open(), 1);
    Ok(())
}

#[tokio::test]
async fn serves_wss_with_a_test_certificate() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let cert_path = tmp.path().join("cert.pem");
    let key_path = tmp.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem())?;
    std::fs::write(&key_path, cert.key_pair.serialize_pem())?;
    let mut config = loopback();
    config.tls = Some(toss_signal::TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    let server = Server::spawn(config).await?;
    assert!(server.url().starts_with("wss://"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone())?;
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let url = format!("wss://localhost:{}", server.local_addr().port());
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        true,
        Some(tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(
            tls,
        ))),
    )
    .await?;
    send(&mut ws, json!({"v":1,"type":"allocate"})).await?;
    assert_eq!(recv(&mut ws).await?["type"], "allocated");
    // A plain client cannot talk to the TLS port.
    let plain =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}", server.local_addr().port()))
            .await;
    assert!(plain.is_err());
    Ok(())
}

#[tokio::test]
async fn the_binary_listens_where_told_and_reports_its_url() -> TestResult {
    use tokio::io::AsyncBufReadExt;
    let port = toss_testkit::ports::free_tcp_port()?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toss-signal"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--max-connections-per-ip",
            "8",
            "--room-requests-per-minute",
            "10",
        ])
        // Every other limit, as an operator would write it.
        .args(["--guess-burst", "20", "--guess-refill", "2m"])
        .args(["--ipv6-prefix-len", "64", "--max-tracked-ips", "5000"])
        .args(["--max-refusals-in-flight", "16", "--max-rooms", "1000"])
        .args(["--room-idle", "15m", "--room-lifetime", "1h"])
        .args(["--handshake-timeout", "5s", "--unpaired-idle", "300"])
        .args(["--outbound-queue", "128"])
        .args(["--trusted-proxy", "127.0.0.9", "--trusted-proxy", "::1"])
        .arg("--metrics")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(REPLY, lines.next_line())
        .await??
        .ok_or("no line")?;
    assert_eq!(
        line,
        format!("toss-signal listening on ws://127.0.0.1:{port}")
    );
    let health = http_get(format!("127.0.0.1:{port}").parse()?, "/healthz").await?;
    assert!(health.starts_with("HTTP/1.1 200"));
    let metrics = http_get(format!("127.0.0.1:{port}").parse()?, "/metrics").await?;
    assert!(metrics.contains("toss_signal_rooms_open 0"), "{metrics}");
    child.kill().await?;
    Ok(())
}

#[tokio::test]
async fn the_binary_refuses_a_busy_port_with_a_sentence() -> TestResult {
    let busy = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = busy.local_addr()?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_toss-signal"))
        .args(["--listen", &addr.to_string()])
        .output()
        .await?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    Ok(())
}

#[tokio::test]
async fn the_binary_refuses_a_limit_that_would_refuse_everything() -> TestResult {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_toss-signal"))
        .args(["--listen", "127.0.0.1:0", "--max-rooms", "0"])
        .output()
        .await?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-rooms"), "{err}");
    Ok(())
}
