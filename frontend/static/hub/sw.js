// The hub's service worker: shows web pushes (hub/delivery/push_deliveries.py),
// opens the page a notification is about, and keeps the user's last
// timetable and notifications readable offline (frontend/webapp.py).
//
// Served at /sw.js (hub.delivery.views.service_worker, scope "/"), which
// prepends `self.HUB_SW = {newNotification, subscribeUrl, icon, ...}` with
// the words in the request's language and the offline settings
// (frontend.webapp.worker_config). Push messages are JSON:
//
//   {"type": "show", "title", "body", "tag", "url", "child", "school", "ts"}
//   {"type": "close", "tags": ["conversation:12", ...]}
//
// Everything shown goes through the Notifications API as plain text (no HTML).

const CONFIG = Object.assign(
  {
    newNotification: "New notification",
    subscribeUrl: "/delivery/subscribe/",
    icon: "/static/hub/favicon.svg",
    // The offline settings (caches, URLs, words) always come with
    // self.HUB_SW: frontend.webapp.worker_config.
  },
  self.HUB_SW || {},
);

self.addEventListener("install", (event) => {
  self.skipWaiting();
  // Offline is a bonus: a failed copy never stops the worker (and push).
  event.waitUntil(saveOfflineAssets().catch((error) => console.warn("hub offline: precache", error)));
});

self.addEventListener("activate", (event) => {
  // Control the open tabs at once, so a click can navigate them.
  event.waitUntil(self.clients.claim());
});

/** Return `value` if it is a string (cut to `max` characters), else "". */
function text(value, max) {
  return typeof value === "string" ? value.slice(0, max) : "";
}

/** Return a path of this site for `url`; "/" for another origin or garbage. */
function sitePath(url) {
  try {
    const target = new URL(typeof url === "string" && url ? url : "/", self.location.origin);
    if (target.origin !== self.location.origin) return "/";
    return target.pathname + target.search + target.hash;
  } catch {
    return "/";
  }
}

/** Return the push's JSON object, or null when there is none or it is malformed. */
function readMessage(event) {
  if (!event.data) return null;
  try {
    const message = event.data.json();
    return message && typeof message === "object" && !Array.isArray(message) ? message : null;
  } catch {
    return null;
  }
}

function show(message) {
  const title = text(message.title, 200) || CONFIG.newNotification;
  const lines = [];
  const body = text(message.body, 2000);
  if (body) lines.push(body);
  // Who and where: a parent of two children in two schools must tell at once.
  const about = [text(message.child, 150), text(message.school, 200)].filter(Boolean).join(" · ");
  if (about) lines.push(about);
  const options = {
    body: lines.join("\n"),
    icon: CONFIG.icon,
    data: { url: sitePath(message.url) },
  };
  const tag = text(message.tag, 100);
  if (tag) options.tag = tag;
  const when = Date.parse(text(message.ts, 64));
  if (!Number.isNaN(when)) options.timestamp = when;
  return self.registration.showNotification(title, options);
}

async function closeTags(tags) {
  // The item was seen in an open tab: take its notification off the screen.
  // Chrome subscribes with userVisibleOnly (every push should show something);
  // a "close" push shows nothing, which Chrome tolerates now and then (it only
  // shows its own "updated in the background" notice past a budget), and which
  // is fine when there is nothing left to close: the tab was seen anyway.
  const wanted = new Set((Array.isArray(tags) ? tags : []).filter((tag) => typeof tag === "string"));
  if (!wanted.size) return;
  const shown = await self.registration.getNotifications();
  for (const notification of shown) {
    if (wanted.has(notification.tag)) notification.close();
  }
}

async function handlePush(event) {
  const message = readMessage(event);
  try {
    if (message?.type === "close") return await closeTags(message.tags);
    if (message?.type === "show") return await show(message);
  } catch (error) {
    console.warn("hub push: could not show", error);
  }
  // Malformed or unknown: a generic notification rather than a failure.
  return self.registration.showNotification(CONFIG.newNotification, {
    icon: CONFIG.icon,
    data: { url: "/notifications/" },
  });
}

self.addEventListener("push", (event) => {
  event.waitUntil(handlePush(event));
});

async function openPage(path) {
  const url = new URL(sitePath(path), self.location.origin).href;
  const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const ours = tabs.filter((tab) => new URL(tab.url).origin === self.location.origin);
  const exact = ours.find((tab) => tab.url === url);
  if (exact) return exact.focus();
  const tab = ours.find((candidate) => candidate.focused) || ours[0];
  if (tab) {
    try {
      const focused = (await tab.focus()) || tab;
      const moved = await focused.navigate(url);
      if (moved) return moved;
    } catch {
      // A tab this worker does not control cannot be navigated: open one.
    }
  }
  return self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openPage(event.notification.data?.url));
});

async function csrfToken() {
  // A worker has no document.cookie; Chrome gives it the Cookie Store API.
  // Without it the POST is refused, and push.js posts the new subscription
  // on the next page load instead.
  try {
    const cookie = await self.cookieStore?.get("csrftoken");
    return cookie?.value || "";
  } catch {
    return "";
  }
}

