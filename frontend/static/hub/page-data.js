// Data the server put in the page: <script type="application/json" id=...>
// elements, and the CSRF token (its cookie or a form's hidden field).

/** Return the parsed JSON of the element `id`, or `fallback` if absent or broken. */
export function readJson(id, fallback) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

/** Return Django's CSRF token: its cookie, else the page's form field. */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}
