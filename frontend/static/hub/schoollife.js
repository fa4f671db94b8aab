// School-life notices, live (core/schoollife/templates/schoollife).
//
// A member's "Informations" list (#notices): a `schoollife.notice` event
// (published, changed, withdrawn) or a reminder brings the server's fresh
// list (already escaped, in the server's order). A member's notice page
// (#notice): a withdrawal of that notice says so and disables the form; a
// change brings the server's fresh page part.
// The staff's acknowledgement page (#ack-status): a `schoollife.ack` of that
// notice brings the server's fresh per-class lists.
import { hub } from "./hub-client.js";
import { pageRefresher } from "./refresh.js";

const _ = (text) => (typeof globalThis.gettext === "function" ? globalThis.gettext(text) : text);
const ngettext = (singular, plural, count) =>
  typeof globalThis.ngettext === "function"
    ? globalThis.ngettext(singular, plural, count)
    : count === 1
      ? singular
      : plural;

function fill(template, values) {
  if (typeof globalThis.interpolate === "function") {
    return globalThis.interpolate(template, values, true);
  }
  return template.replace(/%\((\w+)\)s/g, (_match, key) => String(values[key] ?? ""));
}

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
const acks = swapper("ack-status");
if (live && acks) {
  hub.on("schoollife.ack", (event) => {
    if (event.data?.notice_id !== live.notice) return;
    acks();
    say(
      fill(
        ngettext(
          "%(acknowledged)s of %(total)s acknowledged",
          "%(acknowledged)s of %(total)s acknowledged",
          event.data?.acknowledged,
        ),
        event.data,
      ),
    );
  });
  hub.on("reset", () => acks());
}
