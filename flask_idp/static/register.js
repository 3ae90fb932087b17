HideezWebAuthn.bindRegisterForm(document.getElementById("passkey-register"));
