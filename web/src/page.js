// web/src/page.js: the Toss web peer's page: receive with a code (or a link whose fragment
// holds it), or drop files to send and read out a code, with the two verification words,
// the offer, progress and the result, in the app's visual language (ui/styles.css, ui/dom.js).
//
// Place: the top of the web peer. It draws and decides what the person sees; the protocol is
// in session.js, peer.js, link.js and transfer.js, and saving in save.js.
// What it must never do: put the peer's text (names, paths, texts) in as markup, or send a
// code anywhere but into the SPAKE2 exchange (it lives in the fragment, which the browser
// never sends to the server).
//
// The page's contract with its tests: `body[data-state]` is loading, home, connecting,
// waiting, offer, confirm, transferring, done, declined, cancelled or failed;
// `body[data-save]` says which saver took the files (folder, stream, disk or memory).

import { formatBytes, formatRate, formatTimeLeft, plural } from "../../ui/format.js";
import { h, icon, setText, show } from "../../ui/dom.js";
import { codeFromFragment, CodeError, parseCode, randomPassword } from "./code.js";
import { connect } from "./peer.js";
import { Link } from "./link.js";
import { capabilities, diskFits, diskSaver, folderSaver, memorySaver, prepare, streamSaver } from "./save.js";
import { allocate, join, waitForPeer } from "./session.js";
import { inviteLink, serverUrl, TossError } from "./signal.js";
import { receiveFiles, sendFiles } from "./transfer.js";

const SERVER = serverUrl(location);
/** The app's invite to this server (https pages only), offered on the home screen. */
const invite = inviteLink(location);
const ready = prepare();

/** What this browser calls itself in an offer. */
function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//u.test(ua) ? "Firefox" : /Edg\//u.test(ua) ? "Edge" : /Chrom/u.test(ua) ? "Chromium" : /Safari\//u.test(ua) ? "Safari" : "A browser";
  const os = /Android/u.test(ua) ? "Android" : /iPhone|iPad/u.test(ua) ? "iOS" : /Mac OS/u.test(ua) ? "macOS" : /Windows/u.test(ua) ? "Windows" : /Linux/u.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

/**
 * The ICE servers for one connection. STUN helps two networks find each other; a page from a
 * server on this network (loopback, a private address, a `.local` name) is for this network,
 * where host addresses are enough. TURN comes from the server, which hands short-lived
 * credentials to a room holding both peers; `?relay-only` sends everything through it.
 * @param {import("./session.js").Paired} paired
 */
async function iceConfig(paired) {
  const host = location.hostname.replace(/^\[|\]$/gu, "");
  const local =
    host === "localhost" ||
    host.endsWith(".local") ||
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|169\.254\.)/u.test(host) ||
    /^(::1$|f[cd]|fe80:)/iu.test(host);
  const servers = local ? [] : [{ urls: ["stun:stun.l.google.com:19302", "stun:stun1.l.google.com:19302"] }];
  const turn = await paired.turn();
  if (turn) servers.push(turn);
  const relayOnly = new URLSearchParams(location.search).has("relay-only");
  if (relayOnly && !turn) {
    throw new TossError("no_turn", "this page was asked to relay everything, but its server offers no TURN relay");
  }
  return { iceServers: servers, iceTransportPolicy: relayOnly ? "relay" : "all" };
}

// ---- the frame -----------------------------------------------------------------------------

const app = document.getElementById("app");
const status = h("p", { id: "status", class: "status", role: "status" });
const errorText = h("p", { id: "error", class: "error-text", role: "alert" });

function setState(state) {
  document.body.dataset.state = state;
}

function screen(title, ...children) {
  app.replaceChildren(
    h(
      "section",
      { class: "screen" },
      h("div", { class: "screen-head" }, h("h2", { class: "screen-title", tabindex: "-1" }, title)),
      ...children,
    ),
  );
  app.querySelector(".screen-title")?.focus({ preventScroll: true });
}

function wordsCard(words) {
  return h(
    "section",
    { class: "card verification-card", "aria-labelledby": "words-label" },
    h("span", { class: "verification-icon" }, icon("shield")),
    h(
      "div",
      {},
      h("p", { id: "words-label", class: "label" }, "Check that the other screen shows the same words"),
      h("p", { id: "words", class: "verification-words" }, words),
    ),
  );
}

