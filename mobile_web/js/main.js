// Presence patrol app: start a patrol, draw the next hot spot, get there, stay, log what you did.
// Location is read only between "Start patrol" and "End patrol" (DESIGN.md: Tracking).
// Dose is measured on the server from GPS dwell; the on-scene timer here is the officer's guide.

import { NetworkError, csrfToken, get, isoNow, post, signedOut, uuid } from "./api.js";
import * as db from "./db.js";
import * as dose from "./dose.js";
import { bearingDeg, compass, contains, distanceM, formatDistance, navigateHref } from "./geo.js";
import * as i18n from "./i18n.js";
import * as outbox from "./outbox.js";

const { t } = i18n;
const params = new URLSearchParams(location.search);
const FLUSH_MS = Math.max(250, Number(params.get("flush")) || 15000);
const NEARBY_RADIUS_M = 2000;
const UNDO_MS = 10000;
const OPEN = ["assigned", "accepted", "on_scene"];
const ENFORCEMENT = /arrest|citation|search/;  // asked to confirm before they are logged
const RING = 2 * Math.PI * 52;

const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
const offline = (err) => { if (!(err instanceof NetworkError)) throw err; };  // no signal: fine
const el = (tag, props, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};

const app = {
  patrol: { onPatrol: false, sessionUuid: null, startedAt: null },
  mission: null,      // the current mission (as the API returned it, status kept locally)
  briefing: null,     // the mission hot spot's detail: {briefing, address, street_brief}
  fix: null,          // last position {lat, lon, accuracy, t}
  lastPingAt: 0,
  lastPingFix: null,
  watchId: null,
  nearby: [],
  nearbyAt: null,
  activityTypes: [],
  scene: null,        // {id, acc, since, buzzed}: time inside the mission's hot spot
  wake: null,
  undo: null,         // {seq, uuid, timer}
  confirm: null,      // the enforcement activity awaiting "Yes"
  summary: false,
};

function say(text) {
  $("message").textContent = text || "";
  show("message", !!text);
}

const place = (h) => h.address || h.hotspot_address ||
  `${(+(h.centroid_lat ?? h.hotspot_lat)).toFixed(5)}, ${(+(h.centroid_lon ?? h.hotspot_lon)).toFixed(5)}`;

// --- Status bar

function inTarget() {
  const m = app.mission;
  return !!(m && app.fix && OPEN.includes(m.status) && contains(m.hotspot_geometry, app.fix.lat, app.fix.lon));
}

function insideSpot() {
  if (!app.fix) return null;
  if (inTarget()) return { rank: app.mission.hotspot_rank };
  const inside = app.nearby.filter((s) => contains(s.geometry, app.fix.lat, app.fix.lon));
  inside.sort((a, b) => a.rank - b.rank);
  return inside[0] || null;
}

async function renderStatus() {
  const on = app.patrol.onPatrol;
  const p = $("st-patrol");
  p.textContent = t(on ? "st.on" : "st.off");
  p.className = `pill ${on ? "on" : "off"}`;
  const spot = on ? insideSpot() : null;
  const s = $("st-spot");
  s.textContent = spot ? t("st.inside", { n: spot.rank }) : t("st.nospot");
  s.className = `pill${spot ? " inside" : ""}`;
  const minutes = on && app.patrol.startedAt
    ? Math.max(0, Math.floor((Date.now() - app.patrol.startedAt) / 60000)) : 0;
  $("st-minutes").textContent = t("st.min", { n: minutes });
  const { unsent, failed } = await outbox.counts();
  const u = $("st-unsent");
  u.textContent = t("st.unsent", { n: unsent });
  u.dataset.count = String(unsent);
  u.className = `pill${unsent ? " pending" : ""}`;
  show("st-net", !navigator.onLine);
  renderSummary(unsent);
  await renderFailed(failed);
}

async function renderFailed(failedCount) {
  show("failed", failedCount > 0);
  if (!failedCount) return;
  const rows = (await outbox.failedItems()).map((item) =>
    el("li", { textContent: `${t(`kind.${item.kind}`)} (${item.created.slice(11, 16)}): ${item.error}` }));
  $("failed-list").replaceChildren(...rows);
}

function renderControls() {
  const on = app.patrol.onPatrol;
  const busy = app.mission && OPEN.includes(app.mission.status);
  show("btn-start", !on);
  show("privacy", !on);
  show("keep-open", on);
  show("btn-end", on);
  show("btn-next", on && !busy);
  show("activity", on);
  show("nearby", on && app.nearby.length > 0);
}

