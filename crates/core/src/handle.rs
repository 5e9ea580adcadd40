//! Whole transfers, each on a thread of its own, with handles: what the CLI and the desktop
//! app call. [`start_send`] and [`start_receive`] find the room (`rendezvous`), pair
//! (`session`) and then supervise each peer of the session: its connection, the transfer
//! over it, and a fresh connection that resumes the transfer when one is lost. They report
//! through [`Events`] and take decisions (accept, decline, cancel) on the handle.
//!
//! The transfer always ends with exactly one `done` or `error` event.

mod group;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::code::Code;
use crate::config::Config;
use crate::defaults::RECONNECT_TIMEOUT;
use crate::error::{Error, Result, Side};
use crate::events::{Event, Events};
use crate::peer::{self, Link, LinkState};
use crate::transfer::{self, Manifest, Summary};
use crate::{rendezvous, session};

/// The receiver's answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Receive the files.
    Accept,
    /// Refuse them.
    Decline,
}

pub use group::LetIn;

/// A running transfer; dropping it cancels it.
#[derive(Debug)]
pub struct Transfer {
    cancel: CancellationToken,
    decision: Option<oneshot::Sender<Decision>>,
    /// A group send's answers about each receiver.
    decisions: Option<mpsc::UnboundedSender<(u32, Decision)>>,
    task: Option<oneshot::Receiver<Result<Summary>>>,
}

impl Transfer {
    /// Cancels at whatever phase it is in; the other side is told.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Answers the offer (receiver), or says whether the verification words match
    /// (sender to a nearby device, after [`Event::CheckWords`]). May be called before the
    /// question comes; only the first answer counts.
    pub fn decide(&mut self, decision: Decision) {
        if let Some(tx) = self.decision.take() {
            let _ = tx.send(decision);
        }
    }

    /// A group send: lets receiver `receiver` in ([`Decision::Accept`]) or turns it away,
    /// after its [`Event::Joiner`]. Only the first answer about each receiver counts.
    pub fn decide_for(&self, receiver: u32, decision: Decision) {
        if let Some(tx) = &self.decisions {
            let _ = tx.send((receiver, decision));
        }
    }

    /// Waits for the end.
    ///
    /// # Errors
    /// Whatever ended the transfer; the same error was sent as an `error` event.
    pub async fn wait(mut self) -> Result<Summary> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|_| {
                Err(Error::Internal("the transfer stopped unexpectedly".into()))
            }),
            None => Err(Error::Internal("the transfer was already awaited".into())),
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.cancel.cancel();
        }
    }
}

async fn or_cancel<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::Cancelled(Side::Local)),
        r = fut => r,
    }
}

/// How long a finished transfer's thread waits for blocking work it started (disk reads and
/// writes end with the transfer; this only bounds a stray one).
const THREAD_SHUTDOWN: Duration = Duration::from_secs(1);

/// Runs `work` on a thread of its own with a single-threaded runtime, so that the work of
/// every packet (ICE, DTLS, SCTP, the protocol) stays on one thread whatever runtime the
/// caller has: handing packets between threads, and the wake-ups that takes, cost more
/// than the work itself (docs/benchmarks.md). Disk reads and writes run beside it.
fn spawn_transfer(
    events: Events,
    work: impl Future<Output = Result<Summary>> + Send + 'static,
) -> oneshot::Receiver<Result<Summary>> {
    let (tx, rx) = oneshot::channel();
    let thread_events = events.clone();
    let spawned = std::thread::Builder::new()
        .name("toss-transfer".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => {
                    let result = runtime.block_on(work);
                    runtime.shutdown_timeout(THREAD_SHUTDOWN);
                    result
                }
                Err(e) => not_started(&thread_events, &e),
            };
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => rx,
        Err(e) => {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(not_started(&events, &e));
            rx
        }
    }
}

/// The end of a transfer whose thread or runtime could not be made.
fn not_started(events: &Events, e: &std::io::Error) -> Result<Summary> {
    finish(
        events,
        Err(Error::Internal(format!(
            "could not start the transfer: {e}"
        ))),
    )
}

fn finish(events: &Events, result: Result<Summary>) -> Result<Summary> {
    if let Err(e) = &result {
        events.emit(Event::Error {
            message: e.to_string(),
            kind: e.kind(),
        });
    }
    result
}

/// Starts sending `paths`: allocates a code (emitted as [`Event::Code`]), waits for the
/// receiver, connects and sends.
pub fn start_send(config: Config, paths: Vec<PathBuf>, events: Events) -> Transfer {
    spawn_send(config, None, move || Manifest::from_paths(&paths), events)
}

