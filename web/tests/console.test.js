// Browser tests of the coordinators' console (`/console/`), in headless Debian chromium at a
// laptop's size, against a real `parole serve`: signing in and out, the questionnaires list,
// an admin's management of accounts, one's own password, roles, accessibility.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import {
  startServer, adminApi, launchPhone, consoleSignIn, fixture, SHOTS, ADMIN_PASSWORD, axeViolations, formatViolations,
} from './helpers.js';

const T = 90_000;
let server;
let api;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish('besoins-formation', fixture('besoins-formation.json'));
  await api.call('POST', '/api/v1/questionnaires', { slug: 'brouillon', document: fixture('parole-habitants.json') }, { expect: 201 });
  await api.call('POST', '/api/v1/users', { username: 'nadia', role: 'analyst', password: 'analyste-1234' }, { expect: 201 });
  await api.call('POST', '/api/v1/users', { username: 'claire', role: 'coordinator', password: 'coordination-1234' }, { expect: 201 });
  await api.call('POST', '/api/v1/users', { username: 'yasmine', role: 'analyst', password: 'analyste-5678' }, { expect: 201 });
  browser = await launchPhone({ viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const signIn = (username, password) => consoleSignIn(browser.context, server.base, username, password);

async function assertAccessible(page, screen) {
  const violations = await axeViolations(page, screen);
  assert.equal(violations.length, 0, `accessibility problems:\n${formatViolations(violations)}`);
}

test('the root leads to the sign-in, which links to the phone app and says what is wrong', { timeout: T }, async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.base}/`);
  assert.match(page.url(), /\/console\/$/);
  await page.getByRole('heading', { name: 'Se connecter' }).waitFor();
  const link = page.getByRole('link', { name: 'Ouvrir l’application de collecte' });
  assert.equal(await link.getAttribute('href'), '/app/');
  await assertAccessible(page, 'sign-in');
  await page.getByLabel('Identifiant').fill('admin');
  await page.getByLabel('Mot de passe').fill('pas le bon');
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('alert').filter({ hasText: 'mot de passe incorrect' }).waitFor();
  // English, one click away.
  await page.getByRole('button', { name: 'EN' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('button', { name: 'FR' }).click();
  await page.close();
});

test('a coordinator sees each questionnaire with its status and responses, and signs out', { timeout: T }, async () => {
  const page = await signIn('admin', ADMIN_PASSWORD);
  const published = page.locator('tr[data-slug="besoins-formation"]');
  await published.getByText('version 1 publiée').waitFor();
  assert.equal((await published.locator('td.responses').textContent()).trim(), 'aucune');
  const draft = page.locator('tr[data-slug="brouillon"]');
  await draft.getByText('brouillon, jamais publié').waitFor();
  await assertAccessible(page, 'questionnaires');
  await page.screenshot({ path: `${SHOTS}/console-questionnaires.png` });

  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.getByText('Vous êtes déconnecté·e.').waitFor();
  // The session is over on the server too: a reload lands on the sign-in.
  await page.reload();
  await page.getByRole('heading', { name: 'Se connecter' }).waitFor();
  await page.close();
});

test('an admin creates an account, changes its role, resets its password and disables it', { timeout: T }, async () => {
  const page = await signIn('admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Comptes' }).click();
  await page.getByRole('heading', { name: 'Comptes du personnel' }).waitFor();
  await page.getByLabel('Identifiant').fill('lucas');
  await page.getByLabel('Rôle', { exact: true }).selectOption('analyst');
  await page.getByLabel('Mot de passe', { exact: true }).fill('court');
  await page.getByRole('button', { name: 'Créer' }).click();
  await page.getByRole('alert').filter({ hasText: '8 caractères' }).waitFor();
  await page.getByLabel('Mot de passe', { exact: true }).fill('un mot de passe');
  await page.getByRole('button', { name: 'Créer' }).click();
  const row = page.locator('tr[data-user="lucas"]');
  await row.waitFor();
  await assertAccessible(page, 'accounts');

  // The new analyst signs in elsewhere, then becomes a coordinator.
  const lucas = await signIn('lucas', 'un mot de passe');
  await lucas.getByText('(analyste)').waitFor();
  assert.equal(await lucas.getByRole('link', { name: 'Comptes' }).count(), 0, 'an analyst has no accounts page');
  await lucas.goto(`${server.base}/console/#/accounts`);
  await lucas.getByText('Cette page n’est pas ouverte à votre rôle.').waitFor();
  await page.getByLabel('Rôle de lucas').selectOption('coordinator');
  await page.getByText('lucas a maintenant le rôle coordination.').waitFor();

  // A new password ends lucas's session: their next step asks them to sign in again.
  await page.locator('tr[data-user="lucas"]').getByRole('button', { name: 'Nouveau mot de passe' }).click();
  await page.getByLabel('Nouveau mot de passe pour lucas').fill('un autre mot de passe');
  await page.locator('tr[data-user="lucas"]').getByRole('button', { name: 'Enregistrer' }).click();
  await page.getByText('Mot de passe de lucas changé').waitFor();
  await lucas.getByRole('link', { name: 'Mon mot de passe' }).click();
  await lucas.getByRole('link', { name: 'Questionnaires' }).click();
  await lucas.getByText('Votre session a pris fin : reconnectez-vous.').waitFor();
  await lucas.close();

  // Disabled: lucas cannot sign in any more.
  await page.locator('tr[data-user="lucas"]').getByRole('button', { name: 'Désactiver' }).click();
  await page.locator('tr[data-user="lucas"]').getByText('désactivé').waitFor();
  const r = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'lucas', password: 'un autre mot de passe' }),
  });
  assert.equal(r.status, 401);
  // The admin's own row cannot be disabled.
  assert.equal(await page.locator('tr[data-user="admin"]').getByRole('button', { name: 'Désactiver' }).count(), 0);
  await page.close();
});

