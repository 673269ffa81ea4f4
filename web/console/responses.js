// The responses of a questionnaire, for the people who read them: a table a page at a time
// (by cursor) with filters and columns of one's choosing, one response with every answer
// labelled and its review, a map of the located ones, and downloads in every format, all with
// the same filters. Routes: `#/responses` (pick a questionnaire), `#/responses/SLUG` (the
// table), `#/responses/SLUG/map`, `#/responses/SLUG/ID` (one response).
//
// The questionnaire's own labels are read from its published documents (one per version):
// the default language is the first of `x-languages`, others come from `x-i18n`, one label at
// a time, as the phone app shows them.

import { el, clear, toast } from '/app/dom.js';
import { api, ApiError, getToken } from './api.js';
import { t, msg, getLang, formatDate } from './i18n.js';
import { kindOf } from './doc.js';
import { showPointsMap } from './map.js';
import { loadFilters, saveFilters, filterQuery, whereFields } from './filters.js';

export const REVIEW_STATES = ['received', 'approved', 'has_issues', 'rejected'];
const PAGE_SIZES = [25, 50, 100, 200];

/** Where the map's points come from: the NDJSON export with the current filters. Once
 * `responses.geojson` is served, `'geojson'` here is the whole switch (see `mapPoints`). */
const MAP_SOURCE = 'ndjson';

// ---------------------------------------------------------------------------------------
// The questionnaire: its versions' documents, its questions and their labels

const docs = new Map(); // `slug/version` → document

async function versionDoc(slug, version) {
  const key = `${slug}/${version}`;
  if (!docs.has(key)) {
    const v = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(slug)}/versions/${version}`);
    docs.set(key, v.document);
  }
  return docs.get(key);
}

const defaultLang = (doc) => (doc['x-languages'] || ['fr'])[0];

/** `node`'s title in the interface language (the questionnaire's default when untranslated). */
export function titleOf(node, doc, key = '') {
  const lang = getLang();
  if (lang !== defaultLang(doc)) {
    const tr = node['x-i18n']?.[lang]?.title;
    if (tr) return tr;
  }
  return node.title || key;
}

/** The language a questionnaire label is shown in (for its `lang` attribute). */
function labelLang(node, doc) {
  const lang = getLang();
  return lang !== defaultLang(doc) && node['x-i18n']?.[lang]?.title ? lang : defaultLang(doc);
}

function choices(s) {
  return (s.type === 'array' ? s.items?.oneOf : s.oneOf) || [];
}

function choiceLabel(s, doc, value) {
  const lang = getLang();
  if (lang !== defaultLang(doc)) {
    const tr = s['x-i18n']?.[lang]?.choices?.[String(value)];
    if (tr) return tr;
  }
  const c = choices(s).find((x) => x.const === value);
  return c ? c.title ?? String(value) : String(value);
}

const itemsOf = (s) => (s['x-widget'] === 'repeat' ? s.items || { properties: {} } : s);

/**
 * The columns of a questionnaire across its versions, newest version's order first: every
 * question outside sections (a section's own questions as `section.question`, the exports'
 * column names), a repeat as one column. `[{name, path, schema, kind, doc}]`.
 */
function columnsOf(documents) {
  const out = new Map();
  const walk = (node, prefix, doc) => {
    for (const [k, s] of Object.entries(node.properties || {})) {
      const kind = kindOf(s);
      if (kind === 'note') continue;
      if (kind === 'section') { walk(s, [...prefix, k], doc); continue; }
      const name = [...prefix, k].join('.');
      if (!out.has(name)) out.set(name, { name, path: [...prefix, k], schema: s, kind, doc });
    }
  };
  for (const doc of documents) walk(doc, [], doc);
  return [...out.values()];
}

const getPath = (obj, path) => path.reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);

const numberFormat = () => new Intl.NumberFormat(getLang() === 'fr' ? 'fr-FR' : 'en-GB', { maximumFractionDigits: 6 });

/** An answer as text, with the questionnaire's labels (a photo and a repeat in short). */
export function answerText(s, kind, doc, v) {
  if (v === undefined || v === null) return '';
  switch (kind) {
    case 'single_choice': case 'single_choice_list': case 'likert':
      return choiceLabel(s, doc, v);
    case 'multiple_choice':
      return Array.isArray(v) ? v.map((x) => choiceLabel(s, doc, x)).join(', ') : String(v);
    case 'boolean': return v ? t('r_yes') : t('r_no');
    case 'integer': case 'number': return typeof v === 'number' ? numberFormat().format(v) : String(v);
    case 'date_time': return formatDate(v);
    case 'geopoint': return geoText(v);
    case 'photo': return t('r_photo');
    case 'repeat': return t('r_items', { n: Array.isArray(v) ? v.length : 0 });
    default: return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

function geoText(p) {
  if (!p || typeof p.lat !== 'number' || typeof p.lon !== 'number') return '';
  const acc = typeof p.accuracy_m === 'number' ? ` (± ${Math.round(p.accuracy_m)} m)` : '';
  return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}${acc}`;
}

