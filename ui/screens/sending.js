// screens/sending.js: the sender's screen: the code to read out (text, Copy, QR), then the
// verification words, progress and the result. Built when shown and emptied when hidden, so
// the shared ids (#status, #file-list, #cancel-button...) exist once in the document.

import { h, icon, setText, show } from "../dom.js";
import { rank } from "../transfer.js";
import {
  createDone,
  createFileList,
  createProgress,
  createScreenHead,
  createStatus,
  createVerification,
} from "./parts.js";

/** How long "Copied" stays on the button. */
const COPIED_MS = 2000;

export function createSendingScreen(section, actions) {
  let ui = null;
  let copyTimer = 0;

  /** Copies the code; falls back to selecting it where the clipboard API is refused. */
  async function copyCode() {
    if (!ui) return;
    const text = ui.code.textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(ui.code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
    }
    if (!ui) return;
    setText(ui.copyLabel, copied ? "Copied" : "Press Ctrl+C to copy");
    ui.copy.classList.toggle("is-copied", copied);
    actions.announce(copied ? "Code copied." : "The code is selected; press Ctrl+C to copy it.");
    clearTimeout(copyTimer);
    copyTimer = setTimeout(() => {
      if (!ui) return;
      setText(ui.copyLabel, "Copy");
      ui.copy.classList.remove("is-copied");
    }, COPIED_MS);
  }

  function build() {
    const head = createScreenHead("sending-heading", "Send files", actions.cancel);
    const status = createStatus();
    const code = h("p", { id: "send-code", class: "code-display" });
    const copyLabel = h("span", null, "Copy");
    const copy = h(
      "button",
      { id: "copy-code", type: "button", class: "btn copy-button", onclick: copyCode },
      icon("copy", "icon icon-copy"),
      icon("check", "icon icon-copied"),
      copyLabel,
    );
    const qr = h("img", { id: "qr", class: "qr", alt: "", width: "168", height: "168" });
    const qrTile = h("div", { class: "qr-tile" }, qr);
    const codeCard = h(
      "section",
      { class: "card code-card", "aria-labelledby": "code-label" },
      h(
        "div",
        { class: "code-main" },
        h("p", { id: "code-label", class: "label" }, "Tell the receiver this code"),
        code,
        h("div", { class: "button-row" }, copy),
      ),
      qrTile,
    );
    const verification = createVerification();
    const progress = createProgress();
    const done = createDone({ direction: "send", onHome: actions.goHome });
    const files = createFileList();
    section.replaceChildren(
      head.el,
      status.el,
      codeCard,
      verification.el,
      progress.el,
      done.el,
      files.el,
    );
    return { head, status, code, copy, copyLabel, qr, qrTile, codeCard, verification, progress, done, files };
  }

  return {
    show() {
      ui = build();
    },
    hide() {
      clearTimeout(copyTimer);
      section.replaceChildren();
      ui = null;
    },
    focusTarget() {
      return ui && ui.head.heading;
    },
    update(state) {
      const t = state.transfer;
      if (!ui || !t) return;
      ui.status.update(t);
      show(ui.codeCard, Boolean(t.code) && rank(t.phase) < rank("paired"));
      setText(ui.code, t.code);
      if (t.qr && ui.qr.getAttribute("src") !== t.qr) {
        ui.qr.src = t.qr;
        ui.qr.alt = `QR code of ${t.code}`;
      }
      show(ui.qrTile, Boolean(t.qr));
      ui.verification.update(t);
      ui.progress.update(t);
      const wasDone = !ui.done.el.hidden;
      ui.done.update(t);
      if (t.phase === "done" && !wasDone) ui.done.home.focus();
      ui.files.update(t);
      show(ui.head.cancel, t.phase !== "done");
    },
  };
}
