// The admin's roster import pages (core/roster/templates/roster/).
//
// Upload page (#roster-upload-form): the form is sent with XMLHttpRequest so
// a <progress> bar shows the bytes sent (a département's AAF set takes a
// while on a school's line). The server answers as it does to a plain POST:
// a redirect to the import's page, followed, or the form with its errors,
// which replaces the page's content. Without JavaScript the form posts as is.
//
// Import page (#roster-import-state): follows the admin's own `user:<id>`
// stream with the shared hub client, resuming from the position the server
// rendered into #hub-positions (read before the import itself), so no event
// written after the render is missed. `roster.import` events of this import
// update the page in place: `progress` moves the <progress> bar and the
// status; `done` and `failed`, like a `reset` of the stream, fetch the state
// fragment the server renders from the database (status, bar, report), so
// the live page and a reload show the same.

import { hub } from "./hub-client.js";
import { readJson } from "./page-data.js";

const FINISHED = new Set(["done", "failed"]);

// Upload -----------------------------------------------------------------------

function percentOf(done, total) {
  return Math.min(100, Math.floor((done * 100) / total));
}

/** Send `form` with a progress bar; see the module comment. */
export function enhanceUpload(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const bar = form.querySelector("#roster-upload-progress");
    const text = form.querySelector("#roster-upload-percent");
    const button = form.querySelector("[type=submit]");
    const failed = (message) => {
      if (button) button.disabled = false;
      if (bar) bar.hidden = true;
      if (text) text.textContent = message;
    };
    if (button) button.disabled = true;
    if (bar) {
      bar.hidden = false;
      bar.removeAttribute("value"); // indeterminate until the first bytes
    }
    if (text) text.textContent = form.dataset.sending || "";
    const request = new XMLHttpRequest();
    request.open("POST", form.action || globalThis.location.href);
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable || !bar) return;
      bar.max = progress.total;
      bar.value = progress.loaded;
      if (text) text.textContent = `${percentOf(progress.loaded, progress.total)} %`;
    });
    request.addEventListener("load", () => {
      const landed = request.responseURL ? new URL(request.responseURL) : null;
      if (request.status === 200 && landed && landed.pathname !== globalThis.location.pathname) {
        globalThis.location.assign(landed.href); // the import's page
        return;
      }
      const page = new DOMParser().parseFromString(request.responseText, "text/html");
      const fresh = page.getElementById("content-main");
      const current = document.getElementById("content-main");
      if (request.status === 200 && fresh && current) {
        current.replaceWith(fresh); // the form with its errors
        const again = document.getElementById("roster-upload-form");
        if (again) enhanceUpload(again);
        fresh.querySelector(".errornote")?.focus?.();
        return;
      }
      failed(`${form.dataset.failed || ""} (${request.status})`);
    });
    request.addEventListener("error", () => failed(form.dataset.failed || ""));
    request.send(new FormData(form));
  });
}

// Import page ------------------------------------------------------------------

function startLive(box) {
  const config = readJson("roster-import-config", {});
  const positions = readJson("hub-positions", {});
  let fetched = 0; // the latest fragment request; older answers are dropped

  const current = () => box.querySelector(".roster-live")?.dataset.status || "";

  /** Show `status`, `progress` out of `total` without asking the server. */
  function showProgress({ status, progress, total, summary }) {
    if (FINISHED.has(current())) return;
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
      const percent = percentOf(progress, total);
      bar.textContent = `${percent} %`;
      const phase = config.phase_labels?.[summary?.phase];
      if (text) text.textContent = phase ? `${phase} · ${percent} %` : `${percent} %`;
    }
  }

  /** Replace the live part with the server's rendering of the import. */
  async function refresh() {
    if (!config.state_url) return;
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
}

const uploadForm = document.getElementById("roster-upload-form");
if (uploadForm) enhanceUpload(uploadForm);
const stateBox = document.getElementById("roster-import-state");
if (stateBox) startLive(stateBox);
