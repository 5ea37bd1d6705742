// Progressive enhancement only: every form works without this file.
// Buttons with data-confirm ask before submitting (e.g. ending another admin's sessions).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
