// The summaries of a questionnaire's responses (`#/questionnaires/SLUG/summary`), for
// coordinators and analysts: for each question a chart drawn here as SVG and its table.
//
// The figures come from `GET /api/v1/questionnaires/{slug}/summary` (computed by the
// server's database); this module only draws them. The charts read without colour: every
// bar has an outline and a pattern, and its count and percentage are written beside it. The
// SVG is hidden from screen readers (`aria-hidden`): the table below each chart says the
// same, with a caption. Filters as the responses table has them (the same ones: filters.js
// keeps them for the tab, so the summary opens on the table's filter), and a side-by-side view
// ("per" another single-choice question): then each question gets a table with one column
// per value of that question, and its charts one under the other.

import { el, clear } from '/app/dom.js';
import { api, ApiError } from './api.js';
import { t, msg, getLang } from './i18n.js';
import { loadFilters, saveFilters, filterQuery, whereFields } from './filters.js';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element (the DOM helper makes HTML ones). */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

let uid = 0;

/** Hatched and dotted fills, so that bars tell apart without colour. */
function patterns() {
  const id = ++uid;
  const hatch = `sum-hatch-${id}`;
  const dots = `sum-dots-${id}`;
  const defs = svg('defs', {},
    svg('pattern', { id: hatch, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      svg('rect', { width: 6, height: 6, fill: 'white' }),
      svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: 'currentColor', 'stroke-width': 2 })),
    svg('pattern', { id: dots, width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
      svg('rect', { width: 6, height: 6, fill: 'white' }),
      svg('circle', { cx: 3, cy: 3, r: 1.2, fill: 'currentColor' })));
  return { defs, hatch: `url(#${hatch})`, dots: `url(#${dots})` };
}

/** A label in the interface language, else the questionnaire's default one. */
function label(labels, summary) {
  if (!labels) return '';
  return labels[getLang()] ?? labels[summary.languages?.[0]] ?? Object.values(labels)[0] ?? '';
}

const number = (x, digits = 2) => new Intl.NumberFormat(getLang() === 'fr' ? 'fr-FR' : 'en-GB', { maximumFractionDigits: digits }).format(x);
const percent = (p) => `${number(p, 1)} %`;
const countPct = (n, p) => `${number(n, 0)} (${percent(p)})`;

/** Horizontal bars, one per `{label, count, pct, empty}` row (the empty one dotted). */
function barChart(rows, max) {
  const p = patterns();
  const rowH = 26;
  const labelW = 210;
  const barW = 300;
  const width = labelW + barW + 130;
  const height = rows.length * rowH + 6;
  const top = Math.max(max, 1);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart', 'aria-hidden': 'true', focusable: 'false' }, p.defs);
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const w = Math.max((r.count / top) * barW, r.count ? 2 : 0);
    const text = r.label.length > 32 ? `${r.label.slice(0, 31)}…` : r.label;
    chart.append(
      svg('text', { x: labelW - 8, y: y + 15, 'text-anchor': 'end', 'font-size': 13, fill: 'currentColor' }, text),
      svg('rect', { x: labelW, y, width: w, height: rowH - 8, fill: r.empty ? p.dots : p.hatch, stroke: 'currentColor', 'stroke-width': 1 }),
      svg('text', { x: labelW + w + 6, y: y + 15, 'font-size': 13, fill: 'currentColor' }, countPct(r.count, r.pct)));
  });
  return chart;
}

