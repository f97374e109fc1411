// The web chat without page reloads. Without this file the form posts and the page reloads,
// which works just as well: this only adds the replies in place.
(function () {
  "use strict";
  var form = document.getElementById("webchat-form");
  if (!form || !window.fetch) { return; }
  var log = document.getElementById("webchat-log");
  var buttons = document.getElementById("webchat-buttons");
  var box = document.getElementById("message");
  var status = document.getElementById("webchat-status");
  var token = form.querySelector("input[name=csrf_token]").value;
  var busy = false;
  log.scrollTop = log.scrollHeight;  // show the latest messages after a reload

  function addMessage(text, who) {
    var item = document.createElement("li");
    item.className = "webchat__message webchat__message--" + who;
    var hidden = document.createElement("span");
    hidden.className = "govuk-visually-hidden";
    hidden.textContent = who === "person" ? "You said: " : "Assistant said: ";
    item.appendChild(hidden);
    item.appendChild(document.createTextNode(text));  // text, never HTML
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function showButtons(replies) {
    buttons.textContent = "";
    replies.forEach(function (reply) {
      reply.buttons.forEach(function (row) {
        row.forEach(function (choice) {
          var button = document.createElement("button");
          button.type = "submit";
          button.name = "button";
          button.value = choice.data;
          button.className = "govuk-button govuk-button--secondary webchat__choice";
          button.textContent = choice.label;
          buttons.appendChild(button);
        });
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var pressed = event.submitter && event.submitter.name === "button" ? event.submitter : null;
    var body = new FormData();
    body.append("csrf_token", token);
    if (pressed) {
      body.append("button", pressed.value);
      addMessage(pressed.textContent, "person");
    } else {
      var text = box.value;
      if (!text.trim()) { box.focus(); return; }
      body.append("message", text);
      addMessage(text, "person");
      box.value = "";
    }
    busy = true;
    status.textContent = "Sending…";
    fetch(form.getAttribute("data-json-url"), {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": token, "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        status.textContent = result.data.error || "Sorry, that didn't send. Please try again.";
        return;
      }
      result.data.replies.forEach(function (reply) { addMessage(reply.text, "assistant"); });
      showButtons(result.data.replies);
      status.textContent = "";
    }).catch(function () {
      status.textContent = "Sorry, that didn't send. Please check your connection and try again.";
    }).then(function () {
      busy = false;
      box.focus();
    });
  });
})();
