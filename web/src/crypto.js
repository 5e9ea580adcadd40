// web/src/crypto.js: the web peer's keys for one session, byte for byte those of the Rust core
// (crates/core/src/crypto.rs): symmetric SPAKE2 on Ed25519 as the `spake2` crate 0.4 does it,
// the commitment to the sender's PAKE message, HKDF to purpose-bound keys, the verification
// words, key confirmation, the channel binding, the sealer and opener of signaling messages,
// and BLAKE3.
//
// Place: the bottom of the web peer. Pure functions and small classes over bytes; no I/O, no
// DOM, no network, no timers. The session above it moves the bytes through the room; nothing
// else in the page touches keys.
//
// What it must never do: log, return or stringify key material (keys live in private fields;
// the one function that hands out key bytes, deriveKeyBytes, exists for the test vectors and
// needs the SPAKE2 key to begin with); implement a primitive that an audited library has
// (curve arithmetic, hashes, HKDF, HMAC and the AEAD come from @noble; only the SPAKE2 glue,
// base64 and the framing are written here); or differ from the Rust core by one byte:
// web/test/crypto.test.js reproduces every vector crates/core/tests/web_vectors.rs writes.

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberBE, bytesToNumberLE } from "@noble/curves/utils.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { expand, extract, hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes } from "@noble/hashes/utils.js";

import { WORDS } from "./wordlist.js";

/** Version of the session protocol, bound into every derivation and confirmation. */
export const SESSION_VERSION = "toss-session-v1";

/** The public SPAKE2 password of a transfer straight to a nearby device (no code). */
export const NEARBY_PASSWORD = "nearby";

/**
 * Which end of the session this is; bound into keys so that the two directions differ.
 * The values are the labels the key derivation and the MACs use.
 * @readonly
 * @enum {string}
 */
export const Role = Object.freeze({
  /** Allocated the room and makes the WebRTC offer. */
  Sender: "sender",
  /** Joined with the code and answers. */
  Receiver: "receiver",
});

/**
 * The other end.
 * @param {Role} role
 * @returns {Role}
 */
export function peerOf(role) {
  return checkRole(role) === Role.Sender ? Role.Receiver : Role.Sender;
}

/**
 * Why a crypto step failed. `kind` is what callers decide on; the messages are the core's.
 */
