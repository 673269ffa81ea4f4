// Browser tests of the console's responses pages (`#/responses/…`), against a real
// `parole serve` holding four responses to `tous-les-types` pushed by one phone: the review
// (coordinator, then an analyst read-only), the table's filters, one response with its
// labelled answers and repeat, the map with its tiles out of reach, and downloads that carry
// the filters.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import {
  startServer, adminApi, launchPhone, consoleSignIn, fixture, tinyPng, SHOTS, axeViolations, formatViolations,
} from './helpers.js';

const T = 30_000;
const SLUG = 'tous-les-types';
let server;
let api;
let browser;
const ids = {};

/** A UUID v7 (the ids phones make). */
function uuidv7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i += 1) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function response(day, answers, location) {
  return {
    id: uuidv7(),
    questionnaire: SLUG,
    version: 1,
    started_at: `${day}T10:00:00+01:00`,
    completed_at: `${day}T10:12:30+01:00`,
    answers: { prenom: 'Aïcha', loisirs: ['lecture'], ...answers },
    ...(location ? { location } : {}),
  };
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish(SLUG, fixture('tous-les-types.json'));
  await api.call('POST', '/api/v1/users', { username: 'claire', role: 'coordinator', password: 'coordination-1234' }, { expect: 201 });
  await api.call('POST', '/api/v1/users', { username: 'nadia', role: 'analyst', password: 'analyste-1234' }, { expect: 201 });
  const { enrolment_code: code } = await api.interviewer('Awa Diallo');
  const enrolled = await (await fetch(`${server.base}/api/v1/enrol`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, device_name: 'Téléphone d’Awa' }),
  })).json();
  const device = { authorization: `Bearer ${enrolled.token}` };
  const png = tinyPng();
  const photo = `sha256:${createHash('sha256').update(png).digest('hex')}`;
  const put = await fetch(`${server.base}/api/v1/attachments/${photo}`, { method: 'PUT', headers: { ...device, 'content-type': 'image/png' }, body: png });
  assert.ok(put.ok, `photo: ${put.status}`);
  const batch = {
    r1: response('2025-03-10', {
      couleur: 'rouge', ville: 'nantes', photo, position: { lat: 47.2184, lon: -1.5536, accuracy_m: 6 },
      adresse: { rue: '12 rue de la Loire', code_postal: '44000' },
      enfants: [{ prenom_enfant: 'Lina', age_enfant: 7 }, { prenom_enfant: 'Noé', age_enfant: 4 }],
    }),
    r2: response('2025-03-12', { couleur: 'vert', ville: 'reze' }, { lat: 47.19, lon: -1.55, accuracy_m: 12 }),
    r3: response('2025-03-14', { couleur: 'bleu', ville: 'nantes', position: { lat: 47.2186, lon: -1.5532 } }),
    r4: response('2025-03-14', { couleur: 'rouge', ville: 'orvault' }),
  };
  for (const [k, r] of Object.entries(batch)) ids[k] = r.id;
  const pushed = await (await fetch(`${server.base}/api/v1/sync/responses`, {
    method: 'POST', headers: { ...device, 'content-type': 'application/json' },
    body: JSON.stringify({ responses: Object.values(batch) }),
  })).json();
  assert.ok(pushed.results.every((r) => r.status === 'accepted'), JSON.stringify(pushed));
  await api.call('PUT', `/api/v1/responses/${ids.r3}/review`, { state: 'approved', comment: 'ok' });
  browser = await launchPhone({ viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 });
  // The tile server is out of reach, as in CI (and whatever the machine's network).
  await browser.context.route('https://tile.openstreetmap.org/**', (route) => route.abort('internetdisconnected'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const signIn = (username, password) => consoleSignIn(browser.context, server.base, username, password);
const coordinator = () => signIn('claire', 'coordination-1234');

async function assertAccessible(page, screen) {
  const violations = await axeViolations(page, screen);
  assert.equal(violations.length, 0, `accessibility problems:\n${formatViolations(violations)}`);
}

/** The ids of the rows the table shows, once it shows `n` of them. */
async function rowIds(page, n) {
  const rows = page.locator('table.responses tbody tr');
  await page.waitForFunction((k) => document.querySelectorAll('table.responses tbody tr').length === k
    || (k === 0 && document.querySelector('.results [role="status"]')?.textContent.includes('Aucune')), n);
  return rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id).sort());
}

const sorted = (...keys) => keys.map((k) => ids[k]).sort();