/** Vertical bars (a histogram, days), each with its count above and `labels` below. */
function columnChart(bars, axis) {
  const p = patterns();
  const colW = Math.max(14, Math.min(48, Math.floor(560 / Math.max(bars.length, 1))));
  const plotH = 140;
  const width = bars.length * colW + 40;
  const height = plotH + 54;
  const top = Math.max(1, ...bars.map((b) => b.count));
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart', 'aria-hidden': 'true', focusable: 'false' }, p.defs);
  chart.append(svg('line', { x1: 20, y1: plotH + 20, x2: 20 + bars.length * colW, y2: plotH + 20, stroke: 'currentColor' }));
  bars.forEach((b, i) => {
    const h = (b.count / top) * plotH;
    const x = 20 + i * colW;
    chart.append(svg('rect', { x: x + 1, y: plotH + 20 - h, width: colW - 2, height: h, fill: p.hatch, stroke: 'currentColor', 'stroke-width': 1 }));
    if (b.count) chart.append(svg('text', { x: x + colW / 2, y: plotH + 16 - h, 'text-anchor': 'middle', 'font-size': 11, fill: 'currentColor' }, number(b.count, 0)));
  });
  for (const a of axis) {
    chart.append(svg('text', { x: 20 + a.at * colW, y: plotH + 36, 'text-anchor': a.anchor || 'middle', 'font-size': 11, fill: 'currentColor' }, a.text));
  }
  return chart;
}

/** A table with a caption, its head `head` (strings) and rows of cells (the first a row header). */
function table(caption, head, rows) {
  return el('div', { class: 'table-wrap' },
    el('table', { class: 'data summary-table' },
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.map(([first, ...rest]) => el('tr', {}, el('th', { scope: 'row' }, first), rest.map((c) => el('td', {}, c)))))));
}

function choiceRows(g, summary) {
  const rows = g.choices.map((c) => ({ label: label(c.labels, summary), count: c.count, pct: c.pct }));
  if (g.other) rows.push({ label: t('s_other'), count: g.other, pct: g.total ? Math.round((g.other * 1000) / g.total) / 10 : 0 });
  rows.push({ label: t('s_no_answer'), count: g.no_answer, pct: g.no_answer_pct, empty: true });
  return rows;
}

const binText = (b, integers) => (integers
  ? number(b.from + 0.5, 0)
  : `${number(b.from)} – ${number(b.to)}`);

const isIntegerBins = (n) => n.histogram.every((b) => Math.abs(b.to - b.from - 1) < 1e-9 && Math.abs(b.from + 0.5 - Math.round(b.from + 0.5)) < 1e-9);

/** One group's chart and table rows. */
function groupFigure(q, g, summary, caption) {
  const unit = q.unit === 'items' ? t('s_items') : t('s_responses');
  switch (q.kind) {
    case 'choices': {
      const rows = choiceRows(g, summary);
      return [
        barChart(rows, Math.max(...rows.map((r) => r.count))),
        table(caption, [t('s_answer'), t('s_count'), t('s_percent')], rows.map((r) => [r.label, number(r.count, 0), percent(r.pct)])),
      ];
    }
    case 'numbers': {
      const n = g.numbers;
      const stats = [
        [t('s_answered'), number(g.answered, 0)],
        [t('s_no_answer'), countPct(g.no_answer, g.no_answer_pct)],
      ];
      if (!n) return [table(caption, [t('s_figure'), t('s_value')], stats)];
      const integers = isIntegerBins(n);
      stats.push([t('s_min'), number(n.min)], [t('s_median'), number(n.median)], [t('s_mean'), number(n.mean)], [t('s_max'), number(n.max)]);
      const last = n.histogram.length;
      const axis = integers
        ? n.histogram.map((b, i) => ({ at: i + 0.5, text: number(b.from + 0.5, 0) })).filter((_, i) => last <= 12 || i % Math.ceil(last / 12) === 0)
        : [{ at: 0, text: number(n.histogram[0].from), anchor: 'start' }, { at: last, text: number(n.histogram[last - 1].to), anchor: 'end' }];
      return [
        table(caption, [t('s_figure'), t('s_value')], stats),
        columnChart(n.histogram, axis),
        table(t('s_histogram_of', { q: caption }), [t('s_bin'), t('s_count')], n.histogram.map((b) => [binText(b, integers), number(b.count, 0)])),
      ];
    }
    case 'dates': {
      const days = g.per_day || [];
      const last = days.length;
      const axis = last <= 10
        ? days.map((d, i) => ({ at: i + 0.5, text: d.day.slice(5) }))
        : [{ at: 0, text: days[0].day, anchor: 'start' }, { at: last, text: days[last - 1].day, anchor: 'end' }];
      const rows = days.map((d) => [d.day, number(d.count, 0)]);
      rows.push([t('s_no_answer'), countPct(g.no_answer, g.no_answer_pct)]);
      return [
        last ? columnChart(days, axis) : null,
        table(caption, [t('s_day'), t('s_count')], rows),
      ];
    }
    default:
      return [table(caption, [t('s_figure'), t('s_value')], [
        [t('s_answered'), countPct(g.answered, g.total ? Math.round((g.answered * 1000) / g.total) / 10 : 0)],
        [t('s_no_answer'), countPct(g.no_answer, g.no_answer_pct)],
        [t('s_total', { unit }), number(g.total, 0)],
      ])];
  }
}

