// When the phone's storage fails: say so loudly, never lose what is on screen.
//
// - A storage error (IndexedDB refusing a write: quota exhausted, storage evicted or broken)
//   is an error the interviewer sees (role=alert), never a line in the "saved" slot.
// - Leaving a response whose last answers could not be saved asks first: stay, download a
//   backup of the response as it is on screen, or leave.
// - The storage used is compared with the quota the browser grants, with a warning well
//   before it is full.
// - Without IndexedDB at all (private browsing, a locked-down browser) the app explains why
//   nothing can be kept and what to do.

import { t, msg } from './i18n.js';
import { el, clear } from './dom.js';

/** Above this share of the quota, the app warns. */
export const STORAGE_WARN_RATIO = 0.8;

const BACKUP_FORMAT = 'parole-backup/1';

/** Whether `e` is the phone's storage failing (rather than, say, an invalid answer). */
export function isStorageError(e) {
  if (!e) return false;
  if (e.code === 'storage' || e.code === 'corrupt') return true;
  return ['QuotaExceededError', 'UnknownError', 'InvalidStateError'].includes(e.name)
    || /QuotaExceeded|IndexedDB|IDB/.test(String(e.message || ''));
}

/** Whether this browser can keep anything at all (IndexedDB is there). */
export function hasIndexedDb() {
  try {
    return typeof window.indexedDB === 'object' && window.indexedDB !== null;
  } catch (_) { return false; }
}

/** `{usage, quota, ratio}` from `navigator.storage.estimate()`; nulls where unknown. */
export async function estimateStorage() {
  try {
    if (!navigator.storage?.estimate) return { usage: null, quota: null, ratio: null };
    const { usage = null, quota = null } = await navigator.storage.estimate();
    const ratio = usage !== null && quota ? usage / quota : null;
    return { usage, quota, ratio };
  } catch (_) {
    return { usage: null, quota: null, ratio: null };
  }
}

/** The screen shown when the browser gives the app no storage. */
export function showNoStorage(root, error) {
  clear(root);
  root.append(el('section', { class: 'card no-storage', role: 'alert', 'aria-labelledby': 'no-storage-title' },
    el('h1', { id: 'no-storage-title' }, t('no_storage_title')),
    el('p', {}, t('no_storage_why')),
    el('p', {}, t('no_storage_what')),
    el('ul', {},
      el('li', {}, t('no_storage_private')),
      el('li', {}, t('no_storage_settings')),
      el('li', {}, t('no_storage_browser'))),
    error ? el('p', { class: 'small muted' }, msg(error)) : null));
}

function localNow() {
  const d = new Date();
  const off = -d.getTimezoneOffset();
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  return `${local}${off >= 0 ? '+' : '-'}${pad(off / 60)}:${pad(off % 60)}`;
}

function photoRefs(value, out = new Set()) {
  if (typeof value === 'string') {
    if (/^sha256:[0-9a-f]{64}$/.test(value)) out.add(value);
  } else if (Array.isArray(value)) value.forEach((v) => photoRefs(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => photoRefs(v, out));
  return out;
}

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Downloads a backup file (`parole-backup/1`, the phone's format) holding the one response
 * on screen as it is now, with the photos it names that the phone can still read: what
 * storage could not keep leaves the phone another way. Resolves to the file name. */
export async function downloadResponseBackup(client, { response, state, errors }) {
  const photos = [];
  for (const ref of photoRefs(response.answers)) {
    try {
      const p = await client.getPhoto(ref);
      if (p) photos.push({ ref, mime: p.mime, base64: base64(new Uint8Array(p.bytes)) });
    } catch (_) { /* unreadable: the answers still go */ }
  }
  const doc = {
    format: BACKUP_FORMAT,
    device_id: response.device_id ?? null,
    created_at: localNow(),
    responses: [{ response, state, errors: errors || [], server_hash: null, updated_at: new Date().toISOString() }],
    photos,
  };
  const stamp = localNow().slice(0, 16).replace(/[T:]/g, '-');
  const file = `parole-sauvegarde-reponse-${stamp}.json`;
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc)], { type: 'application/json' }));
  const a = el('a', { href: url, download: file, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return file;
}

/** Asks what to do with a response whose last answers could not be saved. Resolves true to
 * leave, false to stay. `backup()` downloads the response as it is on screen. */
export function askBeforeLeaving(backup) {
  return new Promise((resolve) => {
    const note = el('p', { class: 'small', 'aria-live': 'polite' });
    const stay = el('button', { type: 'button', class: 'btn btn-primary' }, t('leave_stay'));
    const save = el('button', { type: 'button', class: 'btn btn-secondary' }, '⬇ ', t('leave_backup'));
    const leave = el('button', { type: 'button', class: 'btn btn-ghost btn-danger' }, t('leave_anyway'));
    const dialog = el('dialog', { class: 'leave-dialog', 'aria-labelledby': 'leave-title', 'aria-describedby': 'leave-why' },
      el('h2', { id: 'leave-title' }, t('leave_title')),
      el('p', { id: 'leave-why' }, t('leave_why')),
      note,
      el('div', { class: 'dialog-actions' }, stay, save, leave));
    const done = (v) => { dialog.close(); dialog.remove(); resolve(v); };
    stay.addEventListener('click', () => done(false));
    leave.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    save.addEventListener('click', async () => {
      save.disabled = true;
      try {
        const file = await backup();
        note.textContent = t('backup_done', { file });
      } catch (e) {
        note.textContent = msg(e);
      } finally {
        save.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    stay.focus();
  });
}