/** Picks `question` in the filter's condition number `n` (from 1) and ticks `answers`. */
async function whereAnswers(page, question, answers, n = 1) {
  await page.getByLabel(n === 1 ? 'Question à choix unique' : `Question à choix unique n° ${n}`, { exact: true }).selectOption({ label: question });
  const group = page.getByRole('group', { name: n === 1 ? 'Réponses retenues à cette question' : `Réponses retenues à la question n° ${n}` });
  for (const a of answers) await group.getByLabel(a, { exact: true }).check();
}

test('a coordinator reviews a response with a comment, the history lists it, an analyst sees it read-only', { timeout: T }, async () => {
  const page = await coordinator();
  await page.getByRole('link', { name: 'Voir les réponses' }).click();
  await page.locator(`tr[data-id="${ids.r2}"] a`).click();
  await page.getByRole('heading', { name: /^Réponse du/ }).waitFor();
  await page.getByRole('group', { name: 'Nouvel état' }).getByLabel('à corriger').check();
  await page.getByLabel('Commentaire (facultatif)').fill('Ville à vérifier avec l’enquêtrice');
  await page.getByRole('button', { name: 'Enregistrer la relecture' }).click();
  await page.getByText('Réponse marquée « à corriger ».').waitFor();
  const history = page.locator('table.review-history tbody tr');
  assert.equal(await history.count(), 1, 'one review step (the initial received is no step)');
  const last = await history.first().locator('td').allTextContents();
  assert.equal(last[1], 'à corriger');
  assert.equal(last[2], 'claire');
  assert.equal(last[3], 'Ville à vérifier avec l’enquêtrice');
  await assertAccessible(page, 'one response (coordinator)');
  await page.close();

  const analyst = await signIn('nadia', 'analyste-1234');
  await analyst.goto(`${server.base}/console/#/responses/${SLUG}/${ids.r2}`);
  await analyst.getByText('Seule la coordination change l’état d’une réponse.').waitFor();
  assert.equal(await analyst.getByRole('button', { name: 'Enregistrer la relecture' }).count(), 0);
  assert.equal(await analyst.locator('input[name="review-state"]').count(), 0);
  assert.match(await analyst.locator('table.review-history').textContent(), /Ville à vérifier avec l’enquêtrice/);
  assert.equal(await analyst.locator('#approved-only').count(), 0);
  await analyst.close();
});

test('the table filters by date, review state and a single-choice answer; labels follow the language', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  assert.deepEqual(await rowIds(page, 4), sorted('r1', 'r2', 'r3', 'r4'));
  await assertAccessible(page, 'responses table');

  await page.getByLabel('Remplie à partir du').fill('2025-03-11');
  await page.getByLabel('Remplie jusqu’au').fill('2025-03-13');
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 1), sorted('r2'));

  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);
  await page.getByLabel('État de relecture').selectOption('approved');
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 1), sorted('r3'));

  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);
  await whereAnswers(page, 'Votre ville', ['Nantes']);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 2), sorted('r1', 'r3'));

  // Columns: the colour shown with its label, in French then in English; the choice is kept.
  const colour = page.locator('details.columns');
  await colour.locator('summary').click();
  const box = page.getByLabel('Votre couleur préférée', { exact: true });
  if (!(await box.isChecked())) await box.check();
  await page.locator(`tr[data-id="${ids.r1}"] td[data-column="couleur"]`).getByText('Rouge').waitFor();
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('columnheader', { name: 'Your favourite colour' }).waitFor();
  await page.locator(`tr[data-id="${ids.r1}"] td[data-column="couleur"]`).getByText('Red').waitFor();
  await page.getByRole('button', { name: 'FR', exact: true }).click();
  await page.reload();
  // After a reload: the filter (this tab) and the columns (this browser) are still there.
  assert.deepEqual(await rowIds(page, 2), sorted('r1', 'r3'));
  await page.getByRole('columnheader', { name: 'Votre couleur préférée' }).waitFor();
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);
  await page.close();
});

test('the table pages by cursor', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  await rowIds(page, 4);
  await page.evaluate(() => {
    const s = document.getElementById('r-limit');
    s.append(new Option('2', '2'));
  });
  await page.getByLabel('Réponses par page').selectOption('2');
  const first = await rowIds(page, 2);
  await page.getByRole('button', { name: 'Page suivante' }).click();
  await page.getByText('Page 2 : 2 réponse(s)').waitFor();
  const second = await rowIds(page, 2);
  assert.deepEqual([...first, ...second].sort(), sorted('r1', 'r2', 'r3', 'r4'));
  assert.ok(await page.getByRole('button', { name: 'Page suivante' }).isDisabled(), 'the last page');
  await page.getByRole('button', { name: 'Page précédente' }).click();
  await page.getByText('Page 1 : 2 réponse(s)').waitFor();
  assert.deepEqual(await rowIds(page, 2), first);
  await page.close();
});

