// Messaging, live (core/messaging): the header's "Messages" badge on every
// page, the inbox's rows, the conversation page (messages, replies, read
// receipts, typing) and the new-conversation form.
//
// Events carry no text: on `messaging.message` a page fetches the inbox row
// or the message from the messaging API, which answers with HTML the server
// drew (escaped by the templates, bodies sanitised by render_message) and
// metadata. Each is put in place keyed by its id, so an event seen twice, or
// a reply that comes back both from the send and from the event, shows once.
// Everything else the script writes goes through textContent.

import { hub } from "./hub-client.js";
import { ngettext } from "./i18n.js";
import { csrfToken, readJson } from "./page-data.js";

const TYPING_SHOWN_MS = 4000;
const TYPING_EVERY_MS = 2000;
const MAX_FILES = 5;
const MAX_CHARS = 10000;


const config = readJson("hub-config", {});
const me = Number(config.user);
const announcer = document.getElementById("hub-announcer");

function fill(template, values) {
  return String(template).replace(/%\((\w+)\)s/g, (_match, key) => String(values[key] ?? ""));
}

async function request(url, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const response = await fetch(url, { method, body, headers, credentials: "same-origin" });
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // Not JSON: a proxy's error page, or the login page after a logout.
  }
  return { ok: response.ok && payload !== null, status: response.status, payload, response };
}

/** Return a function that runs `task` once at a time; a call while it runs
 * asks for one more run afterwards (so nothing is missed, nothing piles up). */
function serial(task) {
  let running = null;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await task();
        } catch (error) {
          console.warn("messaging: update failed", error);
        }
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
}

function fromHtml(html) {
  const template = document.createElement("template");
  template.innerHTML = String(html || "").trim();
  return template.content.firstElementChild;
}

function announce(text) {
  if (announcer && text) announcer.textContent = text;
}

/** A fresh idempotency key (a UUID; random hex where randomUUID is missing,
 * as on a plain-http LAN address). */