export const stateText = (s) => t(`review_${s}`);
const statePill = (s) => el('span', { class: `pill review-${s}` }, stateText(s));

function durationText(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return t('r_duration_h', { h, m });
  if (m) return t('r_duration_m', { m, s: r });
  return t('r_duration_s', { s: r });
}

// ---------------------------------------------------------------------------------------
// The columns chosen, kept per questionnaire in this browser (the filters, shared by the
// table, the map, the downloads and the summaries, are in filters.js)

const COLUMNS_KEY = (slug) => `parole.console.columns.${slug}`;

// ---------------------------------------------------------------------------------------
// What a page holds, remembered so that one response can lead to the previous and next

let lastPage = { slug: null, ids: [] };

/** The questionnaire, its published documents (newest first) and its columns. */
async function loadQuestionnaire(slug) {
  const q = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(slug)}`);
  const versions = [...q.versions].sort((a, b) => b.version - a.version);
  const documents = await Promise.all(versions.map((v) => versionDoc(slug, v.version)));
  return { q, versions, documents, columns: columnsOf(documents) };
}

// ---------------------------------------------------------------------------------------
// Routing within `#/responses…`

/** Renders the page for `rest` (after `#/responses`); `ctx`: `{me, isCoordinator, errorText}`. */
export async function showResponses(root, rest, ctx) {
  if (!rest.length) return pickQuestionnaire(root);
  const [slug, what] = rest;
  if (what === 'map') return showMapPage(root, slug, ctx);
  if (what) return showOne(root, slug, what, ctx);
  return showTable(root, slug, ctx);
}

async function pickQuestionnaire(root) {
  const { questionnaires } = await api('GET', '/api/v1/questionnaires');
  clear(root);
  root.append(el('h1', {}, t('r_title_all')));
  const published = questionnaires.filter((q) => q.latest_version);
  if (!published.length) {
    root.append(el('p', { class: 'card' }, t('r_none_published')));
    return;
  }
  root.append(el('ul', { class: 'card items' }, published.map((q) => el('li', { class: 'item' },
    el('a', { href: `#/responses/${encodeURIComponent(q.slug)}` }, q.title || q.slug),
    el('span', { class: 'small muted' }, ` · ${q.responses.reduce((n, v) => n + v.responses, 0)} ${t('r_count_suffix')}`)))));
}

/** The views of one questionnaire's responses: the table, the map, the summary. */
function tabs(slug, current) {
  const link = (name, href, label) => el('a', { href, class: 'btn btn-small btn-secondary', 'aria-current': name === current ? 'page' : null }, label);
  return el('nav', { class: 'tabs', 'aria-label': t('r_views') },
    link('table', `#/responses/${encodeURIComponent(slug)}`, t('r_tab_table')),
    link('map', `#/responses/${encodeURIComponent(slug)}/map`, t('r_tab_map')),
    link('summary', `#/questionnaires/${encodeURIComponent(slug)}/summary`, t('s_link')));
}

// ---------------------------------------------------------------------------------------
// The filter form

async function interviewerOptions(ctx, seen) {
  if (ctx.isCoordinator) {
    try {
      const { interviewers } = await api('GET', '/api/v1/interviewers');
      return interviewers.map((i) => ({ id: i.id, name: i.name }));
    } catch (_) { /* fall back on those seen */ }
  }
  return [...seen.entries()].map(([id, name]) => ({ id, name }));
}