/// Starts sending a short text or link instead of files; otherwise like [`start_send`].
pub fn start_send_text(config: Config, text: String, events: Events) -> Transfer {
    spawn_send(config, None, move || Manifest::from_text(&text), events)
}

/// Starts sending `paths` straight to a device from the nearby list: opens a room in its
/// inbox (no code to read out), then as [`start_send`] once its user joins. Both sides show
/// the verification words; the files go only when the other side accepts.
pub fn start_send_to(
    config: Config,
    device: crate::lan::Device,
    paths: Vec<PathBuf>,
    events: Events,
) -> Transfer {
    spawn_send(
        config,
        Some(device),
        move || Manifest::from_paths(&paths),
        events,
    )
}

fn spawn_send(
    config: Config,
    device: Option<crate::lan::Device>,
    manifest: impl FnOnce() -> Result<Manifest> + Send + 'static,
    events: Events,
) -> Transfer {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    // A nearby send waits for its user to check the words; a code's send does not ask.
    let (decision_tx, decision_rx) = oneshot::channel();
    let decision = device.is_some().then_some(decision_tx);
    let task = spawn_transfer(events.clone(), async move {
        let result = async {
            let manifest = manifest()?;
            let room = or_cancel(
                &token,
                rendezvous::open(&config, device.as_ref(), 1, &events),
            )
            .await?;
            if device.is_none() {
                events.emit(Event::Code {
                    code: room.allocated.code().to_string(),
                    link: room.link.clone(),
                });
            }
            let paired = or_cancel(&token, room.allocated.wait_for_peer()).await?;
            let mut peer = Peer::connect(paired, &config, &token, &events).await?;
            if device.is_some() {
                peer.check_words(decision_rx, &events, &token).await?;
            }
            let mut work = Sending {
                manifest,
                device: config.device_name.clone(),
            };
            peer.run(&mut work, &config, &token, &events).await
        }
        .await;
        finish(&events, result)
    });
    Transfer {
        cancel,
        decision,
        decisions: None,
        task: Some(task),
    }
}

/// Starts sending `paths` to up to `receivers` receivers of one code (a group code): each
/// that joins gets its own key exchange, words, connection and transfer, and is let in as
/// `let_in` says. Every event about a receiver comes as [`Event::Receiver`] with its number;
/// the end is one untagged `done` (every receiver let in got everything) or `error`.
pub fn start_send_group(
    config: Config,
    paths: Vec<PathBuf>,
    receivers: u32,
    let_in: LetIn,
    events: Events,
) -> Transfer {
    spawn_group(paths, events, move |manifest, decisions, token, events| {
        group::send_to_group(
            config, manifest, receivers, let_in, decisions, token, events,
        )
    })
}

/// Starts sending `paths` straight to several devices from the nearby list at once: each
/// gets its own request, words, connection and transfer, as [`start_send_to`] does for
/// one. Receiver N is `devices[N - 1]`; its events come as [`Event::Receiver`] with that
/// number, and each waits for [`Transfer::decide_for`] after its `check_words`.
pub fn start_send_to_devices(
    config: Config,
    devices: Vec<crate::lan::Device>,
    paths: Vec<PathBuf>,
    events: Events,
) -> Transfer {
    spawn_group(
        paths,
        events,
        move |manifest, decisions, token, events| async move {
            if devices.is_empty() {
                return Err(Error::Input("choose at least one device".into()));
            }
            group::send_to_devices(config, manifest, devices, decisions, token, events).await
        },
    )
}

/// A send to several receivers on a thread of its own: `work` gets the files, the answers
/// about each receiver ([`Transfer::decide_for`]) and the cancel token.
fn spawn_group<Work, Fut>(paths: Vec<PathBuf>, events: Events, work: Work) -> Transfer
where
    Work: FnOnce(Manifest, mpsc::UnboundedReceiver<(u32, Decision)>, CancellationToken, Events) -> Fut
        + Send
        + 'static,
    Fut: Future<Output = Result<Summary>> + Send,
{
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let (decisions_tx, decisions) = mpsc::unbounded_channel();
    let task = spawn_transfer(events.clone(), async move {
        let result = match Manifest::from_paths(&paths) {
            Ok(manifest) => work(manifest, decisions, token, events.clone()).await,
            Err(e) => Err(e),
        };
        finish(&events, result)
    });
    Transfer {
        cancel,
        decision: None,
        decisions: Some(decisions_tx),
        task: Some(task),
    }
}

