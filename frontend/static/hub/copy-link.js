// The "copy the link" button of the calendar subscription box
// (frontend/templates/frontend/timetable.html): copies the feed URL, or
// selects it where the clipboard is not available (plain http).

const input = document.getElementById("calendar-feed-url");
const button = document.getElementById("calendar-feed-copy");
const status = document.getElementById("calendar-feed-status");

async function copy() {
  input.focus();
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = button.dataset.copied;
  } catch {
    // Selected: the user copies it with the keyboard or the menu.
    status.textContent = "";
  }
}

if (input && button) {
  input.addEventListener("focus", () => input.select());
  button.addEventListener("click", copy);
}
