// Presence patrol app service worker (served from /app/sw.js, scope /app/).
// - The app shell (scripts, styles, catalogues, icons, Leaflet from django-leaflet) is precached
//   in a versioned cache. The server fills in VERSION (a hash of every file in mobile_web/) and
//   SHELL (the list of those files) when it serves this script: any change makes a new cache.
//   Old caches are deleted on activate.
// - Today's missions and hot spot briefings are network-first with a cached fallback.
// - Writes (anything but GET) are never cached: the page's outbox owns them.

const VERSION = "__APP_VERSION__";
const PREFIX = "presence-app-";
const CACHE = `${PREFIX}${VERSION}`;
const SHELL = "__APP_SHELL__";
const NETWORK_FIRST = [
  /^\/app\/$/,
  /^\/api\/v1\/missions$/,
  /^\/api\/v1\/missions\/\d+$/,
  /^\/api\/v1\/hotspots\/\d+$/,
  /^\/api\/v1\/activity-types$/,
];

const PAGE = "/app/";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    // The page itself needs the officer's session: cache it only if it really came back.
    try {
      const response = await fetch(PAGE, { credentials: "same-origin" });
      if (response.ok && !response.redirected) await cache.put(PAGE, response);
    } catch {
      // offline while installing: the page is cached on its next visit
    }
  })());
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

function offline(request) {
  if (request.mode === "navigate") {
    return new Response("<!doctype html><title>Offline</title><p>You are offline.</p>", {
      status: 503, headers: { "Content-Type": "text/html; charset=utf-8" },
    });
  }
  return new Response(JSON.stringify({ detail: "You are offline." }), {
    status: 503, headers: { "Content-Type": "application/json" },
  });
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const navigate = request.mode === "navigate";
  try {
    const response = await fetch(request);
    // Cache only a real answer for this URL (not a redirect to the sign-in page).
    if (response.ok && !response.redirected) {
      await cache.put(navigate ? PAGE : request, response.clone());
    }
    return response;
  } catch {
    const cached = await cache.match(navigate ? PAGE : request);
    return cached || offline(request);
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;  // writes go straight to the network
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NETWORK_FIRST.some((re) => re.test(url.pathname))) {
    event.respondWith(networkFirst(request));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  }
});
