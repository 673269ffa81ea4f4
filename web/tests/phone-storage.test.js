// The phone's storage in the street (issue 10, points 1, 4 and 5): a revoked phone is
// re-enrolled without losing its outbox; a sent response's answers and photos leave the
// phone; a backup is written in pieces and restored on another phone, nothing doubled.
// Headless Debian chromium at 360 × 640 against a real `parole serve`.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, adminApi, appOrigin, launchPhone, tinyPng, SHOTS, axeViolations, formatViolations,
} from './helpers.js';

const SLUG = 'petite-enquete';
const TITLE = 'Petite enquête';
const T = 120_000;
const DOC = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: TITLE,
  type: 'object',
  properties: {
    quartier: { type: 'string', title: 'Quartier', maxLength: 80 },
    photo: { type: 'string', 'x-widget': 'photo', pattern: '^sha256:[0-9a-f]{64}$', title: 'Photo du lieu' },
  },
  required: ['quartier'],
  additionalProperties: false,
};

let server;
let front;
let api;
let origin;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish(SLUG, DOC);
  front = await appOrigin(server);
  origin = front.origin;
});

after(async () => {
  await front?.stop();
  await server?.stop();
});

/** Runs `body(phone)` on a fresh phone; on failure prints its console and keeps a screenshot. */
async function withPhone(t, body) {
  const phone = await launchPhone();
  try {
    await body(phone);
  } catch (e) {
    console.log(`--- browser console (${t.name}) ---\n${phone.logs.join('\n')}\n---`);
    for (const [i, p] of phone.context.pages().entries()) {
      await p.screenshot({ path: `${SHOTS}/failure-storage-${t.name.replace(/\W+/g, '-').slice(0, 40)}-${i}.png` }).catch(() => {});
    }
    throw e;
  } finally {
    await phone.close();
  }
}

async function openWithCode(context, code) {
  const page = await context.newPage();
  await page.goto(`${origin}/app/#enrol=${encodeURIComponent(code)}`);
  return page;
}

async function enrol(context, interviewerName) {
  const interviewer = await api.interviewer(interviewerName);
  const page = await openWithCode(context, interviewer.enrolment_code);
  await page.locator('.item-questionnaire', { hasText: TITLE }).waitFor();
  return { page, interviewer };
}

async function newCode(interviewer) {
  const r = await api.call('POST', `/api/v1/interviewers/${interviewer.id}/enrolment-code`, {}, { expect: 201 });
  return r.json.enrolment_code;
}

/** Fills and finishes one response through the screens; `photos`: the PNGs to take in turn
 * (a second one retakes the first). Returns the response's id. */
async function fillOne(page, quartier, photos = []) {
  await page.locator('.item-questionnaire', { hasText: TITLE }).getByRole('button', { name: /Commencer/ }).click();
  await page.locator('.fill-title').waitFor();
  await page.getByLabel('Quartier').fill(quartier);
  for (const png of photos) {
    const before = await page.locator('.q-photo img.thumb').getAttribute('data-ref');
    await page.getByLabel('Photo du lieu').setInputFiles({ name: 'lieu.png', mimeType: 'image/png', buffer: png });
    await page.waitForFunction((b) => {
      const img = document.querySelector('.q-photo img.thumb');
      return img && !img.hidden && img.dataset.ref && img.dataset.ref !== b;
    }, before);
  }
  await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
  const id = await page.evaluate(() => window.parole.fill.response.id);
  await page.getByRole('button', { name: 'Terminer', exact: true }).click();
  await page.locator('#outbox').waitFor();
  return id;
}

/** What IndexedDB holds, read directly: the outbox records (parsed) and the photos' keys and
 * `stored_at`. */
async function readIdb(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('parole');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['outbox', 'photos', 'meta'], 'readonly');
      const out = {};
      const records = tx.objectStore('outbox').getAll();
      records.onsuccess = () => { out.records = records.result.map((t) => JSON.parse(t)); };
      out.photos = [];
      const cursor = tx.objectStore('photos').openCursor();
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return;
        out.photos.push({ ref: c.key, uploaded: c.value.uploaded, stored_at: c.value.stored_at });
        c.continue();
      };
      const token = tx.objectStore('meta').get('token');
      token.onsuccess = () => { out.token = token.result ? JSON.parse(token.result) : null; };
      tx.oncomplete = () => { db.close(); resolve(out); };
      tx.onerror = () => reject(tx.error);
    };
  }));
}

/** Makes a stored photo look taken `ms` ago (as if the phone had been left for a while). */
async function agePhoto(page, ref, ms) {
  await page.evaluate(({ ref, ms }) => new Promise((resolve, reject) => {
    const open = indexedDB.open('parole');
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('photos', 'readwrite');
      const store = tx.objectStore('photos');
      const get = store.get(ref);
      get.onsuccess = () => store.put({ ...get.result, stored_at: Date.now() - ms }, ref);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
    open.onerror = () => reject(open.error);
  }), { ref, ms });
}

