// Browser tests of the console's questionnaire builder (`/console/#/questionnaires/SLUG`), in
// headless Debian chromium at a laptop's size, against a real `parole serve`: a questionnaire
// built only through the builder (every kind of question, a skip rule, reordering from the
// keyboard, duplicate and remove, the JSON view), previewed, published, filled in the phone
// app, found in the export.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import {
  startServer, adminApi, launchPhone, consoleSignIn, fixture, SHOTS, ADMIN_PASSWORD, axeViolations, formatViolations,
} from './helpers.js';

const T = 180_000;
const SLUG = 'enquete-du-marche';
let server;
let api;
let laptop;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.call('POST', '/api/v1/users', { username: 'yanis', role: 'analyst', password: 'analyste-1234' }, { expect: 201 });
  await api.call('POST', '/api/v1/users', { username: 'claire', role: 'coordinator', password: 'coordination-1234' }, { expect: 201 });
  laptop = await launchPhone({ viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 });
});

after(async () => {
  await laptop?.close();
  await server?.stop();
});

const signIn = (username, password) => consoleSignIn(laptop.context, server.base, username, password);

const item = (page, key) => page.locator(`.qitem[data-key="${key}"]`);
const saved = (page) => page.locator('.save-line', { hasText: 'Brouillon enregistré' }).waitFor();

async function draft() {
  const r = await api.call('GET', `/api/v1/questionnaires/${SLUG}`);
  return r.json.draft;
}

