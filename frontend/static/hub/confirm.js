// Confirmation of irreversible actions (loaded by base.html), without inline
// script: a form with data-confirm="Question?" asks it with confirm() before
// it is sent; once sent, its submit buttons are disabled so a second click
// (e.g. "Relancer" twice) sends nothing more.

/** Handle one submit event: ask, then disable the form's buttons after the
 * browser has read the form's data (a disabled submitter is not sent). */
export function guardSubmit(event, { ask = globalThis.confirm, later = globalThis.setTimeout } = {}) {
  const form = event.target;
  if (!form || typeof form.getAttribute !== "function") return;
  const question = form.getAttribute("data-confirm");
  if (question === null) return;
  if (form.dataset?.sent === "1" || (question && !ask(question))) {
    event.preventDefault();
    return;
  }
  if (form.dataset) form.dataset.sent = "1";
  later(() => {
    for (const button of form.querySelectorAll("button, input[type=submit]")) {
      button.disabled = true;
    }
  }, 0);
}

if (typeof document !== "undefined") {
  document.addEventListener("submit", (event) => guardSubmit(event));
  // Back to a page from the browser's cache: the forms work again.
  globalThis.addEventListener?.("pageshow", () => {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      delete form.dataset.sent;
      for (const button of form.querySelectorAll("button, input[type=submit]")) {
        button.disabled = false;
      }
    }
  });
}
