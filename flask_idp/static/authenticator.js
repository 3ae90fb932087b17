/*
 * The authenticator app and one-time codes in the browser. Plain script, no build step.
 * Every URL comes from the page's data attributes (data-start-url, data-poll-url, …), so
 * other shells can serve these pages under their own paths.
 *
 * Sign-in (section#app-login, form#totp-login):
 *   POST data-start-url {ticket?, username? | remembered: true}
 *                                                   -> {transaction_id, number, expires_in, poll_interval_ms}
 *     (remembered: to the device this browser last signed in with, button#push-remembered)
 *   POST data-poll-url  {ticket?, transaction_id}   -> {state: "pending", delivery, message?}
 *                                                      | {ok, redirect} | error
 *     (delivery: "sending" | "sent" | "retrying" | "failed"; a failed push says why in message)
 *   POST form.dataset.url {ticket?, username?, code} -> {ok, redirect} | error
 * Enrolment (section#app-enrol, section#totp-enrol):
 *   POST data-start-url {token?} -> {token, uri, expires_in}; the QR image is data-qr-url?token=…
 *   POST data-status-url {token} -> {enrolled, device}
 *   POST totp data-start-url {token?} -> {secret, uri, qr}; data-confirm-url {token?, code} -> {ok}
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok || data.error) {
          var msg = data.error_description || "The server could not complete the request.";
          if (data.error_id) msg += " (error id " + data.error_id + ")";
          var err = new Error(msg);
          err.code = data.error;
          throw err;
        }
        return data;
      });
    }, function () {
      throw new Error("The server cannot be reached. Check your connection and try again.");
    });
  }

  function show(el, text, isError) {
    if (!el) return;
    el.textContent = text;
    el.className = isError ? "error" : "";
  }

  function withTicket(el, body) {
    if (el.dataset.ticket) body.ticket = el.dataset.ticket;
    return body;
  }

  function username() {
    var input = document.getElementById("username");
    return input ? input.value.trim() : "";
  }

  // -- push approval on the sign-in page ---------------------------------------------------

  function bindPush(section, statusEl) {
    if (!section || section.hidden) return;
    var button = section.querySelector("#push-send");
    var numberBox = section.querySelector("#push-number");
    var numberValue = section.querySelector("#push-number-value");
    var running = false;

    function poll(txn, interval) {
      postJSON(section.dataset.pollUrl, withTicket(section, { transaction_id: txn }))
        .then(function (answer) {
          if (answer.redirect) {
            show(statusEl, "Approved. Signing you in…", false);
            window.location.assign(answer.redirect);
          } else {
            // The app finds the request by polling even when the push failed: say so, wait on.
            if (answer.delivery === "failed" && answer.message) show(statusEl, answer.message, true);
            window.setTimeout(function () { poll(txn, interval); }, interval);
          }
        })
        .catch(function (e) {
          running = false;
          numberBox.hidden = true;
          show(statusEl, e.message, true);
        });
    }

    function start(remembered) {
      if (running) return;
      var body = withTicket(section, {});
      var name = username();
      if (remembered === true) body.remembered = true;
      else if (name && !section.dataset.employeeKnown) body.username = name;
      if (!body.username && !body.remembered && !section.dataset.employeeKnown) {
        show(statusEl, "Enter your user name first, then send the request to your phone.", true);
        return;
      }
      running = true;
      show(statusEl, "Sending a request to your phone…", false);
      postJSON(section.dataset.startUrl, body).then(function (answer) {
        numberValue.textContent = String(answer.number);
        numberBox.hidden = false;
        show(statusEl, "Open the Hideez app on your phone and pick " + answer.number + ".", false);
        poll(answer.transaction_id, answer.poll_interval_ms || 1000);
      }).catch(function (e) {
        running = false;
        show(statusEl, e.message, true);
      });
    }

    button.addEventListener("click", function () { start(false); });
    var rememberedButton = section.querySelector("#push-remembered");
    if (rememberedButton) {
      rememberedButton.addEventListener("click", function () { start(true); });
    }
    document.addEventListener("hideez:password-accepted", function () {
      section.dataset.employeeKnown = "yes";
      start();
    });
    if (section.dataset.auto) start();
  }

  function bindTotp(form, statusEl) {
    if (!form || form.hidden) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = form.querySelector('input[name="code"]');
      var body = withTicket(form, { code: input.value.trim() });
      var name = username();
      if (name) body.username = name;
      show(statusEl, "Checking the code…", false);
      postJSON(form.dataset.url, body).then(function (answer) {
        input.value = "";
        if (answer.redirect) window.location.assign(answer.redirect);
      }).catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  // -- adding an app or TOTP ---------------------------------------------------------------

  function bindAppEnrol(section) {
    if (!section) return;
    var statusEl = section.querySelector('[role="status"]');
    section.querySelector("#app-enrol-start").addEventListener("click", function () {
      var body = section.dataset.token ? { token: section.dataset.token } : {};
      postJSON(section.dataset.startUrl, body).then(function (answer) {
        section.querySelector("#app-enrol-img").src =
          section.dataset.qrUrl + "?token=" + encodeURIComponent(answer.token);
        section.querySelector("#app-enrol-code").textContent = answer.uri;
        section.querySelector("#app-enrol-qr").hidden = false;
        show(statusEl, "Scan the code with the Hideez app within " +
          Math.round(answer.expires_in / 60) + " minutes.", false);
        var wait = function () {
          postJSON(section.dataset.statusUrl, { token: answer.token }).then(function (s) {
            if (s.enrolled) {
              section.querySelector("#app-enrol-qr").hidden = true;
              show(statusEl, "Authenticator app added: " + s.device + ".", false);
            } else {
              window.setTimeout(wait, 2000);
            }
          }).catch(function (e) { show(statusEl, e.message, true); });
        };
        wait();
      }).catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  function bindTotpEnrol(section) {
    if (!section) return;
    var statusEl = section.querySelector('[role="status"]');
    var base = section.dataset.token ? { token: section.dataset.token } : {};
    section.querySelector("#totp-enrol-start").addEventListener("click", function () {
      postJSON(section.dataset.startUrl, base).then(function (answer) {
        section.querySelector("#totp-enrol-img").src = answer.qr;
        section.querySelector("#totp-secret").textContent = answer.secret;
        section.querySelector("#totp-uri").textContent = answer.uri;
        section.querySelector("#totp-enrol-box").hidden = false;
        show(statusEl, "Scan the code (or type the secret) in your app, then enter the code it shows.", false);
      }).catch(function (e) { show(statusEl, e.message, true); });
    });
    section.querySelector("#totp-enrol-confirm").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = section.querySelector("#totp-enrol-code");
      postJSON(section.dataset.confirmUrl, Object.assign({ code: input.value.trim() }, base))
        .then(function () {
          section.querySelector("#totp-enrol-box").hidden = true;
          section.querySelector("#totp-secret").textContent = "";
          show(statusEl, "One-time codes are set up.", false);
        }).catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  var status = document.getElementById("status");
  bindPush(document.getElementById("app-login"), status);
  bindTotp(document.getElementById("totp-login"), status);
  bindAppEnrol(document.getElementById("app-enrol"));
  bindTotpEnrol(document.getElementById("totp-enrol"));
})();
