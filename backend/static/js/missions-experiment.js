// Experiment map: the experiment's hot spots coloured by arm (treatment blue, control grey).
// Tiles from map-base.js (LEAFLET_CONFIG); works without them. For a place-day design the day selector reloads that day's arms.
(function () {
  "use strict";
  const el = document.getElementById("arms-map");
  if (!el || typeof L === "undefined" || !window.PresenceMap) return;
  const COLOURS = { treatment: "#1d4ed8", control: "#9ca3af" };
  const map = window.PresenceMap.create(el);
  const daySelect = document.getElementById("arms-day");
  let layer = null;
  let fitted = false;

  function load() {
    const url = new URL(el.dataset.arms, window.location.origin);
    if (daySelect && daySelect.value) url.searchParams.set("day", daySelect.value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((fc) => {
        if (layer) layer.remove();
        layer = L.geoJSON(fc, {
          style: (f) => {
            const colour = COLOURS[f.properties.arm] || "#f59e0b";
            return { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.5 };
          },
          onEachFeature: (f, l) => {
            const p = f.properties;
            l.bindTooltip(`${p.rank}: ${p.arm || "not allocated"}${p.block ? " · " + p.block : ""}`);
          },
        }).addTo(map);
        if (!fitted && layer.getLayers().length) {
          map.fitBounds(layer.getBounds().pad(0.1));
          fitted = true;
        }
      })
      .catch(() => { el.textContent = "The map could not be loaded; the allocation table below has every hot spot."; });
  }
  if (daySelect) daySelect.addEventListener("change", load);
  load();
})();
