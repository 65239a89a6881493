// The outbox: every write is stored in IndexedDB before the screen confirms it, then delivered
// in order. Pings go in batches (at most 500). A 2xx is delivered; a network error, 408, 429 or
// 5xx is retried with backoff; any other 4xx moves the item to the visible "failed" list.
// An expired sign-in (401/403 while signed out) pauses delivery and keeps every item queued.
// Items carry the officer's username: after a sign-out, another officer's items wait for them.

import { NetworkError, isoNow, request, signedOut } from "./api.js";
import * as db from "./db.js";

export const MAX_BATCH = 500;
const MAX_BACKOFF_MS = 60000;

class Retry extends Error {}
class AuthLost extends Retry {}

const listeners = new Set();
let flushing = null;
let attempts = 0;
let backoffUntil = 0;
let paused = false;
let again = false;  // signed out: nothing is sent until the page is opened signed in again
export const user = () => document.documentElement.dataset.user || "";
const mine = (item) => !item.user || item.user === user();

export function onChange(fn) { listeners.add(fn); }

function notify(event) { for (const fn of listeners) fn(event); }

function retryable(status) {
  return status === 408 || status === 429 || status >= 500;
}

export async function enqueue(kind, body, extra = {}) {
  const item = { kind, body, created: isoNow(), user: user(), ...extra };
  item.seq = await db.add("outbox", item);
  notify({ type: "queued", item });
  return item;
}

export async function counts() {
  return {
    unsent: (await db.getAll("outbox")).filter(mine).length,
    failed: (await db.getAll("failed")).filter(mine).length,
  };
}

// Take a queued item back before it is sent (the activity undo); false if already sent.
export async function cancel(seq) {
  const there = (await db.getAll("outbox")).some((i) => i.seq === seq);
  if (there) await db.removeMany("outbox", [seq]);
  notify({ type: "cancelled" });
  return there;
}

export const failedItems = async () => (await db.getAll("failed")).filter(mine);

export async function retryFailed() {
  const items = (await db.getAll("failed")).filter(mine);
  // New sequence numbers: they go to the back of the queue.
  for (const item of items) {
    const { seq, error, ...rest } = item;
    await db.add("outbox", rest);
    await db.removeMany("failed", [seq]);
  }
  backoffUntil = 0;
  notify({ type: "retry" });
  return flush();
}

async function fail(items, error) {
  await db.move("outbox", "failed", items.map((item) => ({ ...item, error })));
}

function describe(status, data) {
  if (data && typeof data === "object") {
    if (data.detail) return String(data.detail);
    const parts = Object.entries(data).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`);
    return parts.join("; ").slice(0, 300) || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

async function send(url, body, method = "POST") {
  try {
    const res = await request(method, url, method === "DELETE" ? undefined : body);
    if (retryable(res.status)) throw new Retry(`HTTP ${res.status}`);
    if ((res.status === 401 || res.status === 403) && await signedOut()) throw new AuthLost("signed out");
    return res;
  } catch (err) {
    if (err instanceof NetworkError) throw new Retry(err.message);
    throw err;
  }
}

async function sendPings(items) {
  const res = await send("/api/v1/pings/batch", {
    pings: items.map((i) => i.body), sent_at: isoNow(),
  });
  if (!res.ok) {
    await fail(items, describe(res.status, res.data));
    return;
  }
  const byUuid = new Map((res.data.items || []).map((r) => [r.client_uuid, r]));
  const delivered = [];
  const rejected = [];
  for (const item of items) {
    const r = byUuid.get(item.body.client_uuid);
    if (r && r.status === "rejected") rejected.push({ ...item, error: r.reason || "rejected" });
    else delivered.push(item.seq);
  }
  await db.removeMany("outbox", delivered);
  if (rejected.length) await db.move("outbox", "failed", rejected);
  notify({ type: "pings", accepted: res.data.accepted, rejected: rejected.length });
}

async function urlFor(item) {
  switch (item.kind) {
    case "session-start": return "/api/v1/patrols/sessions";
    case "activity": return "/api/v1/activities";
    case "mission": case "activity-undo": return item.url;
    case "session-end": {
      const ids = await db.getState("sessionIds", {});
      const id = ids[item.session_uuid];
      return id ? `/api/v1/patrols/sessions/${id}/end` : null;
    }
    default: return null;
  }
}

async function sendOne(item) {
  const url = await urlFor(item);
  if (!url) {
    await fail([item], "cannot be sent: its patrol session was never started on the server");
    return;
  }
  const res = await send(url, item.body, item.method);
  let delivered = res.ok;
  let session = null;
  if (item.kind === "session-start") {
    if (res.ok) session = res.data;
    else if (res.status === 409 && res.data && res.data.session) {
      session = res.data.session;  // another session is open: carry on with that one
      delivered = true;
    }
    if (session) {
      const ids = await db.getState("sessionIds", {});
      ids[item.body.client_uuid] = session.id;
      await db.setState("sessionIds", ids);
    }
  }
  if (delivered) {
    await db.removeMany("outbox", [item.seq]);
    notify({ type: "delivered", item, data: res.data, session });
  } else {
    await fail([item], describe(res.status, res.data));
    notify({ type: "failed", item, data: res.data });
  }
}

async function flushNow() {
  const items = (await db.getAll("outbox")).filter(mine).sort((a, b) => a.seq - b.seq);
  let pings = [];
  for (const item of items) {
    if (item.kind === "ping") {
      pings.push(item);
      if (pings.length >= MAX_BATCH) { await sendPings(pings); pings = []; }
      continue;
    }
    if (pings.length) { await sendPings(pings); pings = []; }
    await sendOne(item);
  }
  if (pings.length) await sendPings(pings);
}

// Deliver what is queued. Safe to call often: one flush runs at a time, and during a backoff
// a call does nothing unless forced (e.g. the browser just came back online).
export function flush({ force = false } = {}) {
  if (flushing) { again = true; return flushing; }  // queued meanwhile: sent right after
  if (paused) return Promise.resolve();
  if (!force && Date.now() < backoffUntil) return Promise.resolve();
  flushing = (async () => {
    try {
      await flushNow();
      attempts = 0;
      backoffUntil = 0;
      notify({ type: "flushed", ok: true });
    } catch (err) {
      if (err instanceof AuthLost) {
        paused = true;
        notify({ type: "auth" });
        return;
      }
      if (!(err instanceof Retry)) console.warn("outbox:", err);
      attempts += 1;
      const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts);
      backoffUntil = Date.now() + base * (0.7 + Math.random() * 0.3);
      notify({ type: "flushed", ok: false, retryInMs: backoffUntil - Date.now() });
    } finally {
      flushing = null;
      if (again && Date.now() >= backoffUntil) { again = false; setTimeout(flush, 0); }
    }
  })();
  return flushing;
}

// Flush on start, when the browser comes online, when the page becomes visible, on a timer.
export function startFlushing(intervalMs) {
  window.addEventListener("online", () => flush({ force: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush({ force: true });
  });
  setInterval(() => flush(), intervalMs);
  return flush({ force: true });
}
