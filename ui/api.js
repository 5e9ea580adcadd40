// api.js: the only module that touches window.__TAURI__ (the app sets withGlobalTauri).
// Every backend command, dialog and drag-and-drop hook the UI uses is wrapped here, so the
// rest of the UI deals in plain promises and callbacks. No state and no DOM in this file.

function tauri() {
  const t = window.__TAURI__;
  if (!t || !t.core) {
    throw new Error("Toss must run inside its desktop app; the Tauri bridge is missing.");
  }
  return t;
}

function invoke(command, args) {
  try {
    return tauri().core.invoke(command, args);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A channel whose messages go to `onEvent`; the transfer commands stream on it. */
function channel(onEvent) {
  const ch = new (tauri().core.Channel)();
  ch.onmessage = onEvent;
  return ch;
}

/** The sentence to show for a rejected command (commands reject with a string). */
export function errorMessage(error) {
  if (typeof error === "string") return error;
  if (error && typeof error.message === "string") return error.message;
  return String(error);
}

/** Checks a code as typed: `{ ok, message }`, message a sentence when not ok. */
export function checkCode(code) {
  return invoke("check_code", { code });
}

/** Starts sending `paths`; events go to `onEvent`. Resolves to the transfer id. */
export function startSend(paths, onEvent) {
  return invoke("start_send", { paths, onEvent: channel(onEvent) });
}

/** Starts sending `paths` to up to `receivers` people with one code; events as for startSend, each receiver's tagged with its number. */
export function startSendGroup(paths, receivers, onEvent) {
  return invoke("start_send_group", { paths, receivers, onEvent: channel(onEvent) });
}

/** Lets receiver `receiver` of group transfer `id` in (`accept`), or turns it away. */
export function decideReceiver(id, receiver, accept) {
  return invoke("decide_receiver", { id, receiver, accept });
}

/** Starts sending a short text or link (no files); events as for startSend. */
export function startSendText(text, onEvent) {
  return invoke("start_send_text", { text, onEvent: channel(onEvent) });
}

/** Starts receiving with `code`; events go to `onEvent`. Resolves to the transfer id. */
export function startReceive(code, onEvent) {
  return invoke("start_receive", { code, onEvent: channel(onEvent) });
}

/** Starts sending `paths` to each of the nearby devices `deviceIds` at once; events as for startSendGroup (receiver N is the N-th device). */
export function startSendToMany(deviceIds, paths, onEvent) {
  return invoke("start_send_to_many", { deviceIds, paths, onEvent: channel(onEvent) });
}

/** Starts sending `paths` straight to the nearby device `deviceId`; events as for startSend. */
export function startSendTo(deviceId, paths, onEvent) {
  return invoke("start_send_to", { deviceId, paths, onEvent: channel(onEvent) });
}

/** Starts receiving what a nearby device sends here (knock `knockId`); events as for startReceive. */
export function startReceiveKnock(knockId, onEvent) {
  return invoke("start_receive_knock", { knockId, onEvent: channel(onEvent) });
}

/** Drops the request of knock `knockId` unanswered (the user chose Ignore). */
export function ignoreKnock(knockId) {
  return invoke("ignore_knock", { knockId });
}

/**
 * `{ visible, hidden_because, network, network_public, devices, shared_names, this_device }`:
 * nearby devices now.
 */
export function nearbyStatus() {
  return invoke("nearby_status");
}

/** Calls `handler(payload)` for each app event `name`; resolves to a function that stops it. */
async function listen(name, handler) {
  const events = tauri().event;
  if (!events || typeof events.listen !== "function") return () => {};
  return events.listen(name, (event) => handler(event.payload));
}

/** Calls `handler(status)` whenever the nearby devices or this computer's visibility change. */
export function onNearby(handler) {
  return listen("nearby", handler);
}

/**
 * The server invite the app was opened with, once: `{ kind: "server", server }` to confirm,
 * `{ kind: "bad", message }`, or null.
 */
export function pendingInvite() {
  return invoke("pending_invite");
}

/** Calls `handler(invite)` for a server invite opened while the app runs. */
export function onInvite(handler) {
  return listen("server-invite", handler);
}

/** Makes `server` (a confirmed invite's) the signaling server; resolves to the saved settings. */
export function useServer(server) {
  return invoke("use_server", { server });
}

/** Calls `handler({ id })` when a nearby device wants to send files here. */
export function onKnock(handler) {
  return listen("nearby-knock", handler);
}

/**
 * Answers an offer (receiver), or says whether the other screen shows the same words
 * (sender to a nearby device, after check_words).
 */
export function decide(id, accept) {
  return invoke("decide", { id, accept });
}

export function cancel(id) {
  return invoke("cancel", { id });
}

export function getSettings() {
  return invoke("get_settings");
}

/** Why the saved settings could not be used (a sentence), once; otherwise null. */
export function settingsWarning() {
  return invoke("settings_warning");
}

/** Saves and resolves to the stored settings; rejects with a sentence when invalid. */
export function saveSettings(settings) {
  return invoke("save_settings", { settings });
}

/** Past transfers, newest first as the backend keeps them. */
export function recent() {
  return invoke("recent");
}

/** An SVG document (text) drawing `text` as a QR code. */
export function qrSvg(text) {
  return invoke("qr_svg", { text });
}

export function showInFolder(path) {
  return invoke("show_in_folder", { path });
}

/** Files given on the command line ("Open with"); empty when none. */
export function initialPaths() {
  return invoke("initial_paths");
}

function asList(picked) {
  if (picked == null) return [];
  return Array.isArray(picked) ? picked : [picked];
}

/** The system file picker; resolves to the chosen paths (empty when dismissed). */
export async function chooseFiles() {
  return asList(await tauri().dialog.open({ multiple: true, directory: false }));
}

/** The system folder picker, several folders allowed; resolves to the chosen paths. */
export async function chooseFolders() {
  return asList(await tauri().dialog.open({ multiple: true, directory: true }));
}

/** Picks one folder, starting at `current`; resolves to its path or null. */
export async function chooseFolder(current) {
  const options = { multiple: false, directory: true };
  if (current) options.defaultPath = current;
  const picked = asList(await tauri().dialog.open(options));
  return picked.length ? picked[0] : null;
}

/**
 * Calls `handler({ type, paths, position })` for files dragged over and dropped on the window.
 * Resolves to a function that stops listening (a no-op when the bridge lacks webviews).
 */
export async function onDragDrop(handler) {
  const webview = tauri().webview;
  if (!webview || typeof webview.getCurrentWebview !== "function") return () => {};
  return webview.getCurrentWebview().onDragDropEvent((event) => {
    const payload = event.payload || {};
    // The position is in physical pixels; the page works in CSS pixels.
    const scale = window.devicePixelRatio || 1;
    const position = payload.position
      ? { x: payload.position.x / scale, y: payload.position.y / scale }
      : null;
    handler({ type: payload.type, paths: asList(payload.paths), position });
  });
}
