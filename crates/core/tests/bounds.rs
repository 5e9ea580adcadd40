//! Every stage of setting up is bounded: a room where nobody answers, a peer that floods
//! ICE candidates, and a signaling server whose error sentences carry terminal escapes.
//! Real `toss-signal` (or a hostile WebSocket server) on loopback, real sessions.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use toss_core::{session, Config, Decision, Error, Event, Events, Phase, SignalEndpoint};
use toss_testkit::signal;
use toss_testkit::{AnyResult, TestResult};

/// Longest a scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_room_where_nobody_answers_ends_the_key_exchange_with_its_sentence() -> TestResult {
    let server = signal::spawn().await?;
    let config = Config::local(server.url());
    // A room whose owner never says a word.
    let silent = session::allocate(&config.signal).await?;
    let joined = tokio::time::timeout(LIMIT, session::join(&config.signal, silent.code())).await?;
    let error = joined.expect_err("the key exchange cannot finish");
    assert!(
        matches!(error, Error::TimedOut(Phase::KeyExchange)),
        "{error:?}"
    );
    assert_eq!(error.kind().as_str(), "timed_out");
    assert_eq!(
        error.to_string(),
        "the other side did not finish the key exchange in time; check the code, or ask the sender for a new one"
    );
    Ok(())
}

#[tokio::test]
async fn a_flood_of_candidates_ends_the_setup_with_a_sentence() -> TestResult {
    let server = signal::spawn().await?;
    let config = Config::local(server.url());
    let (code, flooder) =
        toss_core::testing::host_flooding_candidates(config.clone(), 5_000).await?;
    let out = tempfile::tempdir()?;
    let (events, mut rx) = Events::channel();
    let mut receiver = toss_core::start_receive(config, code, out.path().to_path_buf(), events);
    receiver.decide(Decision::Accept);
    let result = tokio::time::timeout(LIMIT, receiver.wait()).await?;
    let error = result.expect_err("a flood is refused");
    assert!(
        error
            .to_string()
            .contains("sent far more network addresses than any computer has"),
        "{error}"
    );
    let mut shown = None;
    while let Ok(event) = rx.try_recv() {
        if let Event::Error { message, .. } = event {
            shown = Some(message);
        }
    }
    assert_eq!(
        shown,
        Some(error.to_string()),
        "the user is told the same sentence"
    );
    // The flooder got more through than the bound before it was cut off.
    let sent = flooder.await??;
    assert!(sent > toss_core::defaults::MAX_REMOTE_CANDIDATES, "{sent}");
    assert_eq!(std::fs::read_dir(out.path())?.count(), 0);
    Ok(())
}

/// A WebSocket server for one client that answers each request with `answer`, or never
/// answers at all.
async fn fake_server(answer: Option<serde_json::Value>) -> AnyResult<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        while let Some(Ok(Message::Text(_))) = ws.next().await {
            if let Some(answer) = &answer {
                let _ = ws.send(Message::Text(answer.to_string().into())).await;
            }
        }
    });
    Ok(url)
}

#[tokio::test]
async fn a_server_that_never_answers_ends_with_its_sentence() -> TestResult {
    let url = fake_server(None).await?;
    let allocated =
        tokio::time::timeout(LIMIT, session::allocate(&SignalEndpoint::new(url))).await?;
    let error = allocated.expect_err("no answer");
    assert!(
        matches!(error, Error::TimedOut(Phase::ServerAnswer)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the signaling server did not answer in time; check the connection and try again"
    );
    Ok(())
}

#[tokio::test]
async fn a_servers_own_words_are_never_shown() -> TestResult {
    // Every `join` refused with a sentence full of terminal escapes and markup.
    let url = fake_server(Some(serde_json::json!({
        "v": 1,
        "type": "error",
        "code": "room_full",
        "message": "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}]8;;https://evil.test\u{7}click\u{1b}]8;;\u{7} <a href=\"x\">here</a>",
    })))
    .await?;
    let code: toss_core::Code = "7-orbit-lemon".parse()?;
    let joined =
        tokio::time::timeout(LIMIT, session::join(&SignalEndpoint::new(url), &code)).await?;
    let error = joined.expect_err("refused");
    let shown = error.to_string();
    assert_eq!(
        shown,
        "This code has already been used; ask the sender for a new one."
    );
    assert!(!shown.contains('\u{1b}') && !shown.contains('<'));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_that_work_give_their_guess_back() -> TestResult {
    // Every join costs the joining address one of its guesses; a pairing whose key
    // confirmation worked gives it back, so honest use never runs out.
    let server = signal::spawn().await?;
    let config = Config::local(server.url());
    let budget = toss_signal::defaults::GUESS_BURST as usize;
    for round in 0..budget + 3 {
        let allocated = session::allocate(&config.signal).await?;
        let code = allocated.code().clone();
        // Each side in a task of its own, as each is in a program of its own.
        let sender = tokio::spawn(allocated.wait_for_peer());
        let joining = config.clone();
        let receiver = tokio::spawn(async move { session::join(&joining.signal, &code).await });
        let (sender, receiver) =
            tokio::time::timeout(LIMIT, futures_util::future::join(sender, receiver)).await?;
        let (_sender, _receiver) = (
            sender??,
            receiver?.map_err(|e| format!("round {round}: {e}"))?,
        );
    }
    Ok(())
}
