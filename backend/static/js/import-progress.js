// Polls an import's status every second while it is pending or running; updates the progress
// bar and the live status text, and reloads the page once the import has finished.
(function () {
  "use strict";
  const box = document.getElementById("import-progress");
  if (!box) return;
  const bar = document.getElementById("import-bar");
  const summary = box.querySelector('[data-field="summary"]');
  const statusText = box.querySelector('[data-field="status"]');
  const labels = { pending: "Pending", running: "Running", done: "Done", failed: "Failed" };
  let failures = 0;

  function show(s) {
    if (statusText) statusText.textContent = labels[s.status] || s.status;
    if (bar && s.rows_total > 0) {
      bar.max = s.rows_total;
      bar.value = Math.min(s.rows_done, s.rows_total);
      bar.textContent = s.rows_done + " of " + s.rows_total;
    }
    if (summary) {
      summary.textContent = s.rows_done.toLocaleString() + " of " +
        s.rows_total.toLocaleString() + " rows checked.";
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((s) => {
        failures = 0;
        show(s);
        if (s.status === "done" || s.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(() => {
        failures += 1;
        if (summary && failures === 3) summary.textContent = "Cannot reach the server; still trying.";
        window.setTimeout(poll, Math.min(1000 * 2 ** failures, 30000));
      });
  }

  if (box.dataset.status === "pending" || box.dataset.status === "running") {
    window.setTimeout(poll, 1000);
  }
})();
