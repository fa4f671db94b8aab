// The live documents page of a space (core/documents/templates/documents/space.html).
//
// The page renders the folder's items; this module follows the space's
// `class:<id>` stream (an item hidden from guardians comes on the reader's own
// `user:<id>` stream, which every page follows) through the shared hub client.
// A `documents.item` event of this space and folder adds the item at the top
// (`added`) or updates it (`new_version`); a `documents.removed` event takes it
// out; each is announced. A `reset` of the stream reloads the folder's items from
// /documents/<kind>/<id>/api/items/. Everything is drawn with textContent.
// Items drawn live carry their links and, for a teacher (`initial.can_write`),
// the same forms as the page's: new version (files), show to / hide from
// guardians (class spaces) and delete.

import { hub } from "./hub-client.js";
import { formatStamp } from "./notifications.js";
import { csrfToken } from "./page-data.js";
import { gettext as _, fill } from "./i18n.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "1,2 Mo": a size in bytes, in the page's language. */
export function formatSize(bytes) {
  const units = ["B", "kB", "MB", "GB"];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const number = new Intl.NumberFormat(document.documentElement.lang || "fr", {
    maximumFractionDigits: unit ? 1 : 0,
  }).format(value);
  return `${number} ${_(units[unit])}`;
}

function postForm(action, className) {
  const form = el("form", className);
  form.method = "post";
  form.action = action;
  const token = el("input");
  token.type = "hidden";
  token.name = "csrfmiddlewaretoken";
  token.value = csrfToken();
  form.append(token);
  return form;
}

