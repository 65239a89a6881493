// The one way every Presence map starts: Leaflet (django-leaflet's copy, /static/leaflet/)
// configured from LEAFLET_CONFIG, which the page carries as JSON in #presence-map-config.
// With no tile layer, or tiles that fail to load (offline, blocked), the map still draws what the
// page adds (hot spots, districts, tracks) and says that streets are unavailable.
(function () {
  "use strict";

  function config() {
    const el = document.getElementById("presence-map-config");
    try {
      return el ? JSON.parse(el.textContent) : {};
    } catch (e) {
      return {};
    }
  }

  function notice(map, text) {
    let box = map.getContainer().querySelector(".map-notice");
    if (!box) {
      const Notice = L.Control.extend({
        onAdd: function () {
          const div = L.DomUtil.create("div", "map-notice");
          div.setAttribute("role", "status");
          return div;
        },
      });
      new Notice({ position: "bottomleft" }).addTo(map);
      box = map.getContainer().querySelector(".map-notice");
    }
    box.textContent = text;
    box.hidden = false;
  }

  function create(el, options) {
    const cfg = config();
    const map = L.map(el, Object.assign({ maxZoom: cfg.max_zoom || 19 }, options || {}));
    if (map.attributionControl) map.attributionControl.setPrefix(cfg.attribution_prefix || false);
    if (cfg.extent) {
      const e = cfg.extent; // [west, south, east, north]
      map.fitBounds([[e[1], e[0]], [e[3], e[2]]]);
    } else if (cfg.center) {
      map.setView(cfg.center, cfg.zoom || 11);
    }
    const tiles = cfg.tiles || [];
    // options.noticeText: {none, failed} in the page's language (the phone app passes its own).
    const say = (options && options.noticeText) || {};
    if (!tiles.length) {
      notice(map, say.none || "Streets unavailable: no street map is configured. Hot spots and boundaries still draw.");
    }
    tiles.forEach(function (t) {
      let loaded = false;
      // strict-origin: tile servers (OpenStreetMap's among them) ask for a Referer naming the site.
      const layer = L.tileLayer(t.url, {
        attribution: t.attribution || "", maxZoom: t.max_zoom || 19, referrerPolicy: "strict-origin",
      });
      layer.on("tileload", function () {
        loaded = true;
        const box = map.getContainer().querySelector(".map-notice");
        if (box) box.hidden = true;
      });
      layer.on("tileerror", function () {
        if (!loaded) notice(map, say.failed || "Streets unavailable (offline or blocked). Hot spots and boundaries still draw.");
      });
      layer.addTo(map);
    });
    return map;
  }

  window.PresenceMap = { create: create, config: config };
})();
