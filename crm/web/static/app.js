// Starts the GOV.UK and MOJ Frontend components (loaded as an ES module, after the page).
import { initAll as initGovuk } from "./govuk-frontend/govuk-frontend.min.js";
import { initAll as initMoj } from "./moj-frontend/moj-frontend.min.js";

initGovuk();
initMoj();

// Controls marked data-autosubmit submit their form when changed (the board's filters),
// the button stays for people without JavaScript.
document.querySelectorAll("[data-autosubmit]").forEach((control) => {
  control.addEventListener("change", () => control.form && control.form.requestSubmit());
});
