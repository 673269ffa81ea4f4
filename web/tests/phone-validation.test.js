// The phone's validator in a real browser (issue 10, "Light"): the phone's wasm module
// validates with the compact validator, its patterns through Chromium's own RegExp (`u`
// flag). Every shared conformance case, and generated answers, go through it and through the
// console's module (`jsonschema`, the server's validator) in the same page: the error lists
// must be identical, and the verdicts those the cases expect. Then the first screen: the
// enrolment screen is drawn while the wasm module is still on its way.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { startServer, adminApi, appOrigin, launchPhone, fixture, FIXTURES } from './helpers.js';

const T = 120_000;
let server;
let front;
let phone;
let api;

before(async () => {
  server = await startServer();
  api = await adminApi(server.base);
  await api.publish('parole-habitants', fixture('parole-habitants.json'));
  front = await appOrigin(server);
  phone = await launchPhone();
});

after(async () => {
  await phone?.close();
  await front?.stop();
  await server?.stop();
});

/** Every example questionnaire, with its cases (none for some), and one with patterns whose
 * meaning depends on the regex dialect (`\d` is ASCII in ECMA-262, a `u`-mode class, …). */
function questionnaires() {
  const out = [];
  for (const f of readdirSync(FIXTURES).sort()) {
    if (!f.endsWith('.json') || f.endsWith('.cases.json')) continue;
    const name = f.replace(/\.json$/, '');
    const cases = readdirSync(FIXTURES).includes(`${name}.cases.json`) ? fixture(`${name}.cases.json`).cases : [];
    out.push({ name, document: fixture(f), cases });
  }
  out.push({
    name: 'motifs',
    cases: [],
    document: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Motifs',
      type: 'object',
      properties: {
        chiffres: { type: 'string', title: 'Chiffres', pattern: '^\\d{3}$' },
        mot: { type: 'string', title: 'Mot', pattern: '^\\w+$' },
        espace: { type: 'string', title: 'Espace', pattern: '^a\\sb$' },
        lettre: { type: 'string', title: 'Lettre', pattern: '^[a-zé]+$', maxLength: 4 },
        emoji: { type: 'string', title: 'Emoji', pattern: '^.$' },
        point: { type: 'string', title: 'Point', pattern: 'x.y' },
      },
      additionalProperties: false,
    },
  });
  return out;
}

const STRINGS = ['123', '١٢٣', '12', '1234', 'abc', 'abc_1', 'é', 'a b', 'a\u00a0b', 'a\tb', 'a\u2003b',
  'aé', 'éééé', 'ééééé', '😀', '😀😀', 'x\ny', 'xzy', '', 'ABC', '0612345678', '06 12 34 56 78',
  '+33612345678', 'sha256:' + 'ab'.repeat(32), 'sha256:' + 'AB'.repeat(32), '18:30', '24:00', '44000',
  '2025-03-14', '2023-02-29', '2025-03-14T18:30:00+01:00', '2025-03-14T18:30:00', 'nom@exemple.fr', 'nom@exemple'];

