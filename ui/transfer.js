// transfer.js: the state of one transfer and how core events change it.
// Pure data: main.js owns the object and renders it; nothing here touches the DOM or Tauri.
// Events arrive exactly as toss-core emits them (see crates/core/src/events.rs).

import {
  baseName,
  formatBytes,
  formatDuration,
  formatRate,
  formatTimeLeft,
  percent,
  plural,
} from "./format.js";

/** Phases of both directions in the order they happen; a transfer only moves forward. */
export const PHASES = [
  "starting", // sender: asked for a code
  "code", // sender: has a code, waits for the receiver
  "connecting", // receiver: joining with the code
  "paired", // both: the codes matched; verification words known
  "connected", // both: direct data channel open
  "check", // sender to a nearby device: its user compares the words; nothing offered yet
  "offer", // receiver: decide on the offer
  "waiting_accept", // sender: the offer is out
  "transferring", // both: bytes move
  "done", // both: every file arrived and verified
];

export function rank(phase) {
  return PHASES.indexOf(phase);
}

let nextToken = 1;

/** Longest text the backend sends, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 64 * 1024;

/**
 * A new transfer. Senders list what was chosen (base names) until real file names arrive,
 * or carry a text instead of files; receivers list nothing until the offer.
 */
export function createTransfer(
  direction,
  { code = null, paths = [], text = null, target = null, nearby = false, receivers = 1, targets = null } = {},
) {
  // Several nearby devices at once: a group with no code, a row per device from the start.
  const devices = Array.isArray(targets) && targets.length ? targets.map(String) : null;
  let group = null;
  if (devices) {
    group = { size: devices.length, members: [], ended: null, end: null, nearby: true };
    group.members = devices.map((name, i) => ({ ...createMember(i + 1), device: name, nearby: true }));
  } else if (receivers > 1) {
    group = { size: receivers, members: [], ended: null, end: null, nearby: false };
  }
  return {
    /**
     * A group code's sender (several receivers for one code): how many it takes, each
     * receiver as it comes (see `members`), why the code stopped taking them, if it did
     * (`ended`), and the group's error at the end ({ kind, message }) when not everyone got
     * the files (`end`: the screen stays, each row saying why). `nearby` when the group is
     * several nearby devices (no code; each row's words are checked, not let in). Null for
     * any other transfer.
     */
    group,
    /** What the sender chose (full paths), to send elsewhere instead. */
    paths: paths.slice(),
    /** The nearby device's name when sending straight to one (no code). */
    target,
    /** Receiving from a nearby device that asked to send here (no code). */
    nearby,
    /** Tells this transfer's events apart from those of an abandoned one. */
    token: nextToken++,
    /** The backend's id, once start_send/start_receive resolves. */
    id: null,
    /** Calls waiting for the id (a cancel or decision made before it arrived). */
    waiting: [],
    direction,
    phase: direction === "send" ? "starting" : "connecting",
    code,
    /** The code as a link a browser opens to receive (the web peer), when the core gave one. */
    pageLink: null,
    /** data: URL of the QR image of the link, or of the code when there is no link. */
    qr: null,
    verification: null,
    /** The sender's answer to check_words: null until given, then "match" or "differ". */
    checked: null,
    device: null,
    /** Rows of the file list: { name, size (null = unknown yet), done }. */
    items: paths.map((p) => ({ name: baseName(p), size: null, done: false })),
    /** The short text or link sent (sender) or offered (receiver), or null. */
    text,
    /** True once items are the offered files, index for index (receiver, from the offer). */
    exact: false,
    /** Offer indices already counted into a chosen item's size (sender only). */
    counted: new Set(),
    activeIndex: -1,
    totalBytes: null,
    progress: null,
    filesDone: 0,
    result: null,
    /** Something the core wanted the user to know (e.g. the code works on this LAN only). */
    notice: null,
    /** The connection's trouble, while there is some: "interrupted", or reconnecting. */
    link: null,
    /** Bytes already on the receiver's disk from an earlier attempt, not sent again. */
    resumed: 0,
    /** Set when the user walked away (cancel, decline); late events are ignored. */
    abandoned: false,
  };
}

/**
 * What the sender's QR code holds: the link when there is one (a phone's camera opens it in
 * the browser, the code filled in), else the bare code.
 */
export function qrText(t) {
  return t.pageLink || t.code;
}

function advance(t, phase) {
  if (rank(phase) > rank(t.phase)) t.phase = phase;
}