async function resubscribe(event) {
  let subscription = event.newSubscription || null;
  if (!subscription) {
    const key = event.oldSubscription?.options?.applicationServerKey;
    if (!key) return; // push.js subscribes again on the next page load
    subscription = await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: key,
    });
  }
  await fetch(CONFIG.subscribeUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": await csrfToken(),
    },
    body: JSON.stringify(subscription.toJSON()),
  });
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    resubscribe(event).catch((error) => console.warn("hub push: resubscribe failed", error)),
  );
});

// Offline ---------------------------------------------------------------------
//
// - The pages in CONFIG.offlinePages (the user's timetable and notifications,
//   which carry their data in the HTML): network first; each successful GET
//   is saved with the time it was saved; offline, the saved copy is shown
//   with a "Hors ligne — dernière mise à jour le …" banner.
// - Other pages: network; offline, the offline page (fetched without cookies
//   at install: it holds no one's data).
// - /static/ and the JavaScript catalogue: network first, saved for offline.
// - Nothing else is touched: no POST, no API, no media, no other origin.
// - The saved pages are deleted at logout and whenever the login page shows
//   (a session that ended, another person logging in on this device).

/** Save the offline page and the files it needs. */
async function saveOfflineAssets() {
  const cache = await caches.open(CONFIG.assetsCache);
  const page = await fetch(CONFIG.offlineUrl, {
    credentials: "omit",
    headers: { "Accept-Language": CONFIG.lang },
  });
  if (!page.ok) throw new Error(`offline page: ${page.status}`);
  await cache.put(CONFIG.offlineUrl, page);
  await cache.addAll(CONFIG.assets);
}

// Counts the forgets: a save that straddles a logout must not outlive it.
let forgets = 0;

function forgetPages() {
  forgets += 1;
  return caches.delete(CONFIG.pagesCache);
}

function isHtml(response) {
  return (response.headers.get("Content-Type") || "").startsWith("text/html");
}

/** Whether `response` (one of CONFIG.offlinePages, fresh from the network)
 * may be kept. Signed-in pages say "no-store" (core/security.py) to HTTP
 * caches and proxies; this copy is the app's own, of the pages the server
 * lists, and lives only as long as the login (see forgetPages). */
function keepable(response) {
  return response.status === 200 && response.type === "basic" && !response.redirected && isHtml(response);
}

async function savePage(request, response) {
  const before = forgets;
  const headers = new Headers(response.headers);
  headers.set(CONFIG.savedAtHeader, new Date().toISOString());
  const copy = new Response(await response.blob(), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
  if (forgets !== before) return;
  const cache = await caches.open(CONFIG.pagesCache);
  await cache.put(request.url, copy);
  if (forgets !== before) await cache.delete(request.url);
}

function escapeHtml(value) {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The saved `copy` with the offline banner at the top of <main>. */
async function withBanner(copy) {
  const saved = new Date(copy.headers.get(CONFIG.savedAtHeader) || "");
  let date = "";
  if (!Number.isNaN(saved.getTime())) {
    date = new Intl.DateTimeFormat(CONFIG.lang, { dateStyle: "full", timeStyle: "short" }).format(saved);
  }
  const words = escapeHtml(CONFIG.offlineBanner.replace("%(date)s", date));
  const banner = `<p id="offline-banner" class="offline-banner" role="status">${words}</p>`;
  const html = (await copy.text()).replace(/<main\b[^>]*>/, (tag) => tag + banner);
  const headers = new Headers(copy.headers);
  headers.delete("Content-Length");
  return new Response(html, { status: 200, headers });
}

async function offlinePage() {
  const cache = await caches.open(CONFIG.assetsCache);
  // Without it (a failed install), the browser's own "no connection" page.
  return (await cache.match(CONFIG.offlineUrl)) || Response.error();
}

async function navigate(event, path) {
  const { request } = event;
  let response;
  try {
    response = await fetch(request);
  } catch {
    if (CONFIG.offlinePages.includes(path)) {
      const cache = await caches.open(CONFIG.pagesCache);
      const copy = await cache.match(request.url);
      if (copy) return withBanner(copy);
    }
    return offlinePage();
  }
  if (path === CONFIG.loginUrl) {
    event.waitUntil(forgetPages());
  } else if (CONFIG.offlinePages.includes(path) && keepable(response)) {
    event.waitUntil(savePage(request, response.clone()));
  }
  return response;
}

async function networkFirst(event) {
  const { request } = event;
  try {
    const response = await fetch(request);
    if (response.status === 200 && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(caches.open(CONFIG.assetsCache).then((cache) => cache.put(request, copy)));
    }
    return response;
  } catch (error) {
    const cache = await caches.open(CONFIG.assetsCache);
    const copy = await cache.match(request, { ignoreVary: true });
    if (copy) return copy;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === CONFIG.logoutUrl) {
    event.waitUntil(forgetPages()); // the logout itself goes on untouched
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event, url.pathname));
  } else if (url.pathname.startsWith(CONFIG.staticUrl) || url.pathname === CONFIG.catalogUrl) {
    event.respondWith(networkFirst(event));
  }
});