/** The side-by-side table of one question: a row per choice (or figure), a column per group. */
function byTable(q, summary, caption) {
  const groups = q.groups;
  const head = [t('s_answer'), ...groups.map((g) => (g.by_value === null ? t('s_no_answer') : label(g.by_labels, summary) || g.by_value))];
  let rows;
  if (q.kind === 'choices') {
    rows = q.groups[0].choices.map((c, i) => [label(c.labels, summary), ...groups.map((g) => countPct(g.choices[i].count, g.choices[i].pct))]);
  } else if (q.kind === 'numbers') {
    const f = (k) => groups.map((g) => (g.numbers ? number(g.numbers[k]) : '—'));
    rows = [[t('s_min'), ...f('min')], [t('s_median'), ...f('median')], [t('s_mean'), ...f('mean')], [t('s_max'), ...f('max')]];
  } else if (q.kind === 'dates') {
    const days = [...new Set(groups.flatMap((g) => (g.per_day || []).map((d) => d.day)))].sort();
    rows = days.map((day) => [day, ...groups.map((g) => number((g.per_day || []).find((d) => d.day === day)?.count || 0, 0))]);
  } else {
    rows = [[t('s_answered'), ...groups.map((g) => number(g.answered, 0))]];
  }
  rows.push([t('s_no_answer'), ...groups.map((g) => countPct(g.no_answer, g.no_answer_pct))]);
  rows.push([t('s_total', { unit: q.unit === 'items' ? t('s_items') : t('s_responses') }), ...groups.map((g) => number(g.total, 0))]);
  return table(caption, head, rows);
}

function questionSection(q, summary) {
  const title = label(q.labels, summary);
  const section = el('section', { class: 'card summary-q', 'data-question': q.question },
    el('h2', {}, title));
  if (q.unit === 'items') section.append(el('p', { class: 'small muted' }, t('s_unit_items')));
  if (summary.by) {
    section.append(byTable(q, summary, t('s_caption_by', { q: title, by: label(summary.by.labels, summary) })));
    if (q.kind === 'choices') {
      const charts = el('details', { class: 'summary-charts' }, el('summary', {}, t('s_charts_per_group')));
      for (const g of q.groups) {
        if (!g.total) continue;
        const name = g.by_value === null ? t('s_no_answer') : label(g.by_labels, summary) || g.by_value;
        const rows = choiceRows(g, summary);
        charts.append(el('h3', {}, name), barChart(rows, Math.max(...rows.map((r) => r.count))));
      }
      section.append(charts);
    }
    return section;
  }
  const g = q.groups[0];
  section.append(el('p', { class: 'small' }, t('s_answered_of', {
    n: number(g.answered, 0),
    total: number(g.total, 0),
    unit: q.unit === 'items' ? t('s_items') : t('s_responses'),
  })));
  section.append(...groupFigure(q, g, summary, title).filter(Boolean));
  return section;
}

/** The single-choice questions (for the `where` filter and the side-by-side view). */
const singleChoices = (summary) => summary.questions.filter((q) => q.kind === 'choices' && q.unit === 'responses' && q.question_kind !== 'multiple_choice');

function labelled(id, text, control) {
  return el('div', { class: 'field' }, el('label', { for: id }, text), control);
}