// "All synced", today's visits, minutes on scene and the dose, after a patrol.
function renderSummary(unsent = 0) {
  const me = dose.last();
  show("summary", app.summary && !app.patrol.onPatrol && !!me);
  if (!me) return;
  const d = me.today;
  const sync = $("sum-sync");
  sync.textContent = unsent ? t("sum.unsent", { n: unsent }) : t("sum.synced");
  sync.className = unsent ? "pending" : "synced";
  $("sum-visits").textContent = String(d.delivered_visits);
  $("sum-minutes").textContent = String(Math.round(d.delivered_minutes));
  $("sum-dose").textContent = t("sum.of", { a: d.delivered_visits, b: d.prescribed_visits });
}

// --- Location: only on patrol

function onFix(pos) {
  // The page's clock, not the fix's: one time base for pings, the timer and mission steps.
  const fix = {
    lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy,
    speed: pos.coords.speed, heading: pos.coords.heading, t: Date.now(),
  };
  app.fix = fix;
  if (!app.patrol.onPatrol) return;
  if (app.locationMessage) { say(""); app.locationMessage = false; }
  const last = app.lastPingFix;
  const moved = last ? distanceM(last.lat, last.lon, fix.lat, fix.lon) : Infinity;
  if (moved >= 5 || fix.t - app.lastPingAt >= 10000) {
    app.lastPingAt = fix.t;
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
  tick(fix);
  drawMe();
  renderStatus();
}

function onFixError(err) {
  if (err.code !== 1 && app.fix) return;  // a late or missed fix: the last one still stands
  app.locationMessage = true;
  say(t(err.code === 1 ? "loc.blocked" : "loc.wait"));
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

// The Screen Wake Lock keeps the screen (and so the app and its location) on during a patrol.
async function wake(on) {
  try {
    if (on && !app.wake && "wakeLock" in navigator && document.visibilityState === "visible") {
      app.wake = await navigator.wakeLock.request("screen");
      app.wake.addEventListener("release", () => { app.wake = null; });
    } else if (!on && app.wake) {
      await app.wake.release();
      app.wake = null;
    }
  } catch {
    // refused (battery saver, no user gesture): the plain-words note still asks to keep it open
  }
}

// --- On scene: "07:42 of 15:00" with a ring while inside the target; distance and direction outside

const mmss = (ms) => {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

// Time on scene is counted as the server counts dwell: from the first fix inside to the last
// one (a fix outside ends a stint). Between fixes the clock runs on screen; the target counts
// as reached (vibration, "move on") only once a fix inside confirms it, asked for if need be.
function tick(fix) {
  const m = app.mission;
  if (!m || !OPEN.includes(m.status) || !app.patrol.onPatrol) { show("scene", false); return; }
  let s = app.scene;
  if (!s || s.id !== m.id) s = app.scene = { id: m.id, acc: 0, since: null, last: null, buzzed: false };
  const inside = inTarget();
  let changed = false;
  if (fix) {
    if (inside) {
      if (s.since === null) s.since = fix.t;
      s.last = fix.t;
    } else if (s.since !== null) {
      s.acc += s.last - s.since;
      s.since = null;
    }
    changed = true;
  }
  if (inside && m.status === "accepted") transition("arrive", "on_scene");
  const now = Date.now();
  const target = (m.target_minutes || 15) * 60000;
  const measured = s.acc + (s.since === null ? 0 : s.last - s.since);
  const running = s.acc + (s.since === null ? 0 : now - s.since);
  const reached = measured >= target;
  if (reached && !s.buzzed) {
    s.buzzed = true;
    changed = true;
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
  }
  if (!reached && s.since !== null && running >= target && now - (app.asked || 0) > 10000) {
    app.asked = now;
    heartbeat();  // a fix to confirm the target
  }
  const ms = reached ? target : Math.min(running, target - 1000);
  show("scene", inside || ms > 0);
  $("scene-timer").textContent = t("scene.timer", { a: mmss(ms), b: mmss(target) });
  $("ring").style.strokeDasharray = String(RING);
  $("ring").style.strokeDashoffset = String(RING * (1 - ms / target));
  $("scene").classList.toggle("reached", reached);
  $("scene-hint").textContent = t(reached ? "scene.moveon" : inside ? "scene.stay" : "scene.paused",
    { n: m.target_minutes || 15 });
  renderWhere();
  if (changed) db.setState("scene", s);
}

function renderWhere() {
  const m = app.mission;
  if (!m) return;
  let dist = "";
  let dir = "";
  if (inTarget()) {
    dist = t("card.inside");
  } else if (app.fix) {
    const f = app.fix;
    dist = t("card.away", { d: formatDistance(distanceM(f.lat, f.lon, m.hotspot_lat, m.hotspot_lon)) });
    dir = t(`dir.${compass(bearingDeg(f.lat, f.lon, m.hotspot_lat, m.hotspot_lon))}`);
  }
  $("card-distance").textContent = dist;
  $("card-dir").textContent = dir;
}

// --- Nearby hot spots

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
    offline(err);
    app.nearbyAt = null;
  }
}

function renderNearby() {
  const rows = app.nearby.map((h) => {
    const d = app.fix ? distanceM(app.fix.lat, app.fix.lon, h.centroid_lat, h.centroid_lon) : h.distance_m;
    const here = app.fix && contains(h.geometry, app.fix.lat, app.fix.lon);
    const head = `${t("card.title")} ${h.rank} · ${here ? t("near.here") : t("card.away", { d: formatDistance(d) })}`;
    const due = el("span", {
      className: h.visit_due === "due" ? "due" : "",
      textContent: h.visit_due === "control" ? "" : ` · ${t(`near.${h.visit_due}`)}`,
    });
    const b = el("button", { type: "button", className: "spot" },
      el("strong", { textContent: head }), due, el("div", { textContent: place(h) }));
    b.dataset.id = h.id;
    return el("li", {}, b);
  });
  $("nearby-list").replaceChildren(...rows);
  if (!$("near-map").hidden) drawNearMap();
  renderControls();
}

async function openSpot(id) {
  const h = app.nearby.find((x) => String(x.id) === String(id));
  if (!h) return;
  $("spot-title").textContent = `${t("card.title")} ${h.rank}`;
  $("spot-address").textContent = place(h);
  $("spot-brief").textContent = h.street_brief || h.reason || "";
  $("spot-why").textContent = "";
  $("spot-nav").href = navigateHref(h.centroid_lat, h.centroid_lon, `${t("card.title")} ${h.rank}`);
  show("spot", true);
  $("spot").focus();
  const detail = await hotspotDetail(h.id);
  if (detail) {
    $("spot-brief").textContent = detail.street_brief || h.street_brief || h.reason || "";
    $("spot-why").textContent = (detail.briefing || {}).why_here || "";
  }
}

function drawNearMap() {
  const L = window.L;
  if (!L || !window.PresenceMap) return;
  if (!app.nearMap) {
    app.nearMap = window.PresenceMap.create("near-map", MAP_OPTIONS());
    app.nearLayer = L.layerGroup().addTo(app.nearMap);
  }
  app.nearLayer.clearLayers();
  const all = L.featureGroup().addTo(app.nearLayer);
  for (const h of app.nearby) {
    L.geoJSON(h.geometry, { style: { color: h.visit_due === "due" ? "#c2410c" : "#64748b", weight: 2 } })
      .on("click", () => openSpot(h.id)).addTo(all);
  }
  if (app.fix) L.circleMarker([app.fix.lat, app.fix.lon], ME).addTo(all);
  app.nearMap.invalidateSize();
  if (all.getLayers().length) app.nearMap.fitBounds(all.getBounds(), { padding: [16, 16], maxZoom: 17 });
}

// --- Patrol session

async function savePatrol() { await db.setState("patrol", app.patrol); }

async function startPatrol() {
  const startedAt = new Date();
  const sessionUuid = uuid();
  await outbox.enqueue("session-start", { client_uuid: sessionUuid, started_at: isoNow(startedAt) });
  app.patrol = { onPatrol: true, sessionUuid, startedAt: startedAt.getTime() };
  app.summary = false;
  await savePatrol();
  say("");
  startWatching();
  wake(true);
  renderCard();
  await renderStatus();
  outbox.flush({ force: true });
}

async function endPatrol() {
  stopWatching();
  wake(false);
  await outbox.enqueue("session-end", { ended_at: isoNow() },
    { session_uuid: app.patrol.sessionUuid });
  app.patrol = { onPatrol: false, sessionUuid: null, startedAt: null };
  app.summary = true;
  await savePatrol();
  app.nearby = [];
  show("spot", false);
  say(t("msg.ended"));
  renderCard();
  await renderStatus();
  // The patrol's visits are rolled up within a minute of its end: refresh the dose after that.
  outbox.flush({ force: true }).then(() => dose.load()).then(() => renderStatus(), () => {});
  setTimeout(() => dose.load().then(() => renderStatus()), 90000);
}

// --- Missions: draw, accept (or navigate), arrive, done, decline

async function saveMission() { await db.setState("mission", app.mission); }

async function drawNext() {
  if (!app.fix) { say(t("loc.wait")); return; }
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
      app.scene = null;
      await saveMission();
      say("");
      await loadBriefing();
      renderCard();
    } else if (res.ok) {
      say(res.data.detail || t("msg.nodraw"));
    } else if ((res.status === 401 || res.status === 403) && await signedOut()) {
      relogin();
    } else {
      say((res.data && res.data.detail) || t("msg.drawfail", { n: res.status }));
    }
  } catch (err) {
    offline(err);
    say(t("msg.nosignal"));
  } finally {
    btn.disabled = false;
    renderControls();
  }
}