const counts = (page) => page.evaluate(() => window.parole.client.counts());
const countShown = (page, key, n) => page.locator(`[data-count="${key}"] .count-n`, { hasText: String(n) }).waitFor({ timeout: 30_000 });

async function onServer(ids) {
  const lines = await api.exportNdjson(SLUG);
  return ids.map((id) => lines.filter((l) => l.id === id));
}

async function attachmentStatus(ref) {
  const r = await fetch(`${server.base}/api/v1/attachments/${ref}`, { method: 'HEAD', headers: { authorization: `Bearer ${api.token}` } });
  return r.status;
}

describe('the phone\'s storage', { timeout: 4 * T }, () => {
  test('a revoked phone is re-enrolled with a new link: its unsent response and photo arrive once, under the new token', { timeout: T }, async (t) => {
    await withPhone(t, async ({ context }) => {
      const { page, interviewer } = await enrol(context, 'Inès');
      const before = await page.evaluate(() => window.parole.client.enrolment());
      await context.setOffline(true);
      const id = await fillOne(page, 'Bellevue', [tinyPng(20, 12)]);
      assert.equal((await counts(page)).queued, 1);

      // The coordinator revokes the phone; back online, the sync is refused.
      await api.call('DELETE', `/api/v1/devices/${before.device_id}`);
      await context.setOffline(false);
      await page.locator('#sync-btn').click();
      const banner = page.locator('#outbox [role="alert"]', { hasText: 'n’est plus autorisé' });
      await banner.waitFor();
      await banner.getByRole('button', { name: 'Réinscrire ce téléphone' }).waitFor();
      const listViolations = await axeViolations(page, 'list, token refused');
      assert.deepEqual(listViolations, [], formatViolations(listViolations));
      assert.equal((await counts(page)).queued, 1, 'the response is still waiting');
      assert.equal((await readIdb(page)).photos.length, 1, 'and its photo');
      assert.deepEqual(await onServer([id]), [[]]);

      // The new link, opened in the browser: one tap re-enrols, the outbox is kept.
      await page.close();
      const page2 = await openWithCode(context, await newCode(interviewer));
      await page2.getByRole('heading', { name: 'Réinscrire ce téléphone' }).waitFor();
      assert.equal(await page2.getByLabel('Nom de ce téléphone').inputValue(), before.device_name);
      const formViolations = await axeViolations(page2, 're-enrolment');
      assert.deepEqual(formViolations, [], formatViolations(formViolations));
      await page2.getByRole('button', { name: 'Réinscrire ce téléphone' }).click();
      await countShown(page2, 'synced', 1);
      await countShown(page2, 'queued', 0);
      assert.equal(await page2.locator('#outbox [role="alert"]').count(), 0, 'no refusal any more');
      const after = await page2.evaluate(() => window.parole.client.enrolment());
      assert.notEqual(after.device_id, before.device_id, 'a new device token');

      const [mine] = await onServer([id]);
      assert.equal(mine.length, 1, 'exactly once on the server');
      assert.equal(mine[0].answers.quartier, 'Bellevue');
      assert.equal(await attachmentStatus(mine[0].answers.photo), 200, 'its photo arrived first');
      assert.equal(mine[0].device_id, before.device_id, 'made on the phone’s first enrolment');
      assert.equal(mine[0].sender_device_id, after.device_id, 'sent under the new one');
      const { devices } = (await api.call('GET', '/api/v1/devices')).json;
      assert.equal(devices.find((d) => d.id === after.device_id).interviewer_id, interviewer.id);
    });
  });

  test('after the server\'s receipt the answers and photos leave IndexedDB; the sent response stays listed', { timeout: T }, async (t) => {
    await withPhone(t, async ({ context }) => {
      const { page } = await enrol(context, 'Jo');
      await context.setOffline(true);
      // A photo taken then retaken: the first one is named by nothing.
      const id = await fillOne(page, 'Dervallières', [tinyPng(10, 10), tinyPng(30, 10)]);
      // A draft with its own photo, left unfinished.
      await page.locator('.item-questionnaire', { hasText: TITLE }).getByRole('button', { name: /Commencer/ }).click();
      await page.getByLabel('Quartier').fill('Zola');
      await page.getByLabel('Photo du lieu').setInputFiles({ name: 'd.png', mimeType: 'image/png', buffer: tinyPng(14, 14) });
      await page.locator('.q-photo img.thumb[data-ref]').waitFor();
      await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
      const draftPhoto = await page.locator('.q-photo img.thumb').getAttribute('data-ref');
      await page.getByRole('button', { name: 'Retour à la liste' }).click();
      await page.locator('#outbox').waitFor();

      const held = await readIdb(page);
      const sent = held.records.find((r) => r.response.id === id);
      const sentPhoto = sent.response.answers.photo;
      assert.equal(sent.response.answers.quartier, 'Dervallières');
      assert.equal(held.photos.length, 3, 'the sent one, the retaken one, the draft’s');
      const retaken = held.photos.map((p) => p.ref).find((r) => r !== sentPhoto && r !== draftPhoto);
      assert.ok(held.photos.every((p) => typeof p.stored_at === 'number'), 'each photo knows when it was stored');
      // The retaken photo was taken long enough ago to be let go.
      await agePhoto(page, retaken, 11 * 60 * 1000);

      await context.setOffline(false);
      await page.locator('#sync-btn').click();
      await countShown(page, 'synced', 1);

      const [mine] = await onServer([id]);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].answers.quartier, 'Dervallières', 'the server has the answers');
      assert.equal(await attachmentStatus(sentPhoto), 200, 'and the photo');

      const now = await readIdb(page);
      const rec = now.records.find((r) => r.response.id === id);
      assert.equal(rec.state, 'synced');
      assert.deepEqual(rec.response.answers, {}, 'the answers are gone from the phone');
      assert.equal(rec.response.location, undefined);
      assert.equal(rec.response.questionnaire, SLUG, 'what the sent list shows stays');
      assert.ok(rec.response.completed_at && rec.response.started_at);
      assert.match(rec.server_hash, /^[0-9a-f]{64}$/, 'with the receipt’s hash');
      assert.ok(!JSON.stringify(now.records).includes('Dervallières'), 'no trace of the answer');
      assert.deepEqual(now.photos.map((p) => p.ref), [draftPhoto], 'only the draft’s photo is left');
      const draft = now.records.find((r) => r.state === 'draft');
      assert.equal(draft.response.answers.quartier, 'Zola', 'the draft is untouched');
      // The sent list still has it.
      const listed = (await page.evaluate(() => window.parole.client.records())).filter((r) => r.state === 'synced');
      assert.deepEqual(listed.map((r) => r.response.id), [id]);
    });
  });

  test('a backup downloaded on one phone is restored on another: every response arrives once, one already there is not doubled', { timeout: T }, async (t) => {
    let file;
    let interviewer;
    let ids;
    let photoRef;
    await withPhone(t, async ({ context }) => {
      let page;
      ({ page, interviewer } = await enrol(context, 'Maya'));
      await context.setOffline(true);
      const first = await fillOne(page, 'Malakoff', [tinyPng(40, 20)]);
      const second = await fillOne(page, 'Doulon');
      ids = [first, second];
      await countShown(page, 'queued', 2);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: /Télécharger une sauvegarde/ }).click(),
      ]);
      // Kept beyond this phone's profile, which goes with it.
      file = path.join(mkdtempSync(path.join(os.tmpdir(), 'parole-backup-')), download.suggestedFilename());
      await download.saveAs(file);
      const backup = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(backup.format, 'parole-backup/1');
      assert.deepEqual(backup.responses.map((r) => r.response.id).sort(), [...ids].sort());
      assert.equal(backup.photos.length, 1);
      photoRef = backup.photos[0].ref;
      assert.equal(Buffer.from(backup.photos[0].base64, 'base64').length > 0, true);

      // The first response reached the server, but its receipt never came back, then the
      // phone was lost: the server holds it, the backup too.
      const { token } = await readIdb(page);
      const wire = backup.responses.find((r) => r.response.id === first).response;
      const push = await fetch(`${server.base}/api/v1/sync/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ responses: [wire] }),
      });
      assert.equal(push.status, 200, await push.clone().text());
      assert.equal((await push.json()).results[0].status, 'accepted');
    });

    // Another phone (its own browser profile), enrolled for the same interviewer.
    await withPhone(t, async ({ context }) => {
      const page = await openWithCode(context, await newCode(interviewer));
      await page.locator('.item-questionnaire', { hasText: TITLE }).waitFor();
      const restore = async () => {
        const [chooser] = await Promise.all([
          page.waitForEvent('filechooser'),
          page.getByRole('button', { name: /Restaurer une sauvegarde/ }).click(),
        ]);
        await chooser.setFiles(file);
      };
      await restore();
      await page.locator('#toast', { hasText: 'Sauvegarde restaurée : 2 réponse(s) reprise(s), 0 déjà sur ce téléphone.' }).waitFor();
      await countShown(page, 'synced', 2);
      await countShown(page, 'queued', 0);
      const stored = await onServer(ids);
      assert.deepEqual(stored.map((s) => s.length), [1, 1], 'each response once on the server');
      assert.deepEqual(stored.map((s) => s[0].answers.quartier), ['Malakoff', 'Doulon']);
      assert.equal(await attachmentStatus(photoRef), 200, 'the photo came from the backup');
      const idb = await readIdb(page);
      assert.ok(idb.records.every((r) => r.state === 'synced' && Object.keys(r.response.answers).length === 0));
      assert.deepEqual(idb.photos, [], 'the restored photo left the phone once sent');

      // The same file again: nothing is taken in twice, nothing doubled.
      await restore();
      await page.locator('#toast', { hasText: 'Sauvegarde restaurée : 0 réponse(s) reprise(s), 2 déjà sur ce téléphone.' }).waitFor();
      await countShown(page, 'synced', 2);
      assert.deepEqual((await onServer(ids)).map((s) => s.length), [1, 1]);
    });
    rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
