// web/src/peer.js: one WebRTC connection to the peer, negotiated over a Paired session
// (docs/protocol.md section 2, steps 4 and 5): the sender's offer and the receiver's answer
// with the round they belong to, trickle ICE both ways, then the channel binding on the data
// channel labelled `toss`.
//
// The binding: a browser cannot read the peer's DTLS certificate, so the page MACs the two
// `a=fingerprint:sha-256` values of the two SDPs, which both travelled sealed. The browser
// refuses a DTLS handshake whose certificate does not match the remote SDP's fingerprint, and
// its own certificate is the one in its local SDP; so these are the fingerprints of the
// handshake's certificates, the same strings the Rust side reads from the handshake
// (docs/security.md, "The browser peer's channel binding").
//
// Place: over session.js, under transfer.js. Gives back an open, bound RTCDataChannel.
// What it must never do: offer large SCTP packets (a browser drops its DTLS transport past
// 2048 bytes), or read anything from the channel before the peer's binding checked out.

import { decode, encode, Role } from "./crypto.js";
import { TAMPERED } from "./session.js";
import { TossError } from "./signal.js";

/** The whole setup has this long (the core's CONNECT_TIMEOUT). */
const CONNECT_MS = 30_000;
/** Once the data channel is open, the peer's binding comes within this long (the core's
 * SETUP_AFTER_PATH); a sending page then begins afresh. */
const BIND_MS = 8_000;
/** A fresh attempt is begun only with this much of CONNECT_MS left (SETUP_RETRY_MIN_LEFT). */
const RETRY_MIN_LEFT_MS = 3_000;
/** At most this many candidates from the peer per attempt (the core's MAX_REMOTE_CANDIDATES). */
const MAX_REMOTE_CANDIDATES = 200;
/** Buffered bytes at which the data channel wakes a waiting writer. */
export const LOW_WATER = 1 << 20;

/**
 * The SHA-256 fingerprint an SDP declares, as the core writes it (`ab:cd:…`).
 * @param {string} sdp
 * @returns {string}
 * @throws {TossError} `tampered` when there is none, or only another hash's.
 */
export function sdpFingerprint(sdp) {
  const m = /^a=fingerprint:sha-256 ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})\s*$/mu.exec(String(sdp));
  if (!m) throw new TossError("tampered", TAMPERED);
  return m[1].toLowerCase();
}

function candidateInit(c) {
  // webrtc-rs writes an empty sdpMid; the m-line index says the same, and a browser takes it.
  return {
    candidate: String(c?.candidate ?? ""),
    sdpMid: c?.sdpMid ? String(c.sdpMid) : null,
    sdpMLineIndex: Number.isInteger(c?.sdpMLineIndex) ? c.sdpMLineIndex : 0,
  };
}

/** Rejects when `signal` fires. */
function aborted(signal) {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason ?? new TossError("cancelled", "the transfer was cancelled"));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/**
 * Sets up the connection, starting afresh when the sender does, within `CONNECT_MS`.
 * @param {import("./session.js").Paired} paired
 * @param {{iceServers: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy, cancel: AbortSignal}} options
 * @returns {Promise<{pc: RTCPeerConnection, dc: RTCDataChannel, early: Array<string|ArrayBuffer>}>}
 *   `early`: the peer's first messages after the binding, for the Link.
 */
