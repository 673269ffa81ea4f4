// One response open in one tab, and the open response remembered across a reload.
//
// Two tabs (or the installed app and a browser tab) on the same draft would each save their
// own copy over the other's. Opening a response therefore claims it: with the Web Locks API
// (`navigator.locks`, released by the browser when the tab closes or crashes), or, where it
// is missing, by asking the other tabs over a BroadcastChannel. A tab that cannot claim it is
// refused with a message; nothing is overwritten.
//
// A reload, or Android killing the tab while the camera app is in front, must bring the
// interviewer back to the response that was open: its id is kept in the tab's sessionStorage
// (which the browser keeps for a reloaded or restored tab, and which a new tab does not
// inherit), and reopened at start unless another tab holds it.

const LOCK_PREFIX = 'parole-response:';
const OPEN_KEY = 'parole.open-response';

/** The ids this tab holds, for the BroadcastChannel fallback. */
const heldHere = new Set();
let channel = null;
try {
  channel = 'BroadcastChannel' in window ? new BroadcastChannel('parole-responses') : null;
} catch (_) { channel = null; }
channel?.addEventListener('message', (e) => {
  const m = e.data;
  if (m?.type === 'who-has' && heldHere.has(m.id)) channel.postMessage({ type: 'have', id: m.id });
});

/** Asks the other tabs whether one has response `id` open (the fallback without Web Locks). */
function someoneHas(id, waitMs) {
  if (!channel) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onMessage = (e) => {
      if (e.data?.type === 'have' && e.data.id === id) { done(true); }
    };
    const timer = setTimeout(() => done(false), waitMs);
    function done(v) {
      clearTimeout(timer);
      channel.removeEventListener('message', onMessage);
      resolve(v);
    }
    channel.addEventListener('message', onMessage);
    channel.postMessage({ type: 'who-has', id });
  });
}

/** Claims response `id` for this tab. Resolves to a function that gives it back, or null when
 * another tab or window of this browser has it open. Waits up to `waitMs` for a tab that is
 * closing (a reload releases the old page's claim a moment after the new page starts). */
export async function claimResponse(id, { waitMs = 800 } = {}) {
  if (heldHere.has(id)) return null;
  if (navigator.locks?.request) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), waitMs);
    let giveBack;
    const held = new Promise((r) => { giveBack = r; });
    const granted = await new Promise((resolve) => {
      navigator.locks.request(LOCK_PREFIX + id, { signal: abort.signal }, () => {
        clearTimeout(timer);
        resolve(true);
        return held;
      }).catch(() => resolve(false));
    });
    if (!granted) return null;
    heldHere.add(id);
    return () => { heldHere.delete(id); giveBack(); };
  }
  if (await someoneHas(id, Math.min(waitMs, 400))) return null;
  heldHere.add(id);
  return () => { heldHere.delete(id); };
}

/** The ids of the responses open in other tabs (empty where the browser cannot say). */
export async function openElsewhere() {
  try {
    if (!navigator.locks?.query) return new Set();
    const { held = [] } = await navigator.locks.query();
    return new Set(held.map((l) => l.name).filter((n) => n?.startsWith(LOCK_PREFIX))
      .map((n) => n.slice(LOCK_PREFIX.length)).filter((id) => !heldHere.has(id)));
  } catch (_) { return new Set(); }
}

/** Remembers the response open in this tab: `{id, questionnaire, version}`. */
export function rememberOpen(info) {
  try { sessionStorage.setItem(OPEN_KEY, JSON.stringify(info)); } catch (_) { /* storage blocked */ }
}

/** Forgets it (the interviewer left it on purpose). */
export function forgetOpen(id) {
  try {
    const v = JSON.parse(sessionStorage.getItem(OPEN_KEY) || 'null');
    if (!v || v.id === id) sessionStorage.removeItem(OPEN_KEY);
  } catch (_) { /* storage blocked or garbled */ }
}

/** The response that was open in this tab when the page went away, or null. */
export function rememberedOpen() {
  try {
    const v = JSON.parse(sessionStorage.getItem(OPEN_KEY) || 'null');
    if (v?.id && v.questionnaire && Number.isInteger(v.version)) return v;
  } catch (_) { /* storage blocked or garbled */ }
  return null;
}