test('a questionnaire built only through the builder is previewed, published, filled on a phone and exported', { timeout: T }, async () => {
  const page = await signIn('admin', ADMIN_PASSWORD);
  await page.getByLabel('Titre', { exact: true }).fill('Enquête du marché');
  assert.equal(await page.getByLabel('Identifiant (dans les adresses et les exports)').inputValue(), SLUG);
  await page.getByRole('button', { name: 'Créer' }).click();
  await page.getByRole('heading', { name: 'Aperçu sur téléphone' }).waitFor();

  // One question of every kind the format has, from the menu.
  const kinds = await page.getByLabel('Nouvelle question :').locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.equal(kinds.length, 17);
  for (const kind of kinds) {
    await page.getByLabel('Nouvelle question :').last().selectOption(kind);
    await page.getByRole('button', { name: 'Ajouter', exact: true }).last().click();
    await saved(page);
  }
  assert.equal(await page.locator('.builder-body > .qlist-wrap > .qlist > .qitem').count(), 17);
  const doc = await draft();
  assert.deepEqual(Object.keys(doc.properties).length, 17, 'every question is saved on the server');
  for (const kind of ['short_text', 'single_choice', 'multiple_choice', 'likert', 'geopoint', 'photo', 'note', 'section', 'repeat', 'time', 'date_time']) {
    assert.ok(await page.locator(`.phone [data-kind="${kind}"]`).count() >= 1, `the preview shows a ${kind} question`);
  }

  // The single choice: a title, two choices pasted one per line, required.
  const choice = item(page, 'choix_unique');
  if (!(await choice.locator('.qedit').count())) await choice.locator('.qitem-title').click();
  await choice.getByLabel('Question', { exact: true }).fill('Souhaitez-vous participer ?');
  await choice.getByLabel('Un choix par ligne').fill('Oui\nNon, merci');
  await choice.getByLabel('Un choix par ligne').blur();
  await choice.getByText('Valeurs enregistrées : oui, non_merci').waitFor();
  await choice.getByLabel('Obligatoire').check();
  await saved(page);

  // The date, shown only when the answer above is « Oui »: a rule built by picking.
  const date = item(page, 'date');
  if (!(await date.locator('.qedit').count())) await date.locator('.qitem-title').click();
  await date.getByLabel('Question', { exact: true }).fill('Quand pouvez-vous venir ?');
  await date.getByRole('button', { name: 'Ajouter une condition' }).click();
  await date.getByLabel('Question', { exact: true }).nth(1).selectOption({ label: 'Souhaitez-vous participer ? (choix_unique)' });
  await date.getByLabel('Comparaison').selectOption('is');
  await date.getByLabel('Valeur').selectOption({ label: 'Oui' });
  await saved(page);
  await page.waitForFunction(async (slug) => {
    const token = sessionStorage.getItem('parole.console.token');
    const r = await fetch(`/api/v1/questionnaires/${slug}`, { headers: { authorization: `Bearer ${token}` } });
    return JSON.stringify((await r.json()).draft.properties.date['x-visible-if'] || null)
      === JSON.stringify({ properties: { choix_unique: { const: 'oui' } }, required: ['choix_unique'] });
  }, SLUG);

  // The preview follows the rule as the phone would.
  const preview = page.locator('.phone');
  const when = preview.getByLabel('Quand pouvez-vous venir ?');
  await preview.getByText('Souhaitez-vous participer ?').waitFor();
  assert.equal(await when.isVisible(), false, 'hidden until « Oui »');
  const participer = preview.getByRole('group', { name: 'Souhaitez-vous participer ?' });
  await participer.getByLabel('Oui', { exact: true }).check();
  await when.waitFor({ state: 'visible' });
  await participer.getByLabel('Non, merci').check();
  await when.waitFor({ state: 'hidden' });
  await page.screenshot({ path: `${SHOTS}/console-builder.png` });

  // Reordering from the keyboard: the long text goes one place down.
  const order = async () => (await draft()) && Object.keys((await draft()).properties);
  const before = await order();
  const i = before.indexOf('texte_long');
  await item(page, 'texte_long').getByRole('button', { name: /^Descendre/ }).focus();
  await page.keyboard.press('Enter');
  await saved(page);
  await page.waitForFunction(() => true);
  let after = await order();
  for (let n = 0; n < 20 && after.indexOf('texte_long') !== i + 1; n += 1) {
    await page.waitForTimeout(200);
    after = await order();
  }
  assert.equal(after.indexOf('texte_long'), i + 1, `${after}`);
  assert.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') || ''), /texte|Nouvelle question/i, 'the focus stays on the moved question');

  // Duplicate, then remove the copy.
  await item(page, 'texte_court').getByRole('button', { name: /^Dupliquer/ }).click();
  await item(page, 'texte_court_copie').waitFor();
  page.once('dialog', (d) => d.accept());
  await item(page, 'texte_court_copie').getByRole('button', { name: /^Supprimer/ }).click();
  await item(page, 'texte_court_copie').waitFor({ state: 'detached' });
  await saved(page);
  assert.ok(!('texte_court_copie' in (await draft()).properties));
  await assertAccessible(page, 'builder');

  // The JSON view: a wrong edit is named by its path and not saved; the builder's work stays.
  await page.getByRole('button', { name: 'JSON', exact: true }).click();
  const json = page.getByLabel('Le document du questionnaire (JSON)');
  const text = await json.inputValue();
  assert.match(text, /"x-visible-if"/);
  await json.fill(text.replace('"Quand pouvez-vous venir ?"', '""'));
  await page.locator('.doc-errors', { hasText: '/properties/date/title' }).waitFor();
  await page.locator('.save-line', { hasText: 'Pas enregistré' }).waitFor();
  assert.equal((await draft()).properties.date.title, 'Quand pouvez-vous venir ?');
  await json.fill(text);
  await saved(page);
  await page.getByRole('button', { name: 'Constructeur' }).click();

  // Publish: the first version.
  await page.getByRole('button', { name: 'Publier…' }).click();
  await page.getByText('Première version').waitFor();
  await page.getByRole('button', { name: 'Publier', exact: true }).click();
  await page.getByText('Version 1 publiée').waitFor();

  // A phone fills it: « Oui », then the date the rule shows.
  const { enrolment_code: code } = await api.interviewer('Inès');
  const phone = await launchPhone();
  try {
    const app = await phone.context.newPage();
    await app.goto(`${server.base}/app/#enrol=${encodeURIComponent(code)}`);
    const entry = app.locator('.item-questionnaire', { hasText: 'Enquête du marché' });
    await entry.getByRole('button', { name: /Commencer/ }).click();
    await app.locator('.fill-title').waitFor();
    await app.getByRole('group', { name: 'Souhaitez-vous participer ?' }).getByLabel('Oui', { exact: true }).check();
    await app.getByLabel('Quand pouvez-vous venir ?').fill('2026-12-15');
    await app.getByRole('button', { name: 'Terminer', exact: true }).click();
    await app.getByRole('button', { name: 'Synchroniser' }).click();
    let rows = [];
    for (let n = 0; n < 50 && !rows.length; n += 1) {
      rows = await api.exportNdjson(SLUG);
      if (!rows.length) await app.waitForTimeout(300);
    }
    assert.equal(rows.length, 1);
    assert.equal(rows[0].answers.choix_unique, 'oui');
    assert.equal(rows[0].answers.date, '2026-12-15');
  } finally {
    await phone.close();
  }

  // Following the collection: the response, by day and by interviewer.
  await page.getByRole('button', { name: 'Suivi de la collecte' }).click();
  await page.getByRole('heading', { name: 'Réponses par enquêteur' }).waitFor();
  const total = page.locator('.count', { hasText: 'réponses reçues' }).locator('.count-n');
  assert.equal((await total.textContent()).trim(), '1');
  const ines = page.locator('.follow-interviewers tbody tr', { hasText: 'Inès' });
  assert.equal((await ines.locator('td').first().textContent()).trim(), '1');
  assert.equal(await page.locator('.follow-days tbody tr').count(), 1);
  await assertAccessible(page, 'collection');
  await page.close();
});

const XLSFORMS = new URL('../../server/tests/xlsforms/', import.meta.url).pathname;

