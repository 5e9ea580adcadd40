//! The receiving side of a transfer: read and vet the offer, let the user decide, then take
//! in each file, check every byte count against the offer, and hand the bytes to the disk
//! writer thread (`sink`), which verifies and saves.
//!
//! Everything the sender says is checked here before it reaches the disk.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::defaults::{
    DISK_MARGIN, MAX_FILES, MAX_TEXT_BYTES, MAX_TOTAL_BYTES, READ_BATCH, WRITE_AHEAD, WRITE_QUEUE,
};
use crate::error::{Error, Result, Side};
use crate::events::{Direction, Event, Events, OfferedFile};
use crate::peer::{await_peer_close, Incoming, Link};
use crate::transfer::journal::{self, Claim, Held, Journal};
use crate::transfer::names::{display, sanitize_path};
use crate::transfer::progress::Meter;
use crate::transfer::protocol::{self, Control, FileEntry};
use crate::transfer::sink::{From, Sink, WriteCmd, WriteResult};
use crate::transfer::Summary;

/// Longest device name shown, in characters.
const MAX_DEVICE_CHARS: usize = 64;

/// An offer that has been read and vetted; the user decides what happens to it.
#[derive(Debug)]
pub struct IncomingOffer {
    link: Link,
    inbox: mpsc::Receiver<Result<Incoming>>,
    device: String,
    files: Vec<FileEntry>,
    safe_paths: Vec<Vec<String>>,
    text: Option<String>,
}

/// Says a last word to the sender and waits for it to hang up.
async fn tell(link: &Link, inbox: &mut mpsc::Receiver<Result<Incoming>>, msg: Control) {
    if link.send_text(&protocol::encode(&msg)).await.is_ok() {
        await_peer_close(inbox).await;
    }
}

/// Waits for the sender's offer and vets it: counts, sizes and every name.
///
/// # Errors
/// [`Error::Protocol`] for an offer that breaks the limits or has unusable names (the
/// sender is told why); [`Error::PeerGone`], [`Error::Cancelled`].
pub async fn receive_offer(link: Link, cancel: &CancellationToken) -> Result<IncomingOffer> {
    let mut inbox = link.reader();
    let first = tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            tell(&link, &mut inbox, Control::Cancel).await;
            link.close().await;
            return Err(Error::Cancelled(Side::Local));
        }
        item = inbox.recv() => item,
    };
    let vetted = match first {
        None => Err(Error::PeerGone),
        Some(Err(e)) => Err(e),
        Some(Ok(Incoming::Binary(_))) => {
            Err(Error::Protocol("file data arrived before the offer".into()))
        }
        Some(Ok(Incoming::Text(text))) => match protocol::decode(&text) {
            // `paced` asks nothing of this receiver: it reads the channel only as fast as it
            // writes, and SCTP's own window holds the sender back.
            Ok(Control::Offer {
                device,
                files,
                text,
                paced: _,
            }) => vet(files, text.as_deref())
                .map(|(files, safe)| (device, files, safe, text.map(|t| clean_text(&t)))),
            Ok(Control::Cancel) => Err(Error::Cancelled(Side::Peer)),
            Ok(Control::Error { message }) => Err(Error::PeerFailed(display(&message))),
            Ok(_) => Err(Error::Protocol("the first message was not an offer".into())),
            Err(e) => Err(Error::Protocol(e.to_string())),
        },
    };
    match vetted {
        Ok((device, files, safe_paths, text)) => {
            let device: String = display(&device).chars().take(MAX_DEVICE_CHARS).collect();
            Ok(IncomingOffer {
                link,
                inbox,
                device: if device.trim().is_empty() {
                    "Unnamed device".into()
                } else {
                    device
                },
                files,
                safe_paths,
                text,
            })
        }
        Err(e) => {
            if let Error::Protocol(_) = &e {
                tell(
                    &link,
                    &mut inbox,
                    Control::Error {
                        message: e.to_string(),
                    },
                )
                .await;
            }
            link.close().await;
            Err(e)
        }
    }
}

type Vetted = (Vec<FileEntry>, Vec<Vec<String>>);

/// A peer's text made safe to show, by the one cleaner for text from strangers (line
/// breaks and tabs stay).
fn clean_text(text: &str) -> String {
    toss_wire::text::clean_lines_for_display(text, MAX_TEXT_BYTES)
}

