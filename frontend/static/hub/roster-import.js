// The live page of one roster import (core/roster/templates/roster/import.html).
//
// Follows the admin's own `user:<id>` stream with the shared hub client,
// resuming from the position the server rendered into #hub-positions (read
// before the import itself), so no event written after the render is missed.
// `roster.import` events of this import update the page in place: `progress`
// moves the <progress> bar and the status; `done` and `failed`, like a
// `reset` of the stream, fetch the state fragment the server renders from the
// database (status, bar, report), so the live page and a reload show the same.

import { hub } from "./hub-client.js";
import { readJson } from "./page-data.js";

const config = readJson("roster-import-config", {});
const positions = readJson("hub-positions", {});
const box = document.getElementById("roster-import-state");
const FINISHED = new Set(["done", "failed"]);

let fetched = 0; // the latest fragment request; older answers are dropped

function current() {
  return box?.querySelector(".roster-live")?.dataset.status || "";
}

/** Show `status`, `progress` out of `total` without asking the server. */
export function showProgress({ status, progress, total, summary }) {
  if (!box || FINISHED.has(current())) return;
  const live = box.querySelector(".roster-live");
  const label = box.querySelector("#roster-import-status");
  const bar = box.querySelector("#roster-import-progress");
  const text = box.querySelector("#roster-import-percent");
  if (live) live.dataset.status = status;
  if (label && config.status_labels?.[status]) {
    const name = config.status_labels[status];
    label.textContent = name.charAt(0).toUpperCase() + name.slice(1);
    label.dataset.status = status;
  }
  if (bar && Number.isInteger(total) && total > 0) {
    bar.max = total;
    bar.value = Math.min(progress, total);
    const percent = Math.min(100, Math.floor((progress * 100) / total));
    bar.textContent = `${percent} %`;
    const phase = config.phase_labels?.[summary?.phase];
    if (text) text.textContent = phase ? `${phase} · ${percent} %` : `${percent} %`;
  }
}

/** Replace the live part with the server's rendering of the import. */
export async function refresh() {
  if (!box || !config.state_url) return;
  const ticket = ++fetched;
  try {
    const response = await fetch(config.state_url, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok || ticket !== fetched) return;
    const html = await response.text();
    if (ticket !== fetched) return;
    box.innerHTML = html; // the server's own escaped template
    box.setAttribute("aria-busy", FINISHED.has(current()) ? "false" : "true");
  } catch {
    // Offline: the stream's resume brings the events again, or a reload does.
  }
}

hub.on("roster.import", (event) => {
  const data = event.data || {};
  if (data.import_id !== config.import_id) return;
  if (event.op === "progress") showProgress(data);
  else refresh();
});

hub.on("reset", (frame) => {
  if (frame.stream in positions && !FINISHED.has(current())) refresh();
});

hub.start({ positions, loginUrl: config.login_url });
globalThis.rosterImportPage = { hub, refresh, current }; // for browser tests
