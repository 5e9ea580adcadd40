// web/src/signal.js: the page's connection to toss-signal (docs/protocol.md section 1): one
// WebSocket, JSON messages with `"v":1`, a keep-alive ping, and an inbox read one message at
// a time by the session above.
//
// Place: under session.js, over the browser's WebSocket. Knows the server's messages, not the
// room's: bodies pass through as opaque strings.
// What it must never do: show the server's own words to the person (a refusal becomes Toss's
// sentence for its code), or queue without bound (the server already caps what it relays).

const VERSION = 1;
/** Keep-alive interval, under common proxies' idle timeouts (the core's SIGNAL_PING). */
const PING_MS = 20_000;
/** How long the server has to answer `allocate` or `join` (the core's SERVER_ANSWER_TIMEOUT). */
export const ANSWER_MS = 10_000;

/** A failure a person is told about: `message` is Toss's sentence, `kind` what kind it is. */
export class TossError extends Error {
  /**
   * @param {string} kind e.g. `wrong_code`, `server_unreachable`, `peer_gone`.
   * @param {string} message one sentence.
   */
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** Toss's sentence for each refusal code the server may send: `ErrorCode::reply` in
 * crates/wire/src/signal.rs, word for word. */
const REFUSALS = {
  malformed: "The message is not valid JSON of the signaling protocol.",
  unsupported_version: "This server speaks signaling protocol version 1; update Toss.",
  unknown_type: "The server does not know this message type.",
  too_large: "The message is larger than the server accepts (64 KiB).",
  unknown_nameplate: "No transfer is waiting with this code; check the number at its start.",
  room_full: "This code has already been used; ask the sender for a new one.",
  not_in_room: "Join or allocate a room first.",
  already_in_room: "This connection is already in a room.",
  peer_absent: "The other side is not connected to the room.",
  room_expired: "The code expired; ask the sender for a new one.",
  server_busy: "The signaling server is busy; try again in a minute.",
  shutting_down: "The signaling server is restarting; try again.",
  rate_limited: "Too many codes tried from this address; wait a minute and try again.",
  too_many_guesses: "Too many codes from this address did not work; wait a few minutes and try again.",
  relay_overflow:
    "One side did not keep up with the messages the signaling server relayed, so the transfer was stopped; try again.",
};

/**
 * The sentence for a refusal from the server.
 * @param {string} code the server's error code.
 * @returns {TossError}
 */
export function refusal(code) {
  const message = REFUSALS[code] ?? `the signaling server refused (${String(code).slice(0, 40)})`;
  return new TossError(code === "unknown_nameplate" ? "no_such_code" : "signal_refused", message);
}

/** The WebSocket URL of the server this page came from. */
export function serverUrl(location) {
  const url = new URL(".", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.href;
}

/**
 * The invite that makes the desktop app use the server this page came from
 * (`toss://server?url=wss%3A%2F%2Fhost%2F`, read by crates/core/src/invite.rs), or null for
 * a page that is not served over https: the app's own LAN page, or a server on plain http,
 * is no server to keep.
 */
export function inviteLink(location) {
  if (new URL(location.href).protocol !== "https:") return null;
  return `toss://server?url=${encodeURIComponent(serverUrl(location))}`;
}

/** One connection to the signaling server. */
export class SignalConnection {
  #ws;
  #inbox = [];
  #waiters = [];
  #closed = null;
  #ping;

  /** @private Use {@link SignalConnection.open}. */
  constructor(ws) {
    this.#ws = ws;
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg === null || typeof msg !== "object" || msg.type === "pong") return;
      this.#push(msg);
    });
    ws.addEventListener("close", () => {
      clearInterval(this.#ping);
      this.#closed ??= new TossError("signal_lost", "lost the connection to the signaling server before the other side was reached");
      for (const w of this.#waiters.splice(0)) w.reject(this.#closed);
    });
    this.#ping = setInterval(() => this.send({ type: "ping" }), PING_MS);
  }

  /**
   * Connects, within `ANSWER_MS`.
   * @param {string} url `ws://…` or `wss://…`.
   * @returns {Promise<SignalConnection>}
   */
  static open(url) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch {
        reject(new TossError("server_unreachable", `cannot reach the signaling server at ${url}`));
        return;
      }
      const timer = setTimeout(() => {
        ws.close();
        reject(new TossError("server_unreachable", `cannot reach the signaling server at ${url}: it did not answer in time`));
      }, ANSWER_MS);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new SignalConnection(ws));
      });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new TossError("server_unreachable", `cannot reach the signaling server at ${url}`));
      });
    });
  }

  #push(msg) {
    const w = this.#waiters.shift();
    if (w) w.resolve(msg);
    else this.#inbox.push(msg);
  }

  /** Sends one message (`v` is added). Quietly nothing once closed. */
  send(msg) {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ v: VERSION, ...msg }));
  }

  /**
   * The next message from the server.
   * @param {number} [timeoutMs] reject with `timeout` after this long.
   * @returns {Promise<object>}
   */
  recv(timeoutMs) {
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift());
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new TossError("timed_out", "the signaling server did not answer in time; try again"));
        }, timeoutMs);
        waiter.resolve = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiter.reject = (e) => {
          clearTimeout(timer);
          reject(e);
        };
      }
      this.#waiters.push(waiter);
    });
  }

  /** Leaves the room and closes, after what was sent has gone out. */
  close() {
    clearInterval(this.#ping);
    this.send({ type: "leave" });
    this.#closed ??= new TossError("signal_lost", "the connection to the signaling server was closed");
    try {
      this.#ws.close(1000);
    } catch {
      // Already closing.
    }
  }
}