/** The single-choice questions one may filter on (coordinators also on personal ones). */
const filterable = (columns) => columns.filter((c) => ['single_choice', 'single_choice_list', 'likert'].includes(c.kind));

function filterForm(state, onApply) {
  const { slug, versions, columns, interviewers } = state;
  const f = { ...state.filters };
  const id = (s) => `rf-${s}`;
  const field = (name, label, control) => el('div', { class: 'field' }, el('label', { for: id(name) }, label), control);
  const version = el('select', { id: id('version') },
    el('option', { value: '' }, t('r_all_versions')),
    versions.map((v) => el('option', { value: v.version, selected: String(f.version) === String(v.version) }, t('r_version_n', { n: v.version }))));
  const from = el('input', { id: id('from'), type: 'date', value: f.from || '' });
  const to = el('input', { id: id('to'), type: 'date', value: f.to || '' });
  const interviewer = el('select', { id: id('interviewer') },
    el('option', { value: '' }, t('r_all_interviewers')),
    interviewers.map((i) => el('option', { value: i.id, selected: f.interviewer === i.id }, i.name)));
  const review = el('select', { id: id('review') },
    el('option', { value: '' }, t('r_all_states')),
    REVIEW_STATES.map((s) => el('option', { value: s, selected: f.review === s }, stateText(s))));
  const where = whereFields({
    prefix: 'rf',
    questions: filterable(columns).map((c) => ({
      name: c.name, label: titleOf(c.schema, c.doc, c.name), lang: labelLang(c.schema, c.doc),
      choices: choices(c.schema).map((ch) => ({ value: String(ch.const), label: choiceLabel(c.schema, c.doc, ch.const) })),
    })),
    conditions: f.where || [],
  });

  const form = el('form', { class: 'card filters', 'aria-labelledby': 'rf-title' },
    el('h2', { id: 'rf-title' }, t('r_filters')),
    el('div', { class: 'inline-form' },
      field('version', t('r_f_version'), version),
      field('from', t('r_f_from'), from),
      field('to', t('r_f_to'), to),
      field('interviewer', t('r_f_interviewer'), interviewer),
      field('review', t('r_f_review'), review)),
    where.node,
    el('div', { class: 'inline-form' },
      el('button', { type: 'submit', class: 'btn btn-primary' }, t('r_apply')),
      el('button', { type: 'button', class: 'btn btn-ghost', id: 'rf-reset' }, t('r_reset'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {
      version: version.value, from: from.value, to: to.value, interviewer: interviewer.value,
      review: review.value, where: where.read(),
    };
    saveFilters(slug, next);
    onApply(next);
  });
  form.querySelector('#rf-reset').addEventListener('click', () => {
    saveFilters(slug, {});
    onApply({});
  });
  return form;
}

// ---------------------------------------------------------------------------------------
// Downloads: fetched with the session's token, then handed to the browser as a file

const DOWNLOADS = [
  { format: 'csv', label: 'r_dl_csv', path: 'responses.csv' },
  { format: 'xlsx', label: 'r_dl_xlsx', path: 'responses.xlsx' },
  { format: 'geojson', label: 'r_dl_geojson', path: 'responses.geojson' },
  { format: 'ndjson', label: 'r_dl_ndjson', path: 'responses.ndjson' },
  { format: 'photos', label: 'r_dl_photos', path: 'photos.zip' },
];

/** Fetches `url` with the bearer token and saves it as `name` (the whole file is held in
 * memory as a Blob on the way: an `<a download>` cannot send the token). */
async function download(url, name) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${getToken()}` }, cache: 'no-store' });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, body);
  }
  const disposition = res.headers.get('content-disposition') || '';
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = el('a', { href, download: m ? decodeURIComponent(m[1]) : name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

function downloads(slug, filters, errorText) {
  const base = `/api/v1/questionnaires/${encodeURIComponent(slug)}`;
  const status = el('p', { class: 'small muted', role: 'status', 'aria-live': 'polite' });
  const buttons = DOWNLOADS.map((d) => {
    const b = el('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-format': d.format }, t(d.label));
    b.addEventListener('click', async () => {
      // French Excel reads `;` as the separator; the CSV says so in its first line.
      const extra = d.format === 'csv' && getLang() === 'fr' ? { sep: ';' } : {};
      const query = filterQuery(filters, extra).toString();
      const ext = d.path.split('.').pop();
      b.disabled = true;
      status.textContent = t('r_dl_busy');
      try {
        await download(`${base}/${d.path}${query ? `?${query}` : ''}`, `${slug}-${d.format === 'photos' ? 'photos' : 'reponses'}.${ext}`);
        status.textContent = t('r_dl_done');
      } catch (e) {
        status.textContent = '';
        toast(errorText(e), 'error');
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });
  return el('section', { class: 'card', 'aria-labelledby': 'dl-title' },
    el('h2', { id: 'dl-title' }, t('r_downloads')),
    el('p', { class: 'small muted' }, t('r_dl_intro')),
    el('div', { class: 'actions' }, buttons),
    status);
}

// ---------------------------------------------------------------------------------------
// The table

const META_COLUMNS = ['completed_at', 'received_at', 'interviewer', 'version', 'review'];

function loadColumns(slug, columns) {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY(slug)));
    if (Array.isArray(saved)) return saved;
  } catch (_) { /* the defaults */ }
  return ['completed_at', 'interviewer', 'review', ...columns.filter((c) => c.kind !== 'repeat').slice(0, 4).map((c) => c.name)];
}

function columnPicker(slug, columns, chosen, onChange) {
  const box = (name, label) => {
    const cid = `col-${name.replace(/[^a-z0-9_]/gi, '-')}`;
    const input = el('input', { type: 'checkbox', id: cid, checked: chosen.includes(name), 'data-column': name });
    input.addEventListener('change', () => {
      const all = [...META_COLUMNS, ...columns.map((c) => c.name)];
      const on = new Set(chosen);
      if (input.checked) on.add(name); else on.delete(name);
      const next = all.filter((n) => on.has(n));
      try { localStorage.setItem(COLUMNS_KEY(slug), JSON.stringify(next)); } catch (_) { /* this page only */ }
      onChange(next);
    });
    return el('div', { class: 'check' }, input, el('label', { for: cid }, label));
  };
  return el('details', { class: 'card settings columns' },
    el('summary', {}, t('r_columns')),
    el('fieldset', { class: 'choices' }, el('legend', {}, t('r_columns_meta')),
      META_COLUMNS.map((n) => box(n, t(`r_col_${n}`)))),
    el('fieldset', { class: 'choices' }, el('legend', {}, t('r_columns_questions')),
      columns.map((c) => box(c.name, titleOf(c.schema, c.doc, c.name)))));
}

async function showTable(root, slug, ctx) {
  const { q, versions, documents, columns } = await loadQuestionnaire(slug);
  const seen = new Map(); // interviewers seen in pages (for analysts' filter)
  const state = {
    slug, versions, columns, filters: loadFilters(slug), interviewers: await interviewerOptions(ctx, seen),
    cursors: [null], // the cursor of each page shown so far (the first page has none)
    limit: 50,
  };
  let chosen = loadColumns(slug, columns);
  const title = documents[0] ? titleOf(documents[0], documents[0]) : slug;

  clear(root);
  const results = el('section', { class: 'results', 'aria-labelledby': 'r-results' });
  const filterBox = el('div', {});
  const dlBox = el('div', {});
  const head = el('div', { class: 'builder-head' },
    el('h1', {}, t('r_title', { title })),
    el('p', { class: 'small muted' }, slug));
  root.append(head, tabs(slug, 'table'));
  if (ctx.isCoordinator) root.append(approvedOnlySetting(slug, q.approved_only, ctx.errorText));
  root.append(filterBox, columnPicker(slug, columns, chosen, (next) => { chosen = next; render(); }), results, dlBox);

  const byName = new Map(columns.map((c) => [c.name, c]));
  let page = null;

  const drawFilters = () => {
    clear(filterBox);
    filterBox.append(filterForm(state, (next) => {
      state.filters = next;
      state.cursors = [null];
      drawFilters();
      load();
    }));
    clear(dlBox);
    dlBox.append(downloads(slug, state.filters, ctx.errorText));
  };

  const cell = (r, name) => {
    switch (name) {
      case 'completed_at': return formatDate(r.completed_at);
      case 'received_at': return formatDate(r.received_at);
      case 'interviewer': return r.interviewer_name || '—';
      case 'version': return String(r.version);
      case 'review': return statePill(r.review_state);
      default: {
        const c = byName.get(name);
        if (!c) return '';
        const v = getPath(r.answers, c.path);
        return answerText(c.schema, c.kind, c.doc, v);
      }
    }
  };
  const header = (name) => {
    if (META_COLUMNS.includes(name)) return t(`r_col_${name}`);
    const c = byName.get(name);
    return c ? titleOf(c.schema, c.doc, name) : name;
  };

  function render() {
    clear(results);
    results.append(el('h2', { id: 'r-results' }, t('r_results')));
    if (!page) return;
    const shown = chosen.filter((n) => META_COLUMNS.includes(n) || byName.has(n));
    const pageNo = state.cursors.length;
    results.append(el('p', { class: 'small muted', role: 'status' },
      page.responses.length ? t('r_page_info', { page: pageNo, n: page.responses.length }) : t('r_empty')));
    if (page.responses.length) {
      results.append(el('div', { class: 'table-wrap' }, el('table', { class: 'data responses' },
        el('caption', { class: 'sr-only' }, t('r_caption', { title })),
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, t('r_col_response')),
          shown.map((n) => el('th', { scope: 'col', 'data-column': n }, header(n))))),
        el('tbody', {}, page.responses.map((r, i) => el('tr', { 'data-id': r.id },
          el('th', { scope: 'row' }, el('a', { href: `#/responses/${encodeURIComponent(slug)}/${r.id}` }, t('r_open_n', { n: i + 1 }))),
          shown.map((n) => el('td', { 'data-column': n }, cell(r, n)))))))));
    }
    const prev = el('button', { type: 'button', class: 'btn btn-small btn-ghost', disabled: state.cursors.length < 2 }, t('r_prev_page'));
    const next = el('button', { type: 'button', class: 'btn btn-small btn-secondary', disabled: !page.next }, t('r_next_page'));
    const size = el('select', { id: 'r-limit' }, PAGE_SIZES.map((n) => el('option', { value: n, selected: n === state.limit }, String(n))));
    prev.addEventListener('click', () => { state.cursors.pop(); load(); });
    next.addEventListener('click', () => { state.cursors.push(page.next); load(); });
    size.addEventListener('change', () => { state.limit = Number(size.value); state.cursors = [null]; load(); });
    results.append(el('div', { class: 'row pager' }, prev, next,
      el('label', { for: 'r-limit', class: 'small' }, t('r_page_size')), size));
  }

  async function load() {
    const after = state.cursors[state.cursors.length - 1];
    const query = filterQuery(state.filters, { after, limit: state.limit });
    clear(results);
    results.append(el('p', { class: 'loading' }, t('loading')));
    try {
      page = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(slug)}/responses?${query}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      clear(results);
      results.append(el('p', { class: 'banner banner-error', role: 'alert' }, ctx.errorText(e)));
      return;
    }
    lastPage = { slug, ids: page.responses.map((r) => r.id) };
    let grew = false;
    for (const r of page.responses) {
      if (r.interviewer_id && !seen.has(r.interviewer_id)) { seen.set(r.interviewer_id, r.interviewer_name); grew = true; }
    }
    if (grew && !ctx.isCoordinator) {
      state.interviewers = await interviewerOptions(ctx, seen);
      drawFilters();
    }
    render();
  }

  drawFilters();
  await load();
}

