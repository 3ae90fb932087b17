HideezWebAuthn.bindLoginForm(document.getElementById("passkey-login"));
HideezWebAuthn.bindPasswordForm(document.getElementById("password-login"), document.getElementById("passkey-login"));