test('an XLSForm from the corpus is imported in the console, its report read, then published; a broken one is refused with its place', { timeout: T }, async () => {
  const page = await signIn('admin', ADMIN_PASSWORD);
  await page.getByLabel('Classeur XLSForm (.xlsx)').setInputFiles(`${XLSFORMS}broken/XLSForm__pyxform__tests__bug_example_xls__duplicate_columns.xlsx`);
  await page.getByText('ne peut pas devenir un questionnaire').first().waitFor();
  const refused = page.locator('.xls-report tbody tr').first();
  assert.match(await refused.textContent(), /survey/);
  assert.match(await refused.textContent(), /label/);

  await page.getByLabel('Classeur XLSForm (.xlsx)').setInputFiles(`${XLSFORMS}kobotoolbox__kobocat__onadata__apps__main__tests__fixtures__exp.xlsx`);
  await page.locator('.xls-report [role="status"]').waitFor();
  const summary = await page.locator('.xls-report [role="status"]').textContent();
  assert.match(summary, /question\(s\)/);
  const warnings = await page.locator('.xls-report tbody tr').count();
  assert.ok(warnings > 0, 'the report lists what was not converted, row by row');
  assert.match(await page.locator('.xls-report tbody tr').first().textContent(), /survey|settings|choices/);
  await assertAccessible(page, 'xlsform report');
  await page.getByLabel('Identifiant (dans les adresses et les exports)').last().fill('import-kobo');
  await page.getByRole('button', { name: 'Créer le questionnaire et l’ouvrir' }).click();
  await page.getByRole('heading', { name: 'Aperçu sur téléphone' }).waitFor();
  await page.getByRole('button', { name: 'Publier…' }).click();
  await page.getByRole('button', { name: 'Publier', exact: true }).click();
  await page.getByText('Version 1 publiée').waitFor();
  const r = await api.call('GET', '/api/v1/questionnaires/import-kobo');
  assert.equal(r.json.versions.length, 1);
  await page.close();
});

test('two editors: the second is told and overwrites nothing; the changes are shown before version 2; a type change is refused', { timeout: T }, async () => {
  const slug = 'deux-mains';
  await api.publish(slug, fixture('besoins-formation.json'));
  const a = await signIn('admin', ADMIN_PASSWORD);
  const b = await signIn('claire', 'coordination-1234');
  for (const page of [a, b]) {
    await page.goto(`${server.base}/console/#/questionnaires/${slug}`);
    await page.getByRole('heading', { name: 'Aperçu sur téléphone' }).waitFor();
  }
  const edit = async (page, key, title) => {
    const q = page.locator(`.qitem[data-key="${key}"]`);
    if (!(await q.locator('.qedit').count())) await q.locator('.qitem-title').click();
    await q.getByLabel('Question', { exact: true }).first().fill(title);
  };
  await edit(a, 'conseil', 'Dans quel conseil citoyen êtes-vous ?');
  await saved(a);
  await edit(b, 'role', 'Votre rôle au conseil');
  await b.getByRole('alert').filter({ hasText: /modifié|changed/ }).waitFor();
  let doc = (await api.call('GET', `/api/v1/questionnaires/${slug}`)).json.draft;
  assert.equal(doc.properties.conseil.title, 'Dans quel conseil citoyen êtes-vous ?', 'the first editor\'s change stays');
  assert.notEqual(doc.properties.role.title, 'Votre rôle au conseil', 'the second editor overwrote nothing');
  await b.getByRole('button', { name: 'Recharger le brouillon' }).click();
  await b.locator('.qitem[data-key="conseil"]', { hasText: 'Dans quel conseil citoyen êtes-vous ?' }).waitFor();
  await b.close();

  // Before version 2: what changed since version 1.
  await a.getByRole('button', { name: 'Publier…' }).click();
  const review = a.locator('.publish-review');
  await review.waitFor();
  await review.getByText('Changements depuis la version 1').waitFor();
  assert.match(await review.textContent(), /Dans quel conseil citoyen êtes-vous \?/);
  await assertAccessible(a, 'publish review');
  await review.getByRole('button', { name: 'Publier', exact: true }).click();
  await a.getByText('Version 2 publiée').waitFor();

  // A question whose kind changes would make earlier responses unreadable: refused, saying
  // why and what to do instead.
  await a.getByRole('button', { name: 'JSON', exact: true }).click();
  const json = a.getByLabel('Le document du questionnaire (JSON)');
  doc = JSON.parse(await json.inputValue());
  doc.properties.annee_entree = { type: 'string', title: doc.properties.annee_entree.title };
  await json.fill(JSON.stringify(doc, null, 2));
  await saved(a);
  await a.getByRole('button', { name: 'Publier…' }).click();
  const refusal = a.locator('.publish-review [role="alert"]');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /annee_entree/);
  assert.ok(await a.locator('.publish-review').getByRole('button', { name: 'Publier', exact: true }).isDisabled());
  const versions = (await api.call('GET', `/api/v1/questionnaires/${slug}`)).json.versions;
  assert.equal(versions.length, 2, 'nothing more was published');
  await a.close();
});

test('an analyst cannot reach the builder', { timeout: T }, async () => {
  const page = await signIn('yanis', 'analyste-1234');
  await page.goto(`${server.base}/console/#/questionnaires/${SLUG}`);
  await page.getByText('Cette page n’est pas ouverte à votre rôle.').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Enquête du marché' }).count(), 0, 'no link to the builder either');
  await page.close();
});

async function assertAccessible(page, screen) {
  const violations = await axeViolations(page, screen);
  assert.equal(violations.length, 0, `accessibility problems:\n${formatViolations(violations)}`);
}
