// The core's events, exactly as toss-core serializes them (fixtures/events.json), run through
// transfer.js: what each screen's status line, file list, progress and finished card tell
// the user, and what the live region says, at every step of each kind of transfer.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyEvent,
  createTransfer,
  describeTransfer,
  doneDetail,
  doneTitle,
  groupText,
  groupTotals,
  isTextOnly,
  linkText,
  looksLikeLink,
  memberName,
  memberState,
  memberStateText,
  offerAmount,
  pathText,
  progressLines,
  qrText,
  statusText,
  summaryText,
} from "../transfer.js";
import { all, events, pick, tagged } from "./fixture.js";

/** Applies `event`, which must change the transfer. */
function apply(t, event) {
  assert.equal(applyEvent(t, event), "changed", `${event.event} changes the transfer`);
  return t;
}

/** What the status line and the live region say now. */
function told(t) {
  return { status: statusText(t), spoken: describeTransfer(t) };
}

const direct = (e) => e.path.kind === "direct";
const stun = (e) => e.path.kind === "stun";
const relay = (e) => e.path.kind === "relay";
const filesOnly = (e) => e.files.length > 1 && e.text === undefined;
const textOnly = (e) => e.files.length === 0;
const filesAndText = (e) => e.files.length > 0 && typeof e.text === "string";
const received = (e) => e.files > 0 && typeof e.saved_to === "string";
const sent = (e) => e.files > 0 && e.saved_to === undefined;
const textDone = (e) => e.files === 0;

describe("the fixture", () => {
  test("holds every event the core emits, each of them handled", () => {
    const names = new Set(events.map((e) => e.event));
    assert.deepEqual(
      [...names].sort(),
      [
        "accepted",
        "check_words",
        "code",
        "code_ended",
        "connected",
        "done",
        "error",
        "file_done",
        "interrupted",
        "joiner",
        "notice",
        "offer",
        "path_probed",
        "peer_connected",
        "progress",
        "reconnecting",
        "restored",
        "resumed",
        "waiting_for_accept",
      ].sort(),
    );
    // What only a group code's sender hears: about the code, or about one receiver.
    const groupOnly = new Set(["joiner", "code_ended"]);
    for (const event of [...events.filter((e) => groupOnly.has(e.event)), ...tagged]) {
      const t = createTransfer("send", { receivers: 3 });
      const ev = event.event === "joiner" ? { receiver: 1, ...event } : event;
      assert.equal(applyEvent(t, structuredClone(ev)), "changed", `group: ${event.event}`);
      assert.equal(applyEvent(createTransfer("send"), structuredClone(ev)), "ignored", `single: ${event.event}`);
    }
    for (const event of events.filter((e) => !groupOnly.has(e.event))) {
      for (const direction of ["send", "receive"]) {
        const t = createTransfer(direction);
        // A probed path's size changes a connection's details: there is one first.
        if (event.event === "path_probed") apply(t, pick("connected", stun));
        const outcome = applyEvent(t, structuredClone(event));
        assert.equal(outcome, event.event === "error" ? "error" : "changed", `${direction}: ${event.event}`);
      }
    }
  });

  test("an event the UI does not know is ignored, not a failure", () => {
    const t = createTransfer("receive");
    assert.equal(applyEvent(t, { event: "something_new" }), "ignored");
    assert.equal(applyEvent(t, null), "ignored");
    assert.equal(t.phase, "connecting");
  });

  test("every network path is put in words", () => {
    assert.equal(pathText(pick("connected", direct).path), "directly on your local network");
    assert.equal(pathText(pick("connected", stun).path), "directly, through your router");
    assert.equal(pathText(pick("connected", relay).path), "through a relay server");
    assert.equal(pathText(null), "directly");
  });
});

