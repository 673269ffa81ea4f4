// What the list says about each response: a name taken from its first answers, how complete
// it is, and the lists of what waits to be sent and what was sent.
//
// A name is what lets the interviewer find "the lady from Malakoff" among ten drafts: the
// first answered choice or short text (a neighbourhood), then the first short text (a first
// name), never an answer marked `x-personal-data` (nor inside a personal section), which
// must not be shown on a list anyone may glance at.

import { t, getLang, formatDate } from './i18n.js';
import { el } from './dom.js';
import { getAt, join, LEAF_KINDS } from './form.js';

const NAME_KINDS = new Set(['single_choice', 'short_text']);
const NAME_PARTS = 2;
const NAME_PART_CHARS = 40;
const SENT_SHOWN = 20;

const questionLang = (model) => {
  const langs = model.languages?.length ? model.languages : ['fr'];
  return langs.includes(getLang()) ? getLang() : langs[0];
};

function answerText(q, v, lang) {
  if (q.kind === 'single_choice') {
    const c = (q.choices || []).find((x) => JSON.stringify(x.value) === JSON.stringify(v));
    return c ? (c.i18n?.[lang] ?? c.title ?? String(c.value)) : String(v);
  }
  const s = String(v).trim();
  return s.length > NAME_PART_CHARS ? `${s.slice(0, NAME_PART_CHARS - 1)}…` : s;
}

/** `{name, done, total, missing}` of one response: its name from its first answers, the
 * questions answered among those shown (`visible`, the pointers client-core's `visible()`
 * gives; every question when null), and the required ones shown but unanswered. */
export function summarize(model, answers, visible = null) {
  const lang = questionLang(model);
  const parts = [];
  let firstText = null;
  let done = 0;
  let total = 0;
  let missing = 0;
  const walk = (questions, base, personal) => {
    for (const q of questions || []) {
      const ptr = join(base, q.key);
      if (visible && !visible.has(ptr)) continue;
      const secret = personal || !!q.personal_data;
      const v = getAt(answers, ptr);
      if (q.kind === 'section') walk(q.children, ptr, secret);
      else if (q.kind === 'repeat') {
        if (q.required && !(Array.isArray(v) && v.length)) missing += 1;
        (Array.isArray(v) ? v : []).forEach((_, i) => walk(q.children, join(ptr, i), secret));
      } else if (LEAF_KINDS.has(q.kind)) {
        total += 1;
        const answered = v !== undefined && v !== null && v !== '';
        if (answered) done += 1;
        else if (q.required) missing += 1;
        if (answered && !secret && NAME_KINDS.has(q.kind)) {
          if (parts.length === 0) parts.push(answerText(q, v, lang));
          else if (!firstText && q.kind === 'short_text') firstText = answerText(q, v, lang);
        }
      }
    }
  };
  walk(model.questions, '', false);
  if (firstText && parts.length < NAME_PARTS && !parts.includes(firstText)) parts.push(firstText);
  return { name: parts.filter(Boolean).join(' · '), done, total, missing };
}

/** The models of the questionnaire versions `records` were filled with, by `slug@version`
 * (a version this phone no longer holds is left out). */
export async function modelsFor(client, records) {
  const out = new Map();
  for (const r of records) {
    const key = `${r.response.questionnaire}@${r.response.version}`;
    if (out.has(key)) continue;
    try {
      out.set(key, await client.questionnaire(r.response.questionnaire, r.response.version));
    } catch (_) {
      out.set(key, null);
    }
  }
  return out;
}

const modelOf = (models, r) => models.get(`${r.response.questionnaire}@${r.response.version}`);

/** A draft's line in the list: `{name, progress}` elements (either may be null). */
export async function draftLines(client, models, r) {
  const q = modelOf(models, r);
  if (!q?.model) return { name: null, progress: null };
  let visible = null;
  try {
    visible = new Set(await client.visible(r.response.questionnaire, r.response.version, r.response.answers || {}));
  } catch (_) { /* counted over every question */ }
  const s = summarize(q.model, r.response.answers || {}, visible);
  const progress = [t('answered_of', { done: s.done, total: s.total })];
  if (s.missing) progress.push(t('required_missing', { n: s.missing }));
  return {
    name: s.name ? el('div', { class: 'item-name' }, s.name) : null,
    progress: el('div', { class: 'item-progress' }, progress.join(' · ')),
  };
}

/** The outbox's lists: what waits to be sent (queued) and what was sent (synced, newest
 * first), each a `<details>` that stays open or shut across the list's redraws. */
export function outboxLists(records, questionnaires, models, openState) {
  const title = (r) => {
    const held = questionnaires.find((x) => x.slug === r.response.questionnaire);
    const m = held?.model;
    return m?.i18n?.[getLang()]?.title ?? held?.title ?? r.response.questionnaire;
  };
  const nameOf = (r) => {
    const q = modelOf(models, r);
    return q?.model && r.response.answers ? summarize(q.model, r.response.answers).name : '';
  };
  const list = (key, label, items, line, more = 0) => {
    const d = el('details', { class: `outbox-list outbox-${key}`, id: `outbox-${key}`, open: openState[key] ?? key === 'waiting' },
      el('summary', {}, label),
      el('ul', { class: 'items items-compact' }, ...items.map((r) => el('li', { class: 'item', 'data-id': r.response.id },
        el('div', { class: 'item-title' }, title(r), nameOf(r) ? el('span', { class: 'item-name' }, ` · ${nameOf(r)}`) : null),
        el('div', { class: 'item-meta' }, line(r))))),
      more ? el('p', { class: 'small muted' }, t('older_sent', { n: more })) : null);
    // `open` is an attribute el() sets only when true; keep what the interviewer chose.
    d.addEventListener('toggle', () => { openState[key] = d.open; });
    return d;
  };
  const waiting = records.filter((r) => r.state === 'queued');
  const sent = records.filter((r) => r.state === 'synced')
    .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  return [
    waiting.length ? list('waiting', t('waiting_list', { n: waiting.length }), waiting,
      (r) => t('completed_on', { date: formatDate(r.response.completed_at) })) : null,
    sent.length ? list('sent', t('sent_list', { n: sent.length }), sent.slice(0, SENT_SHOWN),
      (r) => t('sent_on', { date: formatDate(r.updated_at) }), Math.max(0, sent.length - SENT_SHOWN)) : null,
  ].filter(Boolean);
}
