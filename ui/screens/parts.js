// screens/parts.js: pieces the screens share (status line, verification words, file list,
// progress, done card, copy button, text box, nearby devices, the banner for a nearby
// request). Each piece builds its DOM once and then follows the state through `update`;
// peer text goes in as text only.

import { h, icon, setText, show } from "../dom.js";
import { formatBytes } from "../format.js";
import {
  doneDetail,
  doneTitle,
  isTextOnly,
  progressLines,
  rank,
  statusText,
  summaryText,
} from "../transfer.js";

/** Rows drawn at most; a list of 20,000 files stays cheap. */
const MAX_ROWS = 50;
/** How long "Copied" stays on a copy button. */
const COPIED_MS = 2000;

/**
 * A Copy button for `text()`. Where the clipboard API is refused it selects `target` and
 * asks for Ctrl+C instead. `what` names the thing for the announcement ("code", "text");
 * `caption` is the button's word ("Copy", "Copy link").
 */
export function createCopyButton({ id, text, target, what, announce, caption = "Copy" }) {
  const label = h("span", null, caption);
  const el = h(
    "button",
    { id, type: "button", class: "btn copy-button" },
    icon("copy", "icon icon-copy"),
    icon("check", "icon icon-copied"),
    label,
  );
  let timer = 0;

  async function copy() {
    const value = text();
    let copied = false;
    try {
      await navigator.clipboard.writeText(value);
      copied = true;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
    }
    if (!el.isConnected) return;
    setText(label, copied ? "Copied" : "Press Ctrl+C to copy");
    el.classList.toggle("is-copied", copied);
    const name = what.charAt(0).toUpperCase() + what.slice(1);
    announce(copied ? `${name} copied.` : `The ${what} is selected; press Ctrl+C to copy it.`);
    clearTimeout(timer);
    timer = setTimeout(reset, COPIED_MS);
  }

  function reset() {
    setText(label, caption);
    el.classList.remove("is-copied");
  }

  el.addEventListener("click", copy);
  return {
    el,
    /** Stops the pending "Copied" reset (the screen is going away). */
    dispose() {
      clearTimeout(timer);
    },
  };
}

/**
 * A read-only box for a short text or link from either side: plain text that keeps its line
 * breaks, scrolls when long, and can be focused so the keyboard can scroll it too.
 */
export function createTextBox(id, labelId) {
  const el = h("div", { id, class: "text-box", tabindex: "0", role: "region", "aria-labelledby": labelId });
  return {
    el,
    update(text) {
      setText(el, text);
    },
  };
}

/** Heading row of a transfer screen: title and the Cancel button. */
export function createScreenHead(id, title, onCancel) {
  const heading = h("h2", { id, class: "screen-title", tabindex: "-1" }, title);
  const cancel = h("button", { id: "cancel-button", type: "button", class: "btn", onclick: onCancel }, "Cancel");
  const el = h("div", { class: "screen-head" }, heading, cancel);
  return { el, heading, cancel };
}

/** The #status line with a small spinner while something is pending. */
export function createStatus() {
  const spinner = h("span", { class: "spinner", "aria-hidden": "true" });
  const text = h("span", { class: "status-text" });
  const el = h("p", { id: "status", class: "status" }, spinner, text);
  return {
    el,
    update(t) {
      setText(text, statusText(t));
      // The connection's details for the curious, on hover.
      const path = t.path ? `${t.path.packet_size}-byte packets` : "";
      if (text.title !== path) text.title = path;
      // A text has no progress bar, so the spinner stays until it is through. Nothing
      // spins while the user is the one to answer (an offer, or words to compare).
      const asking = t.phase === "offer" || (t.phase === "check" && t.checked === null);
      const busy = t.phase === "transferring" ? isTextOnly(t) : t.phase !== "done" && !asking;
      show(spinner, busy);
    },
  };
}

/**
 * "Check that both screens show:" and the two words, until bytes flow (or while `visible`,
 * when the screen decides).
 */