export function newKey() {
  if (typeof globalThis.crypto?.randomUUID === "function") return globalThis.crypto.randomUUID();
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// The header badge: conversations with unread messages -----------------------

const link = document.getElementById("messages-link");
const badge = document.getElementById("messages-unread");
const badgeLabel = document.getElementById("messages-unread-label");

function drawBadge(count) {
  if (!badge) return;
  const value = Math.max(0, Number(count) || 0);
  const before = Number(badge.dataset.count) || 0;
  badge.dataset.count = String(value);
  badge.textContent = value > 99 ? "99+" : String(value);
  badge.hidden = value === 0;
  if (badgeLabel) {
    badgeLabel.hidden = value === 0;
    badgeLabel.textContent = ` ${ngettext("unread conversation", "unread conversations", value)}`;
  }
  if (value > before) {
    badge.classList.remove("bump");
    void badge.offsetWidth; // restart the animation
    badge.classList.add("bump");
  }
}

const refreshBadge = serial(async () => {
  if (!link?.dataset.unreadApi) return;
  const { ok, payload } = await request(link.dataset.unreadApi);
  if (ok) drawBadge(payload.conversations);
});

if (badge) {
  hub.on("messaging.message", (event) => {
    if (event.data?.sender_id !== me) refreshBadge();
  });
  hub.on("messaging.read", (event) => {
    if (event.data?.user_id === me) refreshBadge();
  });
  hub.on("reset", () => refreshBadge());
}

// The inbox --------------------------------------------------------------------

function startInbox(list) {
  const empty = document.getElementById("conversation-empty");
  const query = list.dataset.query || "";
  const rowUrl = (id) =>
    list.dataset.rowApi.replace("999999999", encodeURIComponent(id)) +
    (query ? `?q=${encodeURIComponent(query)}` : "");
  const rowOf = (id) => list.querySelector(`:scope > li[data-conversation-id="${CSS.escape(String(id))}"]`);
  const sortKey = (row) => [Number(row.dataset.last) || 0, Number(row.dataset.conversationId) || 0];
  const newer = (a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

  function place(row) {
    const key = sortKey(row);
    const next = [...list.children].find((other) => newer(key, sortKey(other)));
    list.insertBefore(row, next || null);
  }

  function showEmpty() {
    if (empty) empty.hidden = list.children.length > 0;
  }

  async function loadRow(id) {
    const { ok, status, payload } = await request(rowUrl(id));
    const existing = rowOf(id);
    if (status === 404 || (ok && !payload.matches)) {
      existing?.remove();
      showEmpty();
      return;
    }
    if (!ok) return;
    const row = fromHtml(payload.html);
    if (!row) return;
    const hadFocus = existing?.contains(document.activeElement);
    const changed =
      !existing ||
      existing.dataset.last !== row.dataset.last ||
      existing.querySelector(".conv__unread")?.textContent !== row.querySelector(".conv__unread")?.textContent;
    existing?.remove();
    place(row);
    if (hadFocus) row.querySelector("a")?.focus();
    if (changed && payload.unread > 0) row.classList.add("flash");
    showEmpty();
  }

  const loaders = new Map();
  function refreshRow(id) {
    if (!Number.isInteger(id)) return;
    if (!loaders.has(id)) loaders.set(id, serial(() => loadRow(id)));
    loaders.get(id)();
  }

  // After a reset, events may be missing: take the server's list again.
  const reloadList = serial(async () => {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("conversation-list");
    if (!fresh) return;
    list.replaceChildren(...[...fresh.children].map((row) => document.importNode(row, true)));
    showEmpty();
  });

  hub.on("messaging.message", (event) => refreshRow(event.data?.conversation_id));
  hub.on("messaging.read", (event) => {
    if (event.data?.user_id === me) refreshRow(event.data.conversation_id);
  });
  hub.on("reset", () => reloadList());
}

// One conversation ---------------------------------------------------------------

function startConversation(root, data) {
  const list = root.querySelector("#message-list");
  const empty = root.querySelector("#message-empty");
  const typingLine = root.querySelector("#typing");
  const words = data.words || {};
  const positions = new Map(
    Object.entries(data.positions || {}).map(([user, offset]) => [Number(user), Number(offset)]),
  );
  let lastRead = Number(data.last_read) || 0;
  const names_ = data.names || {};
  const replyTo = root.querySelector("#reply-to");

  const idOf = (node) => Number(node.dataset.messageId) || 0;
  const items = () => [...list.querySelectorAll(":scope > li[data-message-id]")];
  const itemOf = (id) => list.querySelector(`:scope > li[data-message-id="${CSS.escape(String(id))}"]`);
  const lastId = () => items().reduce((max, node) => Math.max(max, idOf(node)), 0);

  // Read receipts: "Read by N of M" on one's own messages --------------------

  function drawReceipt(node) {
    const line = node.querySelector("[data-receipt]");
    if (!line || !node.dataset.audience) return;
    const audience = node.dataset.audience.split(",").filter(Boolean).map(Number);
    const id = idOf(node);
    const read = audience.filter((user) => (positions.get(user) ?? 0) >= id).length;
    const text = fill(words.read_by, { read, total: audience.length });
    if (line.textContent !== text) line.textContent = text;
    // Who read: only the people this message went to (data.names holds no one else).
    const readers = node.querySelector("[data-readers]");
    if (readers) {
      const names = audience
        .filter((user) => (positions.get(user) ?? 0) >= id)
        .map((user) => names_[String(user)])
        .filter(Boolean);
      const shown = names.length ? ` · ${names.join(", ")}` : "";
      if (readers.textContent !== shown) readers.textContent = shown;
    }
    node.classList.toggle("msg--read", read > 0 && read === audience.length);
  }

  function drawReceipts() {
    for (const node of list.querySelectorAll(":scope > li[data-audience]")) drawReceipt(node);
  }

  // Marking read: what was on screen while the tab was visible ----------------

  const onScreen = new Set();
  const observer =
    "IntersectionObserver" in globalThis
      ? new IntersectionObserver((entries) => {
          for (const entry of entries) {
            const id = idOf(entry.target);
            if (entry.isIntersecting) onScreen.add(id);
            else onScreen.delete(id);
          }
          markRead();
        })
      : null;

  function seenUpTo() {
    if (!observer) return lastId();
    return onScreen.size ? Math.max(...onScreen) : 0;
  }

  const markRead = serial(async () => {
    if (document.visibilityState !== "visible") return;
    const target = seenUpTo();
    if (target <= lastRead) return;
    const { ok, payload } = await request(data.read_api, {
      method: "POST",
      body: { message_id: target },
    });
    if (ok) lastRead = Math.max(lastRead, Number(payload.last_read) || 0);
  });

  document.addEventListener("visibilitychange", () => markRead());

  // Messages in place, once each --------------------------------------------

  function upsert(message) {
    const node = fromHtml(message.html);
    if (!node) return { node: null, isNew: false };
    const existing = itemOf(message.id);
    let isNew = false;
    if (existing && existing.dataset.version === node.dataset.version) {
      // Drawn already (the send's answer and the event's fetch both bring it):
      // keep the node, and whatever is open or typed in it.
      return { node: existing, isNew: false };
    }
    if (existing) {
      const hadFocus = existing.contains(document.activeElement);
      observer?.unobserve(existing);
      onScreen.delete(message.id);
      existing.replaceWith(node);
      if (hadFocus) node.focus();
    } else {
      const wasAtEnd = (() => {
        const last = items().at(-1);
        return !last || onScreen.has(idOf(last));
      })();
      const next = items().find((other) => idOf(other) > message.id);
      list.insertBefore(node, next || null);
      isNew = true;
      if (wasAtEnd && !next) node.scrollIntoView({ block: "nearest" });
    }
    observer?.observe(node);
    drawReceipt(node);
    if (empty) empty.hidden = true;
    return { node, isNew };
  }

  function arrived(message, isNew) {
    if (!isNew || message.mine) return;
    stopTyping(message.sender_id);
    announce(fill(words.new_message, { name: message.sender_name }));
  }

  const loadNew = serial(async () => {
    for (;;) {
      const { ok, payload } = await request(`${data.messages_api}?after=${lastId()}`);
      if (!ok) return;
      for (const message of payload.messages) arrived(message, upsert(message).isNew);
      if (!payload.more || !payload.messages.length) return;
    }
  });

  async function loadOne(id) {
    const { ok, payload } = await request(`${data.messages_api}${encodeURIComponent(id)}/`);
    if (ok) upsert(payload.message);
  }

  // After a reset: take every message again (edits and deletions included).
  const reloadAll = serial(async () => {
    let after = 0;
    for (;;) {
      const { ok, payload } = await request(`${data.messages_api}?after=${after}`);
      if (!ok) return;
      for (const message of payload.messages) upsert(message);
      if (!payload.more || !payload.messages.length) return;
      after = payload.messages.at(-1).id;
    }
  });

  hub.on("messaging.message", (event) => {
    const detail = event.data || {};
    if (detail.conversation_id !== data.id) return;
    if (event.op === "new") loadNew();
    else loadOne(detail.message_id);
  });

  hub.on("messaging.read", (event) => {
    const detail = event.data || {};
    if (detail.conversation_id !== data.id) return;
    if (detail.user_id === me) {
      lastRead = Math.max(lastRead, Number(detail.message_id) || 0);
      return;
    }
    if (!positions.has(detail.user_id)) return; // not someone my messages go to
    positions.set(detail.user_id, Math.max(positions.get(detail.user_id), Number(detail.message_id) || 0));
    drawReceipts();
  });

  // What was written between the page's render and the socket's first hello.
  hub.on("hello", () => loadNew());
  hub.on("reset", () => reloadAll());

  // Typing indicator ------------------------------------------------------------

  const typers = new Map(); // user id -> {name, timer}

  function drawTyping() {
    if (!typingLine) return;
    const names = [...typers.values()].map((typer) => typer.name);
    typingLine.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? fill(words.typing_one, { name: names[0] })
          : fill(words.typing_many, { names: names.join(", ") });
  }

  function stopTyping(user) {
    const typer = typers.get(user);
    if (!typer) return;
    clearTimeout(typer.timer);
    typers.delete(user);
    drawTyping();
  }

  hub.on("typing", (frame) => {
    if (frame.conversation !== data.id || frame.user === me) return;
    const before = typers.get(frame.user);
    if (before) clearTimeout(before.timer);
    typers.set(frame.user, {
      name: String(frame.name || ""),
      timer: setTimeout(() => stopTyping(frame.user), TYPING_SHOWN_MS),
    });
    drawTyping();
  });

  // Actions on a message: edit, delete, report -------------------------------

  list.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.busy) return;
    if (form.dataset.action === "delete" && !window.confirm(words.confirm_delete)) return;
    const item = form.closest("li[data-message-id]");
    const status = item?.querySelector(".msg__status");
    form.dataset.busy = "1";
    try {
      const { ok, payload } = await request(form.action, { method: "POST", body: new FormData(form) });
      if (ok && payload.message) {
        const { node } = upsert(payload.message);
        node?.focus();
        const line = node?.querySelector(".msg__status");
        if (line) line.textContent = payload.status || "";
      } else if (status) {
        status.textContent = payload?.message || words.failed;
      }
    } catch {
      if (status) status.textContent = words.failed;
    } finally {
      delete form.dataset.busy;
    }
  });

  // Past the 15 minutes, the edit box goes (the server refuses anyway).
  setInterval(() => {
    const now = Date.now();
    for (const node of list.querySelectorAll(":scope > li[data-edit-until]")) {
      const edit = node.querySelector(".msg__edit");
      if (edit && Date.parse(node.dataset.editUntil) < now && !edit.contains(document.activeElement)) {
        edit.remove();
      }
    }
  }, 30_000);

  // The reply form ------------------------------------------------------------

  const form = root.querySelector("#reply-form");
  if (form) startReplyForm(form);

  // Class-wide message, teacher's side: whom the reply goes to, said in the box.
  if (replyTo) {
    const note = root.querySelector("#reply-note");
    const drawNote = () => {
      const option = replyTo.selectedOptions[0];
      if (note) note.textContent = option?.dataset.note || replyTo.dataset.everyoneNote || "";
    };
    replyTo.addEventListener("change", drawNote);
    list.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-reply-to]");
      if (!link) return;
      event.preventDefault();
      replyTo.value = link.dataset.replyTo;
      drawNote();
      root.querySelector("#reply-body")?.focus();
    });
  }

  function startReplyForm(form) {
    const textarea = form.querySelector("textarea[name=body]");
    const files = form.querySelector("input[type=file]");
    const key = form.querySelector("input[name=idempotency_key]");
    const error = form.querySelector("#reply-error");
    const status = form.querySelector("#reply-status");
    const count = form.querySelector("#reply-count");
    const button = form.querySelector("button[type=submit]");
    let sending = false;
    let typedAt = 0;

    // A new draft gets a new key; a draft the server gave back keeps its key.
    if (!textarea.value) key.value = newKey();

    const showError = (text) => {
      error.textContent = text;
      error.hidden = false;
    };
    const clearError = () => {
      error.textContent = "";
      error.hidden = true;
    };

    textarea.addEventListener("input", () => {
      const length = textarea.value.length;
      if (count) count.textContent = length > MAX_CHARS * 0.9 ? `${length} / ${MAX_CHARS}` : "";
      const now = Date.now();
      if (!textarea.value.trim() || now - typedAt < TYPING_EVERY_MS) return;
      const frame = { type: "typing", conversation: data.id };
      // In one family's private thread, only that family sees the teacher typing.
      if (replyTo?.value) frame.to = Number(replyTo.value);
      if (hub.send(frame)) typedAt = now;
    });

    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (sending) return;
      if (files && files.files.length > MAX_FILES) {
        showError(words.too_many_files);
        return;
      }
      sending = true;
      button.disabled = true;
      status.textContent = words.sending;
      try {
        const { ok, payload } = await request(form.dataset.api, {
          method: "POST",
          body: new FormData(form),
        });
        if (ok && payload.message) {
          const { node } = upsert(payload.message);
          textarea.value = "";
          if (files) files.value = "";
          if (count) count.textContent = "";
          key.value = newKey();
          clearError();
          status.textContent = words.sent;
          typedAt = 0;
          node?.scrollIntoView({ block: "nearest" });
        } else if (payload?.error === "idempotency_conflict") {
          // The first try had gone through after all: it shows, this text is a new draft.
          key.value = newKey();
          showError(words.conflict);
          loadNew();
        } else {
          showError(payload?.message || words.error);
        }
      } catch {
        // No answer (connection lost): the same key makes a resend safe.
        showError(words.offline);
      } finally {
        sending = false;
        button.disabled = false;
        if (status.textContent === words.sending) status.textContent = "";
      }
    });
  }

  // Start ------------------------------------------------------------------------

  for (const node of items()) observer?.observe(node);
  drawReceipts();
  const firstUnread = items().find(
    (node) => idOf(node) > lastRead && Number(node.dataset.senderId) !== me,
  );
  firstUnread?.scrollIntoView({ block: "nearest" });
  if (!observer) markRead();
}

