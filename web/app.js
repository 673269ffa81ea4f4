// Parole, the interviewer's phone app. Vanilla ES modules, no build step: this directory is
// served as is at /app/. All the survey logic (validation, skip logic, drafts, the outbox,
// sync) lives in client-core, compiled to WebAssembly (./pkg/, made by `cargo xtask
// build-web`); this file only draws screens and calls it.

import { t, msg, getLang, setLang, UI_LANGUAGES, formatDate, formatBytes } from './i18n.js';
import { el, clear, toast } from './dom.js';
import { FillScreen } from './form.js';
import { loadClient, waitingClient, readEarly, painted } from './boot.js';
import { hasIndexedDb, isStorageError, showNoStorage, estimateStorage, STORAGE_WARN_RATIO } from './safety.js';
import { claimResponse, openElsewhere, rememberOpen, forgetOpen, rememberedOpen } from './tabs.js';
import { modelsFor, draftLines, outboxLists } from './summary.js';
import { downloadBackup as saveBackup, restoreControl } from './backup.js';

const SYNC_EVERY_MS = 60_000;
const LAST_SYNC_KEY = 'parole.last-sync';

const app = {
  client: null,
  wasm: null,
  enrolment: null,
  screen: null, // 'enrol' | 'list' | 'fill'
  fill: null,
  syncing: null,
  lastSync: null,
  lastSyncMessage: '',
  storage: null,
  listsOpen: {},
};
// For tests and debugging in the console.
window.parole = app;

const main = () => document.getElementById('main');

// ---------------------------------------------------------------------------------------------
// Start-up

/** The enrolment code of an enrolment link (`#enrol=CODE`): `{code}`, `{malformed: true}`
 * for a link cut or garbled on its way (not valid percent-encoding), or null without one. */
function readEnrolCode() {
  const m = /(?:^#|&)enrol=([^&]*)/.exec(window.location.hash);
  if (!m) return null;
  // The code must not stay in the address bar, the history or a bookmark.
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
  try {
    const code = decodeURIComponent(m[1]).trim();
    return code ? { code } : { malformed: true };
  } catch {
    return { malformed: true };
  }
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.register('./sw.js', { scope: './' }).catch((e) => console.warn('service worker:', e));
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === 'update-ready') document.getElementById('update').hidden = false;
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // A new version took over. Drafts and the outbox live in IndexedDB and are untouched;
    // offer a reload instead of doing it under the interviewer's fingers.
    if (!hadController) return;
    const bar = document.getElementById('update');
    if (bar) bar.hidden = false;
  });
}

async function checkStorage() {
  const info = { persisted: false, usage: null, quota: null, ratio: null };
  try {
    if (navigator.storage?.persist) {
      // Asked once per start (a browser may ask the interviewer); then only looked up.
      info.persisted = await navigator.storage.persisted();
      if (!info.persisted && !app.persistAsked) {
        app.persistAsked = true;
        info.persisted = await navigator.storage.persist();
      }
    }
  } catch (e) { console.warn('storage:', e); }
  Object.assign(info, await estimateStorage());
  const wasFull = app.storage?.ratio >= STORAGE_WARN_RATIO;
  app.storage = info;
  if (app.screen === 'list') renderStorage();
  // While a form is open, say it once when the storage crosses the line.
  else if (app.screen === 'fill' && info.ratio >= STORAGE_WARN_RATIO && !wasFull) {
    toast(t('storage_almost_full', { pct: Math.round(info.ratio * 100) }), 'error');
  }
}

function setOnlineBadge() {
  const b = document.getElementById('net');
  if (!b) return;
  const on = navigator.onLine;
  b.textContent = on ? t('online') : t('offline');
  b.className = `net ${on ? 'net-on' : 'net-off'}`;
}

