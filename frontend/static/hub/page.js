// Starts the shared hub client on every logged-in page (loaded by base.html).
//
// It resumes from the positions the server rendered into #hub-positions, keeps
// the header's connection status and unread badge live, and lets page modules
// (timetable.js, notifications.js, ...) add their listeners to `hub`.

import { bumpUnread, setUnread } from "./badge.js";
import { hub } from "./hub-client.js";
import { readJson } from "./page-data.js";
import { gettext as _ } from "./i18n.js";

const STATUS_TEXT = {
  connecting: () => _("Connecting…"),
  connected: () => _("Live"),
  reconnecting: () => _("Reconnecting…"),
  offline: () => _("Offline"),
  closed: () => _("Disconnected"),
};

const config = readJson("hub-config", {});
const positions = readJson("hub-positions", {});
const notifying = new Set(config.notifying_kinds || []);

const status = document.getElementById("hub-status");
const announcer = document.getElementById("hub-announcer");
let wasConnected = false;
let lost = false;
hub.on("status", ({ state }) => {
  if (!status) return;
  status.dataset.state = state;
  const text = (STATUS_TEXT[state] || STATUS_TEXT.closed)();
  const label = status.querySelector(".hub-status__text");
  if (label) label.textContent = text;
  // Announce losing and regaining the connection, not every page load.
  if (state === "connected") {
    if (lost && announcer) announcer.textContent = _("Live updates are back.");
    wasConnected = true;
    lost = false;
  } else if (wasConnected && !lost && (state === "offline" || state === "reconnecting")) {
    lost = true;
    if (announcer) announcer.textContent = _("Connection lost: live updates paused.");
  }
});

hub.on("event", (event) => {
  if (notifying.has(event.kind)) bumpUnread();
});

async function refreshUnread() {
  if (!config.notifications_api) return;
  try {
    const url = `${config.notifications_api}?limit=0`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.ok) setUnread((await response.json()).unread);
  } catch {
    // Offline: the next reset or page load corrects the badge.
  }
}

// After a reset, events may have been skipped: count again from the server.
hub.on("reset", () => refreshUnread());

hub.start({ positions, loginUrl: config.login_url });

export { hub };