/// Starts receiving what a nearby device is sending to this one's inbox ([`crate::lan::Knock`]):
/// like [`start_receive`], and likewise nothing is received before [`Transfer::decide`].
pub fn start_receive_knock(
    config: Config,
    knock: &crate::lan::Knock,
    out_dir: PathBuf,
    events: Events,
) -> Transfer {
    start_receive(
        rendezvous::at_knock(config, knock),
        knock.code(),
        out_dir,
        events,
    )
}

/// Starts receiving with `code` into `out_dir`: joins, connects, emits [`Event::Offer`] and
/// waits for [`Transfer::decide`] (a text alone is taken without asking: it is already
/// here, in the offer).
pub fn start_receive(config: Config, code: Code, out_dir: PathBuf, events: Events) -> Transfer {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let (decision_tx, decision_rx) = oneshot::channel();
    let task = spawn_transfer(events.clone(), async move {
        let result = async {
            let mut paired = or_cancel(&token, rendezvous::join(&config, &code)).await?;
            paired.set_device(&config.device_name);
            let peer = Peer::connect(paired, &config, &token, &events).await?;
            let mut work = Receiving {
                out_dir,
                decision: Some(decision_rx),
                offered: None,
            };
            peer.run(&mut work, &config, &token, &events).await
        }
        .await;
        finish(&events, result)
    });
    Transfer {
        cancel,
        decision: Some(decision_tx),
        decisions: None,
        task: Some(task),
    }
}

/// One side's part of a transfer, run again over each fresh connection after a loss.
trait Work {
    /// Runs the transfer over `link` (again, when `resumed`).
    async fn run(
        &mut self,
        link: &Link,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Summary>;
}

/// The sender's part: offer the files; the receiver says where each one starts.
struct Sending {
    manifest: Manifest,
    device: String,
}

impl Work for Sending {
    async fn run(
        &mut self,
        link: &Link,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Summary> {
        transfer::send(link, self.manifest.clone(), &self.device, events, cancel).await
    }
}

/// The receiver's part: the first offer goes to the user; after a reconnection the same
/// offer comes again and is taken up where it stopped, without asking again.
struct Receiving {
    out_dir: PathBuf,
    decision: Option<oneshot::Receiver<Decision>>,
    /// The offer as first shown, once it has been.
    offered: Option<(Vec<crate::events::OfferedFile>, Option<String>)>,
}

impl Work for Receiving {
    async fn run(
        &mut self,
        link: &Link,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Summary> {
        let offer = transfer::receive_offer(link.clone(), cancel).await?;
        let this = (offer.files(), offer.text().map(str::to_owned));
        match &self.offered {
            None => {
                events.emit(Event::Offer {
                    device: offer.device().to_owned(),
                    files: this.0.clone(),
                    total_bytes: offer.total_bytes(),
                    text: this.1.clone(),
                });
                self.offered = Some(this);
            }
            Some(first) if *first == this => {}
            Some(_) => {
                let e =
                    Error::Protocol("after reconnecting, the sender offered other files".into());
                offer.refuse(&e).await;
                return Err(e);
            }
        }
        let decision = match self.decision.as_mut() {
            // Accepted before the connection was lost.
            None => Some(Decision::Accept),
            // A text alone is already here, in the offer: there is nothing to decide.
            Some(_) if offer.is_text_only() => Some(Decision::Accept),
            Some(rx) => tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                d = rx => d.ok(),
                // The connection went while the user decides: the next one brings the same
                // offer, and the question stays open.
                _ = link.lost() => return Err(Error::PeerGone),
            },
        };
        match decision {
            Some(Decision::Accept) => {
                if self.decision.take().is_some() {
                    events.emit(Event::Accepted);
                }
                offer.accept(self.out_dir.clone(), events, cancel).await
            }
            Some(Decision::Decline) => {
                offer.decline().await;
                Err(Error::Declined)
            }
            None => {
                offer.accept_cancelled().await;
                Err(Error::Cancelled(Side::Local))
            }
        }
    }
}

/// One peer of a session: its sealed signaling and its current connection, supervised on
/// its own. When the connection is lost, a fresh one is set up in the same session (same
/// room, same keys) and the work runs again over it, resuming where it stopped. A session
/// with several peers holds one of these for each, so that one peer's trouble is its own.
struct Peer {
    paired: session::Paired,
    link: Link,
    /// The peer's signaling went away: the transfer goes on, but cannot reconnect.
    signal_gone: bool,
    /// Reconnections since a connection last carried file data.
    retries: Retries,
}

/// The reconnection budget: `attempts` fresh connections in a row that carry no file data,
/// then the transfer gives up. A connection that carried some starts the count again, so a
/// long transfer rides out any number of separate losses, while one whose every fresh
/// connection fails right after connecting (a path that takes the handshake's small packets
/// and not the data's) ends instead of reconnecting for ever.
#[derive(Debug, Default)]
struct Retries {
    used: u32,
}

impl Retries {
    /// A connection carried file data.
    fn progress(&mut self) {
        self.used = 0;
    }

