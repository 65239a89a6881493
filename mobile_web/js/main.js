// Presence patrol app: start a patrol, draw the next hot spot, log what you did.
// Location is read only between "Start patrol" and "End patrol" (DESIGN.md: Tracking).

import { NetworkError, get, isoNow, post, uuid } from "./api.js";
import * as db from "./db.js";
import * as dose from "./dose.js";
import { contains, distanceM, formatDistance } from "./geo.js";
import * as outbox from "./outbox.js";

const params = new URLSearchParams(location.search);
const FLUSH_MS = Math.max(250, Number(params.get("flush")) || 15000);
const NEARBY_RADIUS_M = 2000;
const OPEN = ["assigned", "accepted", "on_scene"];
const STATUS_LABELS = {
  assigned: "Assigned to you", accepted: "Accepted", on_scene: "On scene",
  completed: "Done", declined: "Declined", interrupted: "Interrupted", cancelled: "Cancelled",
};

const $ = (id) => document.getElementById(id);

const app = {
  patrol: { onPatrol: false, sessionUuid: null, startedAt: null },
  mission: null,      // the current mission (as the API returned it, status kept locally)
  briefing: null,
  fix: null,          // last position {lat, lon, accuracy}
  lastPingAt: 0,
  lastPingFix: null,
  watchId: null,
  nearby: [],
  nearbyAt: null,     // {lat, lon, t} of the last nearby fetch
  activityTypes: [],
  map: null,
};

// ---------------------------------------------------------------------------------------------
// Status bar

function say(text) {
  const el = $("message");
  el.textContent = text || "";
  el.hidden = !text;
}

function insideSpot() {
  if (!app.fix) return null;
  const spots = [...app.nearby];
  if (app.mission) {
    spots.push({ rank: app.mission.hotspot_rank, geometry: app.mission.hotspot_geometry });
  }
  const inside = spots.filter((s) => contains(s.geometry, app.fix.lat, app.fix.lon));
  inside.sort((a, b) => a.rank - b.rank);
  return inside[0] || null;
}

async function renderStatus() {
  const on = app.patrol.onPatrol;
  const p = $("st-patrol");
  p.textContent = on ? "On patrol" : "Off patrol";
  p.className = `pill ${on ? "on" : "off"}`;
  const spot = on ? insideSpot() : null;
  const s = $("st-spot");
  s.textContent = spot ? `Inside hot spot ${spot.rank}` : "Not in a hot spot";
  s.className = `pill${spot ? " inside" : ""}`;
  const minutes = on && app.patrol.startedAt
    ? Math.max(0, Math.floor((Date.now() - app.patrol.startedAt) / 60000)) : 0;
  $("st-minutes").textContent = `${minutes} min`;
  const { unsent, failed } = await outbox.counts();
  const u = $("st-unsent");
  u.textContent = `${unsent} unsent`;
  u.dataset.count = String(unsent);
  u.className = `pill${unsent ? " pending" : ""}`;
  $("st-net").hidden = navigator.onLine;
  await renderFailed(failed);
}

async function renderFailed(failedCount) {
  $("failed").hidden = failedCount === 0;
  if (!failedCount) return;
  const items = await outbox.failedItems();
  // Build the whole list after the await, then swap it in at once (renders may overlap).
  const rows = items.map((item) => {
    const li = document.createElement("li");
    const what = item.kind === "ping" ? "Location" : item.kind.replace("-", " ");
    li.textContent = `${what} (${item.created.slice(11, 16)}): ${item.error}`;
    return li;
  });
  $("failed-list").replaceChildren(...rows);
}

