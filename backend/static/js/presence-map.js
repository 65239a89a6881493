// Squad presence: every 15 seconds, fetch the squad's live positions and today's dose, redraw
// the hot spots (coloured by dose) and the officers (last position, labelled), and list the
// same in words beside the map. Tiles and extent come from map-base.js (LEAFLET_CONFIG); with no
// tiles the shapes carry the meaning.
(function () {
  "use strict";
  const el = document.getElementById("presence-map");
  const status = document.getElementById("presence-status");
  const list = document.getElementById("presence-list");
  if (!el || !el.dataset.liveUrl) return;
  const PERIOD_MS = 15000;
  const COLOURS = { done: "#16a34a", partly: "#f59e0b", none: "#dc2626", control: "#9ca3af" };
  const STATES = { done: "dose delivered", partly: "partly delivered", none: "nothing yet", control: "control" };
  const hasMap = typeof L !== "undefined" && Boolean(window.PresenceMap);
  let map = null;
  let spots = null;
  let people = null;
  let fitted = false;
  let failures = 0;

  if (hasMap) {
    map = window.PresenceMap.create(el);  // tiles, attribution and extent from LEAFLET_CONFIG
    spots = L.layerGroup().addTo(map);
    people = L.layerGroup().addTo(map);
  }

  const hhmm = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 90 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
  };

  // Names repeat: an officer is always shown with their badge number.
  const who = (o) => (o.badge ? `${o.name} #${o.badge}` : o.name);

  function describe(o) {
    if (o.lat === null) return `${who(o)}: on patrol since ${hhmm(o.session_started_at)}, no position yet`;
    const where = o.hotspot_rank !== null
      ? `in hot spot ${o.hotspot_rank}${o.hotspot_address ? ` (${o.hotspot_address})` : ""} for ${Math.floor(o.minutes_in_hotspot)} min`
      : "not in a hot spot";
    return `${who(o)}: ${where} · on patrol since ${hhmm(o.session_started_at)} · seen ${ago(o.recorded_at)}`;
  }

  function draw(live) {
    const rows = live.officers.map((o) => {
      const li = document.createElement("li");
      li.dataset.officer = String(o.id);
      li.textContent = describe(o);
      if (o.hotspot_rank !== null) li.className = "inside";
      return li;
    });
    if (!rows.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "Nobody in the squad is on patrol right now.";
      rows.push(li);
    }
    list.replaceChildren(...rows);
    const time = new Date(live.generated_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const onPatrol = live.officers.length;
    status.textContent = `${onPatrol} officer${onPatrol === 1 ? "" : "s"} on patrol · updated ${time}`;
    if (!map) return;
    spots.clearLayers();
    people.clearLayers();
    const layer = L.geoJSON(live.hotspots, {
      style: (f) => ({ color: "#1f2937", weight: 1.5, fillColor: COLOURS[f.properties.state], fillOpacity: 0.6 }),
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindTooltip(String(p.rank), { permanent: true, direction: "right", offset: [6, 0], className: "rank-label" });
        l.bindPopup(`Hot spot ${p.rank}${p.address ? ` (${p.address})` : ""}: ${STATES[p.state]}` + (p.state === "control" ? "" : ` (${p.delivered} of ${p.prescribed} visits)`));
      },
    }).addTo(spots);
    const points = [];
    for (const o of live.officers) {
      if (o.lat === null) continue;
      points.push([o.lat, o.lon]);
      const m = L.circleMarker([o.lat, o.lon], { radius: 8, color: "#ffffff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1 });
      m.bindTooltip(o.badge ? `#${o.badge}` : o.name.split(" ").slice(-1)[0], { permanent: true, direction: "right", offset: [8, 0], className: "officer-label" });
      m.bindPopup(describe(o));
      m.addTo(people);
    }
    if (!fitted) {
      let bounds = layer.getLayers().length ? layer.getBounds() : null;
      for (const p of points) bounds = bounds ? bounds.extend(p) : L.latLngBounds([p, p]);
      if (!bounds && el.dataset.bounds) {  // nothing to show yet: the squad's district
        const [s, w, n, e] = el.dataset.bounds.split(",").map(Number);
        if ([s, w, n, e].every(Number.isFinite)) bounds = L.latLngBounds([s, w], [n, e]);
      }
      if (bounds) { map.fitBounds(bounds.pad(0.15), { maxZoom: 17 }); fitted = true; }
      else map.setView([0, 0], 2);
    }
  }

  function poll() {
    // A hidden tab does not fetch: nobody is looking, and each read is audited.
    if (document.hidden) { setTimeout(poll, PERIOD_MS); return; }
    fetch(el.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((live) => { failures = 0; draw(live); })
      .catch(() => { failures += 1; status.textContent = "Live positions are unavailable; retrying."; })
      .finally(() => setTimeout(poll, failures ? Math.min(PERIOD_MS * 2 ** failures, 120000) : PERIOD_MS));
  }
  poll();
})();
