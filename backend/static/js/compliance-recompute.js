// Compliance page: while a recompute job is queued or running, poll its status every second,
// move the progress bar, and reload the page once it has finished (the staleness line and the
// charts then show the fresh rows).
(function () {
  "use strict";
  const box = document.getElementById("recompute-progress");
  if (!box) return;
  const bar = document.getElementById("recompute-bar");
  const pct = box.querySelector('[data-field="percent"]');
  const statusText = box.querySelector('[data-field="status"]');
  const labels = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  let failures = 0;

  function show(job) {
    if (statusText) statusText.textContent = labels[job.status] || job.status;
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    if (pct) pct.textContent = job.percent + "% (" + job.days_done + " of " + job.days_total + " days)";
  }

  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((job) => {
        failures = 0;
        show(job);
        if (job.status === "done") {
          const url = new URL(window.location.href);
          url.searchParams.delete("job");
          window.setTimeout(() => window.location.replace(url.toString()), 600);
        } else if (job.status === "failed") {
          if (pct) pct.textContent = "Failed: " + (job.error || "see the server log");
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(() => {
        failures += 1;
        if (pct && failures === 3) pct.textContent = "Cannot reach the server; still trying.";
        window.setTimeout(poll, Math.min(1000 * 2 ** failures, 30000));
      });
  }
  window.setTimeout(poll, 300);
})();
