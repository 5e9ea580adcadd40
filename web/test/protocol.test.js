// web/test/protocol.test.js: the web peer's own protocol code under Node, without a browser:
// codes parse as the core parses them, control messages fragment and reassemble within the
// protocol's bounds, an offer is refused for what the core refuses, SDP fingerprints read as
// the core writes them, and a whole transfer runs between the page's sender and receiver over
// two connected in-memory channels (the real channel is the browser's; the browser tests in
// crates/cli/tests/browser.rs run the same code against the Rust peer).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CodeError, codeFromFragment, parseCode, randomPassword } from "../src/code.js";
import { decodeControl, fragment, Link, Reassembler } from "../src/link.js";
import { sdpFingerprint } from "../src/peer.js";
import { cleanPart, downloadName } from "../src/save.js";
import { blake3, Role } from "../src/crypto.js";
import { Paired } from "../src/session.js";
import { inviteLink, serverUrl } from "../src/signal.js";
import { checkOffer, RECEIVE_WINDOW, receiveFiles, sendFiles } from "../src/transfer.js";

describe("codes", () => {
  it("parses what people type, as the core does", () => {
    assert.deepEqual(parseCode("  42 Orbit-LEMON "), { nameplate: "42", password: "orbit-lemon", text: "42-orbit-lemon" });
    // A leading 0: a room on the sender's local network, another room than a server's 42.
    assert.deepEqual(parseCode("0042 orbit lemon"), { nameplate: "042", password: "orbit-lemon", text: "042-orbit-lemon" });
    assert.throws(() => parseCode("0-acid-acid"), /starts with a number/u);
  });

  it("refuses with the core's sentences", () => {
    assert.throws(() => parseCode(""), { message: "enter the code the sender gave you, like 42-orbit-lemon" });
    assert.throws(() => parseCode("x-orbit-lemon"), CodeError);
    assert.throws(() => parseCode("123456789-orbit-lemon"), /starts with a number/u);
    assert.throws(() => parseCode("42-orbit"), { message: "a code is a number and two words, like 42-orbit-lemon" });
    assert.throws(() => parseCode("42-orbit-lemonade"), { message: "\"lemonade\" is not one of Toss's code words; check the spelling" });
  });

  it("makes passwords of two list words and reads a link's fragment", () => {
    assert.doesNotThrow(() => parseCode(`7-${randomPassword()}`));
    assert.equal(codeFromFragment("#42-orbit-lemon"), "42-orbit-lemon");
    assert.equal(codeFromFragment(""), null);
  });
});

describe("control framing", () => {
  it("splits at 64 KiB with markers and reassembles", () => {
    const json = JSON.stringify({ v: 1, type: "offer", text: "é".repeat(100_000) });
    const pieces = fragment(json);
    assert.ok(pieces.length > 1);
    for (const p of pieces) assert.ok(new TextEncoder().encode(p).length <= 64 * 1024);
    assert.ok(pieces.slice(0, -1).every((p) => p[0] === "+") && pieces.at(-1)[0] === ".");
    const r = new Reassembler();
    const out = pieces.map((p) => r.push(p));
    assert.equal(out.at(-1), json);
    assert.ok(out.slice(0, -1).every((x) => x === null));
  });

  it("refuses a message with no marker, past 4 MiB, or of another version", () => {
    assert.throws(() => new Reassembler().push("{}"), /fragment marker/u);
    const r = new Reassembler();
    assert.throws(() => {
      for (let i = 0; i < 70; i += 1) r.push(`+${"x".repeat(65_000)}`);
    }, /over 4 MiB/u);
    assert.throws(() => decodeControl('{"v":2,"type":"done"}'), /version 2; update Toss/u);
    assert.throws(() => decodeControl("nope"), /not valid JSON/u);
  });
});

