// After the front-channel sign-out requests had time to load, continue to the application.
document.addEventListener("DOMContentLoaded", function () {
  setTimeout(function () {
    var form = document.getElementById("continue-form");
    if (form) { form.submit(); return; }
    var link = document.getElementById("continue");
    if (link) { window.location.assign(link.href); }
  }, 2000);
});