function select(id, options, value) {
  return el('select', { id }, options.map(([v, text]) => el('option', { value: v, selected: v === value }, text)));
}

/** `#/questionnaires/SLUG/summary`. */
export async function showSummaries(root, slug) {
  const base = `/api/v1/questionnaires/${encodeURIComponent(slug)}/summary`;
  const first = await api('GET', base);
  let interviewers = [];
  try {
    interviewers = (await api('GET', '/api/v1/interviewers')).interviewers || [];
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401) throw e; // analysts may not list them
  }
  const choiceQs = singleChoices(first);

  clear(root);
  root.append(el('p', {}, el('a', { href: '#/questionnaires' }, t('s_back'))),
    el('h1', {}, t('s_title', { slug })));

  const saved = loadFilters(slug);
  const versionSel = select('s-version', [['', t('s_all_versions')], ...first.versions.map((v) => [String(v), t('s_version', { n: v })])], saved.version ? String(saved.version) : '');
  const from = el('input', { id: 's-from', type: 'date', value: saved.from || '' });
  const to = el('input', { id: 's-to', type: 'date', value: saved.to || '' });
  const interviewerSel = interviewers.length
    ? select('s-interviewer', [['', t('s_all')], ...interviewers.map((i) => [i.id, i.name])], saved.interviewer || '')
    : null;
  const reviewSel = select('s-review', [['', t('s_all')], ...['received', 'approved', 'has_issues', 'rejected'].map((s) => [s, t(`s_review_${s}`)])], saved.review || '');
  const where = whereFields({
    prefix: 's-where',
    questions: choiceQs.map((q) => ({
      name: q.question,
      label: label(q.labels, first),
      choices: q.groups[0].choices.map((c) => ({ value: String(c.value), label: label(c.labels, first) })),
    })),
    conditions: saved.where,
  });
  const bySel = select('s-by', [['', t('s_none')], ...choiceQs.map((q) => [q.question, label(q.labels, first)])], '');

  const status = el('p', { class: 'small', role: 'status', id: 's-status' });
  const results = el('div', { id: 's-results' });
  const form = el('form', { class: 'card summary-filters', novalidate: true },
    el('h2', {}, t('s_filters')),
    el('div', { class: 'inline-form' },
      labelled('s-version', t('s_f_version'), versionSel),
      labelled('s-from', t('s_f_from'), from),
      labelled('s-to', t('s_f_to'), to),
      interviewerSel ? labelled('s-interviewer', t('s_f_interviewer'), interviewerSel) : null,
      labelled('s-review', t('s_f_review'), reviewSel)),
    where.node,
    el('div', { class: 'inline-form' },
      labelled('s-by', t('s_f_by'), bySel)),
    el('button', { type: 'submit', class: 'btn' }, t('s_apply')));
  root.append(form, status, results);

  const render = (summary) => {
    clear(results);
    results.append(el('p', { class: 'summary-count' }, t('s_count_responses', { n: number(summary.responses, 0) })));
    if (summary.personal_data === 'omit') results.append(el('p', { class: 'small muted' }, t('s_personal_omitted')));
    for (const q of summary.questions) results.append(questionSection(q, summary));
  };

  const load = async (filters) => {
    const query = filterQuery(filters, { by: bySel.value }).toString();
    status.textContent = t('loading');
    try {
      render(await api('GET', query ? `${base}?${query}` : base));
      status.textContent = t('s_updated');
    } catch (e) {
      status.textContent = e instanceof ApiError ? (msg(e.body) || `HTTP ${e.status}`) : t('network_error');
    }
  };
  // What the form shows is what applies (an analyst, who has no list of interviewers here,
  // leaves the table's choice of one out).
  const shown = () => ({
    version: versionSel.value, from: from.value, to: to.value, interviewer: interviewerSel?.value || '',
    review: reviewSel.value, where: where.read(),
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const filters = shown();
    saveFilters(slug, filters);
    load(filters);
  });
  if (filterQuery(shown()).toString()) await load(shown());
  else render(first);
}