describe("offers", () => {
  const offer = (files, extra = {}) => ({ v: 1, type: "offer", device: "laptop", files, ...extra });

  it("takes an ordinary offer", () => {
    const o = checkOffer(offer([{ path: "a/b.txt", size: 3 }, { path: "c", size: 0 }]));
    assert.equal(o.total, 3);
    assert.equal(o.files.length, 2);
  });

  it("refuses what the core refuses", () => {
    for (const path of ["/etc/passwd", "a/../b", "..", "a//b", "C:/x", "a\\b", ""]) {
      assert.throws(() => checkOffer(offer([{ path, size: 1 }])), /other side sent something invalid/u, path);
    }
    assert.throws(() => checkOffer(offer([{ path: "a", size: 1 }, { path: "a", size: 2 }])), /same path twice/u);
    assert.throws(() => checkOffer(offer([])), /offer of nothing/u);
    assert.throws(() => checkOffer(offer([], { text: "x".repeat(64 * 1024 + 1) })), /over 64 KiB/u);
    assert.throws(() => checkOffer(offer([{ path: "a", size: -1 }])), /not a path and a size/u);
    assert.throws(() => checkOffer(offer([{ path: "a", size: 16 * 1024 ** 4 + 1 }])), /16 TiB/u);
  });
});

describe("fingerprints and names", () => {
  it("reads an SDP's SHA-256 fingerprint in the core's form", () => {
    const fp = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, "0").toUpperCase()).join(":");
    assert.equal(sdpFingerprint(`v=0\r\na=fingerprint:sha-256 ${fp}\r\n`), fp.toLowerCase());
    assert.throws(() => sdpFingerprint("v=0\r\na=fingerprint:sha-1 AB:CD\r\n"), /tampered/u);
  });

  it("names a download after its files and cleans names for a folder", () => {
    assert.equal(downloadName([{ path: "a.txt" }]), "a.txt");
    assert.equal(downloadName([{ path: "photos/a.jpg" }, { path: "photos/b/c.jpg" }]), "photos.zip");
    assert.equal(downloadName([{ path: "a" }, { path: "b" }]), "toss-files.zip");
    assert.equal(cleanPart("..\u202eevil:name?.txt"), "evil_name_.txt");
    assert.equal(cleanPart("CON"), "_CON");
  });
});

/** Two in-memory data channels joined back to back, with the browser's events and buffer. */
function channelPair() {
  const make = () => {
    const ch = new EventTarget();
    ch.readyState = "open";
    ch.bufferedAmount = 0;
    ch.bufferedAmountLowThreshold = 0;
    return ch;
  };
  const a = make();
  const b = make();
  const wire = (from, to) => {
    from.send = (data) => {
      if (from.readyState !== "open") throw new Error("closed");
      const copy = typeof data === "string" ? data : new Uint8Array(data).slice().buffer;
      setImmediate(() => to.dispatchEvent(Object.assign(new Event("message"), { data: copy })));
    };
    from.close = () => {
      for (const ch of [from, to]) {
        if (ch.readyState === "closed") continue;
        ch.readyState = "closed";
        setImmediate(() => ch.dispatchEvent(new Event("close")));
      }
    };
  };
  wire(a, b);
  wire(b, a);
  return [a, b];
}

/** A File-like object over bytes, as `sendFiles` reads one. */
function fakeFile(name, bytes) {
  return { name, size: bytes.length, slice: (s, e) => ({ arrayBuffer: async () => bytes.slice(s, e).buffer }) };
}

function memorySink() {
  const files = new Map();
  return {
    files,
    kind: "test",
    async open(index, path) {
      const parts = [];
      return {
        write: async (b) => parts.push(b.slice()),
        close: async () => files.set(path, Buffer.concat(parts)),
      };
    },
    async finish() {},
    async abort() {
      files.clear();
    },
  };
}