// A hot spot's detail (briefing, address, street sentence): network first, then the copy kept
// in IndexedDB for use without signal.
async function hotspotDetail(id) {
  try {
    const res = await get(`/api/v1/hotspots/${id}`);
    if (res.ok && res.data) {
      const keep = { id, briefing: res.data.briefing || {}, address: res.data.address, street_brief: res.data.street_brief };
      await db.put("briefings", keep);
      return keep;
    }
  } catch (err) {
    offline(err);
  }
  return (await db.get("briefings", id)) || null;
}

async function loadBriefing() {
  app.briefing = app.mission ? await hotspotDetail(app.mission.hotspot) : null;
}

function renderCard() {
  const m = app.mission;
  if (!m || !OPEN.includes(m.status) || !app.patrol.onPatrol) {
    show("card", false);
    show("scene", false);
    renderControls();
    return;
  }
  show("card", true);
  const d = app.briefing || {};
  const b = d.briefing || {};
  $("card-rank").textContent = String(m.hotspot_rank);
  $("card-address").textContent = d.address || place(m);
  $("card-status").textContent = t(`status.${m.status}`);
  $("card-brief").textContent = d.street_brief || m.hotspot_street_brief || m.hotspot_reason || "";
  $("card-why-here").textContent = b.why_here || "—";
  $("card-why-now").textContent = b.why_now || "—";
  $("card-tactics").replaceChildren(...(b.tactics || []).map((x) => el("li", { textContent: x })));
  $("btn-nav").href = navigateHref(m.hotspot_lat, m.hotspot_lon, `${t("card.title")} ${m.hotspot_rank}`);
  show("btn-nav", m.status !== "on_scene");
  show("btn-accept", m.status === "assigned");
  show("btn-arrive", m.status === "accepted");
  show("btn-complete", m.status === "on_scene");
  show("btn-decline", ["assigned", "accepted"].includes(m.status));
  show("decline-reasons", false);
  renderWhere();
  tick();
  drawMap();
  renderControls();
}

