// web/test/crypto.test.js: the web peer's crypto reproduces, byte for byte, the vectors that
// crates/core/tests/web_vectors.rs writes from the real Rust core (fixtures/vectors.json), and
// refuses what the core refuses. Run with `node --test test/` in web/.
//
// Every expected value comes from the fixture; nothing here is computed by hand. When the
// fixture changes, it is because the Rust test rewrote it: run that test, then this one.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  checkCommitment,
  constantTimeEqual,
  createBlake3,
  CryptoError,
  blake3,
  decode,
  deriveKeyBytes,
  encode,
  NEARBY_PASSWORD,
  Pake,
  pakeCommitment,
  peerOf,
  Role,
  SESSION_VERSION,
  spake2ArbitraryElement,
  spake2Finish,
  spake2Start,
} from "../src/crypto.js";
import { WORDS } from "../src/wordlist.js";

const vectors = JSON.parse(
  readFileSync(new URL("./fixtures/vectors.json", import.meta.url), "utf8"),
);

const fromHex = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");
const utf8 = (text) => new TextEncoder().encode(text);
const text = (bytes) => new TextDecoder().decode(bytes);

/** Asserts that `fn` throws a CryptoError of `kind`. */
function throwsCrypto(fn, kind) {
  assert.throws(fn, (e) => e instanceof CryptoError && e.kind === kind);
}

/** Both sides of an honest exchange, started from the fixture's randomness. */
function start(exchange, who, password = exchange.spake2_password) {
  return Pake.startWithRandomness(
    exchange.nameplate,
    password,
    fromHex(exchange[who].randomness_hex),
  );
}

function finishBoth(exchange) {
  const sender = start(exchange, "sender");
  const receiver = start(exchange, "receiver");
  return {
    sender: sender.pake.finish(receiver.message, Role.Sender),
    receiver: receiver.pake.finish(sender.message, Role.Receiver),
  };
}

describe("shared constants", () => {
  it("has the core session version and word list", () => {
    assert.equal(SESSION_VERSION, vectors.session_version);
    assert.equal(WORDS.length, 256);
    assert.deepEqual([...WORDS], vectors.wordlist);
  });

  it("derives the SPAKE2 points M, N and S from their seeds", () => {
    assert.equal(vectors.spake2_points.length, 3);
    for (const point of vectors.spake2_points) {
      assert.equal(toHex(spake2ArbitraryElement(point.seed)), point.compressed_hex, point.name);
    }
  });
});

