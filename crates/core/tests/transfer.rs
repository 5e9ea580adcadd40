//! End-to-end transfers between two in-process peers through a real `toss-signal` server on
//! loopback: real WebSocket signaling, real PAKE, real webrtc-rs data channel, real files.
//! Every test checks the bytes on disk, not only the result.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use toss_core::{Code, Config, Decision, Error, Event, Events, Summary, Transfer};
use toss_testkit::data::random_bytes;
use toss_testkit::{signal, AnyResult, TestResult};

/// Longest any single test transfer may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(120);

struct Env {
    server: toss_signal::Server,
    tmp: tempfile::TempDir,
}

impl Env {
    async fn new() -> AnyResult<Self> {
        Ok(Self {
            server: signal::spawn().await?,
            tmp: tempfile::tempdir()?,
        })
    }

    fn config(&self) -> Config {
        Config::local(self.server.url())
    }

    fn src(&self) -> PathBuf {
        let p = self.tmp.path().join("src");
        std::fs::create_dir_all(&p).expect("src dir");
        p
    }

    fn out(&self) -> PathBuf {
        let p = self.tmp.path().join("out");
        std::fs::create_dir_all(&p).expect("out dir");
        p
    }
}

async fn code_of(events: &mut UnboundedReceiver<Event>) -> Option<String> {
    while let Some(e) = events.recv().await {
        if let Event::Code { code, .. } = e {
            return Some(code);
        }
    }
    None
}

/// Starts a receiver for `code` into `out` that answers the offer with `decision`.
fn receiver(
    config: Config,
    code: &str,
    out: PathBuf,
    decision: Decision,
) -> (Transfer, UnboundedReceiver<Event>) {
    let (events, rx) = Events::channel();
    let mut receiver =
        toss_core::start_receive(config, code.parse().expect("a valid code"), out, events);
    receiver.decide(decision);
    (receiver, rx)
}

/// Waits for both ends, failing the test instead of hanging.
async fn both(
    sender: Transfer,
    receiver: Transfer,
) -> (Result<Summary, Error>, Result<Summary, Error>) {
    tokio::time::timeout(LIMIT, async {
        tokio::join!(sender.wait(), receiver.wait())
    })
    .await
    .expect("both ends finished in time")
}