// The new-conversation form ------------------------------------------------------

function fold(text) {
  return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

function startNewConversation(form) {
  const filterBox = form.querySelector(".recipient-filter");
  const filter = form.querySelector("#recipient-filter");
  const groups = form.querySelector("#recipient-groups");
  const people = groups ? groups.querySelectorAll("input[name=recipients]").length : 0;
  if (filterBox && filter && groups && people > 8) {
    filterBox.hidden = false;
    filter.addEventListener("input", () => {
      const wanted = fold(filter.value.trim());
      for (const fieldset of groups.querySelectorAll("fieldset")) {
        let shown = 0;
        for (const item of fieldset.querySelectorAll("li")) {
          const checked = item.querySelector("input")?.checked;
          const match = !wanted || checked || fold(item.textContent).includes(wanted);
          item.hidden = !match;
          if (match) shown += 1;
        }
        fieldset.hidden = shown === 0;
      }
    });
  }

  // Replies: to everyone by default, to the sender only for whole classes,
  // until the sender chooses.
  const radios = [...form.querySelectorAll("input[name=reply_policy]")];
  const classes = [...form.querySelectorAll("input[name=classes]")];
  // A form the server gave back (after an error) keeps the choice it holds.
  let chosen = radios.some((radio) => radio.checked);
  const pick = () => {
    if (chosen) return;
    const value = classes.some((box) => box.checked) ? "sender" : "all";
    for (const radio of radios) radio.checked = radio.value === value;
  };
  if (!radios.some((radio) => radio.checked)) pick();
  for (const radio of radios) radio.addEventListener("change", () => (chosen = true));
  for (const box of classes) box.addEventListener("change", pick);

  const files = form.querySelector("input[type=file]");
  form.addEventListener("submit", (event) => {
    if (files && files.files.length > MAX_FILES) {
      event.preventDefault();
      files.setCustomValidity(files.dataset.tooMany || `${MAX_FILES} max`);
      files.reportValidity();
    }
  });
  files?.addEventListener("change", () => files.setCustomValidity(""));
}

// Start whatever this page holds ----------------------------------------------------

const inboxList = document.getElementById("conversation-list");
if (inboxList) startInbox(inboxList);

const conversationRoot = document.getElementById("conversation");
const conversationData = readJson("conversation-data", null);
if (conversationRoot && conversationData) startConversation(conversationRoot, conversationData);

const newForm = document.getElementById("new-conversation");
if (newForm) startNewConversation(newForm);
