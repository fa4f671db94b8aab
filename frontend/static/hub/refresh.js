// Taking the server's fresh markup of one part of the current page: the live
// pages (homework.js, absences.js) fetch the page again after an event or a
// reset and swap in its element, already drawn and escaped by the server.

/** Return a function that fetches this page again and calls `apply(fresh)`
 * with the fetched page's element `#id`. One fetch at a time: a call while
 * one runs asks for one more fetch after it (nothing missed, nothing piles
 * up). An error answer, or a page without the element (the login page, the
 * user logged out meanwhile), changes nothing; `what` names the part in the
 * console warning when the fetch fails (offline: the hub's resume or reset
 * brings it back in step). */
export function pageRefresher(id, apply, what) {
  let loading = false;
  let again = false;
  return async function refresh() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        const response = await fetch(globalThis.location.href, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
        if (!response.ok) continue;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById(id);
        if (!fresh) continue;
        apply(fresh);
      } while (again);
    } catch (error) {
      console.warn(`${what} not refreshed`, error);
    } finally {
      loading = false;
    }
  };
}
