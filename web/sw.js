// Parole's service worker: the app starts from the home screen with no network at all.
//
// - Precaches the app shell and the WebAssembly client (pkg/) when it installs.
// - Cache first for everything under /app/ (a navigation gets the cached index.html).
// - The API (/api/) is never touched: requests go to the network as if there were no worker.
// - It never opens IndexedDB: drafts and the outbox survive every update of the app.
//
// Updates need no version number to bump (pkg/ is built, not committed): when the page asks
// (`{type: "check-update"}`, sent once online), the worker revalidates every shell file
// (`no-cache`: a 304 costs no download) and compares the contents with its cache. If any
// differs it downloads the whole set into a NEW cache, switches to it and tells the page
// (`{type: "update-ready"}`), which offers a reload. Files of two versions are never mixed.
// A change of this file itself is picked up by the browser's own update check.

const PREFIX = 'parole-app-';

const SHELL = [
  './',
  'index.html',
  'app.js',
  'boot.js',
  'form.js',
  'dom.js',
  'i18n.js',
  'photo.js',
  'geo.js',
  'pages.js',
  'undo.js',
  'safety.js',
  'summary.js',
  'tabs.js',
  'backup.js',
  'style.css',
  'manifest.webmanifest',
  'icons/icon.svg',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'pkg/parole_wasm.js',
  'pkg/parole_wasm_bg.wasm',
];

let current = null; // the name of the cache in use

async function newestCache() {
  if (current) return current;
  const names = (await caches.keys()).filter((k) => k.startsWith(PREFIX)).sort();
  current = names.length ? names[names.length - 1] : null;
  return current;
}

/** Downloads every shell file into a new cache; returns its name (all or nothing). */
async function fillNewCache() {
  const name = `${PREFIX}${String(Date.now()).padStart(15, '0')}`;
  const cache = await caches.open(name);
  try {
    // `reload`: never fill the new cache from the HTTP cache of the old version.
    await cache.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' })));
  } catch (e) {
    await caches.delete(name);
    throw e;
  }
  return name;
}

async function dropOthers(keep) {
  for (const key of await caches.keys()) {
    if (key.startsWith(PREFIX) && key !== keep) await caches.delete(key);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    await fillNewCache();
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    current = null;
    await dropOthers(await newestCache());
    await self.clients.claim();
  })());
});

async function digest(res) {
  const buf = await res.arrayBuffer();
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

let checking = null;
async function checkUpdate() {
  const name = await newestCache();
  if (!name) return false;
  const cache = await caches.open(name);
  let changed = false;
  for (const u of SHELL) {
    const fresh = await fetch(new Request(u, { cache: 'no-cache' }));
    if (!fresh.ok) return false; // a file missing on the server: keep what works
    const old = await cache.match(u);
    if (!old || (await digest(fresh)) !== (await digest(old))) { changed = true; break; }
  }
  if (!changed) return false;
  const next = await fillNewCache();
  current = next;
  await dropOthers(next);
  return true;
}

self.addEventListener('message', (event) => {
  if (event.data?.type !== 'check-update') return;
  if (!checking) {
    checking = checkUpdate().catch(() => false).finally(() => { checking = null; });
  }
  const p = checking.then((updated) => {
    if (updated && event.source) event.source.postMessage({ type: 'update-ready' });
  });
  event.waitUntil(p);
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Network only for the API: no respondWith, the browser fetches as usual.
  if (url.pathname.startsWith('/api/')) return;
  const scope = new URL(self.registration.scope);
  if (!url.pathname.startsWith(scope.pathname)) return;

  event.respondWith((async () => {
    const name = await newestCache();
    const cache = name ? await caches.open(name) : null;
    if (cache) {
      const hit = req.mode === 'navigate'
        ? await cache.match('index.html')
        : await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
    }
    return fetch(req);
  })());
});
