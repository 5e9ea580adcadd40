//! The sending side of a transfer: offer, wait for the answer, stream every file, wait for
//! the receiver's verification of each.
//!
//! Files are read and hashed on a blocking thread a few MiB ahead of the network, so the
//! data path only slices ready buffers into 16 KiB messages (no copy) and waits on
//! backpressure.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::defaults::{CHUNK_SIZE, MAX_WINDOW, MIN_WINDOW, SEND_STALL_TIMEOUT};
use crate::error::{ConnectFailure, Error, Result, Side};
use crate::events::{Direction, Event, Events};
use crate::peer::{await_peer_close, Incoming, Link};
use crate::transfer::names::display;
use crate::transfer::progress::Meter;
use crate::transfer::protocol::{self, Control};
use crate::transfer::ranges::{hash_range, prefix_digest, RangeHasher, RANGE};
use crate::transfer::shared::{Range, SharedReads};
use crate::transfer::{Manifest, Summary};

/// Bytes read from disk at a time; sliced into [`CHUNK_SIZE`] messages.
const READ_BLOCK: usize = 64 * CHUNK_SIZE;

/// Blocks read ahead of the network.
const READ_AHEAD: usize = 4;

enum ReadItem {
    /// The next file starts at this offset (what the receiver holds, or 0).
    Start {
        offset: u64,
    },
    Block(Bytes),
    End {
        blake3: String,
    },
    Failed(Error),
}

/// Where the receiver offered to start one file: an offset and what it holds before it.
#[derive(Debug, Clone, Default)]
struct Proposal {
    offset: u64,
    prefix: String,
}

/// Reads the next `want` bytes of `file`.
fn read_block(file: &mut File, source: &std::path::Path, want: usize) -> Result<Bytes> {
    // Read into spare capacity: zeroing a block first cost as much as copying it.
    let mut buf = Vec::with_capacity(want);
    let got = (&mut *file)
        .take(want as u64)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(source, e))?;
    if got < want {
        return Err(Error::Input(format!(
            "{} got shorter while it was being sent",
            source.display()
        )));
    }
    Ok(Bytes::from(buf))
}

/// Reads `left` bytes of `file` in blocks, hashing them, and hands each block to `block`.
fn read_blocks(
    file: &mut File,
    source: &std::path::Path,
    mut left: u64,
    hasher: &mut RangeHasher,
    mut block: impl FnMut(Bytes) -> Result<()>,
) -> Result<()> {
    while left > 0 {
        let want = usize::try_from(left.min(READ_BLOCK as u64)).unwrap_or(READ_BLOCK);
        let buf = read_block(file, source, want)?;
        hasher.update(&buf);
        left -= want as u64;
        block(buf)?;
    }
    Ok(())
}

/// The bytes of file `index` from `from` (0 or a range boundary) to `to`, hashed and handed
/// to `block` in order. With `shared` (several receivers), whole ranges come from the
/// other receivers' readers when one has just read them, and are kept for the others when
/// this one reads them; the tail after the last whole range is read here alone.
#[allow(clippy::too_many_arguments)]
fn read_span(
    shared: Option<&SharedReads>,
    index: usize,
    file: &mut File,
    source: &std::path::Path,
    from: u64,
    to: u64,
    hasher: &mut RangeHasher,
    mut block: impl FnMut(Bytes) -> Result<()>,
) -> Result<()> {
    let mut at = from;
    if let Some(shared) = shared.filter(|_| from % RANGE == 0) {
        while at + RANGE <= to {
            let number = at / RANGE;
            let range = shared.range(index, number, || {
                file.seek(SeekFrom::Start(at))
                    .map_err(|e| Error::io(source, e))?;
                let blocks = (0..RANGE / READ_BLOCK as u64)
                    .map(|_| read_block(file, source, READ_BLOCK))
                    .collect::<Result<Vec<_>>>()?;
                let (cv, root) = hash_range(&blocks, number);
                Ok(Range { blocks, cv, root })
            })?;
            hasher.push_range(range.cv, range.root);
            for b in &range.blocks {
                block(b.clone())?;
            }
            at += RANGE;
        }
        file.seek(SeekFrom::Start(at))
            .map_err(|e| Error::io(source, e))?;
    }
    read_blocks(file, source, to - at, hasher, block)
}

