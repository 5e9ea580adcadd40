// screens/home.js: where everything starts: a drop zone and pickers to send, nearby devices
// to send to straight away, a code field to receive, a field for a short text or link, and
// the recent transfers. Built once;
// `update` follows the state without rebuilding the fields, so typing and focus are never
// disturbed.

import { h, icon, setText, show } from "../dom.js";
import { formatBytes, formatRelativeTime, plural } from "../format.js";
import { MAX_TEXT_BYTES, sendableText, textBytes } from "../transfer.js";
import { createDeviceList } from "./parts.js";

const RESULT_LABELS = {
  ok: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
  declined: "Declined",
};

/** Most people one code can be shared with in the app (the backend's MAX_GROUP_RECEIVERS). */
export const MAX_GROUP = 8;

/** Past transfers drawn at most. */
const MAX_RECENT = 50;

function recentItem(entry, nowMs) {
  const sent = entry.direction === "send";
  const peer = entry.peer ? String(entry.peer) : "";
  const who = sent ? (peer ? `Sent to ${peer}` : "Sent") : peer ? `Received from ${peer}` : "Received";
  const files = Number(entry.files);
  const size = formatBytes(Number(entry.size));
  // A text sent alone is recorded with no files.
  const amount = files === 0 ? "Text" : files > 1 ? `${plural(files, "file")}, ${size}` : size;
  const result = String(entry.result);
  const when = Number(entry.when);
  const badge =
    result === "ok"
      ? h("span", { class: "badge badge-ok" }, icon("check"), h("span", { class: "sr-only" }, RESULT_LABELS.ok))
      : h("span", { class: `badge badge-${result === "failed" ? "failed" : "muted"}` }, RESULT_LABELS[result] || result);
  return h(
    "li",
    { class: "recent-item" },
    h("span", { class: `recent-icon ${sent ? "is-send" : "is-receive"}` }, icon(sent ? "arrowUp" : "arrowDown")),
    h(
      "div",
      { class: "recent-main" },
      h("span", { class: "recent-name", title: String(entry.name) }, String(entry.name)),
      h("span", { class: "recent-meta" }, `${who} · ${amount}`),
    ),
    h(
      "div",
      { class: "recent-side" },
      h(
        "time",
        { class: "recent-when", datetime: Number.isFinite(when) ? new Date(when * 1000).toISOString() : null },
        formatRelativeTime(when, nowMs),
      ),
      badge,
    ),
  );
}

