// screens/parts.js: pieces the sending and receiving screens share (status line,
// verification words, file list, progress, done card). Each piece builds its DOM once and
// then follows the transfer object through `update(t)`; peer text goes in as text only.

import { h, icon, setText, show } from "../dom.js";
import {
  formatBytes,
  formatDuration,
  formatRate,
  formatTimeLeft,
  percent,
  plural,
} from "../format.js";
import { rank, statusText, summaryText } from "../transfer.js";

/** Rows drawn at most; a list of 20,000 files stays cheap. */
const MAX_ROWS = 50;

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
      show(spinner, t.phase !== "done" && t.phase !== "offer" && t.phase !== "transferring");
    },
  };
}

/** "Check that both screens show:" and the two words, until bytes flow. */
export function createVerification() {
  const words = h("p", { id: "verification", class: "verification-words" });
  const el = h(
    "section",
    { class: "card verification-card", "aria-labelledby": "verification-label", hidden: true },
    h("div", { class: "verification-icon" }, icon("shield")),
    h(
      "div",
      { class: "verification-body" },
      h("p", { id: "verification-label", class: "label" }, "Check that both screens show:"),
      words,
      h("p", { class: "hint" }, "If the words differ, stop here: someone else may be using the code."),
    ),
  );
  return {
    el,
    update(t) {
      setText(words, t.verification);
      show(el, Boolean(t.verification) && rank(t.phase) < rank("transferring"));
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
      show(el, rank(t.phase) >= rank("transferring") && t.phase !== "done");
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
      setText(text, `${percent(p.bytes, p.total)}% · ${formatBytes(p.bytes)} of ${formatBytes(p.total)}`);
      setText(rate, [formatRate(p.rate), formatTimeLeft(p.eta)].filter(Boolean).join(" · "));
      show(current, true);
      setText(fileName, p.filePath);
      if (fileName.title !== p.filePath) fileName.title = p.filePath;
      setText(fileText, `${formatBytes(p.fileBytes)} of ${formatBytes(p.fileTotal)}`);
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
      const files = plural(r.files, "file");
      setText(title, direction === "send" ? `Sent ${files}` : `Received ${files}`);
      setText(detail, `${formatBytes(r.bytes)} in ${formatDuration(r.seconds)}`);
      setText(where, r.savedTo ? `Saved to ${r.savedTo}` : "");
      show(where, Boolean(r.savedTo));
      if (showButton) show(showButton, Boolean(r.savedTo));
    },
  };
}
