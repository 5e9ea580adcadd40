//! TURN credentials from the signaling server (`turn`), through real WebSocket clients on
//! loopback addresses: only the two peers of a room get them, they verify against the
//! shared secret as coturn checks them, the caps per room and per address answer
//! `rate_limited`, and a server without TURN says `turn_unavailable`. One test runs the
//! `toss-signal` binary with `--turn-url` and `--turn-secret-file`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use toss_signal::{turn_credential, Config, Server, Turn, TurnSecret};
use toss_testkit::signal::{loopback, SignalProcess};
use toss_testkit::{AnyResult, TestResult};

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Longest wait for one server reply.
const REPLY: Duration = Duration::from_secs(5);

const SECRET: &str = "the-shared-secret";

const URLS: [&str; 2] = [
    "turn:192.0.2.7:3478?transport=udp",
    "turn:192.0.2.7:3478?transport=tcp",
];

fn with_turn() -> AnyResult<Config> {
    let mut config = loopback();
    config.turn = Some(Turn {
        urls: URLS.map(str::to_owned).to_vec(),
        secret: TurnSecret::new(SECRET).ok_or("a secret")?,
        ttl: Duration::from_secs(600),
    });
    Ok(config)
}

/// A WebSocket to `url` from the loopback address `from`.
async fn client_from(from: &str, server: SocketAddr, url: &str) -> AnyResult<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse()?, 0))?;
    let tcp = socket.connect(server).await?;
    let handshake = tokio_tungstenite::client_async(url.into_client_request()?, tcp);
    Ok(tokio::time::timeout(REPLY, handshake).await??.0)
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

/// Asks for TURN credentials and returns the answer.
async fn ask(ws: &mut Ws) -> AnyResult<Value> {
    send(ws, json!({"v":1,"type":"turn"})).await?;
    recv(ws).await
}

fn error_code(v: &Value) -> &str {
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.ends_with('.')),
        "a sentence: {v}"
    );
    v["code"].as_str().unwrap_or("")
}

/// Two peers in one room, from `from[0]` (allocates) and `from[1]` (joins).
async fn pair(server: SocketAddr, url: &str, from: [&str; 2]) -> AnyResult<(Ws, Ws)> {
    let mut a = client_from(from[0], server, url).await?;
    send(&mut a, json!({"v":1,"type":"allocate"})).await?;
    let allocated = recv(&mut a).await?;
    let nameplate = allocated["nameplate"].as_str().ok_or("nameplate")?;
    let mut b = client_from(from[1], server, url).await?;
    send(&mut b, json!({"v":1,"type":"join","nameplate":nameplate})).await?;
    assert_eq!(recv(&mut b).await?["type"], "joined");
    assert_eq!(recv(&mut a).await?["type"], "peer_joined");
    Ok((a, b))
}