export function createHomeScreen(section, actions) {
  const heading = h("h2", { id: "home-heading", class: "sr-only", tabindex: "-1" }, "Send or receive");

  const dropZone = h(
    "button",
    { id: "drop-zone", type: "button", class: "drop-zone", onclick: actions.chooseFiles },
    h("span", { class: "drop-icon" }, icon("upload")),
    h("span", { class: "drop-title" }, "Drop files or folders to send"),
    h("span", { class: "drop-hint" }, "or click to choose files"),
  );
  // One code for several people: each gets their own words and is let in on the sending
  // screen.
  const groupToggle = h("input", {
    id: "group-toggle",
    type: "checkbox",
    onchange: () => actions.groupInput(groupToggle.checked, Number(groupCount.value)),
  });
  const groupCount = h("input", {
    id: "group-count",
    type: "number",
    class: "field group-count",
    min: "2",
    max: String(MAX_GROUP),
    step: "1",
    "aria-label": "How many people can receive",
    onchange: () => actions.groupInput(groupToggle.checked, Number(groupCount.value)),
  });
  const groupCountRow = h("span", { class: "group-count-row" }, "up to ", groupCount, " people");
  const groupRow = h(
    "div",
    { class: "group-row" },
    h("label", { class: "check-label", for: "group-toggle" }, groupToggle, "Let several people receive"),
    groupCountRow,
  );
  const sendCard = h(
    "section",
    { class: "card send-card", "aria-labelledby": "send-heading" },
    h("h3", { id: "send-heading", class: "card-title" }, "Send"),
    dropZone,
    h(
      "div",
      { class: "button-row" },
      h("button", { id: "choose-files", type: "button", class: "btn", onclick: actions.chooseFiles }, icon("file"), "Choose files"),
      h("button", { id: "choose-folder", type: "button", class: "btn", onclick: actions.chooseFolders }, icon("folder"), "Choose folder"),
    ),
    groupRow,
  );

  const codeInput = h("input", {
    id: "code-input",
    type: "text",
    class: "field code-field",
    placeholder: "42-orbit-lemon",
    autocomplete: "off",
    autocapitalize: "off",
    autocorrect: "off",
    spellcheck: "false",
    "aria-describedby": "code-hint",
    oninput: () => actions.codeInput(codeInput.value),
    onkeydown: (event) => {
      // Enter submits even before the debounced check has answered.
      if (event.key === "Enter") {
        event.preventDefault();
        actions.submitCode();
      }
    },
  });
  const hint = h("p", { id: "code-hint", class: "hint" });
  const receiveButton = h("button", { id: "receive-button", type: "submit", class: "btn btn-primary", disabled: true }, icon("download"), "Receive");
  const receiveCard = h(
    "section",
    { class: "card receive-card", "aria-labelledby": "receive-heading" },
    h("h3", { id: "receive-heading", class: "card-title" }, "Receive"),
    h(
      "form",
      {
        class: "receive-form",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          actions.submitCode();
        },
      },
      h("label", { for: "code-input", class: "label" }, "Enter the code from the sender"),
      h("div", { class: "input-row" }, codeInput, receiveButton),
      hint,
    ),
  );

  const textInput = h("textarea", {
    id: "text-input",
    class: "field text-field",
    rows: "3",
    maxlength: String(MAX_TEXT_BYTES),
    placeholder: "Paste a link or type a short message",
    "aria-describedby": "text-hint",
    oninput: () => actions.textInput(textInput.value),
    onkeydown: (event) => {
      // Enter starts a new line; Ctrl+Enter (Cmd+Enter) sends.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        actions.sendText();
      }
    },
  });
  const textHint = h("p", { id: "text-hint", class: "hint" });
  const sendTextButton = h(
    "button",
    { id: "send-text-button", type: "submit", class: "btn btn-primary", disabled: true },
    icon("upload"),
    "Send text",
  );
  const textCard = h(
    "section",
    { class: "card text-send-card", "aria-labelledby": "text-heading" },
    h("h3", { id: "text-heading", class: "card-title" }, "Send a text or link"),
    h(
      "form",
      {
        class: "text-form",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          actions.sendText();
        },
      },
      h("label", { for: "text-input", class: "label" }, "Text or link"),
      textInput,
      h("div", { class: "text-form-foot" }, textHint, sendTextButton),
    ),
  );

  const devices = createDeviceList("nearby-list", actions.sendToDevice);
  const nearbyHint = h("p", { id: "nearby-hint", class: "hint" });
  const sharedHint = h("p", { id: "nearby-shared", class: "hint is-warning", hidden: true });
  const nearbySelf = h("p", { id: "nearby-self", class: "hint", hidden: true });
  const selectionText = h("span", { id: "nearby-selection-text" });
  const clearSelection = h(
    "button",
    { id: "nearby-clear", type: "button", class: "btn btn-small", onclick: actions.clearSelection },
    "Clear",
  );
  const selection = h("p", { id: "nearby-selection", class: "hint nearby-selection", hidden: true }, selectionText, clearSelection);
  const nearbyCard = h(
    "section",
    { class: "card nearby-card", "aria-labelledby": "nearby-heading" },
    h("h3", { id: "nearby-heading", class: "card-title" }, "Nearby"),
    devices.el,
    selection,
    nearbyHint,
    sharedHint,
    nearbySelf,
  );

  const recentList = h("ul", { id: "recent-list", class: "recent-list" });
  const recentSection = h(
    "section",
    { class: "recent", "aria-labelledby": "recent-heading" },
    h("h3", { id: "recent-heading", class: "section-title" }, "Recent transfers"),
    recentList,
  );

  section.replaceChildren(heading, h("div", { class: "home-grid" }, sendCard, nearbyCard, receiveCard, textCard), recentSection);

  let drawnRecent;
  let drawnAt = 0;

  return {
    focusTarget() {
      return heading;
    },
    update(state) {
      dropZone.classList.toggle("is-dragover", state.dragOver && !state.dropTarget);
      groupToggle.checked = state.group.on;
      if (document.activeElement !== groupCount) groupCount.value = String(state.group.count);
      show(groupCountRow, state.group.on);
      setText(
        dropZone.querySelector(".drop-hint"),
        state.group.on ? `one code for up to ${state.group.count} people · or click to choose files` : "or click to choose files",
      );

      const nearby = state.nearby;
      // Picks of devices that are off the list just now neither show nor count.
      const picks = state.selected.filter((id) => nearby.devices.some((d) => d.id === id));
      devices.update(nearby.devices, state.dropTarget, nearby.shared_names, picks);
      const picked = picks.length;
      setText(
        selectionText,
        picked > 1
          ? `${picked} devices picked: drop files on one of them, or click one, to send to all ${picked}. `
          : picked === 1
            ? "1 device picked: Ctrl- or Shift-click another to send to both. "
            : "",
      );
      show(selection, picked > 0);
      setText(
        nearbyHint,
        !nearby.visible
          ? nearby.hidden_because || "Looking for nearby devices..."
          : nearby.devices.length
            ? "Drop files on a device, or click it to choose what to send; Ctrl- or Shift-click to pick several. Nothing goes until you both check the words and they accept."
            : "No one nearby yet. Toss on other computers on this network shows up here.",
      );
      // Anyone can take any name: when two do, the short ids tell them apart.
      const shared = nearby.visible && nearby.shared_names.length > 0;
      setText(
        sharedHint,
        shared ? "Some devices use the same name. Ask their owners which one is theirs: Toss shows each computer its own id here." : "",
      );
      show(sharedHint, shared);
      const me = nearby.visible ? nearby.this_device : null;
      setText(nearbySelf, me ? `Others see this computer as “${me.name}”, id ${String(me.id).slice(0, 4)}.` : "");
      show(nearbySelf, Boolean(me));

      const code = state.code;
      if (codeInput.value !== code.value) codeInput.value = code.value;
      receiveButton.disabled = !code.ok;
      if (!code.pending) {
        const showError = Boolean(code.message) && code.value.trim() !== "";
        setText(
          hint,
          showError
            ? code.message
            : code.ok
              ? "Press Enter to receive."
              : "Ask the sender to read out their code.",
        );
        hint.classList.toggle("is-error", showError);
        hint.classList.toggle("is-ok", code.ok);
        if (showError) codeInput.setAttribute("aria-invalid", "true");
        else codeInput.removeAttribute("aria-invalid");
      }

      if (textInput.value !== state.text) textInput.value = state.text;
      const tooLong = textBytes(state.text.trim()) > MAX_TEXT_BYTES;
      sendTextButton.disabled = !sendableText(state.text);
      setText(
        textHint,
        tooLong ? "Too long: Toss sends at most 64 KiB of text." : "Press Ctrl+Enter to send.",
      );
      textHint.classList.toggle("is-error", tooLong);
      if (tooLong) textInput.setAttribute("aria-invalid", "true");
      else textInput.removeAttribute("aria-invalid");

      if (drawnRecent !== state.recent || drawnAt !== state.now) {
        drawnRecent = state.recent;
        drawnAt = state.now;
        if (state.recent === null) {
          recentList.replaceChildren(h("li", { class: "empty" }, "Loading..."));
        } else if (state.recent.length === 0) {
          recentList.replaceChildren(h("li", { class: "empty" }, "Nothing sent or received yet."));
        } else {
          recentList.replaceChildren(...state.recent.slice(0, MAX_RECENT).map((e) => recentItem(e, state.now)));
        }
      }
    },
  };
}
