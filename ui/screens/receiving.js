// screens/receiving.js: the receiver's screen: connecting, the verification words, the
// offer to accept or decline, progress, and where the files went. Built when shown and
// emptied when hidden (shared ids exist once). The device name, paths and any text come
// from the other computer and only ever go in as text. A text alone needs no decision: it
// shows with a Copy button and stays on screen once done.

import { h, setText, show } from "../dom.js";
import { isTextOnly, looksLikeLink, offerAmount, rank } from "../transfer.js";
import {
  createCopyButton,
  createDone,
  createFileList,
  createProgress,
  createScreenHead,
  createStatus,
  createTextBox,
  createVerification,
} from "./parts.js";

export function createReceivingScreen(section, actions) {
  let ui = null;

  function build() {
    const head = createScreenHead("receiving-heading", "Receive files", actions.cancel);
    const status = createStatus();
    const codeEcho = h("p", { class: "code-echo" });
    const verification = createVerification();

    const device = h("strong", { id: "offer-device", class: "offer-device" });
    const verb = h("span", null);
    const amount = h("span", { class: "offer-amount" });

    const textLabel = h("span", { id: "offer-text-label", class: "label" }, "Text");
    const text = createTextBox("offer-text", "offer-text-label");
    const copy = createCopyButton({
      id: "copy-text",
      text: () => (ui && ui.shownText) || "",
      target: text.el,
      what: "text",
      announce: actions.announce,
    });
    copy.el.classList.add("btn-small");
    const textBlock = h(
      "div",
      { class: "text-block", hidden: true },
      h("div", { class: "text-block-head" }, textLabel, copy.el),
      text.el,
    );

    const accept = h(
      "button",
      { id: "accept-button", type: "button", class: "btn btn-primary", onclick: () => actions.decide(true) },
      "Accept",
    );
    const decline = h(
      "button",
      { id: "decline-button", type: "button", class: "btn", onclick: () => actions.decide(false) },
      "Decline",
    );
    const decision = h(
      "div",
      { class: "offer-decision", hidden: true },
      h("p", { class: "hint" }, "The files are saved in your download folder. Accept only what you expect."),
      h("div", { class: "button-row end" }, decline, accept),
    );
    const offerCard = h(
      "section",
      { class: "card offer-card", "aria-labelledby": "offer-summary", hidden: true },
      h("p", { id: "offer-summary", class: "offer-summary" }, device, verb, amount),
      textBlock,
      decision,
    );

    const progress = createProgress();
    const done = createDone({
      direction: "receive",
      onHome: actions.goHome,
      onShowInFolder: actions.showInFolder,
    });
    const files = createFileList();
    // The offer card comes after progress and the done card: while deciding those are
    // hidden, and afterwards a text stays below "Received" with the files under it.
    section.replaceChildren(
      head.el,
      status.el,
      codeEcho,
      verification.el,
      progress.el,
      done.el,
      offerCard,
      files.el,
    );
    return {
      head,
      status,
      codeEcho,
      verification,
      device,
      verb,
      amount,
      textLabel,
      text,
      copy,
      textBlock,
      accept,
      decision,
      offerCard,
      progress,
      done,
      files,
      shownText: "",
    };
  }

  return {
    show() {
      ui = build();
    },
    hide() {
      if (ui) ui.copy.dispose();
      section.replaceChildren();
      ui = null;
    },
    focusTarget() {
      return ui && ui.head.heading;
    },
    update(state) {
      const t = state.transfer;
      if (!ui || !t) return;
      const textOnly = isTextOnly(t);
      const hasText = t.text !== null;
      setText(ui.head.heading, textOnly ? "Receive text" : "Receive files");
      ui.status.update(t);
      setText(ui.codeEcho, t.code ? `Code ${t.code}` : "");
      show(ui.codeEcho, Boolean(t.code) && rank(t.phase) < rank("offer"));
      ui.verification.update(t);

      const offering = t.phase === "offer";
      const wasOffering = !ui.decision.hidden;
      setText(ui.device, t.device || "Someone");
      if (offering) {
        setText(ui.verb, " wants to send ");
        setText(ui.amount, offerAmount(t));
      } else {
        setText(ui.verb, textOnly ? " sent you a text" : " sent a text with the files");
        setText(ui.amount, "");
      }
      ui.shownText = hasText ? t.text : "";
      setText(ui.textLabel, hasText && looksLikeLink(t.text) ? "Link" : "Text");
      ui.text.update(ui.shownText);
      show(ui.textBlock, hasText);
      show(ui.decision, offering && !textOnly);
      // Once past the offer, the card stays only to show the text.
      show(ui.offerCard, offering || (hasText && rank(t.phase) > rank("offer")));
      if (offering && !wasOffering) ui.accept.focus();

      ui.progress.update(t);
      const wasDone = !ui.done.el.hidden;
      ui.done.update(t);
      if (t.phase === "done" && !wasDone) ui.done.home.focus();
      ui.files.update(t);
      // During the offer, Decline is the way out; afterwards nothing is left to cancel.
      show(ui.head.cancel, !offering && t.phase !== "done");
    },
  };
}
