// Hot spot map: polygons from a GeoJSON URL, ranked labels, an optional Gi* cell layer.
// Tiles and extent come from map-base.js (LEAFLET_CONFIG); with no tiles the shapes carry the meaning.
(function () {
  "use strict";
  const el = document.getElementById("hotspot-map");
  const status = document.getElementById("run-status");
  if (status) {
    const poll = () => fetch(status.dataset.statusUrl, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((s) => { if (s.status === "done" || s.status === "failed") window.location.reload(); else setTimeout(poll, 1000); })
      .catch(() => setTimeout(poll, 3000));
    setTimeout(poll, 1000);
  }
  if (!el || typeof L === "undefined" || !window.PresenceMap) return;
  const map = window.PresenceMap.create(el);
  const get = (url) => fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))));
  const focus = el.dataset.focus ? Number(el.dataset.focus) : null;
  const zColour = (z) => (z >= 3.29 ? "#7f1d1d" : z >= 2.58 ? "#b91c1c" : z >= 1.96 ? "#f97316" : z >= 0 ? "#fde68a" : "#bfdbfe");

  get("/api/v1/districts").then((districts) => {
    L.geoJSON(districts, { interactive: false, style: { color: "#475569", weight: 1, dashArray: "4 4", fillOpacity: 0 } }).addTo(map);
  }).catch(() => {});
  get(el.dataset.hotspots).then((fc) => {
    const layer = L.geoJSON(fc, {
      style: (f) => ({ color: f.id === focus ? "#1d4ed8" : "#991b1b", weight: f.id === focus ? 4 : 2, fillColor: "#ef4444", fillOpacity: focus && f.id !== focus ? 0.15 : 0.45 }),
      onEachFeature: (f, l) => {
        l.bindTooltip(String(f.properties.rank), { permanent: true, direction: "right", offset: [6, 0], className: "rank-label" });
        const a = document.createElement("a");
        a.href = `/hotspots/${f.id}/`;
        a.textContent = f.properties.one_line || `Hot spot ${f.properties.rank}`;
        l.bindPopup(a);
      },
    }).addTo(map);
    const bounds = focus ? layer.getLayers().filter((l) => l.feature.id === focus).map((l) => l.getBounds()) : [];
    map.fitBounds(bounds.length ? bounds[0].pad(1.5) : layer.getBounds().pad(0.1));
    if (el.dataset.cells && !focus) {
      const cells = L.layerGroup();
      let loaded = false;
      L.control.layers(null, { "Gi* z-scores of every cell": cells }, { collapsed: false }).addTo(map);
      map.on("overlayadd", (e) => {
        if (e.layer !== cells || loaded) return;
        loaded = true;
        get(el.dataset.cells).then((grid) => {
          L.geoJSON(grid, { style: (f) => ({ stroke: false, fillColor: zColour(f.properties.gi_z), fillOpacity: 0.55 }),
            onEachFeature: (f, l) => l.bindTooltip(`z ${f.properties.gi_z.toFixed(2)} · ${f.properties.count} incidents · harm ${Math.round(f.properties.harm)}`) }).addTo(cells);
          layer.bringToFront();
        });
      });
    }
  }).catch(() => { el.textContent = "The map could not be loaded; the table below has every hot spot."; });
})();
