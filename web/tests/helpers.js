// Shared set-up for the browser tests: a real `parole serve` on a free port with its own data
// directory, its admin API, and headless Debian chromium at a phone's viewport.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, mkdtempSync, rmSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(here, '..');
// The example questionnaires, one copy for every test of the repository.
export const FIXTURES = path.resolve(here, '../../schemas/examples');
export const SHOTS = process.env.PAROLE_SHOTS_DIR || '/tmp/parole-shots';
const PAROLE_BIN = process.env.PAROLE_BIN || path.resolve(here, '../../target/debug/parole');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const ADMIN_PASSWORD = 'mot-de-passe-de-test-1234';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const fixture = (name) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts `parole serve` on a free port with a fresh data directory; resolves when healthy. */
export async function startServer() {
  if (!existsSync(PAROLE_BIN)) throw new Error(`parole binary not found at ${PAROLE_BIN} (set PAROLE_BIN, or cargo build)`);
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parole-web-test-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must be able to reach it.
  chmodSync(dataDir, 0o755);
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(PAROLE_BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dataDir, 'data')], {
    env: { ...process.env, PAROLE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: process.env.RUST_LOG || 'warn', PAROLE_CLIENT_DIR: path.join(dataDir, 'client') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`parole serve exited (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch (_) { /* not yet */ }
    if (Date.now() > deadline) { child.kill('SIGTERM'); throw new Error(`parole serve did not start:\n${log}`); }
    await sleep(150);
  }
  const server = {
    base,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The admin side of the API (`token` from a login as admin). */
export async function adminApi(base) {
  const call = async (method, p, body, { token, expect } = {}) => {
    const res = await fetch(base + p, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (expect && res.status !== expect) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return { status: res.status, text, json: text ? (() => { try { return JSON.parse(text); } catch { return null; } })() : null };
  };
  const { json: { token } } = await call('POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  const api = {
    token,
    call: (method, p, body, opts = {}) => call(method, p, body, { token, ...opts }),
    async publish(slug, document) {
      const exists = await fetch(`${base}/api/v1/questionnaires/${slug}`, { headers: { authorization: `Bearer ${token}` } });
      if (exists.status === 404) await api.call('POST', '/api/v1/questionnaires', { slug, document }, { expect: 201 });
      else await api.call('PUT', `/api/v1/questionnaires/${slug}/draft`, { document });
      const r = await api.call('POST', `/api/v1/questionnaires/${slug}/publish`, {}, { expect: 201 });
      return r.json.version;
    },
    async interviewer(name) {
      const r = await api.call('POST', '/api/v1/interviewers', { name }, { expect: 201 });
      return r.json; // {id, enrolment_code}
    },
    async exportNdjson(slug) {
      const r = await api.call('GET', `/api/v1/questionnaires/${slug}/responses.ndjson`);
      return r.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    },
  };
  return api;
}

// ---------------------------------------------------------------------------------------------
// Where the app is served: `parole serve`'s own /app/. The update test alone puts a small
// same-origin front before it, which serves web/ at /app/ (with "new versions" of some files)
// and passes everything else to the server.

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.webmanifest': 'application/manifest+json', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.wasm': 'application/wasm',
};

function requirePkg() {
  if (!existsSync(path.join(WEB_DIR, 'pkg', 'parole_wasm.js'))) {
    throw new Error('web/pkg/ is not built: run `cargo xtask build-web` (cargo xtask test does)');
  }
}

async function serverServesApp(base) {
  try {
    const r = await fetch(`${base}/app/`);
    const text = await r.text();
    if (!r.ok || !text.includes('app.js')) return false;
    const p = await fetch(`${base}/app/pkg/parole_wasm.js`);
    return p.ok;
  } catch (_) { return false; }
}

export async function appOrigin(server, { front: forceFront = false } = {}) {
  requirePkg();
  if (!forceFront) {
    if (!(await serverServesApp(server.base))) throw new Error(`parole serve does not serve the app at ${server.base}/app/`);
    return { origin: server.base, mode: 'parole serve', stop: async () => {} };
  }
  const target = new URL(server.base);
  const overrides = new Map(); // path → text: a "new version" of a file, for update tests
  const front = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (overrides.has(url.pathname)) {
      res.writeHead(200, { 'content-type': TYPES[path.extname(url.pathname)] || 'text/plain', 'cache-control': 'no-cache' });
      res.end(overrides.get(url.pathname));
      return;
    }
    if (url.pathname === '/app') { res.writeHead(301, { location: '/app/' }); res.end(); return; }
    if (url.pathname.startsWith('/app/')) {
      let rel = decodeURIComponent(url.pathname.slice('/app/'.length)) || 'index.html';
      const file = path.join(WEB_DIR, rel);
      if (!file.startsWith(WEB_DIR) || rel.startsWith('tests/') || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404); res.end('not found'); return;
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(readFileSync(file));
      return;
    }
    const proxied = httpRequest({
      host: target.hostname, port: target.port, method: req.method, path: req.url,
      headers: { ...req.headers, host: target.host },
    }, (up) => { res.writeHead(up.statusCode, up.headers); up.pipe(res); });
    proxied.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(proxied);
  });
  const port = await freePort();
  await new Promise((r) => front.listen(port, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${port}`,
    mode: 'node front',
    overrides,
    stop: () => new Promise((r) => { front.closeAllConnections?.(); front.close(() => r()); }),
  };
}