/**
 * The chosen item a sent file belongs to: the core names each file after the chosen file or
 * folder it came from ("photos/a.jpg" from ".../photos"), in the order they were chosen.
 */
function itemIndexFor(t, path, fileIndex, size) {
  const top = String(path).split("/")[0];
  let found = -1;
  for (let i = Math.max(t.activeIndex, 0); i < t.items.length; i++) {
    if (t.items[i].name === top) {
      found = i;
      break;
    }
  }
  if (found < 0) return -1;
  for (let i = 0; i < found; i++) t.items[i].done = true; // files go in order
  t.activeIndex = found;
  const item = t.items[found];
  if (!t.counted.has(fileIndex) && typeof size === "number") {
    t.counted.add(fileIndex);
    item.size = (item.size || 0) + size;
  }
  return found;
}

/**
 * Applies one core event. Returns "error" for an error event (the caller leaves the
 * transfer), "changed" when something changed, or "ignored" for unknown events.
 */
export function applyEvent(t, ev) {
  if (!ev || typeof ev !== "object") return "ignored";
  if (typeof ev.receiver === "number") return applyMemberEvent(t, ev);
  switch (ev.event) {
    case "code_ended":
      if (!t.group) return "ignored";
      t.group.ended = String(ev.message ?? "");
      return "changed";
    case "code":
      t.code = String(ev.code);
      t.pageLink = typeof ev.link === "string" && ev.link !== "" ? ev.link : null;
      advance(t, "code");
      return "changed";
    case "notice":
      t.notice = String(ev.message ?? "");
      return "changed";
    case "peer_connected":
      t.verification = String(ev.verification);
      advance(t, "paired");
      return "changed";
    case "check_words":
      t.verification = String(ev.verification);
      advance(t, "check");
      return "changed";
    case "connected":
      t.path = ev.path && typeof ev.path === "object" ? ev.path : null;
      t.link = null;
      advance(t, "connected");
      return "changed";
    case "interrupted":
      t.link = { state: "interrupted" };
      return "changed";
    case "path_probed":
      // Probing found what the path carries: the connection's details say so (on hover).
      if (!t.path) return "ignored";
      t.path = { ...t.path, packet_size: Number(ev.packet_size) };
      return "changed";
    case "restored":
      t.link = null;
      return "changed";
    case "reconnecting":
      t.link = { state: "reconnecting", attempt: Number(ev.attempt), attempts: Number(ev.attempts) };
      // The next connection goes through the files again and says afresh what was there.
      t.resumed = 0;
      t.filesDone = 0;
      return "changed";
    case "resumed":
      t.resumed += Number(ev.offset) || 0;
      return "changed";
    case "offer":
      t.device = String(ev.device ?? "");
      t.items = (Array.isArray(ev.files) ? ev.files : []).map((f) => ({
        name: String(f.path),
        size: Number(f.size),
        done: false,
      }));
      t.exact = true;
      t.totalBytes = Number(ev.total_bytes);
      if (t.direction === "receive") {
        t.text = typeof ev.text === "string" && ev.text !== "" ? ev.text : null;
        // A text alone asks nothing: the core takes it and says "accepted" next.
        if (!isTextOnly(t)) advance(t, "offer");
      }
      return "changed";
    case "waiting_for_accept":
      advance(t, "waiting_accept");
      return "changed";
    case "accepted":
      advance(t, "transferring");
      return "changed";
    case "progress":
      t.progress = {
        bytes: Number(ev.bytes),
        total: Number(ev.total),
        rate: Number(ev.rate),
        eta: typeof ev.eta_secs === "number" ? ev.eta_secs : null,
        fileIndex: Number(ev.file_index),
        filePath: String(ev.file_path),
        fileBytes: Number(ev.file_bytes),
        fileTotal: Number(ev.file_total),
      };
      t.totalBytes = Number(ev.total);
      advance(t, "transferring");
      if (t.exact) t.activeIndex = Number(ev.file_index);
      else itemIndexFor(t, ev.file_path, Number(ev.file_index), Number(ev.file_total));
      return "changed";
    case "file_done": {
      t.filesDone += 1;
      if (t.exact) {
        const item = t.items[Number(ev.index)];
        if (item) item.done = true;
      } else {
        const i = itemIndexFor(t, ev.path, Number(ev.index), Number(ev.bytes));
        // A chosen file is one offered file; a chosen folder ends when the next item starts.
        if (i >= 0 && t.items[i].name === String(ev.path)) t.items[i].done = true;
      }
      return "changed";
    }
    case "done":
      t.result = {
        files: Number(ev.files),
        bytes: Number(ev.bytes),
        seconds: Number(ev.seconds),
        skipped: Number(ev.skipped) || 0,
        savedTo: typeof ev.saved_to === "string" ? ev.saved_to : null,
      };
      t.link = null;
      for (const item of t.items) item.done = true;
      t.activeIndex = -1;
      advance(t, "done");
      return "changed";
    case "error":
      return "error";
    default:
      return "ignored";
  }
}