for (const exchange of vectors.exchanges) {
  describe(`the ${exchange.name} exchange`, () => {
    const password = utf8(exchange.spake2_password);
    const identity = utf8(exchange.spake2_identity);

    it("feeds SPAKE2 the core identity and password", () => {
      // Pake builds the identity; spake2Start takes it as given. Same bytes, same message.
      for (const who of ["sender", "receiver"]) {
        const randomness = fromHex(exchange[who].randomness_hex);
        const raw = spake2Start(password, identity, randomness).message;
        assert.equal(encode(start(exchange, who).message), encode(raw));
      }
      if (exchange.name === "nearby") assert.equal(exchange.spake2_password, NEARBY_PASSWORD);
    });

    it("makes the same SPAKE2 messages from the same randomness", () => {
      assert.equal(encode(start(exchange, "sender").message), exchange.sender.pake_msg_b64);
      assert.equal(encode(start(exchange, "receiver").message), exchange.receiver.pake_msg_b64);
    });

    it("derives the same SPAKE2 key from the peer's message", () => {
      for (const [me, peer] of [
        ["sender", "receiver"],
        ["receiver", "sender"],
      ]) {
        const { state } = spake2Start(password, identity, fromHex(exchange[me].randomness_hex));
        const key = spake2Finish(state, decode(exchange[peer].pake_msg_b64));
        assert.equal(toHex(key), exchange[me].spake2_key_hex, me);
      }
    });

    it("derives every session key and the verification words", () => {
      const keys = deriveKeyBytes(fromHex(exchange.sender.spake2_key_hex));
      const infos = Object.keys(exchange.keys_hex);
      assert.equal(infos.length, 6);
      for (const info of infos) assert.equal(toHex(keys[info]), exchange.keys_hex[info], info);
      const [a, b] = keys["verification-words"];
      assert.equal(`${WORDS[a]} ${WORDS[b]}`, exchange.verification_words);
      const both = finishBoth(exchange);
      assert.equal(both.sender.verification, exchange.verification_words);
      assert.equal(both.receiver.verification, exchange.verification_words);
    });

    it("commits to the sender's message as the core does", () => {
      const message = decode(exchange.sender.pake_msg_b64);
      const commitment = pakeCommitment(exchange.nameplate, message);
      assert.equal(encode(commitment), exchange.commit_hash_b64);
      assert.ok(checkCommitment(exchange.nameplate, decode(exchange.commit_hash_b64), message));
    });

    it("refuses a revealed message other than the committed one", () => {
      const commitment = decode(exchange.commit_hash_b64);
      const committed = decode(exchange.sender.pake_msg_b64);
      // The receiver's message is as valid as the sender's, and so is a fresh one for the same
      // password: what a man in the middle would reveal after seeing the honest ones.
      const fresh = Pake.start(exchange.nameplate, exchange.spake2_password).message;
      for (const other of [decode(exchange.receiver.pake_msg_b64), fresh]) {
        assert.ok(!checkCommitment(exchange.nameplate, commitment, other));
      }
      const otherRoom = String(Number(exchange.nameplate) + 1);
      assert.ok(!checkCommitment(otherRoom, commitment, committed));
      assert.ok(!checkCommitment(exchange.nameplate, commitment.subarray(0, 31), committed));
      const flipped = committed.slice();
      flipped[32] ^= 1;
      assert.ok(!checkCommitment(exchange.nameplate, commitment, flipped));
    });

    it("confirms with the same MACs, and each side accepts only the other", () => {
      const { sender, receiver } = finishBoth(exchange);
      assert.equal(encode(sender.myConfirmation()), exchange.sender.confirm_mac_b64);
      assert.equal(encode(receiver.myConfirmation()), exchange.receiver.confirm_mac_b64);
      receiver.checkConfirmation(decode(exchange.sender.confirm_mac_b64));
      sender.checkConfirmation(decode(exchange.receiver.confirm_mac_b64));
      // Reflected by the server, a side's own confirmation does not pass.
      throwsCrypto(
        () => sender.checkConfirmation(decode(exchange.sender.confirm_mac_b64)),
        "mismatch",
      );
      throwsCrypto(
        () => sender.checkConfirmation(decode(exchange.receiver.confirm_mac_b64).subarray(1)),
        "mismatch",
      );
    });

    it("seals the same ciphertexts and opens the core ones, both ways", () => {
      const { sender, receiver } = finishBoth(exchange);
      const s = sender.intoChannel();
      const r = receiver.intoChannel();
      assert.equal(exchange.sealed_sender_to_receiver.length, 3);
      assert.equal(exchange.sealed_receiver_to_sender.length, 3);
      for (const { plaintext, data_b64 } of exchange.sealed_sender_to_receiver) {
        assert.equal(s.sealer.seal(utf8(plaintext)), data_b64);
        assert.equal(text(r.opener.open(data_b64)), plaintext);
      }
      for (const { plaintext, data_b64 } of exchange.sealed_receiver_to_sender) {
        assert.equal(r.sealer.seal(utf8(plaintext)), data_b64);
        assert.equal(text(s.opener.open(data_b64)), plaintext);
      }
    });

    it("binds the channel with the same MACs", () => {
      const { sender, receiver } = finishBoth(exchange);
      const s = sender.intoChannel().binder;
      const r = receiver.intoChannel().binder;
      const b = exchange.channel_binding;
      const wire = (mac) => `.${encode(mac)}`;
      assert.equal(
        wire(s.myBinding(b.sender_fingerprint, b.receiver_fingerprint)),
        b.sender_message,
      );
      assert.equal(
        wire(r.myBinding(b.sender_fingerprint, b.receiver_fingerprint)),
        b.receiver_message,
      );
      const senders = decode(b.sender_message.slice(1));
      const receivers = decode(b.receiver_message.slice(1));
      r.checkBinding(senders, b.sender_fingerprint, b.receiver_fingerprint);
      s.checkBinding(receivers, b.sender_fingerprint, b.receiver_fingerprint);
      // A man in the middle shows each side another certificate for the other.
      const forged = b.receiver_fingerprint.replace(/^../, "ee");
      assert.notEqual(forged, b.receiver_fingerprint);
      throwsCrypto(() => s.checkBinding(receivers, b.sender_fingerprint, forged), "mismatch");
      throwsCrypto(
        () => r.checkBinding(senders, b.receiver_fingerprint, b.receiver_fingerprint),
        "mismatch",
      );
      // Reflected to its maker, a binding does not pass.
      throwsCrypto(
        () => s.checkBinding(senders, b.sender_fingerprint, b.receiver_fingerprint),
        "mismatch",
      );
    });
  });
}

