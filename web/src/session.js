// web/src/session.js: a session between the page and one peer through a room on toss-signal
// (docs/protocol.md section 2): allocate or join, the SPAKE2 exchange with the sender's
// commitment, key confirmation, `paired`, then sealed signaling messages in order.
//
// Place: over signal.js and crypto.js, under peer.js. The only module that holds the room's
// keys; everything above speaks in plain signal objects ({kind: "offer", …}).
// What it must never do: let a message through that failed its seal, or take a second guess
// at a code (a failed exchange closes the room).

import {
  checkCommitment,
  decode,
  encode,
  Pake,
  pakeCommitment,
  Role,
} from "./crypto.js";
import { ANSWER_MS, refusal, SignalConnection, TossError } from "./signal.js";

/** Refusals of `turn` that only mean "no TURN from this server". */
const TURN_REFUSALS = new Set(["turn_unavailable", "not_paired", "rate_limited", "unknown_type"]);
/** How long the server has to answer `turn`. */
const TURN_ANSWER_MS = 3_000;

/** The whole key exchange has this long (the core's PAKE_TIMEOUT). */
const PAKE_MS = 20_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The sentence for a wrong code, word for word the core's. */
export const WRONG_CODE =
  "wrong code: the code was mistyped, or someone tried to guess it; ask the sender for a new code";
/** The sentence for a seal or binding that failed, word for word the core's. */
export const TAMPERED =
  "the connection was tampered with on the way (it failed its integrity check against the code); the transfer was stopped";

function wrongCode() {
  return new TossError("wrong_code", WRONG_CODE);
}

function tampered() {
  return new TossError("tampered", TAMPERED);
}

/**
 * Opens a room for a sender.
 * @param {string} url the server's WebSocket URL.
 * @returns {Promise<{conn: SignalConnection, nameplate: string}>}
 */
export async function allocate(url) {
  const conn = await SignalConnection.open(url);
  conn.send({ type: "allocate" });
  const msg = await conn.recv(ANSWER_MS);
  if (msg.type === "allocated" && /^[0-9]{1,8}$/u.test(String(msg.nameplate))) {
    return { conn, nameplate: String(msg.nameplate) };
  }
  conn.close();
  throw unexpected(msg);
}

/**
 * Waits in an allocated room for the receiver, then runs the exchange as the sender.
 * @param {SignalConnection} conn
 * @param {{nameplate: string, password: string}} code
 * @returns {Promise<Paired>}
 */
export async function waitForPeer(conn, code) {
  const msg = await conn.recv();
  if (msg.type !== "peer_joined") {
    conn.close();
    throw unexpected(msg);
  }
  return exchange(conn, code, Role.Sender);
}

/**
 * Joins the room of a code as the receiver and runs the exchange.
 * @param {string} url
 * @param {{nameplate: string, password: string, text: string}} code
 * @returns {Promise<Paired>}
 */
export async function join(url, code) {
  const conn = await SignalConnection.open(url);
  conn.send({ type: "join", nameplate: code.nameplate });
  const msg = await conn.recv(ANSWER_MS);
  if (msg.type !== "joined") {
    conn.close();
    if (msg.type === "error" && msg.code === "unknown_nameplate") {
      throw new TossError(
        "no_such_code",
        `no transfer is waiting with the code ${code.text}: check the number at its start, or ask the sender for a new code`,
      );
    }
    throw unexpected(msg);
  }
  return exchange(conn, code, Role.Receiver);
}

function unexpected(msg) {
  if (msg.type === "error") return refusal(msg.code);
  if (msg.type === "peer_left") return new TossError("peer_gone", "the other side disconnected before the transfer finished");
  return new TossError("protocol", "the signaling server answered out of turn");
}