function copyButton(id, label, text) {
  const btn = h(
    "button",
    {
      id,
      type: "button",
      class: "btn",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text());
          setText(btn.lastChild, "Copied");
          setTimeout(() => setText(btn.lastChild, label), 1500);
        } catch {
          setText(status, "This browser does not allow copying here; select the text instead.");
        }
      },
    },
    icon("copy"),
    h("span", {}, label),
  );
  return btn;
}

/** A progress bar with its numbers: bytes, speed and time left. */
function progressCard() {
  const fill = h("div", { class: "bar-fill" });
  const bar = h("div", { id: "progress", class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, fill);
  const text = h("span", { id: "progress-text", class: "progress-text" }, "");
  const rate = h("span", { class: "progress-rate" }, "");
  return {
    el: h("section", { class: "card" }, bar, h("div", { class: "progress-meta" }, text, rate)),
    update({ done, total, rate: r }) {
      const pct = total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : 100;
      fill.style.width = `${pct}%`;
      bar.setAttribute("aria-valuenow", String(pct));
      setText(text, `${formatBytes(done)} of ${formatBytes(total)}`);
      setText(rate, r > 0 ? `${formatRate(r)} · ${formatTimeLeft((total - done) / r)}` : "");
    },
  };
}

function fileList(files) {
  const shown = files.slice(0, 200);
  return h(
    "ul",
    { id: "offer-list", class: "file-list" },
    shown.map((f) => h("li", { class: "file-item" }, h("span", { class: "file-name", title: f.path }, f.path), h("span", { class: "file-size" }, formatBytes(f.size)))),
    files.length > shown.length ? h("li", { class: "file-item hint" }, `and ${plural(files.length - shown.length, "more file")}`) : null,
  );
}

// ---- one transfer at a time ----------------------------------------------------------------

/** The running transfer's cancel switch, its link and its session, for the Cancel button. */
let running = null;

function cancelButton() {
  return h("button", { id: "cancel", type: "button", class: "btn", onclick: () => running?.cancelByUser() }, icon("x"), "Cancel");
}

function startRun() {
  const cancel = new AbortController();
  const run = {
    cancel,
    link: null,
    pc: null,
    paired: null,
    cancelByUser() {
      if (cancel.signal.aborted) return;
      run.paired?.say({ kind: "cancel" });
      if (run.link && !run.link.closed) run.link.control({ type: "cancel" }).catch(() => {});
      cancel.abort(new TossError("cancelled_local", "the transfer was cancelled"));
    },
  };
  running = run;
  return run;
}

/** Listens to the room during a transfer: the peer's cancel or abort ends it here too. */
function watchRoom(run) {
  const stop = new AbortController();
  (async () => {
    for (;;) {
      const signal = await run.paired.hear(stop.signal);
      if (signal.kind === "cancel") {
        run.cancel.abort(new TossError("cancelled", "the other side cancelled the transfer"));
        return;
      }
      if (signal.kind === "abort") {
        run.cancel.abort(new TossError("peer_failed", `the other side stopped the transfer: ${String(signal.reason).slice(0, 300)}`));
        return;
      }
      if (signal.kind === "peer_left") return;
      // A reconnect: the connection is gone; the data channel's close says so to the transfer.
    }
  })().catch(() => {});
  return stop;
}

function finish(run, e) {
  running = null;
  const { link, pc } = run;
  // The last word goes out first; then the channel and the whole connection close, so the
  // peer is not left writing into a connection nobody reads.
  setTimeout(() => {
    link?.close();
    pc?.close();
  }, 100);
  run.paired?.leave();
  if (!e) return;
  if (e.kind === "cancelled_local" || e.kind === "cancelled") {
    setState("cancelled");
    screen("Cancelled", h("section", { class: "card" }, h("p", { id: "error" }, e.message)), homeButton());
    return;
  }
  if (e.kind === "declined") {
    setState("declined");
    screen("Declined", h("section", { class: "card" }, h("p", { id: "error" }, "The receiver declined the transfer. Nothing was sent.")), homeButton());
    return;
  }
  fail(e);
}

function fail(e) {
  const message = e instanceof TossError || e instanceof CodeError ? e.message : `something went wrong in this page: ${String(e?.message ?? e)}`;
  setState("failed");
  setText(errorText, message.charAt(0).toUpperCase() + message.slice(1) + (message.endsWith(".") ? "" : "."));
  screen(
    "Something went wrong",
    h("section", { class: "card error-card" }, h("span", { class: "error-icon" }, icon("alert")), errorText),
    homeButton(),
  );
}

function homeButton() {
  return h(
    "div",
    { class: "button-row" },
    h(
      "button",
      {
        id: "again",
        type: "button",
        class: "btn btn-primary",
        onclick: () => {
          history.replaceState(null, "", location.pathname + location.search);
          home();
        },
      },
      "Start over",
    ),
  );
}

// ---- home ----------------------------------------------------------------------------------

function home(prefill = "") {
  setState("home");
  const input = h("input", {
    id: "code",
    class: "field code-field",
    type: "text",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    placeholder: "42-orbit-lemon",
    "aria-label": "Code",
    value: prefill || null,
  });
  const receive = h(
    "form",
    {
      class: "card receive-card",
      onsubmit: (e) => {
        e.preventDefault();
        receiveWith(input.value);
      },
    },
    h("h3", { class: "card-title" }, "Receive"),
    h("p", { class: "hint" }, "Type the code the sender reads out to you."),
    h("div", { class: "input-row" }, input, h("button", { id: "receive", type: "submit", class: "btn btn-primary" }, icon("download"), "Receive")),
  );
  const files = h("input", { id: "files", type: "file", multiple: true, class: "sr-only", tabindex: "-1", onchange: () => chosen(fromInput(files)) });
  const folder = h("input", { id: "folder", type: "file", webkitdirectory: true, class: "sr-only", tabindex: "-1", onchange: () => chosen(fromInput(folder)) });
  const drop = h(
    "button",
    { id: "drop-zone", type: "button", class: "drop-zone", onclick: () => files.click() },
    h("span", { class: "drop-icon" }, icon("upload")),
    h("span", { class: "drop-title" }, "Drop files or folders to send"),
    h("span", { class: "drop-hint" }, "or click to choose files"),
  );
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("is-over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("is-over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("is-over");
    fromDrop(e.dataTransfer).then(chosen, fail);
  });
  const send = h(
    "section",
    { class: "card send-card" },
    h("h3", { class: "card-title" }, "Send"),
    drop,
    h(
      "div",
      { class: "button-row" },
      h("button", { id: "choose-files", type: "button", class: "btn", onclick: () => files.click() }, icon("file"), "Choose files"),
      h("button", { id: "choose-folder", type: "button", class: "btn", onclick: () => folder.click() }, icon("folder"), "Choose folder"),
    ),
    files,
    folder,
  );
  app.replaceChildren(
    h(
      "section",
      { class: "screen" },
      h("p", { class: "page-intro" }, "Send files straight to another computer or phone, end to end encrypted. Nothing to install."),
      h("div", { class: "home-grid" }, receive, send),
      invite
        ? h(
            "p",
            { class: "page-invite" },
            "Have the Toss app? Let it send its codes through this server too: ",
            h("a", { id: "use-server", href: invite }, "Use this server in Toss"),
          )
        : null,
    ),
  );
  if (prefill) receiveWith(prefill);
}