// ---------------------------------------------------------------------------------------------
// The browser

/** A fresh chromium profile at 360 × 640 (a phone). */
export async function launchPhone(opts = {}) {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'parole-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 360, height: 640 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'fr-FR',
    timezoneId: 'Europe/Paris',
    serviceWorkers: 'allow',
    acceptDownloads: true,
    ...opts,
  });
  context.setDefaultTimeout(15_000);
  const logs = [];
  const watch = (page) => {
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  };
  context.on('page', watch);
  context.pages().forEach(watch);
  return {
    context,
    logs,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the page is controlled by the service worker (reloading if needed). On a
 * loaded machine the first install, which precaches the wasm, can take a while: the waits are
 * generous, and they are waits, not timings. */
export async function waitForServiceWorker(page) {
  await page.waitForFunction(
    () => navigator.serviceWorker.ready.then((r) => r.active?.state === 'activated'),
    null,
    { timeout: 90_000 },
  );
  for (let attempt = 1; ; attempt++) {
    if (await page.evaluate(() => !!navigator.serviceWorker.controller)) return;
    await page.reload();
    try {
      await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 30_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

/** Opens the app and waits for the list screen (enrolled). */
export async function openApp(page, origin, suffix = '') {
  await page.goto(`${origin}/app/${suffix}`);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

/** A small valid PNG (24 × 16 pixels, a colour gradient), for the photo question. */
export function tinyPng(width = 24, height = 16) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const o = y * (width * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255) / width; raw[o + 1] = (y * 255) / height; raw[o + 2] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Accessibility: axe-core, run inside the page

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(path.join(path.dirname(require.resolve('axe-core/package.json')), 'axe.min.js'), 'utf8');
/** The WCAG 2 A and AA rules (the issue: contrast AA, labelled controls, keyboard). */
export const AXE_OPTIONS = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'] };

/** Runs axe-core in the page (evaluated through the DevTools protocol, so the server's
 * Content-Security-Policy, which forbids inline scripts, does not stand in the way) and
 * returns its violations, each tagged with `screen`. */
export async function axeViolations(page, screen, options = AXE_OPTIONS) {
  if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate((opts) => window.axe.run(document, opts).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
  }))), options);
  // AXE_DEBUG=1: also print what axe could not decide (e.g. a contrast under a sticky header).
  if (process.env.AXE_DEBUG) {
    const inc = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['incomplete'] })
      .then((r) => r.incomplete.map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} ${(n.any[0] || n.all[0] || n.none[0] || {}).message}`).join(' | ')}`)));
    console.log(`AXE incomplete [${screen}]\n${inc.join('\n')}`);
  }
  return violations.map((v) => ({ screen, ...v }));
}

/** Violations as text a person can act on: screen, rule, what to fix, and each element. */
export function formatViolations(violations) {
  return violations.map((v) => [
    `[${v.screen}] ${v.id} (${v.impact}): ${v.help}\n    ${v.helpUrl}`,
    ...v.nodes.map((n) => `    - ${n.target}\n      ${n.html.replace(/\s+/g, ' ').slice(0, 200)}\n      ${(n.summary || '').replace(/\n\s*/g, '\n      ')}`),
  ].join('\n')).join('\n');
}

/** A new page of `context` signed in to the console at `base` as `username`. */
export async function consoleSignIn(context, base, username, password) {
  const page = await context.newPage();
  await page.goto(`${base}/console/`);
  await page.getByRole('heading', { name: 'Se connecter' }).waitFor();
  await page.getByLabel('Identifiant').fill(username);
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('heading', { name: 'Questionnaires' }).waitFor();
  return page;
}
