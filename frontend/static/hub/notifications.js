// What an event means to a person, in their language, and the notification centre.
//
//   import { describe, eventLink } from "./notifications.js";
//   describe(event)  -> "Léa Dubois : absence en Mathématiques (lun. 19 janv., 08:00)"
//   detail(event)    -> a second line ("Maths lun. 19 janv., 08:00 annulé, …") or ""
//   eventLink(event) -> "/absences/" or a timetable URL, or null
//
// `event` is an `event` frame of the hub ({kind, op, data, stream, offset, ts}).
// Frames from the notifications API also carry the server's wording of the
// event (`title`, `body`, `url`: its `HubEvent.notice`, the words of its push
// and e-mail). A kind with no describer here reads by those; a live frame of
// such a kind (no title yet) reads "New notification" until the list is
// fetched again (the centre does so at once). Never the kind's name.
// Strings are English msgids translated by Django's JavaScript catalog
// (/jsi18n/, loaded by base.html); callers insert the text with textContent.

import { setUnread } from "./badge.js";
import { gettext as _, fill, ngettext } from "./i18n.js";
import { hub } from "./hub-client.js";
import { csrfToken } from "./page-data.js";

export const TIME_ZONE = "Europe/Paris";

export function lang() {
  return document.documentElement.lang || "fr";
}

