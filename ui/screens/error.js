// screens/error.js: a calm card for a failed transfer: a title picked from the error kind
// and the backend's own sentence (shown as text), with one way back home.

import { h, icon, setText } from "../dom.js";

const TITLES = {
  wrong_code: "Wrong code",
  declined: "The receiver declined",
  cancelled: "Transfer cancelled",
  peer_gone: "The other computer disconnected",
  tampered: "Connection not secure",
  corrupt: "A file arrived damaged",
  no_space: "Not enough disk space",
  disk_full: "The disk is full",
  protocol: "The other side sent something invalid",
  unreachable: "The connection was lost",
  busy: "Already receiving these files",
  connect: "Could not connect",
  words_differ: "The words were different",
  peer_failed: "The other side stopped the transfer",
  timed_out: "It took too long",
  bad_code: "That is not a code",
  local_network: "Not found on this network",
  signal_unreachable: "The server cannot be reached",
  signal_certificate: "The server's certificate is not trusted",
  signal_refused: "The server said no",
  signal_lost: "The connection to the server was lost",
  no_relay: "No relay server",
  turn_refused: "The relay server refused",
  turned_away: "Not let in",
  some_receivers_missed: "Not everyone got the files",
};

export function errorTitle(kind) {
  return TITLES[kind] || "Something went wrong";
}

// The backend's message as a sentence under its title: without a prefix that repeats the
// title ("wrong code: ..."), capitalized, ending with a full stop.
export function errorSentence(title, message) {
  let text = (message || "").trim();
  const prefix = title.toLowerCase() + ":";
  if (text.toLowerCase().startsWith(prefix)) {
    text = text.slice(prefix.length).trim();
  }
  if (!text) {
    return "";
  }
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : text + ".";
}

export function createErrorScreen(section, actions) {
  const title = h("h2", { id: "error-title", class: "error-title", tabindex: "-1" });
  const message = h("p", { id: "error-message", class: "error-message" });
  const back = h("button", { id: "back-home", type: "button", class: "btn btn-primary", onclick: actions.goHome }, "Back to Home");
  section.replaceChildren(
    h(
      "div",
      { class: "card error-card" },
      h("div", { class: "error-icon" }, icon("alert")),
      title,
      message,
      h("div", { class: "button-row center" }, back),
    ),
  );
  return {
    focusTarget() {
      return back;
    },
    update(state) {
      const error = state.error || { kind: "", message: "" };
      const heading = errorTitle(error.kind);
      setText(title, heading);
      setText(message, errorSentence(heading, error.message));
    },
  };
}
