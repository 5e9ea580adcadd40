// screens/sending.js: the sender's screen: the code to read out (text, Copy, and where the
// core gave one the link a browser opens, with Copy link; the QR holds the link), then the
// verification words, progress and the result. Built when shown and emptied when hidden, so
// the shared ids (#status, #file-list, #cancel-button...) exist once in the document. A text
// sent instead of files is shown in a read-only box where the file list would be.
// Sending to a nearby device there is no code: the user checks that the device shows the
// same two words and says so (They match / They're different) before anything is offered.

import { h, icon, setText, show } from "../dom.js";
import { looksLikeLink, qrText, rank } from "../transfer.js";
import {
  createCopyButton,
  createDone,
  createFileList,
  createProgress,
  createScreenHead,
  createStatus,
  createDeviceList,
  createTextBox,
  createVerification,
} from "./parts.js";

export function createSendingScreen(section, actions) {
  let ui = null;

  function build() {
    const head = createScreenHead("sending-heading", "Send files", actions.cancel);
    const status = createStatus();
    const code = h("p", { id: "send-code", class: "code-display" });
    const notice = h("p", { id: "code-notice", class: "hint", hidden: true });
    const copy = createCopyButton({
      id: "copy-code",
      text: () => code.textContent,
      target: code,
      what: "code",
      announce: actions.announce,
    });
    const link = h("p", { id: "send-link", class: "hint send-link", translate: "no" });
    const linkIntro = h("p", { class: "hint" }, "Or open this link in a browser:");
    const copyLink = createCopyButton({
      id: "copy-link",
      text: () => link.textContent,
      target: link,
      what: "link",
      caption: "Copy link",
      announce: actions.announce,
    });
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
        linkIntro,
        link,
        h("div", { class: "button-row" }, copy.el, copyLink.el),
        notice,
      ),
      qrTile,
    );
    const verification = createVerification();
    const checkTitle = h("h3", { id: "check-heading", class: "check-title", tabindex: "-1" });
    const checkWords = h("p", { id: "check-words", class: "verification-words check-words" });
    const differ = h(
      "button",
      { id: "words-differ", type: "button", class: "btn", onclick: () => actions.checkWords(false) },
      "They're different",
    );
    const match = h(
      "button",
      { id: "words-match", type: "button", class: "btn btn-primary", onclick: () => actions.checkWords(true) },
      "They match — send",
    );
    const checkCard = h(
      "section",
      { id: "check-card", class: "card verification-card check-card", "aria-labelledby": "check-heading", hidden: true },
      h("div", { class: "verification-icon" }, icon("shield")),
      h(
        "div",
        { class: "verification-body" },
        checkTitle,
        checkWords,
        h(
          "p",
          { class: "hint" },
          "If they differ, someone may be in the middle: nothing will be sent.",
        ),
        h("div", { class: "button-row end" }, differ, match),
      ),
    );
    const progress = createProgress();
    const done = createDone({ direction: "send", onHome: actions.goHome });
    const textTitle = h("h3", { id: "sent-text-heading", class: "card-title" }, "Text");
    const text = createTextBox("sent-text", "sent-text-heading");
    const textCard = h(
      "section",
      { class: "card text-card", "aria-labelledby": "sent-text-heading", hidden: true },
      h("div", { class: "card-head" }, textTitle),
      text.el,
    );
    const files = createFileList();
    const devices = createDeviceList("send-nearby-list", actions.sendInsteadTo);
    const nearbyCard = h(
      "section",
      { class: "card nearby-card", "aria-labelledby": "send-nearby-heading", hidden: true },
      h("h3", { id: "send-nearby-heading", class: "card-title" }, "Or send straight to a nearby device"),
      devices.el,
    );
    section.replaceChildren(
      head.el,
      status.el,
      codeCard,
      nearbyCard,
      checkCard,
      verification.el,
      progress.el,
      done.el,
      textCard,
      files.el,
    );
    return {
      head,
      status,
      code,
      notice,
      copy,
      link,
      linkIntro,
      copyLink,
      qr,
      qrTile,
      codeCard,
      devices,
      nearbyCard,
      verification,
      checkTitle,
      checkWords,
      differ,
      match,
      checkCard,
      progress,
      done,
      textTitle,
      text,
      textCard,
      files,
    };
  }

  return {
    show() {
      ui = build();
    },
    hide() {
      if (ui) {
        ui.copy.dispose();
        ui.copyLink.dispose();
      }
      section.replaceChildren();
      ui = null;
    },
    focusTarget() {
      return ui && ui.head.heading;
    },
    update(state) {
      const t = state.transfer;
      if (!ui || !t) return;
      const hasText = t.text !== null;
      setText(ui.head.heading, hasText ? "Send text" : t.target ? `Send to ${t.target}` : "Send files");
      ui.status.update(t);
      show(ui.codeCard, Boolean(t.code) && rank(t.phase) < rank("paired"));
      setText(ui.code, t.code);
      setText(ui.link, t.pageLink || "");
      show(ui.link, Boolean(t.pageLink));
      show(ui.linkIntro, Boolean(t.pageLink));
      show(ui.copyLink.el, Boolean(t.pageLink));
      setText(ui.notice, t.notice);
      show(ui.notice, Boolean(t.notice));
      if (t.qr && ui.qr.getAttribute("src") !== t.qr) {
        ui.qr.src = t.qr;
        ui.qr.alt = `QR code of ${qrText(t)}`;
      }
      show(ui.qrTile, Boolean(t.qr));
      // Until someone types the code, the same files can go to a nearby device instead.
      const offerNearby = t.phase === "code" && !hasText && t.paths.length > 0 && state.nearby.devices.length > 0;
      show(ui.nearbyCard, offerNearby);
      if (offerNearby) ui.devices.update(state.nearby.devices, null, state.nearby.shared_names);
      // To a nearby device the words show in the check card, with the question.
      if (t.target) ui.verification.update(t, false);
      else ui.verification.update(t);
      const checking = t.phase === "check";
      const wasChecking = !ui.checkCard.hidden;
      setText(ui.checkTitle, `Check that ${t.target || "the other device"} shows the same two words`);
      setText(ui.checkWords, checking ? t.verification : "");
      ui.match.disabled = t.checked !== null;
      ui.differ.disabled = t.checked !== null;
      show(ui.checkCard, checking);
      // The words first, not a button: they are what the user must look at.
      if (checking && !wasChecking) ui.checkTitle.focus();
      ui.progress.update(t);
      const wasDone = !ui.done.el.hidden;
      ui.done.update(t);
      if (t.phase === "done" && !wasDone) ui.done.home.focus();
      setText(ui.textTitle, hasText && looksLikeLink(t.text) ? "Link" : "Text");
      ui.text.update(hasText ? t.text : "");
      show(ui.textCard, hasText);
      ui.files.update(t);
      show(ui.head.cancel, t.phase !== "done");
    },
  };
}
