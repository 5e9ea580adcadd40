//! One sender, several receivers, one code: the group send.
//!
//! The room takes up to N receivers (docs/protocol.md, "Group rooms"). Each one that joins
//! runs its own key exchange, and once it proves the code gets its own sealed signaling,
//! its own connection and its own transfer, supervised by its own [`Peer`] exactly as a
//! single receiver's is (reconnect, resume, backpressure). Nothing one receiver does (slow,
//! failed, cancelled, declined) touches another; the sender's cancel stops them all, each
//! told. Every event about a receiver is tagged with its number ([`Event::Receiver`]).
//!
//! The receivers share one read and one hash of each block while they move together
//! ([`crate::transfer::Manifest`]'s shared reads); one that falls behind reads on its own.
//!
//! A joiner whose key confirmation fails ends the code for anyone else (the room is
//! locked), so that a group code, like any code, is worth one guess.
//!
//! Several nearby devices at once ([`send_to_devices`]) are the same, with a room in each
//! device's inbox instead of one code: each device's words are checked on its own.

use std::collections::HashMap;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{finish, or_cancel, Decision, Peer, Sending};
use crate::config::Config;
use crate::error::{Error, Result, Side};
use crate::events::{Event, Events};
use crate::rendezvous;
use crate::session::{self, Paired};
use crate::transfer::{Manifest, Summary};

/// How each receiver gets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetIn {
    /// Every receiver whose key confirmation succeeds, until the code is full.
    Everyone,
    /// Each one waits for [`crate::Transfer::decide_for`] after [`Event::Joiner`].
    Ask,
}

type Boxed<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Sends `manifest` to up to `receivers` receivers of one code; the end is `Done` when every
/// receiver let in got everything, else an error that says how many did.
pub(super) async fn send_to_group(
    config: Config,
    manifest: Manifest,
    receivers: u32,
    let_in: LetIn,
    mut decisions: mpsc::UnboundedReceiver<(u32, Decision)>,
    token: CancellationToken,
    events: Events,
) -> Result<Summary> {
    let room = or_cancel(&token, rendezvous::open(&config, None, receivers, &events)).await?;
    events.emit(Event::Code {
        code: room.allocated.code().to_string(),
        link: room.link.clone(),
    });
    let _host = room._host;
    let (mut group, code) = room.allocated.into_group();
    // Receivers that move together take each block from one read and one hash.
    let manifest = manifest.read_once();
    let (config, manifest, code) = (&config, &manifest, &code);
    let token = &token;
    let mut exchanges: FuturesUnordered<Boxed<'_, (u32, Result<Paired>)>> = FuturesUnordered::new();
    let mut served: FuturesUnordered<Boxed<'_, (u32, Result<Summary>)>> = FuturesUnordered::new();
    let mut waiting: HashMap<u32, oneshot::Sender<Decision>> = HashMap::new();
    // Receivers are taken while `taking`; the room is heard from while `open`.
    let mut taking = true;
    let mut open = true;
    let mut joined = 0u32;
    let mut outcomes: Vec<Result<Summary>> = Vec::new();
    loop {
        if !taking && exchanges.is_empty() && served.is_empty() {
            break;
        }
        tokio::select! {
            // Cancelling stops taking receivers; those in a transfer see the same token and
            // end (each told), which is what this loop then waits for.
            _ = token.cancelled(), if taking => {
                taking = false;
                group.lock();
            }
            joiner = group.joined(), if open => match joiner {
                Some(joiner) if taking => {
                    joined += 1;
                    if joined >= receivers {
                        taking = false;
                    }
                    let peer = joiner.peer;
                    exchanges.push(Box::pin(async move {
                        (peer, or_cancel(token, session::pake_joiner(joiner, code)).await)
                    }));
                }
                // One that came in just before the room was locked: sent out again.
                Some(mut joiner) => joiner.line.close().await,
                // The room is gone (expired, or its connection lost).
                None => {
                    open = false;
                    taking = false;
                }
            },
            Some((peer, paired)) = exchanges.next() => {
                let tagged = events.for_receiver(peer);
                match paired {
                    Ok(paired) => {
                        let decision = match let_in {
                            LetIn::Everyone => None,
                            LetIn::Ask => {
                                let (tx, rx) = oneshot::channel();
                                waiting.insert(peer, tx);
                                Some(rx)
                            }
                        };
                        served.push(Box::pin(async move {
                            let result = serve(paired, decision, config, manifest, token, &tagged).await;
                            (peer, finish(&tagged, result))
                        }));
                    }
                    Err(e) => {
                        if e.is_wrong_code() {
                            // The line locked the room; nobody else comes in with this code.
                            taking = false;
                            events.emit(Event::CodeEnded {
                                message: "Someone typed this code with other words, so it lets nobody else in; the receivers already connected carry on. Send again for a fresh code.".into(),
                            });
                        }
                        let _ = finish(&tagged, Err(e));
                    }
                }
            }
            Some((peer, result)) = served.next() => {
                waiting.remove(&peer);
                outcomes.push(result);
            }
            Some((peer, decision)) = decisions.recv() => {
                if let Some(tx) = waiting.remove(&peer) {
                    let _ = tx.send(decision);
                }
            }
            else => break,
        }
    }
    drop(group);
    done(&events, summarize(outcomes, token.is_cancelled()))
}

