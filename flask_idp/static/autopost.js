// Submits the protocol answer form (SAML/WS-Fed/OIDC form_post) as soon as the page loads.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("autopost");
  if (form) { form.submit(); }
});