export class CryptoError extends Error {
  /**
   * @param {'mismatch' | 'bad_seal' | 'malformed'} kind `mismatch`: the PAKE message or a
   *   confirmation or binding did not check out (different codes, or someone in the middle);
   *   `bad_seal`: a sealed message was tampered with, replayed, reordered or from another key;
   *   `malformed`: not base64, or too short.
   */
  constructor(kind) {
    super(
      {
        mismatch: "the keys do not match",
        bad_seal: "a sealed message failed to open",
        malformed: "malformed sealed data",
      }[kind],
    );
    this.name = "CryptoError";
    /** @type {'mismatch' | 'bad_seal' | 'malformed'} */
    this.kind = kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const utf8 = (text) => new TextEncoder().encode(text);
const NUL = new Uint8Array([0]);
const EMPTY = new Uint8Array(0);

function checkBytes(value, what) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  return value;
}

function checkRole(role) {
  if (role !== Role.Sender && role !== Role.Receiver) {
    throw new TypeError(`not a role: ${String(role)}`);
  }
  return role;
}

/**
 * Whether two byte arrays are equal, in time that depends only on their lengths (which are
 * public: MACs and hashes have a fixed size). Used wherever the core compares secrets in
 * constant time: the commitment, the confirmations and the bindings.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function constantTimeEqual(a, b) {
  checkBytes(a, "a");
  checkBytes(b, "b");
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// Base64 as the core writes it (the base64 crate's STANDARD_NO_PAD): the standard alphabet,
// no `=`, and on decoding nothing else accepted: no padding, no whitespace, no other
// alphabet, no stray bits in the last character.
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/**
 * Base64 (standard alphabet, no padding) of `bytes`, as on the wire.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function encode(bytes) {
  checkBytes(bytes, "bytes");
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += B64[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/**
 * The inverse of {@link encode}; refuses what the core refuses.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {CryptoError} `malformed` for anything but canonical unpadded base64.
 */
export function decode(text) {
  if (typeof text !== "string" || text.length % 4 === 1) throw new CryptoError("malformed");
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of text) {
    const v = B64_INDEX.get(c);
    if (v === undefined) throw new CryptoError("malformed");
    acc = ((acc << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new CryptoError("malformed");
  return out;
}

// ---------------------------------------------------------------------------------------------
// SPAKE2, symmetric, on Ed25519: exactly the `spake2` crate 0.4 (RustCrypto/PAKEs), which
// follows Brian Warner's python-spake2 rather than RFC 9382. What it does, and so what this
// does:
// - password scalar: HKDF-SHA256(salt "", ikm password, info "SPAKE2 pw") to 48 bytes, read
//   big-endian, reduced modulo the group order L;
// - the blinding point S: from the seed "symmetric" (M and N, for the asymmetric mode, from
//   "M" and "N"): HKDF-SHA256(salt "", ikm seed, info "SPAKE2 arbitrary element") to 48
//   bytes, read big-endian, reduced modulo p, is a y; the first y, y + 1, ... with a point of
//   even x on the curve gives the point, times the cofactor 8;
// - the random scalar: 64 random bytes read little-endian, reduced modulo L (curve25519-dalek's
//   `Scalar::random`);
// - message: the side byte 'S' (0x53) and the compressed point x*B + pw*S;
// - the peer's point is decoded as curve25519-dalek decodes it: a y of at least p, and x = 0
//   with its sign bit set, are accepted; points outside the prime-order subgroup too;
// - K = (Y - pw*S) * x, and the key is SHA-256 over SHA-256(password), SHA-256(identity), the
//   two 32-byte points as sent (the smaller first, compared bytewise) and K compressed.

const Point = ed25519.Point;
const Fn = Point.Fn;
const Fp = Point.Fp;
const SIDE_SYMMETRIC = 0x53;

/** `point * scalar` for any scalar below L, 0 included (noble refuses 0 in `multiply`). */
function mul(point, scalar) {
  return scalar === 0n ? Point.ZERO : point.multiply(scalar);
}

/**
 * A point nobody knows the discrete log of, derived from a public seed as python-spake2 (and
 * so the `spake2` crate, which has the results as constants) derives M, N and S.
 * @param {string} seed `M`, `N` or `symmetric`.
 * @returns {Uint8Array} the compressed point.
 */
export function spake2ArbitraryElement(seed) {
  const expanded = hkdf(sha256, utf8(seed), EMPTY, utf8("SPAKE2 arbitrary element"), 48);
  const y = Fp.create(bytesToNumberBE(expanded));
  for (let plus = 0n; ; plus++) {
    const encoded = Fp.toBytes(Fp.create(y + plus)); // sign bit 0: the even x, as xrecover
    let point;
    try {
      point = Point.fromBytes(encoded);
    } catch {
      continue; // no point on the curve has this y
    }
    const inSubgroup = point.clearCofactor();
    if (!inSubgroup.is0()) return inSubgroup.toBytes();
  }
}

let pointS;
/** The blinding point of the symmetric mode, derived once. */
function blindingPoint() {
  pointS ??= Point.fromBytes(spake2ArbitraryElement("symmetric"));
  return pointS;
}

function passwordToScalar(password) {
  return Fn.create(bytesToNumberBE(hkdf(sha256, password, EMPTY, utf8("SPAKE2 pw"), 48)));
}

/**
 * Starts a symmetric SPAKE2 exchange as `Spake2::<Ed25519Group>::start_symmetric_with_rng`.
 * @param {Uint8Array} password
 * @param {Uint8Array} identity
 * @param {Uint8Array} randomness 64 bytes, from a cryptographic RNG except in test vectors.
 * @returns {{state: object, message: Uint8Array}} the state for {@link spake2Finish}, and the
 *   33-byte message for the peer.
 */
export function spake2Start(password, identity, randomness) {
  checkBytes(password, "password");
  checkBytes(identity, "identity");
  if (checkBytes(randomness, "randomness").length !== 64) {
    throw new TypeError("SPAKE2 takes 64 random bytes");
  }
  const x = Fn.create(bytesToNumberLE(randomness));
  const pw = passwordToScalar(password);
  const own = mul(Point.BASE, x).add(mul(blindingPoint(), pw)).toBytes();
  return {
    state: Object.freeze({ x, pw, password: password.slice(), identity: identity.slice(), own }),
    message: concatBytes(new Uint8Array([SIDE_SYMMETRIC]), own),
  };
}

/**
 * Finishes a symmetric SPAKE2 exchange with the peer's message, as `Spake2::finish`.
 * @param {object} state from {@link spake2Start}.
 * @param {Uint8Array} inbound the peer's 33-byte message.
 * @returns {Uint8Array} the 32-byte SPAKE2 key (equal on both sides only for one password).
 * @throws {CryptoError} `mismatch` when the message is not a symmetric SPAKE2 message.
 */
export function spake2Finish(state, inbound) {
  checkBytes(inbound, "inbound");
  if (inbound.length !== 33 || inbound[0] !== SIDE_SYMMETRIC) throw new CryptoError("mismatch");
  const theirs = inbound.slice(1);
  let peer;
  try {
    peer = Point.fromBytes(theirs, true); // ZIP-215 rules: what curve25519-dalek accepts
  } catch {
    throw new CryptoError("mismatch");
  }
  const unblinded = peer.add(mul(blindingPoint(), Fn.neg(state.pw)));
  const k = mul(unblinded, state.x).toBytes();
  const [first, second] = compareBytes(state.own, theirs) < 0
    ? [state.own, theirs]
    : [theirs, state.own];
  return sha256(
    concatBytes(sha256(state.password), sha256(state.identity), first, second, k),
  );
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// Toss on top of SPAKE2

const NAMEPLATE = /^(0[1-9][0-9]{0,6}|[1-9][0-9]{0,7})$/;

function checkNameplate(nameplate) {
  if (typeof nameplate !== "string" || !NAMEPLATE.test(nameplate)) {
    throw new TypeError(
      'a nameplate is the canonical number of a room ("42", or "042" on a local network; not "0042"), as the core prints it',
    );
  }
  return nameplate;
}

function checkPassword(password) {
  const words = typeof password === "string" ? password.split("-") : [];
  const isWords = words.length === 2 && words.every((w) => WORDS.includes(w));
  if (password !== NEARBY_PASSWORD && !isWords) {
    throw new TypeError('a password is two code words joined by "-", or the nearby password');
  }
  return password;
}

const NEW_PAKE = Symbol("Pake");

/**
 * A SPAKE2 exchange in progress, as the core's `Pake`: password the code's two words joined by
 * `-` (or `nearby`), identity `toss-session-v1/NAMEPLATE`.
 */
export class Pake {
  #state;
  #nameplate;
  #finished = false;

  /** @private Use {@link Pake.start}. */
  constructor(token, state, nameplate) {
    if (token !== NEW_PAKE) throw new TypeError("use Pake.start");
    this.#state = state;
    this.#nameplate = nameplate;
  }

  /**
   * Starts the exchange.
   * @param {string} nameplate the room's number, canonical (`42`).
   * @param {string} password the code's words joined by `-` (`orbit-lemon`), or
   *   {@link NEARBY_PASSWORD}.
   * @returns {{pake: Pake, message: Uint8Array}} the exchange, and the message for the peer.
   */
  static start(nameplate, password) {
    return Pake.startWithRandomness(nameplate, password, randomBytes(64));
  }

  /**
   * {@link Pake.start} with the 64 random bytes given, for test vectors only: a session with
   * chosen randomness is no secret from whoever chose it.
   * @param {string} nameplate
   * @param {string} password
   * @param {Uint8Array} randomness 64 bytes.
   * @returns {{pake: Pake, message: Uint8Array}}
   */
  static startWithRandomness(nameplate, password, randomness) {
    checkNameplate(nameplate);
    checkPassword(password);
    const { state, message } = spake2Start(
      utf8(password),
      utf8(`${SESSION_VERSION}/${nameplate}`),
      randomness,
    );
    return { pake: new Pake(NEW_PAKE, state, nameplate), message };
  }

  /**
   * Finishes with the peer's message and derives every session key. Once only.
   * @param {Uint8Array} inbound the peer's PAKE message.
   * @param {Role} role this side's role.
   * @returns {SessionKeys}
   * @throws {CryptoError} `mismatch` when the peer's message is malformed. A wrong code is only
   *   detected by {@link SessionKeys#checkConfirmation}.
   */
  finish(inbound, role) {
    checkRole(role);
    if (this.#finished) throw new TypeError("this exchange is already finished");
    this.#finished = true;
    const shared = spake2Finish(this.#state, inbound);
    this.#state = undefined;
    return new SessionKeys(NEW_KEYS, deriveKeyBytes(shared), role, this.#nameplate);
  }
}

function commitmentParts(nameplate) {
  return [utf8(SESSION_VERSION), utf8("pake-commit"), utf8(nameplate)].flatMap((part) => {
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(part.length), true);
    return [length, part];
  });
}

/**
 * The commitment the sender makes to its PAKE message before it sees the receiver's: SHA-256
 * over the length-prefixed (8 bytes, little-endian) version, `pake-commit` and nameplate, then
 * the message.
 * @param {string} nameplate
 * @param {Uint8Array} message the sender's PAKE message.
 * @returns {Uint8Array} 32 bytes.
 */
export function pakeCommitment(nameplate, message) {
  checkNameplate(nameplate);
  checkBytes(message, "message");
  return sha256(concatBytes(...commitmentParts(nameplate), message));
}

/**
 * Whether a revealed PAKE message is the one committed to, in constant time.
 * @param {string} nameplate
 * @param {Uint8Array} commitment what the `commit` message carried.
 * @param {Uint8Array} message the revealed PAKE message.
 * @returns {boolean}
 */
export function checkCommitment(nameplate, commitment, message) {
  checkBytes(commitment, "commitment");
  return constantTimeEqual(pakeCommitment(nameplate, message), commitment);
}

/** The HKDF info string of each session key, by what the core names it. */
const KEY_INFOS = Object.freeze([
  "confirm/sender",
  "confirm/receiver",
  "seal/sender->receiver",
  "seal/receiver->sender",
  "bind/sender",
  "bind/receiver",
]);

/**
 * Every key HKDF-SHA256 (salt `toss-session-v1`) derives from a SPAKE2 key, by info string:
 * the six 32-byte keys of {@link KEY_INFOS} and the 2 bytes `verification-words`. For test
 * vectors; a session gets its keys inside {@link SessionKeys} from {@link Pake#finish}.
 * @param {Uint8Array} spake2Key
 * @returns {Record<string, Uint8Array>}
 */
export function deriveKeyBytes(spake2Key) {
  const prk = extract(sha256, checkBytes(spake2Key, "spake2Key"), utf8(SESSION_VERSION));
  const out = {};
  for (const info of KEY_INFOS) out[info] = expand(sha256, prk, utf8(info), 32);
  out["verification-words"] = expand(sha256, prk, utf8("verification-words"), 2);
  return out;
}

/** HMAC-SHA256 over parts, each followed by a NUL byte. */
function macOverParts(key, parts) {
  return hmac(sha256, key, concatBytes(...parts.flatMap((p) => [utf8(p), NUL])));
}

const NEW_KEYS = Symbol("SessionKeys");

/** The keys both sides share after a successful PAKE, as the core's `SessionKeys`. */
export class SessionKeys {
  #role;
  #nameplate;
  #keys;
  #verification;
  #split = false;

  /** @private Made by {@link Pake#finish}. */
  constructor(token, keys, role, nameplate) {
    if (token !== NEW_KEYS) throw new TypeError("use Pake#finish");
    this.#keys = keys;
    this.#role = role;
    this.#nameplate = nameplate;
    const v = keys["verification-words"];
    this.#verification = `${WORDS[v[0]]} ${WORDS[v[1]]}`;
  }

  /** Two words both sides show, so that people can check they reached each other. */
  get verification() {
    return this.#verification;
  }

  /** This side's role. */
  get role() {
    return this.#role;
  }

  #key(info) {
    if (this.#split) throw new TypeError("these keys went into the channel");
    return this.#keys[info];
  }

  #confirmationMac(role) {
    return macOverParts(this.#key(`confirm/${role}`), [SESSION_VERSION, role, this.#nameplate]);
  }

  /**
   * This side's key confirmation, to send to the peer: HMAC-SHA256 with this side's
   * confirmation key over `toss-session-v1 \0 ROLE \0 NAMEPLATE \0`.
   * @returns {Uint8Array}
   */
  myConfirmation() {
    return this.#confirmationMac(this.#role);
  }

  /**
   * Checks the peer's key confirmation in constant time.
   * @param {Uint8Array} theirs
   * @throws {CryptoError} `mismatch` when the peer used another code.
   */
  checkConfirmation(theirs) {
    checkBytes(theirs, "theirs");
    if (!constantTimeEqual(this.#confirmationMac(peerOf(this.#role)), theirs)) {
      throw new CryptoError("mismatch");
    }
  }

  /**
   * Splits into the sealing and opening halves for the signaling channel, and the binder
   * that later ties the peer connection to the same keys. The keys are of no other use after.
   * @returns {{sealer: Sealer, opener: Opener, binder: ChannelBinder}}
   */
  intoChannel() {
    const me = this.#role;
    const peer = peerOf(me);
    const parts = {
      sealer: new Sealer(NEW_HALF, this.#key(`seal/${me}->${peer}`)),
      opener: new Opener(NEW_HALF, this.#key(`seal/${peer}->${me}`)),
      binder: new ChannelBinder(
        NEW_HALF,
        me,
        this.#nameplate,
        this.#key(`bind/${me}`),
        this.#key(`bind/${peer}`),
      ),
    };
    this.#split = true;
    this.#keys = undefined;
    return parts;
  }
}

const NEW_HALF = Symbol("channel");
const AAD = utf8(SESSION_VERSION);
/** Large enough for any session; the core's counter is a u64 too. */
const MAX_COUNTER = 2n ** 64n - 1n;

function nonce(counter) {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, counter, false);
  return n;
}

/** Seals outbound messages, numbering them so that the peer can refuse replays. */
export class Sealer {
  #key;
  #next = 0n;

  /** @private Made by {@link SessionKeys#intoChannel}. */
  constructor(token, key) {
    if (token !== NEW_HALF) throw new TypeError("use SessionKeys#intoChannel");
    this.#key = key;
  }

  /**
   * Seals `plaintext` as base64 of the 8-byte big-endian counter and the ChaCha20-Poly1305
   * ciphertext (nonce: 4 zero bytes and the counter; associated data `toss-session-v1`).
   * @param {Uint8Array} plaintext
   * @returns {string} what the `sealed` message carries.
   */
  seal(plaintext) {
    checkBytes(plaintext, "plaintext");
    if (this.#next > MAX_COUNTER) throw new RangeError("the counter is used up");
    const counter = this.#next;
    this.#next += 1n;
    const sealed = chacha20poly1305(this.#key, nonce(counter), AAD).encrypt(plaintext);
    const out = new Uint8Array(8 + sealed.length);
    new DataView(out.buffer).setBigUint64(0, counter, false);
    out.set(sealed, 8);
    return encode(out);
  }
}

/** Opens inbound messages in order; anything replayed, reordered or forged fails. */
export class Opener {
  #key;
  #next = 0n;

  /** @private Made by {@link SessionKeys#intoChannel}. */
  constructor(token, key) {
    if (token !== NEW_HALF) throw new TypeError("use SessionKeys#intoChannel");
    this.#key = key;
  }

  /**
   * Opens the next message.
   * @param {string} sealed what the `sealed` message carried.
   * @returns {Uint8Array} the plaintext.
   * @throws {CryptoError} `malformed` for what is not base64 or too short, `bad_seal` for
   *   anything but the next genuine message.
   */
  open(sealed) {
    const raw = decode(sealed);
    if (raw.length < 8 + 16) throw new CryptoError("malformed");
    const counter = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0, false);
    if (counter !== this.#next) throw new CryptoError("bad_seal");
    let plain;
    try {
      plain = chacha20poly1305(this.#key, nonce(counter), AAD).decrypt(raw.subarray(8));
    } catch {
      throw new CryptoError("bad_seal");
    }
    this.#next += 1n;
    return plain;
  }
}

/**
 * Binds the encrypted peer connection to the code: each side MACs both DTLS certificate
 * fingerprints as it sees them, so that a connection whose certificates were swapped on the
 * way (a man in the middle) fails even if every signaling message looked genuine.
 */
export class ChannelBinder {
  #role;
  #nameplate;
  #mine;
  #theirs;

  /** @private Made by {@link SessionKeys#intoChannel}. */
  constructor(token, role, nameplate, mine, theirs) {
    if (token !== NEW_HALF) throw new TypeError("use SessionKeys#intoChannel");
    this.#role = role;
    this.#nameplate = nameplate;
    this.#mine = mine;
    this.#theirs = theirs;
  }

  #mac(key, role, senderFp, receiverFp) {
    if (typeof senderFp !== "string" || typeof receiverFp !== "string") {
      throw new TypeError("fingerprints are strings (ab:cd:...)");
    }
    return macOverParts(key, [
      SESSION_VERSION,
      "channel-binding",
      role,
      this.#nameplate,
      senderFp,
      receiverFp,
    ]);
  }

  /**
   * This side's binding over the fingerprints as this side sees them: HMAC-SHA256 under
   * `bind/ROLE` over `toss-session-v1 \0 channel-binding \0 ROLE \0 NAMEPLATE \0 SENDER_FP \0
   * RECEIVER_FP \0`.
   * @param {string} senderFp the sender's certificate fingerprint.
   * @param {string} receiverFp the receiver's.
   * @returns {Uint8Array}
   */
  myBinding(senderFp, receiverFp) {
    return this.#mac(this.#mine, this.#role, senderFp, receiverFp);
  }

  /**
   * Checks the peer's binding against the fingerprints as this side sees them, in constant
   * time.
   * @param {Uint8Array} theirs
   * @param {string} senderFp
   * @param {string} receiverFp
   * @throws {CryptoError} `mismatch` when the peer saw other certificates (or other keys).
   */
  checkBinding(theirs, senderFp, receiverFp) {
    checkBytes(theirs, "theirs");
    const want = this.#mac(this.#theirs, peerOf(this.#role), senderFp, receiverFp);
    if (!constantTimeEqual(want, theirs)) throw new CryptoError("mismatch");
  }
}

// ---------------------------------------------------------------------------------------------
// BLAKE3

/**
 * BLAKE3 of `data` (32 bytes), as the core's `blake3::hash`: what `file_end` carries, in hex.
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
export function blake3(data) {
  return nobleBlake3(checkBytes(data, "data"));
}

/**
 * An incremental BLAKE3, for a file that arrives or leaves in chunks and is never held whole:
 * `update(chunk)` as often as needed, then `digest()`.
 * @returns {{update(chunk: Uint8Array): object, digest(): Uint8Array}}
 */
export function createBlake3() {
  return nobleBlake3.create();
}
