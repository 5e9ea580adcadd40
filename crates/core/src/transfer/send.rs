//! The sending side of a transfer: offer, wait for the answer, stream every file, wait for
//! the receiver's verification of each.
//!
//! Files are read and hashed on a blocking thread a few MiB ahead of the network, so the
//! data path only slices ready buffers into 16 KiB messages (no copy) and waits on
//! backpressure.

use std::fs::File;
use std::io::Read;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::defaults::CHUNK_SIZE;
use crate::error::{Error, Result, Side};
use crate::events::{Direction, Event, Events};
use crate::peer::{await_peer_close, Incoming, Link};
use crate::transfer::names::display;
use crate::transfer::progress::Meter;
use crate::transfer::protocol::{self, Control};
use crate::transfer::{Manifest, Summary};

/// Bytes read from disk at a time; sliced into [`CHUNK_SIZE`] messages.
const READ_BLOCK: usize = 64 * CHUNK_SIZE;

/// Blocks read ahead of the network.
const READ_AHEAD: usize = 4;

enum ReadItem {
    Block(Bytes),
    End { blake3: String },
    Failed(Error),
}

/// Reads every file of the manifest in order on the calling (blocking) thread.
fn read_files(manifest: &Manifest, tx: &mpsc::Sender<ReadItem>) {
    for (entry, source) in manifest.entries.iter().zip(&manifest.sources) {
        let result = (|| -> Result<String> {
            let mut file = File::open(source).map_err(|e| Error::io(source, e))?;
            let mut hasher = blake3::Hasher::new();
            let mut left = entry.size;
            while left > 0 {
                let want = usize::try_from(left.min(READ_BLOCK as u64)).unwrap_or(READ_BLOCK);
                let mut block = BytesMut::zeroed(want);
                file.read_exact(&mut block).map_err(|e| match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => Error::Input(format!(
                        "{} got shorter while it was being sent",
                        source.display()
                    )),
                    _ => Error::io(source, e),
                })?;
                hasher.update(&block);
                left -= want as u64;
                if tx.blocking_send(ReadItem::Block(block.freeze())).is_err() {
                    return Err(Error::Cancelled(Side::Local));
                }
            }
            Ok(hasher.finalize().to_hex().to_string())
        })();
        let item = match result {
            Ok(blake3) => ReadItem::End { blake3 },
            Err(e) => ReadItem::Failed(e),
        };
        let failed = matches!(item, ReadItem::Failed(_));
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// Tells the peer why we stop, then returns the error.
async fn stop(link: &Link, inbox: &mut mpsc::Receiver<Result<Incoming>>, err: Error) -> Error {
    let msg = match &err {
        Error::Cancelled(Side::Local) => Some(Control::Cancel),
        Error::Cancelled(Side::Peer) | Error::PeerGone | Error::PeerFailed(_) | Error::Declined => {
            None
        }
        other => Some(Control::Error {
            message: other.for_peer(),
        }),
    };
    if let Some(msg) = msg {
        if link.send_text(&protocol::encode(&msg)).await.is_ok() {
            await_peer_close(inbox).await;
        }
    }
    err
}

/// What an inbound message means to the sender.
fn on_control(
    item: Option<Result<Incoming>>,
    confirmed: &mut usize,
    manifest: &Manifest,
    events: &Events,
) -> Result<bool> {
    let text = match item {
        None => return Err(Error::PeerGone),
        Some(Err(e)) => return Err(e),
        Some(Ok(Incoming::Binary(_))) => {
            return Err(Error::Protocol("the receiver sent file data".into()))
        }
        Some(Ok(Incoming::Text(t))) => t,
    };
    match protocol::decode(&text).map_err(|e| Error::Protocol(e.to_string()))? {
        Control::FileOk { index } if index == *confirmed && index < manifest.entries.len() => {
            *confirmed += 1;
            let entry = &manifest.entries[index];
            events.emit(Event::FileDone {
                index,
                path: entry.path.clone(),
                bytes: entry.size,
            });
            Ok(false)
        }
        Control::Done if *confirmed == manifest.entries.len() => Ok(true),
        Control::Cancel => Err(Error::Cancelled(Side::Peer)),
        Control::Error { message } => Err(Error::PeerFailed(display(&message))),
        other => Err(Error::Protocol(format!(
            "unexpected {other:?} from the receiver"
        ))),
    }
}

/// Sends `manifest` over `link`: offer, answer, files, verification.
///
/// # Errors
/// [`Error::Declined`], [`Error::Cancelled`] (either side), [`Error::PeerGone`],
/// [`Error::PeerFailed`] (the receiver's disk, a hash mismatch), local read errors.
pub async fn send(
    link: &Link,
    manifest: Manifest,
    device: &str,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary> {
    let result = offer_and_stream(link, manifest, device, events, cancel).await;
    // Closing is how the receiver learns that our last word was read.
    link.close().await;
    result
}

async fn offer_and_stream(
    link: &Link,
    manifest: Manifest,
    device: &str,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary> {
    let mut inbox = link.reader();
    let offer = Control::Offer {
        device: device.to_owned(),
        files: manifest.entries.clone(),
        text: manifest.text.clone(),
    };
    link.send_text(&protocol::encode(&offer)).await?;
    events.emit(Event::WaitingForAccept);
    let answer = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(stop(link, &mut inbox, Error::Cancelled(Side::Local)).await),
        item = inbox.recv() => item,
    };
    match answer {
        Some(Ok(Incoming::Text(t))) => match protocol::decode(&t) {
            Ok(Control::Accept { offsets }) if offsets.len() == manifest.entries.len() => {}
            Ok(Control::Decline) => return Err(Error::Declined),
            Ok(Control::Cancel) => return Err(Error::Cancelled(Side::Peer)),
            Ok(Control::Error { message }) => return Err(Error::PeerFailed(display(&message))),
            _ => {
                let err = Error::Protocol("the receiver's answer makes no sense".into());
                return Err(stop(link, &mut inbox, err).await);
            }
        },
        None => return Err(Error::PeerGone),
        Some(Err(e)) => return Err(stop(link, &mut inbox, e).await),
        Some(Ok(Incoming::Binary(_))) => {
            return Err(stop(
                link,
                &mut inbox,
                Error::Protocol("the receiver sent file data".into()),
            )
            .await)
        }
    }
    events.emit(Event::Accepted);
    match stream(link, &manifest, &mut inbox, events, cancel).await {
        Ok(summary) => Ok(summary),
        Err(e) => Err(stop(link, &mut inbox, e).await),
    }
}

async fn stream(
    link: &Link,
    manifest: &Manifest,
    inbox: &mut mpsc::Receiver<Result<Incoming>>,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary> {
    let (tx, mut blocks) = mpsc::channel(READ_AHEAD);
    let reader_manifest = manifest.clone();
    let reader = tokio::task::spawn_blocking(move || read_files(&reader_manifest, &tx));
    let mut meter = Meter::new(Direction::Send, manifest.entries.clone());
    let mut confirmed = 0usize;
    for (index, entry) in manifest.entries.iter().enumerate() {
        meter.start_file(index);
        link.send_text(&protocol::encode(&Control::FileStart { index, offset: 0 }))
            .await?;
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                item = inbox.recv() => {
                    on_control(item, &mut confirmed, manifest, events)?;
                    continue;
                }
                item = blocks.recv() => item,
            };
            match item {
                Some(ReadItem::Block(block)) => {
                    let mut at = 0;
                    while at < block.len() {
                        let end = (at + CHUNK_SIZE).min(block.len());
                        while link.congested() {
                            tokio::select! {
                                biased;
                                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                                item = inbox.recv() => {
                                    on_control(item, &mut confirmed, manifest, events)?;
                                }
                                _ = link.drained() => {}
                            }
                        }
                        link.send_binary(block.slice(at..end)).await?;
                        meter.add((end - at) as u64, events);
                        at = end;
                    }
                }
                Some(ReadItem::End { blake3 }) => {
                    link.send_text(&protocol::encode(&Control::FileEnd { index, blake3 }))
                        .await?;
                    meter.emit(events);
                    break;
                }
                Some(ReadItem::Failed(e)) => return Err(e),
                None => return Err(Error::Input(format!("could not read {}", entry.path))),
            }
        }
    }
    drop(reader);
    // Everything is sent; the receiver confirms each file, then says done.
    loop {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
            item = inbox.recv() => item,
        };
        if on_control(item, &mut confirmed, manifest, events)? {
            break;
        }
    }
    let summary = Summary {
        files: manifest.entries.len(),
        bytes: meter.total(),
        seconds: meter.elapsed(),
        saved_to: None,
    };
    events.emit(Event::Done {
        files: summary.files,
        bytes: summary.bytes,
        seconds: summary.seconds,
        saved_to: None,
    });
    Ok(summary)
}