    /// The next attempt's number (from 1), or `None` when `attempts` are used up.
    fn next(&mut self, attempts: u32) -> Option<u32> {
        (self.used < attempts).then(|| {
            self.used += 1;
            self.used
        })
    }
}

impl Peer {
    /// Tells the user the verification words, then sets up the first connection.
    async fn connect(
        mut paired: session::Paired,
        config: &Config,
        cancel: &CancellationToken,
        events: &Events,
    ) -> Result<Peer> {
        events.emit(Event::PeerConnected {
            verification: paired.verification().to_owned(),
        });
        let link = peer::connect(&mut paired, config, cancel).await?;
        events.emit(Event::Connected {
            path: link.path().clone(),
        });
        Ok(Peer {
            paired,
            link,
            signal_gone: false,
            retries: Retries::default(),
        })
    }

    /// A nearby send's words, checked by this side's user before the offer goes: without a
    /// secret code, a machine in the middle is only caught by two screens that disagree.
    async fn check_words(
        &mut self,
        decision: oneshot::Receiver<Decision>,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<()> {
        events.emit(Event::CheckWords {
            verification: self.paired.verification().to_owned(),
        });
        let answer = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
            _ = self.link.lost() => return Err(Error::PeerGone),
            d = decision => d.unwrap_or(Decision::Decline),
        };
        if answer == Decision::Accept {
            return Ok(());
        }
        let reason = "the sender saw other verification words on its screen; nothing was sent";
        // Best effort: the peer learns it from the closed connection anyway.
        let _ = self.paired.say(&session::Signal::Abort {
            reason: reason.into(),
        });
        self.link.close().await;
        // Leaving lets the abort go out before the connection closes.
        self.paired.leave().await;
        Err(Error::WordsDiffer)
    }

    /// A group code's receiver, let in or turned away by this side's user before anything
    /// is offered to it.
    async fn let_in(
        &mut self,
        decision: oneshot::Receiver<Decision>,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<()> {
        events.emit(Event::Joiner {
            device: self.paired.peer_device().map(str::to_owned),
            verification: self.paired.verification().to_owned(),
        });
        let answer = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                let _ = self.paired.say(&session::Signal::Cancel);
                self.link.close().await;
                self.paired.leave().await;
                return Err(Error::Cancelled(Side::Local));
            }
            _ = self.link.lost() => return Err(Error::PeerGone),
            d = decision => d.unwrap_or(Decision::Decline),
        };
        if answer == Decision::Accept {
            return Ok(());
        }
        // Best effort: the peer learns it from the closed connection anyway.
        let _ = self.paired.say(&session::Signal::Abort {
            reason: "the sender did not let this device receive; nothing was sent".into(),
        });
        self.link.close().await;
        self.paired.leave().await;
        Err(Error::TurnedAway)
    }

    /// Runs `work` over the connection, and when it is lost, over fresh ones, waiting 1 s,
    /// 2 s, 4 s... before each attempt. Leaves signaling at the end.
    async fn run(
        mut self,
        work: &mut impl Work,
        config: &Config,
        cancel: &CancellationToken,
        events: &Events,
    ) -> Result<Summary> {
        loop {
            let link = self.link.clone();
            let result = self.watch(events, work.run(&link, events, cancel)).await;
            self.link.close().await;
            if link.carried_data() {
                self.retries.progress();
            }
            let result = match result {
                Err(e) if e.is_connection_loss() && !cancel.is_cancelled() => {
                    if self.signal_gone || config.reconnect_attempts == 0 {
                        Err(e)
                    } else {
                        match self.again(config, cancel, events).await {
                            Ok(fresh) => {
                                self.link = fresh;
                                continue;
                            }
                            Err(e) => Err(e),
                        }
                    }
                }
                other => other,
            };
            self.paired.leave().await;
            return result;
        }
    }

