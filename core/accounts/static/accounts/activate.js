// The activation link carries the login and the code in its fragment
// (#login=…&code=…), which the browser never sends to the server: copy them
// into the form, then drop the fragment from the address bar and history.
const form = document.getElementById("activate-form");
if (form && location.hash.length > 1) {
  const values = new URLSearchParams(location.hash.slice(1));
  const login = values.get("login");
  const code = values.get("code");
  if (login) form.elements.login.value = login;
  if (code) form.elements.code.value = code;
  history.replaceState(null, "", location.pathname + location.search);
  if (login && code) form.querySelector("button[type=submit]").focus();
}
