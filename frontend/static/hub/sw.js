// The hub's service worker: shows web pushes (hub/delivery/pushing.py) and
// opens the page a notification is about.
//
// Served at /sw.js (hub.delivery.views.service_worker, scope "/"), which
// prepends `self.HUB_SW = {newNotification, subscribeUrl, icon}` with the
// words in the request's language. Push messages are JSON:
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
  },
  self.HUB_SW || {},
);

self.addEventListener("install", () => {
  self.skipWaiting();
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