function renderChrome() {
  document.documentElement.lang = getLang();
  const skip = document.querySelector('.skip');
  if (skip) skip.textContent = t('skip_to_content');
  const sw = document.getElementById('lang');
  // Drawn again on a switch: the keyboard's focus stays on the language button.
  const focusedLang = sw.contains(document.activeElement) ? document.activeElement.lang : null;
  clear(sw);
  sw.setAttribute('aria-label', t('lang_switch'));
  for (const l of UI_LANGUAGES) {
    const b = el('button', { type: 'button', class: 'lang-btn', 'aria-pressed': String(l === getLang()), lang: l }, l.toUpperCase());
    b.addEventListener('click', async () => {
      if (l === getLang()) return;
      setLang(l);
      renderChrome();
      if (app.screen === 'fill' && app.fill) {
        await app.fill.flush();
        app.fill.qLang = (app.fill.model.languages || ['fr']).includes(l) ? l : app.fill.qLang;
        app.fill.render();
        await app.fill.schedule({ save: false });
      } else if (app.screen === 'list') await showList();
      else if (app.screen === 'enrol') showEnrol({ keep: true });
    });
    sw.append(b);
    if (l === focusedLang) b.focus();
  }
  setOnlineBadge();
  const upd = document.getElementById('update');
  clear(upd);
  const reload = el('button', { type: 'button', class: 'btn btn-small' }, t('reload'));
  reload.addEventListener('click', () => window.location.reload());
  upd.append(el('span', {}, t('update_ready')), reload);
}

async function start() {
  renderChrome();
  const link = readEnrolCode();
  const code = link?.code || '';
  if (!hasIndexedDb()) {
    showNoStorage(main());
    return;
  }
  // The first screen is drawn from IndexedDB (web/boot.js): the enrolment screen, or the
  // list, inert until the wasm client is ready; the client and the service worker's
  // precache are fetched once it is painted, so they do not delay it.
  const early = await readEarly();
  app.client = waitingClient(loadClient, early || {});
  if (!early) showEnrol({ code, auto: !!code, malformed: !!link?.malformed });
  else if (early.records) {
    main().inert = true;
    await showList().catch((e) => console.warn('early list:', e));
  }
  await painted();
  registerServiceWorker();
  const ready = loadClient();
  try {
    const loaded = await ready;
    app.wasm = loaded.mod;
    app.client = loaded.client;
    main().inert = false;
  } catch (e) {
    main().inert = false;
    console.error(e);
    // The database cannot be opened (private browsing, storage blocked): say why.
    if (isStorageError(e)) { showNoStorage(main(), e); return; }
    clear(main());
    main().append(el('div', { class: 'card banner-error', role: 'alert' },
      el('p', {}, t('load_failed')), el('p', { class: 'small' }, msg(e))));
    return;
  }
  checkStorage();
  window.addEventListener('online', () => {
    setOnlineBadge();
    app.updateAsked = false; // the network is back: check for a new app version again
    syncNow({ quiet: true });
  });
  window.addEventListener('offline', setOnlineBadge);
  window.addEventListener('popstate', async () => {
    if (app.screen !== 'fill' || !app.fill) return;
    // The interviewer chose to stay (a save failed): the screen keeps its history entry.
    if (!(await app.fill.close())) window.history.pushState({ screen: 'fill' }, '');
  });
  // An enrolment link opened in a running app (a new code after a revocation).
  window.addEventListener('hashchange', async () => {
    const again = readEnrolCode();
    if (!again) return;
    if (app.fill) { await app.fill.flush(); app.fill = null; }
    showEnrol({ code: again.code || '', auto: !app.enrolment && !!again.code, malformed: !!again.malformed, reenrol: !!app.enrolment, fromLink: true });
  });
  app.enrolment = await app.client.enrolment();
  if (!app.enrolment) {
    if (app.screen !== 'enrol') showEnrol({ code, auto: !!code, malformed: !!link?.malformed });
    return;
  }
  if (app.screen === 'list' && !early?.records && !link) return; // enrolled while the client loaded
  // Enrolled already: a link is a new enrolment (the token was revoked, the phone changes
  // hands), confirmed with one tap; the outbox is kept.
  if (link) showEnrol({ code, malformed: !!link.malformed, reenrol: true, fromLink: true });
  else await showList();
  startSyncLoop();
  if (!link) await reopenRemembered();
}

