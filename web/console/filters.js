// The filters shared by the responses table, its map, its downloads and the summaries: kept
// per questionnaire for the tab (sessionStorage), written as the API's query string, and the
// `where` part of their forms.
//
// A `where` filter is a list of conditions `[{question, values}]`: the responses whose answer
// to `question` is one of `values` ("Malakoff or Bellevue"); several conditions all apply
// ("Malakoff or Bellevue" and "women"). The API takes it as one `where=question:value` per
// value, the server joining the values of one question with "or" and the questions with "and".

import { el, clear } from '/app/dom.js';
import { t } from './i18n.js';

const FILTER_KEY = (slug) => `parole.console.filters.${slug}`;

/** The conditions of `f`, as kept now or by an older page (one question, one value). */
export function whereOf(f) {
  if (Array.isArray(f?.where)) {
    return f.where.filter((c) => c && c.question && Array.isArray(c.values) && c.values.length)
      .map((c) => ({ question: String(c.question), values: c.values.map(String) }));
  }
  if (f?.whereQuestion && f.whereValue !== undefined && f.whereValue !== '') {
    return [{ question: f.whereQuestion, values: [String(f.whereValue)] }];
  }
  return [];
}

export function loadFilters(slug) {
  let f;
  try { f = JSON.parse(sessionStorage.getItem(FILTER_KEY(slug))) || {}; } catch (_) { f = {}; }
  const { whereQuestion, whereValue, ...rest } = f;
  return { ...rest, where: whereOf(f) };
}

export function saveFilters(slug, f) {
  try { sessionStorage.setItem(FILTER_KEY(slug), JSON.stringify(f)); } catch (_) { /* for this page only */ }
}

/** The query string of `filters` (and `extra`), as the page, the exports and the summaries
 * take it: one `where=question:value` per value ticked. */
export function filterQuery(f, extra = {}) {
  const q = new URLSearchParams();
  for (const k of ['version', 'from', 'to', 'interviewer', 'review']) if (f[k]) q.set(k, f[k]);
  for (const c of whereOf(f)) for (const v of c.values) q.append('where', `${c.question}:${v}`);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q;
}

/**
 * The `where` part of a filter form: for each condition a single-choice question (a select)
 * and its answers as checkboxes, one or more of them ticked; a button adds a condition on
 * another question. `questions`: `[{name, label, lang?, choices: [{value, label, lang?}]}]`;
 * `conditions`: as `whereOf` gives them; `prefix`: for the controls' ids. Returns
 * `{node, read}`, `read()` giving the conditions with at least one answer ticked (a saved
 * condition on a question not in `questions` is dropped).
 */
export function whereFields({ prefix, questions, conditions }) {
  const byName = new Map(questions.map((q) => [q.name, q]));
  // A condition on a question this form does not offer is left out: the form shows all that
  // applies.
  const conds = conditions.filter((c) => byName.has(c.question))
    .map((c) => ({ question: c.question, values: [...c.values] }));
  if (!conds.length) conds.push({ question: '', values: [] });
  const node = el('div', { class: 'where-fields' });

  const values = (c, i) => {
    const q = byName.get(c.question);
    const legend = i === 0 ? t('w_values') : t('w_values_n', { n: i + 1 });
    if (!q) return el('p', { class: 'small muted where-hint' }, t('w_pick_question'));
    return el('fieldset', { class: 'choices where-values', id: `${prefix}-values-${i}`, 'aria-describedby': `${prefix}-hint-${i}` },
      el('legend', {}, legend),
      el('p', { class: 'small muted', id: `${prefix}-hint-${i}` }, t('w_none_ticked')),
      q.choices.map((ch, k) => {
        const id = `${prefix}-v-${i}-${k}`;
        const box = el('input', { type: 'checkbox', id, value: ch.value, checked: c.values.includes(ch.value) });
        box.addEventListener('change', () => {
          c.values = box.checked ? [...c.values, ch.value] : c.values.filter((v) => v !== ch.value);
        });
        return el('div', { class: 'check' }, box, el('label', { for: id, lang: ch.lang || null }, ch.label));
      }));
  };

  const draw = (focus) => {
    clear(node);
    conds.forEach((c, i) => {
      const id = `${prefix}-question-${i}`;
      const select = el('select', { id },
        el('option', { value: '' }, t('r_no_question')),
        questions.map((q) => el('option', { value: q.name, selected: q.name === c.question, lang: q.lang || null }, q.label)));
      const valuesBox = el('div', { class: 'where-values-box' }, values(c, i));
      select.addEventListener('change', () => {
        c.question = select.value;
        c.values = [];
        clear(valuesBox);
        valuesBox.append(values(c, i));
      });
      const remove = conds.length > 1
        ? el('button', { type: 'button', class: 'btn btn-small btn-ghost' }, t('w_remove', { n: i + 1 }))
        : null;
      remove?.addEventListener('click', () => {
        conds.splice(i, 1);
        draw('add');
      });
      node.append(el('div', { class: 'where-condition', 'data-index': i },
        el('div', { class: 'field' }, el('label', { for: id }, i === 0 ? t('w_question') : t('w_question_n', { n: i + 1 })), select),
        valuesBox, remove));
    });
    if (questions.length > conds.length) {
      const add = el('button', { type: 'button', class: 'btn btn-small btn-secondary', id: `${prefix}-add` }, t('w_add'));
      add.addEventListener('click', () => {
        conds.push({ question: '', values: [] });
        draw(conds.length - 1);
      });
      node.append(add);
    }
    if (focus === 'add') (node.querySelector(`#${prefix}-add`) || node.querySelector('select'))?.focus();
    else if (typeof focus === 'number') node.querySelector(`#${prefix}-question-${focus}`)?.focus();
  };
  draw();
  return {
    node,
    read: () => conds.filter((c) => c.question && c.values.length).map((c) => ({ question: c.question, values: [...c.values] })),
  };
}
