// IndexedDB for the app: the outbox (writes waiting to be delivered), the failed list, a
// small key-value store for the patrol state and (version 2) hot spot briefings kept for use
// without signal. Schema upgrades step by old version and never drop queued data.

const DB_NAME = "presence-app";
export const DB_VERSION = 2;
// Cached reads, cleared on sign-out; the outbox and failed list are kept (they are writes).
export const CACHED_STATE = ["mission", "briefing", "dose", "activityTypes", "scene", "drawUuid"];

function upgrade(db, oldVersion) {
  // Each step brings version N to N+1. Never delete a store that may hold queued items:
  // copy them into the new shape first.
  if (oldVersion < 1) {
    db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
    db.createObjectStore("failed", { keyPath: "seq" });
    db.createObjectStore("state");
  }
  if (oldVersion < 2) {
    db.createObjectStore("briefings", { keyPath: "id" });
  }
}

let opening = null;

export function openDb() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = (event) => upgrade(req.result, event.oldVersion);
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    req.onerror = () => { opening = null; reject(req.error); };
  });
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function getAll(store) {
  const db = await openDb();
  return result(db.transaction(store).objectStore(store).getAll());
}

export async function count(store) {
  const db = await openDb();
  return result(db.transaction(store).objectStore(store).count());
}

export async function add(store, value) {
  const db = await openDb();
  const tx = db.transaction(store, "readwrite");
  const key = result(tx.objectStore(store).add(value));
  await done(tx);
  return key;
}

export async function put(store, value) {
  const db = await openDb();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).put(value);
  await done(tx);
}

export async function removeMany(store, keys) {
  if (!keys.length) return;
  const db = await openDb();
  const tx = db.transaction(store, "readwrite");
  for (const key of keys) tx.objectStore(store).delete(key);
  await done(tx);
}

// Move items between stores in one transaction, so an item is never in neither.
export async function move(from, to, items) {
  if (!items.length) return;
  const db = await openDb();
  const tx = db.transaction([from, to], "readwrite");
  for (const item of items) {
    tx.objectStore(to).put(item);
    tx.objectStore(from).delete(item.seq);
  }
  await done(tx);
}

export async function get(store, key) {
  const db = await openDb();
  return result(db.transaction(store).objectStore(store).get(key));
}

// Sign-out: forget cached missions and briefings (never the outbox or the failed list).
export async function clearCached() {
  const db = await openDb();
  const tx = db.transaction(["state", "briefings"], "readwrite");
  tx.objectStore("briefings").clear();
  for (const key of CACHED_STATE) tx.objectStore("state").delete(key);
  await done(tx);
}

export async function getState(key, fallback = null) {
  const db = await openDb();
  const value = await result(db.transaction("state").objectStore("state").get(key));
  return value === undefined ? fallback : value;
}

export async function setState(key, value) {
  const db = await openDb();
  const tx = db.transaction("state", "readwrite");
  tx.objectStore("state").put(value, key);
  await done(tx);
}
