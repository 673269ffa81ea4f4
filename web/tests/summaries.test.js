// Browser test of the console's summaries (`#/questionnaires/SLUG/summary`): responses pushed
// through the API, a chart's table read back and checked against the pushed answers, then a
// filter applied and the figures seen to change; accessibility checked with axe.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startServer, adminApi, launchPhone, consoleSignIn, fixture, axeViolations, formatViolations, ADMIN_PASSWORD,
} from './helpers.js';

const T = 90_000;
let server;
let api;
let browser;

const CONSEILS = ['malakoff', 'malakoff', 'bellevue', 'malakoff', 'dervallieres'];
const FORMATS = ['atelier', 'en_ligne', 'atelier', 'atelier', 'visite'];

before(async () => {
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish('besoins-formation', fixture('besoins-formation.json'));
  const { enrolment_code: code } = await api.interviewer('Awa');
  const enrolled = await api.call('POST', '/api/v1/enrol', { code, device_name: 'Téléphone' }, { expect: 201 });
  const responses = CONSEILS.map((conseil, i) => ({
    id: randomUUID(),
    questionnaire: 'besoins-formation',
    version: 1,
    answers: {
      conseil, role: 'habitant', themes: ['budget'], format_prefere: FORMATS[i],
      ...(i < 4 ? { heures_par_mois: 2 + i } : {}),
    },
    started_at: '2025-03-14T18:30:00+01:00',
    completed_at: '2025-03-14T18:42:10+01:00',
  }));
  const pushed = await api.call('POST', '/api/v1/sync/responses', { responses }, { token: enrolled.json.token });
  assert.ok(pushed.json.results.every((r) => r.status === 'accepted'), pushed.text);
  browser = await launchPhone({ viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The rows of the table captioned `caption`: [header, ...cells] each. */
async function tableRows(page, caption) {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) }).first();
  await table.waitFor();
  return table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
}

test('the summaries show each question as a chart and its table, and follow the filters', { timeout: T }, async () => {
  const page = await consoleSignIn(browser.context, server.base, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: /Synthèse/ }).first().click();
  await page.getByRole('heading', { name: /Synthèse des réponses/ }).waitFor();
  await page.getByText('5 réponse(s) retenue(s).').waitFor();

  // The preferred format: 3 workshops of 5 (60 %), 1 online, 1 visit, nobody without an answer.
  const rows = await tableRows(page, 'Quel format préférez-vous ?');
  const byLabel = Object.fromEntries(rows.map(([l, n, p]) => [l, [n, p]]));
  assert.deepEqual(byLabel['Atelier en petit groupe'], ['3', '60 %']);
  assert.deepEqual(byLabel['En ligne'], ['1', '20 %']);
  assert.deepEqual(byLabel['Journée complète'], ['0', '0 %']);
  assert.deepEqual(byLabel['Sans réponse'], ['0', '0 %']);
  // Its chart is drawn, hidden from screen readers, with the figures written on it.
  const section = page.locator('section[data-question="format_prefere"]');
  const chart = section.locator('svg.chart');
  assert.equal(await chart.getAttribute('aria-hidden'), 'true');
  assert.match(await chart.textContent(), /3 \(60 %\)/);
  // Numbers: 4 of 5 answered, 2 to 5 hours, median 3,5.
  const hours = Object.fromEntries((await tableRows(page, 'Combien d\'heures par mois pouvez-vous y consacrer ?')).map(([l, v]) => [l, v]));
  assert.equal(hours.Minimum, '2');
  assert.equal(hours.Maximum, '5');
  assert.equal(hours['Médiane'], '3,5');
  assert.equal(hours.Moyenne, '3,5');
  assert.equal(hours['Sans réponse'], '1 (20 %)');

  const violations = await axeViolations(page, 'summaries');
  assert.equal(violations.length, 0, `accessibility problems:\n${formatViolations(violations)}`);

  // Only Malakoff: 3 responses, 2 of them workshops, 1 online.
  await page.getByLabel('Question à choix unique', { exact: true }).selectOption('conseil');
  await page.getByRole('group', { name: 'Réponses retenues à cette question' }).getByLabel('Malakoff', { exact: true }).check();
  await page.getByRole('button', { name: 'Appliquer' }).click();
  await page.getByText('3 réponse(s) retenue(s).').waitFor();
  const malakoff = Object.fromEntries((await tableRows(page, 'Quel format préférez-vous ?')).map(([l, n, p]) => [l, [n, p]]));
  assert.deepEqual(malakoff['Atelier en petit groupe'], ['2', '66,7 %']);
  assert.deepEqual(malakoff['En ligne'], ['1', '33,3 %']);
  assert.deepEqual(malakoff['Visite d\'un autre quartier'], ['0', '0 %']);

  // Malakoff or Bellevue: 4 responses, 3 of them workshops.
  await page.getByRole('group', { name: 'Réponses retenues à cette question' }).getByLabel('Bellevue', { exact: true }).check();
  await page.getByRole('button', { name: 'Appliquer' }).click();
  await page.getByText('4 réponse(s) retenue(s).').waitFor();
  const either = Object.fromEntries((await tableRows(page, 'Quel format préférez-vous ?')).map(([l, n, p]) => [l, [n, p]]));
  assert.deepEqual(either['Atelier en petit groupe'], ['3', '75 %']);
  assert.deepEqual(either['En ligne'], ['1', '25 %']);
  assert.deepEqual(either['Visite d\'un autre quartier'], ['0', '0 %']);

  // Side by side: the preferred format per neighbourhood.
  await page.getByLabel('Question à choix unique', { exact: true }).selectOption('');
  await page.getByLabel(/Côte à côte/).selectOption('conseil');
  await page.getByRole('button', { name: 'Appliquer' }).click();
  await page.getByText('5 réponse(s) retenue(s).').waitFor();
  const table = page.locator('table', { has: page.locator('caption', { hasText: 'Quel format préférez-vous ?, par' }) }).first();
  const head = await table.locator('thead th').allTextContents();
  const atelier = await table.locator('tbody tr', { hasText: 'Atelier en petit groupe' }).locator('td').allTextContents();
  const col = (name) => head.indexOf(name) - 1;
  assert.equal(atelier[col('Malakoff')], '2 (66,7 %)');
  assert.equal(atelier[col('Bellevue')], '1 (100 %)');
  assert.equal(atelier[col('Dervallières')], '0 (0 %)');
  assert.equal(atelier[col('Bottière – Pin Sec')], '0 (0 %)');
  await page.close();
});
