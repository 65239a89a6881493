// Draws the districts (GeoJSON from the API) on a Leaflet map (map-base.js); works with no tile layer.
(function () {
  "use strict";
  const el = document.getElementById("district-map");
  if (!el || typeof L === "undefined" || !window.PresenceMap) return;
  const map = window.PresenceMap.create(el, { zoomControl: true });
  fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
    .then((fc) => {
      const layer = L.geoJSON(fc, {
        style: { color: "#1d4ed8", weight: 2, fillOpacity: 0.08 },
        onEachFeature: (f, l) => l.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "district-label" }),
      }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [12, 12] });
    })
    .catch(() => { el.textContent = "The district map could not be loaded."; });
})();
