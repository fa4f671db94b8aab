// Report cards, live (core/reportcards/templates/reportcards/family.html and
// class.html).
//
// Guardian's page: a `reportcards.available` event (on the guardian's own
// user stream) or a `reset` brings the server's fresh list of cards (its
// markup, already escaped). Staff's class page: each `reportcards.progress`
// of this class and period brings the fresh generation state and links.
import { hub } from "../hub/hub-client.js";
import { readJson } from "../hub/page-data.js";
import { pageRefresher } from "../hub/refresh.js";
import { gettext as _, fill } from "../hub/i18n.js";

const root = document.getElementById("reportcards");
const status = document.getElementById("reportcards-status");
const live = readJson("reportcards-live", null);

function say(text) {
  if (status) status.textContent = text;
}

// The staff page keeps what is being typed: only the state parts are taken.
function applyFresh(fresh) {
  if (live.kind === "family") {
    root.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    return;
  }
  for (const selector of [".rc-state", ".rc-card-state"]) {
    const mine = root.querySelectorAll(selector);
    const theirs = fresh.querySelectorAll(selector);
    mine.forEach((node, index) => {
      if (theirs[index]) node.replaceWith(document.importNode(theirs[index], true));
    });
  }
}

if (root && live) {
  const refresh = pageRefresher("reportcards", applyFresh, "report cards");
  if (live.kind === "family") {
    hub.on("reportcards.available", (event) => {
      refresh();
      say(fill(_("New report card for %(name)s: %(period)s"), {
        name: event.data?.student_name,
        period: event.data?.period_title,
      }));
    });
  } else {
    hub.on("reportcards.progress", (event) => {
      if (event.data?.class_id !== live.class || event.data?.period_id !== live.period) return;
      refresh();
      if (event.op === "done") say(_("All report cards are generated."));
    });
  }
  hub.on("reset", refresh);
}
