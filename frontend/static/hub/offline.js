// The offline page (/offline/, served by sw.js when the network is down):
// lists the copies of the user's pages this device keeps (Cache Storage),
// each with when it was saved. No network, no gettext: its words come in the
// page (json_script), the list from the worker's cache.

const section = document.getElementById("offline");
const read = (id) => JSON.parse(document.getElementById(id)?.textContent || "null");

function when(iso, lang) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" }).format(date);
}

async function listCopies() {
  const labels = read("offline-labels") || {};
  const saved = read("offline-saved") || "";
  const list = document.getElementById("offline-pages");
  const lang = document.documentElement.lang || undefined;
  const cache = await caches.open(section.dataset.cache);
  const requests = await cache.keys();
  for (const request of requests) {
    const url = new URL(request.url);
    const label = labels[url.pathname];
    if (!label || url.origin !== window.location.origin) continue;
    const response = await cache.match(request);
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = url.pathname + url.search;
    link.textContent = label;
    item.append(link);
    const date = when(response?.headers.get(section.dataset.savedAt), lang);
    if (date) item.append(` — ${saved} ${date}`);
    list.append(item);
  }
  document.getElementById("offline-none").hidden = list.children.length > 0;
}

// Shown in place of the page asked for: "Try again" asks for it again.
const retry = document.getElementById("offline-retry");
if (retry && window.location.pathname !== retry.dataset.offlineUrl) {
  retry.href = window.location.pathname + window.location.search;
}

if (section && "caches" in window) {
  listCopies().catch((error) => {
    console.warn("offline: cannot read the saved pages", error);
    document.getElementById("offline-none").hidden = false;
  });
} else if (section) {
  document.getElementById("offline-none").hidden = false;
}
