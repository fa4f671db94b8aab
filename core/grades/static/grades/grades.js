// Grades (core/grades/templates/grades/grid.html and notes.html).
//
// The teacher's marks grid: Tab moves across a pupil's row (the browser's
// own order), Enter moves to the same column of the next pupil instead of
// sending the form; a mark cell that is neither a mark within "out of" nor
// abs, disp, nr is flagged as typed (the server checks again and keeps what
// was typed when it refuses).
//
// The Notes page of a pupil or a guardian: a `grades.mark` of the pupil (their
// own result, on their and their guardians' streams only) or a `reset` brings
// the server's fresh list (its markup, already escaped).
import { hub } from "../hub/hub-client.js";
import { readJson } from "../hub/page-data.js";
import { pageRefresher } from "../hub/refresh.js";
import { gettext as _, fill } from "../hub/i18n.js";

// The grid ---------------------------------------------------------------------

const grid = document.getElementById("marks-grid");
const WORDS = new Set(["", "abs", "disp", "nr", "n.r.", "n.r"]);

/** Whether `text` is a valid mark cell for an evaluation out of `outOf`. */
function validCell(text, outOf) {
  const cell = text.trim().toLowerCase();
  if (WORDS.has(cell)) return true;
  if (!outOf || !/^\d+([.,]\d{1,2})?$/.test(cell)) return false;
  const value = Number(cell.replace(",", "."));
  return value >= 0 && value <= outOf;
}

function check(input) {
  const outOf = Number(grid.dataset.outOf || 0);
  const ok = validCell(input.value, outOf);
  input.setAttribute("aria-invalid", ok ? "false" : "true");
  input.setCustomValidity(
    ok ? "" : fill(_("Type a mark between 0 and %(out_of)s, abs, disp or nr."), { out_of: outOf }),
  );
}

function moveDown(cell) {
  const row = cell.closest("tr");
  const column = cell.dataset.col;
  let next = row?.nextElementSibling;
  while (next) {
    const target = next.querySelector(`.grid-cell[data-col="${column}"]`);
    if (target) {
      target.focus();
      if (typeof target.select === "function") target.select();
      return;
    }
    next = next.nextElementSibling;
  }
}

if (grid) {
  grid.addEventListener("keydown", (event) => {
    const cell = event.target;
    if (event.key !== "Enter" || !cell.classList?.contains("grid-cell")) return;
    event.preventDefault();
    moveDown(cell);
  });
  grid.addEventListener("input", (event) => {
    if (event.target.classList?.contains("grid-mark")) check(event.target);
  });
  grid.addEventListener("change", (event) => {
    const cell = event.target;
    if (!cell.classList?.contains("grid-mark")) return;
    const word = cell.value.trim().toLowerCase();
    if (WORDS.has(word)) cell.value = word === "n.r." || word === "n.r" ? "nr" : word;
  });
}

// The Notes page ----------------------------------------------------------------

const notes = document.getElementById("grades-notes");
const status = document.getElementById("grades-status");
const live = readJson("grades-live", null);

const refresh = pageRefresher(
  "grades-notes",
  (fresh) => {
    notes.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
  },
  "grades",
);

if (notes && live) {
  hub.on("grades.mark", (event) => {
    if (event.data?.student_id !== live.pupil) return;
    refresh();
    const mark = event.data.mark || {};
    const texts = {
      published: _("New mark in %(subject)s: %(title)s"),
      changed: _("Mark changed in %(subject)s: %(title)s"),
      removed: _("Evaluation removed in %(subject)s: %(title)s"),
    };
    const text = texts[event.op] || texts.published;
    if (status) status.textContent = fill(text, mark);
  });
  hub.on("reset", () => refresh());
}