fn vet(files: Vec<FileEntry>, text: Option<&str>) -> Result<Vetted> {
    if let Some(text) = text {
        if text.len() > MAX_TEXT_BYTES {
            return Err(Error::Protocol(
                "the offered text is longer than 64 KiB".into(),
            ));
        }
    }
    if files.is_empty() && text.is_none() {
        return Err(Error::Protocol("the offer lists no files".into()));
    }
    if files.len() > MAX_FILES {
        return Err(Error::Protocol(format!(
            "the offer lists {} files; Toss accepts at most {MAX_FILES} at once",
            files.len()
        )));
    }
    let mut total: u64 = 0;
    let mut seen = HashSet::new();
    let mut safe = Vec::with_capacity(files.len());
    for f in &files {
        total = total
            .checked_add(f.size)
            .filter(|&t| t <= MAX_TOTAL_BYTES)
            .ok_or_else(|| {
                Error::Protocol("the offer is larger than Toss accepts (16 TiB)".into())
            })?;
        let parts = sanitize_path(&f.path).map_err(|e| Error::Protocol(e.to_string()))?;
        if !seen.insert(parts.join("/")) {
            return Err(Error::Protocol(format!(
                "the offer lists \"{}\" twice",
                display(&f.path)
            )));
        }
        safe.push(parts);
    }
    Ok((files, safe))
}

impl IncomingOffer {
    /// The sender's device name, safe to display.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The offered files with safe display paths.
    pub fn files(&self) -> Vec<OfferedFile> {
        self.files
            .iter()
            .zip(&self.safe_paths)
            .map(|(f, p)| OfferedFile {
                path: p.join("/"),
                size: f.size,
            })
            .collect()
    }

    /// The text or link sent along, made safe to show.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// A text alone, with no files: it is already here, so nobody is asked to accept it.
    pub fn is_text_only(&self) -> bool {
        self.files.is_empty()
    }

    /// Sum of the offered sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Tells the sender that the user cancelled before deciding.
    pub async fn accept_cancelled(mut self) {
        tell(&self.link, &mut self.inbox, Control::Cancel).await;
        self.link.close().await;
    }

    /// Stops with `err`, telling the sender why.
    pub(crate) async fn refuse(mut self, err: &Error) {
        let msg = Control::Error {
            message: err.to_string(),
        };
        tell(&self.link, &mut self.inbox, msg).await;
        self.link.close().await;
    }

    /// Says no to the sender.
    pub async fn decline(mut self) {
        tell(&self.link, &mut self.inbox, Control::Decline).await;
        self.link.close().await;
    }