async function transition(action, status, body = {}) {
  const m = app.mission;
  if (!m || m.status === status) return;
  m.status = status;  // first: a second tap (or the next fix) sees the new status
  await outbox.enqueue("mission", { ...body, at: isoNow() },
    { url: `/api/v1/missions/${m.id}/${action}`, mission: m.id });
  await saveMission();
  renderCard();
  if (!OPEN.includes(status)) {
    say(t(status === "completed" ? "msg.done" : "msg.declined"));
    app.scene = null;
    db.setState("scene", null);
  }
  await renderStatus();
  outbox.flush({ force: true });
}

function decline(reason) {
  if (reason === "other") {
    show("decline-other", true);
    $("decline-note").focus();
    return;
  }
  transition("decline", "declined", { reason });
}

// --- Maps (django-leaflet's Leaflet through map-base.js: LEAFLET_CONFIG's tiles when they load;
// without them, the polygons, you and the line between, and a note that streets are unavailable)

const MAP_OPTIONS = () => ({ zoomControl: false, noticeText: { none: t("map.none"), failed: t("map.failed") } });
const ME = { radius: 9, color: "#ffffff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1 };

function drawMap() {
  const L = window.L;
  const m = app.mission;
  if (!L || !window.PresenceMap || !m) return;
  if (!app.map) {
    app.map = window.PresenceMap.create("card-map", MAP_OPTIONS());
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
  const m = app.mission;
  if (!app.map || !app.fix || !m) return;
  const L = window.L;
  app.meLayer.clearLayers();
  const me = [app.fix.lat, app.fix.lon];
  if (!inTarget()) {
    L.polyline([me, [m.hotspot_lat, m.hotspot_lon]], { color: "#1d4ed8", weight: 3, dashArray: "6 6" })
      .addTo(app.meLayer);
  }
  L.circleMarker(me, ME).addTo(app.meLayer);
}

// --- Activity log: one tap (two for enforcement, which asks first), undo for 10 seconds

async function loadActivityTypes() {
  app.activityTypes = await db.getState("activityTypes", []);
  try {
    const res = await get("/api/v1/activity-types");
    if (res.ok && Array.isArray(res.data)) {
      app.activityTypes = res.data;
      await db.setState("activityTypes", res.data);
    }
  } catch (err) {
    offline(err);
  }
  $("activity-buttons").replaceChildren(...app.activityTypes.map((a) => {
    const key = `act.${a.code}`;
    const b = el("button", { type: "button", className: "big", textContent: t(key) === key ? a.name : t(key) });
    b.dataset.kind = a.code;
    return b;
  }));
}

function askActivity(kind, name) {
  if (!ENFORCEMENT.test(kind)) { logActivity(kind, name); return; }
  app.confirm = { kind, name };
  $("act-confirm-text").textContent = t("act.confirm", { what: name });
  show("act-confirm", true);
  $("btn-act-yes").focus();
}

async function logActivity(kind, name) {
  show("act-confirm", false);
  app.confirm = null;
  const body = { client_uuid: uuid(), kind, recorded_at: isoNow() };
  const note = $("act-note").value.trim();
  if (note) body.note = note.slice(0, 280);
  if (app.fix) { body.lat = app.fix.lat; body.lon = app.fix.lon; }
  if (app.mission && ["accepted", "on_scene"].includes(app.mission.status)) {
    body.mission = app.mission.id;
  }
  const item = await outbox.enqueue("activity", body);
  $("act-note").value = "";
  if (app.undo) clearTimeout(app.undo.timer);
  app.undo = { seq: item.seq, uuid: body.client_uuid, timer: setTimeout(endUndo, UNDO_MS) };
  $("act-done-text").textContent = t("act.logged", { what: name, at: body.recorded_at.slice(11, 16) });
  show("btn-undo", true);
  show("activity-done", true);
  await renderStatus();
  outbox.flush({ force: true });
}

function endUndo() {
  app.undo = null;
  show("btn-undo", false);
}

// Undo: take the write back if it is still queued, and queue its deletion in case it was sent.
async function undoActivity() {
  const u = app.undo;
  if (!u) return;
  clearTimeout(u.timer);
  endUndo();
  await outbox.cancel(u.seq);
  await outbox.enqueue("activity-undo", {}, { url: `/api/v1/activities/${u.uuid}`, method: "DELETE" });
  $("act-done-text").textContent = t("act.undone");
  await renderStatus();
  outbox.flush({ force: true });
}

// --- Session: an expired sign-in keeps the queue; signing out forgets cached missions and briefings

function relogin(n) {
  $("relogin-text").textContent = t("relogin.text", { n: n ?? "" });
  show("relogin", true);
}

async function signOut() {
  if (app.patrol.onPatrol) await endPatrol();
  await outbox.flush({ force: true }).catch(() => {});
  await db.clearCached();
  for (const key of await caches.keys()) {
    if (!key.startsWith("presence-app-")) continue;
    const cache = await caches.open(key);
    for (const req of await cache.keys()) {
      const path = new URL(req.url).pathname;
      if (path.startsWith("/api/") || path === "/app/") await cache.delete(req);
    }
  }
  const form = el("form", { method: "post", action: "/logout/" },
    el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken() }));
  document.body.append(form);
  form.submit();
}