/// Sends one file from `proposal.offset` if the file still starts with what the receiver
/// holds, else from 0; the hash always covers the whole file.
fn read_file(
    shared: Option<&SharedReads>,
    index: usize,
    source: &std::path::Path,
    size: u64,
    proposal: &Proposal,
    tx: &mpsc::Sender<ReadItem>,
) -> Result<String> {
    let send = |item: ReadItem| {
        tx.blocking_send(item)
            .map_err(|_| Error::Cancelled(Side::Local))
    };
    let mut file = File::open(source).map_err(|e| Error::io(source, e))?;
    let mut hasher = RangeHasher::default();
    let mut offset = 0;
    if proposal.offset > 0 && proposal.offset <= size {
        // Read (not send) what the receiver says it has, and compare.
        read_span(
            shared,
            index,
            &mut file,
            source,
            0,
            proposal.offset,
            &mut hasher,
            |_| Ok(()),
        )?;
        let same = if proposal.offset == size {
            hasher.finalize().to_hex().as_str() == proposal.prefix
        } else {
            prefix_digest(hasher.cvs()) == proposal.prefix
        };
        if same {
            offset = proposal.offset;
        } else {
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io(source, e))?;
            hasher = RangeHasher::default();
        }
    }
    send(ReadItem::Start { offset })?;
    read_span(
        shared,
        index,
        &mut file,
        source,
        offset,
        size,
        &mut hasher,
        |block| send(ReadItem::Block(block)),
    )?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Reads every file of the manifest in order on the calling (blocking) thread.
