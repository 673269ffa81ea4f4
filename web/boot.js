// The first screen before the WebAssembly client is ready (issue 10, "Light").
//
// The first screen is drawn from IndexedDB alone: the enrolment screen when this phone holds
// no enrolment, else the list (questionnaires, drafts, outbox), inert until the client is
// there. Once it is painted, the wasm module (web/pkg/, ~200 KB with brotli) is fetched and
// compiled in the background. Until then `app.client` is a stand-in whose methods load the
// real client and wait for it (the list's reads are answered from IndexedDB), so a code
// typed or an enrolment link followed during the load is sent once it is there.

/** Starts loading the wasm client once; resolves to `{mod, client}`. */
let loading = null;
export function loadClient() {
  if (!loading) {
    loading = (async () => {
      const mod = await import('./pkg/parole_wasm.js');
      await mod.default();
      const client = await mod.ParoleClient.open(window.location.origin);
      return { mod, client };
    })();
  }
  return loading;
}

/**
 * What the list screen shows, read from IndexedDB without the wasm client (the layout of
 * client-wasm/src/idb_storage.rs: `meta` and `outbox` hold JSON text): `null` when this phone
 * surely holds no enrolment (no database `parole`, or no token); `{}` when it may, but could
 * not be read here; else `{questionnaires, records, counts}`, as the client's methods of
 * those names return them (questionnaires with only the model's `i18n` titles). Never
 * creates the database: the client does, at its version, with its stores.
 */
export function readEarly() {
  return new Promise((resolve) => {
    let req;
    try {
      req = indexedDB.open('parole');
    } catch {
      resolve({});
      return;
    }
    req.onupgradeneeded = () => {
      // No database yet: opening it here would create it empty. Cancel: not enrolled.
      req.transaction.abort();
      resolve(null);
    };
    req.onerror = () => resolve({});
    req.onblocked = () => resolve({});
    req.onsuccess = () => {
      const db = req.result;
      const done = (v) => { db.close(); resolve(v); };
      try {
        if (!db.objectStoreNames.contains('meta') || !db.objectStoreNames.contains('outbox')) { done(null); return; }
        const tx = db.transaction(['meta', 'outbox'], 'readonly');
        const token = tx.objectStore('meta').get('token');
        const pulled = tx.objectStore('meta').get('questionnaires');
        const outbox = tx.objectStore('outbox').getAll();
        tx.oncomplete = () => {
          try {
            const tok = token.result == null ? null : JSON.parse(token.result);
            if (tok == null) { done(null); return; }
            done(early(JSON.parse(pulled.result ?? 'null') || [], outbox.result.map((t) => JSON.parse(t))));
          } catch { done({}); }
        };
        tx.onerror = () => done({});
      } catch {
        done({});
      }
    };
  });
}

/** The latest version of each questionnaire (as `ParoleClient.questionnaires`), the records
 * (as `records`, in id order like the store's keys) and their counts by state. */
function early(pulled, records) {
  const latest = [];
  for (const q of pulled) {
    const i = latest.findIndex((l) => l.slug === q.slug);
    if (i < 0) latest.push(q);
    else if (latest[i].version < q.version) latest[i] = q;
  }
  const questionnaires = latest.map((q) => ({
    slug: q.slug,
    version: q.version,
    title: q.title,
    model: { i18n: Object.fromEntries(Object.entries(q.document?.['x-i18n'] || {}).map(([l, v]) => [l, { title: v?.title }])) },
    document: q.document,
  }));
  const counts = { drafts: 0, queued: 0, synced: 0, rejected: 0, conflict: 0 };
  const key = { draft: 'drafts', queued: 'queued', synced: 'synced', rejected: 'rejected', conflict: 'conflict' };
  for (const r of records) if (key[r.state]) counts[key[r.state]] += 1;
  return { questionnaires, records, counts };
}

/** A stand-in for the client until it is ready: each method call loads the real one
 * (`load()`) and waits for it, except the list's reads, answered from `data` (from
 * `readEarly`) when given. */
export function waitingClient(load, data = {}) {
  return new Proxy({}, {
    get(_, name) {
      if (name === 'then') return undefined; // not a thenable
      if (typeof name === 'string' && data[name]) return async () => data[name];
      return (...args) => load().then(({ client }) => client[name](...args));
    },
  });
}

/** Resolves once what is drawn has been painted (after the next frame; at most 200 ms, as a
 * hidden tab draws no frame). */
export function painted() {
  return new Promise((resolve) => {
    setTimeout(resolve, 200);
    requestAnimationFrame(() => setTimeout(resolve, 0));
  });
}