export function createVerification() {
  const words = h("p", { id: "verification", class: "verification-words" });
  const hint = h("p", { class: "hint" });
  const el = h(
    "section",
    { class: "card verification-card", "aria-labelledby": "verification-label", hidden: true },
    h("div", { class: "verification-icon" }, icon("shield")),
    h(
      "div",
      { class: "verification-body" },
      h("p", { id: "verification-label", class: "label" }, "Check that both screens show:"),
      words,
      hint,
    ),
  );
  return {
    el,
    update(t, visible = Boolean(t.verification) && rank(t.phase) < rank("transferring")) {
      setText(words, t.verification);
      setText(
        hint,
        t.target || t.nearby
          ? "If the words differ, stop here: another device may be in the middle."
          : "If the words differ, stop here: someone else may be using the code.",
      );
      show(el, visible);
    },
  };
}

/** The list of files with a check mark on each one done. */
export function createFileList() {
  const summary = h("span", { class: "card-aside" });
  const list = h("ul", { id: "file-list", class: "file-list" });
  const more = h("p", { class: "files-more" });
  const el = h(
    "section",
    { class: "card files-card", "aria-labelledby": "files-heading", hidden: true },
    h("div", { class: "card-head" }, h("h3", { id: "files-heading", class: "card-title" }, "Files"), summary),
    list,
    more,
  );
  let drawnFor = null;
  let rows = [];

  function row() {
    const name = h("span", { class: "file-name" });
    const size = h("span", { class: "file-size" });
    const state = h("span", { class: "sr-only" });
    const li = h(
      "li",
      { class: "file-row", "data-state": "pending" },
      h("span", { class: "file-mark" }, icon("file", "icon icon-file"), icon("check", "icon icon-done")),
      name,
      state,
      size,
    );
    return { li, name, size, state };
  }

  return {
    el,
    update(t) {
      if (drawnFor !== t.items) {
        drawnFor = t.items;
        rows = t.items.slice(0, MAX_ROWS).map(row);
        list.replaceChildren(...rows.map((r) => r.li));
      }
      rows.forEach((r, i) => {
        const item = t.items[i];
        const state = item.done ? "done" : i === t.activeIndex ? "active" : "pending";
        if (r.li.dataset.state !== state) r.li.dataset.state = state;
        setText(r.name, item.name);
        if (r.name.title !== item.name) r.name.title = item.name;
        setText(r.state, state === "done" ? ", done" : "");
        // A chosen folder's size is only known once all its files went by.
        const sized = item.size !== null && (t.exact || item.done);
        setText(r.size, sized ? formatBytes(item.size) : "");
      });
      const hidden = t.items.length - rows.length;
      setText(more, hidden > 0 ? `and ${hidden.toLocaleString("en-US")} more` : "");
      show(more, hidden > 0);
      setText(summary, summaryText(t));
      show(el, t.items.length > 0);
    },
  };
}

/** Overall bar, percent, bytes, speed, time left, and the current file with its own bar. */
export function createProgress() {
  const bar = h("progress", { id: "progress-overall", class: "bar", max: "1", value: "0", "aria-label": "Overall progress" });
  const text = h("p", { id: "progress-text", class: "progress-text" });
  const rate = h("p", { id: "progress-rate", class: "progress-rate" });
  const fileName = h("span", { class: "current-name" });
  const fileText = h("span", { class: "current-bytes" });
  const fileBar = h("progress", { class: "bar bar-small", max: "1", value: "0", "aria-label": "Current file" });
  const current = h(
    "div",
    { class: "current-file" },
    h("div", { class: "current-head" }, fileName, fileText),
    fileBar,
  );
  const el = h(
    "section",
    { class: "card progress-card", "aria-label": "Progress", hidden: true },
    bar,
    h("div", { class: "progress-meta" }, text, rate),
    current,
  );
  return {
    el,
    update(t) {
      show(el, rank(t.phase) >= rank("transferring") && t.phase !== "done" && !isTextOnly(t));
      const p = t.progress;
      if (!p) {
        bar.max = 1;
        bar.value = 0;
        setText(text, "Starting...");
        setText(rate, "");
        show(current, false);
        return;
      }
      const total = Math.max(p.total, 1);
      bar.max = total;
      bar.value = Math.min(p.bytes, total);
      const lines = progressLines(p);
      setText(text, lines.overall);
      setText(rate, lines.rate);
      show(current, true);
      setText(fileName, p.filePath);
      if (fileName.title !== p.filePath) fileName.title = p.filePath;
      setText(fileText, lines.file);
      const fileTotal = Math.max(p.fileTotal, 1);
      fileBar.max = fileTotal;
      fileBar.value = Math.min(p.fileBytes, fileTotal);
    },
  };
}