describe("a wrong code", () => {
  const w = vectors.wrong_code;
  const sides = {
    sender: { password: w.sender_password, role: Role.Sender, peer: "receiver" },
    receiver: { password: w.receiver_password, role: Role.Receiver, peer: "sender" },
  };
  const startSide = (who) =>
    Pake.startWithRandomness(w.nameplate, sides[who].password, fromHex(w[who].randomness_hex));

  it("gives each side the keys the core gives it, which differ", () => {
    assert.notEqual(w.sender_password, w.receiver_password);
    for (const who of ["sender", "receiver"]) {
      const { message } = startSide(who);
      assert.equal(encode(message), w[who].pake_msg_b64, who);
      const { state } = spake2Start(
        utf8(sides[who].password),
        utf8(w.spake2_identity),
        fromHex(w[who].randomness_hex),
      );
      const key = spake2Finish(state, decode(w[sides[who].peer].pake_msg_b64));
      assert.equal(toHex(key), w[who].spake2_key_hex, who);
      const keys = deriveKeyBytes(key);
      for (const [info, hex] of Object.entries(w[who].keys_hex)) {
        assert.equal(toHex(keys[info]), hex, `${who} ${info}`);
      }
    }
    assert.notEqual(w.sender.spake2_key_hex, w.receiver.spake2_key_hex);
    assert.notEqual(w.sender.keys_hex["confirm/sender"], w.receiver.keys_hex["confirm/sender"]);
  });

  it("fails the confirmation check on both sides", () => {
    for (const who of ["sender", "receiver"]) {
      const { pake } = startSide(who);
      const keys = pake.finish(decode(w[sides[who].peer].pake_msg_b64), sides[who].role);
      assert.equal(keys.verification, w[who].verification_words);
      assert.equal(encode(keys.myConfirmation()), w[who].confirm_mac_b64);
      assert.equal(w[who].accepts_peer_confirmation, false);
      throwsCrypto(
        () => keys.checkConfirmation(decode(w[sides[who].peer].confirm_mac_b64)),
        "mismatch",
      );
    }
  });

  it("fails for any other password too, with keys other than the honest ones", () => {
    const exchange = vectors.exchanges.find((e) => e.name === "code");
    const [first, second] = exchange.spake2_password.split("-");
    const other = `${first}-${WORDS[(WORDS.indexOf(second) + 1) % WORDS.length]}`;
    const sender = start(exchange, "sender");
    const receiver = start(exchange, "receiver", other);
    assert.notEqual(encode(receiver.message), exchange.receiver.pake_msg_b64);
    const keys = sender.pake.finish(receiver.message, Role.Sender);
    const theirs = receiver.pake.finish(sender.message, Role.Receiver);
    assert.notEqual(encode(keys.myConfirmation()), exchange.sender.confirm_mac_b64);
    throwsCrypto(() => keys.checkConfirmation(theirs.myConfirmation()), "mismatch");
    throwsCrypto(() => theirs.checkConfirmation(keys.myConfirmation()), "mismatch");
  });
});