/** The questionnaire's setting: analysts see approved responses only (coordinators). */
function approvedOnlySetting(slug, on, errorText) {
  const box = el('input', { type: 'checkbox', id: 'approved-only', checked: on });
  box.addEventListener('change', async () => {
    try {
      await api('PUT', `/api/v1/questionnaires/${encodeURIComponent(slug)}/settings`, { approved_only: box.checked });
      toast(box.checked ? t('r_approved_only_on') : t('r_approved_only_off'), 'info');
    } catch (e) {
      box.checked = !box.checked;
      toast(errorText(e), 'error');
    }
  });
  return el('div', { class: 'card check' }, box, el('label', { for: 'approved-only' }, t('r_approved_only')));
}

// ---------------------------------------------------------------------------------------
// The map page

/** The located responses for `filters`: `[{id, lat, lon, label}]`. A geopoint answer places
 * a response (each one, if several); else its own location. */
async function mapPoints(slug, filters, columns) {
  const base = `/api/v1/questionnaires/${encodeURIComponent(slug)}`;
  const query = filterQuery(filters).toString();
  const res = await fetch(`${base}/responses.${MAP_SOURCE}${query ? `?${query}` : ''}`, {
    headers: { authorization: `Bearer ${getToken()}` }, cache: 'no-store',
  });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, body);
  }
  const text = await res.text();
  if (MAP_SOURCE === 'geojson') {
    // Points as the export places them; `properties.id` names the response.
    return JSON.parse(text).features.filter((f) => f.geometry?.type === 'Point').map((f) => ({
      id: f.properties?.id, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
      when: f.properties?.completed_at,
    }));
  }
  const geo = columns.filter((c) => c.kind === 'geopoint');
  const points = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    const found = geo.map((c) => getPath(r.answers, c.path)).filter((p) => p && typeof p.lat === 'number' && typeof p.lon === 'number');
    const at = found.length ? found : (r.location && typeof r.location.lat === 'number' ? [r.location] : []);
    for (const p of at) points.push({ id: r.id, lat: p.lat, lon: p.lon, when: r.completed_at });
  }
  return points;
}

