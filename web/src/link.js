// web/src/link.js: the open data channel as the transfer protocol uses it (docs/protocol.md
// section 3): control messages as JSON text in fragments marked `+` (more) or `.` (last), at
// most 64 KiB each and 4 MiB reassembled; file bytes as binary messages; backpressure on the
// channel's buffered amount.
//
// Place: over peer.js's RTCDataChannel, under transfer.js. Knows framing, not meaning.
// What it must never do: buffer without bound on the sending side, or let a control message
// past 4 MiB grow in memory.

import { LOW_WATER } from "./peer.js";
import { TossError } from "./signal.js";

const MORE = "+";
const LAST = ".";
/** Largest text message, marker included. */
const MAX_FRAGMENT = 64 * 1024;
/** Largest reassembled control message. */
const MAX_CONTROL = 4 * 1024 * 1024;
/** Above this many buffered bytes a writer waits for the channel to drain to LOW_WATER. */
const HIGH_WATER = 8 * 1024 * 1024;
/** How long a side waits for the other to close after its last word. */
export const LINGER_MS = 10_000;
export const TRANSFER_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function peerGone() {
  return new TossError("peer_gone", "the other side disconnected before the transfer finished");
}

/**
 * Splits a control message's JSON into marked fragments of at most 64 KiB (UTF-8), never
 * inside a character.
 * @param {string} json
 * @returns {string[]}
 */
export function fragment(json) {
  const out = [];
  let rest = json;
  for (;;) {
    // Cut by characters, then shrink until the UTF-8 fits.
    let take = Math.min(rest.length, MAX_FRAGMENT - 1);
    while (encoder.encode(rest.slice(0, take)).length > MAX_FRAGMENT - 1) take = Math.floor(take * 0.9);
    // Never between the halves of a surrogate pair.
    if (take < rest.length && /[\uD800-\uDBFF]/u.test(rest[take - 1] ?? "")) take -= 1;
    const piece = rest.slice(0, take);
    rest = rest.slice(take);
    if (rest.length === 0) {
      out.push(LAST + piece);
      return out;
    }
    out.push(MORE + piece);
  }
}

/** Reassembles fragments; `push` returns the whole message's JSON once its last fragment came. */
export class Reassembler {
  #parts = [];
  #bytes = 0;

  /**
   * @param {string} text one text message.
   * @returns {string|null}
   * @throws {TossError} `protocol` for a message without a marker, or past 4 MiB.
   */
  push(text) {
    const marker = text[0];
    if (marker !== MORE && marker !== LAST) {
      throw new TossError("protocol", "the other side sent something invalid: a control message without its fragment marker");
    }
    const body = text.slice(1);
    this.#bytes += body.length;
    if (this.#bytes > MAX_CONTROL) {
      throw new TossError("protocol", "the other side sent something invalid: a control message over 4 MiB");
    }
    this.#parts.push(body);
    if (marker === MORE) return null;
    const whole = this.#parts.join("");
    this.#parts = [];
    this.#bytes = 0;
    return whole;
  }
}

/**
 * Parses a control message: an object of the transfer protocol's version with a `type`.
 * @param {string} json
 * @returns {object}
 */
export function decodeControl(json) {
  let msg;
  try {
    msg = JSON.parse(json);
  } catch {
    throw new TossError("protocol", "the other side sent something invalid: a control message is not valid JSON of the transfer protocol");
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    throw new TossError("protocol", "the other side sent something invalid: a control message is not valid JSON of the transfer protocol");
  }
  if (msg.v !== TRANSFER_VERSION) {
    throw new TossError("protocol", `the other side speaks transfer protocol version ${String(msg.v)}; update Toss on both computers`);
  }
  if (typeof msg.type !== "string") {
    throw new TossError("protocol", "the other side sent an unknown control message");
  }
  return msg;
}

/** The transfer's view of the data channel: control messages and chunks in, the same out. */
export class Link {
  #dc;
  #inbox = [];
  #waiter = null;
  #ended = null;
  #reassembler = new Reassembler();

  /**
   * @param {RTCDataChannel} dc an open channel whose binding checked out.
   * @param {Array<string|ArrayBuffer>} [early] messages that arrived before this link (during
   *   the channel binding), taken first and in order.
   */
  constructor(dc, early = []) {
    this.#dc = dc;
    const take = (data) => {
      if (this.#ended) return;
      let item;
      if (typeof data === "string") {
        try {
          const whole = this.#reassembler.push(data);
          if (whole === null) return;
          item = { control: decodeControl(whole) };
        } catch (err) {
          this.#end(err);
          return;
        }
      } else {
        item = { bytes: new Uint8Array(data) };
      }
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = null;
        w.resolve(item);
      } else {
        this.#inbox.push(item);
      }
    };
    for (const data of early) take(data);
    dc.addEventListener("message", (e) => take(e.data));
    dc.addEventListener("close", () => this.#end(peerGone()));
    dc.addEventListener("error", () => this.#end(peerGone()));
  }

  #end(error) {
    this.#ended ??= error;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.reject(this.#ended);
    }
  }

  /** Whether the channel is closed (by either side). */
  get closed() {
    return this.#dc.readyState === "closed" || this.#dc.readyState === "closing";
  }

  /**
   * The next message: `{control}` or `{bytes}`.
   * @returns {Promise<{control?: object, bytes?: Uint8Array}>}
   */
  recv() {
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift());
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Sends a control message (`v` added). */
  async control(msg) {
    for (const piece of fragment(JSON.stringify({ v: TRANSFER_VERSION, ...msg }))) {
      await this.#room();
      this.#dc.send(piece);
    }
  }

  /** Sends file bytes, waiting while the channel holds more than HIGH_WATER. */
  async bytes(chunk) {
    await this.#room();
    this.#dc.send(chunk);
  }

  #room() {
    if (this.#ended && this.closed) return Promise.reject(this.#ended);
    if (this.#dc.bufferedAmount <= HIGH_WATER) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#dc.removeEventListener("bufferedamountlow", done);
        this.#dc.removeEventListener("close", gone);
        resolve();
      };
      const gone = () => {
        this.#dc.removeEventListener("bufferedamountlow", done);
        reject(peerGone());
      };
      this.#dc.bufferedAmountLowThreshold = LOW_WATER;
      this.#dc.addEventListener("bufferedamountlow", done);
      this.#dc.addEventListener("close", gone, { once: true });
    });
  }

  /** Waits until everything sent has left the buffer (or the channel closed). */
  async drained() {
    for (let i = 0; i < 200 && this.#dc.readyState === "open" && this.#dc.bufferedAmount > 0; i += 1) {
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Waits up to LINGER_MS for the other side to close, after this side's last word. */
  async linger() {
    if (this.closed) return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, LINGER_MS);
      this.#dc.addEventListener(
        "close",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Closes the channel. */
  close() {
    try {
      this.#dc.close();
    } catch {
      // Already closed.
    }
  }
}

export { decoder as utf8Decoder, encoder as utf8Encoder };