describe("receiving files with a code", () => {
  test("from the code to the files in the download folder", () => {
    const t = createTransfer("receive", { code: "42-orbit-lemon" });
    assert.deepEqual(told(t), { status: "Connecting...", spoken: "Connecting..." });

    apply(t, pick("peer_connected"));
    assert.equal(t.verification, "otter lantern");
    assert.deepEqual(told(t), {
      status: "Connecting to the sender...",
      spoken: "Check that both screens show: otter lantern.",
    });

    apply(t, pick("connected", direct));
    assert.equal(statusText(t), "Connected. Waiting for the list of files...");

    apply(t, pick("offer", filesOnly));
    assert.equal(t.phase, "offer");
    assert.equal(t.device, "Ana's laptop");
    assert.equal(t.text, null);
    assert.deepEqual(
      t.items.map((i) => [i.name, i.size, i.done]),
      [
        ["holiday/beach.jpg", 3670016, false],
        ["holiday/notes.txt", 1536, false],
        ["report.pdf", 2097152, false],
      ],
    );
    assert.deepEqual(told(t), {
      status: "Do you want to receive these files?",
      spoken: "Ana's laptop wants to send 3 files (5.5 MiB).",
    });
    assert.equal(offerAmount(t), "3 files (5.5 MiB)");
    assert.equal(summaryText(t), "3 files · 5.5 MiB");

    // The user's Accept moves on at once (main.js); the core's "accepted" agrees.
    apply(t, pick("accepted"));
    assert.equal(t.phase, "transferring");
    assert.deepEqual(told(t), {
      status: "Receiving directly on your local network...",
      spoken: "Receiving directly on your local network...",
    });

    apply(t, pick("progress", (e) => e.direction === "receive"));
    assert.equal(t.activeIndex, 0);
    assert.deepEqual(progressLines(t.progress), {
      overall: "27% · 1.5 MiB of 5.5 MiB",
      rate: "12.5 MiB/s · 1 s left",
      file: "1.5 MiB of 3.5 MiB",
    });

    apply(t, pick("resumed"));
    assert.equal(
      statusText(t),
      "Receiving directly on your local network... Picking up where it stopped: 2.0 MiB already there.",
    );

    apply(t, pick("file_done"));
    assert.equal(t.filesDone, 1);
    assert.deepEqual(
      t.items.map((i) => i.done),
      [true, false, false],
    );

    apply(t, pick("done", received));
    assert.equal(t.phase, "done");
    assert.deepEqual(told(t), { status: "All files received.", spoken: "All files received." });
    assert.equal(summaryText(t), "3 files · 5.5 MiB");
    assert.equal(doneTitle(t), "Received 3 files");
    assert.equal(doneDetail(t), "5.5 MiB in 2.5 s (2.0 MiB of it was already there)");
    assert.equal(t.result.savedTo, "/home/ana/Downloads");
    assert.ok(t.items.every((i) => i.done));
    assert.equal(t.activeIndex, -1);
  });

  test("a connection that drops, comes back, and is made afresh on another path", () => {
    const t = createTransfer("receive", { code: "42-orbit-lemon" });
    for (const e of [pick("peer_connected"), pick("connected", direct), pick("offer", filesOnly), pick("accepted")]) {
      apply(t, e);
    }
    apply(t, pick("resumed"));
    apply(t, pick("file_done"));

    apply(t, pick("interrupted"));
    const waiting = "The connection was interrupted. Waiting for it to come back...";
    assert.equal(linkText(t), waiting);
    assert.equal(statusText(t), waiting);

    apply(t, pick("restored"));
    assert.equal(linkText(t), "");
    assert.match(statusText(t), /^Receiving directly on your local network\.\.\. Picking up/);

    apply(t, pick("reconnecting"));
    const again = "The connection was lost. Reconnecting (attempt 2 of 5)...";
    assert.equal(linkText(t), again);
    assert.equal(statusText(t), again);
    // The next connection says afresh what is already there.
    assert.equal(t.resumed, 0);
    assert.equal(t.filesDone, 0);

    apply(t, pick("connected", stun));
    assert.equal(t.phase, "transferring");
    assert.equal(t.path.packet_size, 1191);
    apply(t, pick("path_probed"));
    assert.equal(t.path.packet_size, 1432, "probing raised the packet size");
    assert.equal(t.path.kind, "stun", "and changed nothing else");
    assert.equal(linkText(t), "");
    assert.equal(statusText(t), "Receiving directly, through your router...");

    apply(t, pick("connected", relay));
    assert.equal(statusText(t), "Receiving through a relay server...");

    apply(t, pick("interrupted"));
    apply(t, pick("done", received));
    // Once everything is here, a late hiccup is no news.
    assert.equal(linkText(t), "");
    assert.equal(statusText(t), "All files received.");
  });

  test("files with a text: the offer says both, and the text shows as text", () => {
    const t = createTransfer("receive", { code: "42-orbit-lemon" });
    apply(t, pick("peer_connected"));
    apply(t, pick("connected", direct));
    apply(t, pick("offer", filesAndText));
    assert.equal(t.phase, "offer");
    assert.equal(isTextOnly(t), false);
    assert.equal(t.text, "The report, page 4 is the one.");
    assert.equal(looksLikeLink(t.text), false);
    assert.deepEqual(told(t), {
      status: "Do you want to receive these files?",
      spoken: "Ana's laptop wants to send 1 file (2.0 MiB) and a text.",
    });
  });
});