/** After a reload, or the system killing the tab while the camera was in front: back to the
 * response that was open (unless another tab has it). One never answered is opened blank. */
async function reopenRemembered() {
  const open = rememberedOpen();
  if (!open || app.screen !== 'list') return;
  try {
    const rec = (await app.client.records()).find((r) => r.response.id === open.id);
    if (rec && (rec.state === 'draft' || rec.state === 'rejected')) {
      if (await openRecord(rec, null, { replace: true, waitMs: 2000 })) toast(t('reopened'));
      return;
    }
    if (!rec) {
      const q = (await app.client.questionnaires()).find((x) => x.slug === open.questionnaire);
      if (q) { await startNew(q, { replace: true }); return; }
    }
  } catch (e) { console.warn('reopen:', e); }
  forgetOpen(open.id);
}

function startSyncLoop() {
  if (app.loop) return;
  app.loop = setInterval(() => syncNow({ quiet: true }), SYNC_EVERY_MS);
  syncNow({ quiet: true });
}

// ---------------------------------------------------------------------------------------------
// Enrolment

/** The enrolment screen; `reenrol`: this phone is enrolled already (its token refused, or a
 * new link opened) and gets a new device token, keeping its outbox and photos. */
function showEnrol({ code = '', auto = false, keep = false, malformed = false, reenrol = false, fromLink = false } = {}) {
  app.screen = 'enrol';
  const root = main();
  if (keep) ({ reenrol, fromLink } = app.enrolScreen || {});
  app.enrolScreen = { reenrol, fromLink };
  const prevCode = keep ? root.querySelector('#enrol-code')?.value : code;
  const prevName = keep ? root.querySelector('#enrol-name')?.value : (reenrol ? app.enrolment?.device_name : null);
  clear(root);
  const codeInput = el('input', { id: 'enrol-code', class: 'input input-code', type: 'text', autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false', 'aria-describedby': 'enrol-error' });
  codeInput.value = prevCode || '';
  const nameInput = el('input', { id: 'enrol-name', class: 'input', type: 'text', autocomplete: 'off', maxlength: '80' });
  nameInput.value = prevName || t('enrol_device_default');
  const error = el('div', { id: 'enrol-error', class: 'q-error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, t(reenrol ? 'reenrol' : 'enrol_submit'));
  const cancel = reenrol ? el('button', { type: 'button', class: 'btn btn-ghost' }, t('reenrol_cancel')) : null;
  cancel?.addEventListener('click', async () => { await showList(); focusMain(); });
  const form = el('form', { class: 'card enrol', novalidate: true },
    el('h1', {}, t(reenrol ? 'reenrol' : 'enrol_title')),
    reenrol && fromLink ? el('p', { class: 'warn' }, t('reenrol_link')) : null,
    el('p', {}, t(reenrol ? 'reenrol_intro' : 'enrol_intro')),
    reenrol ? el('p', { class: 'small' }, t('reenrol_same_person')) : null,
    el('div', { class: 'q' }, el('label', { for: 'enrol-code', class: 'q-title' }, t('enrol_code')), codeInput),
    el('div', { class: 'q' }, el('label', { for: 'enrol-name', class: 'q-title' }, t('enrol_device')), nameInput),
    error, el('div', { class: 'row' }, submit, cancel));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(error);
    const c = codeInput.value.trim();
    if (!c) { error.append(el('p', {}, t('enrol_code_missing'))); codeInput.focus(); return; }
    submit.disabled = true;
    submit.textContent = t('enrol_busy');
    try {
      await app.client.enrol(c, nameInput.value.trim() || t('enrol_device_default'));
      app.enrolment = await app.client.enrolment();
      app.tokenRefused = false;
      toast(t(reenrol ? 'reenrol_done' : 'enrol_done'));
      app.lastSyncMessage = '';
      await syncNow({ quiet: true });
      await showList();
      focusMain();
      startSyncLoop();
    } catch (e) {
      console.warn('enrol:', e);
      const offline = !navigator.onLine || e?.code === 'network' || e?.code === 'offline';
      error.append(el('p', {}, offline && !e?.message ? t('enrol_offline') : msg(e) || t('enrol_offline')));
      submit.disabled = false;
      submit.textContent = t('enrol_submit');
      codeInput.focus();
    }
  });
  root.append(form);
  if (malformed) error.append(el('p', {}, t('enrol_link_broken')));
  if (auto) form.requestSubmit();
  else if (!codeInput.value) codeInput.focus();
}

// ---------------------------------------------------------------------------------------------
// The list: questionnaires, drafts, outbox

function section(title, ...children) {
  const id = `h-${title.replace(/\W+/g, '-')}`;
  return el('section', { class: 'card', 'aria-labelledby': id }, el('h2', { id }, title), ...children);
}

function renderStorage() {
  const box = document.getElementById('storage-info');
  if (!box || !app.storage) return;
  clear(box);
  const { usage, quota, ratio, persisted } = app.storage;
  const used = usage === null ? t('storage_unknown')
    : quota ? t('storage_quota', { used: formatBytes(usage), quota: formatBytes(quota), pct: Math.round(ratio * 100) })
      : t('storage_used', { used: formatBytes(usage) });
  box.append(
    el('p', {}, used),
    el('p', { class: persisted ? 'ok' : 'warn' }, persisted ? `✓ ${t('storage_persistent')}` : `⚠ ${t('storage_not_persistent')}`));
  // Well before it is full: at the top of the list, where it is seen.
  const full = document.getElementById('storage-full');
  if (full) {
    clear(full);
    full.hidden = !(ratio >= STORAGE_WARN_RATIO);
    if (!full.hidden) full.append(el('p', {}, `⚠ ${t('storage_almost_full', { pct: Math.round(ratio * 100) })}`));
  }
}

async function showList() {
  app.screen = 'list';
  app.fill = null;
  const client = app.client;
  // Drawn early (web/boot.js, the module still on its way): only what IndexedDB gave, so
  // that nothing waits for the module; drawn again once it is ready.
  const ready = app.wasm !== null;
  const [questionnaires, records, counts, photosWaiting, elsewhere] = await Promise.all([
    client.questionnaires(), client.records(), client.counts(),
    ready ? client.photosToUpload().catch(() => 0) : 0, openElsewhere(),
  ]);
  const listed = records.filter((r) => r.state === 'draft' || r.state === 'queued' || r.state === 'synced');
  const models = ready ? await modelsFor(client, listed) : new Map();
  const draftInfo = new Map();
  if (ready) {
    for (const r of records.filter((x) => x.state === 'draft')) draftInfo.set(r.response.id, await draftLines(client, models, r));
  }
  if (app.screen !== 'list') return;
  const root = main();
  const scroll = window.scrollY;
  // The list is drawn again after every sync (every minute): the keyboard's focus must not be
  // thrown back to the top of the page each time. Every button has a stable `data-focus`.
  const focused = document.activeElement;
  const focusKey = root.contains(focused) ? focused.dataset?.focus : null;
  clear(root);

  // Outbox
  const syncBtn = el('button', { type: 'button', class: counts.queued ? 'btn btn-primary' : 'btn btn-secondary btn-wide', id: 'sync-btn', 'data-focus': 'sync' }, t('sync_now'));
  syncBtn.addEventListener('click', () => { if (!app.syncing) syncNow({ quiet: false }); });
  // aria-disabled rather than disabled: a disabled button loses the keyboard's focus.
  if (app.syncing) { syncBtn.setAttribute('aria-disabled', 'true'); syncBtn.textContent = t('syncing'); }
  const count = (n, label, cls, key) => el('div', { class: `count ${cls}`, 'data-count': key },
    el('span', { class: 'count-n' }, String(n)), el('span', { class: 'count-label' }, label));
  // The token is refused (the device was revoked): the way out keeps the outbox.
  let refusedToken = null;
  if (app.tokenRefused) {
    const again = el('button', { type: 'button', class: 'btn btn-primary', id: 'reenrol-now', 'data-focus': 'reenrol-now' }, t('reenrol'));
    again.addEventListener('click', () => showEnrol({ reenrol: true }));
    refusedToken = el('div', { class: 'banner banner-error', role: 'alert' }, el('p', {}, t('reenrol_needed')), again);
  }
  const outbox = section(t('outbox'),
    refusedToken,
    el('div', { class: 'counts' },
      count(counts.queued, t('to_send'), 'c-queued', 'queued'),
      count(counts.synced, t('sent'), 'c-synced', 'synced'),
      count(counts.rejected, t('refused'), counts.rejected ? 'c-rejected' : '', 'rejected')),
    counts.conflict ? el('p', { class: 'warn' }, `${counts.conflict} ${t('conflicts')}`) : null,
    el('p', { class: 'sync-msg', id: 'sync-msg', 'aria-live': 'polite' }, app.lastSyncMessage || ''),
    el('p', { class: 'small last-sync', id: 'last-sync' }, lastSyncText()),
    photosWaiting ? el('p', { class: 'small warn', id: 'photos-waiting' }, t('photos_to_upload', { n: photosWaiting })) : null,
    ...outboxLists(records, questionnaires, models, app.listsOpen),
    syncBtn);
  outbox.id = 'outbox';

  // Refused responses, with the server's reasons
  const rejected = records.filter((r) => r.state === 'rejected');
  let refusedCard = null;
  if (rejected.length) {
    refusedCard = section(t('refused_title'),
      el('ul', { class: 'items' }, ...rejected.map((r) => {
        const q = questionnaires.find((x) => x.slug === r.response.questionnaire);
        // A response on a retired version cannot be corrected into one the server takes:
        // say so, and offer to look at it rather than to correct it.
        const retired = (r.errors || []).some((e) => e.code === 'version_revoked');
        const open = el('button', { type: 'button', class: 'btn btn-secondary', 'data-focus': `open:${r.response.id}` }, t(retired ? 'review' : 'correct'));
        open.addEventListener('click', () => openRecord(r));
        return el('li', { class: `item item-rejected${retired ? ' item-retired' : ''}`, 'data-id': r.response.id },
          el('div', { class: 'item-title' }, q?.title || r.response.questionnaire),
          el('div', { class: 'item-meta' }, `${t('version_n', { n: r.response.version })} · ${t('started_on', { date: formatDate(r.response.started_at) })}`),
          el('p', { class: 'small' }, t('refused_reasons')),
          el('ul', { class: 'reasons' }, ...(r.errors || []).map((e) => el('li', {}, msg(e)))),
          retired ? el('p', { class: 'small warn' }, t('refused_retired')) : null,
          open);
      })));
    refusedCard.id = 'refused';
  }
  const conflicts = records.filter((r) => r.state === 'conflict');
  const conflictCard = conflicts.length ? section(t('conflict_title'), el('p', { class: 'small' }, t('conflict_help')),
    el('ul', { class: 'items' }, ...conflicts.map((r) => el('li', { class: 'item' },
      el('div', { class: 'item-title' }, r.response.questionnaire),
      el('div', { class: 'item-meta' }, t('started_on', { date: formatDate(r.response.started_at) })))))) : null;

  // Drafts
  const drafts = records.filter((r) => r.state === 'draft')
    .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  const draftsCard = section(t('drafts'),
    el('ul', { class: 'items' }, ...drafts.map((r) => {
      const q = questionnaires.find((x) => x.slug === r.response.questionnaire);
      const resume = el('button', { type: 'button', class: 'btn btn-primary', 'data-focus': `resume:${r.response.id}` }, t('resume'));
      resume.addEventListener('click', () => openRecord(r));
      const del = el('button', { type: 'button', class: 'btn btn-ghost', 'data-focus': `delete:${r.response.id}` }, t('delete'));
      del.addEventListener('click', async () => {
        if (!window.confirm(t('delete_confirm'))) return;
        await app.client.deleteDraft(r.response.id);
        await showList();
      });
      const info = draftInfo.get(r.response.id) || {};
      return el('li', { class: 'item item-draft', 'data-id': r.response.id },
        el('div', { class: 'item-title' }, q?.title || r.response.questionnaire),
        info.name, info.progress,
        el('div', { class: 'item-meta' }, `${t('version_n', { n: r.response.version })} · ${t('started_on', { date: formatDate(r.response.started_at) })}`),
        elsewhere.has(r.response.id) ? el('p', { class: 'small warn' }, t('open_elsewhere_badge')) : null,
        el('div', { class: 'row' }, resume, del));
    })));
  draftsCard.id = 'drafts';

  // Questionnaires
  const qCard = section(t('questionnaires'),
    questionnaires.length === 0 ? el('p', { class: 'muted' }, t('no_questionnaires')) : el('ul', { class: 'items' }, ...questionnaires.map((q) => {
      const title = q.model?.i18n?.[getLang()]?.title ?? q.title;
      const go = el('button', { type: 'button', class: 'btn btn-primary', 'aria-label': `${t('start')} : ${title}`, 'data-focus': `start:${q.slug}` }, t('start'));
      go.addEventListener('click', () => startNew(q));
      return el('li', { class: 'item item-questionnaire', 'data-slug': q.slug },
        el('div', { class: 'item-title' }, title),
        el('div', { class: 'item-meta' }, t('version_n', { n: q.version })),
        go);
    })));
  qCard.id = 'questionnaires';

  // Storage and backup
  const backupBtn = el('button', { type: 'button', class: 'btn btn-secondary', id: 'backup-btn', 'data-focus': 'backup' }, '⬇ ', t('backup'));
  backupBtn.addEventListener('click', downloadBackup);
  const reenrolBtn = el('button', { type: 'button', class: 'btn btn-ghost', id: 'reenrol-btn', 'data-focus': 'reenrol' }, t('reenrol'));
  reenrolBtn.addEventListener('click', () => showEnrol({ reenrol: true }));
  const storageCard = section(t('storage'), el('div', { id: 'storage-info' }),
    el('p', { class: 'small' }, t('backup_help')), backupBtn,
    restoreControl(client, () => syncNow({ quiet: false })),
    reenrolBtn,
    el('p', { class: 'small muted' },
      app.enrolment?.device_name ? t('device', { name: app.enrolment.device_name }) : '',
      app.wasm?.version ? ` · ${t('app_version', { v: app.wasm.version() })}` : ''));

  const storageFull = el('div', { class: 'card alert-card', id: 'storage-full', role: 'alert', hidden: true });
  const refusedHere = el('div', { class: 'card alert-card', id: 'open-refused', role: 'alert', hidden: !app.refusedMessage },
    app.refusedMessage ? el('p', {}, app.refusedMessage) : null);
  app.refusedMessage = null;
  root.append(refusedHere, storageFull, outbox, ...[refusedCard, conflictCard, drafts.length ? draftsCard : null].filter(Boolean), qCard, storageCard);
  renderStorage();
  window.scrollTo(0, scroll);
  if (focusKey) root.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
}

/** After a screen change the focused control is gone: the keyboard starts again from the
 * new screen's content rather than from the top of the page. */
function focusMain() {
  const a = document.activeElement;
  if (!a || a === document.body || !a.isConnected) main().focus({ preventScroll: true });
}

/** Opens a blank response. It is saved as a draft at its first answer: opening a form and
 * leaving it leaves nothing behind. */
async function startNew(q, opts = {}) {
  const response = await app.client.newDraft(q.slug, q.version);
  await openRecord({ response, state: 'draft', errors: [] }, q, opts);
}

/** Opens a response on the fill screen, if no other tab has it open. Resolves true once
 * open; false (the list says why) when another tab holds it. */
async function openRecord(record, known, { replace = false, waitMs } = {}) {
  const { id, questionnaire, version } = record.response;
  const release = await claimResponse(id, { waitMs });
  if (!release) {
    app.refusedMessage = t('open_elsewhere');
    await showList();
    focusMain();
    return false;
  }
  let q;
  try {
    // What is stored now, not what the list showed: another tab may have changed it since.
    const stored = (await app.client.records()).find((r) => r.response.id === id);
    if (stored && stored.state !== 'draft' && stored.state !== 'rejected') {
      release();
      await showList();
      return false;
    }
    if (stored) record = stored;
    q = known && known.version === version ? known : await app.client.questionnaire(questionnaire, version);
  } catch (e) {
    release();
    throw e;
  }
  app.screen = 'fill';
  rememberOpen({ id, questionnaire, version });
  // A reopened response takes over the history entry the reload kept.
  if (replace && window.history.state?.screen === 'fill') window.history.replaceState({ screen: 'fill' }, '');
  else window.history.pushState({ screen: 'fill' }, '');
  checkStorage();
  const fill = new FillScreen({
    client: app.client,
    record,
    questionnaire: q,
    onClose: async (message, opts = {}) => {
      if (app.fill !== fill) return;
      app.fill = null;
      forgetOpen(id);
      release();
      if (window.history.state?.screen === 'fill') window.history.back();
      await showList();
      window.scrollTo(0, 0);
      focusMain();
      if (message) toast(message);
      if (opts.sync) syncNow({ quiet: true });
      if (opts.next) await startNew(q);
    },
  });
  app.fill = fill;
  window.scrollTo(0, 0);
  await fill.mount(main());
  main().querySelector('.fill-title')?.focus?.();
  return true;
}

function lastSyncText() {
  let at = app.lastSync;
  if (!at) {
    try { at = localStorage.getItem(LAST_SYNC_KEY); } catch (_) { at = null; }
  }
  return at ? t('last_sync', { time: formatDate(at instanceof Date ? at.toISOString() : at) }) : t('never_synced');
}

// ---------------------------------------------------------------------------------------------
// Sync and backup

async function syncNow({ quiet }) {
  if (!app.client || !app.enrolment) return null;
  if (app.syncing) return app.syncing;
  if (!navigator.onLine) {
    if (!quiet) { app.lastSyncMessage = t('sync_offline'); await refreshList(); }
    return null;
  }
  const btn = document.getElementById('sync-btn');
  if (btn) { btn.setAttribute('aria-disabled', 'true'); btn.textContent = t('syncing'); }
  app.syncing = (async () => {
    let report = null;
    try {
      try {
        await app.client.pull();
      } catch (e) { console.warn('pull:', e); }
      report = await app.client.sync();
      app.tokenRefused = report.error?.code === 'unauthorized';
      if (!report.error) {
        app.lastSync = new Date();
        try { localStorage.setItem(LAST_SYNC_KEY, app.lastSync.toISOString()); } catch (_) { /* blocked */ }
      }
      if (report.error) {
        app.lastSyncMessage = t('sync_error', { message: msg(report.error) });
      } else if (!report.sent && !report.photos_sent) {
        app.lastSyncMessage = quiet && app.lastSyncMessage ? app.lastSyncMessage : t('sync_nothing');
      } else {
        app.lastSyncMessage = t('sync_ok', { accepted: (report.accepted || 0) + (report.duplicate || 0), rejected: report.rejected || 0 });
      }
    } catch (e) {
      console.warn('sync:', e);
      app.lastSyncMessage = t('sync_error', { message: msg(e) });
      report = { error: e };
    } finally {
      app.syncing = null;
    }
    // A signal that comes back is often shaky: retry soon (3 s, 6 s, … up to the minute)
    // rather than at the next minute's tick.
    clearTimeout(app.retryTimer);
    if (report?.error) {
      app.retryDelay = Math.min(SYNC_EVERY_MS, (app.retryDelay || 1500) * 2);
      app.retryTimer = setTimeout(() => syncNow({ quiet: true }), app.retryDelay);
    } else {
      app.retryDelay = 0;
      // Once per start (and per return of the network), with the network known to work:
      // is there a new app version?
      if (!app.updateAsked && navigator.serviceWorker?.controller) {
        app.updateAsked = true;
        navigator.serviceWorker.controller.postMessage({ type: 'check-update' });
      }
    }
    await refreshList();
    checkStorage(); // every minute: the warning comes well before the storage is full
    return report;
  })();
  return app.syncing;
}

async function refreshList() {
  if (app.screen === 'list') await showList();
}

async function downloadBackup() {
  await saveBackup(app.client);
}

app.syncNow = syncNow;
app.showList = showList;
start();