describe("a transfer between the page's two ends", () => {
  it("delivers files byte for byte, each checked by BLAKE3", async () => {
    const [a, b] = channelPair();
    const big = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 31) & 0xff);
    const items = [
      { file: fakeFile("big.bin", big), path: "dir/big.bin" },
      { file: fakeFile("empty", new Uint8Array(0)), path: "dir/sub/empty" },
    ];
    const sink = memorySink();
    const seen = [];
    const cancel = new AbortController().signal;
    const [, got] = await Promise.all([
      sendFiles(new Link(a), items, { device: "test", report: () => {}, cancel }),
      receiveFiles(new Link(b), { decide: async (o) => (seen.push(o), sink), report: () => {}, cancel }),
    ]);
    assert.equal(got.declined, false);
    assert.deepEqual(seen[0].files, [{ path: "dir/big.bin", size: big.length }, { path: "dir/sub/empty", size: 0 }]);
    assert.deepEqual(blake3(sink.files.get("dir/big.bin")), blake3(big));
    assert.equal(sink.files.get("dir/sub/empty").length, 0);
  });

  it("a receiver that saves slowly holds the sender to its window", async () => {
    const [a, b] = channelPair();
    let arrived = 0;
    b.addEventListener("message", (e) => {
      if (typeof e.data !== "string") arrived += e.data.byteLength;
    });
    const data = new Uint8Array(RECEIVE_WINDOW * 2 + 777).map((_, i) => (i * 7) & 0xff);
    const sink = memorySink();
    // The saver takes its first chunk, then waits until the test lets it go on.
    let release;
    const gate = new Promise((r) => (release = r));
    const open = sink.open.bind(sink);
    sink.open = async (index, path) => {
      const w = await open(index, path);
      let first = true;
      return {
        write: async (bytes) => {
          await w.write(bytes);
          if (first) {
            first = false;
            await gate;
          }
        },
        close: w.close,
      };
    };
    const cancel = new AbortController().signal;
    const sending = sendFiles(new Link(a), [{ file: fakeFile("f", data), path: "f" }], { device: "t", report: () => {}, cancel });
    const receiving = receiveFiles(new Link(b), { decide: async () => sink, report: () => {}, cancel });
    // Until the window has arrived (at most 5 s), and a moment more for anything beyond it.
    for (let i = 0; i < 100 && arrived < RECEIVE_WINDOW; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(arrived > 0, `the sender started (${arrived})`);
    assert.ok(arrived <= RECEIVE_WINDOW, `${arrived} bytes arrived while the receiver had taken one chunk`);
    release();
    await Promise.all([sending, receiving]);
    assert.deepEqual(blake3(sink.files.get("f")), blake3(data));
  });

  it("a decline reaches the sender and nothing is saved", async () => {
    const [a, b] = channelPair();
    const cancel = new AbortController().signal;
    const sending = sendFiles(new Link(a), [{ file: fakeFile("x", new Uint8Array(10)), path: "x" }], { device: "t", report: () => {}, cancel });
    const receiving = receiveFiles(new Link(b), { decide: async () => null, report: () => {}, cancel });
    await assert.rejects(sending, { kind: "declined", message: "the receiver declined the transfer" });
    a.close();
    assert.equal((await receiving).declined, true);
  });
});

/** A room whose messages the test hands in, under a seal that is the identity. */
function fakeRoom() {
  const queue = [];
  let wake = null;
  const conn = {
    recv: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => (wake = r))),
    send: () => {},
    close: () => {},
  };
  const keys = {
    role: Role.Receiver,
    verification: "test words",
    intoChannel: () => ({ sealer: { seal: (b) => b }, opener: { open: (text) => new TextEncoder().encode(text) }, binder: {} }),
  };
  const say = (signal) => {
    const msg = { type: "message", body: JSON.stringify({ kind: "sealed", data: JSON.stringify(signal) }) };
    if (wake) {
      const w = wake;
      wake = null;
      w(msg);
    } else queue.push(msg);
  };
  return { paired: new Paired(conn, keys), say };
}

describe("the room's signals", () => {
  it("a listener told to stop takes nothing: the next one hears the peer's cancel", async () => {
    const { paired, say } = fakeRoom();
    const stop = new AbortController();
    const first = paired.hear(stop.signal);
    stop.abort(new Error("done"));
    await assert.rejects(first, { message: "done" });
    // A late step that listens again with its stopped switch gets nothing either.
    await assert.rejects(paired.hear(stop.signal), { message: "done" });
    say({ kind: "cancel" });
    assert.deepEqual(await paired.hear(), { kind: "cancel" });
  });
});

describe("the server's invite", () => {
  it("names the page's own server for the app, over https only", () => {
    const at = (href) => ({ href });
    // crates/core/src/invite.rs reads this very string as wss://vps.toss.test.
    assert.equal(inviteLink(at("https://vps.toss.test/#42-orbit-lemon")), "toss://server?url=wss%3A%2F%2Fvps.toss.test%2F");
    assert.equal(serverUrl(at("https://example.org/toss/?x=1#c")), "wss://example.org/toss/");
    assert.equal(inviteLink(at("https://example.org/toss/")), "toss://server?url=wss%3A%2F%2Fexample.org%2Ftoss%2F");
    assert.equal(inviteLink(at("http://192.168.1.20:8787/#42-orbit-lemon")), null);
  });
});
