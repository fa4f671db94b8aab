// School-life notices, live (core/schoollife/templates/schoollife).
//
// A member's "Informations" list (#notices): a `schoollife.notice` event
// (published, changed, withdrawn) or a reminder brings the server's fresh
// list (already escaped, in the server's order). A member's notice page
// (#notice): a withdrawal of that notice says so and disables the form; a
// change brings the server's fresh page part.
// The staff's acknowledgement page (#ack-status): a `schoollife.ack` of that
// notice brings the server's fresh per-class lists and counts.
import { hub } from "./hub-client.js";
import { pageRefresher } from "./refresh.js";
import { gettext as _, fill } from "./i18n.js";

const status = document.getElementById("schoollife-status");

function say(text) {
  if (status) status.textContent = text;
}

function swapper(id) {
  const root = document.getElementById(id);
  if (!root) return null;
  return pageRefresher(
    id,
    (fresh) => {
      root.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    },
    id,
  );
}

const list = swapper("notices");
if (list) {
  hub.on("schoollife.notice", (event) => {
    list();
    if (event.op === "published") say(fill(_("New notice: %(title)s"), event.data.item));
  });
  hub.on("schoollife.reminder", () => list());
  hub.on("reset", () => list());
}

const page = document.getElementById("notice");
if (page) {
  const id = Number(page.dataset.id);
  const refresh = swapper("notice");
  hub.on("schoollife.notice", (event) => {
    if (event.data?.item?.id !== id) return;
    if (event.op === "withdrawn") {
      document.getElementById("notice-withdrawn")?.removeAttribute("hidden");
      for (const control of page.querySelectorAll("input, button")) control.disabled = true;
      return;
    }
    refresh();
  });
}

const live = JSON.parse(document.getElementById("schoollife-live")?.textContent || "null");
const ackRoot = document.getElementById("ack-status");
if (live && ackRoot) {
  // The event says who acknowledged, not the counts: the fresh page part
  // brings them, and its total is announced.
  const acks = pageRefresher(
    "ack-status",
    (fresh) => {
      ackRoot.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
      say(document.getElementById("ack-total")?.textContent.trim() || "");
    },
    "ack-status",
  );
  hub.on("schoollife.ack", (event) => {
    if (event.data?.notice_id === live.notice) acks();
  });
  hub.on("reset", () => acks());
}
