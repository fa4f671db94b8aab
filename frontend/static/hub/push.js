// Push notifications on this device (hub/delivery): loaded on every page.
//
// - On every page of a logged-in user: registers /sw.js (push, and the
//   offline copies of the timetable and notifications: frontend/webapp.py),
//   asking no permission.
// - On the settings page (#push-device): shows this device's state (on /
//   blocked by the browser / not supported); on an iPhone or iPad outside
//   the app added to the home screen (iOS gives web push to that app only),
//   how to add it; and on the user's tap only (the explanation is already on
//   the page) asks the browser's permission, subscribes with the server's
//   VAPID key (RFC 8292 applicationServerKey) and POSTs the subscription.
// - On every page, cheaply (no request unless something is wrong): if this
//   browser holds a subscription made for this user whose key is not the
//   server's current one (a key rotation), it unsubscribes and subscribes
//   again silently (permission is already granted); if the service worker
//   re-subscribed by itself and could not tell the server, it tells it now.

import { csrfToken, readJson } from "./page-data.js";
import { gettext as _ } from "./i18n.js";

const STATES = {
  unsupported: () => _("This browser cannot receive notifications."),
  denied: () =>
    _("Blocked by the browser: allow notifications for this site in the browser's settings, then reload the page."),
  install: () => _("On iPhone and iPad, add the hub to the home screen first."),
  off: () => _("Not turned on for this device yet."),
  asking: () => _("Answer the browser's question to allow notifications…"),
  on: () => _("On: this device receives notifications."),
  failed: () => _("Turning notifications on did not work. Try again later."),
};

const config = readJson("push-config", {});
const hubConfig = readJson("hub-config", {});
const storageKey = `hub-push-endpoint:${hubConfig.user ?? ""}`;

/** Register the worker for the whole site; null where there is none. */
function registerWorker() {
  if (!window.isSecureContext || !("serviceWorker" in navigator) || !config.worker) {
    return Promise.resolve(null);
  }
  return navigator.serviceWorker.register(config.worker, { scope: "/" }).catch((error) => {
    console.warn("push: the service worker could not be registered", error);
    return null;
  });
}

/** Whether this is an iPhone or iPad browser outside the home-screen app:
 * iOS gives web push to home-screen apps only (iOS 16.4+). iPadOS says
 * "Macintosh", but a Mac has no touch screen. */
function needsHomeScreen() {
  const agent = navigator.userAgent || "";
  const ios = /iPhone|iPad|iPod/.test(agent) || (/Macintosh/.test(agent) && navigator.maxTouchPoints > 1);
  const standalone = navigator.standalone === true || window.matchMedia("(display-mode: standalone)").matches;
  return ios && !standalone;
}

export const supported =
  typeof window !== "undefined" &&
  window.isSecureContext &&
  "serviceWorker" in navigator &&
  "PushManager" in window &&
  "Notification" in window;

/** Return the bytes of a base64url string (a VAPID public key). */
export function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Whether `subscription` was made with the base64url `key`. */
export function sameKey(subscription, key) {
  const current = subscription?.options?.applicationServerKey;
  if (!current || !key) return false;
  const a = new Uint8Array(current);
  const b = keyBytes(key);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function postJson(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: JSON.stringify(body),
  });
}

function remember(endpoint) {
  try {
    if (endpoint) localStorage.setItem(storageKey, endpoint);
    else localStorage.removeItem(storageKey);
  } catch {
    // Private mode without storage: the check on page load just does nothing.
  }
}

function remembered() {
  try {
    return localStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

/** POST `subscription` to the hub; return whether it was accepted. */
async function tellServer(subscription, urls = config) {
  const response = await postJson(urls.subscribe, subscription.toJSON());
  if (response.status !== 201) return false;
  remember(subscription.endpoint);
  return true;
}

function subscribe(registration, key) {
  return registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: keyBytes(key),
  });
}

/** Every page: follow a key rotation or a subscription the worker renewed. */
async function checkSubscription() {
  if (!supported || !config.key || Notification.permission !== "granted") return;
  const mine = remembered();
  if (!mine) return; // this user never turned notifications on in this browser
  const registration = await navigator.serviceWorker.getRegistration("/");
  if (!registration) return;
  const subscription = await registration.pushManager.getSubscription();
  if (!subscription) return;
  if (!sameKey(subscription, config.key)) {
    const old = subscription.endpoint;
    await subscription.unsubscribe();
    await postJson(config.unsubscribe, { endpoint: old });
    await tellServer(await subscribe(registration, config.key));
  } else if (subscription.endpoint !== mine) {
    await tellServer(subscription);
  }
}

/** The settings page's "This device" section. */
async function startSettings(section) {
  const state = section.querySelector("#push-state");
  const button = section.querySelector("#push-enable");
  const urls = section.dataset;
  const setState = (name) => {
    state.dataset.state = name;
    state.textContent = (STATES[name] || STATES.off)();
  };
  if (needsHomeScreen()) {
    section.querySelector("#push-ios").hidden = false;
    setState("install");
    return;
  }
  if (!supported) {
    setState("unsupported");
    return;
  }
  const registration = await registered;
  if (!registration) {
    setState("unsupported");
    return;
  }
  const rows = [...section.querySelectorAll("li[data-endpoint]")];
  const current = await registration.pushManager.getSubscription().catch(() => null);
  const row = current && rows.find((item) => item.dataset.endpoint === current.endpoint);
  if (row) row.querySelector(".device__this").hidden = false;

  if (Notification.permission === "denied") {
    setState("denied");
  } else if (Notification.permission === "granted" && row && sameKey(current, urls.key)) {
    setState("on");
  } else {
    setState("off");
    button.hidden = false;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    setState("asking");
    let permission;
    try {
      permission = await Notification.requestPermission();
    } catch {
      permission = Notification.permission;
    }
    if (permission !== "granted") {
      setState(permission === "denied" ? "denied" : "off");
      button.hidden = permission === "denied";
      button.disabled = false;
      return;
    }
    try {
      const ready = await navigator.serviceWorker.ready;
      let subscription = await ready.pushManager.getSubscription();
      if (subscription && !sameKey(subscription, urls.key)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      subscription = subscription || (await subscribe(ready, urls.key));
      if (!(await tellServer(subscription, urls))) throw new Error("refused by the hub");
      setState("on");
      button.hidden = true;
      window.location.reload(); // the device list now holds this device
    } catch (error) {
      console.warn("push: subscribing failed", error);
      setState("failed");
      button.disabled = false;
    }
  });

  // Removing this very device also ends the browser's subscription.
  for (const item of rows) {
    const form = item.querySelector("form");
    form?.addEventListener("submit", async (event) => {
      if (!current || item.dataset.endpoint !== current.endpoint || form.dataset.done) return;
      event.preventDefault();
      form.dataset.done = "1";
      try {
        await current.unsubscribe();
      } catch {
        // The server forgets it anyway.
      }
      remember(null);
      form.submit();
    });
  }
}

const registered = registerWorker();
const section = document.getElementById("push-device");
if (section) {
  startSettings(section).catch((error) => console.warn("push:", error));
} else {
  registered
    .then(checkSubscription)
    .catch((error) => console.warn("push: check failed", error));
}