// --- Start-up

async function reconcile() {
  // The server's open session wins only when this phone has no patrol of its own queued.
  try {
    const res = await get("/api/v1/patrols/sessions/current");
    if (res.status === 401 || res.status === 403) { relogin(); return; }
    const pendingStart = (await db.getAll("outbox")).some((i) => i.kind === "session-start");
    if (res.status === 200 && res.data && !app.patrol.onPatrol && !app.patrol.sessionUuid) {
      const ids = await db.getState("sessionIds", {});
      ids[res.data.client_uuid] = res.data.id;
      await db.setState("sessionIds", ids);
      app.patrol = {
        onPatrol: true, sessionUuid: res.data.client_uuid,
        startedAt: Date.parse(res.data.started_at),
      };
      await savePatrol();
    } else if (res.status === 200 && !res.data && app.patrol.onPatrol && !pendingStart) {
      app.patrol = { onPatrol: false, sessionUuid: null, startedAt: null };
      await savePatrol();
    }
  } catch (err) {
    offline(err);
  }
  if (!app.mission) {
    try {
      const res = await get("/api/v1/missions?status=accepted");
      const open = res.ok && res.data && res.data.results ? res.data.results : [];
      const mine = open.filter((m) => OPEN.includes(m.status));
      if (mine.length) { app.mission = mine[mine.length - 1]; await saveMission(); }
    } catch (err) {
      offline(err);
    }
  }
}

