// Browser tests of the fill screen's ways of asking (issue 10, points 8, 10, 11): one section
// per screen (`x-layout: sections`), a location that waits for its accuracy, and the undo of
// answers cleared by a question that becomes hidden. Headless Debian chromium at 360 × 640
// against a real `parole serve`; one server for the file.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import {
  startServer, adminApi, appOrigin, launchPhone, fixture, SHOTS, shot, axeViolations, formatViolations,
} from './helpers.js';

const T = 120_000;
const SCHEMA = 'https://json-schema.org/draft/2020-12/schema';
const withChildren = { properties: { a_enfants: { const: true } }, required: ['a_enfants'] };

// Four screens: « Votre nom » and « Avez-vous des enfants ? » (outside sections), the
// « Logement » section, the « Enfants » section (only with children), « Un dernier mot ? ».
const SCREENS = {
  $schema: SCHEMA,
  title: 'Un écran par partie',
  type: 'object',
  'x-layout': 'sections',
  additionalProperties: false,
  properties: {
    nom: { type: 'string', title: 'Votre nom' },
    a_enfants: { type: 'boolean', title: 'Avez-vous des enfants ?' },
    logement: {
      type: 'object', 'x-widget': 'section', title: 'Logement', additionalProperties: false,
      properties: { pieces: { type: 'integer', title: 'Nombre de pièces', minimum: 1, maximum: 20 } },
      required: ['pieces'],
    },
    enfants: {
      type: 'object', 'x-widget': 'section', title: 'Enfants', additionalProperties: false,
      'x-visible-if': withChildren,
      properties: { nombre: { type: 'integer', title: "Combien d'enfants ?", minimum: 1 } },
      required: ['nombre'],
    },
    avis: { type: 'string', title: 'Un dernier mot ?' },
  },
  required: ['nom', 'a_enfants', 'logement', 'enfants'],
};

const geopoint = (title, extra = {}) => ({
  type: 'object', 'x-widget': 'geopoint', title, additionalProperties: false,
  properties: {
    lat: { type: 'number', minimum: -90, maximum: 90 },
    lon: { type: 'number', minimum: -180, maximum: 180 },
    accuracy_m: { type: 'number', minimum: 0 },
  },
  required: ['lat', 'lon'],
  ...extra,
});

const PLACES = {
  $schema: SCHEMA,
  title: 'Relevé de lieux',
  type: 'object',
  additionalProperties: false,
  properties: {
    entretien: geopoint("Lieu de l'entretien", { 'x-accuracy-m': 10 }),
    rdv: geopoint('Point de rendez-vous'),
  },
  required: ['entretien'],
};

let server;
let front;
let api;
let origin;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish('ecrans', SCREENS);
  await api.publish('lieux', PLACES);
  await api.publish('parole-habitants', fixture('parole-habitants.json'));
  front = await appOrigin(server);
  origin = front.origin;
});

