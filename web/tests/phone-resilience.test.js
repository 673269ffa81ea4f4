// The phone app when things go wrong on the phone itself: storage that fails or is missing,
// two tabs on one response, a reload mid-interview; and what the list says about each
// response. Headless Debian chromium at 360 × 640 against a real `parole serve`.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import {
  startServer, adminApi, appOrigin, launchPhone, waitForServiceWorker, tinyPng, fixture, SHOTS, shot,
} from './helpers.js';

const T = 120_000;
const HABITANTS = 'Parole d\'habitants';
const MINI = 'mini-liste';
const MINI_TITLE = 'Relevé rapide';

let server;
let front;
let api;
let origin;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish('parole-habitants', fixture('parole-habitants.json'));
  await api.publish(MINI, {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: MINI_TITLE,
    type: 'object',
    additionalProperties: false,
    required: ['quartier'],
    properties: {
      quartier: { type: 'string', title: 'Quartier', oneOf: [{ const: 'malakoff', title: 'Malakoff' }, { const: 'breil', title: 'Breil' }] },
      photo: { type: 'string', 'x-widget': 'photo', pattern: '^sha256:[0-9a-f]{64}$', title: 'Photo du lieu' },
    },
  });
  front = await appOrigin(server);
  origin = front.origin;
});

after(async () => {
  await front?.stop();
  await server?.stop();
});

/** Runs `body(phone)` on a fresh phone; on failure prints the browser's console and takes a
 * screenshot of each page. */
async function onPhone(t, body, opts) {
  const phone = await launchPhone(opts);
  try {
    await body(phone);
  } catch (e) {
    console.log(`--- browser console (${t.name}) ---\n${phone.logs.join('\n')}\n---`);
    let i = 0;
    for (const p of phone.context.pages()) {
      i += 1;
      await p.screenshot({ path: `${SHOTS}/failure-resilience-${t.name.replace(/\W+/g, '-').slice(0, 40)}-${i}.png` }).catch(() => {});
    }
    throw e;
  } finally {
    await phone.close();
  }
}

async function enrol(context, name) {
  const { enrolment_code: code } = await api.interviewer(name);
  const page = await context.newPage();
  await page.goto(`${origin}/app/#enrol=${encodeURIComponent(code)}`);
  await page.locator('.item-questionnaire', { hasText: HABITANTS }).waitFor();
  return page;
}

async function start(page, title = HABITANTS) {
  await page.locator('.item-questionnaire', { hasText: title }).getByRole('button', { name: /Commencer/ }).click();
  await page.locator('.fill-title').waitFor();
}

async function saved(page) {
  await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
  await page.evaluate(() => window.parole.fill?.flush());
}

const records = (page) => page.evaluate(() => window.parole.client.records());
const quartier = (page) => page.getByLabel('Dans quel quartier habitez-vous ?');

