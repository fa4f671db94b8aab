// The page's words from Django's JavaScript catalogue (the page loads
// jsi18n), with the untranslated text as a fallback when it did not load:
// one definition for every module ("1 conversation non lue", "2
// conversations non lues"). Modules import `gettext as _`, which
// `make messages` (xgettext) extracts like `gettext`.

/** Return `text` in the page's language. */
export function gettext(text) {
  return typeof globalThis.gettext === "function" ? globalThis.gettext(text) : text;
}

/** Return the form of `singular`/`plural` for `count` in the page's language. */
export function ngettext(singular, plural, count) {
  if (typeof globalThis.ngettext === "function") {
    return globalThis.ngettext(singular, plural, count);
  }
  return count === 1 ? singular : plural;
}

/** Fill the `%(name)s` placeholders of `template` from `values`. */
export function fill(template, values) {
  if (typeof globalThis.interpolate === "function") {
    return globalThis.interpolate(template, values, true);
  }
  return template.replace(/%\((\w+)\)s/g, (_match, key) => String(values[key] ?? ""));
}