test('an analyst changes their own password; a wrong current one is named', { timeout: T }, async () => {
  const page = await signIn('nadia', 'analyste-1234');
  await page.getByRole('link', { name: 'Mon mot de passe' }).click();
  await page.getByRole('heading', { name: 'Changer mon mot de passe' }).waitFor();
  await assertAccessible(page, 'password');
  await page.getByLabel('Mot de passe actuel').fill('pas le bon');
  await page.getByLabel('Nouveau mot de passe (8 caractères au moins)').fill('nouveau-1234');
  await page.getByLabel('Nouveau mot de passe, encore une fois').fill('nouveau-1234');
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await page.getByRole('alert').filter({ hasText: 'mot de passe actuel' }).waitFor();
  await page.getByLabel('Mot de passe actuel').fill('analyste-1234');
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await page.getByText('Mot de passe changé.').waitFor();
  const r = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'nadia', password: 'nouveau-1234' }),
  });
  assert.equal(r.status, 200);
  await page.close();
});

/** The text of the QR code in `locator` (an image on the page), decoded from a screenshot. */
async function readQr(locator) {
  const png = PNG.sync.read(await locator.screenshot());
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(found, 'a QR code is readable in the image');
  return found.data;
}

test('a coordinator creates an interviewer, whose QR code holds a working enrolment link; the phone shows up and is revoked', { timeout: T }, async () => {
  const page = await signIn('claire', 'coordination-1234');
  await page.getByRole('link', { name: 'Enquêteurs' }).click();
  await page.getByRole('heading', { name: 'Enquêteurs et téléphones' }).waitFor();
  await page.getByText('Aucun téléphone inscrit pour l’instant.').waitFor();
  await page.getByLabel('Nom de l’enquêteur ou de l’enquêtrice').fill('Awa Diallo');
  await page.getByRole('button', { name: 'Créer et afficher son code' }).click();
  await page.getByRole('heading', { name: 'Inscription de Awa Diallo' }).waitFor();

  // The QR code, read as a phone's camera would, is the link with the code shown in letters.
  const code = (await page.locator('#code-panel dd.code-letters').textContent()).trim();
  const link = await readQr(page.getByRole('img', { name: 'Code QR du lien d’inscription de Awa Diallo' }));
  assert.equal(link, `${server.base}/app/#enrol=${encodeURIComponent(code)}`);
  await assertAccessible(page, 'interviewers with a code');
  await page.screenshot({ path: `${SHOTS}/console-interviewer-code.png` });

  // The printable sheet: the name, the QR code, the code in letters, three instructions.
  await page.evaluate(() => { window.print = () => { window.printed = true; }; });
  await page.getByRole('button', { name: 'Imprimer la fiche' }).click();
  await page.waitForFunction(() => window.printed === true);
  const sheet = page.locator('#print-sheets .sheet');
  assert.equal(await sheet.count(), 1);
  assert.match(await sheet.textContent(), /Awa Diallo/);
  assert.equal((await sheet.locator('.code-letters').textContent()).trim(), code);
  assert.equal(await sheet.locator('ol.steps li').count(), 3);
  await page.emulateMedia({ media: 'print' });
  assert.ok(await sheet.isVisible(), 'the sheet prints');
  assert.ok(!(await page.locator('main').isVisible()), 'the page itself does not');
  await page.emulateMedia({ media: 'screen' });

  // The code enrols a phone, which the page then lists; a coordinator revokes it.
  const enrolled = await fetch(`${server.base}/api/v1/enrol`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, device_name: 'Téléphone d’Awa' }),
  });
  assert.equal(enrolled.status, 201);
  await page.reload();
  const phone = page.locator('tr[data-device="Téléphone d’Awa"]');
  await phone.waitFor();
  assert.match(await phone.textContent(), /Awa Diallo/);
  assert.equal((await page.locator('tr[data-interviewer="Awa Diallo"] td').first().textContent()).trim(), '1');
  page.once('dialog', (d) => d.accept());
  await phone.getByRole('button', { name: 'Révoquer' }).click();
  await page.getByText('Téléphone « Téléphone d’Awa » révoqué.').waitFor();
  await page.locator('tr[data-device="Téléphone d’Awa"]').getByText('révoqué le').waitFor();
  await assertAccessible(page, 'interviewers and phones');
  await page.close();
});

test('an analyst cannot reach the interviewers page, nor make QR codes', { timeout: T }, async () => {
  const page = await signIn('yasmine', 'analyste-5678');
  assert.equal(await page.getByRole('link', { name: 'Enquêteurs' }).count(), 0);
  await page.goto(`${server.base}/console/#/interviewers`);
  await page.getByText('Cette page n’est pas ouverte à votre rôle.').waitFor();
  const status = await page.evaluate(async () => (await fetch('/api/v1/qr', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sessionStorage.getItem('parole.console.token')}` },
    body: JSON.stringify({ text: 'x' }),
  })).status);
  assert.equal(status, 403);
  await page.close();
});
