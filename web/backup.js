// The backup file on the phone: downloaded in pieces, restored from a file the interviewer
// picks. The file's format is client-core's `parole-backup/1` (client-core/src/backup.rs),
// the one `parole import-backup` reads too.

import { t, msg } from './i18n.js';
import { el, toast } from './dom.js';

const TYPE = 'application/json';
/** Pieces are handed to the browser's blob storage (which can keep them on disk) once this
 * much text has gathered, so the page never holds the whole file. */
const FLUSH_CHARS = 1 << 20;

/** The backup as a `Blob`, written piece by piece by client-core (`writeBackup`): one piece
 * per photo, never one string of every photo. */
export async function backupBlob(client) {
  let blob = new Blob([], { type: TYPE });
  let parts = [];
  let size = 0;
  const flush = () => {
    blob = new Blob([blob, ...parts], { type: TYPE });
    parts = [];
    size = 0;
  };
  await client.writeBackup((piece) => {
    parts.push(piece);
    size += piece.length;
    if (size >= FLUSH_CHARS) flush();
  });
  flush();
  return blob;
}

/** Downloads the backup file (`parole-sauvegarde-YYYY-MM-DD-HHMM.json`). */
export async function downloadBackup(client) {
  try {
    const blob = await backupBlob(client);
    const d = new Date();
    const pad = (n) => String(n).padStart(2, '0');
    const file = `parole-sauvegarde-${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}.json`;
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: file, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    toast(t('backup_done', { file }));
  } catch (e) {
    toast(msg(e), 'error');
  }
}

/** The "restore a backup" control: a button that opens the file picker. The picked file's
 * responses are taken in (those this phone holds are left as they are), then `onDone(result)`
 * runs (the app syncs: a response the server already has comes back as a duplicate). */
export function restoreControl(client, onDone) {
  const input = el('input', { type: 'file', id: 'restore-file', accept: '.json,application/json', class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true' });
  const button = el('button', { type: 'button', class: 'btn btn-secondary', id: 'restore-btn', 'data-focus': 'restore' }, '⬆ ', t('restore'));
  const status = el('p', { class: 'small', id: 'restore-status', role: 'status' });
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    button.setAttribute('aria-disabled', 'true');
    status.textContent = t('restore_busy');
    try {
      const r = await client.restoreBackup(new Uint8Array(await file.arrayBuffer()));
      const text = [t('restore_done', { taken: r.taken, held: r.held }),
        r.photos_damaged ? t('restore_damaged', { n: r.photos_damaged }) : ''].filter(Boolean).join(' ');
      status.textContent = text;
      toast(text);
      await onDone?.(r);
    } catch (e) {
      console.warn('restore:', e);
      const text = t('restore_failed', { message: msg(e) });
      status.textContent = text;
      toast(text, 'error');
    } finally {
      input.value = '';
      button.removeAttribute('aria-disabled');
    }
  });
  return el('div', { class: 'restore' }, el('p', { class: 'small' }, t('restore_help')), button, input, status);
}
