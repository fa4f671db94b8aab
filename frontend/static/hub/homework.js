// The homework notebook, live (core/homework/templates/homework/notebook.html
// and class.html).
//
// Pupil and guardian page: follows the pupil's classes through the shared hub
// client. A `homework.item` published or changed, a hand-in event or a
// `reset` brings the server's fresh list (its markup, already escaped, and
// the pupil's state); a removed homework stays where it is, marked removed,
// until the next load. A `homework.done` of the pupil ticks or unticks the
// item in place (the pupil's other tabs, the guardians' pages). Ticking
// "fait" posts JSON to the item's URL.
//
// Teacher's form: picking a due date shows that day's workload of the class
// (how much is due, a warning when two tests are already set).
import { hub } from "./hub-client.js";
import { csrfToken } from "./page-data.js";
import { pageRefresher } from "./refresh.js";
import { gettext as _, fill } from "./i18n.js";

const root = document.getElementById("homework");
const status = document.getElementById("homework-status");
const live = JSON.parse(document.getElementById("homework-live")?.textContent || "null");

function say(text) {
  if (status) status.textContent = text;
}

function setDone(id, done) {
  const item = document.getElementById(`hw-${id}`);
  if (!item) return;
  item.classList.toggle("hw--done", done);
  const box = item.querySelector(".hw__tick");
  if (box) box.checked = done;
  const tag = item.querySelector(".hw__done-tag");
  if (tag) {
    tag.dataset.done = done ? "1" : "0";
    tag.textContent = done ? _("Done") : _("To do");
  }
}

/** Fetch this page again and take its #homework list; one fetch at a time. */
const refresh = pageRefresher(
  "homework",
  (fresh) => {
    const removed = [...root.querySelectorAll(".hw--removed")];
    root.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    for (const item of removed) {
      if (!document.getElementById(item.id)) {
        root.querySelector(".hw-list")?.prepend(item);
      }
    }
  },
  "homework",
);

function markRemoved(id) {
  const item = document.getElementById(`hw-${id}`);
  if (!item || item.classList.contains("hw--removed")) return;
  item.classList.add("hw--removed");
  for (const input of item.querySelectorAll("input, button")) input.disabled = true;
  const note = document.createElement("p");
  note.className = "hw__removed";
  note.textContent = _("Removed by the teacher");
  item.prepend(note);
}

function onItem(event) {
  const hw = event.data?.homework;
  if (!hw || !live.classes.includes(hw.class_id)) return;
  if (event.op === "removed") {
    markRemoved(hw.id);
    say(fill(_("Homework removed in %(subject)s: %(title)s"), hw));
    return;
  }
  refresh();
  say(fill(_("Homework in %(subject)s: %(title)s"), hw));
}

async function tick(box) {
  const done = box.checked;
  box.disabled = true;
  try {
    const response = await fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify({ done }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const id = box.closest(".hw")?.dataset.id;
    if (id) setDone(id, done);
  } catch (error) {
    box.checked = !done;
    say(_("Not saved. Check your connection."));
    console.warn("done not saved", error);
  } finally {
    box.disabled = false;
  }
}

if (root && live) {
  root.addEventListener("change", (change) => {
    if (change.target.classList?.contains("hw__tick")) tick(change.target);
  });
  hub.on("homework.item", onItem);
  hub.on("homework.done", (event) => {
    if (event.data?.student_id === live.pupil) setDone(event.data.homework_id, event.op === "done");
  });
  hub.on("homework.handin", (event) => {
    if (event.data?.student_id === live.pupil) refresh();
  });
  hub.on("reset", () => refresh());
  globalThis.hubHomework = { refresh }; // for browser tests
}

// Files: too big or too many are told before sending ---------------------------
//
// The server refuses them too (core/homework/uploads.py), but a body over the
// URL's limit (core/body_limits.py) would get a bare 413: check first, with
// the input's own message (data-too-big, data-too-many).

document.addEventListener(
  "submit",
  (event) => {
    const inputs = event.target.querySelectorAll?.("input[type=file][data-max-bytes]") || [];
    for (const input of inputs) {
      const max = Number(input.dataset.maxBytes);
      const most = Number(input.dataset.maxFiles || 0);
      const chosen = [...(input.files || [])];
      let problem = "";
      if (most && chosen.length > most) problem = input.dataset.tooMany || `${most} max`;
      else if (chosen.some((file) => file.size > max)) problem = input.dataset.tooBig || "10 MB max";
      if (problem) {
        event.preventDefault();
        input.setCustomValidity(problem);
        input.reportValidity();
        input.addEventListener("change", () => input.setCustomValidity(""), { once: true });
        return;
      }
    }
  },
  true,
);

// The teacher's form: the workload of the chosen due date ---------------------

const form = document.getElementById("homework-form");
const hint = document.getElementById("workload-hint");
const dueInput = document.getElementById("id_due_date");

async function showWorkload() {
  if (!form || !hint || !dueInput?.value) {
    if (hint) hint.textContent = "";
    return;
  }
  const url = `${form.dataset.workload}?from=${encodeURIComponent(dueInput.value)}`;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { days } = await response.json();
    const day = days.find((d) => d.day === dueInput.value);
    if (!day || !day.count) {
      hint.textContent = _("Nothing is due that day yet.");
      hint.classList.remove("hint--warning");
      return;
    }
    const subjects = day.subjects.map((s) => `${s.subject} (${s.count})`).join(", ");
    let text = fill(_("Already due that day: %(subjects)s."), { subjects });
    if (day.warning) text += ` ${_("Warning: the class already has two tests that day.")}`;
    hint.textContent = text;
    hint.classList.toggle("hint--warning", day.warning);
  } catch (error) {
    console.warn("workload not loaded", error);
  }
}

dueInput?.addEventListener("change", showWorkload);
