// Parole, the interviewer's phone app. Vanilla ES modules, no build step: this directory is
// served as is at /app/. All the survey logic (validation, skip logic, drafts, the outbox,
// sync) lives in client-core, compiled to WebAssembly (./pkg/, made by `cargo xtask
// build-web`); this file only draws screens and calls it.

import { t, msg, getLang, setLang, UI_LANGUAGES, formatDate, formatBytes } from './i18n.js';
import { el, clear, toast } from './dom.js';
import { FillScreen } from './form.js';
import { downloadBackup as saveBackup, restoreControl } from './backup.js';

const SYNC_EVERY_MS = 60_000;

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
  const info = { persisted: false, usage: null };
  try {
    if (navigator.storage?.persist) {
      info.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
    }
    if (navigator.storage?.estimate) {
      const e = await navigator.storage.estimate();
      info.usage = e.usage ?? null;
    }
  } catch (e) { console.warn('storage:', e); }
  app.storage = info;
  if (app.screen === 'list') renderStorage();
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
  registerServiceWorker();
  const link = readEnrolCode();
  const code = link?.code || '';
  let mod;
  try {
    mod = await import('./pkg/parole_wasm.js');
    await mod.default();
    app.wasm = mod;
    app.client = await mod.ParoleClient.open(window.location.origin);
  } catch (e) {
    console.error(e);
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
  window.addEventListener('popstate', () => {
    if (app.screen === 'fill' && app.fill) app.fill.close();
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
    showEnrol({ code, auto: !!code, malformed: !!link?.malformed });
    return;
  }
  // Enrolled already: a link is a new enrolment (the token was revoked, the phone changes
  // hands), confirmed with one tap; the outbox is kept.
  if (link) showEnrol({ code, malformed: !!link.malformed, reenrol: true, fromLink: true });
  else await showList();
  startSyncLoop();
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
  const { usage, persisted } = app.storage;
  box.append(
    el('p', {}, usage === null ? t('storage_unknown') : t('storage_used', { used: formatBytes(usage) })),
    el('p', { class: persisted ? 'ok' : 'warn' }, persisted ? `✓ ${t('storage_persistent')}` : `⚠ ${t('storage_not_persistent')}`));
}

async function showList() {
  app.screen = 'list';
  app.fill = null;
  const client = app.client;
  const [questionnaires, records, counts] = await Promise.all([
    client.questionnaires(), client.records(), client.counts(),
  ]);
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
      return el('li', { class: 'item item-draft', 'data-id': r.response.id },
        el('div', { class: 'item-title' }, q?.title || r.response.questionnaire),
        el('div', { class: 'item-meta' }, `${t('version_n', { n: r.response.version })} · ${t('started_on', { date: formatDate(r.response.started_at) })}`),
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

  root.append(outbox, ...[refusedCard, conflictCard, drafts.length ? draftsCard : null].filter(Boolean), qCard, storageCard);
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

async function startNew(q) {
  const response = await app.client.newDraft(q.slug, q.version);
  await app.client.saveDraft(response);
  await openRecord({ response, state: 'draft', errors: [] }, q);
}

async function openRecord(record, known) {
  const { questionnaire, version } = record.response;
  const q = known && known.version === version ? known : await app.client.questionnaire(questionnaire, version);
  app.screen = 'fill';
  window.history.pushState({ screen: 'fill' }, '');
  const fill = new FillScreen({
    client: app.client,
    record,
    questionnaire: q,
    onClose: async (message, opts = {}) => {
      if (app.fill !== fill) return;
      app.fill = null;
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
      app.lastSync = new Date();
      app.tokenRefused = report.error?.code === 'unauthorized';
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