function parse(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

/** "lun. 19 janv., 08:00" (fr) / "Mon, Jan 19, 08:00" (en), in Europe/Paris. */
export function formatWhen(iso) {
  const date = parse(iso);
  if (!date) return "";
  const day = new Intl.DateTimeFormat(lang(), {
    timeZone: TIME_ZONE,
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(date);
  return `${day}, ${formatTime(iso)}`;
}

/** "08:00", in Europe/Paris. */
export function formatTime(iso) {
  const date = parse(iso);
  if (!date) return "";
  return new Intl.DateTimeFormat(lang(), {
    timeZone: TIME_ZONE,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(date);
}

/** "lun. 19 janv.", in Europe/Paris. */
export function formatDay(iso) {
  const date = parse(iso);
  if (!date) return "";
  return new Intl.DateTimeFormat(lang(), {
    timeZone: TIME_ZONE,
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(date);
}

/** "mar. 20 janv. 2026, 14:35": when a notification arrived. */
export function formatStamp(iso) {
  const date = parse(iso);
  if (!date) return "";
  return new Intl.DateTimeFormat(lang(), {
    timeZone: TIME_ZONE,
    dateStyle: "medium",
    timeStyle: "short",
  }).format(date);
}

function lessonValues(data) {
  const lesson = data.lesson || {};
  return {
    name: data.student_name || "",
    subject: lesson.subject || "",
    class: lesson.class_title || "",
    when: formatWhen(lesson.start),
    time: formatTime(lesson.start),
    minutes: data.minutes_late ?? "",
    note: data.note || "",
  };
}

function describeRecord(event) {
  const data = event.data || {};
  const values = lessonValues(data);
  if (event.op === "cleared") {
    // The pupil was there after all: the absence (or lateness) is withdrawn.
    return fill(_("Absence cancelled: %(name)s was present in %(subject)s (%(when)s)"), values);
  }
  let text;
  if (data.status === "late") {
    text = values.minutes
      ? fill(_("%(name)s: %(minutes)s min late in %(subject)s (%(when)s)"), values)
      : fill(_("%(name)s: late in %(subject)s (%(when)s)"), values);
  } else {
    text = fill(_("%(name)s: absent in %(subject)s (%(when)s)"), values);
  }
  if (event.op === "updated") text = fill(_("Corrected: %(text)s"), { text });
  return text;
}

function describeExcuse(event) {
  const values = lessonValues(event.data || {});
  let text;
  if (event.op === "submitted") {
    text = fill(_("Excuse submitted for %(name)s, %(subject)s (%(when)s)"), values);
  } else if (event.op === "accepted") {
    text = fill(_("Excuse accepted for %(name)s, %(subject)s (%(when)s)"), values);
  } else if (event.op === "refused") {
    text = fill(_("Excuse refused for %(name)s, %(subject)s (%(when)s)"), values);
  } else {
    text = fill(_("Excuse for %(name)s, %(subject)s (%(when)s)"), values);
  }
  if (values.note) text += fill(_(" (note: %(note)s)"), values);
  return text;
}

function describeRollCall(event) {
  const values = lessonValues(event.data || {});
  return fill(_("Roll call not taken: %(class)s, %(subject)s, %(time)s"), values);
}

function occurrenceValues(occ) {
  return {
    subject: occ.subject || "",
    when: formatWhen(occ.start),
    old: formatWhen(occ.previous_start),
    room: occ.room || "",
    old_room: occ.previous_room || "",
    teachers: occ.teachers || "",
    reason: occ.reason || "",
  };
}

function describeOccurrence(event) {
  const occ = (event.data || {}).occurrence || {};
  const values = occurrenceValues(occ);
  let text;
  switch (event.op) {
    case "cancelled":
      text = fill(_("Cancelled: %(subject)s, %(when)s"), values);
      break;
    case "moved":
      text = values.old
        ? fill(_("Moved: %(subject)s, %(old)s → %(when)s"), values)
        : fill(_("Moved: %(subject)s, now %(when)s"), values);
      break;
    case "room_changed":
      text = values.old_room
        ? fill(_("Room change: %(subject)s, %(when)s, %(old_room)s → %(room)s"), values)
        : fill(_("Room change: %(subject)s, %(when)s, room %(room)s"), values);
      break;
    case "teacher_changed":
      text = fill(_("Teacher change: %(subject)s, %(when)s, with %(teachers)s"), values);
      break;
    case "added":
      text = fill(_("Lesson added: %(subject)s, %(when)s"), values);
      break;
    case "restored":
      text = fill(_("Lesson restored: %(subject)s, %(when)s"), values);
      break;
    default:
      text = fill(_("Timetable change: %(subject)s, %(when)s"), values);
  }
  if (values.reason) text += fill(_(" (%(reason)s)"), values);
  return text;
}

// `timetable.changes`: the notification of one action's timetable changes.
// One change reads as that change; several as their count, the first few
// in `detail`.
function describeChanges(event) {
  const data = event.data || {};
  const first = data.first || [];
  if (data.count === 1 && first.length) {
    return describeOccurrence({ op: first[0].op, data: { occurrence: first[0].occurrence } });
  }
  let text = fill(
    ngettext(
      "%(count)s change in the timetable of %(class)s",
      "%(count)s changes in the timetable of %(class)s",
      data.count,
    ),
    { count: data.count, class: data.class_title || "" },
  );
  if (data.reason) text += fill(_(" (%(reason)s)"), { reason: data.reason });
  return text;
}

function shortChange(change) {
  const values = occurrenceValues(change.occurrence || {});
  switch (change.op) {
    case "cancelled":
      return fill(_("%(subject)s %(when)s cancelled"), values);
    case "moved":
      return fill(_("%(subject)s moved to %(when)s"), values);
    case "room_changed":
      return fill(_("%(subject)s %(when)s in room %(room)s"), values);
    case "teacher_changed":
      return fill(_("%(subject)s %(when)s with %(teachers)s"), values);
    case "added":
      return fill(_("%(subject)s %(when)s added"), values);
    case "restored":
      return fill(_("%(subject)s %(when)s restored"), values);
    default:
      return fill(_("Timetable change: %(subject)s, %(when)s"), values);
  }
}

/** Return a second line for `event` (the first changes of a batch, or the
 * server's `body`: the child, the room, …), or "". */
export function detail(event) {
  const data = event?.data || {};
  if (event?.kind !== "timetable.changes" || !(data.count > 1)) {
    return hasDescriber(event) ? "" : event?.body || "";
  }
  const first = data.first || [];
  let text = first.map(shortChange).join(", ");
  if (data.count > first.length) text += ", …";
  return text;
}

function describeHomework(event) {
  const hw = (event.data || {}).homework || {};
  const values = { subject: hw.subject || "", title: hw.title || "", when: hw.due_date || "" };
  if (event.op === "removed") return fill(_("Homework removed in %(subject)s: %(title)s"), values);
  const text = fill(_("Homework in %(subject)s: %(title)s"), values);
  return event.op === "changed" ? fill(_("Changed: %(text)s"), { text }) : text;
}

function describeHomeworkReminder(event) {
  const data = event.data || {};
  return fill(_("%(count)s homework for tomorrow in %(class)s: %(subjects)s"), {
    count: data.count ?? "",
    class: data.class_title || "",
    subjects: (data.subjects || []).join(", "),
  });
}

function describeHandIn(event) {
  const data = event.data || {};
  const values = { name: data.student_name || "", subject: data.subject || "" };
  if (event.op === "returned") {
    return fill(_("Work returned with a comment: %(name)s, %(subject)s"), values);
  }
  return data.late
    ? fill(_("Handed in late: %(name)s, %(subject)s"), values)
    : fill(_("Handed in: %(name)s, %(subject)s"), values);
}

function describeDocument(event) {
  const data = event.data || {};
  const values = {
    subject: data.subject || "",
    space: data.space_title || "",
    title: data.item?.title || "",
  };
  if (event.op === "removed") return fill(_("Document removed: %(title)s"), values);
  if (event.op === "new_version") {
    return values.subject
      ? fill(_("New version in %(subject)s (%(space)s): %(title)s"), values)
      : fill(_("New version in %(space)s: %(title)s"), values);
  }
  return values.subject
    ? fill(_("New document in %(subject)s (%(space)s): %(title)s"), values)
    : fill(_("New document in %(space)s: %(title)s"), values);
}

const DESCRIBERS = {
  "documents.item": describeDocument,
  "documents.removed": describeDocument,
  "homework.item": describeHomework,
  "homework.reminder": describeHomeworkReminder,
  "homework.handin": describeHandIn,
  "attendance.record": describeRecord,
  "attendance.excuse": describeExcuse,
  "attendance.roll_call": describeRollCall,
  "timetable.occurrence": describeOccurrence,
  "timetable.changes": describeChanges,
};

/** Whether this module words `event` itself (live, without the server). */
export function hasDescriber(event) {
  return Object.hasOwn(DESCRIBERS, event?.kind ?? "");
}

/** Return one line of text describing `event` for a person (never HTML). */
export function describe(event) {
  if (hasDescriber(event)) {
    try {
      return DESCRIBERS[event.kind](event);
    } catch (error) {
      console.error("cannot describe", event, error);
    }
  }
  if (event?.title) return event.title;
  return _("New notification");
}

/** The Monday (YYYY-MM-DD, Europe/Paris) of the week holding `iso`. */
export function mondayOf(iso) {
  const date = parse(iso);
  if (!date) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(date);
  const local = new Date(`${parts}T12:00:00Z`);
  const back = (local.getUTCDay() + 6) % 7;
  local.setUTCDate(local.getUTCDate() - back);
  return local.toISOString().slice(0, 10);
}

/** Return the page an event leads to, or null. */
export function eventLink(event) {
  const data = event?.data || {};
  if (event?.kind === "timetable.occurrence" && data.occurrence) {
    const occ = data.occurrence;
    return `/timetable/?class=${encodeURIComponent(occ.class_id)}&week=${mondayOf(occ.start)}`;
  }
  if (event?.kind === "timetable.changes" && data.class_id && data.week) {
    return `/timetable/?class=${encodeURIComponent(data.class_id)}&week=${encodeURIComponent(data.week)}`;
  }
  if (event?.kind?.startsWith("attendance.")) return "/absences/";
  if (event?.kind?.startsWith("homework.")) return "/homework/";
  if (event?.kind === "documents.item" && data.item?.space) {
    const [kind, id] = String(data.item.space).split(":");
    const folder = data.item.folder_id ? `?folder=${encodeURIComponent(data.item.folder_id)}` : "";
    return `/documents/${encodeURIComponent(kind)}/${encodeURIComponent(id)}/${folder}`;
  }
  // The server's link (HubEvent.notice.url): a path of this site only.
  if (typeof event?.url === "string" && /^\/(?!\/)/.test(event.url)) return event.url;
  return null;
}

// The notification centre page ------------------------------------------------

function renderItem(event, unread) {
  const item = document.createElement("li");
  item.className = unread ? "notif notif--unread" : "notif";
  item.dataset.stream = event.stream;
  item.dataset.offset = String(event.offset);
  const href = eventLink(event);
  const label = document.createElement(href ? "a" : "span");
  if (href) label.href = href;
  label.textContent = describe(event);
  item.append(label);
  const more = detail(event);
  if (more) {
    const line = document.createElement("span");
    line.className = "notif__detail";
    line.textContent = more;
    item.append(line);
  }
  if (unread) {
    const hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = ` ${_("(unread)")}`;
    item.append(hint);
  }
  const time = document.createElement("time");
  time.dateTime = event.ts || "";
  time.textContent = formatStamp(event.ts);
  item.append(time);
  return item;
}

/** POST "mark all read"; returns the new unread count (0). */
export async function markAllRead(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(`mark read: HTTP ${response.status}`);
  const body = await response.json();
  return body.unread ?? 0;
}

/** Start the notification centre in `root` (the page's <section>). */
export function startCentre(root, config) {
  const list = root.querySelector("#notif-list");
  const empty = root.querySelector("#notif-empty");
  const status = root.querySelector("#notif-status");
  const button = root.querySelector("#mark-read");
  const limit = 50;

  const show = (events, unreadKeys) => {
    list.replaceChildren(
      ...events.map((event) => renderItem(event, unreadKeys.has(`${event.stream}#${event.offset}`))),
    );
    empty.hidden = events.length > 0;
  };

  const load = async () => {
    const response = await fetch(config.notifications_api, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      status.textContent = _("Notifications could not be loaded.");
      return;
    }
    const body = await response.json();
    const unreadKeys = new Set(
      body.events.filter((e) => e.unread).map((e) => `${e.stream}#${e.offset}`),
    );
    show(body.events, unreadKeys);
    setUnread(body.unread);
  };

  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await markAllRead(config.mark_read_api);
      for (const item of list.querySelectorAll(".notif--unread")) {
        item.classList.remove("notif--unread");
        item.querySelector(".visually-hidden")?.remove();
      }
      setUnread(0, { broadcast: true });
      status.textContent = _("All notifications are marked as read.");
    } catch {
      status.textContent = _("Could not mark the notifications as read. Try again.");
    } finally {
      button.disabled = false;
    }
  });

  // A kind this module cannot word live is worded by the server: the list
  // is fetched again (one fetch for a burst of events).
  let refetch = null;
  const loadSoon = () => {
    clearTimeout(refetch);
    refetch = setTimeout(load, 200);
  };

  const kinds = new Set(config.notifying_kinds || []);
  hub.on("event", (event) => {
    if (!kinds.has(event.kind)) return;
    const key = `[data-stream="${CSS.escape(event.stream)}"][data-offset="${event.offset}"]`;
    if (list.querySelector(key)) return; // already listed when the page was drawn
    if (!hasDescriber(event)) loadSoon();
    list.prepend(renderItem(event, true));
    while (list.children.length > limit) list.lastElementChild.remove();
    empty.hidden = true;
  });
  hub.on("reset", () => load());

  const initial = document.getElementById("notif-initial");
  if (initial) {
    const body = JSON.parse(initial.textContent);
    show(body.events, new Set(body.events.filter((e) => e.unread).map((e) => `${e.stream}#${e.offset}`)));
  } else {
    load();
  }
}

const centre = document.getElementById("notification-centre");
if (centre) {
  const config = JSON.parse(document.getElementById("hub-config")?.textContent || "{}");
  startCentre(centre, config);
}
