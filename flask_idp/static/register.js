HideezWebAuthn.bindSetPasswordForm(document.getElementById("set-password"));
HideezWebAuthn.bindRegisterForm(document.getElementById("passkey-register"));
