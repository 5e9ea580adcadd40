// screens/sending.js: the sender's screen: the code to read out (text, Copy, and where the
// core gave one the link a browser opens, with Copy link; the QR holds the link), then the
// verification words, progress and the result. Built when shown and emptied when hidden, so
// the shared ids (#status, #file-list, #cancel-button...) exist once in the document. A text
// sent instead of files is shown in a read-only box where the file list would be.
// Sending to several people with one code, each receiver has a row of its own: its name
// and words, a Let in / Turn away question, then its own progress and how it ended.
// Sending to a nearby device there is no code: the user checks that the device shows the
// same two words and says so (They match / They're different) before anything is offered.

import { h, icon, setText, show } from "../dom.js";
import { formatRate, percent } from "../format.js";
import {
  groupText,
  looksLikeLink,
  memberName,
  memberState,
  memberStateText,
  progressLines,
  qrText,
  rank,
} from "../transfer.js";
import { errorSentence, errorTitle } from "./error.js";
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

/** One receiver's row in a group send, updated in place (its buttons keep their focus). */
function createReceiverRow(number, actions, nearby) {
  const name = h("span", { id: `receiver-name-${number}`, class: "receiver-name" });
  const words = h("span", { id: `receiver-words-${number}`, class: "receiver-words verification-words" });
  const stateText = h("span", { id: `receiver-state-${number}`, class: "receiver-state" });
  const bar = h("progress", { class: "bar bar-small", max: "1", value: "0", "aria-label": `Progress of receiver ${number}` });
  const amount = h("span", { class: "receiver-amount" });
  const progress = h("div", { class: "receiver-progress", hidden: true }, bar, amount);
  const turnAway = h(
    "button",
    { id: `turn-away-${number}`, type: "button", class: "btn", onclick: () => actions.letIn(number, false) },
    nearby ? "They're different" : "Turn away",
  );
  const letIn = h(
    "button",
    { id: `let-in-${number}`, type: "button", class: "btn btn-primary", onclick: () => actions.letIn(number, true) },
    nearby ? "They match — send" : "Let in",
  );
  const ask = h("div", { class: "button-row end receiver-ask", hidden: true }, turnAway, letIn);
  const el = h(
    "li",
    { class: "receiver-row", "data-receiver": String(number) },
    h("div", { class: "receiver-head" }, name, words),
    // Its state, beside its progress or its question, on one line of one height: a row
    // keeps its height from joining to done, so the buttons of the rows below it never
    // move under the pointer as others go on or finish.
    h("div", { class: "receiver-foot" }, stateText, progress, ask),
  );
  return {
    el,
    update(m) {
      const state = memberState(m);
      el.dataset.state = state;
      setText(name, memberName(m));
      setText(words, m.verification || "");
      setText(stateText, memberStateText(m));
      // Cut to its line while it goes on: the whole of it on hover.
      stateText.title = stateText.textContent;
      const p = m.transfer.progress;
      const moving = state === "sending" && p;
      show(progress, Boolean(moving));
      if (moving) {
        const total = Math.max(p.total, 1);
        bar.max = total;
        bar.value = Math.min(p.bytes, total);
        const lines = progressLines(p);
        setText(amount, [`${percent(p.bytes, p.total)}%`, formatRate(p.rate)].filter(Boolean).join(" · "));
        amount.title = lines.overall;
      }
      show(ask, state === "asking");
    },
  };
}

/** The group's receivers, a row each, with the totals and why the code closed, if it did. */
function createReceiverList(actions) {
  const list = h("ul", { id: "receiver-list", class: "receiver-list" });
  const total = h("p", { id: "group-total", class: "hint" });
  const ended = h("p", { id: "code-ended", class: "hint is-warning", hidden: true });
  const endedTitle = h("h3", { id: "group-end-title", class: "done-title", hidden: true });
  const endedText = h("p", { id: "group-end-text", class: "hint", hidden: true });
  const again = h(
    "button",
    { id: "send-again", type: "button", class: "btn", hidden: true, onclick: actions.sendAgain },
    "Send again with a new code",
  );
  const home = h(
    "button",
    { id: "group-home", type: "button", class: "btn btn-primary", hidden: true, onclick: actions.goHome },
    "Back to Home",
  );
  const el = h(
    "section",
    { id: "receivers-card", class: "card receivers-card", "aria-labelledby": "receivers-heading", hidden: true },
    h("h3", { id: "receivers-heading", class: "card-title" }, "Receivers"),
    list,
    total,
    ended,
    endedTitle,
    endedText,
    h("div", { class: "button-row end" }, again, home),
  );
  const rows = new Map();
  return {
    el,
    update(t) {
      show(el, Boolean(t.group) && t.group.members.length > 0);
      if (!t.group) return;
      for (const m of t.group.members) {
        let row = rows.get(m.number);
        if (!row) {
          row = createReceiverRow(m.number, actions, m.nearby);
          rows.set(m.number, row);
          list.append(row.el);
        }
        row.update(m);
      }
      setText(total, groupText(t));
      setText(ended, t.group.ended || "");
      show(ended, Boolean(t.group.ended));
      // A group that ended with some receivers short stays here, each row saying why.
      const end = t.group.end;
      show(endedTitle, Boolean(end));
      show(endedText, Boolean(end));
      if (end) {
        const title = errorTitle(end.kind);
        setText(endedTitle, title);
        setText(endedText, errorSentence(title, end.message));
      }
      const over = t.phase === "done" || Boolean(end);
      show(home, Boolean(end));
      show(again, over && Boolean(t.group.ended));
    },
  };
}

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
    const receivers = createReceiverList(actions);
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
      // A group's receivers above its code: rows come as people join and the code goes
      // once every place is taken, and neither moves a row under the pointer.
      receivers.el,
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
      receivers,
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
      const heading = hasText
        ? "Send text"
        : t.target
          ? `Send to ${t.target}`
          : t.group
            ? t.group.nearby
              ? `Send to ${t.group.size} devices`
              : "Send to several people"
            : "Send files";
      setText(ui.head.heading, heading);
      ui.status.update(t);
      // A group's code stays up while it takes receivers.
      const taking = t.group
        ? t.phase === "code" && !t.group.ended && !t.group.end && t.group.members.length < t.group.size
        : rank(t.phase) < rank("paired");
      show(ui.codeCard, Boolean(t.code) && taking);
      setText(ui.code, t.code);
      setText(ui.codeCard.querySelector("#code-label"), t.group ? `Tell up to ${t.group.size} people this code` : "Tell the receiver this code");
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
      const offerNearby = t.phase === "code" && !t.group && !hasText && t.paths.length > 0 && state.nearby.devices.length > 0;
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
      ui.receivers.update(t);
      const wasDone = !ui.done.el.hidden;
      ui.done.update(t);
      if (t.phase === "done" && !wasDone) ui.done.home.focus();
      setText(ui.textTitle, hasText && looksLikeLink(t.text) ? "Link" : "Text");
      ui.text.update(hasText ? t.text : "");
      show(ui.textCard, hasText);
      ui.files.update(t);
      show(ui.head.cancel, t.phase !== "done" && !(t.group && t.group.end));
    },
  };
}
