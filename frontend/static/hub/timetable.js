// The live week view of a class (frontend/templates/frontend/timetable.html).
//
// Draws the week from #timetable-initial, then follows `class:<id>` through the
// shared hub client: a `timetable.occurrence` event updates that lesson in
// place (or removes it when it moved to another week) and is announced (a
// `timetable.changes` of several lessons is announced once, after them); a
// `timetable.feed` event or a `reset` of the stream reloads the week from
// /api/timetable/<id>/?week=YYYY-MM-DD. Previous/next week buttons load
// without reloading the page and keep the URL in step (history.pushState).
//
// The same view draws a teacher's week across all their classes
// (timetable_mine.html, `initial.mine`): it follows every class it shows and,
// since a change may make a lesson theirs or not, reloads the week from
// /api/timetable/mine/ on a change to one of those classes.

import { hub } from "./hub-client.js";
import { TIME_ZONE, describe, formatTime, lang, mondayOf } from "./notifications.js";
import { gettext as _, fill } from "./i18n.js";

const FLASH_MS = 2600;

/** "YYYY-MM-DD" of an instant, in Europe/Paris. */
export function localDate(iso) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date(iso));
}

function addDays(isoDate, days) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function dayLabel(isoDate, options) {
  return new Intl.DateTimeFormat(lang(), { timeZone: "UTC", ...options }).format(
    new Date(`${isoDate}T12:00:00Z`),
  );
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isMoved(occ) {
  return Boolean(occ.previous_start) && occ.previous_start !== occ.start;
}

function isRoomChanged(occ) {
  return Boolean(occ.previous_room) && occ.previous_room !== occ.room;
}

function isTeacherChanged(occ) {
  return Boolean(occ.previous_teachers) && occ.previous_teachers !== occ.teachers;
}

/** Return the <li> of one occurrence (all text through textContent). */
export function renderOccurrence(occ) {
  const cancelled = occ.status === "cancelled";
  const moved = isMoved(occ);
  const item = el("li", "occ");
  item.id = `occ-${occ.id}`;
  item.dataset.id = String(occ.id);
  item.dataset.status = occ.status;
  if (cancelled) item.classList.add("occ--cancelled");
  else if (moved) item.classList.add("occ--moved");

  const head = el("div", "occ__head");
  if (cancelled) head.append(el("span", "occ__flag occ__flag--cancelled", _("Cancelled")));
  else if (moved) head.append(el("span", "occ__flag occ__flag--moved", _("Moved")));
  head.append(el("span", "occ__time", `${formatTime(occ.start)}–${formatTime(occ.end)}`));
  item.append(head);
  item.append(el("div", "occ__subject", occ.subject));

  const meta = el("div", "occ__meta");
  if (occ.class_title) meta.append(el("span", "occ__class", occ.class_title));
  if (isRoomChanged(occ)) {
    if (meta.childNodes.length) meta.append(" · ");
    const room = el(
      "span",
      "occ__room occ__room--changed",
      fill(_("Room %(old)s → %(new)s"), { old: occ.previous_room, new: occ.room || "?" }),
    );
    meta.append(room);
  } else if (occ.room) {
    if (meta.childNodes.length) meta.append(" · ");
    meta.append(el("span", "occ__room", fill(_("Room %(room)s"), { room: occ.room })));
  }
  if (occ.teachers && !isTeacherChanged(occ)) {
    if (meta.childNodes.length) meta.append(" · ");
    meta.append(el("span", "occ__teachers", occ.teachers));
  }
  if (meta.childNodes.length) item.append(meta);

  if (isTeacherChanged(occ)) {
    item.append(
      el(
        "div",
        "occ__note occ__note--teacher",
        fill(_("Substitute: %(new)s (instead of %(old)s)"), {
          new: occ.teachers || "?",
          old: occ.previous_teachers,
        }),
      ),
    );
  }
  if (moved) {
    // Within the same week the weekday is enough; otherwise say the date too.
    const sameWeek = mondayOf(occ.previous_start) === mondayOf(occ.start);
    const day = dayLabel(
      localDate(occ.previous_start),
      sameWeek ? { weekday: "long" } : { weekday: "long", day: "numeric", month: "long" },
    );
    item.append(
      el(
        "div",
        "occ__note occ__note--moved",
        fill(_("originally %(day)s %(time)s"), { day, time: formatTime(occ.previous_start) }),
      ),
    );
  }
  if (cancelled && occ.reason) {
    item.append(el("div", "occ__note occ__note--reason", occ.reason));
  } else if (occ.reason && (moved || isRoomChanged(occ) || isTeacherChanged(occ))) {
    item.append(el("div", "occ__note occ__note--reason", occ.reason));
  }
  return item;
}

export class WeekView {
  constructor(root, initial) {
    this.root = root;
    this.week = root.querySelector("#week");
    this.label = root.querySelector("#week-label");
    this.status = root.querySelector("#timetable-status");
    this.announcer = root.querySelector("#timetable-announcer");
    this.prev = root.querySelector("#week-prev");
    this.next = root.querySelector("#week-next");
    this.api = root.dataset.api; // ".../api/timetable/0/"
    this.classId = initial.class_id;
    this.mine = Boolean(initial.mine); // a teacher's week, every class
    this.classIds = new Set(this.mine ? initial.class_ids || [] : [initial.class_id]);
    this.monday = initial.week;
    this.occurrences = new Map();
    this.holidays = initial.holidays || {};
    this.flashing = new Map();
    this.loading = null;
    this.pending = [];
    this.load(initial.occurrences);
  }

  streams() {
    return [...this.classIds].map((id) => `class:${id}`);
  }

  load(occurrences) {
    this.occurrences = new Map(occurrences.map((occ) => [occ.id, occ]));
    this.render();
  }

  apiUrl(monday) {
    if (this.mine) return `${this.api}?week=${monday}`;
    return `${this.api.replace(/\/0\/$/, `/${this.classId}/`)}?week=${monday}`;
  }

  pageUrl(monday) {
    const url = new URL(globalThis.location.href);
    if (!this.mine) url.searchParams.set("class", String(this.classId));
    url.searchParams.set("week", monday);
    return `${url.pathname}?${url.searchParams}`;
  }

  /** Fetch `monday`'s week; events arriving meanwhile are applied after it. */
  async fetchWeek(monday = this.monday) {
    const token = {};
    this.loading = token;
    this.pending = [];
    this.week.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(this.apiUrl(monday), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      if (this.loading !== token) return;
      this.monday = body.week;
      this.status.textContent = "";
      const pending = this.pending;
      this.loading = null;
      this.pending = [];
      this.holidays = body.holidays || {};
      if (this.mine && body.class_ids) {
        this.classIds = new Set(body.class_ids);
        hub.follow(this.streams());
      }
      this.load(body.occurrences);
      for (const event of pending) this.apply(event, { announce: false });
    } catch (error) {
      if (this.loading === token) {
        this.loading = null;
        this.status.textContent = _("The timetable could not be loaded. Check your connection.");
      }
      console.error("timetable", error);
    } finally {
      if (this.loading === null) this.week.setAttribute("aria-busy", "false");
    }
  }

  go(step) {
    const monday = addDays(this.monday, step);
    globalThis.history.pushState({ week: monday }, "", this.pageUrl(monday));
    this.monday = monday;
    this.drawNav();
    this.fetchWeek(monday);
  }

  drawNav() {
    const day = dayLabel(this.monday, { day: "numeric", month: "long", year: "numeric" });
    this.label.textContent = fill(_("Week of %(day)s"), { day });
    if (this.prev) this.prev.href = this.pageUrl(addDays(this.monday, -7));
    if (this.next) this.next.href = this.pageUrl(addDays(this.monday, 7));
  }

  render() {
    this.drawNav();
    const byDay = new Map();
    for (const occ of this.occurrences.values()) {
      const day = localDate(occ.start);
      if (!byDay.has(day)) byDay.set(day, []);
      byDay.get(day).push(occ);
    }
    const days = [];
    for (let i = 0; i < 7; i += 1) {
      const day = addDays(this.monday, i);
      if (i < 5 || byDay.has(day)) days.push(day);
    }
    const today = localDate(new Date().toISOString());
    const columns = days.map((day) => {
      const column = el("section", "day");
      if (day === today) column.classList.add("day--today");
      column.dataset.date = day;
      const title = el("h2", "", dayLabel(day, { weekday: "long", day: "numeric", month: "long" }));
      column.append(title);
      const lessons = (byDay.get(day) || []).sort((a, b) => a.start.localeCompare(b.start));
      if (lessons.length) {
        const list = el("ol");
        for (const occ of lessons) {
          const item = renderOccurrence(occ);
          if (this.flashing.has(occ.id)) item.classList.add("occ--flash");
          list.append(item);
        }
        column.append(list);
      } else if (this.holidays[day]) {
        // A public or school holiday of the class's school: named, no lesson.
        column.classList.add("day--holiday");
        column.append(el("p", "day__empty day__holiday", this.holidays[day]));
      } else {
        column.append(el("p", "day__empty", _("No lesson")));
      }
      return column;
    });
    this.week.style.setProperty("--days", String(days.length));
    this.week.replaceChildren(...columns);
  }

  flash(id) {
    clearTimeout(this.flashing.get(id));
    this.flashing.set(
      id,
      setTimeout(() => {
        this.flashing.delete(id);
        document.getElementById(`occ-${id}`)?.classList.remove("occ--flash");
      }, FLASH_MS),
    );
    const item = document.getElementById(`occ-${id}`);
    if (item) {
      item.classList.remove("occ--flash");
      void item.offsetWidth; // restart the animation
      item.classList.add("occ--flash");
    }
  }

  announce(text) {
    if (!this.announcer) return;
    // Clear first so the same text twice is announced twice.
    this.announcer.textContent = "";
    setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  /** Reload the week (a teacher's), then flash and announce lesson `id` if shown. */
  async refetchFor(id, text) {
    await this.fetchWeek();
    if (!this.occurrences.has(id)) return;
    this.flash(id);
    if (text) this.announce(text);
  }

  /** Apply one `timetable.occurrence` event to the shown week. */
  apply(event, { announce = true } = {}) {
    const occ = event.data?.occurrence;
    if (!occ || !this.classIds.has(occ.class_id)) return;
    if (this.loading) {
      this.pending.push(event);
      return;
    }
    const inWeek = mondayOf(occ.start) === this.monday;
    const shown = this.occurrences.has(occ.id);
    if (this.mine) {
      if (inWeek || shown) this.refetchFor(occ.id, announce ? describe(event) : "");
      return;
    }
    if (inWeek) {
      this.occurrences.set(occ.id, occ);
      this.render();
      this.flash(occ.id);
    } else if (shown) {
      this.occurrences.delete(occ.id);
      this.render();
    } else {
      return;
    }
    if (announce) this.announce(describe(event));
  }
}

// Choosing another child picks that child's class, not the class shown now.
document.getElementById("pick-child")?.addEventListener("change", () => {
  const classes = document.getElementById("pick-class");
  if (classes) classes.disabled = true;
});

function start() {
  const root = document.getElementById("timetable");
  const data = document.getElementById("timetable-initial");
  if (!root || !data) return null;
  const initial = JSON.parse(data.textContent);
  if (!initial.class_id && !initial.mine) return null;
  const view = new WeekView(root, initial);

  view.prev?.addEventListener("click", (click) => {
    click.preventDefault();
    view.go(-7);
  });
  view.next?.addEventListener("click", (click) => {
    click.preventDefault();
    view.go(7);
  });
  globalThis.addEventListener("popstate", () => {
    const params = new URLSearchParams(globalThis.location.search);
    const week = params.get("week");
    const monday = week ? mondayOf(`${week}T12:00:00Z`) : initial.week;
    if (monday && monday !== view.monday) {
      view.monday = monday;
      view.drawNav();
      view.fetchWeek(monday);
    }
  });
  globalThis.history.replaceState({ week: view.monday }, "", globalThis.location.href);

  hub.on("timetable.occurrence", (event) => view.apply(event));
  // Several lessons changed at once: say it once, after the last of them
  // (any class the view follows: a teacher's week shows several).
  hub.on("timetable.changes", (event) => {
    if (view.classIds.has(event.data?.class_id) && event.data.count > 1) {
      view.announce(describe(event));
    }
  });
  hub.on("timetable.feed", (event) => {
    if (view.classIds.has(event.data?.class_id)) view.fetchWeek();
  });
  hub.on("reset", (frame) => {
    if (view.streams().includes(frame.stream)) view.fetchWeek();
  });
  hub.follow(view.streams());
  globalThis.hubTimetable = view; // for debugging and browser tests
  return view;
}

export const view = start();
