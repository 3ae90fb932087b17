/*
 * Passkey ceremonies in the browser (WebAuthn Level 3). Plain script, no build step, no CDN.
 *
 * Endpoints (JSON in, JSON out; each POST carries the X-CSRF-Token header taken from
 * <meta name="csrf-token">):
 *   POST /passkey/register/options  {token?, name?}            -> {handle, publicKey: <creation options>}
 *   POST /passkey/register/verify   {handle, credential, token?, name?} -> {ok, redirect}
 *   POST /passkey/login/options     {username?, ticket?}       -> {handle, publicKey: <request options>}
 *   POST /passkey/login/verify      {handle, credential, ticket?}      -> {ok, redirect}
 *   POST /passkey/register/report   {error: <DOMException name>, token?}  -> {ok}
 *   POST /passkey/login/report      {error: <DOMException name>, ticket?} -> {ok}
 *     (a ceremony the browser refused before anything reached the server: logged and
 *      audited there, trusted for nothing else)
 * Errors come back as {"error", "error_description", "error_id"} with a 4xx/5xx status.
 * The options are py_webauthn's JSON (binary members base64url); the credential is sent as
 * RegistrationResponseJSON / AuthenticationResponseJSON (WebAuthn L3 §5.1).
 *
 * API (window.HideezWebAuthn):
 *   register(optionsUrl, verifyUrl, extra?)            create a passkey, then follow `redirect`
 *   signIn(optionsUrl, verifyUrl, username?, extra?)   modal sign-in, then follow `redirect`
 *   startConditionalUI(optionsUrl, verifyUrl, extra?)  autofill sign-in on an input with
 *                                                      autocomplete="username webauthn"
 *   bindLoginForm(form, statusEl?) / bindRegisterForm(form, statusEl?)   wire the IdP pages
 * Each returns a Promise; failures reject with an Error whose .message is safe to show.
 */
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: toBytes(d.id) };
      if (d.transports) out.transports = d.transports;
      return out;
    });
  }

  function creationOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = toBytes(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = toBytes(json.challenge);
    o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfToken()
      },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok || data.error) {
          var msg = data.error_description || "The server could not complete the request.";
          if (data.error_id) msg += " (error id " + data.error_id + ")";
          throw new Error(msg);
        }
        return data;
      });
    }, function () {
      throw new Error("The server cannot be reached. Check your connection and try again.");
    });
  }

  // What the options demanded that an old security key cannot give (WebAuthn L3 §5.4.4,
  // §5.4.6): the browser hides why it refused, so the page names what was asked for.
  function demands(ceremony, options) {
    var sel = (options && options.authenticatorSelection) || {};
    var uv = ceremony === "create" ? sel.userVerification : options && options.userVerification;
    return {
      residentKey: ceremony === "create" && sel.residentKey === "required",
      verification: uv === "required"
    };
  }

  function notAllowed(ceremony, options) {
    var need = demands(ceremony, options);
    if (ceremony === "get") {
      var text = "Sign-in was cancelled or timed out, or no passkey for this site was found on this device.";
      if (need.verification) {
        text += " This sign-in must verify you (PIN or biometric): security keys without a PIN (U2F-only keys) cannot be used here.";
      }
      return text;
    }
    var created = "Passkey creation was cancelled or timed out.";
    if (need.residentKey && need.verification) {
      return created + " If you used a security key: this site needs a key that stores the passkey itself and verifies you with a PIN or biometric; older (U2F-only) keys can do neither. Use a passkey on your phone or computer, or a key with a PIN.";
    }
    if (need.residentKey) {
      return created + " If you used a security key: this site needs a key that can store the passkey itself (a discoverable credential); older (U2F-only) keys cannot. Use a passkey on your phone or computer, or a newer security key.";
    }
    if (need.verification) {
      return created + " If you used a security key: it cannot verify you (no PIN or biometric), and the sign-in policy requires it. Use a passkey, or a key with a PIN.";
    }
    return created + " Try again, and confirm on your device.";
  }

  function friendly(err, ceremony, options) {
    var name = err && err.name;
    if (name === "NotAllowedError") return new Error(notAllowed(ceremony, options));
    if (name === "InvalidStateError") {
      return new Error(ceremony === "create"
        ? "This authenticator already holds a passkey for your account. Use another one, or sign in with it."
        : "This authenticator cannot be used here. Try another passkey or security key.");
    }
    if (name === "SecurityError") return new Error("This page's address is not allowed to use passkeys.");
    if (name === "NotSupportedError") return new Error("This browser or authenticator does not support the requested passkey type.");
    if (name === "AbortError") return err;
    return err instanceof Error ? err : new Error(String(err));
  }

  // Tell the server what the browser refused, so that it is logged and audited; the answer
  // does not matter to the person, whose message is already on the page.
  function report(ceremony, err, extra) {
    var name = err && err.name;
    if (!name || name === "AbortError") return;
    var body = { error: String(name).slice(0, 64) };
    if (extra && extra.token) body.token = extra.token;
    if (extra && extra.ticket) body.ticket = extra.ticket;
    var url = ceremony === "create" ? "/passkey/register/report" : "/passkey/login/report";
    postJSON(url, body).catch(function () {});
  }

  function supported() {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      return Promise.reject(new Error("This browser does not support passkeys. Use a current browser."));
    }
    return Promise.resolve();
  }

  function follow(answer) {
    if (answer && answer.redirect) window.location.assign(answer.redirect);
    return answer;
  }

  function register(optionsUrl, verifyUrl, extra) {
    extra = extra || {};
    return supported().then(function () {
      return postJSON(optionsUrl, extra);
    }).then(function (answer) {
      return navigator.credentials.create({ publicKey: creationOptions(answer.publicKey) })
        .catch(function (e) {
          report("create", e, extra);
          throw friendly(e, "create", answer.publicKey);
        })
        .then(function (cred) {
          return postJSON(verifyUrl, Object.assign({}, extra, {
            handle: answer.handle, credential: credentialJSON(cred)
          }));
        });
    }).then(follow);
  }

  var pendingConditional = null;

  function cancelConditional() {
    if (pendingConditional) {
      pendingConditional.abort();
      pendingConditional = null;
    }
  }

  function aborted() {
    var e = new Error("replaced by another sign-in");
    e.name = "AbortError";
    return e;
  }

  function getAndVerify(optionsUrl, verifyUrl, body, mediation) {
    // The autofill request's controller exists before its options are asked for: a button
    // pressed meanwhile cancels it for good, so one gesture is one ceremony.
    var controller = mediation ? new AbortController() : null;
    if (controller) pendingConditional = controller;
    return postJSON(optionsUrl, body).then(function (answer) {
      if (controller && controller.signal.aborted) throw aborted();
      var request = { publicKey: requestOptions(answer.publicKey) };
      if (controller) {
        request.mediation = mediation;
        request.signal = controller.signal;
      }
      return navigator.credentials.get(request)
        .catch(function (e) {
          report("get", e, body);
          throw friendly(e, "get", answer.publicKey);
        })
        .then(function (cred) {
          var verify = Object.assign({}, body, { handle: answer.handle, credential: credentialJSON(cred) });
          delete verify.username;
          return postJSON(verifyUrl, verify);
        });
    }).then(follow);
  }

  function signIn(optionsUrl, verifyUrl, username, extra) {
    cancelConditional(); // a modal request cannot start while the autofill one is pending
    var body = Object.assign({}, extra || {});
    if (username) body.username = username;
    return supported().then(function () {
      return getAndVerify(optionsUrl, verifyUrl, body, null);
    });
  }

  function startConditionalUI(optionsUrl, verifyUrl, extra) {
    if (!window.PublicKeyCredential ||
        typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") {
      return Promise.resolve(null);
    }
    return PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return null;
      cancelConditional();
      return getAndVerify(optionsUrl, verifyUrl, Object.assign({}, extra || {}), "conditional");
    }).catch(function (e) {
      if (e && e.name === "AbortError") return null; // replaced by a modal sign-in
      throw e;
    });
  }

  function show(statusEl, text, isError) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = isError ? "error" : "";
  }

  function bindLoginForm(form, statusEl) {
    if (!form) return;
    statusEl = statusEl || document.getElementById("status");
    var extra = form.dataset.ticket ? { ticket: form.dataset.ticket } : {};
    var input = form.querySelector('input[autocomplete~="webauthn"]');
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      show(statusEl, "Waiting for your passkey or security key…", false);
      signIn("/passkey/login/options", "/passkey/login/verify", input ? input.value.trim() : "", extra)
        .catch(function (e) { show(statusEl, e.message, true); });
    });
    if (input) {
      startConditionalUI("/passkey/login/options", "/passkey/login/verify", extra)
        .catch(function (e) { show(statusEl, e.message, true); });
    }
  }

  // Two-factor accounts: the password first (it is kept with this sign-in, never a session
  // on its own), then the passkey button finishes the sign-in.
  function bindPasswordForm(form, passkeyForm, statusEl) {
    if (!form) return;
    statusEl = statusEl || document.getElementById("status");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      cancelConditional();
      var body = {
        username: form.querySelector('input[name="username"]').value.trim(),
        password: form.querySelector('input[name="password"]').value
      };
      if (form.dataset.ticket) body.ticket = form.dataset.ticket;
      show(statusEl, "Checking your password…", false);
      postJSON("/password/login/verify", body).then(function (answer) {
        form.querySelector('input[name="password"]').value = "";
        form.hidden = true;
        show(statusEl, "Password accepted. Now confirm with your passkey or security key.", false);
        var button = passkeyForm && passkeyForm.querySelector("button");
        if (button) { button.textContent = "Continue with your passkey"; button.focus(); }
        document.dispatchEvent(new CustomEvent("hideez:password-accepted"));
        return answer;
      }).catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  function bindSetPasswordForm(form, statusEl) {
    if (!form) return;
    statusEl = statusEl || document.getElementById("password-status");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var fields = form.querySelectorAll('input[type="password"]');
      if (fields[0].value !== fields[1].value) {
        show(statusEl, "The two passwords differ; type the same password twice.", true);
        return;
      }
      postJSON("/password/set", { token: form.dataset.token, password: fields[0].value })
        .then(function () {
          fields[0].value = fields[1].value = "";
          show(statusEl, "Password saved. Now create your passkey below.", false);
        })
        .catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  function bindRegisterForm(form, statusEl) {
    if (!form) return;
    statusEl = statusEl || document.getElementById("status");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var extra = {};
      if (form.dataset.token) extra.token = form.dataset.token;
      var name = form.querySelector('input[name="name"]');
      if (name && name.value.trim()) extra.name = name.value.trim();
      show(statusEl, "Follow your browser's prompt to create the passkey…", false);
      register("/passkey/register/options", "/passkey/register/verify", extra)
        .then(function () { show(statusEl, "Passkey created.", false); })
        .catch(function (e) { show(statusEl, e.message, true); });
    });
  }

  window.HideezWebAuthn = {
    register: register,
    signIn: signIn,
    startConditionalUI: startConditionalUI,
    bindLoginForm: bindLoginForm,
    bindRegisterForm: bindRegisterForm,
    bindPasswordForm: bindPasswordForm,
    bindSetPasswordForm: bindSetPasswordForm,
    base64url: { encode: toB64url, decode: toBytes }
  };
})();
