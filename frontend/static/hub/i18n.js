// Plural forms from Django's JavaScript catalogue (the page loads jsi18n):
// "1 conversation non lue", "2 conversations non lues".

/** Return the form of `singular`/`plural` for `count` in the page's language. */
export function ngettext(singular, plural, count) {
  if (typeof globalThis.ngettext === "function") {
    return globalThis.ngettext(singular, plural, count);
  }
  return count === 1 ? singular : plural;
}