test('one response shows its labelled answers, a section, its repeat as a table, its photo, who and how long', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}/${ids.r1}`);
  await page.getByRole('heading', { name: /^Réponse du/ }).waitFor();
  const answer = (key) => page.locator(`.answer[data-key="${key}"] dd`);
  assert.equal(await page.locator('.answer[data-key="couleur"] dt').textContent(), 'Votre couleur préférée');
  assert.equal(await answer('couleur').textContent(), 'Rouge');
  assert.equal(await answer('loisirs').textContent(), 'Lecture');
  assert.equal(await answer('ville').textContent(), 'Nantes');
  await page.locator('.answer-section[data-key="adresse"]').getByRole('heading', { name: 'Adresse' }).waitFor();
  assert.equal(await page.locator('.answer-section[data-key="adresse"] .answer[data-key="code_postal"] dd').textContent(), '44000');
  const repeat = page.locator('.answer-repeat[data-key="enfants"] table');
  await repeat.getByRole('columnheader', { name: 'Prénom de l\'enfant' }).waitFor();
  assert.deepEqual(await repeat.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent))),
    [['1', 'Lina', '7'], ['2', 'Noé', '4']]);
  await page.waitForFunction(() => { const i = document.querySelector('.answer[data-key="photo"] img'); return i && i.complete && i.naturalWidth === 24; });
  assert.match(await page.locator('.answer[data-key="photo"] img').getAttribute('src'), /^blob:/);
  const meta = await page.locator('dl.meta').textContent();
  assert.match(meta, /Awa Diallo/);
  assert.match(meta, /Téléphone d’Awa/);
  assert.equal(await page.locator('dl.meta dd.duration').textContent(), '12 min 30 s');
  await page.locator('#one-map .leaflet-marker-icon').waitFor();
  await page.screenshot({ path: `${SHOTS}/console-response.png`, fullPage: true });
  await page.close();
});

test('the map shows the located responses on a plain background with a scale when tiles cannot load', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await page.getByRole('link', { name: 'Carte' }).click();
  // r1 and r3 (40 m apart: one cluster) by their geopoint answer, r2 by the phone's
  // position; r4 has neither.
  await page.getByText('3 point(s) sur la carte.').waitFor();
  await page.getByText('Fond de carte indisponible').waitFor();
  await page.locator('#responses-map .leaflet-control-scale').waitFor();
  assert.ok(await page.locator('#responses-map').evaluate((m) => m.classList.contains('map-plain')));
  const count = () => page.evaluate(() => {
    const clusters = [...document.querySelectorAll('#responses-map .marker-cluster')];
    const single = document.querySelectorAll('#responses-map .leaflet-marker-icon:not(.marker-cluster)').length;
    return { clusters: clusters.length, points: single + clusters.reduce((n, c) => n + Number(c.textContent), 0) };
  });
  await page.waitForFunction(() => document.querySelectorAll('#responses-map .leaflet-marker-icon').length > 0);
  const { points, clusters } = await count();
  assert.equal(points, 3);
  assert.ok(clusters >= 1, 'nearby points are clustered');
  await page.screenshot({ path: `${SHOTS}/console-map.png` });

  // Filtered as the table: only Nantes.
  await whereAnswers(page, 'Votre ville', ['Nantes']);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  await page.getByText('2 point(s) sur la carte.').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#responses-map .leaflet-marker-icon').length > 0);
  assert.equal((await count()).points, 2);
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await page.getByText('3 point(s) sur la carte.').waitFor();
  await page.close();
});

test('every download carries the filters: CSV for French Excel, Excel, GeoJSON, NDJSON, photos', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  await whereAnswers(page, 'Votre couleur préférée', ['Rouge']);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  await rowIds(page, 2);

  const fetchFile = async (name) => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name, exact: true }).click(),
    ]);
    const bytes = readFileSync(await download.path());
    return { name: download.suggestedFilename(), bytes, text: bytes.toString('utf8') };
  };
  const isZip = (bytes) => bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  const ndjson = await fetchFile('NDJSON');
  assert.match(ndjson.name, /\.ndjson$/);
  const lines = ndjson.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id).sort(), sorted('r1', 'r4'));
  assert.ok(lines.every((l) => l.answers.couleur === 'rouge'));

  const csv = await fetchFile('CSV');
  assert.match(csv.name, /\.csv$/);
  for (const k of ['r1', 'r4']) assert.ok(csv.text.includes(ids[k]), `the CSV holds ${k}`);
  for (const k of ['r2', 'r3']) assert.ok(!csv.text.includes(ids[k]), `the CSV leaves ${k} out`);
  // In French, for Excel: a byte order mark and `;` between the cells.
  assert.ok(csv.bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), 'a BOM');
  assert.match(csv.text.split('\r\n')[0], /^\uFEFFid;seq;/);

  // Excel: a workbook (a zip) whose parts name the sheets; the filtered rows only.
  const xlsx = await fetchFile('Excel');
  assert.match(xlsx.name, /\.xlsx$/);
  assert.ok(isZip(xlsx.bytes), 'an xlsx is a zip');
  assert.ok(xlsx.bytes.includes('xl/worksheets/sheet1.xml'), 'with its worksheets');

  // GeoJSON: the located ones among the filtered, longitude first.
  const geo = JSON.parse((await fetchFile('GeoJSON')).text);
  assert.equal(geo.type, 'FeatureCollection');
  assert.ok(geo.features.length >= 1);
  for (const f of geo.features) {
    assert.ok([ids.r1, ids.r4].includes(f.properties.id), 'only the filtered responses');
    assert.equal(f.geometry.type, 'Point');
  }
  const r1 = geo.features.find((f) => f.properties.id === ids.r1);
  assert.deepEqual(r1.geometry.coordinates, [-1.5536, 47.2184]);

  // The photos: r1's, named by its id.
  const photos = await fetchFile('Photos (zip)');
  assert.ok(isZip(photos.bytes), 'a zip');
  assert.ok(photos.bytes.includes(`${ids.r1}/photo.png`), 'named by response and question');
  for (const k of ['r2', 'r3']) assert.ok(!photos.bytes.includes(ids[k]), `no photo of ${k}`);
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await page.close();
});

test('the filter keeps either of several answers to a question, and a second question too; the summary and the downloads follow it', { timeout: T }, async () => {
  const page = await coordinator();
  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  await rowIds(page, 4);
  await whereAnswers(page, 'Votre ville', ['Rezé', 'Orvault']);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 2), sorted('r2', 'r4'));

  // A download asks for both values and holds exactly the two responses.
  const [request, download] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/responses.ndjson')),
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'NDJSON', exact: true }).click(),
  ]);
  assert.deepEqual(new URL(request.url()).searchParams.getAll('where').sort(), ['ville:orvault', 'ville:reze']);
  const lines = readFileSync(await download.path(), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id).sort(), sorted('r2', 'r4'));

  // The summary opens on the same filter: the two responses, one in Rezé, one in Orvault.
  await page.getByRole('link', { name: 'Synthèse', exact: true }).click();
  await page.getByText('2 réponse(s) retenue(s).').waitFor();
  const ticked = page.getByRole('group', { name: 'Réponses retenues à cette question' });
  assert.ok(await ticked.getByLabel('Rezé', { exact: true }).isChecked());
  assert.ok(await ticked.getByLabel('Orvault', { exact: true }).isChecked());
  assert.ok(!(await ticked.getByLabel('Nantes', { exact: true }).isChecked()));
  const table = page.locator('section[data-question="ville"] table').first();
  const counts = Object.fromEntries((await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim()))))
    .map(([l, n]) => [l, n]));
  assert.deepEqual([counts.Nantes, counts['Rezé'], counts.Orvault, counts['Saint-Herblain']], ['0', '1', '1', '0']);

  // A second question applies as well: red and (Rezé or Orvault) is r4 alone.
  await page.goBack();
  await rowIds(page, 2);
  await page.getByRole('button', { name: 'Ajouter une condition sur une autre question' }).click();
  await whereAnswers(page, 'Votre couleur préférée', ['Rouge'], 2);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 1), sorted('r4'));
  await assertAccessible(page, 'responses table, two conditions');
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);
  await page.close();
});

/** The map's scale in metres (its metric line: "500 m", "1 km"). */
async function scaleMetres(page) {
  const text = await page.locator('#responses-map .leaflet-control-scale-line').first().textContent();
  const m = /([\d.]+)\s*(k?m)/.exec(text);
  assert.ok(m, `a scale: ${text}`);
  return Number(m[1]) * (m[2] === 'km' ? 1000 : 1);
}

for (const key of ['Enter', 'Space']) {
  test(`a cluster on the map is a named button: Tab reaches it, ${key} zooms in, then Tab reaches its markers`, { timeout: T }, async () => {
    const page = await coordinator();
    await page.goto(`${server.base}/console/#/responses/${SLUG}`);
    await page.getByRole('button', { name: 'Effacer les filtres' }).click();
    await page.getByRole('link', { name: 'Carte' }).click();
    await page.getByText('3 point(s) sur la carte.').waitFor();
    // r1 and r3, 40 m apart, are one cluster; r2 is 3 km away.
    const cluster = page.getByRole('button', { name: '2 réponses, agrandir' });
    await cluster.waitFor();
    await page.waitForTimeout(300); // the first zoom's animation
    const before = await scaleMetres(page);
    await page.locator('#responses-map').focus();
    const onCluster = () => page.evaluate(() => document.activeElement?.classList.contains('marker-cluster'));
    for (let i = 0; i < 6 && !(await onCluster()); i += 1) await page.keyboard.press('Tab');
    assert.ok(await onCluster(), 'Tab reaches the cluster');
    await page.keyboard.press(key);
    // Zoomed in: no cluster left, both markers drawn, the scale shorter.
    await page.waitForFunction(() => !document.querySelector('#responses-map .marker-cluster')
      && document.querySelectorAll('#responses-map .leaflet-marker-icon[title^="Réponse du"]').length >= 2);
    await page.waitForTimeout(300);
    assert.ok(await scaleMetres(page) < before, 'the map zoomed in');
    // The focus is on the map, and the next Tab is on one of the markers, which Enter opens.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'responses-map');
    await page.keyboard.press('Tab');
    assert.match(await page.evaluate(() => document.activeElement?.getAttribute('title') || ''), /^Réponse du/);
    await page.keyboard.press('Enter');
    await page.locator('#responses-map .leaflet-popup').getByRole('link', { name: 'Ouvrir la réponse' }).waitFor();
    await page.close();
  });
}