/** The finished card: what arrived, where it went, and the way back home. */
export function createDone({ direction, onHome, onShowInFolder }) {
  const title = h("h3", { id: "done-title", class: "done-title" });
  const detail = h("p", { class: "done-detail" });
  const where = h("p", { class: "done-where" });
  const showButton =
    direction === "receive"
      ? h(
          "button",
          { id: "show-in-folder", type: "button", class: "btn", onclick: onShowInFolder },
          icon("folder"),
          "Show in folder",
        )
      : null;
  const home = h("button", { id: "home-button", type: "button", class: "btn btn-primary", onclick: onHome }, "Done");
  const el = h(
    "section",
    { class: "card done-card", "aria-labelledby": "done-title", hidden: true },
    h("div", { class: "done-icon" }, icon("check")),
    title,
    detail,
    where,
    h("div", { class: "button-row center" }, showButton, home),
  );
  return {
    el,
    home,
    update(t) {
      show(el, t.phase === "done");
      const r = t.result;
      if (!r) return;
      // A text alone has no size, time or folder worth telling: it is on screen.
      const textOnly = isTextOnly(t);
      el.classList.toggle("is-compact", textOnly);
      setText(title, doneTitle(t));
      setText(detail, doneDetail(t));
      show(detail, !textOnly);
      const savedTo = textOnly ? null : r.savedTo;
      setText(where, savedTo ? `Saved to ${savedTo}` : "");
      show(where, Boolean(savedTo));
      if (showButton) show(showButton, Boolean(savedTo));
    },
  };
}

/** Shortest id prefix shown beside a name used twice. */
const SHORT_ID = 4;

/**
 * Short ids for the devices whose name (any case) is in `shared`, each long enough to tell
 * it from the others of the same name: Map of device id -> prefix.
 */
export function shortIds(devices, shared) {
  const names = new Set((Array.isArray(shared) ? shared : []).map((n) => String(n).toLowerCase()));
  const groups = new Map();
  for (const d of devices) {
    const name = String(d.name).toLowerCase();
    if (!names.has(name)) continue;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(String(d.id));
  }
  const short = new Map();
  for (const ids of groups.values()) {
    let length = SHORT_ID;
    while (length < 16 && new Set(ids.map((id) => id.slice(0, length))).size < ids.length) length += 2;
    for (const id of ids) short.set(id, id.slice(0, length));
  }
  return short;
}

/**
 * Nearby devices as buttons (`data-device-id`): `onPick(device)` on click. A device whose
 * name another one uses too says so, with a short id to tell them apart (anyone can take
 * any name). Redrawn only when the list, the shared names or the device under a drag change.
 */
/**
 * Nearby devices as buttons: a click picks files for one (`onPick(device, event)`, whose
 * event says whether Ctrl or Shift was held); the `selected` ones show as picked.
 */