export async function connect(paired, { iceServers, iceTransportPolicy = "all", cancel }) {
  const deadline = Date.now() + CONNECT_MS;
  let round = 0;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TossError(
              "connect",
              "could not connect to the other computer: no network path was found in time (a firewall may block it; a TURN server can help)",
            ),
          ),
        left,
      );
    });
    try {
      const { dc, settled } = await Promise.race([attempt(paired, pc, round), timeout, aborted(cancel)]);
      const early = await Promise.race([bind(paired, pc, dc, settled), timeout, aborted(cancel)]);
      return { pc, dc, early };
    } catch (e) {
      pc.close();
      if (e instanceof StartedOver) {
        round = e.round;
        continue;
      }
      if (e instanceof BindStalled && deadline - Date.now() >= RETRY_MIN_LEFT_MS) {
        console.debug(`toss: no binding from the peer in round ${e.round}; starting afresh`);
        round = e.round + 1;
        continue;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
  throw new TossError("connect", "could not connect to the other computer: no network path was found in time (a firewall may block it; a TURN server can help)");
}

/** The sender began a newer attempt; this one ends and that offer starts the next. */
class StartedOver extends Error {
  constructor(round) {
    super("the other computer started over");
    this.round = round;
  }
}

/** A sending page's channel opened, but the peer's binding never came: it offers afresh. */
class BindStalled extends Error {
  constructor(round) {
    super("the secure connection did not complete over the network path that was found");
    this.round = round;
  }
}

function hearError(signal) {
  switch (signal.kind) {
    case "abort":
      return new TossError("peer_failed", `the other side stopped the transfer: ${String(signal.reason).slice(0, 300)}`);
    case "cancel":
      return new TossError("cancelled", "the other side cancelled the transfer");
    case "tampered":
      return new TossError("tampered", TAMPERED);
    default:
      return null;
  }
}

async function attempt(paired, pc, round) {
  const opened = new Promise((resolve, reject) => {
    const watch = (dc) => {
      console.debug(`toss: data channel ${dc.label}, ${dc.readyState}`);
      dc.binaryType = "arraybuffer";
      dc.bufferedAmountLowThreshold = LOW_WATER;
      if (dc.readyState === "open") resolve(dc);
      else dc.addEventListener("open", () => resolve(dc), { once: true });
    };
    if (paired.role === Role.Sender) {
      watch(pc.createDataChannel("toss", { ordered: true }));
    } else {
      pc.addEventListener("datachannel", (e) => {
        if (e.channel.label === "toss") watch(e.channel);
      });
    }
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") {
        reject(
          new TossError(
            "connect",
            "could not connect to the other computer: the two computers could not reach each other directly (a TURN server can help)",
          ),
        );
      }
    });
  });
  pc.addEventListener("icecandidate", (e) => {
    if (e.candidate && e.candidate.candidate) {
      paired.say({ kind: "candidate", candidate: candidateInit(e.candidate.toJSON()) });
    }
  });
  if (paired.role === Role.Sender) {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    paired.say({ kind: "offer", sdp: pc.localDescription.sdp, large_packets: false, round });
  }
  let remoteSet = false;
  let candidates = 0;
  const early = [];
  let myRound = round;
  const stop = new AbortController();
  const listen = (async () => {
    for (;;) {
      const signal = await paired.hear(stop.signal);
      if (stop.signal.aborted) {
        // Heard just as this step ended: it belongs to whoever listens next.
        paired.unhear(signal);
        return;
      }
      const failed = hearError(signal);
      if (failed) throw failed;
      if (signal.kind === "peer_left") {
        throw new TossError("peer_gone", "the other side disconnected before the transfer finished");
      }
      if (signal.kind === "offer" && paired.role === Role.Receiver) {
        const r = Number(signal.round ?? 0);
        if (r < myRound) continue;
        if (remoteSet) {
          if (r > myRound) {
            paired.unhear(signal);
            throw new StartedOver(r);
          }
          continue;
        }
        myRound = r;
        await pc.setRemoteDescription({ type: "offer", sdp: String(signal.sdp) });
        remoteSet = true;
        for (const c of early.splice(0)) await pc.addIceCandidate(c);
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        paired.say({ kind: "answer", sdp: pc.localDescription.sdp, large_packets: false, round: myRound });
      } else if (signal.kind === "answer" && paired.role === Role.Sender) {
        if (remoteSet || Number(signal.round ?? 0) !== myRound) continue;
        await pc.setRemoteDescription({ type: "answer", sdp: String(signal.sdp) });
        remoteSet = true;
        for (const c of early.splice(0)) await pc.addIceCandidate(c);
      } else if (signal.kind === "candidate") {
        candidates += 1;
        if (candidates > MAX_REMOTE_CANDIDATES) {
          throw new TossError("protocol", "the other side sent something invalid: far more network addresses than any computer has");
        }
        const init = candidateInit(signal.candidate);
        // A candidate the browser cannot use (an address family it lacks) is no reason to fail.
        if (remoteSet) await pc.addIceCandidate(init).catch(() => {});
        else early.push(init);
      } else if (signal.kind === "reconnect" || signal.kind === "answer") {
        // An earlier attempt's answer, or the peer's note that a connection went: the
        // connection this attempt sets up is the next one.
      } else {
        throw new TossError("protocol", "the other side sent something invalid: setup messages arrived out of order");
      }
    }
  })();
  // The listener's errors end the attempt; once the channel is open, it stops listening.
  try {
    return { dc: await Promise.race([opened, listen]), settled: myRound };
  } finally {
    stop.abort(new Error("this attempt is over"));
    listen.catch(() => {});
  }
}