describe("hostile SPAKE2 messages", () => {
  const exchange = vectors.exchanges[0];
  it("end as they end in the core: the same key, or refused", () => {
    assert.ok(vectors.hostile_pake_messages.some((m) => m.spake2_key_hex === null));
    assert.ok(vectors.hostile_pake_messages.filter((m) => m.spake2_key_hex !== null).length > 1);
    for (const m of vectors.hostile_pake_messages) {
      const { state } = spake2Start(
        utf8(exchange.spake2_password),
        utf8(exchange.spake2_identity),
        fromHex(exchange.sender.randomness_hex),
      );
      const inbound = fromHex(m.pake_msg_hex);
      if (m.spake2_key_hex === null) {
        throwsCrypto(() => spake2Finish(state, inbound), "mismatch");
        throwsCrypto(() => start(exchange, "sender").pake.finish(inbound, Role.Sender), "mismatch");
      } else {
        assert.equal(toHex(spake2Finish(state, inbound)), m.spake2_key_hex, m.what);
      }
    }
  });
});

describe("sealed messages that must not open", () => {
  const exchange = vectors.exchanges[0];
  const [first, second] = exchange.sealed_sender_to_receiver.map((m) => m.data_b64);
  const channel = () => {
    const { sender, receiver } = finishBoth(exchange);
    return { s: sender.intoChannel(), r: receiver.intoChannel() };
  };

  it("refuses a tampered message anywhere in it, and still opens the genuine one after", () => {
    const raw = decode(first);
    for (const at of [0, 7, 8, raw.length - 17, raw.length - 1]) {
      const { r } = channel();
      const tampered = raw.slice();
      tampered[at] ^= 1;
      // Byte 0..7 is the counter: a changed counter is out of order; after it, the tag fails.
      throwsCrypto(() => r.opener.open(encode(tampered)), "bad_seal");
      assert.equal(text(r.opener.open(first)), exchange.sealed_sender_to_receiver[0].plaintext);
    }
  });

  it("refuses a replayed, reordered or reflected message", () => {
    const { s, r } = channel();
    throwsCrypto(() => r.opener.open(second), "bad_seal"); // second before first
    r.opener.open(first);
    throwsCrypto(() => r.opener.open(first), "bad_seal"); // replayed
    r.opener.open(second);
    // Reflected to the sender: the other direction's key.
    throwsCrypto(() => s.opener.open(first), "bad_seal");
  });

  it("refuses what is not canonical base64 or too short", () => {
    const { r } = channel();
    throwsCrypto(() => r.opener.open("!!"), "malformed");
    throwsCrypto(() => r.opener.open(` ${first}`), "malformed");
    throwsCrypto(() => r.opener.open(encode(decode(first).subarray(0, 23))), "malformed");
    const padded = exchange.sealed_sender_to_receiver
      .map((m) => Buffer.from(decode(m.data_b64)).toString("base64"))
      .filter((b64) => b64.endsWith("="));
    assert.ok(padded.length > 0);
    for (const b64 of padded) throwsCrypto(() => r.opener.open(b64), "malformed");
    assert.equal(text(r.opener.open(first)), exchange.sealed_sender_to_receiver[0].plaintext);
  });
});

describe("base64 as the core writes it", () => {
  it("matches standard base64 without padding, and decodes back", () => {
    const bytes = fromHex(exchange0().sender.randomness_hex);
    for (let n = 0; n <= bytes.length; n++) {
      const part = bytes.subarray(0, n);
      const want = Buffer.from(part).toString("base64").replace(/=+$/, "");
      assert.equal(encode(part), want);
      assert.deepEqual(decode(want), part);
    }
  });

  it("refuses padding, whitespace, the URL alphabet and stray bits", () => {
    const mac = exchange0().sender.confirm_mac_b64; // 32 bytes: 43 characters
    assert.equal(mac.length % 4, 3);
    for (const bad of [`${mac}=`, `${mac}\n`, ` ${mac}`, "A", "AB=="]) {
      throwsCrypto(() => decode(bad), "malformed");
    }
    // The URL-safe alphabet's - and _ stand for + and /.
    const withPlusOrSlash = vectors.exchanges
      .flatMap((e) => e.sealed_sender_to_receiver.map((m) => m.data_b64))
      .filter((b64) => /[+/]/.test(b64));
    assert.ok(withPlusOrSlash.length > 0);
    for (const b64 of withPlusOrSlash) {
      throwsCrypto(() => decode(b64.replace("+", "-").replace("/", "_")), "malformed");
    }
    // The last of 43 characters carries 2 bits past the 32 bytes; they must be zero.
    const charFor = (sixBits) => encode(Uint8Array.of(sixBits << 2))[0];
    const last = [...Array(64).keys()].find((v) => charFor(v) === mac.at(-1));
    assert.equal(last & 3, 0);
    throwsCrypto(() => decode(mac.slice(0, -1) + charFor(last | 1)), "malformed");
  });
});