after(async () => {
  await front?.stop();
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------

/** Runs `body(page)` on a freshly enrolled phone with questionnaire `title` open. */
async function onPhone(t, title, body, { init } = {}) {
  const phone = await launchPhone();
  try {
    if (init) await phone.context.addInitScript(init);
    const { enrolment_code: code } = await api.interviewer(t.name.slice(0, 40));
    const page = await phone.context.newPage();
    await page.goto(`${origin}/app/#enrol=${encodeURIComponent(code)}`);
    await page.locator('.item-questionnaire', { hasText: title }).getByRole('button', { name: /Commencer/ }).click();
    await page.locator('.fill-title').waitFor();
    await body(page);
  } catch (e) {
    console.log(`--- browser console ---\n${phone.logs.join('\n')}\n---`);
    for (const p of phone.context.pages()) await p.screenshot({ path: `${SHOTS}/failure-phone-form.png` }).catch(() => {});
    throw e;
  } finally {
    await phone.close();
  }
}

const group = (page, name) => page.getByRole('group', { name, exact: true });

async function draftAnswers(page) {
  await page.evaluate(() => window.parole.fill?.flush());
  const rs = await page.evaluate(() => window.parole.client.records());
  const d = rs.filter((r) => r.state === 'draft');
  return d.length ? d[d.length - 1].response.answers : null;
}

async function assertAccessible(page, screen) {
  const violations = await axeViolations(page, screen);
  assert.equal(violations.length, 0, formatViolations(violations));
}

/** The jump list's entries, as shown. */
async function jumpList(page) {
  await page.locator('.screen-jump > summary').click();
  const items = await page.locator('.screen-list button').allTextContents();
  await page.locator('.screen-jump > summary').click();
  return items;
}

// ---------------------------------------------------------------------------------------------

describe('the fill screen', { timeout: 4 * T }, () => {
  test('a sections layout shows one screen at a time, with a jump list, errors sending back and a hidden section skipped', { timeout: T }, async (t) => {
    await onPhone(t, 'Un écran par partie', async (page) => {
      const summary = page.locator('.screen-jump > summary');
      const nom = page.getByLabel('Votre nom');
      const pieces = page.getByLabel('Nombre de pièces');
      const finish = page.getByRole('button', { name: 'Terminer', exact: true });
      // The « Enfants » section is hidden until « Oui »: three screens.
      await summary.getByText('Écran 1 sur 3').waitFor();
      assert.equal(await nom.isVisible(), true);
      assert.equal(await pieces.isVisible(), false, 'the second screen is not shown');
      assert.equal(await finish.isVisible(), false, 'Terminer is on the last screen');
      assert.equal(await page.getByRole('button', { name: '← Précédent' }).isDisabled(), true);
      await shot(page, 'phone-form-screen-1');

      await nom.fill('Inès');
      await group(page, 'Avez-vous des enfants ?').getByLabel('Non').check();
      await page.getByRole('button', { name: 'Suivant →' }).click();
      await summary.getByText('Écran 2 sur 3').waitFor();
      await summary.getByText('Logement').waitFor();
      assert.equal(await nom.isVisible(), false);
      // Left unanswered: « Suivant » goes on, and the screen is marked as one to correct.
      await page.getByRole('button', { name: 'Suivant →' }).click();
      await summary.getByText('Écran 3 sur 3').waitFor();
      await page.getByLabel('Un dernier mot ?').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Suivant →' }).isVisible(), false);
      await summary.getByText('1 à corriger').waitFor();
      assert.deepEqual(await jumpList(page), ['1. Votre nom', '2. Logement ⚠ à corriger', '3. Un dernier mot ?'],
        'the hidden « Enfants » section is not listed');
      await summary.click();
      await assertAccessible(page, 'sections, jump list open');
      await summary.click();

      // Terminer with an error elsewhere: to the first screen that has one, its field focused.
      await finish.click();
      await summary.getByText('Écran 2 sur 3').waitFor();
      await pieces.waitFor();
      await page.locator('.screen:not([hidden]) .has-error').first().waitFor();
      await page.waitForFunction(() => document.activeElement?.closest('.q')?.textContent.includes('Nombre de pièces'));
      await shot(page, 'phone-form-screen-error');
      await pieces.fill('3');
      await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();

      // The jump list: back to the first screen; « Oui » brings the « Enfants » screen in.
      await summary.click();
      await page.locator('.screen-list').getByRole('button', { name: /Votre nom/ }).click();
      await summary.getByText('Écran 1 sur 3').waitFor();
      await group(page, 'Avez-vous des enfants ?').getByLabel('Oui').check();
      await summary.getByText('Écran 1 sur 4').waitFor();
      // (after « Terminer » every error shows: the new section's, unanswered, too)
      assert.deepEqual(await jumpList(page), ['1. Votre nom', '2. Logement', '3. Enfants ⚠ à corriger', '4. Un dernier mot ?']);
      await page.getByRole('button', { name: 'Suivant →' }).click();
      await page.getByRole('button', { name: 'Suivant →' }).click();
      await summary.getByText('Écran 3 sur 4').waitFor();
      await page.getByLabel("Combien d'enfants ?").fill('2');
      await page.getByRole('button', { name: 'Suivant →' }).click();
      await summary.getByText('Écran 4 sur 4').waitFor();
      await page.getByRole('button', { name: '← Précédent' }).click();
      await summary.getByText('Écran 3 sur 4').waitFor();
      await page.getByRole('button', { name: 'Suivant →' }).click();
      // Offline: the response stays on the phone, answers and all, to be read back.
      await page.context().setOffline(true);
      await finish.click();
      await page.locator('#outbox').waitFor();
      const rs = await page.evaluate(() => window.parole.client.records());
      const done = rs.filter((r) => r.state !== 'draft');
      assert.equal(done.length, 1);
      assert.deepEqual(done[0].response.answers, { nom: 'Inès', a_enfants: true, logement: { pieces: 3 }, enfants: { nombre: 2 } });
    });
  });

  test('a location waits for its accuracy target, shows it improving, takes the best fix on request, and is typed when no fix comes', { timeout: T }, async (t) => {
    // The phone's GPS, scripted: the test sends each fix (or an error) to the running watches.
    const init = () => {
      const watches = new Map();
      let next = 1;
      window.__geo = {
        active: () => watches.size,
        fix: (accuracy) => {
          for (const w of watches.values()) w.ok({ coords: { latitude: 47.218371, longitude: -1.553621, accuracy }, timestamp: Date.now() });
        },
        fail: (code) => { for (const w of watches.values()) w.err?.({ code, message: 'scripted' }); },
      };
      navigator.geolocation.watchPosition = (ok, err) => { const id = next; next += 1; watches.set(id, { ok, err }); return id; };
      navigator.geolocation.clearWatch = (id) => { watches.delete(id); };
      navigator.geolocation.getCurrentPosition = () => { throw new Error('the app watches, it does not ask once'); };
    };
    await onPhone(t, 'Relevé de lieux', async (page) => {
      const active = () => page.evaluate(() => window.__geo.active());
      const fix = (acc) => page.evaluate((a) => window.__geo.fix(a), acc);
      const entretien = group(page, "Lieu de l'entretien");
      const status = entretien.locator('.geo-status');

      // Target 10 m: 40 m, then a worse 60 m, then 18 m are shown but not taken.
      await entretien.getByRole('button', { name: 'Relever la position' }).click();
      await status.getByText('Recherche de la position…').waitFor();
      assert.equal(await active(), 1);
      await fix(40);
      await status.getByText('Précision : ± 40 m… (objectif ± 10 m)').waitFor();
      await entretien.getByRole('button', { name: 'Garder cette position (± 40 m)' }).waitFor();
      await fix(60);
      await fix(18);
      await status.getByText('± 18 m…').waitFor();
      assert.equal(await entretien.getByText('Position non relevée.').isVisible(), true, 'nothing taken above the target');
      await shot(page, 'phone-form-geo-improving');
      // 8 m: taken on its own, and the watching stops.
      await fix(8);
      await entretien.getByText(/47\.21837, -1\.55362 \(précision ± 8 m\)/).waitFor();
      assert.equal(await active(), 0, 'no GPS once the target is met');
      assert.equal(await status.isVisible(), false);
      assert.deepEqual((await draftAnswers(page)).entretien, { lat: 47.218371, lon: -1.553621, accuracy_m: 8 });

      // Default target 25 m: the interviewer keeps a 45 m fix.
      const rdv = group(page, 'Point de rendez-vous');
      await rdv.getByRole('button', { name: 'Relever la position' }).click();
      await fix(70);
      await fix(45);
      await rdv.getByText('± 45 m… (objectif ± 25 m)').waitFor();
      await rdv.getByRole('button', { name: 'Garder cette position (± 45 m)' }).click();
      await rdv.getByText(/précision ± 45 m/).waitFor();
      assert.equal(await active(), 0);
      assert.equal((await draftAnswers(page)).rdv.accuracy_m, 45);

      // No fix at all: typed by hand, the ranges checked.
      await rdv.getByRole('button', { name: 'Relever à nouveau' }).click();
      await page.evaluate(() => window.__geo.fail(2));
      await rdv.getByText('Position introuvable').waitFor();
      assert.equal(await active(), 0);
      await rdv.getByRole('button', { name: 'Saisir les coordonnées' }).click();
      const lat = rdv.getByLabel(/^Latitude/);
      const lon = rdv.getByLabel(/^Longitude/);
      await lat.fill('95');
      await lon.fill('2,3522');
      await rdv.getByRole('button', { name: 'Enregistrer ces coordonnées' }).click();
      await rdv.getByText('La latitude est un nombre entre −90 et 90.').waitFor();
      assert.equal(await lat.getAttribute('aria-invalid'), 'true');
      await assertAccessible(page, 'location typed by hand');
      await lat.fill('48,8566');
      await rdv.getByRole('button', { name: 'Enregistrer ces coordonnées' }).click();
      await rdv.getByText('48.85660, 2.35220 (saisie à la main)').waitFor();
      await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
      assert.deepEqual((await draftAnswers(page)).rdv, { lat: 48.8566, lon: 2.3522 });

      // A watch still running when the form closes is stopped.
      await entretien.getByRole('button', { name: 'Relever à nouveau' }).click();
      assert.equal(await active(), 1);
      await page.context().setOffline(true);
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('#outbox').waitFor();
      assert.equal(await active(), 0, 'the GPS is off once the form is closed');
      const sent = (await page.evaluate(() => window.parole.client.records())).filter((r) => r.state !== 'draft');
      assert.deepEqual(sent[0].response.answers, {
        entretien: { lat: 47.218371, lon: -1.553621, accuracy_m: 8 },
        rdv: { lat: 48.8566, lon: 2.3522 },
      });
    }, { init });
  });

  test('answers cleared by a question that becomes hidden are listed with an undo that brings them back', { timeout: T }, async (t) => {
    await onPhone(t, "Parole d'habitants", async (page) => {
      const recontact = group(page, "Acceptez-vous d'être recontacté·e par l'équipe du conseil citoyen ?");
      const notice = page.locator('.undo-notice');
      await recontact.getByLabel('Oui').check();
      await page.getByLabel('Prénom').fill('Awa');
      await page.getByLabel('Téléphone').fill('06 12 34 56 78');
      await page.getByLabel('Courriel').fill('awa@example.org');
      await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();

      // The mis-tap: the three answers go, from the screen and from the saved draft.
      await recontact.getByLabel('Non').check();
      await notice.getByText('Réponses effacées, leur question n’étant plus posée : Prénom, Téléphone, Courriel.').waitFor();
      assert.equal(await page.getByLabel('Prénom').isVisible(), false);
      let saved = await draftAnswers(page);
      assert.equal(saved.recontact, false);
      assert.equal(saved.prenom, undefined);
      assert.equal(saved.telephone, undefined);
      await notice.scrollIntoViewIfNeeded();
      await shot(page, 'phone-form-undo');
      await assertAccessible(page, 'undo notice');

      await notice.getByRole('button', { name: 'Annuler' }).click();
      await page.getByText('Réponses rétablies.').waitFor();
      assert.equal(await page.getByLabel('Prénom').inputValue(), 'Awa');
      assert.equal(await page.getByLabel('Téléphone').inputValue(), '06 12 34 56 78');
      assert.equal(await recontact.getByLabel('Oui').isChecked(), true, 'the controlling answer is back too');
      assert.equal(await notice.isVisible(), false);
      saved = await draftAnswers(page);
      assert.deepEqual([saved.recontact, saved.prenom, saved.telephone, saved.email], [true, 'Awa', '06 12 34 56 78', 'awa@example.org']);

      // Without the undo: the notice lasts until the next change, and the answers are gone.
      await recontact.getByLabel('Non').check();
      await notice.waitFor();
      await page.getByLabel('Voulez-vous ajouter quelque chose sur votre quartier ?').fill('Rien.');
      await notice.waitFor({ state: 'hidden' });
      saved = await draftAnswers(page);
      assert.equal(saved.commentaire, 'Rien.');
      assert.equal(saved.recontact, false);
      for (const k of ['prenom', 'telephone', 'email']) assert.equal(saved[k], undefined, k);
      await recontact.getByLabel('Oui').check();
      await page.getByLabel('Prénom').waitFor();
      assert.equal(await page.getByLabel('Prénom').inputValue(), '', 'nothing comes back once the notice is gone');

      // « Fermer » dismisses it, the focus back on the answer that was changed.
      await page.getByLabel('Prénom').fill('Awa');
      await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
      await recontact.getByLabel('Non').check();
      await notice.getByRole('button', { name: 'Fermer' }).click();
      await notice.waitFor({ state: 'hidden' });
      assert.equal(await recontact.getByLabel('Non').evaluate((n) => n === document.activeElement), true);
      assert.equal((await draftAnswers(page)).prenom, undefined);
    });
  });
});
