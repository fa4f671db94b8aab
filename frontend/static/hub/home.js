// The live home page (frontend/templates/frontend/home.html).
//
// Every card (`[data-card]`) names, in `data-kinds`, the event kinds it is
// drawn from. When one arrives through the shared hub client, the card is
// fetched again, drawn by the server, from /api/home/cards/<name>/ and put in
// place of the old one (one part per pupil for a guardian's children); a
// `reset` of a stream refetches every card. Several events in a row cost one
// fetch per card. No page reload; the server's templates escape every text.

import { hub } from "./hub-client.js";
import { describe, hasDescriber } from "./notifications.js";
import { readJson } from "./page-data.js";

const DEBOUNCE_MS = 250;
const FLASH_MS = 2600;

/** Return `{kind: Set(card names)}` from the cards under `root`. */
export function cardsByKind(root) {
  const byKind = new Map();
  for (const card of root.querySelectorAll("[data-card]")) {
    for (const kind of (card.dataset.kinds || "").split(/\s+/).filter(Boolean)) {
      if (!byKind.has(kind)) byKind.set(kind, new Set());
      byKind.get(kind).add(card.dataset.card);
    }
  }
  return byKind;
}

/** Return the element that `html` (one server-drawn card) describes. */
function parse(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

function cssEscape(value) {
  return globalThis.CSS?.escape ? globalThis.CSS.escape(value) : value.replace(/["\\]/g, "\\$&");
}

export class HomeCards {
  constructor(root) {
    this.root = root;
    this.api = root.dataset.api; // ".../api/home/cards/-/"
    this.announcer = root.querySelector("#home-announcer");
    this.byKind = cardsByKind(root);
    this.timers = new Map();
    this.generation = new Map(); // card -> fetch number: a late answer loses
    const config = readJson("hub-config", {});
    this.notifying = new Set(config.notifying_kinds || []);
    this.notificationsApi = config.notifications_api;
  }

  /** The words to announce for `event`: this module's, else the server's
   * (its notification's title), else none for a kind that notifies nobody. */
  async wording(event) {
    if (hasDescriber(event)) return describe(event);
    if (!this.notifying.has(event.kind)) return "";
    if (this.notificationsApi) {
      try {
        const response = await fetch(`${this.notificationsApi}?limit=10`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) {
          const body = await response.json();
          const same = (body.events || []).find(
            (e) => e.stream === event.stream && e.offset === event.offset,
          );
          if (same) return describe(same);
        }
      } catch {
        // Offline: the generic sentence below.
      }
    }
    return describe(event);
  }

  announce(text) {
    if (!text || !this.announcer) return;
    this.announcer.textContent = "";
    setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  names() {
    return new Set([...this.root.querySelectorAll("[data-card]")].map((c) => c.dataset.card));
  }

  /** An event arrived: refetch the cards drawn from its kind, announce it. */
  onEvent(event) {
    const names = this.byKind.get(event.kind);
    if (!names) return;
    for (const name of names) this.schedule(name);
    this.wording(event).then((text) => this.announce(text));
  }

  schedule(name) {
    clearTimeout(this.timers.get(name));
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        this.refresh(name);
      }, DEBOUNCE_MS),
    );
  }

  refreshAll() {
    for (const name of this.names()) this.schedule(name);
  }

  async refresh(name) {
    const number = (this.generation.get(name) || 0) + 1;
    this.generation.set(name, number);
    try {
      const response = await fetch(this.api.replace(/\/-\/$/, `/${name}/`), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      if (this.generation.get(name) !== number) return;
      for (const [part, html] of Object.entries(body.parts || {})) {
        const selector = `[data-card="${cssEscape(name)}"][data-part="${cssEscape(part)}"]`;
        const old = this.root.querySelector(selector);
        const fresh = parse(html);
        if (!old || !fresh) continue;
        if (old.innerHTML === fresh.innerHTML) continue;
        fresh.classList.add("home-card--flash");
        old.replaceWith(fresh);
        setTimeout(() => fresh.classList.remove("home-card--flash"), FLASH_MS);
      }
    } catch (error) {
      console.error("home", name, error); // the next event or reset tries again
    }
  }
}

function start() {
  const root = document.getElementById("home");
  if (!root) return null;
  const cards = new HomeCards(root);
  hub.on("event", (event) => cards.onEvent(event));
  hub.on("reset", () => cards.refreshAll());
  globalThis.hubHome = cards; // for debugging and browser tests
  return cards;
}

export const home = start();