describe("receiving a text alone", () => {
  test("nothing is asked: the core accepts it, and the text shows at once", () => {
    const t = createTransfer("receive", { code: "42-orbit-lemon" });
    apply(t, pick("peer_connected"));
    apply(t, pick("connected", relay));

    apply(t, pick("offer", textOnly));
    assert.equal(isTextOnly(t), true);
    assert.equal(t.text, "https://example.com/holiday-album");
    assert.equal(looksLikeLink(t.text), true);
    // No question: the offer phase (Accept and Decline) is for files only.
    assert.notEqual(t.phase, "offer");
    assert.deepEqual(told(t), {
      status: "Connected. Waiting for the list of files...",
      spoken: "Ana's laptop sent you a text.",
    });

    apply(t, pick("accepted"));
    assert.equal(t.phase, "transferring");
    assert.deepEqual(told(t), { status: "Receiving the text...", spoken: "Ana's laptop sent you a text." });

    apply(t, pick("done", textDone));
    assert.equal(t.phase, "done");
    assert.deepEqual(told(t), { status: "Text received.", spoken: "Ana's laptop sent you a text." });
    assert.equal(doneTitle(t), "Text received");
    // A text has no size, time or folder worth telling: it is on screen.
    assert.equal(doneDetail(t), "");
  });
});

describe("receiving from a nearby device", () => {
  test("the request, then the sender compares the words", () => {
    const t = createTransfer("receive", { nearby: true });
    assert.equal(statusText(t), "A nearby device wants to send you something. Connecting...");
    apply(t, pick("peer_connected"));
    assert.equal(statusText(t), "Connecting to the sender...");
    apply(t, pick("connected", direct));
    assert.equal(statusText(t), "Connected. Waiting for the sender to compare the words...");
    apply(t, pick("offer", filesOnly));
    assert.equal(statusText(t), "Do you want to receive these files?");
  });
});

describe("sending files with a code", () => {
  test("from the chosen files to the receiver's verified copy", () => {
    const t = createTransfer("send", { paths: ["/home/ana/holiday", "/home/ana/report.pdf"] });
    assert.deepEqual(told(t), { status: "Getting a code...", spoken: "Getting a code..." });
    assert.deepEqual(
      t.items.map((i) => i.name),
      ["holiday", "report.pdf"],
    );
    assert.equal(summaryText(t), "2 items");

    apply(t, pick("code"));
    assert.equal(t.code, "42-orbit-lemon");
    assert.deepEqual(told(t), {
      status: "Waiting for the receiver...",
      spoken: "Your code is 42-orbit-lemon. Waiting for the receiver...",
    });

    apply(t, pick("notice"));
    assert.equal(
      t.notice,
      "No signaling server answered at ws://127.0.0.1:9000; this code works on this local network only.",
    );

    apply(t, pick("peer_connected"));
    assert.deepEqual(told(t), {
      status: "Connecting to the receiver...",
      spoken: "Check that both screens show: otter lantern.",
    });

    apply(t, pick("connected", direct));
    assert.equal(statusText(t), "Connected. Sending the list of files...");

    apply(t, pick("waiting_for_accept"));
    assert.equal(statusText(t), "Waiting for the receiver to accept...");

    apply(t, pick("accepted"));
    assert.equal(statusText(t), "Sending directly on your local network...");

    // The core names each file after the chosen file or folder it came from.
    apply(t, pick("progress", (e) => e.direction === "send"));
    assert.equal(t.activeIndex, 0);
    assert.equal(t.items[0].size, 1536);
    assert.equal(summaryText(t), "2 items · 5.5 MiB");
    assert.deepEqual(progressLines(t.progress), {
      overall: "63% · 3.5 MiB of 5.5 MiB",
      rate: "0 B/s",
      file: "0 B of 1.5 KiB",
    });

    apply(t, pick("file_done"));
    assert.equal(t.items[0].size, 3670016 + 1536);
    // A folder is done when the next item starts, not with its first file.
    assert.equal(t.items[0].done, false);

    apply(t, pick("done", sent));
    assert.deepEqual(told(t), { status: "All files sent.", spoken: "All files sent." });
    assert.equal(summaryText(t), "3 files · 5.5 MiB");
    assert.equal(doneTitle(t), "Sent 3 files");
    assert.equal(doneDetail(t), "5.5 MiB in 1 min 15 s");
    assert.equal(t.result.savedTo, null);
    assert.ok(t.items.every((i) => i.done));
  });
});

