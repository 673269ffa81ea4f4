// Browser tests of the phone app, in headless Debian chromium at 360 × 640, against a real
// `parole serve`. Run: web/tests/run.sh (or `npm ci --prefix web/tests && node --test web/tests/`).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  startServer, adminApi, appOrigin, launchPhone, waitForServiceWorker, shot, tinyPng, fixture,
  sleep, SHOTS, WEB_DIR, axeViolations, formatViolations,
} from './helpers.js';

const SLUG = 'parole-habitants';
const T = 120_000;

let server;
let front;
let api;
let origin;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish(SLUG, fixture('parole-habitants.json'));
  await api.publish('besoins-formation', fixture('besoins-formation.json'));
  front = await appOrigin(server);
  origin = front.origin;
  console.log(`# app served by: ${front.mode} at ${origin}/app/`);
});

after(async () => {
  await front?.stop();
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers on the page

/** On failure: the browser's console and a screenshot of each open page. */
async function diagnose(phone) {
  console.log(`--- browser console (${phone.name}) ---\n${phone.logs.join('\n')}\n---`);
  let i = 0;
  for (const p of phone.context.pages()) {
    i += 1;
    const file = `${SHOTS}/failure-${phone.name.replace(/\W+/g, '-').slice(0, 40)}-${i}.png`;
    await p.screenshot({ path: file }).catch(() => {});
    console.log(`screenshot: ${file}`);
  }
}

const group = (page, name) => page.getByRole('group', { name, exact: true });

async function enrolPhone(phone, name = 'Camille') {
  const { enrolment_code: code } = await api.interviewer(name);
  const page = await phone.context.newPage();
  await page.goto(`${origin}/app/#enrol=${encodeURIComponent(code)}`);
  await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();
  await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
  return page;
}

async function counts(page) {
  return page.evaluate(() => window.parole.client.counts());
}

async function records(page) {
  return page.evaluate(() => window.parole.client.records());
}

async function waitSaved(page) {
  // Every change is saved (saveDraft) before the refresh shows "Enregistré".
  await page.locator('.save-status', { hasText: 'Enregistré' }).waitFor();
  await page.evaluate(() => window.parole.fill?.flush());
}

async function startQuestionnaire(page, title = 'Parole d\'habitants') {
  await page.locator('.item-questionnaire', { hasText: title }).getByRole('button', { name: /Commencer/ }).click();
  await page.locator('.fill-title').waitFor();
}

async function draftAnswers(page) {
  await page.evaluate(() => window.parole.fill?.flush());
  const rs = await records(page);
  const d = rs.filter((r) => r.state === 'draft');
  return d.length ? d[d.length - 1].response.answers : null;
}

/** Answers every question of parole-habitants through the UI. Returns the expected answers. */
async function fillHabitants(page, { photo = true, location = true } = {}) {
  const quartier = page.getByLabel('Dans quel quartier habitez-vous ?');
  const lequel = page.getByLabel('Lequel ?');
  await quartier.selectOption({ label: 'Autre quartier' });
  await lequel.waitFor({ state: 'visible' });
  await lequel.fill('Les Hauts-Pavés');
  // skip logic the other way: another choice hides « Lequel ? » and drops its answer
  await quartier.selectOption({ label: 'Malakoff' });
  await lequel.waitFor({ state: 'hidden' });
  await waitSaved(page);
  assert.equal((await draftAnswers(page)).quartier_autre, undefined, 'a hidden question keeps no answer');
  assert.equal((await draftAnswers(page)).quartier, 'malakoff');
  await quartier.selectOption({ label: 'Autre quartier' });
  await lequel.waitFor({ state: 'visible' });
  assert.equal(await lequel.inputValue(), '', 'the dropped answer does not come back');
  await lequel.fill('Les Hauts-Pavés');

  await group(page, 'Depuis combien de temps habitez-vous ce quartier ?').getByLabel('1 à 5 ans').check();
  await group(page, 'Quel âge avez-vous ?').getByLabel('25–39 ans').check();
  await group(page, 'Vous êtes :').getByLabel('Une femme').check();

  const likert = { 'Votre logement': 4, 'Les transports en commun': 2, 'Les commerces de proximité': 3, 'Le sentiment de sécurité': 5, 'Les espaces verts et lieux de détente': 4, "L'accès aux services publics": 1 };
  const likertLabels = ['Très insatisfait·e', 'Insatisfait·e', "Ni l'un ni l'autre", 'Satisfait·e', 'Très satisfait·e'];
  for (const [q, v] of Object.entries(likert)) {
    await group(page, q).getByLabel(likertLabels[v - 1], { exact: true }).check();
  }
  const prio = group(page, 'Quelles sont les trois priorités pour votre quartier ?');
  await prio.getByLabel('Propreté').check();
  await prio.getByLabel('Emploi').check();
  await prio.getByLabel('Jeunesse').check();
  assert.equal(await prio.getByLabel('Santé').isDisabled(), true, 'no fourth priority');

  await group(page, 'Connaissez-vous le conseil citoyen de votre quartier ?').getByLabel('Non').check();
  const participer = group(page, 'Aimeriez-vous y participer ?');
  const frein = page.getByLabel("Qu'est-ce qui vous empêche de participer ?");
  const dispo = group(page, 'Quand seriez-vous disponible ?');
  await participer.getByLabel('Non').check();
  await frein.waitFor({ state: 'visible' });
  assert.equal(await dispo.isHidden(), true);
  await frein.fill('Pas le temps en ce moment.');
  await participer.getByLabel('Oui').check();
  await frein.waitFor({ state: 'hidden' });
  await dispo.waitFor({ state: 'visible' });
  await dispo.getByLabel('Le samedi').check();
  await dispo.getByLabel('En semaine, le soir').check();

  const commentaire = page.getByLabel('Voulez-vous ajouter quelque chose sur votre quartier ?');
  await commentaire.fill('Il manque des bancs près du tram.');
  await page.getByText('33 / 2000 caractères').waitFor();

  let photoRef;
  if (photo) {
    await page.getByLabel("Photo d'un lieu dont la personne a parlé (sans visage)").setInputFiles({
      name: 'lieu.png', mimeType: 'image/png', buffer: tinyPng(),
    });
    const thumb = page.locator('.q-photo img.thumb');
    await thumb.waitFor({ state: 'visible' });
    photoRef = await thumb.getAttribute('data-ref');
    assert.match(photoRef, /^sha256:[0-9a-f]{64}$/);
  }
  if (location) {
    const pos = group(page, "Lieu de l'entretien");
    await pos.getByRole('button', { name: 'Relever la position' }).click();
    await pos.getByText(/précision ± 12 m/).waitFor();
  }

  const recontact = group(page, "Acceptez-vous d'être recontacté·e par l'équipe du conseil citoyen ?");
  await recontact.getByLabel('Oui').check();
  await page.getByLabel('Prénom').fill('Awa');
  await page.getByLabel('Téléphone').fill('06 12 34 56 78');
  await page.getByLabel('Courriel').fill('awa@example.org');
  await waitSaved(page);

  const expected = {
    quartier: 'autre',
    quartier_autre: 'Les Hauts-Pavés',
    anciennete: '1_5_ans',
    tranche_age: '25_39',
    genre: 'femme',
    cadre_de_vie: { logement: 4, transports: 2, commerces: 3, securite: 5, espaces_verts: 4, services_publics: 1 },
    priorites: ['proprete', 'emploi', 'jeunesse'],
    connait_conseil: false,
    souhaite_participer: 'oui',
    disponibilites: ['semaine_soir', 'samedi'],
    commentaire: 'Il manque des bancs près du tram.',
    recontact: true,
    prenom: 'Awa',
    telephone: '06 12 34 56 78',
    email: 'awa@example.org',
  };
  if (photo) expected.photo_lieu = photoRef;
  if (location) expected.position = { lat: 47.2184, lon: -1.5536, accuracy_m: 12 };
  return expected;
}

// ---------------------------------------------------------------------------------------------

describe('the phone app', { timeout: 10 * T }, () => {
  test('enrol, fill offline, reopen offline, complete, then sync exactly once', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      await context.grantPermissions(['geolocation'], { origin });
      await context.setGeolocation({ latitude: 47.2184, longitude: -1.5536, accuracy: 12 });
      const page = await enrolPhone(phone);
      assert.equal(new URL(page.url()).hash, '', 'the enrolment code is removed from the address bar');
      await waitForServiceWorker(page);
      await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
      await page.locator('#storage-info p').first().waitFor();
      await shot(page, '02-list');
      await page.locator('#backup-btn').scrollIntoViewIfNeeded();
      await shot(page, '02b-list-storage');

      await context.setOffline(true);
      await startQuestionnaire(page);
      await shot(page, '03-fill-top');
      const expected = await fillHabitants(page);
      const progress = await page.locator('.progress-text').textContent();
      assert.match(progress, /^(\d+) \/ \1 réponses$/, `all visible questions answered: ${progress}`);
      await page.locator('.q-likert').first().scrollIntoViewIfNeeded();
      await shot(page, '04-fill-likert');
      await page.locator('.q-photo').scrollIntoViewIfNeeded();
      await shot(page, '05-fill-photo-geo');
      assert.deepEqual(await draftAnswers(page), expected, 'the draft holds every answer');

      // Close the tab and reopen the app, still offline: the draft is there.
      await page.close();
      const page2 = await context.newPage();
      await page2.goto(`${origin}/app/`);
      const draft = page2.locator('.item-draft');
      await draft.waitFor();
      assert.equal(await draft.count(), 1);
      await shot(page2, '06-list-offline-draft');
      await draft.getByRole('button', { name: 'Reprendre' }).click();
      await page2.locator('.fill-title').waitFor();
      assert.equal(await page2.getByLabel('Lequel ?').inputValue(), 'Les Hauts-Pavés');
      assert.equal(await group(page2, 'Vous êtes :').getByLabel('Une femme').isChecked(), true);
      await page2.locator('.q-photo img.thumb').waitFor({ state: 'visible' });
      await page2.getByText(/précision ± 12 m/).waitFor();

      // Complete: it goes to the outbox.
      await page2.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page2.locator('#outbox').waitFor();
      await page2.locator('[data-count="queued"] .count-n', { hasText: '1' }).waitFor();
      await shot(page2, '07-outbox-queued');
      const c = await counts(page2);
      assert.equal(c.queued, 1);
      assert.equal(c.drafts, 0);
      assert.equal((await api.exportNdjson(SLUG)).length, 0, 'nothing reached the server while offline');

      // One tap: the backup file holds the unsent response.
      const [download] = await Promise.all([
        page2.waitForEvent('download'),
        page2.getByRole('button', { name: /Télécharger une sauvegarde/ }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^parole-sauvegarde-\d{4}-\d{2}-\d{2}.*\.json$/);
      const backupText = await new Promise((resolve, reject) => {
        download.createReadStream().then((st) => {
          let buf = '';
          st.on('data', (d) => { buf += d; });
          st.on('end', () => resolve(buf));
          st.on('error', reject);
        }, reject);
      });
      assert.ok(backupText.includes('Les Hauts-Pavés'), 'the backup holds the unsent answers');
      assert.ok(backupText.includes(expected.photo_lieu.slice('sha256:'.length)), 'and names its photo');

      // Back online: it syncs by itself.
      await context.setOffline(false);
      await page2.locator('[data-count="synced"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      await page2.locator('[data-count="queued"] .count-n', { hasText: '0' }).waitFor();
      await shot(page2, '08-outbox-synced');
      const [rec] = (await records(page2)).filter((r) => r.state === 'synced');
      const lines = await api.exportNdjson(SLUG);
      const mine = lines.filter((l) => l.id === rec.response.id);
      assert.equal(mine.length, 1, 'exactly once in the export');
      assert.deepEqual(mine[0].answers, expected);
      assert.equal(mine[0].version, 1);
      // The photo went first: the server holds it, downscaled to JPEG on the phone.
      if ('photos_missing' in mine[0]) assert.deepEqual(mine[0].photos_missing, []);
      const photo = await fetch(`${server.base}/api/v1/attachments/${expected.photo_lieu}`, { headers: { authorization: `Bearer ${api.token}` } });
      assert.equal(photo.status, 200);
      const bytes = Buffer.from(await photo.arrayBuffer());
      assert.equal(bytes[0], 0xff, 'a JPEG');
      assert.equal(bytes[1], 0xd8, 'a JPEG');
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a response the server refuses shows its reasons: filled offline on a version the coordination then retired', { timeout: T }, async (t) => {
    // Its own questionnaire (the parole-habitants document under another slug and title), so
    // that retiring it changes nothing for the other tests.
    const RETIRED = 'habitants-pilote';
    const doc = fixture('parole-habitants.json');
    doc.title = 'Enquête pilote — votre quartier';
    doc['x-i18n'].en.title = 'Pilot survey — your neighbourhood';
    assert.equal(await api.publish(RETIRED, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      const page = await enrolPhone(phone, 'Dominique');
      const pilot = page.locator('.item-questionnaire', { hasText: 'Enquête pilote' });
      await pilot.waitFor();
      await waitForServiceWorker(page);

      // Offline, the interviewer fills and completes a response on version 1.
      await context.setOffline(true);
      await startQuestionnaire(page, 'Enquête pilote');
      await fillHabitants(page, { photo: false, location: false });
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('[data-count="queued"] .count-n', { hasText: '1' }).waitFor();
      const [mine] = (await records(page)).filter((r) => r.state === 'queued');
      assert.equal(mine.response.questionnaire, RETIRED);
      assert.equal(mine.response.version, 1);

      // Meanwhile the coordination retires version 1 (over the API) and publishes version 2.
      const reason = 'la question sur les priorités change';
      const revoked = await api.call('POST', `/api/v1/questionnaires/${RETIRED}/versions/1/revoke`, { reason });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.json.revoked_reason, reason);
      assert.equal(await api.publish(RETIRED, doc), 2);

      // Back online, the phone syncs: the server refuses the response, with its reason.
      await context.setOffline(false);
      await page.locator('[data-count="rejected"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      await page.locator('[data-count="queued"] .count-n', { hasText: '0' }).waitFor();
      const refused = page.locator('#refused');
      const item = refused.locator(`.item-rejected[data-id="${mine.response.id}"]`);
      await item.waitFor();
      const reasons = await item.locator('.reasons li').allTextContents();
      assert.equal(reasons.length, 1, `one reason: ${reasons}`);
      assert.ok(reasons[0].startsWith(`La version 1 du questionnaire « ${RETIRED} » a été retirée par la coordination : ${reason}.`), reasons[0]);
      assert.match(await item.locator('.item-meta').textContent(), /version 1/);
      await item.getByText('Elle reste sur ce téléphone et dans la sauvegarde').waitFor();
      assert.equal(await item.getByRole('button', { name: 'Corriger et renvoyer' }).count(), 0, 'no correction offered: none would make it receivable');
      await refused.scrollIntoViewIfNeeded();
      await shot(page, '09-refused-retired');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(overflow, false, 'the refusal fits 360 px');
      // The phone now offers version 2 for new interviews.
      await pilot.filter({ hasText: 'version 2' }).waitFor();
      assert.equal((await api.exportNdjson(RETIRED)).length, 0, 'nothing stored on the server');

      // Never silently dropped: it is still there, with its reasons, after a reload…
      await page.reload();
      await item.locator('.reasons li', { hasText: reason }).waitFor();
      const [kept] = (await records(page)).filter((r) => r.response.id === mine.response.id);
      assert.equal(kept.state, 'rejected');
      assert.equal(kept.errors[0].code, 'version_revoked');
      assert.deepEqual(kept.response.answers, mine.response.answers, 'its answers are untouched');

      // … and in the backup file, with its state and the server's reasons.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: /Télécharger une sauvegarde/ }).click(),
      ]);
      const backup = JSON.parse(readFileSync(await download.path(), 'utf8'));
      const inBackup = backup.responses.filter((r) => r.response.id === mine.response.id);
      assert.equal(inBackup.length, 1, 'the refused response is in the backup');
      assert.equal(inBackup[0].state, 'rejected');
      assert.equal(inBackup[0].response.version, 1);
      assert.equal(inBackup[0].errors[0].code, 'version_revoked');

      // Re-opened, it stays on its own version 1 (never moved to version 2), the reason on
      // top; resending it is refused again, and it stays in the refused list.
      await item.getByRole('button', { name: 'Revoir la réponse' }).click();
      const banner = page.locator('.banner-error');
      await banner.waitFor();
      assert.match(await banner.textContent(), /a été retirée par la coordination/);
      assert.equal((await page.locator('.fill-version').textContent()).trim(), 'version 1');
      assert.equal(await page.getByLabel('Lequel ?').inputValue(), 'Les Hauts-Pavés');
      await shot(page, '10-refused-retired-open');
      await page.getByRole('button', { name: 'Renvoyer' }).click();
      await page.locator('[data-count="rejected"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      await page.locator('[data-count="queued"] .count-n', { hasText: '0' }).waitFor();
      const after = (await records(page)).filter((r) => r.response.id === mine.response.id);
      assert.equal(after.length, 1);
      assert.equal(after[0].state, 'rejected');
      assert.equal(after[0].response.version, 1, 'still on version 1');
      assert.equal((await counts(page)).synced, 0);
      assert.equal((await api.exportNdjson(RETIRED)).length, 0);

      // Once every version is retired the questionnaire leaves the phone's list; the refused
      // response stays.
      await api.call('POST', `/api/v1/questionnaires/${RETIRED}/versions/2/revoke`);
      await page.getByRole('button', { name: 'Synchroniser' }).click();
      await pilot.waitFor({ state: 'detached', timeout: 30_000 });
      await item.locator('.reasons li', { hasText: reason }).waitFor();
      await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a new questionnaire version does not break a draft started on the old one: it is finished and sent on version 1', { timeout: T }, async (t) => {
    // Its own slug (the parole-habitants document), so that version 2 changes nothing for the
    // other tests.
    const SLUG_V = 'habitants-versions';
    const v1 = fixture('parole-habitants.json');
    v1.title = 'Enquête versions — votre quartier';
    v1['x-i18n'].en.title = 'Versions survey — your neighbourhood';
    assert.equal(await api.publish(SLUG_V, v1), 1);
    // Version 2: « Vous êtes : » removed, the age bands changed (25–39 split in two), and a new
    // required question. A version-1 draft is invalid against it three times over.
    const v2 = structuredClone(v1);
    delete v2.properties.genre;
    v2.properties.tranche_age.oneOf = [
      { const: '15_24', title: '15–24 ans' }, { const: '25_34', title: '25–34 ans' },
      { const: '35_49', title: '35–49 ans' }, { const: '50_plus', title: '50 ans et plus' },
    ];
    v2.properties.transport = {
      type: 'string', title: 'Comment venez-vous dans le quartier ?',
      oneOf: [{ const: 'pied', title: 'À pied' }, { const: 'tram', title: 'En tram' }, { const: 'voiture', title: 'En voiture' }],
      'x-i18n': { en: { title: 'How do you get to the neighbourhood?' } },
    };
    v2.required = [...v2.required, 'transport'];

    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      const page = await enrolPhone(phone, 'Sam');
      const item = page.locator('.item-questionnaire', { hasText: 'Enquête versions' });
      await item.filter({ hasText: 'version 1' }).waitFor();
      await waitForServiceWorker(page);

      // Offline, a draft on version 1, with answers to questions that version 2 removes or
      // changes.
      await context.setOffline(true);
      await startQuestionnaire(page, 'Enquête versions');
      assert.equal((await page.locator('.fill-version').textContent()).trim(), 'version 1');
      await page.getByLabel('Dans quel quartier habitez-vous ?').selectOption({ label: 'Malakoff' });
      await group(page, 'Depuis combien de temps habitez-vous ce quartier ?').getByLabel('1 à 5 ans').check();
      await group(page, 'Quel âge avez-vous ?').getByLabel('25–39 ans').check();
      await group(page, 'Vous êtes :').getByLabel('Une femme').check();
      await waitSaved(page);
      const [draft] = (await records(page)).filter((r) => r.state === 'draft' && r.response.questionnaire === SLUG_V);
      assert.equal(draft.response.version, 1);

      // The coordination publishes version 2 while the draft is still open on the phone.
      assert.equal(await api.publish(SLUG_V, v2), 2);
      await context.setOffline(false);
      await page.waitForFunction((slug) => window.parole.client.questionnaires()
        .then((qs) => qs.some((q) => q.slug === slug && q.version === 2)), SLUG_V, { timeout: 30_000 });
      // The open form is unchanged (version 1) and goes on saving.
      assert.equal((await page.locator('.fill-version').textContent()).trim(), 'version 1');
      await group(page, 'Aimeriez-vous y participer ?').getByLabel('Peut-être').check();
      await waitSaved(page);
      assert.equal(await page.getByRole('group', { name: 'Comment venez-vous dans le quartier ?' }).count(), 0);
      await page.getByRole('button', { name: /Retour/ }).click();

      // The list offers version 2 for new interviews; the draft says version 1, also after the
      // app is closed and reopened.
      await item.filter({ hasText: 'version 2' }).waitFor();
      await page.close();
      const page2 = await context.newPage();
      await page2.goto(`${origin}/app/`);
      const item2 = page2.locator('.item-questionnaire', { hasText: 'Enquête versions' });
      await item2.filter({ hasText: 'version 2' }).waitFor();
      const draftItem = page2.locator(`.item-draft[data-id="${draft.response.id}"]`);
      await draftItem.waitFor();
      assert.match(await draftItem.locator('.item-meta').textContent(), /version 1/);
      await shot(page2, '16-draft-v1-list-v2');

      // Reopened: the version-1 form, with its answers; version 2's question is not asked.
      await draftItem.getByRole('button', { name: 'Reprendre' }).click();
      await page2.locator('.fill-title').waitFor();
      assert.equal((await page2.locator('.fill-version').textContent()).trim(), 'version 1');
      assert.equal(await page2.getByLabel('Dans quel quartier habitez-vous ?').evaluate((s) => s.selectedOptions[0].textContent), 'Malakoff');
      assert.equal(await group(page2, 'Quel âge avez-vous ?').getByLabel('25–39 ans').isChecked(), true);
      assert.equal(await group(page2, 'Vous êtes :').getByLabel('Une femme').isChecked(), true);
      assert.equal(await group(page2, 'Aimeriez-vous y participer ?').getByLabel('Peut-être').isChecked(), true);
      assert.equal(await page2.getByRole('group', { name: 'Comment venez-vous dans le quartier ?' }).count(), 0);
      assert.equal(await group(page2, 'Quel âge avez-vous ?').getByLabel('25–34 ans').count(), 0);

      // Completed against version 1.
      const likertLabels = ['Très insatisfait·e', 'Insatisfait·e', "Ni l'un ni l'autre", 'Satisfait·e', 'Très satisfait·e'];
      const likert = { 'Votre logement': 3, 'Les transports en commun': 4, 'Les commerces de proximité': 2, 'Le sentiment de sécurité': 3 };
      for (const [q, v] of Object.entries(likert)) {
        await group(page2, q).getByLabel(likertLabels[v - 1], { exact: true }).check();
      }
      await group(page2, 'Quelles sont les trois priorités pour votre quartier ?').getByLabel('Santé').check();
      await group(page2, "Acceptez-vous d'être recontacté·e par l'équipe du conseil citoyen ?").getByLabel('Non').check();
      await waitSaved(page2);
      await page2.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page2.locator('#outbox').waitFor();
      await page2.locator('[data-count="synced"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      const [sent] = (await records(page2)).filter((r) => r.response.id === draft.response.id);
      assert.equal(sent.state, 'synced');
      assert.equal(sent.response.version, 1);

      // The server has it once, on version 1, with the version-1 answers.
      const lines = (await api.exportNdjson(SLUG_V)).filter((l) => l.id === draft.response.id);
      assert.equal(lines.length, 1, 'exactly once in the export');
      assert.equal(lines[0].version, 1);
      assert.deepEqual(lines[0].answers, {
        quartier: 'malakoff',
        anciennete: '1_5_ans',
        tranche_age: '25_39',
        genre: 'femme',
        cadre_de_vie: { logement: 3, transports: 4, commerces: 2, securite: 3 },
        priorites: ['sante'],
        souhaite_participer: 'peut_etre',
        recontact: false,
      });

      // A response started now is on version 2: its form, its questions.
      await startQuestionnaire(page2, 'Enquête versions');
      assert.equal((await page2.locator('.fill-version').textContent()).trim(), 'version 2');
      await page2.getByRole('group', { name: 'Comment venez-vous dans le quartier ?' }).getByLabel('En tram').check();
      assert.equal(await page2.getByRole('group', { name: 'Vous êtes :' }).count(), 0);
      await group(page2, 'Quel âge avez-vous ?').getByLabel('25–34 ans').waitFor();
      await waitSaved(page2);
      const [fresh] = (await records(page2)).filter((r) => r.state === 'draft' && r.response.questionnaire === SLUG_V);
      assert.equal(fresh.response.version, 2);
      assert.deepEqual(fresh.response.answers, { transport: 'tram' });
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('the app loads from the service worker with the network off', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      const page = await enrolPhone(phone, 'Sacha');
      await waitForServiceWorker(page);
      await context.setOffline(true);
      await page.reload();
      await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
      // (navigator.onLine is not emulated on a document loaded while offline: no badge check)
      // A brand-new tab, as when the app is opened from the home screen in airplane mode.
      await page.close();
      const page2 = await context.newPage();
      await page2.goto(`${origin}/app/`);
      await page2.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
      await startQuestionnaire(page2);
      await page2.getByLabel('Dans quel quartier habitez-vous ?').waitFor();
      await shot(page2, '11-offline-start');
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('the outbox survives a reload while a sync was in flight: no loss, no duplicate', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      const page = await enrolPhone(phone, 'Noa');
      await waitForServiceWorker(page);
      // Hold the sync request: it reaches the server (which stores the response), but the
      // answer never reaches the page, which is reloaded meanwhile.
      let reached;
      const atServer = new Promise((r) => { reached = r; });
      let held = null;
      await context.route('**/api/v1/sync/responses', async (route) => {
        if (held) return route.continue();
        held = route;
        const res = await route.fetch();
        reached(await res.json());
      });
      await startQuestionnaire(page);
      await fillHabitants(page, { photo: false, location: false });
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      const serverSaid = await atServer;
      assert.equal(serverSaid.results[0].status, 'accepted');
      assert.equal((await counts(page)).queued, 1, 'still queued: the answer did not arrive');
      await page.reload();
      await held.abort().catch(() => {});
      await page.locator('[data-count="synced"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      const c = await counts(page);
      assert.equal(c.queued, 0);
      assert.equal(c.synced, 1);
      const [rec] = (await records(page)).filter((r) => r.state === 'synced');
      const mine = (await api.exportNdjson(SLUG)).filter((l) => l.id === rec.response.id);
      assert.equal(mine.length, 1, 'exactly once on the server');
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a new app version installs without losing the draft or the outbox', { timeout: T }, async (t) => {
    // Served by a front that can swap a file for a "new version" (same server behind it).
    const updFront = await appOrigin(server, { front: true });
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const { context } = phone;
      const { enrolment_code: code } = await api.interviewer('Yaël');
      const page = await context.newPage();
      await page.goto(`${updFront.origin}/app/#enrol=${encodeURIComponent(code)}`);
      await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
      await waitForServiceWorker(page);
      // One queued response (held offline) and one draft.
      await context.setOffline(true);
      await startQuestionnaire(page);
      await fillHabitants(page, { photo: false, location: false });
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('[data-count="queued"] .count-n', { hasText: '1' }).waitFor();
      await startQuestionnaire(page);
      await page.getByLabel('Dans quel quartier habitez-vous ?').selectOption({ label: 'Breil' });
      await waitSaved(page);
      await page.getByRole('button', { name: /Retour/ }).click();
      await page.locator('.item-draft').waitFor();
      // A new version of the app on the server.
      const appJs = readFileSync(path.join(WEB_DIR, 'app.js'), 'utf8');
      updFront.overrides.set('/app/app.js', `${appJs}\nwindow.PAROLE_TEST_VERSION = 2;\n`);
      await context.setOffline(false);
      // Back online, the app syncs, then asks the worker to check for a new version.
      await page.locator('[data-count="synced"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      await page.locator('#update').waitFor({ state: 'visible', timeout: 30_000 });
      await shot(page, '15-update-ready');
      await page.locator('#update').getByRole('button', { name: 'Recharger' }).click();
      await page.waitForFunction(() => window.PAROLE_TEST_VERSION === 2);
      await page.locator('.item-draft').waitFor();
      const c = await counts(page);
      assert.deepEqual([c.drafts, c.synced, c.queued], [1, 1, 0], 'nothing lost');
      // And the new version is what starts offline.
      await context.setOffline(true);
      await page.reload();
      await page.waitForFunction(() => window.PAROLE_TEST_VERSION === 2);
      await page.locator('.item-draft').waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
      await updFront.stop();
    }
  });

  test('enrolment: a wrong code gets a clear French message; typing the right code works', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await phone.context.newPage();
      await page.goto(`${origin}/app/`);
      await page.getByRole('heading', { name: 'Inscrire ce téléphone' }).waitFor();
      await shot(page, '01-enrol');
      await page.getByLabel('Code d’inscription').fill('PAS-UN-CODE');
      await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
      const err = page.locator('#enrol-error p');
      await err.waitFor();
      const text = await err.textContent();
      assert.match(text, /code|inscription/i, text);
      await shot(page, '01b-enrol-error');
      const { enrolment_code: code } = await api.interviewer('Lou');
      await page.getByLabel('Code d’inscription').fill(code);
      await page.getByLabel('Nom de ce téléphone').fill('Téléphone de Lou');
      await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
      await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();
      // The code is single-use: another phone opening the same link is refused.
      const other = await launchPhone();
      try {
        const p2 = await other.context.newPage();
        await p2.goto(`${origin}/app/#enrol=${encodeURIComponent(code)}`);
        await p2.locator('#enrol-error p').waitFor();
        assert.equal(new URL(p2.url()).hash, '');
      } finally {
        await other.close();
      }
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a damaged enrolment link opens the enrolment screen saying so, and the code can be typed', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await phone.context.newPage();
      await page.goto(`${origin}/app/#enrol=%E0%A4%A`);
      await page.getByRole('heading', { name: 'Inscrire ce téléphone' }).waitFor();
      const err = page.locator('#enrol-error p');
      await err.waitFor();
      assert.match(await err.textContent(), /lien d’inscription est abîmé/);
      assert.equal(new URL(page.url()).hash, '');
      const { enrolment_code: code } = await api.interviewer('Sacha');
      await page.getByLabel('Code d’inscription').fill(code);
      await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
      await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('errors appear next to the questions, English switch, big tap targets', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await enrolPhone(phone, 'Alex');
      await startQuestionnaire(page);
      // Terminer on an empty form: errors next to the required questions, nothing queued.
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      const quartier = page.locator('.q', { has: page.getByLabel('Dans quel quartier habitez-vous ?') });
      await quartier.locator('.q-error p').first().waitFor();
      assert.equal(await page.getByLabel('Dans quel quartier habitez-vous ?').getAttribute('aria-invalid'), 'true');
      await page.locator('.q.has-error').first().scrollIntoViewIfNeeded();
      await shot(page, '12-errors');
      assert.equal((await counts(page)).queued, 0);
      // A wrong phone number: the error shows as the user answers.
      await group(page, "Acceptez-vous d'être recontacté·e par l'équipe du conseil citoyen ?").getByLabel('Oui').check();
      await page.getByLabel('Téléphone').fill('12');
      await page.getByLabel('Téléphone').blur();
      await page.locator('.q', { has: page.getByLabel('Téléphone') }).locator('.q-error p').first().waitFor();
      // Tap targets: every choice, button and input is at least 44 px high.
      const small = await page.evaluate(() => [...document.querySelectorAll('.choice, .btn, .input, .lang-btn, .btn-back')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => ({ e: e.textContent.trim().slice(0, 30), h: e.getBoundingClientRect().height, w: e.getBoundingClientRect().width }))
        .filter((r) => r.h < 44 || r.w < 44));
      assert.deepEqual(small, [], 'tap targets ≥ 44 px');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(overflow, false, 'no horizontal scrolling at 360 px');
      // English interface and questionnaire labels.
      await page.getByRole('button', { name: 'EN', exact: true }).click();
      await page.getByLabel('Which neighbourhood do you live in?').waitFor();
      await group(page, 'You are:').getByLabel('A woman').waitFor();
      await page.getByRole('button', { name: 'Finish', exact: true }).waitFor();
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, '13-english');
      await page.getByRole('button', { name: 'FR', exact: true }).click();
      await page.getByLabel('Dans quel quartier habitez-vous ?').waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('repeats: add and remove items (besoins-formation)', { timeout: T }, async (t) => {
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await enrolPhone(phone, 'Maël');
      await startQuestionnaire(page, 'Besoins de formation');
      const add = page.getByRole('button', { name: /Ajouter/ });
      await add.click();
      await add.click();
      const items = page.locator('.repeat-item');
      assert.equal(await items.count(), 2);
      await items.nth(0).getByLabel('Intitulé').fill('Prise de parole');
      await items.nth(1).getByLabel('Intitulé').fill('Budget participatif');
      const rec = items.nth(1).getByRole('group', { name: 'La recommanderiez-vous ?' });
      await rec.getByLabel('Non').check();
      await items.nth(1).getByLabel('Pourquoi pas ?').waitFor({ state: 'visible' });
      assert.equal(await items.nth(0).getByLabel('Pourquoi pas ?').isHidden(), true, 'skip logic per item');
      await waitSaved(page);
      await items.nth(1).scrollIntoViewIfNeeded();
      await shot(page, '14-repeat');
      page.once('dialog', (d) => d.accept());
      await items.nth(0).getByRole('button', { name: /Retirer/ }).click();
      await sleep(100);
      assert.equal(await items.count(), 1);
      assert.equal(await items.nth(0).getByLabel('Intitulé').inputValue(), 'Budget participatif');
      await waitSaved(page);
      const answers = await draftAnswers(page);
      assert.deepEqual(answers.formations_suivies, [{ intitule: 'Budget participatif', a_recommander: false }]);
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Accessibility and the keyboard

/** Presses Tab until `target` (a locator, found anew each time) has the focus (at most `max`
 * times); returns how many presses. */
async function tabTo(page, target, { max = 80 } = {}) {
  for (let i = 0; i <= max; i += 1) {
    if (await target.evaluate((e) => e === document.activeElement)) return i;
    await page.keyboard.press('Tab');
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  throw new Error(`${max} presses of Tab did not reach ${target}; the focus is on ${at}`);
}

/** The focused element is `target` and shows a focus ring: an outline of at least 2 px, on it
 * or on its choice's box, with a contrast of at least 3:1 against what is around it (WCAG
 * 1.4.11). */
async function assertFocusVisible(page, target, what) {
  assert.equal(await target.evaluate((e) => e === document.activeElement), true, `${what} has the focus`);
  const ring = await page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = (c) => {
      const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const contrast = (a, b) => {
      const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
      return Math.round(((l1 + 0.05) / (l2 + 0.05)) * 100) / 100;
    };
    const around = (n) => {
      for (let p = n.parentElement; p; p = p.parentElement) {
        const bg = getComputedStyle(p).backgroundColor;
        const a = rgb(bg)[3];
        if (a === undefined || a > 0) return bg;
      }
      return 'rgb(255, 255, 255)';
    };
    const outline = (n) => {
      const s = getComputedStyle(n);
      if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2) return null;
      return { outline: `${s.outlineWidth} ${s.outlineStyle} ${s.outlineColor}`, contrast: contrast(s.outlineColor, around(n)) };
    };
    const e = document.activeElement;
    const box = e.closest('.choice');
    return { focusVisible: e.matches(':focus-visible'), ring: outline(e) || (box ? outline(box) : null) };
  });
  assert.ok(ring.focusVisible && ring.ring, `${what}: a visible focus outline (${JSON.stringify(ring)})`);
  assert.ok(ring.ring.contrast >= 3, `${what}: the focus outline stands out (${JSON.stringify(ring)})`);
}

describe('accessibility and the keyboard', { timeout: 4 * T }, () => {
  test('axe-core: no WCAG 2 A/AA violation on the main screens (enrolment, list, every question kind, a refusal, English)', { timeout: T }, async (t) => {
    // Its own questionnaire (one question of each kind), retired during the test.
    const A11Y = 'types-accessibilite';
    const doc = fixture('tous-les-types.json');
    doc.title = 'Accessibilité — tous les types';
    doc['x-i18n'].en.title = 'Accessibility — every kind';
    assert.equal(await api.publish(A11Y, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    const found = [];
    const check = async (page, screen) => { found.push(...await axeViolations(page, screen)); };
    try {
      const { context } = phone;
      const page = await context.newPage();
      await page.goto(`${origin}/app/`);
      await page.getByRole('heading', { name: 'Inscrire ce téléphone' }).waitFor();
      await check(page, 'enrolment');
      await page.getByLabel('Code d’inscription').fill('PAS-UN-CODE');
      await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
      await page.locator('#enrol-error p').waitFor();
      await check(page, 'enrolment, wrong code');
      const { enrolment_code: code } = await api.interviewer('Ange');
      await page.getByLabel('Code d’inscription').fill(code);
      await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
      await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();

      // A draft (made by its first answer), for the list's drafts card.
      await startQuestionnaire(page);
      await page.getByLabel('Dans quel quartier habitez-vous ?').selectOption({ label: 'Breil' });
      await waitSaved(page);
      await page.getByRole('button', { name: /Retour/ }).click();
      await page.locator('.item-draft').waitFor();

      // The fill screen: every kind of question shown (a repeat item added), errors shown.
      await startQuestionnaire(page, 'Accessibilité — tous les types');
      await page.getByRole('button', { name: /Ajouter/ }).click();
      await page.locator('.repeat-item').waitFor();
      const kinds = await page.evaluate(() => [...new Set([...document.querySelectorAll('[data-kind]')]
        .filter((e) => e.offsetParent !== null).map((e) => e.dataset.kind))].sort());
      assert.deepEqual(kinds, ['boolean', 'date', 'date_time', 'geopoint', 'integer', 'likert', 'long_text',
        'multiple_choice', 'note', 'number', 'photo', 'repeat', 'section', 'short_text', 'single_choice', 'time']);
      assert.equal(await page.locator('.q[data-kind="single_choice"] select').count(), 1, 'a drop-down list too');
      await page.getByLabel('Votre âge').fill('7');
      await page.getByLabel('Votre âge').blur();
      await page.locator('.q', { has: page.getByLabel('Votre âge') }).locator('.q-error p').waitFor();
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('.q', { has: page.getByLabel('Votre prénom') }).locator('.q-error p').waitFor();
      await check(page, 'fill: every question kind, with errors');
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, '17-a11y-every-kind');

      // Completed offline: it waits in the outbox.
      await page.getByLabel('Votre prénom').fill('Awa');
      await group(page, 'Votre couleur préférée').getByLabel('Vert').check();
      await group(page, 'Vos loisirs').getByLabel('Lecture').check();
      await page.getByLabel('Votre âge').fill('30');
      await page.getByLabel("Prénom de l'enfant").fill('Lina');
      await waitSaved(page);
      await context.setOffline(true);
      await page.getByRole('button', { name: 'Terminer', exact: true }).click();
      await page.locator('[data-count="queued"] .count-n', { hasText: '1' }).waitFor();
      await check(page, 'list: outbox (one to send), a draft, questionnaires, storage');

      // The coordination retires the version: the next sync is refused, with its reason.
      await api.call('POST', `/api/v1/questionnaires/${A11Y}/versions/1/revoke`, { reason: 'contrôle d’accessibilité' });
      await context.setOffline(false);
      const refused = page.locator('#refused .item-rejected');
      await refused.waitFor({ timeout: 30_000 });
      await check(page, 'list: a refused response');
      await refused.getByRole('button', { name: 'Revoir la réponse' }).click();
      await page.locator('.banner-error').waitFor();
      await check(page, 'refused response opened');

      // The English interface.
      await page.getByRole('button', { name: 'EN', exact: true }).click();
      await page.getByLabel('Your first name').waitFor();
      await check(page, 'refused response opened, English');
      await page.getByRole('button', { name: /Back/ }).click();
      await page.locator('#outbox').waitFor();
      await check(page, 'list, English');

      if (found.length) {
        assert.fail(`axe-core found ${found.length} WCAG 2 A/AA violation(s):\n${formatViolations(found)}`);
      }
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a 0–10 scale is numbered 0 to 10 and wraps at phone width rather than shrink its buttons below 44 px', { timeout: T }, async (t) => {
    const NPS = 'echelle-0-10';
    const doc = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Recommandation du quartier',
      type: 'object',
      additionalProperties: false,
      properties: {
        reco: {
          type: 'integer',
          'x-widget': 'likert',
          title: 'Recommanderiez-vous le quartier ?',
          oneOf: Array.from({ length: 11 }, (_, i) => ({ const: i, title: i === 0 ? 'Pas du tout' : i === 10 ? 'Tout à fait' : `Note ${i}` })),
        },
      },
    };
    assert.equal(await api.publish(NPS, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await enrolPhone(phone, 'Noa');
      await startQuestionnaire(page, 'Recommandation du quartier');
      const scale = group(page, 'Recommanderiez-vous le quartier ?');
      const numbers = await scale.locator('.lk-n').allTextContents();
      assert.deepEqual(numbers, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      await scale.getByText('0 = Pas du tout').waitFor();
      await scale.getByText('10 = Tout à fait').waitFor();
      const boxes = await scale.locator('label.choice').evaluateAll((ls) => ls.map((l) => l.getBoundingClientRect()).map((r) => ({ w: r.width, h: r.height, top: r.top })));
      for (const b of boxes) assert.ok(b.w >= 44 && b.h >= 44, `a tap target of ${b.w}×${b.h} px`);
      assert.ok(boxes[10].top > boxes[0].top, 'eleven choices at 360 px wrap onto a second row');
      await scale.getByLabel('Tout à fait', { exact: true }).check();
      await scale.getByText('10 — Tout à fait').waitFor();
      await waitSaved(page);
      assert.equal((await draftAnswers(page)).reco, 10);

      // « Terminer et nouvelle réponse »: this one goes to the outbox, a blank one opens.
      await page.getByRole('button', { name: 'Terminer et nouvelle réponse' }).click();
      await page.waitForFunction(async () => {
        const c = await window.parole.client.counts();
        // The blank one becomes a draft at its first answer only.
        return c.queued + c.synced === 1 && c.drafts === 0;
      });
      await page.locator('.fill-title', { hasText: 'Recommandation du quartier' }).waitFor();
      // The blank one replaces the finished one on screen (waited for: on a loaded machine the
      // old form may still be up for a moment).
      await page.waitForFunction(() => {
        const form = document.querySelector('form.questions');
        return form && form.querySelectorAll('input:checked').length === 0;
      });
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('an Arabic questionnaire is laid out right to left in its own language; the picker names languages', { timeout: T }, async (t) => {
    const AR = 'quartier-ar';
    const doc = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Notre rue en deux langues',
      type: 'object',
      additionalProperties: false,
      'x-languages': ['fr', 'ar'],
      'x-i18n': { ar: { title: 'حيّك' } },
      properties: {
        avis: { type: 'string', title: 'Votre avis sur le quartier', 'x-i18n': { ar: { title: 'رأيك في الحي' } } },
      },
    };
    assert.equal(await api.publish(AR, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await enrolPhone(phone, 'Salma');
      await startQuestionnaire(page, 'Notre rue en deux langues');
      const picker = page.locator('select.qlang');
      assert.deepEqual(await picker.locator('option').allTextContents(), ['Français', 'العربية']);
      const questions = page.locator('form.questions');
      assert.equal(await questions.getAttribute('lang'), 'fr');
      assert.equal(await questions.getAttribute('dir'), 'ltr');
      await picker.selectOption('ar');
      await page.getByRole('heading', { name: 'حيّك' }).waitFor();
      assert.equal(await page.locator('form.questions').getAttribute('lang'), 'ar');
      assert.equal(await page.locator('form.questions').getAttribute('dir'), 'rtl');
      assert.equal(await page.locator('.fill-intro').getAttribute('dir'), 'rtl');
      await page.getByLabel('رأيك في الحي').fill('الحي هادئ');
      const box = await page.getByLabel('رأيك في الحي').evaluate((i) => getComputedStyle(i).direction);
      assert.equal(box, 'rtl', 'the answer is typed right to left');
      // The app's own words stay in French around it.
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'fr');
      await page.getByRole('button', { name: /Retour/ }).waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('a question\'s own error message is shown in the questionnaire\'s language, and a pattern never as its regular expression', { timeout: T }, async (t) => {
    const MSG = 'messages-propres';
    const doc = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Adresse et contact',
      type: 'object',
      additionalProperties: false,
      'x-languages': ['fr', 'en'],
      'x-i18n': { en: { title: 'Address and contact' } },
      properties: {
        code_postal: {
          type: 'string',
          title: 'Code postal',
          pattern: '^[0-9]{5}$',
          'x-error-message': 'Un code postal a 5 chiffres, par exemple 44000.',
          'x-i18n': { en: { title: 'Postcode', error_message: 'A postcode has 5 digits, e.g. 44000.' } },
        },
        immeuble: { type: 'string', title: 'Immeuble', pattern: '^[A-Z][0-9]+$' },
      },
    };
    assert.equal(await api.publish(MSG, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await enrolPhone(phone, 'Lou');
      await startQuestionnaire(page, 'Adresse et contact');
      await page.getByLabel('Code postal').fill('440');
      await page.getByLabel('Immeuble').fill('tour 3');
      await page.getByLabel('Code postal').focus();
      const cp = page.locator('.q', { has: page.getByLabel('Code postal') }).locator('.q-error');
      await cp.getByText('Un code postal a 5 chiffres, par exemple 44000.').waitFor();
      const imm = page.locator('.q', { has: page.getByLabel('Immeuble') }).locator('.q-error');
      await imm.getByText('n’a pas la forme attendue').waitFor();
      assert.ok(!(await imm.textContent()).includes('[A-Z]'), 'no regular expression shown');
      // In English, the questionnaire's English message.
      await page.locator('select.qlang').selectOption('en');
      await page.getByLabel('Postcode').fill('4400');
      await page.getByLabel('Immeuble').focus();
      await page.locator('.q', { has: page.getByLabel('Postcode') }).locator('.q-error').getByText('A postcode has 5 digits, e.g. 44000.').waitFor();
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });

  test('keyboard only: enrol, then a text, a radio group, check boxes, a scale and Terminer, with the focus always visible', { timeout: T }, async (t) => {
    const KB = 'types-clavier';
    const doc = fixture('tous-les-types.json');
    doc.title = 'Clavier — tous les types';
    doc['x-i18n'].en.title = 'Keyboard — every kind';
    assert.equal(await api.publish(KB, doc), 1);
    const phone = await launchPhone();
    phone.name = t.name;
    try {
      const page = await phone.context.newPage();
      const { keyboard } = page;
      await page.goto(`${origin}/app/`);
      await page.getByRole('heading', { name: 'Inscrire ce téléphone' }).waitFor();
      const { enrolment_code: code } = await api.interviewer('Kim');

      // Enrolment: Tab to the code, type it, Tab to the name, Enter.
      const codeInput = page.getByLabel('Code d’inscription');
      await tabTo(page, codeInput);
      await assertFocusVisible(page, codeInput, 'the code field');
      await keyboard.type(code);
      await keyboard.press('Tab');
      const nameInput = page.getByLabel('Nom de ce téléphone');
      await assertFocusVisible(page, nameInput, 'the name field');
      await keyboard.press('Control+A');
      await keyboard.type('Téléphone de Kim');
      await keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();
      assert.equal((await page.evaluate(() => window.parole.client.enrolment())).device_name, 'Téléphone de Kim');

      // The top bar's language switch (on the dark brand colour): a ring that shows there too.
      const en = page.getByRole('button', { name: 'EN', exact: true });
      await tabTo(page, en);
      await assertFocusVisible(page, en, 'the EN button of the top bar');
      await keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Outbox' }).waitFor();
      await assertFocusVisible(page, en, 'the EN button, once pressed');
      assert.equal(await en.getAttribute('aria-pressed'), 'true');
      await keyboard.press('Shift+Tab');
      const fr = page.getByRole('button', { name: 'FR', exact: true });
      await assertFocusVisible(page, fr, 'the FR button');
      await keyboard.press('Space');
      await page.getByRole('heading', { name: 'Boîte d’envoi' }).waitFor();
      await assertFocusVisible(page, fr, 'the FR button, once pressed');

      // The list: Tab to the questionnaire's button, Enter.
      const go = page.locator('.item-questionnaire', { hasText: 'Clavier — tous les types' }).getByRole('button', { name: /Commencer/ });
      await go.waitFor();
      await tabTo(page, go);
      await assertFocusVisible(page, go, 'the Commencer button');
      // A sync draws the list again: the focus stays on the same button.
      await page.evaluate(() => window.parole.syncNow({ quiet: true }));
      await assertFocusVisible(page, go, 'the Commencer button, after a sync');
      await keyboard.press('Enter');
      await page.locator('.fill-title').waitFor();

      // A text question.
      const prenom = page.getByLabel('Votre prénom');
      assert.equal(await tabTo(page, prenom), 1, 'the focus moved to the new screen (its title): one Tab to the first question');
      await assertFocusVisible(page, prenom, 'a text field');
      await keyboard.type('Kim');

      // A radio group: Tab enters it, Space chooses, the arrows move the choice.
      const couleur = group(page, 'Votre couleur préférée');
      await keyboard.press('Tab');
      await assertFocusVisible(page, couleur.getByLabel('Rouge'), 'the first radio button');
      await keyboard.press('Space');
      assert.equal(await couleur.getByLabel('Rouge').isChecked(), true);
      await keyboard.press('ArrowDown');
      await assertFocusVisible(page, couleur.getByLabel('Vert'), 'the next radio button');
      assert.equal(await couleur.getByLabel('Vert').isChecked(), true);
      assert.equal(await couleur.getByLabel('Rouge').isChecked(), false);

      // Check boxes: Tab from one to the next, Space ticks.
      const loisirs = group(page, 'Vos loisirs');
      await keyboard.press('Tab');
      await assertFocusVisible(page, loisirs.getByLabel('Lecture'), 'the first check box');
      await keyboard.press('Space');
      await keyboard.press('Tab');
      await keyboard.press('Tab');
      await assertFocusVisible(page, loisirs.getByLabel('Musique'), 'the third check box');
      await keyboard.press('Space');
      assert.equal(await loisirs.getByLabel('Lecture').isChecked(), true);
      assert.equal(await loisirs.getByLabel('Sport').isChecked(), false);
      assert.equal(await loisirs.getByLabel('Musique').isChecked(), true);
      assert.equal(await loisirs.getByLabel('Jardinage').isDisabled(), true, 'two at most');

      // A scale: the arrows.
      const satisfaction = group(page, 'Votre satisfaction');
      const first = satisfaction.getByLabel('Pas du tout satisfait·e');
      await tabTo(page, first);
      await assertFocusVisible(page, first, 'the scale');
      for (let i = 0; i < 4; i += 1) await keyboard.press('ArrowRight');
      await keyboard.press('ArrowLeft');
      assert.equal(await satisfaction.getByLabel('Satisfait·e', { exact: true }).isChecked(), true);
      await shot(page, '18-keyboard-fill');

      // Terminer: Tab to it, Enter. It is queued, then sent.
      const finish = page.getByRole('button', { name: 'Terminer', exact: true });
      await tabTo(page, finish, { max: 120 });
      await assertFocusVisible(page, finish, 'the Terminer button');
      await keyboard.press('Enter');
      await page.locator('#outbox').waitFor();
      await page.locator('[data-count="synced"] .count-n', { hasText: '1' }).waitFor({ timeout: 30_000 });
      const [rec] = (await records(page)).filter((r) => r.response.questionnaire === KB);
      assert.equal(rec.state, 'synced');
      // The phone erased its answers after the receipt: the server holds them.
      const [stored] = (await api.exportNdjson(KB)).filter((l) => l.id === rec.response.id);
      assert.deepEqual(stored.answers, { prenom: 'Kim', couleur: 'vert', loisirs: ['lecture', 'musique'], satisfaction: 4 });
    } catch (e) {
      await diagnose(phone);
      throw e;
    } finally {
      await phone.close();
    }
  });
});