test('the phone\'s validator (compact, RegExp) gives the server validator\'s errors on every case', { timeout: T }, async () => {
  const page = await phone.context.newPage();
  await page.goto(`${front.origin}/app/`);
  const report = await page.evaluate(async ({ list, strings }) => {
    const phoneMod = await import('/app/pkg/parole_wasm.js');
    await phoneMod.default();
    const fullMod = await import('/app/pkg/parole_wasm_full.js');
    await fullMod.default();
    // A deterministic generator: each question gets strings, numbers, wrong types.
    let seed = 42; // mulberry32
    const rnd = (n) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) % n;
    };
    const values = () => [strings[rnd(strings.length)], rnd(200) - 20, rnd(3) === 0 ? true : null, [strings[rnd(strings.length)]], { lat: rnd(200) - 100, lon: 1 }];
    const out = { compared: 0, differences: [], verdicts: [], valid: 0 };
    for (const { name, document, cases } of list) {
      const phoneQ = new phoneMod.QuestionnaireDraft(document);
      const fullQ = new fullMod.QuestionnaireDraft(document);
      const keys = Object.keys(document.properties);
      const generated = [];
      const valid = cases.filter((c) => c.valid);
      for (let i = 0; i < 400; i += 1) {
        const base = cases.length ? structuredClone(cases[rnd(cases.length)].answers) : {};
        const k = keys[rnd(keys.length)];
        const pool = values();
        if (valid.length && rnd(2)) {
          // A valid case with one answer taken from another valid case: often valid.
          const from = valid[rnd(valid.length)].answers;
          const to = structuredClone(valid[rnd(valid.length)].answers);
          if (k in from) to[k] = structuredClone(from[k]); else delete to[k];
          generated.push(to);
          continue;
        }
        base[k] = rnd(2) ? strings[rnd(strings.length)] : pool[rnd(pool.length)];
        generated.push(base);
      }
      for (const answers of [...cases.map((c) => c.answers), ...generated]) {
        const a = JSON.stringify(phoneQ.validate(answers));
        const b = JSON.stringify(fullQ.validate(answers));
        out.compared += 1;
        if (a === '[]') out.valid += 1;
        if (a !== b) out.differences.push({ name, answers, phone: a, server: b });
      }
      for (const c of cases) {
        const errors = phoneQ.validate(c.answers);
        const mentioned = (c.mention || []).every((m) => errors.some((e) => e.path.split('/').pop() === m));
        if ((errors.length === 0) !== c.valid || !mentioned) out.verdicts.push({ name, case: c.name, errors });
      }
    }
    return out;
  }, { list: questionnaires(), strings: STRINGS });
  assert.deepEqual(report.differences.slice(0, 3), [], `${report.differences.length} differences`);
  assert.deepEqual(report.verdicts, []);
  assert.ok(report.compared > 1500, `${report.compared} compared`);
  assert.ok(report.valid > 100 && report.valid < report.compared - 500, `${report.valid} valid of ${report.compared}`);
  await page.close();
});

/** Holds the wasm module's download until `release()` (no service worker: every request
 * reaches the page's route). */
async function holdWasm(page) {
  let release;
  const held = new Promise((r) => { release = r; });
  const state = { asked: false, release };
  await page.route('**/pkg/parole_wasm_bg.wasm', async (route) => {
    state.asked = true;
    await held;
    await route.continue();
  });
  return state;
}

test('the enrolment screen, then the list, are drawn before the wasm module has arrived', { timeout: T }, async () => {
  const fresh = await launchPhone({ serviceWorkers: 'block' });
  try {
    const page = await fresh.context.newPage();
    let wasm = await holdWasm(page);
    await page.goto(`${front.origin}/app/`);
    await page.getByRole('heading', { name: 'Inscrire ce téléphone' }).waitFor();
    // A code typed while the module is on its way is sent once it is there.
    const { enrolment_code: code } = await api.interviewer('Dominique');
    await page.locator('#enrol-code').fill(code);
    await page.getByRole('button', { name: 'Inscrire ce téléphone' }).click();
    assert.ok(wasm.asked, 'the module was asked for while the screen was drawn');
    assert.equal(await page.evaluate(() => window.parole.wasm), null, 'the module is not ready yet');
    wasm.release();
    await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();

    // Enrolled: the next start draws the list from IndexedDB, inert until the module is there.
    await page.unrouteAll();
    wasm = await holdWasm(page);
    await page.reload();
    await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
    assert.ok(await page.evaluate(() => document.getElementById('main').inert), 'inert while loading');
    assert.equal(await page.evaluate(() => window.parole.wasm), null, 'the module is not ready yet');
    wasm.release();
    await page.waitForFunction(() => window.parole.wasm !== null && !document.getElementById('main').inert);
    await page.locator('.item-questionnaire', { hasText: 'Parole d\'habitants' }).waitFor();
    await page.close();
  } finally {
    await fresh.close();
  }
});
