// The absences page, live: rows appear, change and disappear as attendance
// events arrive, keyed by record id, so an event seen twice changes nothing.
// A row added live reads like a row the server drew (attendance/index.html):
// the same words (the models' choice labels) and the same date format.
//
// On the school-life staff's page, the excuse queue (#excuse-queue) follows
// too: a submitted excuse brings the server's fresh queue (its cards and
// their CSRF forms, already escaped), a decision taken elsewhere removes the
// card.
import { djangoDate, LESSON_START } from "./formats.js";
import { hub } from "./hub-client.js";
import { pageRefresher } from "./refresh.js";

// The choice labels of core/attendance/models.py as the template shows them
// (`get_status_display|capfirst`), and the template's other words.
const WORDS = {
  fr: {
    present: "Présent",
    absent: "Absent",
    late: "En retard",
    pending: "En attente",
    accepted: "Accepté",
    refused: "Refusé",
    excuse: "Justificatif",
    noExcuse: "Aucun justificatif en attente.",
  },
  en: {
    present: "Present",
    absent: "Absent",
    late: "Late",
    pending: "Pending",
    accepted: "Accepted",
    refused: "Refused",
    excuse: "Excuse",
    noExcuse: "No excuse is waiting.",
  },
};
const lang = document.documentElement.lang?.startsWith("en") ? "en" : "fr";
const words = WORDS[lang];
const role = JSON.parse(document.getElementById("attendance-role")?.textContent || '""');
const tbody = document.querySelector("#records tbody");
const empty = document.getElementById("records-empty");
// The page may show one child only (?student=<id>).
const onlyStudent = new URLSearchParams(window.location.search).get("student");

/** "Mathématiques · lun 19 jan. 08:00", as `{{ subject }} · {{ start|date:"D j N H:i" }}`. */
export function lessonText(lesson) {
  return `${lesson.subject} · ${djangoDate(lesson.start, LESSON_START, lang)}`;
}

function statusText(data) {
  const base = words[data.status] || data.status;
  return data.minutes_late ? `${base} (${data.minutes_late} min)` : base;
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function excuseCell(recordId, state) {
  const td = document.createElement("td");
  td.className = "excuse";
  if (state) {
    const span = document.createElement("span");
    span.className = `excuse--${state}`;
    span.textContent = words[state] || state;
    td.append(span);
  }
  if (role === "guardian" && state !== "pending" && state !== "accepted") {
    const link = document.createElement("a");
    link.href = `/absences/${encodeURIComponent(recordId)}/excuse/`;
    link.textContent = words.excuse;
    td.append(" ", link);
  }
  return td;
}

function startOf(row) {
  const time = Date.parse(row.dataset.start || "");
  return Number.isNaN(time) ? null : time;
}

/** Put `row` at its place: rows go newest lesson first; after rows of the same lesson. */
function insertByStart(row) {
  const start = startOf(row);
  const next =
    start === null
      ? tbody.firstElementChild
      : [...tbody.children].find((other) => {
          const otherStart = startOf(other);
          // A row without a start (none should be) is passed over as older.
          return otherStart === null || otherStart < start;
        });
  tbody.insertBefore(row, next || null);
}

function upsertRecord(data, op) {
  if (onlyStudent && String(data.student_id) !== onlyStudent) return;
  const existing = tbody.querySelector(`tr[data-record-id="${CSS.escape(String(data.record_id))}"]`);
  if (op === "cleared") {
    existing?.remove();
  } else {
    const row = document.createElement("tr");
    row.dataset.recordId = String(data.record_id);
    if (data.lesson?.start) row.dataset.start = data.lesson.start;
    row.append(
      cell(data.student_name),
      cell(lessonText(data.lesson)),
      cell(statusText(data), `status status--${data.status}`),
      existing ? existing.querySelector(".excuse") : excuseCell(data.record_id, ""),
    );
    row.classList.add("flash");
    if (existing) existing.replaceWith(row);
    else insertByStart(row);
  }
  empty.hidden = tbody.children.length > 0;
}

function updateExcuse(data) {
  const row = tbody.querySelector(`tr[data-record-id="${CSS.escape(String(data.record_id))}"]`);
  if (!row) return;
  row.querySelector(".excuse").replaceWith(excuseCell(data.record_id, data.status));
  row.classList.add("flash");
}

// The excuse queue of school-life staff -------------------------------------

const queue = document.getElementById("excuse-queue");
const decided = new Set(); // excuses accepted or refused since the page loaded
let emptyItem = queue?.querySelector(":scope > li.empty")?.cloneNode(true) || null;

function queueKey(item) {
  return item.dataset.excuseId ? `excuse:${item.dataset.excuseId}` : `other:${item.className}`;
}

function showEmptyIfNone() {
  if (queue.querySelector(":scope > li[data-excuse-id]")) {
    for (const item of queue.querySelectorAll(":scope > li.empty")) item.remove();
    return;
  }
  if (queue.querySelector(":scope > li.empty")) return;
  let item = emptyItem?.cloneNode(true);
  if (!item) {
    item = document.createElement("li");
    item.className = "empty";
    item.textContent = words.noExcuse;
  }
  queue.append(item);
}

/** Make the queue show the items of `fresh` (the server's list) without
 * redrawing the cards already shown: a note being typed and the focus stay. */
function mergeQueue(fresh) {
  const wanted = [...fresh.children].filter((item) => !decided.has(item.dataset.excuseId));
  const keys = new Set(wanted.map(queueKey));
  for (const item of [...queue.children]) {
    if (!keys.has(queueKey(item))) item.remove();
  }
  let cursor = queue.firstElementChild;
  for (const item of wanted) {
    const key = queueKey(item);
    const shown = [...queue.children].find((other) => queueKey(other) === key);
    if (shown) {
      if (shown !== cursor) queue.insertBefore(shown, cursor);
      cursor = shown.nextElementSibling;
    } else {
      const node = document.importNode(item, true);
      if (node.dataset.excuseId) node.classList.add("flash");
      queue.insertBefore(node, cursor);
    }
  }
  showEmptyIfNone();
}

/** Fetch this page again and take its #excuse-queue; one fetch at a time. */
const refreshQueue = pageRefresher(
  "excuse-queue",
  (fresh) => {
    emptyItem = fresh.querySelector(":scope > li.empty")?.cloneNode(true) || emptyItem;
    mergeQueue(fresh);
  },
  "excuse queue",
);

function removeDecided(data) {
  const id = String(data.excuse_id);
  decided.add(id);
  queue.querySelector(`:scope > li[data-excuse-id="${CSS.escape(id)}"]`)?.remove();
  showEmptyIfNone();
}

function onExcuse(event) {
  if (tbody) updateExcuse(event.data);
  if (!queue) return;
  if (event.op === "submitted") refreshQueue();
  else if (event.op === "accepted" || event.op === "refused") removeDecided(event.data);
}

if (tbody) hub.on("attendance.record", (event) => upsertRecord(event.data, event.op));
if (tbody || queue) {
  hub.on("attendance.excuse", onExcuse);
  hub.on("reset", () => window.location.reload());
}