    /// Drives `fut` (a transfer over the link) while listening to signaling: a peer that
    /// says it lost the connection makes this side close its own, so both set up a fresh
    /// one; a peer whose signaling went away cannot be reconnected with.
    async fn watch<T>(
        &mut self,
        events: &Events,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::pin!(fut);
        let link = self.link.clone();
        let mut state = link.state();
        let mut interrupted = false;
        let mut watching_state = true;
        let mut override_err = None;
        let mut listening = !self.signal_gone;
        let probed = link.probed_packet_size();
        tokio::pin!(probed);
        let mut probing = link.path().probe_up_to > 0;
        loop {
            tokio::select! {
                r = &mut fut => {
                    return match (r, override_err) {
                        (Err(e), Some(o)) if e.is_connection_loss() => Err(o),
                        (r, _) => r,
                    };
                }
                changed = state.changed(), if watching_state => {
                    if changed.is_err() {
                        // The connection is gone and will say no more.
                        watching_state = false;
                        continue;
                    }
                    let now = *state.borrow_and_update();
                    match now {
                        LinkState::Disconnected if !interrupted => {
                            interrupted = true;
                            events.emit(Event::Interrupted);
                        }
                        LinkState::Connected if interrupted => {
                            interrupted = false;
                            events.emit(Event::Restored);
                        }
                        LinkState::Failed => {
                            // Tell the peer at once rather than let it wait for its own
                            // timeout.
                            let _ = self.paired.say(&session::Signal::Reconnect);
                        }
                        _ => {}
                    }
                }
                size = &mut probed, if probing => {
                    probing = false;
                    if let Some(packet_size) = size {
                        events.emit(Event::PathProbed { packet_size });
                    }
                }
                heard = self.paired.hear(), if listening => match heard.inspect(|h| if let session::Heard::Signal(s) = h { tracing::debug!("heard during the transfer: {}", s.kind()) }).inspect_err(|e| tracing::debug!("signaling during the transfer: {e}")) {
                    Ok(session::Heard::Signal(session::Signal::Reconnect)) => {
                        // Our connection is dead too, whatever it says yet.
                        listening = false;
                        link.close().await;
                    }
                    Ok(session::Heard::Signal(s @ session::Signal::Offer { .. })) => {
                        // The next connection's offer, early: keep it for the setup.
                        self.paired.unhear(s);
                        listening = false;
                        link.close().await;
                    }
                    Ok(session::Heard::Signal(session::Signal::Abort { reason })) => {
                        override_err = Some(Error::PeerFailed(toss_wire::names::display(&reason)));
                        listening = false;
                        link.close().await;
                    }
                    Ok(session::Heard::Signal(session::Signal::Cancel)) => {
                        override_err = Some(Error::Cancelled(Side::Peer));
                        listening = false;
                        link.close().await;
                    }
                    Ok(session::Heard::Signal(_)) => {}
                    Ok(session::Heard::PeerLeft) | Err(_) => {
                        // The transfer goes on without signaling; it just cannot reconnect.
                        self.signal_gone = true;
                        listening = false;
                    }
                },
            }
        }
    }

    /// Sets up a fresh connection after a loss, as many times as configured.
    async fn again(
        &mut self,
        config: &Config,
        cancel: &CancellationToken,
        events: &Events,
    ) -> Result<Link> {
        let _ = self.paired.say(&session::Signal::Reconnect);
        let attempts = config.reconnect_attempts;
        while let Some(attempt) = self.retries.next(attempts) {
            events.emit(Event::Reconnecting { attempt, attempts });
            let backoff = Duration::from_secs(1 << (attempt - 1).min(5));
            let waited = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(Error::Cancelled(Side::Local)),
                _ = tokio::time::sleep(backoff) => Ok(()),
            };
            let tried = match waited {
                Ok(()) => {
                    peer::reconnect(&mut self.paired, config, cancel, RECONNECT_TIMEOUT).await
                }
                Err(e) => Err(e),
            };
            match tried {
                Ok(link) => {
                    events.emit(Event::Connected {
                        path: link.path().clone(),
                    });
                    return Ok(link);
                }
                // No path this time: wait longer and try again.
                Err(Error::Connect(_) | Error::WebRtc(_)) => continue,
                Err(e) => {
                    peer::give_up(&mut self.paired, &e).await;
                    return Err(e);
                }
            }
        }
        let e = Error::Unreachable(attempts);
        peer::give_up(&mut self.paired, &e).await;
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::Retries;

    #[test]
    fn reconnections_without_file_data_run_out_and_data_starts_the_count_again() {
        let mut retries = Retries::default();
        assert_eq!(
            [
                retries.next(3),
                retries.next(3),
                retries.next(3),
                retries.next(3)
            ],
            [Some(1), Some(2), Some(3), None]
        );
        // Used up stays used up, however often it is asked.
        assert_eq!(retries.next(3), None);
        retries.progress();
        assert_eq!([retries.next(3), retries.next(3)], [Some(1), Some(2)]);
        // A connection that carried data between losses: each loss starts again at 1.
        for _ in 0..10 {
            retries.progress();
            assert_eq!(retries.next(3), Some(1));
        }
        assert_eq!(Retries::default().next(0), None);
    }
}