fn read_files(manifest: &Manifest, proposals: &[Proposal], tx: &mpsc::Sender<ReadItem>) {
    for (i, (entry, source)) in manifest.entries.iter().zip(&manifest.sources).enumerate() {
        let proposal = proposals.get(i).cloned().unwrap_or_default();
        let shared = manifest.shared.as_deref();
        let item = match read_file(shared, i, source, entry.size, &proposal, tx) {
            Ok(blake3) => ReadItem::End { blake3 },
            Err(e) => ReadItem::Failed(e),
        };
        let failed = matches!(item, ReadItem::Failed(_));
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// The receiver's offsets, checked: each one 0, the whole file, or a whole number of ranges
/// inside it, with a digest for each non-zero one.
fn proposals(
    manifest: &Manifest,
    offsets: Vec<u64>,
    prefixes: Vec<String>,
) -> Option<Vec<Proposal>> {
    if offsets.len() != manifest.entries.len() {
        return None;
    }
    let resuming = offsets.iter().any(|&o| o > 0);
    if resuming && prefixes.len() != offsets.len() {
        return None;
    }
    let mut prefixes = prefixes.into_iter();
    offsets
        .into_iter()
        .zip(&manifest.entries)
        .map(|(offset, entry)| {
            let prefix = prefixes.next().unwrap_or_default();
            let fits =
                offset == 0 || offset == entry.size || (offset % RANGE == 0 && offset < entry.size);
            fits.then_some(Proposal { offset, prefix })
        })
        .collect()
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

/// The receiver's window (its accept's `window`): how many file bytes may be on their way
/// beyond the running total it said it took.
#[derive(Debug, Clone, Copy)]
struct Window {
    size: u64,
    /// File bytes sent in this transfer.
    sent: u64,
    /// What the receiver said it took (`consumed`).
    consumed: u64,
}

impl Window {
    /// Whether `len` more bytes would overfill it.
    fn full(&self, len: u64) -> bool {
        self.sent + len - self.consumed > self.size
    }
}

/// What the sender knows of the receiver while streaming.
struct Heard<'a> {
    confirmed: usize,
    window: Option<Window>,
    manifest: &'a Manifest,
    events: &'a Events,
}

/// What an inbound message means to the sender.
fn on_control(item: Option<Result<Incoming>>, heard: &mut Heard<'_>) -> Result<bool> {
    let Heard {
        confirmed,
        window,
        manifest,
        events,
    } = heard;
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
        Control::Consumed { bytes } => match window {
            Some(w) if bytes >= w.consumed && bytes <= w.sent => {
                w.consumed = bytes;
                Ok(false)
            }
            _ => Err(Error::Protocol(
                "the receiver said it took bytes that were never sent".into(),
            )),
        },
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
        paced: true,
    };
    link.send_text(&protocol::encode(&offer)).await?;
    events.emit(Event::WaitingForAccept);
    let answer = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(stop(link, &mut inbox, Error::Cancelled(Side::Local)).await),
        item = inbox.recv() => item,
    };
    let accepted = match answer {
        Some(Ok(Incoming::Text(t))) => match protocol::decode(&t) {
            Ok(Control::Accept {
                offsets,
                prefixes,
                window,
            }) => match (proposals(&manifest, offsets, prefixes), window) {
                (Some(p), None) => (p, None),
                (Some(p), Some(size)) if (MIN_WINDOW..=MAX_WINDOW).contains(&size) => (
                    p,
                    Some(Window {
                        size,
                        sent: 0,
                        consumed: 0,
                    }),
                ),
                _ => {
                    let err = Error::Protocol("the receiver's answer makes no sense".into());
                    return Err(stop(link, &mut inbox, err).await);
                }
            },
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
    };
    events.emit(Event::Accepted);
    let (accepted, window) = accepted;
    match stream(
        link, &manifest, accepted, window, &mut inbox, events, cancel,
    )
    .await
    {
        Ok(summary) => Ok(summary),
        Err(e) => Err(stop(link, &mut inbox, e).await),
    }
}

async fn stream(
    link: &Link,
    manifest: &Manifest,
    proposals: Vec<Proposal>,
    window: Option<Window>,
    inbox: &mut mpsc::Receiver<Result<Incoming>>,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary> {
    let (tx, mut blocks) = mpsc::channel(READ_AHEAD);
    let reader_manifest = manifest.clone();
    let reader = tokio::task::spawn_blocking(move || read_files(&reader_manifest, &proposals, &tx));
    let mut meter = Meter::new(Direction::Send, manifest.entries.clone());
    let mut heard = Heard {
        confirmed: 0,
        window,
        manifest,
        events,
    };
    for (index, entry) in manifest.entries.iter().enumerate() {
        meter.start_file(index);
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                item = inbox.recv() => {
                    on_control(item, &mut heard)?;
                    continue;
                }
                item = blocks.recv() => item,
            };
            match item {
                Some(ReadItem::Start { offset }) => {
                    link.send_text(&protocol::encode(&Control::FileStart { index, offset }))
                        .await?;
                    if offset > 0 {
                        meter.skip(offset);
                        events.emit(Event::Resumed {
                            index,
                            path: entry.path.clone(),
                            offset,
                        });
                    }
                }
                Some(ReadItem::Block(block)) => {
                    let mut at = 0;
                    while at < block.len() {
                        let end = (at + CHUNK_SIZE).min(block.len());
                        let len = (end - at) as u64;
                        // The receiver's window: what it has not yet said it took stays
                        // under its size. Nothing taken for as long as a stalled write may
                        // take ends the transfer as a stalled write does.
                        let mut waited = None;
                        while heard.window.is_some_and(|w| w.full(len)) {
                            let since = *waited.get_or_insert_with(tokio::time::Instant::now);
                            tokio::select! {
                                biased;
                                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                                item = inbox.recv() => {
                                    on_control(item, &mut heard)?;
                                }
                                _ = tokio::time::sleep_until(since + SEND_STALL_TIMEOUT) => {
                                    return Err(Error::Connect(ConnectFailure::SendStalled));
                                }
                            }
                        }
                        while link.congested() {
                            tokio::select! {
                                biased;
                                _ = cancel.cancelled() => return Err(Error::Cancelled(Side::Local)),
                                item = inbox.recv() => {
                                    on_control(item, &mut heard)?;
                                }
                                _ = link.drained() => {}
                            }
                        }
                        link.send_binary(block.slice(at..end)).await?;
                        if let Some(w) = heard.window.as_mut() {
                            w.sent += len;
                        }
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
                None => {
                    return Err(Error::Internal(format!(
                        "the reader of {} stopped",
                        entry.path
                    )))
                }
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
        match on_control(item, &mut heard) {
            Ok(true) => break,
            Ok(false) => {}
            // Every file was confirmed saved: a `done` lost with the connection changes
            // nothing (and sending again would only make copies).
            Err(e) if e.is_connection_loss() && heard.confirmed == manifest.entries.len() => break,
            Err(e) => return Err(e),
        }
    }
    let summary = Summary {
        files: manifest.entries.len(),
        bytes: meter.total(),
        skipped: meter.skipped(),
        seconds: meter.elapsed(),
        saved_to: None,
    };
    events.emit(summary.done_event());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the reader on one file: the offset it starts at, the bytes it sends, the hash.
    fn read(path: &std::path::Path, size: u64, proposal: Proposal) -> (u64, u64, String) {
        let plain = read_through(None, path, size, proposal.clone());
        // Through shared reads (a group send) the same comes out.
        let shared = SharedReads::default();
        assert_eq!(read_through(Some(&shared), path, size, proposal), plain);
        plain
    }

    /// [`read`] through `shared`.
    fn read_through(
        shared: Option<&SharedReads>,
        path: &std::path::Path,
        size: u64,
        proposal: Proposal,
    ) -> (u64, u64, String) {
        let (tx, mut rx) = mpsc::channel(1024);
        let hash = read_file(shared, 0, path, size, &proposal, &tx).expect("read");
        drop(tx);
        let (mut offset, mut sent) = (None, 0);
        while let Ok(item) = rx.try_recv() {
            match item {
                ReadItem::Start { offset: o } => offset = Some(o),
                ReadItem::Block(b) => sent += b.len() as u64,
                _ => {}
            }
        }
        (offset.expect("a start"), sent, hash)
    }

    #[test]
    fn a_file_that_shrinks_while_being_sent_says_so() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let path = tmp.path().join("f.bin");
        // One whole block and a part: the second read comes up short.
        std::fs::write(&path, vec![7u8; READ_BLOCK + 100]).map_err(|e| Error::io(&path, e))?;
        let (tx, mut rx) = mpsc::channel(1024);
        let err = read_file(
            None,
            0,
            &path,
            (2 * READ_BLOCK) as u64,
            &Proposal::default(),
            &tx,
        )
        .expect_err("the file is shorter than offered");
        assert_eq!(
            err.to_string(),
            format!("{} got shorter while it was being sent", path.display())
        );
        drop(tx);
        let mut sent = 0;
        while let Ok(item) = rx.try_recv() {
            if let ReadItem::Block(b) = item {
                sent += b.len();
            }
        }
        assert_eq!(sent, READ_BLOCK, "only the whole block went out");
        Ok(())
    }

    #[test]
    fn a_file_resumes_only_if_it_still_starts_as_the_receiver_holds() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let path = tmp.path().join("f.bin");
        let size = 3 * RANGE + 100;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).map_err(|e| Error::io(&path, e))?;
        let whole = blake3::hash(&data).to_hex().to_string();
        let mut held = RangeHasher::default();
        held.update(&data[..(2 * RANGE) as usize]);
        let prefix = prefix_digest(held.cvs());

        let same = Proposal {
            offset: 2 * RANGE,
            prefix: prefix.clone(),
        };
        assert_eq!(
            read(&path, size, same),
            (2 * RANGE, RANGE + 100, whole.clone())
        );
        // The whole file, held already: nothing is sent, the hash still is.
        let all = Proposal {
            offset: size,
            prefix: whole.clone(),
        };
        assert_eq!(read(&path, size, all), (size, 0, whole.clone()));

        // The file changed in its first range since: everything goes again.
        let mut changed = data.clone();
        changed[10] ^= 1;
        std::fs::write(&path, &changed).map_err(|e| Error::io(&path, e))?;
        let again = Proposal {
            offset: 2 * RANGE,
            prefix,
        };
        let new_hash = blake3::hash(&changed).to_hex().to_string();
        assert_eq!(read(&path, size, again), (0, size, new_hash));
        Ok(())
    }

    #[test]
    fn receivers_moving_together_read_and_hash_each_range_once() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let path = tmp.path().join("f.bin");
        let size = 3 * RANGE + 100;
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).map_err(|e| Error::io(&path, e))?;
        let whole = blake3::hash(&data).to_hex().to_string();
        let shared = SharedReads::default();
        let first = read_through(Some(&shared), &path, size, Proposal::default());
        assert_eq!(first, (0, size, whole.clone()));
        // The ranges change on disk (the tail does not): the next receiver still gets what
        // the first read, its blocks and its hash, so the disk was not read again.
        let mut changed = data.clone();
        changed[..(3 * RANGE) as usize].fill(0);
        std::fs::write(&path, &changed).map_err(|e| Error::io(&path, e))?;
        let second = read_through(Some(&shared), &path, size, Proposal::default());
        assert_eq!(second, (0, size, whole));
        Ok(())
    }
}
