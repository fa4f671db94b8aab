// Dates as Django's `date` template filter writes them, so a row drawn by the
// server and a row added live read the same.
//
//   import { djangoDate, LESSON_START } from "./formats.js";
//   djangoDate("2026-01-19T08:00:00+01:00", LESSON_START, "fr") -> "lun 19 jan. 08:00"
//   djangoDate("2026-01-19T08:00:00+01:00", LESSON_START, "en") -> "Mon 19 Jan. 08:00"
//
// Times are shown in Europe/Paris (settings.TIME_ZONE). The names are those of
// Django's own French and English catalogues; tests/frontend/test_formats_js.py
// checks every weekday and month against Django.

export const TIME_ZONE = "Europe/Paris";

/** The format of a lesson's start in attendance lists: `{{ start|date:"D j N H:i" }}`. */
export const LESSON_START = "D j N H:i";

const NAMES = {
  fr: {
    D: ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"],
    l: ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    N: ["jan.", "fév.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    M: ["Jan", "Fév", "Mar", "Avr", "Mai", "Jui", "Jul", "Aoû", "Sep", "Oct", "Nov", "Déc"],
    F: [
      "janvier", "février", "mars", "avril", "mai", "juin",
      "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ],
  },
  en: {
    D: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    l: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    N: ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."],
    M: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    F: [
      "January", "February", "March", "April", "May", "June",
      "July", "August", "September", "October", "November", "December",
    ],
  },
};

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE,
  weekday: "short",
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** The wall-clock fields of `date` in Europe/Paris: {weekday (0 = Monday), year, month, day, hour, minute}. */
function wallClock(date) {
  const parts = Object.fromEntries(partsFormat.formatToParts(date).map((p) => [p.type, p.value]));
  return {
    weekday: WEEKDAYS.indexOf(parts.weekday),
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
  };
}

const pad = (n) => String(n).padStart(2, "0");

/**
 * Format the ISO date-time `iso` like Django's `date` filter with `format`.
 *
 * Supports D l j d N M b F n m Y H G i and `\` escapes; other characters are
 * copied. `lang` is "fr" or "en" (anything not English is French, the site's
 * default). Returns "" for a missing or invalid date.
 */
export function djangoDate(iso, format, lang = "fr") {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return "";
  const names = String(lang).startsWith("en") ? NAMES.en : NAMES.fr;
  const t = wallClock(date);
  const tokens = {
    D: () => names.D[t.weekday],
    l: () => names.l[t.weekday],
    j: () => String(t.day),
    d: () => pad(t.day),
    N: () => names.N[t.month - 1],
    M: () => names.M[t.month - 1],
    b: () => names.M[t.month - 1].toLowerCase(),
    F: () => names.F[t.month - 1],
    n: () => String(t.month),
    m: () => pad(t.month),
    Y: () => String(t.year),
    H: () => pad(t.hour),
    G: () => String(t.hour),
    i: () => pad(t.minute),
  };
  let out = "";
  for (let k = 0; k < format.length; k++) {
    const char = format[k];
    if (char === "\\" && k + 1 < format.length) {
      out += format[++k];
    } else {
      out += tokens[char] ? tokens[char]() : char;
    }
  }
  return out;
}