test('at 360 px wide (a phone), the table, one response and the summary fit the screen and their controls work', { timeout: T }, async () => {
  const page = await coordinator();
  await page.setViewportSize({ width: 360, height: 740 });
  /** No horizontal scrolling of the page (a wide table scrolls inside its own box). */
  const fits = async (what) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    const wide = w <= 360 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 360).slice(0, 5).map((e) => `${e.tagName}.${e.className}`));
    assert.ok(w <= 360, `${what}: the page is ${w} px wide (${wide.join(', ')})`);
  };
  /** Within the screen's width, and clickable (visible, enabled, not covered). */
  const usable = async (locator, what) => {
    const box = await locator.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${what} within the screen: ${JSON.stringify(box)}`);
    await locator.click({ trial: true });
  };

  await page.goto(`${server.base}/console/#/responses/${SLUG}`);
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);
  await fits('the table');
  // The header (its menu wraps to several lines) does not stay over the page once scrolled.
  await page.evaluate(() => window.scrollTo(0, 600));
  const headerBottom = await page.locator('header.top').evaluate((h) => h.getBoundingClientRect().bottom);
  assert.ok(headerBottom <= 100, `the header covers the top ${headerBottom} px of the screen`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/console-360-table.png` });
  for (const name of ['Filtrer', 'Effacer les filtres', 'CSV', 'Excel']) {
    await usable(page.getByRole('button', { name, exact: true }), name);
  }
  await usable(page.getByLabel('Réponses par page'), 'the page size');
  await usable(page.getByLabel('Remplie à partir du'), 'a date filter');
  await usable(page.getByLabel('Question à choix unique', { exact: true }), 'the question filter');
  await whereAnswers(page, 'Votre ville', ['Nantes', 'Rezé']);
  await page.getByRole('button', { name: 'Filtrer' }).click();
  assert.deepEqual(await rowIds(page, 3), sorted('r1', 'r2', 'r3'));
  await fits('the filtered table');
  await page.getByRole('button', { name: 'Effacer les filtres' }).click();
  await rowIds(page, 4);

  await page.locator(`tr[data-id="${ids.r1}"] a`).click();
  await page.getByRole('heading', { name: /^Réponse du/ }).waitFor();
  await page.locator('.answer-repeat[data-key="enfants"] table').waitFor();
  await fits('one response');
  await usable(page.getByRole('button', { name: 'Enregistrer la relecture' }), 'the review button');
  await usable(page.getByRole('link', { name: '← Toutes les réponses' }), 'the way back');

  await page.goto(`${server.base}/console/#/questionnaires/${SLUG}/summary`);
  await page.getByText('4 réponse(s) retenue(s).').waitFor();
  await fits('the summary');
  await usable(page.getByRole('button', { name: 'Appliquer' }), 'the summary’s button');
  await usable(page.getByLabel(/Côte à côte/), 'the side-by-side choice');
  await page.screenshot({ path: `${SHOTS}/console-360-summary.png` });
  await page.close();
});