async function showMapPage(root, slug, ctx) {
  const { versions, documents, columns } = await loadQuestionnaire(slug);
  const state = { slug, versions, columns, filters: loadFilters(slug), interviewers: await interviewerOptions(ctx, new Map()) };
  const title = documents[0] ? titleOf(documents[0], documents[0]) : slug;
  clear(root);
  const mapBox = el('section', { class: 'map-section', 'aria-labelledby': 'map-title' });
  const filterBox = el('div', {});
  root.append(el('h1', {}, t('r_title', { title })), tabs(slug, 'map'), filterBox, mapBox);
  const draw = async () => {
    clear(filterBox);
    filterBox.append(filterForm(state, (next) => { state.filters = next; draw(); }));
    clear(mapBox);
    mapBox.append(el('h2', { id: 'map-title' }, t('r_map_title')), el('p', { class: 'loading' }, t('loading')));
    let points;
    try {
      points = await mapPoints(slug, state.filters, columns);
    } catch (e) {
      clear(mapBox);
      mapBox.append(el('p', { class: 'banner banner-error', role: 'alert' }, ctx.errorText(e)));
      return;
    }
    clear(mapBox);
    mapBox.append(el('h2', { id: 'map-title' }, t('r_map_title')),
      el('p', { class: 'small muted', role: 'status' }, t('r_map_count', { n: points.length })));
    const holder = el('div', { class: 'map map-large', id: 'responses-map' });
    mapBox.append(holder);
    await showPointsMap(holder, points.map((p) => ({
      ...p,
      popup: () => el('div', {},
        el('p', {}, formatDate(p.when)),
        el('a', { href: `#/responses/${encodeURIComponent(slug)}/${p.id}` }, t('r_open_response'))),
      title: t('r_marker', { date: formatDate(p.when) }),
    })), { cluster: true });
  };
  await draw();
}