function exchange0() {
  return vectors.exchanges[0];
}

describe("BLAKE3", () => {
  const data = (length) => Uint8Array.from({ length }, (_, i) => i % 251);

  it("hashes the fixed data as the core does", () => {
    assert.equal(vectors.blake3.length, 3);
    for (const v of vectors.blake3) assert.equal(toHex(blake3(data(v.length))), v.hash_hex, v.what);
  });

  it("gives the same hash in 16 KiB chunks", () => {
    const v = vectors.blake3.at(-1);
    const bytes = data(v.length);
    const hasher = createBlake3();
    for (let i = 0; i < bytes.length; i += 16384) hasher.update(bytes.subarray(i, i + 16384));
    assert.equal(toHex(hasher.digest()), v.hash_hex);
  });
});

describe("the session API", () => {
  it("agrees with itself from real randomness, and differs each time", () => {
    const exchange = exchange0();
    const a = Pake.start(exchange.nameplate, exchange.spake2_password);
    const b = Pake.start(exchange.nameplate, exchange.spake2_password);
    assert.notEqual(encode(a.message), encode(b.message));
    assert.notEqual(encode(a.message), exchange.sender.pake_msg_b64);
    const ka = a.pake.finish(b.message, Role.Sender);
    const kb = b.pake.finish(a.message, Role.Receiver);
    assert.equal(ka.verification, kb.verification);
    kb.checkConfirmation(ka.myConfirmation());
    ka.checkConfirmation(kb.myConfirmation());
  });

  it("refuses what the core could never be given", () => {
    const exchange = exchange0();
    const randomness = fromHex(exchange.sender.randomness_hex);
    const password = exchange.spake2_password;
    // The core's nameplate is canonical: "0042" would be another identity, so another key.
    const startWith = (nameplate, words, bytes) =>
      Pake.startWithRandomness(nameplate, words, bytes);
    assert.throws(() => startWith(`00${exchange.nameplate}`, password, randomness), TypeError);
    assert.throws(() => startWith(exchange.nameplate, `${password}x`, randomness), TypeError);
    assert.throws(() => startWith(exchange.nameplate, password, randomness.subarray(1)), TypeError);
    assert.throws(() => startWith(Number(exchange.nameplate), password, randomness), TypeError);
    assert.throws(() => new Pake(), TypeError);
    const { pake } = start(exchange, "sender");
    pake.finish(decode(exchange.receiver.pake_msg_b64), Role.Sender);
    const again = () => pake.finish(decode(exchange.receiver.pake_msg_b64), Role.Sender);
    assert.throws(again, TypeError);
  });

  it("uses the keys for nothing once they went into the channel", () => {
    const { sender } = finishBoth(exchange0());
    sender.intoChannel();
    assert.throws(() => sender.myConfirmation(), TypeError);
    assert.throws(() => sender.intoChannel(), TypeError);
  });

  it("names roles as the core labels them, and compares in constant time", () => {
    assert.equal(peerOf(Role.Sender), Role.Receiver);
    assert.equal(peerOf(Role.Receiver), Role.Sender);
    assert.throws(() => peerOf("Sender"), TypeError);
    const mac = decode(exchange0().sender.confirm_mac_b64);
    assert.ok(constantTimeEqual(mac, mac.slice()));
    assert.ok(!constantTimeEqual(mac, mac.subarray(1)));
    const other = mac.slice();
    other[31] ^= 0x80;
    assert.ok(!constantTimeEqual(mac, other));
  });
});
