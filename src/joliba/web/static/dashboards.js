// Embeds a Superset dashboard with the vendored @superset-ui/embedded-sdk; the guest token
// comes from Joliba (which checks the workspace membership) and is renewed by the SDK.
(function () {
  "use strict";
  var mount = document.getElementById("dashboard");
  var problem = document.getElementById("dashboard-error");
  if (!mount || !window.supersetEmbeddedSdk) return;
  var csrf = document.querySelector('meta[name="csrf-token"]');

  function fetchGuestToken() {
    return fetch(mount.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf ? csrf.content : "" },
    }).then(function (answer) {
      if (!answer.ok) throw new Error("Joliba refused a dashboard token (" + answer.status + ")");
      return answer.json();
    }).then(function (body) { return body.token; });
  }

  mount.textContent = "";
  window.supersetEmbeddedSdk.embedDashboard({
    id: mount.dataset.uuid,
    supersetDomain: mount.dataset.superset,
    mountPoint: mount,
    fetchGuestToken: fetchGuestToken,
    // Superset checks that the page framing it is an allowed domain: send it our origin.
    referrerPolicy: "strict-origin-when-cross-origin",
    dashboardUiConfig: { hideTitle: true, filters: { expanded: false } },
  }).catch(function (error) {
    problem.textContent = String(error && error.message ? error.message : error);
    problem.hidden = false;
  });
})();