    /// Says yes and receives every file into `out_dir`.
    ///
    /// # Errors
    /// [`Error::NoSpace`] before anything is written when the disk is too full; afterwards
    /// [`Error::Corrupt`], [`Error::Protocol`] (the sender broke its own offer),
    /// [`Error::Cancelled`], [`Error::PeerGone`], [`Error::Io`]. No unverified file gets a
    /// final name; a transfer that was cut off ([`Error::is_interruption`]) keeps its `.part`
    /// and journal so that the same files offered again resume, any other end removes them.
    pub async fn accept(
        mut self,
        out_dir: PathBuf,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Summary> {
        let result = self.receive(out_dir, events, cancel).await;
        if let Err(e) = &result {
            let msg = match e {
                Error::Cancelled(Side::Local) => Some(Control::Cancel),
                Error::Cancelled(Side::Peer) | Error::PeerGone | Error::PeerFailed(_) => None,
                other => Some(Control::Error {
                    message: other.for_peer(),
                }),
            };
            if let Some(msg) = msg {
                tell(&self.link, &mut self.inbox, msg).await;
            }
        }
        self.link.close().await;
        result
    }

    async fn receive(
        &mut self,
        out_dir: PathBuf,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Summary> {
        std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
        // What an earlier attempt at these same files left in this folder.
        let entries: Vec<FileEntry> = self
            .files
            .iter()
            .zip(&self.safe_paths)
            .map(|(f, p)| FileEntry {
                path: p.join("/"),
                size: f.size,
            })
            .collect();
        // Held until the writer has finished with the folder (it returns before this does).
        let root = journal::default_root();
        let _claim = Claim::take(root.as_deref(), &out_dir, &entries)?;
        // Opening reads back the prefix of a `.part` it takes up: off this thread, which
        // carries the connection.
        let journal = {
            let (out_dir, entries) = (out_dir.clone(), entries.clone());
            tokio::task::spawn_blocking(move || Journal::open(root.as_deref(), &out_dir, &entries))
                .await
                .map_err(|_| Error::Internal("the receiver's journal could not be read".into()))?
        };
        let held: Vec<Held> = (0..entries.len()).map(|i| journal.held(i)).collect();
        let (offsets, prefixes): (Vec<u64>, Vec<String>) = held
            .iter()
            .zip(&entries)
            .map(|(h, e)| h.proposal(e.size))
            .unzip();
        let have: u64 = offsets.iter().sum();
        // New room: what no earlier attempt's file already takes on this disk.
        let needed = entries
            .iter()
            .zip(&offsets)
            .enumerate()
            .map(|(i, (e, &offset))| e.size - e.size.min(offset.max(journal.part_bytes(i))))
            .sum::<u64>()
            .saturating_add(DISK_MARGIN);
        let available = fs4::available_space(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
        if available < needed {
            return Err(Error::NoSpace {
                needed: self.total_bytes() - have,
                available,
            });
        }
        let resuming = have > 0;
        let accept = Control::Accept {
            offsets: offsets.clone(),
            prefixes: if resuming { prefixes } else { Vec::new() },
            window: None,
        };
        self.link.send_text(&protocol::encode(&accept)).await?;

        let (cmd_tx, cmd_rx) = mpsc::channel(WRITE_QUEUE);
        let (res_tx, mut results) = mpsc::unbounded_channel();
        let sink = Sink::new(out_dir.clone(), journal);
        let writer = tokio::task::spawn_blocking(move || sink.run(cmd_rx, res_tx));
        let saved = held.iter().map(|h| matches!(h, Held::Saved(_))).collect();
        let outcome = self
            .pump(&cmd_tx, &mut results, offsets, saved, events, cancel)
            .await;
        // Closing the command channel stops the writer, which hands the folder's state back.
        drop(cmd_tx);
        if let Ok(sink) = writer.await {
            match &outcome {
                Ok(_) => sink.complete(),
                // Cut off: what arrived is kept for the next attempt at the same files.
                Err(e) if e.is_interruption() => sink.keep(),
                Err(_) => sink.discard(),
            }
        }
        let (bytes, skipped, seconds) = outcome?;
        let summary = Summary {
            files: self.files.len(),
            bytes,
            skipped,
            seconds,
            saved_to: Some(out_dir.clone()),
        };
        events.emit(summary.done_event());
        Ok(summary)
    }

    /// Moves messages from the channel to the writer until every file is saved.
    async fn pump(
        &mut self,
        writer: &mpsc::Sender<WriteCmd>,
        results: &mut mpsc::UnboundedReceiver<WriteResult>,
        offsets: Vec<u64>,
        saved: Vec<bool>,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<(u64, u64, f64)> {
        let n = self.files.len();
        if n == 0 {
            // A text alone: it is already here, in the offer.
            self.link
                .send_text(&protocol::encode(&Control::Done))
                .await?;
            await_peer_close(&mut self.inbox).await;
            return Ok((0, 0, 0.0));
        }
        let mut meter = Meter::new(Direction::Receive, self.files.clone());
        let mut state = Pump {
            next: 0,
            offsets,
            saved,
            current: None,
            batch: Vec::with_capacity(READ_BATCH),
            room: Arc::new(Semaphore::new(WRITE_AHEAD)),
        };
        let mut saved = 0usize;
        let mut items = Vec::with_capacity(READ_BATCH);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                result = results.recv() => match result {
                    Some(WriteResult::Saved { index, path }) => {
                        self.link.send_text(&protocol::encode(&Control::FileOk { index })).await?;
                        events.emit(Event::FileDone { index, path, bytes: self.files[index].size });
                        saved += 1;
                        if saved == n {
                            let elapsed = meter.elapsed();
                            self.link.send_text(&protocol::encode(&Control::Done)).await?;
                            await_peer_close(&mut self.inbox).await;
                            return Ok((meter.total(), meter.skipped(), elapsed));
                        }
                    }
                    Some(WriteResult::Failed(e)) => return Err(e),
                    None => return Err(Error::WriterStopped),
                },
                got = self.inbox.recv_many(&mut items, READ_BATCH) => {
                    if got == 0 {
                        return Err(Error::PeerGone);
                    }
                    for item in items.drain(..) {
                        self.take(item, &mut state, &mut meter, writer, events)
                            .await
                            .map_err(|e| writer_failure(results, e))?;
                    }
                    state.flush(writer).await.map_err(|e| writer_failure(results, e))?;
                }
            }
        }
    }

    /// Checks one message from the sender against the offer and queues what it means for
    /// the disk writer.
    async fn take(
        &self,
        item: Result<Incoming>,
        state: &mut Pump,
        meter: &mut Meter,
        writer: &mpsc::Sender<WriteCmd>,
        events: &Events,
    ) -> Result<()> {
        let n = self.files.len();
        match item? {
            Incoming::Binary(data) => {
                let Some((index, got)) = state.current.as_mut() else {
                    return Err(Error::Protocol("file data arrived outside a file".into()));
                };
                let size = self.files[*index].size;
                *got += data.len() as u64;
                if *got > size {
                    return Err(Error::Protocol(format!(
                        "more bytes arrived for {} than the {size} offered",
                        self.safe_paths[*index].join("/")
                    )));
                }
                meter.add(data.len() as u64, events);
                state.batch.push(data);
            }
            Incoming::Text(text) => {
                // Control messages are ordered with the data around them.
                state.flush(writer).await?;
                match protocol::decode(&text).map_err(|e| Error::Protocol(e.to_string()))? {
                    Control::FileStart { index, offset } => {
                        if state.current.is_some() || index != state.next || index >= n {
                            return Err(Error::Protocol("a file started out of order".into()));
                        }
                        // The sender starts from 0 or from where this side said it stands.
                        let from = match offset {
                            // Held whole (an empty file is held at offset 0 too).
                            o if o == state.offsets[index] && state.saved[index] => From::Saved,
                            0 => From::Fresh,
                            o if o == state.offsets[index] => From::Part,
                            _ => {
                                return Err(Error::Protocol(
                                    "a file started at an offset this side never offered".into(),
                                ))
                            }
                        };
                        state.next += 1;
                        state.current = Some((index, offset));
                        meter.start_file(index);
                        if offset > 0 {
                            meter.skip(offset);
                            events.emit(Event::Resumed {
                                index,
                                path: self.safe_paths[index].join("/"),
                                offset,
                            });
                        }
                        let components = self.safe_paths[index].clone();
                        send_cmd(
                            writer,
                            WriteCmd::Start {
                                index,
                                components,
                                from,
                            },
                        )
                        .await?;
                    }
                    Control::FileEnd { index, blake3 } => {
                        match state.current.take() {
                            Some((i, got)) if i == index && got == self.files[i].size => {}
                            Some((i, got)) if i == index => {
                                return Err(Error::Protocol(format!(
                                    "{} ended after {got} of its {} bytes",
                                    self.safe_paths[i].join("/"),
                                    self.files[i].size
                                )));
                            }
                            _ => {
                                return Err(Error::Protocol(
                                    "a file ended that never started".into(),
                                ))
                            }
                        }
                        meter.emit(events);
                        send_cmd(writer, WriteCmd::Finish { blake3 }).await?;
                    }
                    Control::Cancel => return Err(Error::Cancelled(Side::Peer)),
                    Control::Error { message } => return Err(Error::PeerFailed(display(&message))),
                    other => {
                        return Err(Error::Protocol(format!(
                            "unexpected {other:?} during the transfer"
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where the receiving loop is in the sender's stream of files.
struct Pump {
    /// The index the next `file_start` must carry.
    next: usize,
    /// Where this side offered to start each file.
    offsets: Vec<u64>,
    /// Which files this side holds whole already.
    saved: Vec<bool>,
    /// The file being received and its bytes so far.
    current: Option<(usize, u64)>,
    /// File bytes checked but not yet handed to the writer.
    batch: Vec<bytes::Bytes>,
    /// Room ahead of the disk, one permit per byte ([`WRITE_AHEAD`]).
    room: Arc<Semaphore>,
}

impl Pump {
    /// Hands the checked bytes to the disk writer.
    async fn flush(&mut self, writer: &mpsc::Sender<WriteCmd>) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let chunks = std::mem::replace(&mut self.batch, Vec::with_capacity(READ_BATCH));
        let bytes = chunks.iter().map(bytes::Bytes::len).sum::<usize>();
        // A batch is at most READ_BATCH chunks, far below WRITE_AHEAD; the bound only
        // guards against waiting for more room than there is.
        let permits = u32::try_from(bytes.min(WRITE_AHEAD)).unwrap_or(u32::MAX);
        let room = Arc::clone(&self.room)
            .acquire_many_owned(permits)
            .await
            .map_err(|_| Error::WriterStopped)?;
        send_cmd(
            writer,
            WriteCmd::Data {
                chunks,
                room: Some(room),
            },
        )
        .await
    }
}

async fn send_cmd(writer: &mpsc::Sender<WriteCmd>, cmd: WriteCmd) -> Result<()> {
    writer.send(cmd).await.map_err(|_| Error::WriterStopped)
}

/// The disk writer's own failure when `err` only says that the writer stopped: it reports
/// why (a full disk, say) just before it stops, and that is what the user must be told.
fn writer_failure(results: &mut mpsc::UnboundedReceiver<WriteResult>, err: Error) -> Error {
    if !matches!(err, Error::WriterStopped) {
        return err;
    }
    while let Ok(result) = results.try_recv() {
        if let WriteResult::Failed(e) = result {
            return e;
        }
    }
    err
}
