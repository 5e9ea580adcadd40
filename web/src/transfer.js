// web/src/transfer.js: the two ends of a transfer on a bound data channel (docs/protocol.md
// section 3): the sender's offer, files in 16 KiB chunks in offer order with a BLAKE3 each,
// and the receiver's checks: what it refuses in an offer, bytes outside a file or past its
// size, a short file, a wrong hash.
//
// Place: over link.js; the page drives it and draws what it reports (`report`), and a saver
// (save.js) puts received bytes on disk. A browser that sends always starts each file at 0:
// it keeps no journal, so it never proposes or honours a resume offset (both are the
// protocol's "otherwise at 0").
// What it must never do: keep a file whose hash failed (its saver is aborted, which
// discards it), or hold a whole file in memory (that is the memory saver's choice alone).

import { createBlake3 } from "./crypto.js";
import { TossError } from "./signal.js";

/** File bytes per binary message. */
export const CHUNK = 16 * 1024;
/** Bytes read from a File at a time, then sent as CHUNK-sized messages. */
const READ_BLOCK = 1024 * 1024;
/**
 * The window this page sets as a receiver (docs/protocol.md section 3): a browser cannot make
 * the network wait while it saves, so the sender keeps at most this much on its way beyond
 * what the page has said it took, and the page says so every eighth of it.
 */
export const RECEIVE_WINDOW = 16 * 1024 * 1024;
const CONSUMED_EVERY = RECEIVE_WINDOW / 8;
/** The windows a sender takes (the core's MIN_WINDOW and MAX_WINDOW). */
const MIN_WINDOW = 256 * 1024;
const MAX_WINDOW = 1024 ** 3;
/** A window that stays full this long ends the transfer, as a write that never completes. */
const WINDOW_STALL_MS = 30_000;
/** What a receiver refuses (the core's limits). */
const MAX_FILES = 20_000;
const MAX_TOTAL = 16 * 1024 ** 4;
const MAX_TEXT = 64 * 1024;

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function invalid(what) {
  return new TossError("protocol", `the other side sent something invalid: ${what}`);
}

/**
 * Checks an offer as the core's receiver does.
 * @param {object} offer the `offer` control message.
 * @returns {{device: string, files: {path: string, size: number}[], text: string|null, total: number}}
 * @throws {TossError}
 */
export function checkOffer(offer) {
  const files = offer.files;
  if (!Array.isArray(files)) throw invalid("an offer without a list of files");
  const text = offer.text == null ? null : String(offer.text);
  if (files.length === 0 && text === null) throw invalid("an offer of nothing");
  if (text !== null && new TextEncoder().encode(text).length > MAX_TEXT) throw invalid("a text over 64 KiB");
  if (files.length > MAX_FILES) throw invalid(`more than ${MAX_FILES} files`);
  const seen = new Set();
  let total = 0;
  const out = files.map((f) => {
    const path = f?.path;
    const size = f?.size;
    if (typeof path !== "string" || !Number.isSafeInteger(size) || size < 0) throw invalid("a file entry that is not a path and a size");
    const parts = path.split("/");
    if (
      path.length === 0 ||
      path.startsWith("/") ||
      /^[A-Za-z]:/u.test(path) ||
      path.includes("\\") ||
      path.includes("\0") ||
      parts.some((p) => p === "" || p === "." || p === "..")
    ) {
      throw invalid(`the path "${path.slice(0, 80)}" leaves the folder it is sent to`);
    }
    if (seen.has(path)) throw invalid(`the same path twice (${path.slice(0, 80)})`);
    seen.add(path);
    total += size;
    return { path, size };
  });
  if (total > MAX_TOTAL) throw invalid("more than 16 TiB");
  return { device: String(offer.device ?? "").slice(0, 63), files: out, text, total };
}

function peerWord(control) {
  switch (control.type) {
    case "cancel":
      return new TossError("cancelled", "the other side cancelled the transfer");
    case "error":
      return new TossError("peer_failed", `the other side stopped the transfer: ${String(control.message ?? "").slice(0, 300)}`);
    default:
      return null;
  }
}