/**
 * One receiver of a group code, as its events tell: its number, device name and words, its
 * own transfer (phase, progress, path), and how it ended.
 */
function createMember(number) {
  return {
    number,
    device: null,
    /** A nearby device sent to straight (its words are compared, and it opens a request). */
    nearby: false,
    verification: null,
    /** Waits for the sender to let it in (after "joiner"); null once answered. */
    asking: false,
    /** Its own transfer, run through the same events as a single one. */
    transfer: createTransfer("send"),
    /** { message, kind } once it failed, declined, or was turned away. */
    error: null,
  };
}

/** The receiver `number` of a group, made on its first event. */
export function member(t, number) {
  let m = t.group.members.find((x) => x.number === number);
  if (!m) {
    m = createMember(number);
    t.group.members.push(m);
    t.group.members.sort((a, b) => a.number - b.number);
  }
  return m;
}

/** An event about one receiver of a group code: its own error never ends the group's. */
function applyMemberEvent(t, ev) {
  if (!t.group || !Number.isInteger(ev.receiver) || ev.receiver < 1) return "ignored";
  const m = member(t, ev.receiver);
  const inner = { ...ev };
  delete inner.receiver;
  switch (inner.event) {
    case "joiner":
      m.device = typeof inner.device === "string" && inner.device !== "" ? inner.device : null;
      m.verification = String(inner.verification);
      m.asking = true;
      return "changed";
    case "check_words":
      m.verification = String(inner.verification);
      m.asking = true;
      return "changed";
    case "peer_connected":
      m.verification = String(inner.verification);
      return applyEvent(m.transfer, inner);
    case "error":
      m.error = { message: String(inner.message ?? ""), kind: String(inner.kind ?? "") };
      m.asking = false;
      return "changed";
    default:
      if (inner.event === "accepted" || inner.event === "waiting_for_accept") m.asking = false;
      return applyEvent(m.transfer, inner);
  }
}

/** Where one receiver of a group stands: joining, asking, waiting, sending, done, declined or failed. */
export function memberState(m) {
  if (m.error) {
    if (m.error.kind === "declined") return "declined";
    if (m.error.kind === "turned_away") return "turned_away";
    if (m.error.kind === "words_differ") return "differ";
    if (m.error.kind === "cancelled") return "cancelled";
    return "failed";
  }
  if (m.transfer.phase === "done") return "done";
  if (m.asking) return "asking";
  if (m.transfer.phase === "transferring") return "sending";
  if (m.transfer.phase === "waiting_accept") return "waiting";
  return "joining";
}

/** One receiver's state in words, for its row. */
export function memberStateText(m) {
  switch (memberState(m)) {
    case "joining":
      // A nearby device's user first opens the request: its words come once it has.
      if (m.nearby && !m.verification) return "Waiting for it to open your request...";
      return "Connecting...";
    case "asking":
      return m.nearby ? "Does its screen show these words?" : "Let in only if its screen shows these words.";
    case "waiting":
      return "Waiting for it to accept...";
    case "sending": {
      const trouble = linkText(m.transfer);
      return trouble || `Sending ${pathText(m.transfer.path)}...`;
    }
    case "done":
      return "Got every file.";
    case "declined":
      return "Declined.";
    case "turned_away":
      return "Not let in; nothing was sent.";
    case "differ":
      return "The words were different; nothing was sent.";
    case "cancelled":
      return m.error.message ? sentence(m.error.message) : "Cancelled.";
    default:
      return sentence(m.error.message);
  }
}