// ---------------------------------------------------------------------------------------
// One response

/** An `<img>` of a photo, fetched with the token (an `<img src>` could not send it). */
function photo(hash, alt) {
  const img = el('img', { class: 'photo-answer', alt, width: 240 });
  const box = el('figure', { class: 'photo-box' }, img);
  fetch(`/api/v1/attachments/${hash}`, { headers: { authorization: `Bearer ${getToken()}` } })
    .then(async (res) => {
      if (!res.ok) throw new Error(String(res.status));
      img.src = URL.createObjectURL(await res.blob());
    })
    .catch(() => {
      img.remove();
      box.append(el('figcaption', { class: 'small muted' }, t('r_photo_missing')));
    });
  return box;
}

/** The answers of `node` (the root, a section, a repeat's item) as a list of labelled
 * values, sections as headings, repeats as tables. */
function answersOf(node, answers, doc, depth) {
  const out = [];
  let dl = null;
  const dlist = () => {
    if (!dl) { dl = el('dl', { class: 'answers' }); out.push(dl); }
    return dl;
  };
  for (const [k, s] of Object.entries(node.properties || {})) {
    const kind = kindOf(s);
    if (kind === 'note') continue;
    const v = answers?.[k];
    const label = el('span', { lang: labelLang(s, doc) }, titleOf(s, doc, k));
    if (kind === 'section') {
      dl = null;
      const h = el(depth < 2 ? 'h3' : 'h4', {}, label);
      out.push(el('section', { class: 'answer-section', 'data-key': k }, h, answersOf(s, v || {}, doc, depth + 1)));
      continue;
    }
    if (kind === 'repeat') {
      dl = null;
      out.push(repeatTable(k, s, v, doc, label, depth));
      continue;
    }
    let value;
    if (v === undefined || v === null) value = el('span', { class: 'muted' }, t('r_no_answer'));
    else if (kind === 'photo') value = photo(v, titleOf(s, doc, k));
    else value = answerText(s, kind, doc, v);
    dlist().append(el('div', { class: 'answer', 'data-key': k }, el('dt', {}, label), el('dd', {}, value)));
  }
  return out;
}