export function createDeviceList(id, onPick) {
  const el = h("ul", { id, class: "device-list" });
  let drawn = "";
  return {
    el,
    update(devices, dropTarget, shared = [], selected = []) {
      const list = Array.isArray(devices) ? devices : [];
      const key = JSON.stringify([list.map((d) => [d.id, d.name]), dropTarget, shared, selected]);
      // Files dragged over a picked device go to every picked one: all of them light up.
      const lit = selected.length > 1 && selected.includes(dropTarget) ? selected : [dropTarget];
      if (key === drawn) return;
      drawn = key;
      const short = shortIds(list, shared);
      const count = (name) => list.filter((d) => String(d.name).toLowerCase() === name).length;
      el.replaceChildren(
        ...list.map((device) => {
          const name = String(device.name);
          const tag = short.get(String(device.id));
          const same = tag ? count(name.toLowerCase()) : 0;
          const note = tag ? `${same} devices use this name` : "";
          return h(
            "li",
            null,
            h(
              "button",
              {
                type: "button",
                class: `device${lit.includes(device.id) ? " is-dragover" : ""}${tag ? " is-shared" : ""}${selected.includes(device.id) ? " is-selected" : ""}`,
                "data-device-id": String(device.id),
                "aria-pressed": selected.includes(device.id) ? "true" : "false",
                title: tag ? `Send to ${name} (id ${tag}; ${note})` : `Send to ${name}`,
                onclick: (event) => onPick(device, event),
              },
              h("span", { class: "device-icon" }, icon("monitor")),
              h("span", { class: "device-name" }, name),
              tag ? h("span", { class: "device-id" }, `id ${tag}`) : null,
              tag ? h("span", { class: "device-note" }, note) : null,
            ),
          );
        }),
      );
    },
  };
}

/**
 * The banner for nearby devices that asked to send here, over whatever screen shows: it
 * never takes the screen over. Show opens the oldest request; Ignore drops it. While a
 * transfer runs, Show waits for it to end.
 */
export function createKnockBanner(el, { onShow, onIgnore }) {
  const text = h("p", { id: "knock-text", class: "banner-text" });
  const hint = h("p", { id: "knock-hint", class: "hint" });
  const showButton = h("button", { id: "knock-show", type: "button", class: "btn btn-primary", onclick: onShow }, "Show");
  const ignore = h("button", { id: "knock-ignore", type: "button", class: "btn", onclick: onIgnore }, "Ignore");
  el.replaceChildren(
    h("span", { class: "banner-icon" }, icon("inbox")),
    h("div", { class: "banner-body" }, text, hint),
    h("div", { class: "button-row" }, ignore, showButton),
  );
  return {
    /** `count` requests waiting; `busy` while a transfer runs. */
    update(count, busy) {
      show(el, count > 0);
      if (count <= 0) return;
      setText(
        text,
        count === 1
          ? "A nearby device wants to send you something."
          : `${count.toLocaleString("en-US")} nearby devices want to send you something.`,
      );
      setText(hint, busy ? "You can look once this transfer is over." : "Nothing arrives unless you accept.");
      showButton.disabled = busy;
    },
  };
}

/**
 * The question a server invite asks (`toss://server?url=...`, opened from a server's page):
 * nothing changes until the person chooses "Use this server".
 */
export function createInviteBanner(el, { onAccept, onDecline }) {
  const text = h("p", { id: "invite-text", class: "banner-text" });
  const hint = h(
    "p",
    { class: "hint" },
    "A link asked Toss to use it. Codes would then go through this server to reach other networks; your files never do.",
  );
  const accept = h("button", { id: "invite-accept", type: "button", class: "btn btn-primary", onclick: onAccept }, "Use this server");
  const decline = h("button", { id: "invite-decline", type: "button", class: "btn", onclick: onDecline }, "Not now");
  el.replaceChildren(
    h("span", { class: "banner-icon" }, icon("settings")),
    h("div", { class: "banner-body" }, text, hint),
    h("div", { class: "button-row" }, decline, accept),
  );
  return {
    /** `server` to ask about, or null to hide; `saving` while it is being saved. */
    update(server, saving) {
      show(el, Boolean(server));
      if (!server) return;
      setText(text, `Use the signaling server ${server}?`);
      accept.disabled = saving;
      decline.disabled = saving;
    },
  };
}