function fromInput(input) {
  return Array.from(input.files, (file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** The files of a drop, folders walked (webkitGetAsEntry), with their relative paths. */
async function fromDrop(dt) {
  const entries = Array.from(dt.items ?? [], (i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return Array.from(dt.files, (file) => ({ file, path: file.name }));
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, "");
  return out;
}

// ---- receiving -----------------------------------------------------------------------------

async function receiveWith(typed) {
  let code;
  try {
    code = parseCode(typed);
  } catch (e) {
    fail(e);
    return;
  }
  const run = startRun();
  setState("connecting");
  screen("Receiving", h("p", { class: "code-echo" }, `Code ${code.text}`), status, cancelButton());
  setText(status, "Finding the sender…");
  let roomWatch = null;
  try {
    run.paired = await join(SERVER, code);
    setText(status, "Connecting…");
    app.querySelector(".code-echo")?.after(wordsCard(run.paired.verification));
    const { pc, dc, early } = await connect(run.paired, { ...(await iceConfig(run.paired)), cancel: run.cancel.signal });
    run.pc = pc;
    run.link = new Link(dc, early);
    roomWatch = watchRoom(run);
    const progress = progressCard();
    const result = await receiveFiles(run.link, {
      cancel: run.cancel.signal,
      report: (e) => {
        if (e.event === "progress") progress.update(e);
      },
      decide: (offer) => decide(run, offer, progress),
    });
    if (result.declined) {
      finish(run);
      setState("declined");
      screen("Declined", h("section", { class: "card" }, h("p", {}, "You declined. Nothing was saved.")), homeButton());
      return;
    }
    finish(run);
    received(result.offer);
  } catch (e) {
    finish(run, run.cancel.signal.aborted ? run.cancel.signal.reason : e);
  } finally {
    roomWatch?.abort();
  }
}

/** Shows the offer and waits for Accept (a saver) or Decline (null). */
function decide(run, offer, progress) {
  const caps = capabilities();
  const words = run.paired.verification;
  return new Promise((resolve) => {
    if (offer.files.length === 0) {
      resolve(textOnly());
      return;
    }
    setState("offer");
    const accept = async (toFolder) => {
      let saver;
      try {
        if (toFolder) {
          saver = folderSaver(await globalThis.showDirectoryPicker({ id: "toss", mode: "readwrite", startIn: "downloads" }));
        } else {
          if (await diskFits(offer.total)) {
            saver = await diskSaver(offer.files);
          } else {
            const registration = caps.stream ? await Promise.race([ready, new Promise((r) => setTimeout(() => r(null), 5000))]) : null;
            saver = registration?.active ? await streamSaver(registration, offer.files) : memorySaver(offer.files);
          }
        }
      } catch (e) {
        if (e?.name === "AbortError") return; // The person closed the folder picker.
        saver = memorySaver(offer.files);
      }
      document.body.dataset.save = saver.kind;
      setState("transferring");
      screen(
        "Receiving",
        wordsCard(words),
        h("p", { class: "offer-summary" }, `From ${offer.device || "the sender"} · ${plural(offer.files.length, "file")}, ${formatBytes(offer.total)}`),
        offer.text ? textCard(offer.text) : null,
        progress.el,
        h("p", { class: "hint", id: "save-hint" }, saveHint(saver)),
        status,
        cancelButton(),
      );
      setText(status, "Receiving…");
      resolve(saver);
    };
    screen(
      "Incoming files",
      wordsCard(words),
      h("p", { class: "offer-summary" }, h("strong", { class: "offer-device" }, offer.device || "The sender"), ` wants to send you ${plural(offer.files.length, "file")}, ${formatBytes(offer.total)}`),
      offer.text ? textCard(offer.text) : null,
      fileList(offer.files),
      h(
        "div",
        { class: "button-row" },
        h("button", { id: "decline", type: "button", class: "btn", onclick: () => resolve(null) }, "Decline"),
        caps.folder ? h("button", { id: "accept-folder", type: "button", class: "btn", onclick: () => accept(true) }, icon("folder"), "Save into a folder…") : null,
        h("button", { id: "accept", type: "button", class: "btn btn-primary", onclick: () => accept(false) }, icon("download"), "Accept"),
      ),
      caps.stream || caps.folder ? null : h("p", { class: "hint" }, "This page is not on a secure (https) address, so the files are held by the browser until they have all arrived, then saved at once."),
    );
  });
}

function saveHint(saver) {
  if (saver.kind === "folder") return `Saving into the folder ${saver.name}.`;
  if (saver.kind === "stream") return `Saving to your downloads as ${saver.name}.`;
  if (saver.kind === "disk") return `Saving in this browser's storage as it arrives; it goes to your downloads as ${saver.name} once everything has arrived and checked out.`;
  return `Saved to your downloads as ${saver.name} once everything has arrived. This page is not on a secure (https) address, so your browser may ask whether to keep the file: choose Keep.`;
}

/** A text sent alone: it has arrived with the offer; nothing is saved. */
function textOnly() {
  return { kind: "text", name: "", open: async () => ({}), finish: async () => {}, abort: async () => {} };
}

function textCard(text) {
  return h(
    "section",
    { class: "card" },
    h("p", { class: "label" }, "Text"),
    h("p", { id: "offer-text", class: "text-box" }, text),
    h("div", { class: "button-row" }, copyButton("copy-text", "Copy text", () => text)),
  );
}

function received(offer) {
  setState("done");
  const what = offer.files.length === 0 ? "The text arrived." : `${plural(offer.files.length, "file")}, ${formatBytes(offer.total)}, arrived and checked out.`;
  screen(
    "Done",
    h("section", { class: "card done-card" }, h("span", { class: "done-icon" }, icon("check")), h("p", { id: "done-text" }, what), document.getElementById("save-hint")),
    offer.text ? textCard(offer.text) : null,
    homeButton(),
  );
}

// ---- sending -------------------------------------------------------------------------------

async function chosen(items) {
  if (items.length === 0) return;
  const run = startRun();
  setState("connecting");
  screen("Send files", status, cancelButton());
  setText(status, "Getting a code…");
  let roomWatch = null;
  const total = items.reduce((n, i) => n + i.file.size, 0);
  try {
    const { conn, nameplate } = await allocate(SERVER);
    run.cancel.signal.addEventListener("abort", () => conn.close(), { once: true });
    const code = { nameplate, password: randomPassword() };
    code.text = `${nameplate}-${code.password}`;
    const link = `${location.origin}${location.pathname}${location.search}#${code.text}`;
    setState("waiting");
    screen(
      "Send files",
      h(
        "section",
        { class: "card code-card" },
        h(
          "div",
          { class: "code-main" },
          h("p", { class: "label" }, "Tell the receiver this code"),
          h("p", { id: "send-code", class: "code-display" }, code.text),
          h("p", { class: "hint" }, "Or send them this link:"),
          h("p", { id: "link", class: "link-display" }, link),
          h("div", { class: "button-row" }, copyButton("copy-code", "Copy code", () => code.text), copyButton("copy-link", "Copy link", () => link)),
        ),
      ),
      h("p", { class: "offer-summary" }, `${plural(items.length, "file")}, ${formatBytes(total)}`),
      status,
      cancelButton(),
    );
    setText(status, "Waiting for the receiver…");
    run.paired = await Promise.race([waitForPeer(conn, code), rejectOn(run.cancel.signal)]);
    const progress = progressCard();
    setState("connecting");
    screen("Send files", wordsCard(run.paired.verification), progress.el, status, cancelButton());
    setText(status, "Connecting…");
    const { pc, dc, early } = await connect(run.paired, { ...(await iceConfig(run.paired)), cancel: run.cancel.signal });
    run.pc = pc;
    run.link = new Link(dc, early);
    roomWatch = watchRoom(run);
    setState("confirm");
    setText(status, "Waiting for the receiver to accept…");
    await sendFiles(run.link, items, {
      device: deviceName(),
      cancel: run.cancel.signal,
      report: (e) => {
        if (e.event === "progress") {
          if (document.body.dataset.state === "confirm") {
            setState("transferring");
            setText(status, "Sending…");
          }
          progress.update(e);
        }
      },
    });
    finish(run);
    setState("done");
    screen(
      "Done",
      h("section", { class: "card done-card" }, h("span", { class: "done-icon" }, icon("check")), h("p", { id: "done-text" }, `${plural(items.length, "file")}, ${formatBytes(total)}, sent and checked by the receiver.`)),
      homeButton(),
    );
  } catch (e) {
    finish(run, run.cancel.signal.aborted ? run.cancel.signal.reason : e);
  } finally {
    roomWatch?.abort();
  }
}

function rejectOn(signal) {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

// ---- start ---------------------------------------------------------------------------------

window.addEventListener("hashchange", () => {
  const code = codeFromFragment(location.hash);
  if (code && document.body.dataset.state === "home") home(code);
});
window.addEventListener("beforeunload", (e) => {
  if (running) e.preventDefault();
});
home(codeFromFragment(location.hash) ?? "");