function sentence(message) {
  const s = String(message).trim();
  if (!s) return "Failed.";
  const first = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** The receiver's name on its row: its device name, or "Receiver 2". */
export function memberName(m) {
  return m.device || `Receiver ${m.number}`;
}

/**
 * The group's totals: receivers that joined, that got everything, that failed, and the
 * bytes sent to all of them so far against what all of them take.
 */
export function groupTotals(t) {
  const members = t.group ? t.group.members : [];
  let bytes = 0;
  let total = 0;
  let rate = 0;
  for (const m of members) {
    const state = memberState(m);
    if (state === "turned_away" || state === "declined" || state === "differ") continue;
    const p = m.transfer.progress;
    if (m.transfer.result) {
      bytes += m.transfer.result.bytes;
      total += m.transfer.result.bytes;
    } else if (p) {
      bytes += p.bytes;
      total += p.total;
      if (state === "sending") rate += p.rate;
    }
  }
  const count = (s) => members.filter((m) => memberState(m) === s).length;
  return {
    joined: members.length,
    sending: count("sending"),
    done: count("done"),
    failed: count("failed") + count("declined") + count("cancelled"),
    bytes,
    total,
    rate,
  };
}

/** The group's line under its list: "2 of 3 receivers have everything · 140 MiB/s". */
export function groupText(t) {
  if (!t.group) return "";
  const g = groupTotals(t);
  if (g.joined === 0) return `Up to ${t.group.size} people can receive with this code.`;
  // Until files move, each row says what it waits for.
  if (g.sending === 0 && g.done === 0) return "";
  const parts = [`${g.done} of ${plural(g.joined, "receiver")} ${g.done === 1 ? "has" : "have"} everything`];
  if (g.total > 0 && g.sending > 0) parts.push(`${percent(g.bytes, g.total)}% of all bytes`);
  if (g.rate > 0) parts.push(formatRate(g.rate));
  return parts.join(" · ");
}

/** A text and no files: nothing to accept, save or track progress of. */
export function isTextOnly(t) {
  return t.text !== null && t.items.length === 0;
}

/** Size of a text in UTF-8, as the backend counts it. */
export function textBytes(text) {
  return new TextEncoder().encode(String(text)).length;
}

/** What the Home text field would send: trimmed, or "" when empty or over the limit. */
export function sendableText(value) {
  const text = String(value ?? "").trim();
  return text && textBytes(text) <= MAX_TEXT_BYTES ? text : "";
}

/** A text that is one http(s) address and nothing else (still shown as plain text). */
export function looksLikeLink(text) {
  return /^https?:\/\/\S+$/i.test(String(text).trim());
}

/** How the bytes travel, in words: "directly on your local network". */
export function pathText(path) {
  if (!path) return "directly";
  switch (path.kind) {
    case "direct":
      return path.local_network ? "directly on your local network" : "directly";
    case "stun":
      return "directly, through your router";
    default:
      return "through a relay server";
  }
}

/** The one-line status for the current phase. */
export function statusText(t) {
  const send = t.direction === "send";
  if (isTextOnly(t)) {
    switch (t.phase) {
      case "connected":
        return send ? "Connected. Sending the text..." : statusTextForFiles(t);
      case "waiting_accept":
      case "transferring":
        return send ? "Sending the text..." : "Receiving the text...";
      case "done":
        return send ? "Text sent." : "Text received.";
      default:
        return statusTextForFiles(t);
    }
  }
  return statusTextForFiles(t);
}

/** What is wrong with the connection right now, in words, or "". */
export function linkText(t) {
  if (!t.link || t.phase === "done") return "";
  if (t.link.state === "interrupted") return "The connection was interrupted. Waiting for it to come back...";
  return `The connection was lost. Reconnecting (attempt ${t.link.attempt} of ${t.link.attempts})...`;
}

function statusTextForFiles(t) {
  const send = t.direction === "send";
  const other = t.target || "the receiver";
  const trouble = linkText(t);
  if (trouble) return trouble;
  switch (t.phase) {
    case "starting":
      // A nearby device's user first opens the request: that may take a while.
      if (t.group && t.group.nearby) {
        const opened = t.group.members.filter((m) => m.verification).length;
        if (opened === 0) return "Waiting for each device to open your request...";
        if (opened < t.group.size) return `${opened} of ${t.group.size} devices opened your request.`;
        return t.group.members.some((m) => m.asking)
          ? "Check the words with each device. Nothing is sent to one until you answer for it."
          : `Sending to ${plural(t.group.size, "device")}...`;
      }
      return t.target ? `Waiting for ${t.target} to open your request...` : "Getting a code...";
    case "code": {
      if (!t.group) return "Waiting for the receiver...";
      const n = t.group.members.length;
      if (t.group.end) return "Finished.";
      if (n === 0) return "Waiting for receivers...";
      if (n >= t.group.size || t.group.ended) return `Sending to ${plural(n, "receiver")}...`;
      return `${n} of ${t.group.size} joined. Others can still use the code.`;
    }
    case "connecting":
      return t.nearby ? "A nearby device wants to send you something. Connecting..." : "Connecting...";
    case "paired":
      return send ? `Connecting to ${other}...` : "Connecting to the sender...";
    case "connected":
      // To a nearby device nothing goes before the words are checked.
      if (send && t.target) return `Connected to ${t.target}.`;
      // ...and the sender's user is comparing them now.
      if (!send && t.nearby) return "Connected. Waiting for the sender to compare the words...";
      return send ? "Connected. Sending the list of files..." : "Connected. Waiting for the list of files...";
    case "check":
      if (t.checked === "differ") return "Stopping. Nothing was sent.";
      if (t.checked === "match") return "Sending the list of files...";
      return `Compare the words with ${other}. Nothing is sent until you answer.`;
    case "offer":
      return "Do you want to receive these files?";
    case "waiting_accept":
      return `Waiting for ${other} to accept...`;
    case "transferring": {
      const how = (send ? "Sending " : "Receiving ") + pathText(t.path) + "...";
      return t.resumed > 0 ? `${how} Picking up where it stopped: ${formatBytes(t.resumed)} already there.` : how;
    }
    case "done":
      return send ? "All files sent." : "All files received.";
    default:
      return "";
  }
}

/**
 * The sentence that sums up a transfer's screen for the live region (screen readers), or ""
 * when the status line says it all.
 */
export function describeTransfer(t) {
  switch (t.phase) {
    case "code":
      return `Your code is ${t.code}. ${statusText(t)}`;
    case "paired":
      // To a nearby device the words come with the question, in the check phase.
      if (t.direction === "send" && t.target) return statusText(t);
      return `Check that both screens show: ${t.verification}.`;
    case "check":
      if (t.checked !== null) return statusText(t);
      return `Check that ${t.target} shows the same two words: ${t.verification}.`;
    case "offer":
      return `${t.device} wants to send ${offerAmount(t)}${t.text !== null ? " and a text" : ""}.`;
    default:
      // A text alone arrives with its offer: say who sent it once, not "Receiving...".
      if (t.direction === "receive" && isTextOnly(t)) return `${t.device || "Someone"} sent you a text.`;
      return statusText(t);
  }
}

/**
 * The progress card's lines for `t.progress`: overall ("27% · 1.5 MiB of 5.5 MiB"), speed
 * and time left ("12.5 MiB/s · 1 s left"), and the current file ("1.5 MiB of 3.5 MiB").
 */
export function progressLines(p) {
  return {
    overall: `${percent(p.bytes, p.total)}% · ${formatBytes(p.bytes)} of ${formatBytes(p.total)}`,
    rate: [formatRate(p.rate), formatTimeLeft(p.eta)].filter(Boolean).join(" · "),
    file: `${formatBytes(p.fileBytes)} of ${formatBytes(p.fileTotal)}`,
  };
}

/** The title of the finished card: "Received 3 files", "Text sent". */
export function doneTitle(t) {
  const send = t.direction === "send";
  if (isTextOnly(t)) return send ? "Text sent" : "Text received";
  const files = plural(t.result ? t.result.files : 0, "file");
  if (t.group) return `Sent ${files} to ${plural(groupTotals(t).done, "person", "people")}`;
  return send ? `Sent ${files}` : `Received ${files}`;
}

/** How much went how fast: "5.5 MiB in 2.5 s (2.0 MiB of it was already there)"; "" for a text. */
export function doneDetail(t) {
  const r = t.result;
  if (!r || isTextOnly(t)) return "";
  const resumed = r.skipped > 0 ? ` (${formatBytes(r.skipped)} of it was already there)` : "";
  return `${formatBytes(r.bytes)} in ${formatDuration(r.seconds)}${resumed}`;
}

/** "3 files · 12.4 MiB" once sizes are known; "2 items" for a sender before that. */
export function summaryText(t) {
  let count = t.exact ? plural(t.items.length, "file") : plural(t.items.length, "item");
  if (t.result) count = plural(t.result.files, "file");
  return typeof t.totalBytes === "number" && Number.isFinite(t.totalBytes)
    ? `${count} · ${formatBytes(t.totalBytes)}`
    : count;
}

/** "3 files (12.4 MiB)": what the offer amounts to. */
export function offerAmount(t) {
  return `${plural(t.items.length, "file")} (${formatBytes(t.totalBytes)})`;
}
