// The reset e-mail's link carries its token in the fragment (#uid=…&token=…),
// which the browser never sends: POST it, and drop it from the address bar.
const form = document.getElementById("reset-link-form");
if (form && location.hash.length > 1) {
  const values = new URLSearchParams(location.hash.slice(1));
  form.elements.uid.value = values.get("uid") || "";
  form.elements.token.value = values.get("token") || "";
  history.replaceState(null, "", location.pathname + location.search);
  form.requestSubmit();
}
