// The dashboard's one script: actions sent with the session's CSRF token, and live refresh.
// No inline script anywhere (the Content-Security-Policy forbids it): pages say what they
// want through data-* attributes and the csrf-token meta tag.
"use strict";

(function () {
  var busy = false;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function flash(ok, message) {
    var box = document.getElementById("flash");
    if (!box) { return; }
    box.textContent = message;
    box.className = "flash " + (ok ? "ok" : "error");
    box.hidden = false;
  }

  // Fetch this page again and swap in its <main>: the page stays where it is, and no
  // script is ever taken from the answer (only elements of our own templates).
  function refresh() {
    if (busy || document.hidden) { return Promise.resolve(); }
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "SELECT")) {
      return Promise.resolve();
    }
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected && /\/login/.test(response.url)) {
          window.location.assign(response.url);
          return;
        }
        if (!response.ok) { return; }
        return response.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
          var main = document.getElementById("main");
          if (fresh && main && !busy) {
            main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
            document.body.dataset.refreshedAt = String(Date.now());
          }
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }

  function act(form) {
    var button = form.querySelector("button");
    busy = true;
    if (button) { button.disabled = true; }
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: body
    })
      .then(function (response) {
        return response.json().then(
          function (answer) { flash(Boolean(answer.ok), answer.message); },
          function () { flash(false, "The server answered " + response.status + "."); }
        );
      })
      .catch(function () { flash(false, "The server could not be reached."); })
      .then(function () {
        busy = false;
        if (button) { button.disabled = false; }
        return refresh();
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.classList.contains("js-action")) {
      event.preventDefault();
      act(form);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var seconds = parseFloat(document.body.dataset.refresh || "");
    if (seconds > 0) {
      window.setInterval(refresh, seconds * 1000);
    }
  });
})();
