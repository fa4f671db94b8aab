// The unread badge of the header (#unread-count), kept in step across tabs.

import { ngettext } from "./i18n.js";

const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("hub-inbox") : null;
let count = 0;

function element() {
  return document.getElementById("unread-count");
}

function draw(bump) {
  const badge = element();
  if (!badge) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  const label = document.getElementById("unread-label");
  if (label) {
    label.hidden = count === 0;
    label.textContent = ` ${ngettext("unread notification", "unread notifications", count)}`;
  }
  badge.dataset.count = String(count);
  if (bump) {
    badge.classList.remove("bump");
    void badge.offsetWidth; // restart the animation
    badge.classList.add("bump");
  }
}

/** Return the number the badge shows. */
export function unread() {
  return count;
}

/** Show `value`; with `broadcast`, other tabs of this browser show it too. */
export function setUnread(value, { broadcast = false } = {}) {
  count = Math.max(0, Number(value) || 0);
  draw(false);
  if (broadcast) channel?.postMessage({ type: "unread", count });
}

/** Add one (a new notifying event arrived). */
export function bumpUnread() {
  count += 1;
  draw(true);
}

channel?.addEventListener("message", (message) => {
  if (message.data?.type === "unread") {
    count = Math.max(0, Number(message.data.count) || 0);
    draw(false);
  }
});

const initial = element();
if (initial) count = Number(initial.dataset.count ?? initial.textContent) || 0;