/// Checks credentials as coturn does with `use-auth-secret`: the password is the HMAC of
/// the user name, which starts with an expiry in the future, about `ttl` from now.
fn assert_valid_credentials(v: &Value, ttl: u64) -> TestResult {
    assert_eq!(v["type"], "turn", "{v}");
    assert_eq!(v["urls"], json!(URLS), "{v}");
    assert_eq!(v["ttl"], ttl, "{v}");
    let username = v["username"].as_str().ok_or("username")?;
    let credential = v["credential"].as_str().ok_or("credential")?;
    let secret = TurnSecret::new(SECRET).ok_or("a secret")?;
    assert_eq!(credential, turn_credential(&secret, username), "{v}");
    let (expiry, id) = username.split_once(':').ok_or("EXPIRY:ID")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expiry: u64 = expiry.parse()?;
    assert!(
        (now + ttl - 5..=now + ttl + 5).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert!(!id.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_client_not_in_a_room_with_both_peers_gets_not_paired() -> TestResult {
    let server = Server::spawn(with_turn()?).await?;
    let (addr, url) = (server.local_addr(), server.url());
    // Merely connected.
    let mut lone = client_from("127.0.0.1", addr, &url).await?;
    assert_eq!(error_code(&ask(&mut lone).await?), "not_paired");
    // Alone in its room.
    send(&mut lone, json!({"v":1,"type":"allocate"})).await?;
    assert_eq!(recv(&mut lone).await?["type"], "allocated");
    assert_eq!(error_code(&ask(&mut lone).await?), "not_paired");
    // Once the other peer has left, alone again.
    let (mut a, mut b) = pair(addr, &url, ["127.0.0.1", "127.0.0.2"]).await?;
    assert_eq!(ask(&mut a).await?["type"], "turn");
    send(&mut b, json!({"v":1,"type":"leave"})).await?;
    assert_eq!(recv(&mut a).await?["type"], "peer_left");
    assert_eq!(error_code(&ask(&mut a).await?), "not_paired");
    assert_eq!(error_code(&ask(&mut b).await?), "not_paired");
    assert_eq!(
        server
            .metrics()
            .errors(toss_signal::protocol::ErrorCode::NotPaired),
        4
    );
    Ok(())
}

/// The binary, configured as docs/deploy.md says: the URLs as options, the secret in a
/// file (never on the command line).
#[tokio::test]
async fn paired_peers_get_credentials_that_verify_with_the_shared_secret() -> TestResult {
    let dir = tempfile::tempdir()?;
    let secret_file = dir.path().join("turn-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n"))?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toss-signal"));
    cmd.arg("--turn-secret-file")
        .arg(&secret_file)
        .args(["--turn-ttl", "5m"])
        .env_remove("TOSS_TURN_SECRET");
    for url in URLS {
        cmd.args(["--turn-url", url]);
    }
    let server = SignalProcess::start_with(cmd, "127.0.0.1:0")?;
    let addr: SocketAddr = server.url.trim_start_matches("ws://").parse()?;
    let (mut a, mut b) = pair(addr, &server.url, ["127.0.0.1", "127.0.0.2"]).await?;
    let first = ask(&mut a).await?;
    assert_valid_credentials(&first, 300)?;
    let other = ask(&mut b).await?;
    assert_valid_credentials(&other, 300)?;
    assert_ne!(first["username"], other["username"], "each its own");
    Ok(())
}

#[tokio::test]
async fn credentials_past_the_caps_are_rate_limited() -> TestResult {
    let mut config = with_turn()?;
    config.turn_per_room = 2;
    config.turn_per_hour = 3;
    let server = Server::spawn(config).await?;
    let (addr, url) = (server.local_addr(), server.url());
    // Per client per room: the third ask in one room is refused, the other peer's are not.
    let (mut a, mut b) = pair(addr, &url, ["127.0.0.10", "127.0.0.11"]).await?;
    assert_eq!(ask(&mut a).await?["type"], "turn");
    assert_eq!(ask(&mut a).await?["type"], "turn");
    let refused = ask(&mut a).await?;
    assert_eq!(error_code(&refused), "rate_limited");
    assert!(
        refused["message"].as_str().unwrap_or("").contains("relay"),
        "{refused}"
    );
    assert_eq!(ask(&mut b).await?["type"], "turn");
    // Per address: 127.0.0.10 had two of its three this hour, in a fresh room too.
    let (mut c, mut d) = pair(addr, &url, ["127.0.0.10", "127.0.0.12"]).await?;
    assert_eq!(ask(&mut c).await?["type"], "turn");
    assert_eq!(error_code(&ask(&mut c).await?), "rate_limited");
    assert_eq!(ask(&mut d).await?["type"], "turn", "another address");
    assert_eq!(server.metrics().turn_issued(), 5);
    Ok(())
}

#[tokio::test]
async fn a_server_without_turn_says_turn_unavailable() -> TestResult {
    let server = Server::spawn(loopback()).await?;
    let (addr, url) = (server.local_addr(), server.url());
    let (mut a, mut b) = pair(addr, &url, ["127.0.0.1", "127.0.0.2"]).await?;
    assert_eq!(error_code(&ask(&mut a).await?), "turn_unavailable");
    assert_eq!(error_code(&ask(&mut b).await?), "turn_unavailable");
    // The room is unharmed.
    send(&mut a, json!({"v":1,"type":"send","body":"still here"})).await?;
    assert_eq!(recv(&mut b).await?["body"], "still here");
    Ok(())
}
