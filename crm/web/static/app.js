// Starts the GOV.UK and MOJ Frontend components (loaded as an ES module, after the page).
import { initAll as initGovuk } from "./govuk-frontend/govuk-frontend.min.js";
import { initAll as initMoj } from "./moj-frontend/moj-frontend.min.js";

initGovuk();
initMoj();
