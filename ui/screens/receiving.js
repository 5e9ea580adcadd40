// screens/receiving.js: the receiver's screen: connecting, the verification words, the
// offer to accept or decline, progress, and where the files went. Built when shown and
// emptied when hidden (shared ids exist once). The device name and paths come from the
// other computer and only ever go in as text.

import { h, setText, show } from "../dom.js";
import { offerAmount, rank } from "../transfer.js";
import {
  createDone,
  createFileList,
  createProgress,
  createScreenHead,
  createStatus,
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
    const amount = h("span", { class: "offer-amount" });
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
    const offerCard = h(
      "section",
      { class: "card offer-card", "aria-labelledby": "offer-summary", hidden: true },
      h("p", { id: "offer-summary", class: "offer-summary" }, device, " wants to send ", amount),
      h("p", { class: "hint" }, "The files are saved in your download folder. Accept only what you expect."),
      h("div", { class: "button-row end" }, decline, accept),
    );

    const progress = createProgress();
    const done = createDone({
      direction: "receive",
      onHome: actions.goHome,
      onShowInFolder: actions.showInFolder,
    });
    const files = createFileList();
    section.replaceChildren(
      head.el,
      status.el,
      codeEcho,
      verification.el,
      offerCard,
      progress.el,
      done.el,
      files.el,
    );
    return { head, status, codeEcho, verification, device, amount, accept, offerCard, progress, done, files };
  }

  return {
    show() {
      ui = build();
    },
    hide() {
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
      setText(ui.codeEcho, t.code ? `Code ${t.code}` : "");
      show(ui.codeEcho, Boolean(t.code) && rank(t.phase) < rank("offer"));
      ui.verification.update(t);

      const offering = t.phase === "offer";
      const wasOffering = !ui.offerCard.hidden;
      setText(ui.device, t.device || "Someone");
      setText(ui.amount, offerAmount(t));
      show(ui.offerCard, offering);
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
