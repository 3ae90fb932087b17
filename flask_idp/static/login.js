HideezWebAuthn.bindLoginForm(document.getElementById("passkey-login"));