describe('the phone app when the phone gets in the way', { timeout: 10 * T }, () => {
  test('a storage failure is an alert; Back offers to stay, download a backup or leave; the quota is watched; a photo that cannot be stored says so', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      // Writes to IndexedDB fail while `__failWrites` is set (as when the quota is
      // exhausted); the browser reports 90 % of its quota used.
      await context.addInitScript(() => {
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (...args) {
          if (window.__failWrites) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          return put.apply(this, args);
        };
        navigator.storage.estimate = async () => ({ usage: 900 * 1024 * 1024, quota: 1000 * 1024 * 1024 });
      });
      const page = await enrol(context, 'Inès');
      await page.locator('#storage-full', { hasText: 'presque plein (90 %)' }).waitFor();
      assert.match(await page.locator('#storage-info').textContent(), /900 Mo utilisés sur 1\s000 Mo disponibles \(90 %\)/);

      await start(page);
      await page.evaluate(() => { window.__failWrites = true; });
      await quartier(page).selectOption({ label: 'Malakoff' });
      const alert = page.getByRole('alert').filter({ hasText: 'Vos dernières réponses ne sont pas enregistrées' });
      await alert.waitFor();
      assert.match(await alert.textContent(), /QuotaExceededError/);
      assert.doesNotMatch(await page.locator('.save-status').textContent(), /Enregistré/, 'never in the "saved" slot');

      // A photo the phone cannot keep is not called unreadable.
      await page.getByLabel("Photo d'un lieu dont la personne a parlé (sans visage)").setInputFiles({ name: 'lieu.png', mimeType: 'image/png', buffer: tinyPng() });
      const photoError = page.locator('.photo-error');
      await photoError.filter({ hasText: 'n’a pas pu être enregistrée sur ce téléphone' }).waitFor();
      assert.doesNotMatch(await photoError.textContent(), /pas pu être lue/);
      await shot(page, 'resilience-01-save-failed');

      // Back asks; the backup holds the answer that storage refused.
      await page.getByRole('button', { name: /Retour/ }).click();
      const dialog = page.getByRole('dialog', { name: 'Quitter sans enregistrer ?' });
      await dialog.waitFor();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        dialog.getByRole('button', { name: 'Télécharger une sauvegarde' }).click(),
      ]);
      const backup = JSON.parse(readFileSync(await download.path(), 'utf8'));
      assert.equal(backup.format, 'parole-backup/1');
      assert.equal(backup.responses.length, 1);
      assert.deepEqual(backup.responses[0].response.answers, { quartier: 'malakoff' });
      assert.equal(backup.responses[0].state, 'draft');
      await dialog.getByRole('button', { name: 'Rester sur le questionnaire' }).click();
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await page.locator('.fill-title').count(), 1, 'still on the form');
      assert.equal((await records(page)).length, 0, 'nothing was written');

      // Storage is back: the next answer saves everything, the alert goes.
      await page.evaluate(() => { window.__failWrites = false; });
      await page.getByRole('group', { name: 'Vous êtes :' }).getByLabel('Une femme').check();
      await saved(page);
      await alert.waitFor({ state: 'hidden' });
      const [draft] = await records(page);
      assert.deepEqual(draft.response.answers, { quartier: 'malakoff', genre: 'femme' });

      // Failing again, "Leave anyway" leaves.
      await page.evaluate(() => { window.__failWrites = true; });
      await page.getByRole('group', { name: 'Vous êtes :' }).getByLabel('Un homme').check();
      await alert.waitFor();
      await page.getByRole('button', { name: /Retour/ }).click();
      await dialog.getByRole('button', { name: 'Quitter quand même' }).click();
      await page.locator('#outbox').waitFor();
    });
  });

  test('without IndexedDB (private browsing) a screen says why nothing can be kept and what to do', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      await context.addInitScript(() => {
        delete window.indexedDB;
        if (window.indexedDB) Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
      });
      const page = await context.newPage();
      await page.goto(`${origin}/app/`);
      const screen = page.getByRole('alert').filter({ has: page.getByRole('heading', { name: 'Ce navigateur ne permet pas de garder les réponses' }) });
      await screen.waitFor();
      assert.match(await screen.textContent(), /navigation privée/);
      assert.equal(await page.getByText('n\'a pas pu démarrer').count(), 0);
      await shot(page, 'resilience-02-no-storage');
    });
  });

  test('two tabs on one draft: the second is told, the first one\'s answers are not overwritten', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      const first = await enrol(context, 'Jo');
      await start(first);
      await quartier(first).selectOption({ label: 'Malakoff' });
      await saved(first);
      const [{ response: { id } }] = await records(first);

      // A second tab sees the draft is open elsewhere, and is refused it with a message.
      const second = await context.newPage();
      await second.goto(`${origin}/app/`);
      const item = second.locator(`.item-draft[data-id="${id}"]`);
      await item.getByText('Ouverte dans un autre onglet').waitFor();
      await item.getByRole('button', { name: 'Reprendre' }).click();
      await second.getByRole('alert').filter({ hasText: 'déjà ouverte dans un autre onglet' }).waitFor();
      assert.equal(await second.locator('.fill-title').count(), 0, 'refused, not opened');

      // The first tab goes on; nothing it typed is lost.
      await first.getByRole('group', { name: 'Vous êtes :' }).getByLabel('Une femme').check();
      await saved(first);
      await first.getByRole('button', { name: /Retour/ }).click();
      await first.locator('.item-draft').waitFor();
      // Once the first tab let go, the second opens it, from what is stored now (its list
      // was drawn before the last answer).
      await second.locator(`.item-draft[data-id="${id}"]`).getByRole('button', { name: 'Reprendre' }).click();
      await second.locator('.fill-title').waitFor();
      assert.equal(await second.getByRole('group', { name: 'Vous êtes :' }).getByLabel('Une femme').isChecked(), true);
      const [rec] = await records(second);
      assert.deepEqual(rec.response.answers, { quartier: 'malakoff', genre: 'femme' });
    });
  });

  test('a reload mid-draft reopens it with its answers', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      const page = await enrol(context, 'Lou');
      await start(page);
      await quartier(page).selectOption({ label: 'Malakoff' });
      await page.getByLabel('Voulez-vous ajouter quelque chose sur votre quartier ?').fill('Des bancs.');
      await saved(page);
      await page.reload();
      await page.locator('.fill-title').waitFor();
      await page.getByText('Réponse rouverte là où vous en étiez.').waitFor();
      assert.equal(await quartier(page).evaluate((s) => s.selectedOptions[0].textContent), 'Malakoff');
      assert.equal(await page.getByLabel('Voulez-vous ajouter quelque chose sur votre quartier ?').inputValue(), 'Des bancs.');
      // Left on purpose, it stays left after a reload.
      await page.getByRole('button', { name: /Retour/ }).click();
      await page.locator('.item-draft').waitFor();
      await page.reload();
      await page.locator('.item-draft').waitFor();
      assert.equal(await page.locator('.fill-title').count(), 0);
    });
  });

  test('a correction to a refused response is saved as it is typed, and reopens after a reload', { timeout: T }, async (t) => {
    const SLUG = 'a-corriger';
    const doc = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'À corriger',
      type: 'object',
      additionalProperties: false,
      required: ['quartier'],
      properties: {
        quartier: { type: 'string', title: 'Quartier', oneOf: [{ const: 'malakoff', title: 'Malakoff' }, { const: 'breil', title: 'Breil' }] },
        remarque: { type: 'string', title: 'Remarque', maxLength: 200 },
      },
    };
    assert.equal(await api.publish(SLUG, doc), 1);
    await onPhone(t, async ({ context }) => {
      const page = await enrol(context, 'Sacha');
      await waitForServiceWorker(page);
      await page.locator('.item-questionnaire', { hasText: 'À corriger' }).waitFor();
      await context.setOffline(true);
      await start(page, 'À corriger');
      await page.getByRole('group', { name: 'Quartier' }).getByLabel('Breil').check();
      await saved(page);
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('#outbox-waiting').waitFor();
      // The coordination retires the version: the server refuses the response.
      await api.call('POST', `/api/v1/questionnaires/${SLUG}/versions/1/revoke`, { reason: 'erreur de libellé' });
      await context.setOffline(false);
      const refused = page.locator('#refused .item-rejected');
      await refused.waitFor({ timeout: 30_000 });
      await refused.getByRole('button', { name: /Revoir|Corriger/ }).click();
      await page.locator('.fill-intro .banner-error', { hasText: 'Le serveur a refusé cette réponse' }).waitFor();
      await page.getByLabel('Remarque').fill('Vu avec la coordination');
      await saved(page);
      const [rec] = (await records(page)).filter((r) => r.response.questionnaire === SLUG);
      assert.equal(rec.state, 'rejected', 'still refused until resent');
      assert.ok(rec.errors.length > 0, 'with the server\'s reasons');
      assert.deepEqual(rec.response.answers, { quartier: 'breil', remarque: 'Vu avec la coordination' });
      await page.reload();
      await page.getByLabel('Remarque').waitFor();
      assert.equal(await page.getByLabel('Remarque').inputValue(), 'Vu avec la coordination');
    });
  });

  test('opening a form and leaving it without an answer leaves no draft', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      const page = await enrol(context, 'Max');
      await start(page);
      await page.getByRole('button', { name: /Retour/ }).click();
      await page.locator('#outbox').waitFor();
      const c = await page.evaluate(() => window.parole.client.counts());
      assert.equal(c.drafts, 0);
      assert.equal(await page.locator('.item-draft').count(), 0);
      assert.equal((await records(page)).length, 0);
    });
  });

  test('a draft is named in the list from its first answers (never a personal one) with how complete it is', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      const page = await enrol(context, 'Awa');
      await start(page);
      await quartier(page).selectOption({ label: 'Autre quartier' });
      await page.getByLabel('Lequel ?').fill('Les Hauts-Pavés');
      await page.getByRole('group', { name: 'Acceptez-vous d\'être recontacté·e par l\'équipe du conseil citoyen ?' }).getByLabel('Oui').check();
      await page.getByLabel('Prénom').fill('Awa');
      await saved(page);
      const progress = (await page.locator('.progress-text').textContent()).trim();
      assert.match(progress, /^4 \/ \d+ réponses$/);
      await page.getByRole('button', { name: /Retour/ }).click();
      const item = page.locator('.item-draft');
      await item.waitFor();
      assert.equal((await item.locator('.item-name').textContent()).trim(), 'Autre quartier · Les Hauts-Pavés');
      assert.doesNotMatch(await item.textContent(), /Awa/, 'a personal answer never names a draft');
      const line = await item.locator('.item-progress').textContent();
      assert.ok(line.startsWith(progress), `${line} starts with the form's own count, ${progress}`);
      assert.match(line, /\d+ obligatoire\(s\) sans réponse/);
      await shot(page, 'resilience-03-draft-named');
    });
  });

  test('the outbox lists what waits (with its photos) and what was sent, with the last sync time', { timeout: T }, async (t) => {
    await onPhone(t, async ({ context }) => {
      const page = await enrol(context, 'Noé');
      await waitForServiceWorker(page);
      await page.locator('#last-sync', { hasText: /^Dernière synchronisation : .*\d{2}:\d{2}$/ }).waitFor();
      const before = await page.evaluate(() => localStorage.getItem('parole.last-sync'));
      await context.setOffline(true);
      await start(page, MINI_TITLE);
      await page.getByRole('group', { name: 'Quartier' }).getByLabel('Malakoff').check();
      await page.getByLabel('Photo du lieu').setInputFiles({ name: 'lieu.png', mimeType: 'image/png', buffer: tinyPng() });
      await page.locator('.q-photo img.thumb').waitFor({ state: 'visible' });
      await saved(page);
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      const waiting = page.locator('#outbox-waiting');
      await waiting.waitFor();
      assert.match(await waiting.locator('summary').textContent(), /À envoyer \(1\)/);
      assert.match(await waiting.locator('li').textContent(), new RegExp(`${MINI_TITLE} · Malakoff.*terminée le`));
      await page.locator('#photos-waiting', { hasText: '1 photo(s) en attente d’envoi' }).waitFor();
      await shot(page, 'resilience-04-waiting');

      await context.setOffline(false);
      await page.locator('#sync-btn').click();
      const sent = page.locator('#outbox-sent');
      await sent.waitFor({ timeout: 30_000 });
      assert.match(await sent.locator('summary').textContent(), /Envoyées \(1\)/);
      await sent.locator('summary').click();
      await sent.locator('li', { hasText: /envoyée le/ }).waitFor();
      assert.equal(await page.locator('#outbox-waiting').count(), 0);
      assert.equal(await page.locator('#photos-waiting').count(), 0);
      const after = await page.evaluate(() => localStorage.getItem('parole.last-sync'));
      assert.ok(after > before, 'the last sync time moved on');
      await page.locator('#last-sync', { hasText: /^Dernière synchronisation : / }).waitFor();
    });
  });
});