async function exchange(conn, code, role) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new TossError("timed_out", "the other side did not finish the key exchange in time; try again")),
      PAKE_MS,
    );
  });
  try {
    const keys = await Promise.race([pake(conn, code, role), timeout]);
    return new Paired(conn, keys);
  } catch (e) {
    // Burn the room: one guess per code.
    conn.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function roomMsg(conn) {
  const msg = await conn.recv();
  if (msg.type === "message") {
    try {
      return JSON.parse(msg.body);
    } catch {
      throw new TossError("protocol", "the other side sent something invalid: an unreadable setup message arrived");
    }
  }
  throw unexpected(msg);
}

function sendRoom(conn, body) {
  conn.send({ type: "send", body: JSON.stringify(body) });
}

function decodeOrWrong(text) {
  try {
    return decode(String(text));
  } catch {
    throw wrongCode();
  }
}

async function pake(conn, code, role) {
  const { pake: state, message } = Pake.start(code.nameplate, code.password);
  const theirs = (msg) => {
    if (msg?.kind !== "pake") throw new TossError("protocol", "the other side sent something invalid: expected the key exchange");
    return decodeOrWrong(msg.msg);
  };
  let inbound;
  if (role === Role.Sender) {
    sendRoom(conn, { kind: "commit", hash: encode(pakeCommitment(code.nameplate, message)) });
    inbound = theirs(await roomMsg(conn));
    sendRoom(conn, { kind: "pake", msg: encode(message) });
  } else {
    const commit = await roomMsg(conn);
    if (commit?.kind !== "commit") throw new TossError("protocol", "the other side sent something invalid: expected the key exchange");
    const commitment = decodeOrWrong(commit.hash);
    sendRoom(conn, { kind: "pake", msg: encode(message) });
    inbound = theirs(await roomMsg(conn));
    if (!checkCommitment(code.nameplate, commitment, inbound)) throw wrongCode();
  }
  let keys;
  try {
    keys = state.finish(inbound, role);
  } catch {
    throw wrongCode();
  }
  sendRoom(conn, { kind: "confirm", mac: encode(keys.myConfirmation()) });
  let confirm;
  try {
    confirm = await roomMsg(conn);
  } catch (e) {
    // A peer whose confirmation failed leaves at once: to us that is a wrong code too.
    if (e.kind === "peer_gone") throw wrongCode();
    throw e;
  }
  if (confirm?.kind !== "confirm") throw new TossError("protocol", "the other side sent something invalid: expected the key confirmation");
  try {
    keys.checkConfirmation(decodeOrWrong(confirm.mac));
  } catch {
    throw wrongCode();
  }
  // The room's owner vouches for its joiner: the server gives back the guess it cost.
  if (role === Role.Sender) conn.send({ type: "paired" });
  return keys;
}

/** A session whose keys are agreed: sealed signals both ways, in order. */
export class Paired {
  #conn;
  #sealer;
  #opener;
  #inbox = [];
  #waiters = [];
  #failed = null;
  #turnWaiter = null;

  /** @private Made by {@link join} and {@link waitForPeer}. */
  constructor(conn, keys) {
    this.#conn = conn;
    this.role = keys.role;
    this.verification = keys.verification;
    const { sealer, opener, binder } = keys.intoChannel();
    this.#sealer = sealer;
    this.#opener = opener;
    this.binder = binder;
    this.#pump();
  }

  /** Reads the room for as long as it is open, opening each message in order. */
  async #pump() {
    for (;;) {
      let msg;
      try {
        msg = await this.#conn.recv();
      } catch (e) {
        this.#fail(e);
        return;
      }
      // The server's answer to something said after the peer left: it has left.
      if (msg.type === "peer_left" || (msg.type === "error" && msg.code === "peer_absent")) {
        this.#deliver({ kind: "peer_left" });
        continue;
      }
      // The answer to `turn`: credentials, or why there are none (never fatal).
      if (this.#turnWaiter && (msg.type === "turn" || (msg.type === "error" && TURN_REFUSALS.has(msg.code)))) {
        const w = this.#turnWaiter;
        this.#turnWaiter = null;
        w(msg.type === "turn" ? msg : null);
        continue;
      }
      if (msg.type !== "message") {
        this.#fail(unexpected(msg));
        return;
      }
      let plain;
      try {
        const body = JSON.parse(msg.body);
        if (body?.kind !== "sealed") throw new Error("not sealed");
        plain = JSON.parse(decoder.decode(this.#opener.open(body.data)));
        if (plain === null || typeof plain !== "object" || typeof plain.kind !== "string") {
          throw new Error("not a signal");
        }
      } catch {
        this.#fail(tampered());
        return;
      }
      this.#deliver(plain);
    }
  }

  #deliver(signal) {
    const w = this.#waiters.shift();
    if (w) w.resolve(signal);
    else this.#inbox.push(signal);
  }

  #fail(error) {
    this.#failed = error;
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /**
   * Asks the server for short-lived TURN credentials, which it gives only to a room holding
   * both peers. Null when it has none to give, refuses, or does not answer within 3 s.
   * @returns {Promise<RTCIceServer|null>}
   */
  turn() {
    if (this.#turnWaiter || this.#failed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#turnWaiter = null;
        resolve(null);
      }, TURN_ANSWER_MS);
      this.#turnWaiter = (msg) => {
        clearTimeout(timer);
        const ok =
          msg &&
          Array.isArray(msg.urls) &&
          msg.urls.every((u) => typeof u === "string" && /^turns?:/u.test(u)) &&
          typeof msg.username === "string" &&
          typeof msg.credential === "string";
        resolve(ok ? { urls: msg.urls, username: msg.username, credential: msg.credential } : null);
      };
      this.#conn.send({ type: "turn" });
    });
  }

  /** Seals and sends one signal ({kind: …}). */
  say(signal) {
    const data = this.#sealer.seal(encoder.encode(JSON.stringify(signal)));
    sendRoom(this.#conn, { kind: "sealed", data });
  }

  /**
   * The next signal from the peer, or `{kind: "peer_left"}` when it left the room.
   * @param {AbortSignal} [stop] gives up waiting (the signal stays for the next listener).
   * @returns {Promise<object>}
   * @throws {TossError} `tampered` for anything that failed its seal, and what ended the room.
   */
  hear(stop) {
    // A listener that has been told to stop takes nothing: a signal it took now would be lost.
    if (stop?.aborted) return Promise.reject(stop.reason);
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift());
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      stop?.addEventListener(
        "abort",
        () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(stop.reason);
        },
        { once: true },
      );
    });
  }

  /** Puts a signal back, to be heard first (an offer that belongs to the next attempt). */
  unhear(signal) {
    this.#inbox.unshift(signal);
  }

  /** Leaves the room. */
  leave() {
    this.#conn.close();
  }
}
