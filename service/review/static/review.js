// Keyboard shortcuts of the review page: a = allow, b = block, s = skip (review later),
// 1-9 toggle the category checkboxes, n = focus the note, Escape = leave the note.
"use strict";
document.addEventListener("keydown", (event) => {
  const form = document.getElementById("verdict");
  if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLTextAreaElement || (target instanceof HTMLInputElement && target.type !== "checkbox")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  const decisions = { a: "allow", b: "block", s: "skip" };
  if (decisions[event.key]) {
    event.preventDefault();
    const button = form.querySelector(`button[value="${decisions[event.key]}"]`);
    if (button && !form.dataset.sent) {
      form.dataset.sent = "1";  // one verdict per page, however fast the keys repeat
      form.requestSubmit(button);
    }
  } else if (/^[1-9]$/.test(event.key)) {
    const box = form.querySelector(`input[data-shortcut="${event.key}"]`);
    if (box) { event.preventDefault(); box.checked = !box.checked; }
  } else if (event.key === "n") {
    event.preventDefault();
    document.getElementById("note").focus();
  }
});
