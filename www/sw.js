// Offline use. The page itself (HTML, script, wasm, styles) is fetched network-first —
// a visit online always gets the current version — and the copy kept here answers
// when the network does not. The model files are versioned (`?v=` from
// model/manifest.json) and the page keeps them in its own cache ("unmask-model-v1"),
// so they are left alone here: offline they come from there, and a new model version
// is a new URL, downloaded on the first visit online.
const SHELL = "unmask-shell-v1";
const PRECACHE = ["./", "style.css", "pkg/unmask_web.js", "pkg/unmask_web_bg.wasm", "app.webmanifest", "icon.svg", "model/manifest.json"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || url.searchParams.has("v")) return;
  e.respondWith(
    fetch(req)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          // A page is kept under its path alone: any query string opens it offline.
          const key = req.mode === "navigate" ? new URL(url.pathname, url).href : req;
          e.waitUntil(caches.open(SHELL).then((c) => c.put(key, copy)));
        }
        return resp;
      })
      .catch(() => caches.match(req, { ignoreSearch: req.mode === "navigate" }).then((hit) => hit || Response.error())),
  );
});
