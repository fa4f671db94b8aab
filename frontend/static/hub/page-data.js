// Data the server put in the page as <script type="application/json" id=...>.

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