/**
 * The channel binding, the first message each way. Meanwhile the room is heard: the peer's
 * reason for stopping ends it, and so does a newer offer (the sender began afresh). A sending
 * page whose channel closes, or whose peer's binding has not come in `BIND_MS`, begins afresh.
 * A receiving page also waits for the sender's first message after the binding: a sender that
 * never got this page's binding begins afresh, and its newer offer must still be followed.
 * @returns {Promise<Array<string|ArrayBuffer>>} what arrived after the binding, in order.
 */
async function bind(paired, pc, dc, round) {
  const local = sdpFingerprint(pc.localDescription?.sdp);
  const remote = sdpFingerprint(pc.remoteDescription?.sdp);
  const [senderFp, receiverFp] = paired.role === Role.Sender ? [local, remote] : [remote, local];
  const sender = paired.role === Role.Sender;
  const held = [];
  let wake = () => {};
  const onMessage = (e) => {
    held.push(e.data);
    wake();
  };
  dc.addEventListener("message", onMessage);
  let timer;
  const failed = new Promise((_, reject) => {
    if (sender) {
      dc.addEventListener("close", () => reject(new BindStalled(round)), { once: true });
      timer = setTimeout(() => reject(new BindStalled(round)), BIND_MS);
    }
  });
  const until = (n) =>
    new Promise((resolve) => {
      wake = () => {
        if (held.length >= n) resolve();
      };
      wake();
    });
  const stop = new AbortController();
  const listen = (async () => {
    for (;;) {
      const signal = await paired.hear(stop.signal);
      if (stop.signal.aborted) {
        // Heard just as this step ended: it belongs to whoever listens next.
        paired.unhear(signal);
        return;
      }
      const failure = hearError(signal);
      if (failure) throw failure;
      if (signal.kind === "peer_left") {
        throw new TossError("peer_gone", "the other side disconnected before the transfer finished");
      }
      if (signal.kind === "offer" && !sender && Number(signal.round ?? 0) > round) {
        paired.unhear(signal);
        throw new StartedOver(Number(signal.round));
      }
      // A late candidate or answer of this attempt, or the peer's note that a connection
      // went (its newer offer follows): nothing to do here.
    }
  })();
  dc.send(`.${encode(paired.binder.myBinding(senderFp, receiverFp))}`);
  console.debug("toss: binding sent; waiting for the peer's");
  try {
    await Promise.race([until(1), failed, listen]);
    const theirs = held[0];
    if (typeof theirs !== "string" || !theirs.startsWith(".")) throw new TossError("tampered", TAMPERED);
    try {
      paired.binder.checkBinding(decode(theirs.slice(1)), senderFp, receiverFp);
    } catch {
      throw new TossError("tampered", TAMPERED);
    }
    if (!sender) await Promise.race([until(2), listen]);
    return held.slice(1);
  } finally {
    dc.removeEventListener("message", onMessage);
    clearTimeout(timer);
    stop.abort(new Error("the binding is over"));
    listen.catch(() => {});
    failed.catch(() => {});
  }
}