/** The teacher's forms of one item, as the page draws them. */
function renderActions(item, urls) {
  const actions = el("div", "doc__actions");
  const id = String(item.id);
  if (item.kind === "file") {
    const form = postForm(urls.version.replace(/\/0\//, `/${id}/`), "inline-form");
    form.enctype = "multipart/form-data";
    const label = el("label", "", _("New version"));
    label.htmlFor = `version-${id}`;
    const input = el("input");
    input.type = "file";
    input.id = `version-${id}`;
    input.name = "file";
    input.required = true;
    const button = el("button", "button--secondary", _("Upload"));
    button.type = "submit";
    form.append(label, input, button);
    actions.append(form);
  }
  if (urls.visibility && item.space.startsWith("class:")) {
    const toggle = postForm(urls.visibility.replace(/\/0\//, `/${id}/`), "inline-form");
    const visible = el("input");
    visible.type = "hidden";
    visible.name = "visible";
    visible.value = item.guardians_may_see ? "0" : "1";
    const label = item.guardians_may_see ? _("Hide from guardians") : _("Show to guardians");
    const button = el("button", "button--secondary", label);
    button.type = "submit";
    button.append(el("span", "visually-hidden", ` ${item.title}`));
    toggle.append(visible, button);
    actions.append(toggle);
  }
  const form = postForm(urls.delete.replace(/\/0\//, `/${id}/`), "inline-form");
  const button = el("button", "button--secondary", _("Delete"));
  button.type = "submit";
  button.append(el("span", "visually-hidden", ` ${item.title}`));
  form.append(button);
  actions.append(form);
  return actions;
}

/** Return the <li> of one item (ItemData of core/documents/events.py);
 * with `urls` (a teacher's page: `version`, `delete`), its forms too. */
export function renderItem(item, downloadUrl, urls = null) {
  const node = el("li", "card doc doc--live");
  node.id = `doc-${item.id}`;
  node.dataset.id = String(item.id);
  const title = el("p", "doc__title");
  if (item.kind === "link") {
    const link = el("a", "", item.title);
    const url = String(item.url || "");
    if (/^https?:\/\//i.test(url)) link.href = url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    title.append(link, " ", el("span", "muted", `(${_("link")})`));
  } else if (item.version_id) {
    const link = el("a", "", item.title);
    link.href = downloadUrl.replace(/\/0\/$/, `/${item.version_id}/`);
    title.append(link);
  } else {
    title.textContent = item.title;
  }
  node.append(title);
  const meta = [];
  if (item.kind === "file") meta.push(formatSize(item.size));
  meta.push(formatStamp(item.updated_at));
  if (item.author) meta.push(item.author);
  node.append(el("p", "doc__meta muted", meta.join(" · ")));
  if (item.versions > 1) {
    node.append(el("p", "doc__meta muted", fill(_("%(count)s versions"), { count: item.versions })));
  }
  if (urls?.version && urls?.delete) node.append(renderActions(item, urls));
  return node;
}

/** One line for the announcer. */
export function describeItem(event) {
  const values = { title: event.data?.item?.title ?? "", space: event.data?.space_title ?? "" };
  if (event.op === "removed") return fill(_("Document removed: %(title)s"), values);
  if (event.op === "new_version") return fill(_("New version: %(title)s"), values);
  return fill(_("New document: %(title)s"), values);
}

export class DocumentsView {
  constructor(root, initial) {
    this.root = root;
    this.initial = initial;
    this.list = root.querySelector("#document-list");
    this.status = root.querySelector("#documents-status");
    this.announcer = root.querySelector("#documents-announcer");
    this.space = initial.space;
    this.folderId = initial.folder_id ?? null;
    this.urls = initial.can_write
      ? { version: initial.add_version, delete: initial.delete, visibility: initial.visibility }
      : null;
  }

  render(item) {
    return renderItem(item, this.initial.download, this.urls);
  }

  stream() {
    return this.space.startsWith("class:") ? this.space : null;
  }

  mine(item) {
    return item && item.space === this.space && (item.folder_id ?? null) === this.folderId;
  }

  /** Apply one `documents.item` or `documents.removed` event. */
  apply(event, { announce = true } = {}) {
    const item = event.data?.item;
    if (!this.mine(item)) return;
    const current = document.getElementById(`doc-${item.id}`);
    if (event.op === "removed") {
      current?.remove();
    } else {
      const node = this.render(item);
      if (current && event.op !== "new_version") {
        current.replaceWith(node);
      } else {
        current?.remove();
        this.list.prepend(node);
      }
      node.classList.add("doc--flash");
    }
    const empty = document.getElementById("documents-empty");
    if (empty) empty.hidden = this.list.querySelector(".doc") !== null;
    if (announce) this.announce(describeItem(event));
  }

  announce(text) {
    if (!this.announcer) return;
    this.announcer.textContent = "";
    setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  /** After a reset: reload the folder's items and draw those not shown. */
  async reload() {
    const [kind, id] = this.space.split(":");
    const url = new URL(`/documents/${kind}/${id}/api/items/`, globalThis.location.href);
    if (this.folderId) url.searchParams.set("folder", String(this.folderId));
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      const ids = new Set(body.items.map((item) => item.id));
      for (const node of this.list.querySelectorAll(".doc")) {
        if (!ids.has(Number(node.dataset.id))) node.remove();
      }
      for (const item of [...body.items].reverse()) {
        if (!document.getElementById(`doc-${item.id}`)) {
          this.list.prepend(this.render(item));
        }
      }
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = _("The documents could not be loaded. Check your connection.");
      console.error("documents", error);
    }
  }
}

function start() {
  const root = document.getElementById("documents");
  const data = document.getElementById("documents-initial");
  if (!root || !data) return null;
  const view = new DocumentsView(root, JSON.parse(data.textContent));
  hub.on("documents.item", (event) => view.apply(event));
  hub.on("documents.removed", (event) => view.apply(event));
  hub.on("reset", (frame) => {
    const stream = String(frame?.stream ?? "");
    if (stream === view.stream() || stream.startsWith("user:")) view.reload();
  });
  if (view.stream()) hub.follow(view.stream());
  globalThis.hubDocuments = view; // for debugging and browser tests
  return view;
}

export const view = start();
