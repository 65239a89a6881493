// Mission board: refresh every mission's status from the board API every 10 seconds.
// Rows carry data-mission-id; a mission added elsewhere (a draw, another sergeant) is announced
// with a link to reload, so the page never reorders under the sergeant's cursor.
(function () {
  "use strict";
  const status = document.getElementById("board-status");
  if (!status || !status.dataset.boardUrl) return;
  const table = document.getElementById("board-missions");
  const PERIOD_MS = 10000;
  // Words in the page's language (the template's data-t-* attributes), English otherwise.
  const t = (key, english) => status.dataset[key] || english;
  const lang = document.documentElement.lang || undefined;
  // "Completed" (the officer's Done) and "delivered" (GPS dwell) are shown apart.
  const dose = (m) => (["delivered", "short"].includes(m.outcome) ? ` · ${m.outcome} · ${m.dwell_minutes} min` : "");
  const label = (m) => m.status_label + (m.decline_reason ? ` (${m.decline_reason_label.toLowerCase()})` : "") + dose(m);

  function apply(board) {
    const seen = new Set();
    let changed = 0;
    for (const m of board.missions) {
      seen.add(String(m.id));
      const row = table ? table.querySelector(`tr[data-mission-id="${m.id}"]`) : null;
      if (!row) continue;
      const cell = row.querySelector('[data-field="status"]');
      if (cell && cell.textContent !== label(m)) {
        cell.textContent = label(m);
        changed += 1;
      }
      const cancel = row.querySelector('[data-field="cancel"]');
      if (cancel && !["assigned", "accepted", "on_scene"].includes(m.status)) cancel.remove();
    }
    const shown = table ? table.querySelectorAll("tr[data-mission-id]").length : 0;
    // Each status in the page's language: the label the API gives for it (Accept-Language).
    const labels = {};
    for (const m of board.missions) labels[m.status] = m.status_label.toLowerCase();
    const counts = Object.entries(board.counts).filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${labels[s] || s.replace("_", " ")}`).join(", ");
    const time = new Date().toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    status.textContent = `${counts || t("tNone", "No missions")} · ${t("tUpdated", "updated")} ${time}` +
      (changed ? ` · ${changed} ${t("tChanged", "changed")}` : "");
    if (board.missions.length > shown && !document.getElementById("board-new")) {
      const a = document.createElement("a");
      a.id = "board-new";
      a.href = window.location.href;
      a.textContent = " " + t("tNew", "New missions: reload the board.");
      status.after(a);
    }
  }

  function poll() {
    fetch(status.dataset.boardUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(apply)
      .catch(() => { status.textContent = t("tDown", "Live status is unavailable; retrying."); })
      .finally(() => setTimeout(poll, PERIOD_MS));
  }
  setTimeout(poll, PERIOD_MS);
})();