function bind() {
  const on = (id, fn) => $(id).addEventListener("click", fn);
  on("btn-start", startPatrol);
  on("btn-end", endPatrol);
  on("btn-next", drawNext);
  on("btn-signout", signOut);
  // Navigate accepts an assigned mission and lets the link open the phone's navigation.
  on("btn-nav", () => { if (app.mission && app.mission.status === "assigned") transition("accept", "accepted"); });
  on("btn-accept", () => transition("accept", "accepted"));
  on("btn-arrive", () => transition("arrive", "on_scene"));
  on("btn-complete", () => transition("complete", "completed"));
  on("btn-decline", () => { show("decline-reasons", true); show("decline-other", false); });
  on("decline-reasons", (e) => {
    const reason = e.target.closest("button")?.dataset.reason;
    if (reason) decline(reason);
  });
  on("btn-decline-send", () => {
    const note = $("decline-note").value.trim();
    if (!note) { $("decline-note").focus(); return; }
    transition("decline", "declined", { reason: "other", note });
  });
  on("activity-buttons", (e) => {
    const b = e.target.closest("button");
    if (b) askActivity(b.dataset.kind, b.textContent);
  });
  on("btn-act-yes", () => { if (app.confirm) logActivity(app.confirm.kind, app.confirm.name); });
  on("btn-act-no", () => { show("act-confirm", false); app.confirm = null; });
  on("btn-undo", undoActivity);
  on("nearby-list", (e) => {
    const b = e.target.closest("button");
    if (b) openSpot(b.dataset.id);
  });
  on("btn-near-map", () => {
    const open = $("near-map").hidden;
    show("near-map", open);
    $("btn-near-map").setAttribute("aria-pressed", String(open));
    $("btn-near-map").textContent = t(open ? "near.list" : "near.map");
    if (open) drawNearMap();
  });
  on("btn-spot-close", () => show("spot", false));
  on("btn-retry-failed", () => outbox.retryFailed());
  window.addEventListener("online", () => renderStatus());
  window.addEventListener("offline", () => renderStatus());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && app.patrol.onPatrol) wake(true);
  });
  outbox.onChange(async (e) => {
    if (e.type === "auth") relogin((await outbox.counts()).unsent);
    renderStatus();
  });
}

async function main() {
  await i18n.load();
  bind();
  app.patrol = await db.getState("patrol", app.patrol);
  app.mission = await db.getState("mission", null);
  app.scene = await db.getState("scene", null);
  await reconcile();
  if (app.mission && !OPEN.includes(app.mission.status)) app.mission = null;
  if (app.mission) await loadBriefing();
  renderControls();
  renderCard();
  await loadActivityTypes();
  await dose.load();
  if (app.patrol.onPatrol) { startWatching(); wake(true); }
  await renderStatus();
  outbox.startFlushing(FLUSH_MS);
  setInterval(renderStatus, 15000);
  setInterval(heartbeat, 30000);
  setInterval(() => tick(), 1000);
  setInterval(() => { if (!document.hidden) dose.load(); }, 5 * 60000);  // visits roll up every 10 min
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((err) => {
      console.warn("service worker not registered:", err);
    });
  }
  document.body.dataset.ready = "1";
}

main();