/// Sends `manifest` to each of `devices` on the local network at once: a room in each one's
/// inbox, a session, words and connection each, and the files once this side's user said
/// that device's words match ([`crate::Transfer::decide_for`] after its `check_words`).
/// Receiver N is `devices[N - 1]`. The end is as for a group code.
pub(super) async fn send_to_devices(
    config: Config,
    manifest: Manifest,
    devices: Vec<crate::lan::Device>,
    mut decisions: mpsc::UnboundedReceiver<(u32, Decision)>,
    token: CancellationToken,
    events: Events,
) -> Result<Summary> {
    let manifest = manifest.read_once();
    let (config, manifest, token) = (&config, &manifest, &token);
    let mut served: FuturesUnordered<Boxed<'_, (u32, Result<Summary>)>> = FuturesUnordered::new();
    let mut waiting: HashMap<u32, oneshot::Sender<Decision>> = HashMap::new();
    for (number, device) in (1u32..).zip(devices) {
        let tagged = events.for_receiver(number);
        let (tx, rx) = oneshot::channel();
        waiting.insert(number, tx);
        served.push(Box::pin(async move {
            let result = async {
                let room =
                    or_cancel(token, rendezvous::open(config, Some(&device), 1, &tagged)).await?;
                let paired = or_cancel(token, room.allocated.wait_for_peer()).await?;
                let mut peer = Peer::connect(paired, config, token, &tagged).await?;
                peer.check_words(rx, &tagged, token).await?;
                let mut work = Sending {
                    manifest: manifest.clone(),
                    device: config.device_name.clone(),
                };
                peer.run(&mut work, config, token, &tagged).await
            }
            .await;
            (number, finish(&tagged, result))
        }));
    }
    let mut outcomes = Vec::new();
    // Until every device's transfer ended (the handle's answers never end by themselves).
    while !served.is_empty() {
        tokio::select! {
            Some((number, result)) = served.next() => {
                waiting.remove(&number);
                outcomes.push(result);
            }
            Some((number, decision)) = decisions.recv() => {
                if let Some(tx) = waiting.remove(&number) {
                    let _ = tx.send(decision);
                }
            }
        }
    }
    done(&events, summarize(outcomes, token.is_cancelled()))
}

/// Says the group's end, when every receiver got everything.
fn done(events: &Events, summary: Result<Summary>) -> Result<Summary> {
    let summary = summary?;
    events.emit(summary.done_event());
    Ok(summary)
}

/// One receiver, once it proved the code: connect, let it in, send, and resume after a loss.
async fn serve(
    paired: Paired,
    decision: Option<oneshot::Receiver<Decision>>,
    config: &Config,
    manifest: &Manifest,
    cancel: &CancellationToken,
    events: &Events,
) -> Result<Summary> {
    let mut peer = Peer::connect(paired, config, cancel, events).await?;
    if let Some(decision) = decision {
        peer.let_in(decision, events, cancel).await?;
    }
    let mut work = Sending {
        manifest: manifest.clone(),
        device: config.device_name.clone(),
    };
    peer.run(&mut work, config, cancel, events).await
}

/// The group's end: every receiver let in got everything, or how many did.
fn summarize(outcomes: Vec<Result<Summary>>, cancelled: bool) -> Result<Summary> {
    let of = outcomes
        .iter()
        .filter(|r| !matches!(r, Err(Error::TurnedAway)))
        .count();
    let done: Vec<&Summary> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    match done.first() {
        Some(first) if done.len() == of => Ok(Summary {
            files: first.files,
            bytes: first.bytes,
            skipped: done.iter().map(|s| s.skipped).sum(),
            seconds: done.iter().map(|s| s.seconds).fold(0.0, f64::max),
            saved_to: None,
        }),
        _ if cancelled => Err(Error::Cancelled(Side::Local)),
        None if of == 1 => outcomes
            .into_iter()
            .find_map(Result::err)
            .map_or(Err(Error::PeerGone), Err),
        None if of == 0 => Err(Error::Input(
            "nobody received the files: no receiver joined with the code and was let in".into(),
        )),
        _ => Err(Error::SomeReceiversMissed {
            done: done.len(),
            of,
        }),
    }
}