/** A running speed over the last few seconds, for progress. */
class Meter {
  #samples = [];
  rate(done) {
    const now = performance.now();
    this.#samples.push([now, done]);
    while (this.#samples.length > 2 && now - this.#samples[0][0] > 3000) this.#samples.shift();
    const [t0, d0] = this.#samples[0];
    return now > t0 ? ((done - d0) * 1000) / (now - t0) : 0;
  }
}

/**
 * Sends files (and an optional text) over `link`.
 * @param {import("./link.js").Link} link
 * @param {{file: File, path: string}[]} items what to send, paths `/`-separated and relative.
 * @param {{device: string, text?: string, report: (e: object) => void, cancel: AbortSignal}} opts
 * @returns {Promise<void>} when the receiver said `done`.
 * @throws {TossError} `declined`, `cancelled`, `peer_gone`, ….
 */
export async function sendFiles(link, items, { device, text, report, cancel }) {
  const offer = { type: "offer", device, files: items.map((i) => ({ path: i.path, size: i.file.size })), paced: true };
  if (text) offer.text = text;
  await link.control(offer);
  report({ event: "offered" });
  const answer = await nextControl(link, cancel);
  if (answer.type === "decline") throw new TossError("declined", "the receiver declined the transfer");
  if (answer.type !== "accept") throw peerWord(answer) ?? invalid("expected accept or decline");
  if (!Array.isArray(answer.offsets) || answer.offsets.length !== items.length) throw invalid("an accept for other files");
  const recvWindow = answer.window ?? null;
  if (recvWindow !== null && !(Number.isSafeInteger(recvWindow) && recvWindow >= MIN_WINDOW && recvWindow <= MAX_WINDOW)) {
    throw invalid("an accept with a window out of bounds");
  }
  // File bytes sent, and what the receiver said it took (only with a window).
  let sent = 0;
  let consumed = 0;
  let wakeWindow = null;
  const total = items.reduce((n, i) => n + i.file.size, 0);
  let done = 0;
  let confirmed = 0;
  const meter = new Meter();
  let lastReport = 0;
  // The receiver's file_ok and done, read while sending; a cancel or error ends the send.
  let finished = false;
  let failure = null;
  const listening = (async () => {
    for (;;) {
      const { control } = await link.recv();
      if (!control) throw invalid("bytes from the receiver");
      const word = peerWord(control);
      if (word) throw word;
      if (control.type === "consumed" && recvWindow !== null) {
        const bytes = control.bytes;
        if (!Number.isSafeInteger(bytes) || bytes < consumed || bytes > sent) {
          throw invalid("the receiver said it took bytes that were never sent");
        }
        consumed = bytes;
        wakeWindow?.();
      } else if (control.type === "file_ok" && control.index === confirmed && confirmed < items.length) {
        confirmed += 1;
        report({ event: "file_done", index: control.index });
      } else if (control.type === "done" && confirmed === items.length) {
        finished = true;
        return;
      } else {
        throw invalid(`an out-of-turn ${String(control.type).slice(0, 20)}`);
      }
    }
  })();
  listening.catch((e) => {
    failure = e;
    wakeWindow?.();
  });
  const check = () => {
    if (cancel.aborted) throw cancel.reason;
    if (failure) throw failure;
  };
  for (const [index, { file }] of items.entries()) {
    await link.control({ type: "file_start", index, offset: 0 });
    const hash = createBlake3();
    for (let at = 0; at < file.size; at += READ_BLOCK) {
      check();
      const block = new Uint8Array(await file.slice(at, Math.min(file.size, at + READ_BLOCK)).arrayBuffer());
      if (block.length === 0) throw new TossError("read", `${file.name} could not be read; choose it again`);
      hash.update(block);
      for (let i = 0; i < block.length; i += CHUNK) {
        const chunk = block.subarray(i, Math.min(block.length, i + CHUNK));
        const since = performance.now();
        while (recvWindow !== null && sent + chunk.length - consumed > recvWindow) {
          check();
          if (performance.now() - since > WINDOW_STALL_MS) {
            throw new TossError("connect", "could not connect to the other computer: the connection stalled: nothing could be sent for 30 seconds");
          }
          await new Promise((resolve) => {
            wakeWindow = resolve;
            setTimeout(resolve, 1000);
          });
          wakeWindow = null;
        }
        await link.bytes(chunk);
        sent += chunk.length;
      }
      done += block.length;
      const now = performance.now();
      if (now - lastReport > 200) {
        lastReport = now;
        report({ event: "progress", done, total, rate: meter.rate(done) });
      }
    }
    check();
    await link.control({ type: "file_end", index, blake3: hex(hash.digest()) });
  }
  report({ event: "progress", done, total, rate: meter.rate(done) });
  await untilCancelled(listening, cancel);
  if (!finished) throw failure ?? invalid("the transfer ended early");
  link.close();
}

/**
 * `promise`, or the cancel's reason if that comes first. The cancel's listener goes once the
 * race is decided: the receiving loop races every chunk, and a listener left per chunk would
 * keep a closure per 16 KiB for the whole transfer.
 */
function untilCancelled(promise, signal) {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort = null;
  const stopped = new Promise((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, stopped]).finally(() => signal.removeEventListener("abort", onAbort));
}

async function nextControl(link, cancel) {
  const { control } = await untilCancelled(link.recv(), cancel);
  if (!control) throw invalid("bytes before the receiver answered");
  return control;
}

/**
 * Receives over `link`: reads the offer, asks `decide` (the person), and saves what comes.
 * @param {import("./link.js").Link} link
 * @param {{decide: (offer: object) => Promise<object|null>, report: (e: object) => void, cancel: AbortSignal}} opts
 *   `decide` gives back a saver (save.js) to accept, or null to decline.
 * @returns {Promise<{offer: object, declined: boolean}>}
 */
export async function receiveFiles(link, { decide, report, cancel }) {
  const first = await nextControl(link, cancel);
  const word = peerWord(first);
  if (word) throw word;
  if (first.type !== "offer") throw invalid("expected an offer");
  const offer = checkOffer(first);
  report({ event: "offer", offer });
  const saver = await untilCancelled(decide(offer), cancel);
  if (!saver) {
    await link.control({ type: "decline" });
    await link.linger();
    return { offer, declined: true };
  }
  try {
    // A sender that keeps to a window is given one; an older one is not (it would refuse
    // the `consumed` messages).
    const paced = first.paced === true;
    const accept = { type: "accept", offsets: offer.files.map(() => 0) };
    if (paced) accept.window = RECEIVE_WINDOW;
    await link.control(accept);
    await receiveBytes(link, offer, saver, report, cancel, paced);
    await saver.finish();
  } catch (e) {
    await saver.abort(e);
    throw e;
  }
  await link.control({ type: "done" });
  report({ event: "done" });
  await link.linger();
  return { offer, declined: false };
}

async function receiveBytes(link, offer, saver, report, cancel, paced) {
  const meter = new Meter();
  let done = 0;
  // What was last said taken (with a window).
  let told = 0;
  let lastReport = 0;
  for (const [index, entry] of offer.files.entries()) {
    const start = await nextControl(link, cancel);
    const word = peerWord(start);
    if (word) throw word;
    if (start.type !== "file_start" || start.index !== index || start.offset !== 0) {
      throw invalid("bytes arrived outside a file");
    }
    const writer = await saver.open(index, entry.path, entry.size);
    const hash = createBlake3();
    let got = 0;
    for (;;) {
      const item = await untilCancelled(link.recv(), cancel);
      if (item.bytes) {
        got += item.bytes.length;
        if (got > entry.size) throw invalid(`${entry.path} is larger than offered`);
        hash.update(item.bytes);
        await writer.write(item.bytes);
        done += item.bytes.length;
        if (paced && done - told >= CONSUMED_EVERY) {
          told = done;
          await link.control({ type: "consumed", bytes: done });
        }
        const now = performance.now();
        if (now - lastReport > 200) {
          lastReport = now;
          report({ event: "progress", done, total: offer.total, rate: meter.rate(done) });
        }
        continue;
      }
      const c = item.control;
      const w = peerWord(c);
      if (w) throw w;
      if (c.type !== "file_end" || c.index !== index) throw invalid(`an out-of-turn ${String(c.type).slice(0, 20)}`);
      if (got !== entry.size) throw invalid(`${entry.path} ended short`);
      if (typeof c.blake3 !== "string" || hex(hash.digest()) !== c.blake3.toLowerCase()) {
        throw new TossError("corrupt", `${entry.path} arrived damaged (its checksum does not match); it was not kept`);
      }
      await writer.close();
      await link.control({ type: "file_ok", index });
      report({ event: "file_done", index });
      break;
    }
  }
  report({ event: "progress", done, total: offer.total, rate: meter.rate(done) });
}
