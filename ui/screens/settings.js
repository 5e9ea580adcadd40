// screens/settings.js: device name, download folder, nearby devices (on or off, and this
// network public or not), signaling server and ICE servers.
// While the screen is open its inputs hold the draft; they are filled from the loaded
// settings once per opening and read back on Save. The backend validates: its message is
// shown as text in #settings-error.

import { h, setText, show } from "../dom.js";

/** Settings.ice_servers -> one URL per line plus the (first) TURN login. */
export function iceToForm(servers) {
  const list = Array.isArray(servers) ? servers : [];
  const urls = list.flatMap((s) => (Array.isArray(s.urls) ? s.urls : []));
  const login = list.find((s) => s.username || s.credential) || {};
  return { text: urls.join("\n"), username: login.username || "", credential: login.credential || "" };
}

/** The form back to Settings.ice_servers: STUN URLs in one entry, TURN URLs with the login. */
export function formToIce({ text, username, credential }) {
  const urls = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  const isTurn = (url) => /^turns?:/i.test(url);
  const stun = urls.filter((url) => !isTurn(url));
  const turn = urls.filter(isTurn);
  const servers = [];
  if (stun.length) servers.push({ urls: stun, username: "", credential: "" });
  if (turn.length) servers.push({ urls: turn, username, credential });
  return servers;
}

function field(id, label, control, help) {
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h(
    "div",
    { class: "field-group" },
    h("label", { for: id, class: "label" }, label),
    control,
    help ? h("p", { id: helpId, class: "hint" }, help) : null,
  );
}

