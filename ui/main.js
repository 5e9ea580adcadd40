// main.js: the UI's one state object, the actions that change it, and the render that
// shows the active screen from it. Backend calls go through api.js only; each screen lives
// in its own module under screens/ and never keeps state of its own beyond its DOM.

import * as api from "./api.js";
import { icon } from "./dom.js";
import {
  applyEvent,
  createTransfer,
  describeTransfer,
  isTextOnly,
  memberName,
  memberStateText,
  qrText,
  sendableText,
} from "./transfer.js";
import { createInviteBanner, createKnockBanner } from "./screens/parts.js";
import { createHomeScreen, MAX_GROUP } from "./screens/home.js";
import { createSendingScreen } from "./screens/sending.js";
import { createReceivingScreen } from "./screens/receiving.js";
import { createErrorScreen, errorTitle } from "./screens/error.js";
import { createSettingsScreen } from "./screens/settings.js";

/** Pause after the last keystroke before the code is checked. */
const CHECK_DELAY_MS = 150;
/** How often relative times ("5 min ago") are redrawn. */
const CLOCK_MS = 60000;
/** Requests from nearby devices kept waiting for the user (the backend keeps as many). */
const MAX_KNOCKS = 16;

const state = {
  /** "home" | "sending" | "receiving" | "error"; settings shows over it when open. */
  screen: "home",
  settingsOpen: false,
  /** Files are being dragged over the window. */
  dragOver: false,
  /** The id of the nearby device under the dragged files, or null. */
  dropTarget: null,
  /** Nearby devices picked together (Ctrl- or Shift-click), by id: files go to all of them. */
  selected: [],
  /** Nearby devices and this computer's visibility, as the backend reports them. */
  nearby: {
    visible: false,
    hidden_because: null,
    network: null,
    network_public: false,
    devices: [],
    /** Names (lower-cased) that more than one device uses. */
    shared_names: [],
    /** How the others see this computer: { name, id }, or null when not visible. */
    this_device: null,
  },
  /**
   * Nearby devices that asked to send here, oldest first: { id } each, until the user opens
   * one (Show) or drops it (Ignore). They never take the screen over.
   */
  knocks: [],
  /** The code field: its text, what check_code said, and whether an answer is pending. */
  code: { value: "", ok: false, message: null, pending: false },
  /** The text field on Home (a draft until it is sent). */
  text: "",
  /** Home's "Let several people receive": on, and for how many (one code, each let in). */
  group: { on: false, count: 3 },
  /** Recent transfers; null while loading. */
  recent: null,
  /** Clock for relative times, refreshed every minute. */
  now: Date.now(),
  /** The running transfer (see transfer.js), or null. */
  transfer: null,
  /** What went wrong: { kind, message }. */
  error: null,
  settings: { generation: 0, values: null, loading: false, saving: false, error: null },
  /** A server invite waiting for the person's answer: { server, saving }, or null. */
  invite: null,
};

const quiet = (error) => console.warn(error);

// ---- rendering ------------------------------------------------------------------------

const sections = {};
const screens = {};
let active = null;
let announcer = null;
let banner = null;
let inviteBanner = null;
let lastAnnounced = "";

