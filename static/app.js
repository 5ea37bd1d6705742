// Progressive enhancement only: every form works without this file.
// Buttons with data-confirm ask before submitting (e.g. ending another admin's sessions).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// The credential choice of a new application profile: the secret's fields only for a secret.
const secretFields = document.querySelector("[data-secret-fields]");
const credentialChoices = document.querySelectorAll("input[name='credential']");
function showSecretFields() {
  const chosen = document.querySelector("input[name='credential']:checked");
  if (secretFields && chosen) {
    secretFields.hidden = chosen.value !== "secret";
  }
}
credentialChoices.forEach((c) => c.addEventListener("change", showSecretFields));
showSecretFields();

// A header checkbox with data-check-all="name" checks every row checkbox of that name.
document.querySelectorAll("[data-check-all]").forEach((all) => {
  const name = all.getAttribute("data-check-all");
  all.addEventListener("change", () => {
    all.closest("form")?.querySelectorAll(`input[type='checkbox'][name='${name}']`)
      .forEach((box) => { box.checked = all.checked; });
  });
});