describe("the code's link to the web peer", () => {
  test("the QR code holds the link and Copy link has it, when the core gives one", () => {
    const t = createTransfer("send", { paths: ["/home/ana/report.pdf"] });
    assert.equal(t.pageLink, null);
    const withLink = pick("code", (e) => typeof e.link === "string");
    apply(t, withLink);
    assert.equal(t.code, withLink.code);
    assert.equal(t.pageLink, withLink.link);
    assert.ok(t.pageLink.endsWith(`/#${t.code}`), t.pageLink);
    assert.equal(qrText(t), withLink.link);
    // What is spoken is the code, to read out; the link is for a browser.
    assert.equal(describeTransfer(t), `Your code is ${t.code}. Waiting for the receiver...`);
  });

  test("without a link the QR code holds the bare code and there is no link to copy", () => {
    const t = createTransfer("send", { paths: ["/home/ana/report.pdf"] });
    const bare = pick("code", (e) => e.link === undefined);
    apply(t, bare);
    assert.equal(t.pageLink, null);
    assert.equal(qrText(t), bare.code);
  });
});

describe("sending to a nearby device", () => {
  function checking() {
    const t = createTransfer("send", { paths: ["/home/ana/report.pdf"], target: "Bob's desktop" });
    assert.deepEqual(told(t), {
      status: "Waiting for Bob's desktop to open your request...",
      spoken: "Waiting for Bob's desktop to open your request...",
    });
    apply(t, pick("peer_connected"));
    // The words come with the question, not before.
    assert.deepEqual(told(t), {
      status: "Connecting to Bob's desktop...",
      spoken: "Connecting to Bob's desktop...",
    });
    apply(t, pick("connected", direct));
    assert.equal(statusText(t), "Connected to Bob's desktop.");
    apply(t, pick("check_words"));
    assert.equal(t.phase, "check");
    assert.equal(t.verification, "kiwi ocean");
    assert.deepEqual(told(t), {
      status: "Compare the words with Bob's desktop. Nothing is sent until you answer.",
      spoken: "Check that Bob's desktop shows the same two words: kiwi ocean.",
    });
    return t;
  }

  test("the same words: the files go once the device's user accepts", () => {
    const t = checking();
    t.checked = "match";
    assert.deepEqual(told(t), { status: "Sending the list of files...", spoken: "Sending the list of files..." });
    apply(t, pick("waiting_for_accept"));
    assert.equal(statusText(t), "Waiting for Bob's desktop to accept...");
    apply(t, pick("accepted"));
    assert.equal(statusText(t), "Sending directly on your local network...");
  });

  test("other words: nothing is sent, and the core's error ends it", () => {
    const t = checking();
    t.checked = "differ";
    assert.equal(statusText(t), "Stopping. Nothing was sent.");
    assert.equal(applyEvent(t, pick("error", (e) => e.kind === "words_differ")), "error");
  });
});

describe("sending a text", () => {
  test("no files, no offer to wait on: just the text going", () => {
    const t = createTransfer("send", { text: "https://example.com/holiday-album" });
    assert.equal(isTextOnly(t), true);
    assert.equal(statusText(t), "Getting a code...");
    apply(t, pick("code"));
    assert.equal(statusText(t), "Waiting for the receiver...");
    apply(t, pick("peer_connected"));
    apply(t, pick("connected", stun));
    assert.equal(statusText(t), "Connected. Sending the text...");
    apply(t, pick("waiting_for_accept"));
    assert.equal(statusText(t), "Sending the text...");
    apply(t, pick("accepted"));
    assert.equal(statusText(t), "Sending the text...");
    apply(t, pick("done", textDone));
    assert.equal(statusText(t), "Text sent.");
    assert.equal(doneTitle(t), "Text sent");
    assert.equal(doneDetail(t), "");
  });
});