function announce(text) {
  if (!announcer || !text) return;
  lastAnnounced = text;
  // Clearing first makes screen readers repeat an identical message.
  announcer.textContent = "";
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

/** The sentence that sums up the visible screen, for the live region. */
function describe() {
  if (state.settingsOpen) return "";
  if (state.screen === "error" && state.error) {
    return `${errorTitle(state.error.kind)}. ${state.error.message}`;
  }
  const t = state.transfer;
  if (!t || (state.screen !== "sending" && state.screen !== "receiving")) return "";
  return describeTransfer(t);
}

function render() {
  const next = state.settingsOpen ? "settings" : state.screen;
  const previous = active;
  if (next !== previous) {
    if (previous) {
      if (screens[previous].hide) screens[previous].hide();
      sections[previous].hidden = true;
    }
    sections[next].hidden = false;
    if (screens[next].show) screens[next].show(state);
    active = next;
  }
  screens[next].update(state);
  banner.update(state.knocks.length, busy());
  inviteBanner.update(state.invite && state.invite.server, Boolean(state.invite && state.invite.saving));
  if (next !== previous && previous !== null) {
    window.scrollTo(0, 0);
    const target =
      previous === "settings" && !state.settingsOpen
        ? document.getElementById("settings-button")
        : screens[next].focusTarget && screens[next].focusTarget();
    if (target && !target.contains(document.activeElement)) target.focus({ preventScroll: true });
  }
  const sentence = describe();
  if (sentence && sentence !== lastAnnounced) announce(sentence);
}

// ---- transfers ------------------------------------------------------------------------

/** A transfer is under way (one at a time: a nearby request waits for it to end). */
function busy() {
  const t = state.transfer;
  return Boolean(t) && t.phase !== "done" && !(t.group && t.group.end);
}

function isCurrent(t) {
  return state.transfer === t && !t.abandoned;
}

/** Runs `fn(id)` once the backend has named the transfer. */
function withId(t, fn) {
  if (t.id !== null) fn(t.id);
  else t.waiting.push(fn);
}

function fail(kind, message) {
  state.transfer = null;
  state.error = { kind: kind ? String(kind) : "other", message: message ? String(message) : "" };
  state.screen = "error";
  refreshRecent();
}

function onEvent(t, event) {
  if (!isCurrent(t)) return;
  const outcome = applyEvent(t, event);
  if (outcome === "ignored") return;
  if (outcome === "error" && t.group && t.group.members.length > 0) {
    // A group's end with some receivers short: its rows say who, and why.
    t.group.end = { kind: String(event.kind ?? ""), message: String(event.message ?? "") };
    refreshRecent();
  } else if (outcome === "error") {
    fail(event.kind, event.message);
  } else if (t.group && typeof event.receiver === "number") {
    // Each receiver's row changes where the eye may not be: its news is said aloud.
    const m = t.group.members.find((x) => x.number === event.receiver);
    if (m && (event.event === "joiner" || event.event === "check_words")) {
      announce(`${memberName(m)} shows ${m.verification}. ${memberStateText(m)}`);
    } else if (m && (event.event === "done" || event.event === "error")) {
      announce(`${memberName(m)}: ${memberStateText(m)}`);
    }
  } else if (event.event === "code") {
    fetchQr(t);
  } else if (event.event === "done") {
    if (t.direction === "send" && isTextOnly(t)) state.text = "";
    refreshRecent();
  }
  render();
}

/** Tells the backend yes (once it has an id) and moves on to the transfer. */
function acceptOffer(t) {
  t.phase = "transferring";
  withId(t, (id) =>
    api.decide(id, true).catch((error) => {
      if (!isCurrent(t)) return;
      fail("other", api.errorMessage(error));
      render();
    }),
  );
}

function fetchQr(t) {
  const text = qrText(t);
  api
    .qrSvg(text)
    .then((svg) => {
      if (!isCurrent(t) || qrText(t) !== text) return;
      t.qr = `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
      render();
    })
    .catch(quiet);
}

/** Starts a transfer whose backend call is `start(onEvent)`. */
function launch(t, start, screen) {
  state.transfer = t;
  state.error = null;
  state.screen = screen;
  render();
  let started;
  try {
    started = start((event) => onEvent(t, event));
  } catch (error) {
    started = Promise.reject(error);
  }
  started.then(
    (id) => {
      t.id = id;
      const waiting = t.waiting.splice(0);
      for (const fn of waiting) fn(id);
    },
    (error) => {
      if (!isCurrent(t)) return;
      fail("other", api.errorMessage(error));
      render();
    },
  );
}

function startSend(paths) {
  const list = (paths || []).filter((p) => typeof p === "string" && p !== "");
  if (!list.length || state.transfer) return;
  state.dragOver = false;
  if (state.group.on) {
    const receivers = state.group.count;
    const t = createTransfer("send", { paths: list, receivers });
    launch(t, (handler) => api.startSendGroup(list, receivers, handler), "sending");
    return;
  }
  const t = createTransfer("send", { paths: list });
  launch(t, (handler) => api.startSend(list, handler), "sending");
}

/** Sends `paths` to each of `devices` at once: a request, words and a row each. */
function startSendToMany(devices, paths) {
  const list = (paths || []).filter((p) => typeof p === "string" && p !== "");
  if (!list.length || state.transfer || !devices.length) return;
  if (devices.length === 1) return startSendTo(devices[0], list);
  state.dragOver = false;
  state.dropTarget = null;
  state.selected = [];
  const t = createTransfer("send", { paths: list, targets: devices.map((d) => String(d.name)) });
  launch(t, (handler) => api.startSendToMany(devices.map((d) => String(d.id)), list, handler), "sending");
}

/** The picked devices still on the network, in the order they were picked. */
function selectedDevices() {
  return state.selected.map((id) => state.nearby.devices.find((d) => d.id === id)).filter(Boolean);
}

function startSendTo(device, paths) {
  const list = (paths || []).filter((p) => typeof p === "string" && p !== "");
  if (!list.length || state.transfer || !device) return;
  state.dragOver = false;
  state.dropTarget = null;
  const t = createTransfer("send", { paths: list, target: String(device.name) });
  launch(t, (handler) => api.startSendTo(String(device.id), list, handler), "sending");
}

/**
 * Someone nearby wants to send here: a banner over whatever shows, never the screen taken
 * over (a settings draft, a typed code, a finished transfer all stay). Who it is is only
 * known from the offer, once the user opens it.
 */
function onKnock(knock) {
  const id = knock ? Number(knock.id) : NaN;
  if (!Number.isFinite(id) || state.knocks.some((k) => k.id === id)) return;
  state.knocks.push({ id });
  if (state.knocks.length > MAX_KNOCKS) state.knocks.shift();
  render();
  announce("A nearby device wants to send you something.");
}

/** Show on the banner: opens the oldest request, leaving Settings (the user chose to). */
function showKnock() {
  if (!state.knocks.length || busy()) return;
  const knock = state.knocks.shift();
  if (state.settingsOpen) {
    state.settingsOpen = false;
    settingsGeneration += 1;
  }
  const t = createTransfer("receive", { nearby: true });
  launch(t, (handler) => api.startReceiveKnock(knock.id, handler), "receiving");
}

/** Ignore on the banner: the oldest request is dropped; its sender is not told. */
function ignoreKnock() {
  const knock = state.knocks.shift();
  if (!knock) return;
  api.ignoreKnock(knock.id).catch(quiet);
  render();
}

function onNearby(status) {
  if (!status || typeof status !== "object") return;
  state.nearby = {
    visible: Boolean(status.visible),
    hidden_because: status.hidden_because ? String(status.hidden_because) : null,
    network: status.network ? String(status.network) : null,
    network_public: Boolean(status.network_public),
    devices: Array.isArray(status.devices) ? status.devices : [],
    shared_names: Array.isArray(status.shared_names) ? status.shared_names.map(String) : [],
    this_device:
      status.this_device && typeof status.this_device === "object"
        ? { name: String(status.this_device.name), id: String(status.this_device.id) }
        : null,
  };
  if (state.dropTarget && !state.nearby.devices.some((d) => d.id === state.dropTarget)) state.dropTarget = null;
  // Picks stay when a device drops off the list: a device that flickers out and back (its
  // announcement refreshed) is still picked, and one that is gone is simply not sent to.
  render();
}

function startSendText(value) {
  const text = sendableText(value);
  if (!text || state.transfer) return;
  state.dragOver = false;
  const t = createTransfer("send", { text });
  launch(t, (handler) => api.startSendText(text, handler), "sending");
}

function startReceive(code) {
  if (state.transfer) return;
  state.code = { value: "", ok: false, message: null, pending: false };
  const t = createTransfer("receive", { code });
  launch(t, (handler) => api.startReceive(code, handler), "receiving");
}

/** Leaves the transfer on the user's word; the backend hears about it once it has an id. */
function abandon(t, tell) {
  t.abandoned = true;
  withId(t, (id) => tell(id).catch(quiet));
  state.transfer = null;
  state.screen = "home";
  refreshRecent();
}

// ---- code field -----------------------------------------------------------------------

let checkTimer = 0;
let checkSeq = 0;

/** Asks check_code about `value`; resolves to whether it is valid (false when outdated). */
async function checkCode(value) {
  const seq = ++checkSeq;
  let answer;
  try {
    answer = await api.checkCode(value.trim());
  } catch (error) {
    answer = { ok: false, message: api.errorMessage(error) };
  }
  if (seq !== checkSeq || state.code.value !== value) return false;
  state.code = {
    value,
    ok: Boolean(answer && answer.ok),
    message: (answer && answer.message) || null,
    pending: false,
  };
  render();
  return state.code.ok;
}

// ---- settings -------------------------------------------------------------------------

let settingsGeneration = 0;

function openSettings() {
  if (state.settingsOpen) return;
  const generation = ++settingsGeneration;
  state.settingsOpen = true;
  state.dragOver = false;
  state.settings = { generation, values: null, loading: true, saving: false, error: null };
  render();
  api.getSettings().then(
    (values) => {
      if (state.settings.generation !== generation) return;
      state.settings.values = values;
      state.settings.loading = false;
      render();
    },
    (error) => {
      if (state.settings.generation !== generation) return;
      state.settings.loading = false;
      state.settings.error = api.errorMessage(error);
      render();
    },
  );
}

function closeSettings() {
  if (!state.settingsOpen) return;
  state.settingsOpen = false;
  settingsGeneration += 1;
  render();
}

// ---- actions the screens call ---------------------------------------------------------

const actions = {
  announce,

  async chooseFiles() {
    try {
      startSend(await api.chooseFiles());
    } catch (error) {
      quiet(error);
    }
  },

  async chooseFolders() {
    try {
      startSend(await api.chooseFolders());
    } catch (error) {
      quiet(error);
    }
  },

  codeInput(value) {
    // Until the answer comes the button waits, and the hint keeps saying what it said.
    state.code = { value, ok: false, message: state.code.message, pending: value.trim() !== "" };
    clearTimeout(checkTimer);
    checkSeq += 1; // an answer for older text no longer counts
    checkTimer = setTimeout(() => checkCode(value), CHECK_DELAY_MS);
    render();
  },

  async submitCode() {
    const value = state.code.value;
    if (!value.trim() || state.transfer) return;
    clearTimeout(checkTimer);
    if (await checkCode(value)) startReceive(value.trim());
  },

  textInput(value) {
    state.text = value;
    render();
  },

  /** Home's "Let several people receive" and how many. */
  groupInput(on, count) {
    const n = Number.isFinite(count) ? Math.round(count) : state.group.count;
    state.group = { on: Boolean(on), count: Math.min(Math.max(n, 2), MAX_GROUP) };
    render();
  },

  /** A group code's sender lets receiver `number` in, or turns it away. */
  letIn(number, accept) {
    const t = state.transfer;
    if (!t || !t.group) return;
    const m = t.group.members.find((x) => x.number === number);
    if (!m || !m.asking) return;
    m.asking = false;
    withId(t, (id) =>
      api.decideReceiver(id, number, Boolean(accept)).catch((error) => {
        if (!isCurrent(t)) return;
        fail("other", api.errorMessage(error));
        render();
      }),
    );
    announce(accept ? `${memberName(m)} is let in.` : `${memberName(m)} is turned away.`);
    render();
  },

  /** After a group code was ended (a wrong code), the same files again with a fresh code. */
  sendAgain() {
    const t = state.transfer;
    if (!t || t.phase !== "done" || !t.paths.length) return;
    const paths = t.paths;
    state.transfer = null;
    startSend(paths);
  },

  sendText() {
    startSendText(state.text);
  },

  /**
   * A nearby device was clicked on Home: choose files for it, or for every picked device
   * when it is one of them. Ctrl- or Shift-click picks it (or unpicks it) instead.
   */
  async sendToDevice(device, event) {
    if (state.transfer || !device) return;
    const id = String(device.id);
    if (event && (event.ctrlKey || event.metaKey || event.shiftKey)) {
      state.selected = state.selected.includes(id) ? state.selected.filter((x) => x !== id) : [...state.selected, id];
      render();
      const n = selectedDevices().length;
      announce(n ? `${n} ${n === 1 ? "device" : "devices"} picked.` : "No device picked.");
      return;
    }
    const picked = selectedDevices();
    const many = picked.length > 1 && picked.some((d) => d.id === id);
    try {
      const paths = await api.chooseFiles();
      if (many) startSendToMany(picked, paths);
      else startSendTo(device, paths);
    } catch (error) {
      quiet(error);
    }
  },

  /** Forgets the picked devices. */
  clearSelection() {
    state.selected = [];
    render();
  },

  /** The sender chose a nearby device instead of waiting for the code to be typed. */
  sendInsteadTo(device) {
    const t = state.transfer;
    if (!t || t.phase !== "code" || !t.paths.length) return;
    const paths = t.paths;
    abandon(t, (id) => api.cancel(id));
    startSendTo(device, paths);
  },

  cancel() {
    const t = state.transfer;
    if (!t || t.phase === "done") return;
    abandon(t, (id) => api.cancel(id));
    announce("Transfer cancelled.");
    render();
  },

  /** The sender's answer to check_words: the other screen shows the same words, or not. */
  checkWords(match) {
    const t = state.transfer;
    if (!t || t.phase !== "check" || t.checked !== null) return;
    t.checked = match ? "match" : "differ";
    withId(t, (id) =>
      api.decide(id, Boolean(match)).catch((error) => {
        if (!isCurrent(t)) return;
        fail("other", api.errorMessage(error));
        render();
      }),
    );
    // "differ" ends with the core's error, which says what happened.
    render();
  },

  decide(accept) {
    const t = state.transfer;
    if (!t || t.phase !== "offer") return;
    if (accept) {
      acceptOffer(t);
    } else {
      abandon(t, (id) => api.decide(id, false));
      announce("You declined the files.");
    }
    render();
  },

  showInFolder() {
    const t = state.transfer;
    if (!t || !t.result || !t.result.savedTo) return;
    api.showInFolder(t.result.savedTo).catch((error) => announce(api.errorMessage(error)));
  },

  goHome() {
    if (busy()) return;
    state.transfer = null;
    state.error = null;
    state.screen = "home";
    refreshRecent();
    render();
  },

  openSettings,
  closeSettings,

  async chooseDownloadDir(current) {
    try {
      return await api.chooseFolder(current);
    } catch (error) {
      quiet(error);
      return null;
    }
  },

  async saveSettings(values) {
    if (state.settings.saving) return;
    const generation = state.settings.generation;
    state.settings.saving = true;
    state.settings.error = null;
    render();
    try {
      await api.saveSettings(values);
      if (state.settings.generation !== generation) return;
      state.settings.saving = false;
      closeSettings();
      announce("Settings saved.");
    } catch (error) {
      if (state.settings.generation !== generation) return;
      state.settings.saving = false;
      state.settings.error = api.errorMessage(error);
      render();
    }
  },
};

// ---- start ----------------------------------------------------------------------------

function refreshRecent() {
  api.recent().then(
    (list) => {
      state.recent = Array.isArray(list) ? list : [];
      render();
    },
    (error) => {
      quiet(error);
      if (state.recent === null) {
        state.recent = [];
        render();
      }
    },
  );
}

/** The nearby device whose button is at `position` (CSS pixels), or null. */
function deviceAt(position) {
  if (!position) return null;
  const el = document.elementFromPoint(position.x, position.y);
  const button = el && el.closest("[data-device-id]");
  const id = button ? button.getAttribute("data-device-id") : null;
  return state.nearby.devices.find((d) => d.id === id) || null;
}

function onDrag({ type, paths, position }) {
  const canDrop = active === "home" && !state.transfer;
  if (type === "enter" || type === "over") {
    const target = canDrop ? deviceAt(position) : null;
    const targetId = target ? target.id : null;
    if ((canDrop && !state.dragOver) || state.dropTarget !== targetId) {
      state.dragOver = canDrop;
      state.dropTarget = targetId;
      render();
    }
  } else if (type === "leave") {
    if (state.dragOver) {
      state.dragOver = false;
      state.dropTarget = null;
      render();
    }
  } else if (type === "drop") {
    const target = canDrop ? deviceAt(position) : null;
    state.dragOver = false;
    state.dropTarget = null;
    const picked = selectedDevices();
    if (canDrop && paths.length && target && picked.length > 1 && picked.some((d) => d.id === target.id)) {
      startSendToMany(picked, paths);
    } else if (canDrop && paths.length && target) startSendTo(target, paths);
    else if (canDrop && paths.length) startSend(paths);
    else render();
  }
}

/** Shows `message` in the notice bar until dismissed. */
function showNotice(message) {
  document.getElementById("notice-text").textContent = message;
  document.getElementById("notice").hidden = false;
}

// Damaged or invalid saved settings (the backend kept the defaults), or a first start with no
// signaling server set: say so once.
function showSettingsWarning() {
  const notice = document.getElementById("notice");
  document.getElementById("notice-dismiss").addEventListener("click", () => {
    notice.hidden = true;
  });
  api
    .settingsWarning()
    .then((message) => {
      if (message) showNotice(message);
    })
    .catch(quiet);
}

// ---- server invites ---------------------------------------------------------------------

/**
 * A server invite (toss://server?url=..., from a server's page) was opened: ask before
 * anything changes. A link that names no usable server says why in the notice bar.
 */
function onInvite(invite) {
  if (!invite) return;
  if (invite.kind === "bad") {
    showNotice(invite.message);
    return;
  }
  if (invite.kind !== "server" || typeof invite.server !== "string") return;
  state.invite = { server: invite.server, saving: false };
  render();
  announce(`A link asks Toss to use the signaling server ${invite.server}.`);
}

/** "Use this server": saved as Settings saves it; the notice bar says it is done. */
function acceptInvite() {
  const invite = state.invite;
  if (!invite || invite.saving) return;
  invite.saving = true;
  render();
  api.useServer(invite.server).then(
    (saved) => {
      state.invite = null;
      if (state.settingsOpen) state.settings.values = saved;
      render();
      showNotice(`Toss now uses ${saved.signal_url} for its codes.`);
    },
    (error) => {
      state.invite = null;
      render();
      showNotice(api.errorMessage(error));
    },
  );
}

/** "Not now": nothing changes. */
function declineInvite() {
  if (!state.invite || state.invite.saving) return;
  state.invite = null;
  render();
}

function init() {
  for (const name of ["home", "sending", "receiving", "error", "settings"]) {
    sections[name] = document.getElementById(`screen-${name}`);
    sections[name].hidden = true;
  }
  announcer = document.getElementById("announcer");
  banner = createKnockBanner(document.getElementById("knock-banner"), { onShow: showKnock, onIgnore: ignoreKnock });
  inviteBanner = createInviteBanner(document.getElementById("invite-banner"), { onAccept: acceptInvite, onDecline: declineInvite });
  screens.home = createHomeScreen(sections.home, actions);
  screens.sending = createSendingScreen(sections.sending, actions);
  screens.receiving = createReceivingScreen(sections.receiving, actions);
  screens.error = createErrorScreen(sections.error, actions);
  screens.settings = createSettingsScreen(sections.settings, actions);

  const settingsButton = document.getElementById("settings-button");
  settingsButton.prepend(icon("settings"));
  settingsButton.addEventListener("click", openSettings);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.settingsOpen && !state.settings.saving) {
      event.preventDefault();
      closeSettings();
    }
  });
  setInterval(() => {
    state.now = Date.now();
    if (active === "home") render();
  }, CLOCK_MS);

  render();
  refreshRecent();
  showSettingsWarning();
  api.onDragDrop(onDrag).catch(quiet);
  // Listen first, then ask: every event carries the whole status, so none is missed.
  api
    .onNearby(onNearby)
    .then(() => api.nearbyStatus())
    .then(onNearby)
    .catch(quiet);
  api.onKnock(onKnock).catch(quiet);
  // Listen first, then ask, as for nearby devices.
  api
    .onInvite(onInvite)
    .then(() => api.pendingInvite())
    .then(onInvite)
    .catch(quiet);
  api
    .initialPaths()
    .then((paths) => {
      if (Array.isArray(paths) && paths.length) startSend(paths);
    })
    .catch(quiet);
}

init();
