// The absences page, live: rows appear, change and disappear as attendance
// events arrive, keyed by record id, so an event seen twice changes nothing.
import { hub } from "./hub-client.js";

const STATUS = {
  fr: { absent: "Absent·e", late: "En retard", pending: "En attente", accepted: "Acceptée", refused: "Refusée", excuse: "Justifier" },
  en: { absent: "Absent", late: "Late", pending: "Pending", accepted: "Accepted", refused: "Refused", excuse: "Excuse" },
};
const lang = document.documentElement.lang?.startsWith("en") ? "en" : "fr";
const words = STATUS[lang];
const role = JSON.parse(document.getElementById("attendance-role")?.textContent || '""');
const tbody = document.querySelector("#records tbody");
const empty = document.getElementById("records-empty");

function lessonText(lesson) {
  const start = new Date(lesson.start);
  const when = start.toLocaleString(lang === "en" ? "en-GB" : "fr-FR", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    timeZone: "Europe/Paris",
  });
  return `${lesson.subject} · ${when}`;
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

function upsertRecord(data, op) {
  const existing = tbody.querySelector(`tr[data-record-id="${CSS.escape(String(data.record_id))}"]`);
  if (op === "cleared") {
    existing?.remove();
  } else {
    const row = document.createElement("tr");
    row.dataset.recordId = String(data.record_id);
    row.append(
      cell(data.student_name),
      cell(lessonText(data.lesson)),
      cell(statusText(data), `status status--${data.status}`),
      existing ? existing.querySelector(".excuse") : excuseCell(data.record_id, ""),
    );
    row.classList.add("flash");
    if (existing) existing.replaceWith(row);
    else tbody.prepend(row);
  }
  empty.hidden = tbody.children.length > 0;
}

function updateExcuse(data) {
  const row = tbody.querySelector(`tr[data-record-id="${CSS.escape(String(data.record_id))}"]`);
  if (!row) return;
  row.querySelector(".excuse").replaceWith(excuseCell(data.record_id, data.status));
  row.classList.add("flash");
}

if (tbody) {
  hub.on("attendance.record", (event) => upsertRecord(event.data, event.op));
  hub.on("attendance.excuse", (event) => updateExcuse(event.data));
  hub.on("reset", () => window.location.reload());
}
