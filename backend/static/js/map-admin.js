// django-leaflet's map widgets (the admin's and the analysts' pages): say so when streets are
// unavailable (no tiles configured, or tiles that fail to load offline); drawing works the same.
(function () {
  "use strict";
  function notice(map, text) {
    const box = document.createElement("p");
    box.className = "map-notice";
    box.setAttribute("role", "status");
    box.textContent = text;
    map.getContainer().parentNode.insertBefore(box, map.getContainer());
    return box;
  }
  window.addEventListener("map:init", function (e) {
    const map = e.detail.map;
    let tiles = 0;
    let loaded = false;
    let box = null;
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.TileLayer)) return;
      tiles += 1;
      layer.on("tileload", function () { loaded = true; if (box) box.hidden = true; });
      layer.on("tileerror", function () {
        if (!loaded && !box) box = notice(map, "Streets unavailable (offline or blocked): draw on the blank map; saved shapes are unaffected.");
      });
    });
    if (!tiles) notice(map, "Streets unavailable: no street map is configured. Drawing still works.");
  });
})();
