//! Whole transfers as spawned tasks with handles: what the CLI and the desktop app call.
//! [`start_send`] and [`start_receive`] run every phase (signaling, PAKE, WebRTC, files),
//! report through [`Events`], and take decisions (accept, decline, cancel) on the handle.
//!
//! The task always ends with exactly one `done` or `error` event.

use std::path::PathBuf;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::code::Code;
use crate::config::Config;
use crate::error::{Error, Result, Side};
use crate::events::{Event, Events};
use crate::transfer::{self, Manifest, Summary};
use crate::{peer, session};

/// The receiver's answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Receive the files.
    Accept,
    /// Refuse them.
    Decline,
}

/// A running transfer; dropping it cancels it.
#[derive(Debug)]
pub struct Transfer {
    cancel: CancellationToken,
    decision: Option<oneshot::Sender<Decision>>,
    task: Option<JoinHandle<Result<Summary>>>,
}

impl Transfer {
    /// Cancels at whatever phase it is in; the other side is told.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Answers the offer (receiver). May be called before the offer arrives; only the
    /// first answer counts.
    pub fn decide(&mut self, decision: Decision) {
        if let Some(tx) = self.decision.take() {
            let _ = tx.send(decision);
        }
    }

    /// Waits for the end.
    ///
    /// # Errors
    /// Whatever ended the transfer; the same error was sent as an `error` event.
    pub async fn wait(mut self) -> Result<Summary> {
        match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|e| Err(Error::Input(format!("the transfer task failed: {e}")))),
            None => Err(Error::Input("the transfer was already awaited".into())),
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

fn finish(events: &Events, result: Result<Summary>) -> Result<Summary> {
    if let Err(e) = &result {
        events.emit(Event::Error {
            message: e.to_string(),
            kind: e.kind().to_owned(),
        });
    }
    result
}

/// Starts sending `paths`: allocates a code (emitted as [`Event::Code`]), waits for the
/// receiver, connects and sends.
pub fn start_send(config: Config, paths: Vec<PathBuf>, events: Events) -> Transfer {
    spawn_send(config, move || Manifest::from_paths(&paths), events)
}

/// Starts sending a short text or link instead of files; otherwise like [`start_send`].
pub fn start_send_text(config: Config, text: String, events: Events) -> Transfer {
    spawn_send(config, move || Manifest::from_text(&text), events)
}

fn spawn_send(
    config: Config,
    manifest: impl FnOnce() -> Result<Manifest> + Send + 'static,
    events: Events,
) -> Transfer {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let task = tokio::spawn(async move {
        let result = async {
            let manifest = manifest()?;
            // On a LAN with no server, this sender is the rendezvous.
            let mut host = if config.lan {
                Some(crate::lan::LanHost::start(&config.device_name).await?)
            } else {
                None
            };
            let signal_config = match &host {
                Some(h) => Config {
                    signal_url: h.local_url(),
                    ..config.clone()
                },
                None => config.clone(),
            };
            let allocated = or_cancel(&token, session::allocate(&signal_config)).await?;
            if let Some(h) = host.as_mut() {
                h.announce(&allocated.code().nameplate().to_string())?;
            }
            events.emit(Event::Code {
                code: allocated.code().to_string(),
            });
            let paired = or_cancel(&token, allocated.wait_for_peer()).await?;
            events.emit(Event::PeerConnected {
                verification: paired.verification().to_owned(),
            });
            let link = peer::connect(paired, &config, &token).await?;
            events.emit(Event::Connected {
                path: link.path().clone(),
            });
            transfer::send(&link, manifest, &config.device_name, &events, &token).await
        }
        .await;
        finish(&events, result)
    });
    Transfer {
        cancel,
        decision: None,
        task: Some(task),
    }
}

/// Starts receiving with `code` into `out_dir`: joins, connects, emits [`Event::Offer`] and
/// waits for [`Transfer::decide`].
pub fn start_receive(config: Config, code: Code, out_dir: PathBuf, events: Events) -> Transfer {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let (decision_tx, decision_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let result = async {
            let paired = or_cancel(&token, join(&config, &code)).await?;
            events.emit(Event::PeerConnected {
                verification: paired.verification().to_owned(),
            });
            let link = peer::connect(paired, &config, &token).await?;
            events.emit(Event::Connected {
                path: link.path().clone(),
            });
            let offer = transfer::receive_offer(link, &token).await?;
            events.emit(Event::Offer {
                device: offer.device().to_owned(),
                files: offer.files(),
                total_bytes: offer.total_bytes(),
                text: offer.text().map(str::to_owned),
            });
            let decision = tokio::select! {
                biased;
                _ = token.cancelled() => None,
                d = decision_rx => d.ok(),
            };
            match decision {
                Some(Decision::Accept) => {
                    events.emit(Event::Accepted);
                    offer.accept(out_dir, &events, &token).await
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
        .await;
        finish(&events, result)
    });
    Transfer {
        cancel,
        decision: Some(decision_tx),
        task: Some(task),
    }
}

/// Joins the sender's room: on a LAN, at the sender's own rendezvous found by mDNS, else
/// (or if none answers) through the configured server.
async fn join(config: &Config, code: &Code) -> Result<session::Paired> {
    if config.lan {
        let nameplate = code.nameplate().to_string();
        for url in crate::lan::find(&nameplate, crate::defaults::LAN_FIND_WAIT).await? {
            let lan = Config {
                signal_url: url,
                ..config.clone()
            };
            match session::join(&lan, code).await {
                Err(Error::SignalUnreachable { .. }) => continue,
                other => return other,
            }
        }
    }
    session::join(config, code).await
}
