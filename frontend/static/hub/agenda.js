// The agenda pages, live (core/agenda/templates/agenda/index.html and
// evening.html). An agenda entry, a booking, a reminder, slots opened, taken
// or freed, or a `reset` bring the server's fresh #agenda-live (its markup,
// already escaped, drawn by the same access rules); the status line says
// what changed. The evening page also follows the class streams of the
// evening's classes (slots filling: `agenda.slots`, no names).
import { hub } from "./hub-client.js";
import { pageRefresher } from "./refresh.js";
import { gettext as _ } from "./i18n.js";

const root = document.getElementById("agenda-live");
const status = document.getElementById("agenda-status");

const refresh = pageRefresher(
  "agenda-live",
  (fresh) => {
    root.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
  },
  "agenda",
);

function say(text) {
  if (status) status.textContent = text;
}

if (root) {
  const classes = (root.dataset.classes || "").split(",").filter(Boolean);
  if (classes.length) hub.follow(classes.map((id) => `class:${id}`));
  hub.on("agenda.entry", () => {
    refresh();
    say(_("The agenda has changed."));
  });
  hub.on("agenda.booking", (event) => {
    refresh();
    say(event.op === "cancelled" ? _("A meeting was cancelled.") : _("A meeting was booked."));
  });
  hub.on("agenda.slots", () => refresh());
  hub.on("reset", () => refresh());
}
