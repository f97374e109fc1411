// Runs first in <body>: lets GOV.UK Frontend style for JavaScript (no inline script under our CSP).
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