/// Sends `paths` and receives them into `out`; the receiver answers with `decision`.
async fn transfer(
    env: &Env,
    paths: Vec<PathBuf>,
    decision: Decision,
) -> (
    Result<Summary, Error>,
    Result<Summary, Error>,
    Vec<Event>,
    Vec<Event>,
) {
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(env.config(), paths, send_events);
    let code = code_of(&mut send_rx).await.expect("a code");
    let (receiver, mut recv_rx) = receiver(env.config(), &code, env.out(), decision);
    let (s, r) = both(sender, receiver).await;
    let mut se = Vec::new();
    while let Ok(e) = send_rx.try_recv() {
        se.push(e);
    }
    let mut re = Vec::new();
    while let Ok(e) = recv_rx.try_recv() {
        re.push(e);
    }
    (s, r, se, re)
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .expect("under")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn round_trip_sizes(sizes: &[usize]) -> TestResult {
    let env = Env::new().await?;
    let mut paths = Vec::new();
    let mut contents = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let path = env.src().join(format!("file{i}.bin"));
        let data = random_bytes(size);
        std::fs::write(&path, &data)?;
        paths.push(path);
        contents.push(data);
    }
    let (s, r, se, re) = transfer(&env, paths, Decision::Accept).await;
    let s = s?;
    let r = r?;
    assert_eq!(s.files, sizes.len());
    assert_eq!(r.bytes, sizes.iter().sum::<usize>() as u64);
    for (i, data) in contents.iter().enumerate() {
        let got = std::fs::read(env.out().join(format!("file{i}.bin")))?;
        assert!(got == *data, "file{i}.bin differs");
    }
    assert_eq!(
        files_under(&env.out()).len(),
        sizes.len(),
        "no stray .part files"
    );
    assert!(se.iter().any(|e| matches!(e, Event::Done { .. })));
    assert!(re.iter().any(|e| matches!(e, Event::Offer { .. })));
    assert!(re.iter().any(|e| matches!(e, Event::PeerConnected { .. })));
    for events in [&se, &re] {
        assert!(
            events.iter().any(|e| matches!(e, Event::Connected { path }
                if path.kind == toss_core::peer::PathKind::Direct && path.local_network && path.packet_size == toss_core::defaults::LARGE_SCTP_PACKET)),
            "large packets on loopback between two Toss: {events:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file() -> TestResult {
    round_trip_sizes(&[0]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte() -> TestResult {
    round_trip_sizes(&[1]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_chunk_and_one_byte_more() -> TestResult {
    round_trip_sizes(&[16 * 1024, 16 * 1024 + 1]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_mebibytes() -> TestResult {
    round_trip_sizes(&[100 * 1024 * 1024]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_files_and_a_nested_folder() -> TestResult {
    let env = Env::new().await?;
    let root = env.src().join("project");
    let mut expected = Vec::new();
    for i in 0..150 {
        let rel = format!("d{}/sub{}/f{i}.txt", i % 3, i % 5);
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent"))?;
        let data = random_bytes(i * 37);
        std::fs::write(&path, &data)?;
        expected.push((format!("project/{rel}"), data));
    }
    let (s, r, _, re) = transfer(&env, vec![root], Decision::Accept).await;
    s?;
    r?;
    for (rel, data) in &expected {
        assert!(
            std::fs::read(env.out().join(rel))? == *data,
            "{rel} differs"
        );
    }
    assert_eq!(files_under(&env.out()).len(), expected.len());
    let progress = re
        .iter()
        .filter(|e| matches!(e, Event::Progress(_)))
        .count();
    assert!(progress >= 1, "progress events were sent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_collision_keeps_the_existing_file() -> TestResult {
    let env = Env::new().await?;
    std::fs::write(env.out().join("report.pdf"), b"precious")?;
    let path = env.src().join("report.pdf");
    std::fs::write(&path, b"new version")?;
    let (s, r, _, re) = transfer(&env, vec![path], Decision::Accept).await;
    s?;
    r?;
    assert_eq!(std::fs::read(env.out().join("report.pdf"))?, b"precious");
    assert_eq!(
        std::fs::read(env.out().join("report (1).pdf"))?,
        b"new version"
    );
    assert!(re
        .iter()
        .any(|e| matches!(e, Event::FileDone { path, .. } if path == "report (1).pdf")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_fails_on_both_sides() -> TestResult {
    let env = Env::new().await?;
    let path = env.src().join("secret.txt");
    std::fs::write(&path, b"secret")?;
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(env.config(), vec![path], send_events);
    let code: Code = code_of(&mut send_rx).await.expect("code").parse()?;
    // Same room, other words.
    let words = code.password().words();
    let wrong_words = if words.starts_with("acid-") {
        "acorn-acorn"
    } else {
        "acid-acid"
    };
    let wrong = format!("{}-{wrong_words}", code.nameplate());
    let (receiver, _recv_rx) = receiver(env.config(), &wrong, env.out(), Decision::Accept);
    let (s, r) = both(sender, receiver).await;
    let (s, r) = (s.expect_err("sender fails"), r.expect_err("receiver fails"));
    assert!(s.is_wrong_code(), "sender: {s}");
    assert!(r.is_wrong_code(), "receiver: {r}");
    assert!(r.to_string().contains("wrong code"));
    assert!(files_under(&env.out()).is_empty());
    let mut told = false;
    while let Ok(e) = send_rx.try_recv() {
        told |= matches!(e, Event::Error { kind, .. } if kind == toss_core::ErrorKind::WrongCode);
    }
    assert!(told, "the sender's listener was told");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_writes_nothing() -> TestResult {
    let env = Env::new().await?;
    let path = env.src().join("offer.txt");
    std::fs::write(&path, b"no thanks")?;
    let (s, r, _, _) = transfer(&env, vec![path], Decision::Decline).await;
    assert!(matches!(s, Err(Error::Declined)), "{s:?}");
    assert!(matches!(r, Err(Error::Declined)), "{r:?}");
    assert!(files_under(&env.out()).is_empty());
    Ok(())
}

/// Cancels from one side as soon as bytes flow; both sides must stop and nothing may remain.
/// The file is sent in small packets, and large enough to last several progress events (a
/// tenth of a second each) at any speed this stack reaches on loopback: 64 MiB in large
/// packets was seen to arrive whole within a single one.
async fn cancel_midway(receiver_cancels: bool) -> TestResult {
    let env = Env::new().await?;
    let path = env.src().join("big.bin");
    std::fs::write(&path, random_bytes(256 * 1024 * 1024))?;
    let config = Config {
        large_packets: false,
        ..env.config()
    };
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(config.clone(), vec![path], send_events);
    let code = code_of(&mut send_rx).await.expect("code");
    let (receiver, mut recv_rx) = receiver(config, &code, env.out(), Decision::Accept);
    let flowing = tokio::time::timeout(LIMIT, async {
        while let Some(e) = recv_rx.recv().await {
            if matches!(&e, Event::Progress(p) if p.bytes > 0 && p.bytes < p.total) {
                return true;
            }
        }
        false
    })
    .await?;
    assert!(flowing, "bytes started to flow");
    if receiver_cancels {
        receiver.cancel();
    } else {
        sender.cancel();
    }
    let (s, r) = both(sender, receiver).await;
    let (s, r) = (s.expect_err("sender stops"), r.expect_err("receiver stops"));
    assert!(s.is_cancelled(), "sender: {s}");
    assert!(r.is_cancelled(), "receiver: {r}");
    let (local, remote) = if receiver_cancels { (&r, &s) } else { (&s, &r) };
    assert_eq!(local.to_string(), "the transfer was cancelled");
    assert_eq!(remote.to_string(), "the other side cancelled the transfer");
    assert!(
        files_under(&env.out()).is_empty(),
        "no partial file remains"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_cancels_midway() -> TestResult {
    cancel_midway(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_cancels_midway() -> TestResult {
    cancel_midway(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_nameplate_says_so() -> TestResult {
    let env = Env::new().await?;
    let (events, _rx) = Events::channel();
    let receiver =
        toss_core::start_receive(env.config(), "9999-orbit-lemon".parse()?, env.out(), events);
    let err = tokio::time::timeout(LIMIT, receiver.wait())
        .await?
        .expect_err("no such room");
    assert!(
        err.to_string()
            .contains("no transfer is waiting with the code"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_signaling_server_says_so() -> TestResult {
    let env = Env::new().await?;
    // A port that was just free: nothing listens there.
    let port = toss_testkit::ports::free_tcp_port()?;
    let (events, _rx) = Events::channel();
    let src = env.src().join("x");
    std::fs::write(&src, b"x")?;
    let sender = toss_core::start_send(
        Config::local(format!("ws://127.0.0.1:{port}")),
        vec![src],
        events,
    );
    let err = tokio::time::timeout(LIMIT, sender.wait())
        .await?
        .expect_err("unreachable");
    assert!(
        err.to_string()
            .starts_with("cannot reach the signaling server"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signaling_over_wss_with_a_private_certificate() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let cert_path = tmp.path().join("cert.pem");
    let key_path = tmp.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem())?;
    std::fs::write(&key_path, cert.key_pair.serialize_pem())?;
    let mut server_config = signal::loopback();
    server_config.tls = Some(toss_signal::TlsFiles {
        cert: cert_path.clone(),
        key: key_path,
    });
    let server = toss_signal::Server::spawn(server_config).await?;
    let url = format!("wss://localhost:{}", server.local_addr().port());
    let src = tmp.path().join("tls.txt");
    std::fs::write(&src, b"over tls")?;
    let out = tmp.path().join("out");

    // Without trusting the certificate, the client refuses the server, and says it is the
    // certificate (not an unreachable server) and what to do.
    let (events, _rx) = Events::channel();
    let untrusting = toss_core::start_send(Config::local(url.clone()), vec![src.clone()], events);
    let err = tokio::time::timeout(LIMIT, untrusting.wait())
        .await?
        .expect_err("untrusted");
    assert_eq!(err.kind(), toss_core::ErrorKind::SignalCertificate, "{err}");
    assert!(
        err.to_string()
            .contains("showed a certificate this computer does not trust")
            && err.to_string().contains("--signal-ca"),
        "{err}"
    );

    let mut config = Config::local(url);
    config.signal.extra_ca = Some(cert_path);
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(config.clone(), vec![src], send_events);
    let code = code_of(&mut send_rx).await.expect("code");
    let (receiver, _recv_rx) = receiver(config, &code, out.clone(), Decision::Accept);
    let (s, r) = both(sender, receiver).await;
    s?;
    r?;
    assert_eq!(std::fs::read(out.join("tls.txt"))?, b"over tls");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_alone_arrives_in_the_offer_and_nothing_is_written() -> TestResult {
    let env = Env::new().await?;
    let text = "https://example.org/holiday\nsecond line \u{1b}[31m";
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send_text(env.config(), text.into(), send_events);
    let code = code_of(&mut send_rx).await.expect("code");
    // Nobody answers the offer: a text alone is taken without asking.
    let (recv_events, mut recv_rx) = Events::channel();
    let receiver = toss_core::start_receive(env.config(), code.parse()?, env.out(), recv_events);
    let (s, r) = both(sender, receiver).await;
    s?;
    r?;
    let (mut shown, mut accepted) = (None, false);
    while let Ok(e) = recv_rx.try_recv() {
        match e {
            Event::Offer { text, files, .. } => {
                assert!(files.is_empty());
                shown = text;
            }
            Event::Accepted => accepted = true,
            _ => {}
        }
    }
    assert!(accepted, "the receiver says the text was accepted");
    // The escape character is neutralized; line breaks are kept.
    assert_eq!(
        shown.as_deref(),
        Some("https://example.org/holiday\nsecond line \u{fffd}[31m")
    );
    assert!(files_under(&env.out()).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_connecting_tells_the_other_side() -> TestResult {
    let env = Env::new().await?;
    let path = env.src().join("early.txt");
    std::fs::write(&path, b"early")?;
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(env.config(), vec![path], send_events);
    let code = code_of(&mut send_rx).await.expect("code");
    let (receiver, _recv_rx) = receiver(env.config(), &code, env.out(), Decision::Accept);
    // Cancel as soon as the two sides have paired, before or while WebRTC connects.
    while let Some(e) = send_rx.recv().await {
        if matches!(e, Event::PeerConnected { .. }) {
            sender.cancel();
            break;
        }
    }
    let (s, r) = both(sender, receiver).await;
    let s = s.expect_err("sender stops");
    assert!(s.is_cancelled(), "sender: {s}");
    // The receiver is told, whether the data channel opened in the meantime or not.
    let r = r.expect_err("receiver stops");
    assert!(r.is_cancelled(), "receiver: {r}");
    assert!(files_under(&env.out()).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_take_large_packets_gets_the_default_size() -> TestResult {
    let env = Env::new().await?;
    let path = env.src().join("a.bin");
    let data = random_bytes(300_000);
    std::fs::write(&path, &data)?;
    let (send_events, mut send_rx) = Events::channel();
    let sender = toss_core::start_send(env.config(), vec![path], send_events);
    let code = code_of(&mut send_rx).await.expect("a code");
    let small = Config {
        large_packets: false,
        ..env.config()
    };
    let (receiver, mut recv_rx) = receiver(small, &code, env.out(), Decision::Accept);
    let (s, r) = both(sender, receiver).await;
    s?;
    r?;
    assert!(std::fs::read(env.out().join("a.bin"))? == data);
    for rx in [&mut send_rx, &mut recv_rx] {
        let mut sizes = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let Event::Connected { path } = e {
                sizes.push(path.packet_size);
            }
        }
        assert_eq!(sizes, [1191]);
    }
    Ok(())
}