describe("errors", () => {
  test("every error leaves the transfer to the error screen, changing nothing", () => {
    for (const error of all("error")) {
      const t = createTransfer("receive", { code: "42-orbit-lemon" });
      apply(t, pick("peer_connected"));
      const before = structuredClone(t);
      assert.equal(applyEvent(t, error), "error", error.kind);
      assert.deepEqual(t, before, error.kind);
    }
  });
});

describe("sending to a group with one code", () => {
  test("each receiver on its own row, and the group's totals under them", () => {
    const t = createTransfer("send", { paths: ["/home/ana/holiday"], receivers: 3 });
    apply(t, pick("code", (e) => typeof e.link === "string"));
    assert.equal(statusText(t), "Waiting for receivers...");
    assert.equal(groupText(t), "Up to 3 people can receive with this code.");

    const [paired, joiner, progress, done, declined] = tagged;
    apply(t, paired);
    const first = t.group.members[0];
    assert.equal(first.verification, "otter lantern");
    assert.equal(memberState(first), "joining");
    assert.equal(memberName(first), "Receiver 1");
    apply(t, joiner);
    assert.equal(memberState(first), "asking");
    assert.equal(memberName(first), "Ana's laptop");
    assert.equal(memberStateText(first), "Let in only if its screen shows these words.");
    assert.equal(groupText(t), "");
    apply(t, { receiver: 1, ...pick("waiting_for_accept") });
    assert.equal(memberStateText(first), "Waiting for it to accept...");

    apply(t, progress);
    const second = t.group.members[1];
    assert.equal(memberState(second), "sending");
    assert.equal(memberStateText(second), "Sending directly...");
    assert.deepEqual(progressLines(second.transfer.progress).overall, "25% · 1.0 MiB of 4.0 MiB");
    assert.equal(groupText(t), "0 of 2 receivers have everything · 25% of all bytes · 2.0 MiB/s");

    apply(t, done);
    assert.equal(memberState(second), "done");
    assert.equal(memberStateText(second), "Got every file.");
    // One receiver's error is its own: the group goes on.
    assert.equal(applyEvent(t, declined), "changed");
    const third = t.group.members[2];
    assert.equal(memberState(third), "declined");
    assert.equal(memberStateText(third), "Declined.");
    assert.deepEqual(groupTotals(t), { joined: 3, sending: 0, done: 1, failed: 1, bytes: 4194304, total: 4194304, rate: 0 });
    assert.equal(groupText(t), "1 of 3 receivers has everything");

    apply(t, pick("code_ended"));
    assert.match(t.group.ended, /^Someone typed this code with other words/);
    apply(t, pick("done", sent));
    assert.equal(t.phase, "done");
    assert.equal(doneTitle(t), "Sent 3 files to 1 person");
  });
});

describe("sending to several nearby devices at once", () => {
  test("a row per device from the start, each device's words checked on its own", () => {
    const t = createTransfer("send", { paths: ["/home/ana/report.pdf"], targets: ["Bea's desk", "Kim"] });
    assert.equal(t.group.nearby, true);
    assert.equal(statusText(t), "Waiting for each device to open your request...");
    const [bea, kim] = t.group.members;
    assert.deepEqual([memberName(bea), memberName(kim)], ["Bea's desk", "Kim"]);
    assert.equal(memberStateText(bea), "Waiting for it to open your request...");

    apply(t, { receiver: 1, ...pick("peer_connected") });
    assert.equal(memberStateText(bea), "Connecting...");
    apply(t, { receiver: 1, ...pick("check_words") });
    assert.equal(memberState(bea), "asking");
    assert.equal(bea.verification, "kiwi ocean");
    assert.equal(memberStateText(bea), "Does its screen show these words?");
    // Kim's user has not opened the request yet: Bea's question is Bea's alone.
    assert.equal(memberStateText(kim), "Waiting for it to open your request...");

    apply(t, { receiver: 2, ...pick("check_words") });
    apply(t, { receiver: 2, ...pick("error", (e) => e.kind === "words_differ") });
    assert.equal(memberState(kim), "differ");
    assert.equal(memberStateText(kim), "The words were different; nothing was sent.");
    assert.equal(groupTotals(t).failed, 0, "a choice, not a failure");
  });
});