function repeatTable(key, s, items, doc, label, depth) {
  const item = itemsOf(s);
  const cols = Object.entries(item.properties || {}).filter(([, x]) => !['note', 'section', 'repeat'].includes(kindOf(x)));
  const list = Array.isArray(items) ? items : [];
  const h = el(depth < 2 ? 'h3' : 'h4', { id: `rep-${key}` }, label);
  if (!list.length) return el('section', { class: 'answer-repeat', 'data-key': key }, h, el('p', { class: 'muted' }, t('r_no_items')));
  return el('section', { class: 'answer-repeat', 'data-key': key }, h,
    el('div', { class: 'table-wrap' }, el('table', { class: 'data', 'aria-labelledby': `rep-${key}` },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, '#'),
        cols.map(([k, x]) => el('th', { scope: 'col', lang: labelLang(x, doc) }, titleOf(x, doc, k))))),
      el('tbody', {}, list.map((it, i) => el('tr', {},
        el('th', { scope: 'row' }, String(i + 1)),
        cols.map(([k, x]) => {
          const kind = kindOf(x);
          const v = it?.[k];
          return el('td', {}, kind === 'photo' && v ? photo(v, titleOf(x, doc, k)) : answerText(x, kind, doc, v));
        })))))));
}

function reviewPanel(detail, ctx, onDone) {
  const { review } = detail;
  const history = el('div', {});
  const drawHistory = (rv) => {
    clear(history);
    history.append(el('p', {}, t('r_state_now'), ' ', statePill(rv.state)));
    if (!rv.history.length) return;
    history.append(el('div', { class: 'table-wrap' }, el('table', { class: 'data review-history' },
      el('caption', {}, t('r_history')),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('r_h_when')), el('th', { scope: 'col' }, t('r_h_state')),
        el('th', { scope: 'col' }, t('r_h_by')), el('th', { scope: 'col' }, t('r_h_comment')))),
      el('tbody', {}, rv.history.map((h) => el('tr', {},
        el('td', {}, formatDate(h.at)), el('td', {}, stateText(h.state)),
        el('td', {}, h.by || '—'), el('td', {}, h.comment || '')))))));
  };
  drawHistory(review);
  const section = el('section', { class: 'card review', 'aria-labelledby': 'review-title' },
    el('h2', { id: 'review-title' }, t('r_review')), history);
  if (!ctx.isCoordinator) {
    section.append(el('p', { class: 'small muted' }, t('r_review_readonly')));
    return section;
  }
  const error = el('p', { class: 'form-error', role: 'alert', id: 'review-error' });
  const radios = REVIEW_STATES.map((s) => el('div', { class: 'check' },
    el('input', { type: 'radio', name: 'review-state', id: `rs-${s}`, value: s, checked: s === review.state }),
    el('label', { for: `rs-${s}` }, stateText(s))));
  const comment = el('textarea', { id: 'review-comment', rows: 3, maxlength: 2000, 'aria-describedby': 'review-error' });
  const form = el('form', { class: 'review-form' },
    el('fieldset', { class: 'choices' }, el('legend', {}, t('r_review_state')), radios),
    el('div', { class: 'field' }, el('label', { for: 'review-comment' }, t('r_review_comment')), comment),
    el('button', { type: 'submit', class: 'btn btn-primary' }, t('r_review_save')),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const state = form.querySelector('input[name="review-state"]:checked')?.value;
    try {
      const rv = await api('PUT', `/api/v1/responses/${detail.id}/review`, { state, comment: comment.value });
      comment.value = '';
      drawHistory(rv);
      toast(t('r_review_done', { state: stateText(rv.state) }), 'info');
      onDone(rv);
    } catch (e) {
      error.textContent = e.body?.errors?.[0] ? msg(e.body.errors[0]) : ctx.errorText(e);
    }
  });
  section.append(form);
  return section;
}