function renderControls() {
  const on = app.patrol.onPatrol;
  const busy = app.mission && OPEN.includes(app.mission.status);
  $("btn-start").hidden = on;
  $("privacy").hidden = on;
  $("btn-end").hidden = !on;
  $("btn-next").hidden = !on || busy;
  $("activity").hidden = !on;
  $("nearby").hidden = !on || app.nearby.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Location: only on patrol

function onFix(pos) {
  const fix = {
    lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy,
    speed: pos.coords.speed, heading: pos.coords.heading, t: pos.timestamp || Date.now(),
  };
  app.fix = fix;
  if (!app.patrol.onPatrol) return;
  if (app.locationMessage) { say(""); app.locationMessage = false; }
  const last = app.lastPingFix;
  const moved = last ? distanceM(last.lat, last.lon, fix.lat, fix.lon) : Infinity;
  if (moved >= 5 || Date.now() - app.lastPingAt >= 10000) {
    app.lastPingAt = Date.now();
    app.lastPingFix = fix;
    const ping = {
      client_uuid: uuid(), recorded_at: isoNow(new Date(fix.t)),
      lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy ?? 50,
    };
    if (Number.isFinite(fix.speed)) ping.speed_mps = fix.speed;
    if (Number.isFinite(fix.heading)) ping.heading_deg = fix.heading;
    outbox.enqueue("ping", ping).then(() => outbox.flush());
  }
  maybeLoadNearby();
  if (app.nearby.length) renderNearby();
  drawMe();
  renderStatus();
}

function onFixError(err) {
  if (err.code !== 1 && app.fix) return;  // a late or missed fix: the last one still stands
  app.locationMessage = true;
  say(err.code === 1
    ? "Location is blocked: allow it for this site so your patrol is recorded."
    : "Looking for your position…");
}

function startWatching() {
  if (app.watchId !== null || !("geolocation" in navigator)) return;
  app.watchId = navigator.geolocation.watchPosition(onFix, onFixError, {
    enableHighAccuracy: true, maximumAge: 5000, timeout: 30000,
  });
}

function stopWatching() {
  if (app.watchId !== null) navigator.geolocation.clearWatch(app.watchId);
  app.watchId = null;
  app.fix = null;
  app.lastPingFix = null;
}

// A still officer gets no new fixes from watchPosition: ask for one now and then.
function heartbeat() {
  if (!app.patrol.onPatrol || !("geolocation" in navigator)) return;
  navigator.geolocation.getCurrentPosition(onFix, () => {}, {
    enableHighAccuracy: true, maximumAge: 0, timeout: 20000,
  });
}

// ---------------------------------------------------------------------------------------------
// Nearby hot spots

async function maybeLoadNearby(force = false) {
  const f = app.fix;
  if (!f) return;
  const last = app.nearbyAt;
  if (!force && last && Date.now() - last.t < 60000 &&
      distanceM(last.lat, last.lon, f.lat, f.lon) < 150) return;
  app.nearbyAt = { lat: f.lat, lon: f.lon, t: Date.now() };
  try {
    const res = await get(`/api/v1/hotspots/nearby?lat=${f.lat}&lon=${f.lon}&radius_m=${NEARBY_RADIUS_M}`);
    if (res.ok && Array.isArray(res.data)) {
      app.nearby = res.data;
      renderNearby();
      renderStatus();
    }
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    app.nearbyAt = null;
  }
}

function renderNearby() {
  const list = $("nearby-list");
  list.replaceChildren();
  for (const h of app.nearby) {
    const li = document.createElement("li");
    const head = document.createElement("strong");
    const d = app.fix
      ? distanceM(app.fix.lat, app.fix.lon, h.centroid_lat, h.centroid_lon) : h.distance_m;
    head.textContent = `Hot spot ${h.rank} · ${formatDistance(d)}`;
    const due = document.createElement("span");
    due.className = h.visit_due === "due" ? "due" : "";
    due.textContent = { due: " · visit due", done: " · done today", control: "" }[h.visit_due] ?? "";
    const reason = document.createElement("div");
    reason.textContent = h.reason;
    li.append(head, due, reason);
    list.append(li);
  }
  renderControls();
}

// ---------------------------------------------------------------------------------------------
// Patrol session

async function savePatrol() { await db.setState("patrol", app.patrol); }

async function startPatrol() {
  const startedAt = new Date();
  const sessionUuid = uuid();
  await outbox.enqueue("session-start", { client_uuid: sessionUuid, started_at: isoNow(startedAt) });
  app.patrol = { onPatrol: true, sessionUuid, startedAt: startedAt.getTime() };
  await savePatrol();
  say("");
  startWatching();
  renderCard();
  await renderStatus();
  outbox.flush({ force: true });
}

async function endPatrol() {
  stopWatching();
  await outbox.enqueue("session-end", { ended_at: isoNow() },
    { session_uuid: app.patrol.sessionUuid });
  app.patrol = { onPatrol: false, sessionUuid: null, startedAt: null };
  await savePatrol();
  app.nearby = [];
  say("Patrol ended. Thank you.");
  renderCard();
  await renderStatus();
  // The patrol's visits are rolled up within a minute of its end: refresh the dose after that.
  outbox.flush({ force: true }).then(() => dose.load(), () => {});
  setTimeout(() => dose.load(), 90000);
}

// ---------------------------------------------------------------------------------------------
// Missions: draw, accept, arrive, done, decline

async function saveMission() { await db.setState("mission", app.mission); }

async function drawNext() {
  if (!app.fix) { say("Waiting for your position…"); return; }
  const btn = $("btn-next");
  btn.disabled = true;
  let drawUuid = await db.getState("drawUuid");
  if (!drawUuid) {
    drawUuid = uuid();  // kept until an answer arrives: a retry returns the same mission
    await db.setState("drawUuid", drawUuid);
  }
  try {
    const res = await post("/api/v1/missions/draw",
      { lat: app.fix.lat, lon: app.fix.lon, client_uuid: drawUuid });
    await db.setState("drawUuid", null);
    if (res.ok && res.data.mission) {
      app.mission = res.data.mission;
      await saveMission();
      say("");
      await loadBriefing();
      renderCard();
    } else if (res.ok) {
      say(res.data.detail || "No hot spot is due near you right now.");
    } else {
      say((res.data && res.data.detail) || `The draw failed (HTTP ${res.status}).`);
    }
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    say("No signal: the draw needs the network. Try again in a moment.");
  } finally {
    btn.disabled = false;
    renderControls();
  }
}

async function loadBriefing() {
  app.briefing = null;
  if (!app.mission) return;
  try {
    const res = await get(`/api/v1/hotspots/${app.mission.hotspot}`);
    if (res.ok) app.briefing = res.data.briefing || {};
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
}

function renderCard() {
  const m = app.mission;
  const card = $("card");
  if (!m || !OPEN.includes(m.status) || !app.patrol.onPatrol) {
    card.hidden = true;
    renderControls();
    return;
  }
  card.hidden = false;
  $("card-rank").textContent = String(m.hotspot_rank);
  $("card-reason").textContent = m.hotspot_reason || "";
  const d = app.fix ? distanceM(app.fix.lat, app.fix.lon, m.hotspot_lat, m.hotspot_lon) : null;
  $("card-distance").textContent = d === null ? "" : formatDistance(d);
  $("card-status").textContent = STATUS_LABELS[m.status] || m.status;
  const b = app.briefing || {};
  $("card-why-here").textContent = b.why_here || "—";
  $("card-why-now").textContent = b.why_now || "—";
  const tactics = $("card-tactics");
  tactics.replaceChildren();
  for (const t of b.tactics || []) {
    const li = document.createElement("li");
    li.textContent = t;
    tactics.append(li);
  }
  $("btn-accept").hidden = m.status !== "assigned";
  $("btn-arrive").hidden = m.status !== "accepted";
  $("btn-complete").hidden = m.status !== "on_scene";
  $("btn-decline").hidden = !["assigned", "accepted"].includes(m.status);
  $("decline-reasons").hidden = true;
  drawMap();
  renderControls();
}

async function transition(action, status, body = {}) {
  const m = app.mission;
  if (!m) return;
  await outbox.enqueue("mission", { ...body, at: isoNow() },
    { url: `/api/v1/missions/${m.id}/${action}`, mission: m.id });
  m.status = status;
  await saveMission();
  renderCard();
  if (!OPEN.includes(status)) {
    say(status === "completed" ? "Done: thank you. Tap Next hot spot when ready." : "Declined.");
  }
  await renderStatus();
  outbox.flush({ force: true });
}

// ---------------------------------------------------------------------------------------------
// Map (django-leaflet's Leaflet through map-base.js: LEAFLET_CONFIG's tiles when they load;
// without them, the polygon and you, and a note that streets are unavailable)

function drawMap() {
  const L = window.L;
  const m = app.mission;
  if (!L || !window.PresenceMap || !m) return;
  if (!app.map) {
    app.map = window.PresenceMap.create("card-map", { zoomControl: false });
    app.spotLayer = L.layerGroup().addTo(app.map);
    app.meLayer = L.layerGroup().addTo(app.map);
  }
  app.spotLayer.clearLayers();
  const poly = L.geoJSON(m.hotspot_geometry, {
    style: { color: "#c2410c", weight: 3, fillOpacity: 0.25 },
  }).addTo(app.spotLayer);
  let bounds = poly.getBounds();
  if (app.fix) bounds = bounds.extend([app.fix.lat, app.fix.lon]);
  app.map.invalidateSize();
  app.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
  drawMe();
}

function drawMe() {
  if (!app.map || !app.fix) return;
  app.meLayer.clearLayers();
  window.L.circleMarker([app.fix.lat, app.fix.lon], {
    radius: 9, color: "#ffffff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1,
  }).addTo(app.meLayer);
}

// ---------------------------------------------------------------------------------------------
// Activity log

async function loadActivityTypes() {
  app.activityTypes = await db.getState("activityTypes", []);
  try {
    const res = await get("/api/v1/activity-types");
    if (res.ok && Array.isArray(res.data)) {
      app.activityTypes = res.data;
      await db.setState("activityTypes", res.data);
    }
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
  const box = $("activity-buttons");
  box.replaceChildren();
  for (const t of app.activityTypes) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "big";
    b.textContent = t.name;
    b.dataset.kind = t.code;
    box.append(b);
  }
}

async function logActivity(kind, name) {
  const body = { client_uuid: uuid(), kind, recorded_at: isoNow() };
  if (app.fix) { body.lat = app.fix.lat; body.lon = app.fix.lon; }
  if (app.mission && ["accepted", "on_scene"].includes(app.mission.status)) {
    body.mission = app.mission.id;
  }
  await outbox.enqueue("activity", body);
  const done = $("activity-done");
  done.textContent = `Logged: ${name} at ${body.recorded_at.slice(11, 16)}`;
  done.hidden = false;
  await renderStatus();
  outbox.flush({ force: true });
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function reconcile() {
  // The server's open session wins only when this phone has no patrol of its own queued.
  try {
    const res = await get("/api/v1/patrols/sessions/current");
    const pendingStart = (await db.getAll("outbox")).some((i) => i.kind === "session-start");
    if (res.status === 200 && !app.patrol.onPatrol && !app.patrol.sessionUuid) {
      const ids = await db.getState("sessionIds", {});
      ids[res.data.client_uuid] = res.data.id;
      await db.setState("sessionIds", ids);
      app.patrol = {
        onPatrol: true, sessionUuid: res.data.client_uuid,
        startedAt: Date.parse(res.data.started_at),
      };
      await savePatrol();
    } else if (res.status === 404 && app.patrol.onPatrol && !pendingStart) {
      app.patrol = { onPatrol: false, sessionUuid: null, startedAt: null };
      await savePatrol();
    }
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
  if (!app.mission) {
    try {
      const res = await get("/api/v1/missions?status=accepted");
      const open = res.ok && res.data && res.data.results ? res.data.results : [];
      const mine = open.filter((m) => OPEN.includes(m.status));
      if (mine.length) { app.mission = mine[mine.length - 1]; await saveMission(); }
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
    }
  }
}

function bind() {
  $("btn-start").addEventListener("click", startPatrol);
  $("btn-end").addEventListener("click", endPatrol);
  $("btn-next").addEventListener("click", drawNext);
  $("btn-accept").addEventListener("click", () => transition("accept", "accepted"));
  $("btn-arrive").addEventListener("click", () => transition("arrive", "on_scene"));
  $("btn-complete").addEventListener("click", () => transition("complete", "completed"));
  $("btn-decline").addEventListener("click", () => { $("decline-reasons").hidden = false; });
  $("decline-reasons").addEventListener("click", (e) => {
    const reason = e.target.closest("button")?.dataset.reason;
    if (reason) transition("decline", "declined", { reason });
  });
  $("activity-buttons").addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (b) logActivity(b.dataset.kind, b.textContent);
  });
  $("btn-retry-failed").addEventListener("click", () => outbox.retryFailed());
  window.addEventListener("online", () => renderStatus());
  window.addEventListener("offline", () => renderStatus());
  outbox.onChange(() => renderStatus());
}

async function main() {
  bind();
  app.patrol = await db.getState("patrol", app.patrol);
  app.mission = await db.getState("mission", null);
  await reconcile();
  if (app.mission && !OPEN.includes(app.mission.status)) app.mission = null;
  if (app.mission) await loadBriefing();
  renderControls();
  renderCard();
  await loadActivityTypes();
  await dose.load();
  if (app.patrol.onPatrol) startWatching();
  await renderStatus();
  outbox.startFlushing(FLUSH_MS);
  setInterval(renderStatus, 15000);
  setInterval(heartbeat, 30000);
  setInterval(() => { if (!document.hidden) dose.load(); }, 5 * 60000);  // visits roll up every 10 min
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((err) => {
      console.warn("service worker not registered:", err);
    });
  }
  document.body.dataset.ready = "1";
}

main();