export function createSettingsScreen(section, actions) {
  const text = (id, extra = {}) =>
    h("input", { id, type: "text", class: "field", autocomplete: "off", spellcheck: "false", ...extra });

  const deviceName = text("settings-device-name");
  const downloadDir = text("settings-download-dir");
  const chooseDir = h("button", { id: "settings-choose-dir", type: "button", class: "btn" }, "Choose...");
  const signalUrl = text("settings-signal-url", { inputmode: "url", placeholder: "wss://signal.example.org" });
  const iceServers = h("textarea", {
    id: "settings-ice-servers",
    class: "field",
    rows: "3",
    spellcheck: "false",
    placeholder: "stun:stun.example.org:3478",
  });
  const turnUser = text("settings-turn-username");
  const turnCredential = text("settings-turn-credential", { type: "password", autocomplete: "new-password" });
  const relayOnly = h("input", { id: "settings-relay-only", type: "checkbox", "aria-describedby": "settings-relay-only-help" });
  const discovery = h("input", { id: "settings-discovery", type: "checkbox", "aria-describedby": "settings-discovery-help" });
  const publicNetwork = h("input", { id: "settings-public-network", type: "checkbox", "aria-describedby": "settings-public-network-help" });
  const networkHelp = h("p", { id: "settings-public-network-help", class: "hint" });
  const error = h("p", { id: "settings-error", class: "form-error", role: "alert", hidden: true });
  const cancel = h("button", { id: "settings-cancel", type: "button", class: "btn", onclick: actions.closeSettings }, "Cancel");
  const save = h("button", { id: "settings-save", type: "submit", class: "btn btn-primary" }, "Save");
  const heading = h("h2", { id: "settings-heading", class: "screen-title", tabindex: "-1" }, "Settings");

  chooseDir.addEventListener("click", async () => {
    const picked = await actions.chooseDownloadDir(downloadDir.value);
    if (picked) downloadDir.value = picked;
  });

  const fields = h(
    "fieldset",
    { class: "settings-fields" },
    h("legend", { class: "sr-only" }, "Settings"),
    field("settings-device-name", "Device name", deviceName, "Shown to the other computer when you send."),
    h(
      "div",
      { class: "field-group" },
      h("label", { for: "settings-download-dir", class: "label" }, "Download folder"),
      h("div", { class: "input-row" }, downloadDir, chooseDir),
    ),
    h(
      "div",
      { class: "field-group" },
      h("span", { class: "label" }, "Nearby devices"),
      h("label", { class: "check-row" }, discovery, h("span", null, "Find nearby devices and be visible to them")),
      h(
        "p",
        { id: "settings-discovery-help", class: "hint" },
        "Computers on this network running Toss can see this one's device name and ask to send files. Nothing arrives unless you accept.",
      ),
      h("label", { class: "check-row" }, publicNetwork, h("span", null, "This network is public: stay hidden here")),
      networkHelp,
    ),
    field("settings-signal-url", "Signaling server", signalUrl, "Introduces the two computers; ws:// or wss://."),
    field(
      "settings-ice-servers",
      "ICE servers",
      iceServers,
      "One STUN or TURN URL per line. They help computers on different networks reach each other.",
    ),
    h(
      "div",
      { class: "field-pair" },
      field("settings-turn-username", "TURN username", turnUser),
      field("settings-turn-credential", "TURN credential", turnCredential),
    ),
    h(
      "div",
      { class: "field-group" },
      h("label", { class: "check-row" }, relayOnly, h("span", null, "Send everything through the TURN server")),
      h(
        "p",
        { id: "settings-relay-only-help", class: "hint" },
        "For networks where direct connections fail or are not allowed: everything goes through the TURN server above, or else the signaling server's. Slower; the files stay encrypted end to end.",
      ),
    ),
  );

  const form = h(
    "form",
    {
      class: "card settings-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        actions.saveSettings(read());
      },
    },
    fields,
    h("div", { class: "form-footer" }, error, h("div", { class: "button-row end" }, cancel, save)),
  );

  section.replaceChildren(h("div", { class: "screen-head" }, heading), form);

  let filledFor = -1;
  let loaded = null;
  /** The network this computer was on when the screen was filled. */
  let network = null;

  function fill(values) {
    loaded = values;
    deviceName.value = values.device_name || "";
    downloadDir.value = values.download_dir || "";
    signalUrl.value = values.signal_url || "";
    const ice = iceToForm(values.ice_servers);
    iceServers.value = ice.text;
    turnUser.value = ice.username;
    turnCredential.value = ice.credential;
    discovery.checked = values.discovery !== false;
    relayOnly.checked = values.relay_only === true;
    const publicList = Array.isArray(values.public_networks) ? values.public_networks : [];
    publicNetwork.checked = network !== null && publicList.includes(network);
    publicNetwork.disabled = network === null;
    setText(
      networkHelp,
      network === null
        ? "This computer is on no network now."
        : `Toss stays hidden on networks you mark, like a café's Wi-Fi. This network: ${network}.`,
    );
  }

  function read() {
    const ice = { text: iceServers.value, username: turnUser.value, credential: turnCredential.value };
    const before = loaded ? iceToForm(loaded.ice_servers) : null;
    // Untouched ICE fields keep the stored entries exactly (several TURN logins survive).
    const unchanged =
      before &&
      before.text === ice.text.trim() &&
      before.username === ice.username &&
      before.credential === ice.credential;
    const publicList = (loaded && Array.isArray(loaded.public_networks) ? loaded.public_networks : []).filter(
      (n) => n !== network,
    );
    if (network !== null && publicNetwork.checked) publicList.push(network);
    return {
      device_name: deviceName.value.trim(),
      download_dir: downloadDir.value.trim(),
      signal_url: signalUrl.value.trim(),
      ice_servers: unchanged ? loaded.ice_servers : formToIce(ice),
      discovery: discovery.checked,
      public_networks: publicList,
      relay_only: relayOnly.checked,
    };
  }

  return {
    focusTarget() {
      return heading;
    },
    update(state) {
      const s = state.settings;
      fields.disabled = s.loading || s.saving;
      if (s.values && filledFor !== s.generation) {
        filledFor = s.generation;
        network = state.nearby.network;
        fill(s.values);
        deviceName.focus();
      }
      save.disabled = s.loading || s.saving || !s.values;
      setText(save, s.saving ? "Saving..." : "Save");
      setText(error, s.error);
      show(error, Boolean(s.error));
    },
  };
}