async function showOne(root, slug, id, ctx) {
  const detail = await api('GET', `/api/v1/responses/${encodeURIComponent(id)}`);
  const doc = await versionDoc(detail.questionnaire, detail.version);
  clear(root);
  const back = `#/responses/${encodeURIComponent(slug)}`;
  const nav = el('nav', { class: 'row', 'aria-label': t('r_nav_one') },
    el('a', { href: back, class: 'btn btn-small btn-ghost' }, t('r_back')));
  if (lastPage.slug === slug) {
    const i = lastPage.ids.indexOf(id);
    if (i > 0) nav.append(el('a', { href: `${back}/${lastPage.ids[i - 1]}`, class: 'btn btn-small btn-secondary', rel: 'prev' }, t('r_prev')));
    if (i >= 0 && i < lastPage.ids.length - 1) nav.append(el('a', { href: `${back}/${lastPage.ids[i + 1]}`, class: 'btn btn-small btn-secondary', rel: 'next' }, t('r_next')));
  }
  const h1 = el('h1', { tabindex: '-1' }, t('r_one_title', { date: formatDate(detail.completed_at) }));
  const geo = columnsOf([doc]).filter((c) => c.kind === 'geopoint')
    .map((c) => getPath(detail.answers, c.path)).filter((p) => p && typeof p.lat === 'number');
  const where = geo.length ? geo : (detail.location && typeof detail.location.lat === 'number' ? [detail.location] : []);
  const meta = el('dl', { class: 'meta' },
    el('dt', {}, t('r_m_questionnaire')), el('dd', {}, `${titleOf(doc, doc, slug)} · ${t('r_version_n', { n: detail.version })}`),
    el('dt', {}, t('r_m_interviewer')), el('dd', {}, detail.interviewer_name || '—'),
    el('dt', {}, t('r_m_phone')), el('dd', {}, detail.device_name || '—'),
    el('dt', {}, t('r_m_started')), el('dd', {}, formatDate(detail.started_at)),
    el('dt', {}, t('r_m_completed')), el('dd', {}, formatDate(detail.completed_at)),
    el('dt', {}, t('r_m_duration')), el('dd', { class: 'duration' }, durationText(detail.duration_s)),
    el('dt', {}, t('r_m_received')), el('dd', {}, formatDate(detail.received_at)),
    el('dt', {}, t('r_m_location')), el('dd', {}, detail.location ? geoText(detail.location) : t('r_no_location')));
  const stateLine = el('p', {}, statePill(detail.review.state));
  root.append(nav, h1, stateLine,
    el('div', { class: 'one-cols' },
      el('div', {},
        el('section', { class: 'card', 'aria-labelledby': 'meta-title' }, el('h2', { id: 'meta-title' }, t('r_about')), meta),
        el('section', { class: 'card answers-card', 'aria-labelledby': 'answers-title' },
          el('h2', { id: 'answers-title' }, t('r_answers')),
          answersOf(doc, detail.answers, doc, 1))),
      el('div', {},
        reviewPanel(detail, ctx, (rv) => { clear(stateLine); stateLine.append(statePill(rv.state)); }),
        where.length ? el('section', { class: 'card', 'aria-labelledby': 'where-title' },
          el('h2', { id: 'where-title' }, t('r_where')),
          el('div', { class: 'map map-small', id: 'one-map' })) : null)));
  h1.focus();
  const holder = root.querySelector('#one-map');
  if (holder) {
    await showPointsMap(holder, where.map((p) => ({ id, lat: p.lat, lon: p.lon, title: t('r_marker', { date: formatDate(detail.completed_at) }) })), { cluster: false, zoom: 16 });
  }
}
