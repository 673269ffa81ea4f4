// The fill screen: renders a questionnaire `model` (client-core's serialised Questionnaire)
// as labelled controls, applies skip logic live through the wasm client's `visible()`,
// shows `validate()` errors next to each question, and saves the draft on every change.

import { t, msg, getLang } from './i18n.js';
import { downscale } from './photo.js';
import { el, clear, toast } from './dom.js';
import { renderGeopoint } from './geo.js';
import { Pager, layoutOf } from './pages.js';
import { UndoNotice } from './undo.js';
import { isStorageError, downloadResponseBackup, askBeforeLeaving } from './safety.js';

// ---------------------------------------------------------------------------------------------
// JSON pointers

export function tokens(p) {
  if (!p) return [];
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function join(p, tok) {
  return `${p}/${String(tok).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

export function getAt(obj, p) {
  let cur = obj;
  for (const k of tokens(p)) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setAt(obj, p, v) {
  const ts = tokens(p);
  let cur = obj;
  for (let i = 0; i < ts.length - 1; i += 1) {
    const k = ts[i];
    if (cur[k] == null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k];
  }
  cur[ts[ts.length - 1]] = v;
}

/** Removes the answer at `p`, then the section objects left empty above it (never a repeat
 * item, never the root). */
export function deleteAt(obj, p) {
  const ts = tokens(p);
  const chain = [obj];
  let cur = obj;
  for (let i = 0; i < ts.length - 1; i += 1) {
    cur = cur?.[ts[i]];
    if (cur == null || typeof cur !== 'object') return;
    chain.push(cur);
  }
  const last = ts[ts.length - 1];
  if (Array.isArray(cur)) return; // items are removed by the repeat widget only
  delete cur[last];
  for (let i = chain.length - 1; i >= 1; i -= 1) {
    const node = chain[i];
    const parent = chain[i - 1];
    if (Array.isArray(node) || Array.isArray(parent)) break;
    if (Object.keys(node).length > 0) break;
    delete parent[ts[i - 1]];
  }
}

// ---------------------------------------------------------------------------------------------
// Labels in the questionnaire's language

const label = (q, lang) => q.i18n?.[lang]?.title ?? q.title ?? q.key;
const help = (q, lang) => q.i18n?.[lang]?.description ?? q.description ?? '';
/** The validator's codes for an answer that breaks one of its question's rules, where the
 * question's `x-error-message` replaces the generic message. */
const RULE_CODES = new Set(['min', 'max', 'min_length', 'max_length', 'pattern', 'format', 'min_items', 'max_items']);

/** A language's name in itself (`ar` → « العربية », `en` → « English »), for the picker. */
function languageName(code) {
  try {
    const name = new Intl.DisplayNames([code], { type: 'language' }).of(code);
    if (name && name !== code) return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
  } catch (_) { /* not a language tag Intl knows */ }
  return code.toUpperCase();
}

/** The writing direction of a language: `rtl` for Arabic, Hebrew, Persian, Urdu…. */
function direction(code) {
  try {
    const info = new Intl.Locale(code);
    const dir = (info.getTextInfo?.() ?? info.textInfo)?.direction;
    if (dir) return dir;
  } catch (_) { /* fall back on the list */ }
  return ['ar', 'he', 'fa', 'ur', 'ps', 'sd', 'yi', 'dv', 'ug', 'ku'].includes(code.split('-')[0]) ? 'rtl' : 'ltr';
}

const choiceLabel = (c, lang) => c.i18n?.[lang] ?? c.title ?? String(c.value);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export const LEAF_KINDS = new Set([
  'short_text', 'long_text', 'integer', 'number', 'boolean', 'single_choice',
  'multiple_choice', 'likert', 'date', 'time', 'date_time', 'geopoint', 'photo',
]);

// date-time: <input type=datetime-local> gives local wall time; answers are RFC 3339 with the
// phone's offset at that date.
export function localToRfc3339(local) {
  if (!local) return undefined;
  const withSeconds = local.length === 16 ? `${local}:00` : local;
  const d = new Date(withSeconds);
  if (Number.isNaN(d.getTime())) return undefined;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const pad = (n) => String(n).padStart(2, '0');
  return `${withSeconds}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function rfc3339ToLocal(s) {
  if (typeof s !== 'string' || !s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function cameraIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z');
  svg.append(path);
  return svg;
}

let idCounter = 0;
const newId = () => `f${(idCounter += 1)}`;

// ---------------------------------------------------------------------------------------------

export class FillScreen {
  /**
   * @param opts.client     the ParoleClient
   * @param opts.record     `{response, state, errors}`: a draft, or a refused response to correct
   * @param opts.questionnaire `{slug, version, title, model}`
   * @param opts.onClose(message?) called when leaving (after the last save)
   */
  constructor({ client, record, questionnaire, onClose }) {
    this.client = client;
    this.state = record.state || 'draft';
    this.serverErrors = record.errors || [];
    this.response = structuredClone(record.response);
    this.answers = this.response.answers && typeof this.response.answers === 'object'
      ? this.response.answers : {};
    this.response.answers = this.answers;
    this.q = questionnaire;
    this.model = questionnaire.model;
    this.onClose = onClose;
    const langs = this.model.languages?.length ? this.model.languages : ['fr'];
    this.qLang = langs.includes(getLang()) ? getLang() : langs[0];
    this.widgets = new Map();
    this.touched = new Set();
    this.showAll = this.state === 'rejected';
    this.errors = [];
    this.pending = null;
    this.queue = Promise.resolve();
    this.timer = null;
    this.closed = false;
    this.stops = new Set(); // running location watches, stopped on close and redraw
    this.undo = new UndoNotice();
    this.before = new Map(); // pointer → its answer before the changes not yet refreshed
    this.root = el('div', { class: 'fill' });
    this.onPageHide = () => { this.flush(); };
    window.addEventListener('pagehide', this.onPageHide);
    document.addEventListener('visibilitychange', this.onPageHide);
  }

  get editingDraft() {
    return this.state === 'draft';
  }

  /** Renders the screen; resolves once visibility and errors are shown. */
  async mount(container) {
    clear(container);
    container.append(this.root);
    this.render();
    await this.schedule({ save: false });
  }

  destroy() {
    this.closed = true;
    for (const stop of [...this.stops]) stop();
    this.undo.hide();
    window.removeEventListener('pagehide', this.onPageHide);
    document.removeEventListener('visibilitychange', this.onPageHide);
  }

  render() {
    const lang = this.qLang;
    for (const stop of [...this.stops]) stop();
    clear(this.root);
    this.widgets.clear();
    this.progressText = el('span', { class: 'progress-text', 'aria-live': 'polite' });
    this.progressBar = el('div', { class: 'progress-bar', role: 'progressbar', 'aria-valuemin': '0' },
      el('div', { class: 'progress-fill' }));
    this.saveStatus = el('span', { class: 'save-status', 'aria-live': 'polite' });
    // A failed save is an error, not a line in the "saved" slot.
    this.saveAlert = el('div', { class: 'banner save-alert', role: 'alert', hidden: true });
    const langs = this.model.languages || ['fr'];
    let langPicker = null;
    if (langs.length > 1) {
      const id = newId();
      const sel = el('select', { id, class: 'qlang' },
        ...langs.map((l) => el('option', { value: l, lang: l, dir: direction(l), selected: l === lang }, languageName(l))));
      sel.addEventListener('change', async () => {
        this.qLang = sel.value;
        await this.flush();
        this.render();
        await this.schedule({ save: false });
        this.root.querySelector('.qlang')?.focus();
      });
      langPicker = el('div', { class: 'qlang-wrap' },
        el('label', { for: id, class: 'qlang-label' }, t('q_lang_short')), sel);
    }
    const back = el('button', { type: 'button', class: 'btn-back', 'aria-label': t('back_to_list') }, '←', el('span', {}, t('back')));
    back.addEventListener('click', () => this.close());
    const title = this.model.i18n?.[lang]?.title ?? this.model.title ?? this.q.title;
    const head = el('header', { class: 'fill-head' },
      el('div', { class: 'fill-bar' }, back, el('span', { class: 'fill-version' }, t('version_n', { n: this.q.version })), langPicker),
      el('div', { class: 'fill-progress' }, this.progressBar, el('div', { class: 'progress-row' }, this.progressText, this.saveStatus)),
      this.saveAlert);
    this.renderSaveAlert();
    // The questionnaire's own text is in its language, read and laid out as such (Arabic
    // right to left); the app's words around it stay in the app's language.
    const content = { lang, dir: direction(lang) };
    const intro = el('div', { class: 'fill-intro', ...content },
      el('h1', { class: 'fill-title', tabindex: '-1' }, title));
    const desc = this.model.i18n?.[lang]?.description ?? this.model.description;
    if (desc) intro.append(el('p', { class: 'fill-desc' }, desc));
    if (this.state === 'rejected' && this.serverErrors.length) {
      intro.append(el('div', { class: 'banner banner-error', role: 'alert' },
        el('strong', {}, t('refused_banner')),
        el('ul', {}, ...this.serverErrors.map((e) => el('li', {}, msg(e))))));
    }
    const body = el('form', { class: 'questions', novalidate: true, ...content });
    body.addEventListener('submit', (e) => e.preventDefault());
    this.renderList(this.model.questions, '', body, null);
    this.generalErrors = el('div', { class: 'general-errors', 'aria-live': 'polite', hidden: true });
    const finish = el('button', { type: 'button', class: 'btn btn-primary btn-finish' },
      this.editingDraft ? t('finish') : t('resend'));
    finish.addEventListener('click', () => this.finish());
    this.finishBtn = finish;
    // In the street, one interview follows another: finish this one and open a new one.
    let next = null;
    if (this.editingDraft) {
      next = el('button', { type: 'button', class: 'btn btn-secondary btn-finish-next' }, t('finish_next'));
      next.addEventListener('click', () => this.finish({ next: true }));
    }
    this.nextBtn = next;
    const foot = el('div', { class: 'fill-foot' }, this.generalErrors, finish, next);
    this.root.append(head, intro, body, foot, this.undo.el);
    this.pager = layoutOf(this.q) === 'sections' ? new Pager(this, body, foot, (q) => label(q, lang), content) : null;
    for (const w of this.widgets.values()) w.set(getAt(this.answers, w.ptr));
  }

  renderList(questions, basePtr, container, parent) {
    for (const q of questions) {
      const ptr = join(basePtr, q.key);
      const w = this.renderQuestion(q, ptr, parent);
      if (w) container.append(w.el);
    }
  }

  register(w) {
    this.widgets.set(w.ptr, w);
    w.el.dataset.pointer = w.ptr;
    w.el.dataset.kind = w.q.kind;
    return w;
  }

  /** One question: its wrapper, title, help, control and error slot. */
  renderQuestion(q, ptr, parent) {
    const lang = this.qLang;
    const w = { q, ptr, parent, set: () => {}, controls: [] };
    const id = newId();
    const errId = `${id}-err`;
    const helpText = help(q, lang);
    const helpId = helpText ? `${id}-help` : null;
    const title = label(q, lang);
    const req = q.required ? el('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null;
    const helpEl = helpText ? el('p', { class: 'q-help', id: helpId }, helpText) : null;
    w.errEl = el('div', { class: 'q-error', id: errId, 'aria-live': 'polite' });
    const describedBy = [helpId, errId].filter(Boolean).join(' ');
    const describe = (c) => {
      c.setAttribute('aria-describedby', describedBy);
      if (q.required) c.setAttribute('aria-required', 'true');
      w.controls.push(c);
      return c;
    };
    const schema = q.schema || {};

    switch (q.kind) {
      case 'note': {
        w.el = el('div', { class: 'q note', role: 'note' }, el('p', { class: 'note-title' }, title), helpEl);
        return this.register(w);
      }
      case 'section': {
        const hid = `${id}-h`;
        const kids = el('div', { class: 'section-body' });
        w.el = el('section', { class: 'q section', 'aria-labelledby': hid },
          el('h2', { id: hid, class: 'section-title' }, title, req), helpEl, w.errEl, kids);
        this.register(w);
        this.renderList(q.children || [], ptr, kids, w);
        return w;
      }
      case 'repeat':
        return this.renderRepeat(q, ptr, parent, { id, title, req, helpEl });
      case 'single_choice':
      case 'likert':
      case 'boolean': {
        const choices = q.kind === 'boolean'
          ? [{ value: true, title: t('yes') }, { value: false, title: t('no') }]
          : (q.choices || []);
        const lbl = (c) => (q.kind === 'boolean' ? c.title : choiceLabel(c, lang));
        if (q.kind === 'single_choice' && q.widget === 'select') {
          const sel = describe(el('select', { id, name: id, class: 'input' },
            el('option', { value: '' }, t('choose')),
            ...choices.map((c, i) => el('option', { value: String(i) }, lbl(c)))));
          sel.addEventListener('change', () => {
            const c = choices[Number(sel.value)];
            this.change(ptr, sel.value === '' ? undefined : c.value, true);
          });
          w.set = (v) => {
            const i = choices.findIndex((c) => same(c.value, v));
            sel.value = i < 0 ? '' : String(i);
          };
          w.el = el('div', { class: 'q' }, el('label', { for: id, class: 'q-title' }, title, req), helpEl, sel, w.errEl);
          return this.register(w);
        }
        const cls = q.kind === 'likert' ? 'choices likert' : (q.kind === 'boolean' ? 'choices yesno' : 'choices');
        const inputs = choices.map((c, i) => {
          const input = describe(el('input', { type: 'radio', name: id, value: String(i), id: `${id}-${i}` }));
          input.addEventListener('change', () => {
            if (!input.checked) return;
            if (w.likertChosen) w.likertChosen.textContent = `${w.likertNumbers[i]} — ${w.likertLabels[i]}`;
            if (w.clearBtn) w.clearBtn.hidden = false;
            this.change(ptr, c.value, true);
          });
          return input;
        });
        let box;
        if (q.kind === 'likert') {
          // A row of radio buttons numbered by their values (a 0–10 scale shows 0…10), the
          // two ends named under it, and the label of the chosen one shown; each radio's
          // accessible name is its full label. A long scale wraps onto a second row rather
          // than shrink its buttons below 44 px.
          const numbers = choices.map((c, i) => (Number.isInteger(c.value) ? String(c.value) : String(i + 1)));
          const last = choices.length - 1;
          const chosen = el('p', { class: 'likert-chosen', 'aria-hidden': 'true' });
          inputs.forEach((input, i) => input.setAttribute('aria-label', lbl(choices[i])));
          box = el('div', { class: 'likert-wrap' },
            el('div', { class: cls, style: `--n:${choices.length}` },
              ...choices.map((c, i) => el('label', { class: 'choice', for: `${id}-${i}`, title: lbl(c) }, inputs[i],
                el('span', { class: 'lk-n', 'aria-hidden': 'true' }, numbers[i])))),
            el('div', { class: 'likert-ends', 'aria-hidden': 'true' },
              el('span', {}, `${numbers[0]} = ${lbl(choices[0])}`), el('span', {}, `${numbers[last]} = ${lbl(choices[last])}`)),
            chosen);
          w.likertChosen = chosen;
          w.likertLabels = choices.map(lbl);
          w.likertNumbers = numbers;
        } else {
          box = el('div', { class: cls },
            ...choices.map((c, i) => el('label', { class: 'choice', for: `${id}-${i}` }, inputs[i], el('span', {}, lbl(c)))));
        }
        let clearBtn = null;
        if (!q.required) {
          clearBtn = el('button', { type: 'button', class: 'btn-link btn-clear', hidden: true }, t('clear'));
          clearBtn.addEventListener('click', () => { w.set(undefined); this.change(ptr, undefined, true); });
          w.clearBtn = clearBtn;
        }
        w.set = (v) => {
          let any = false;
          let at = -1;
          choices.forEach((c, i) => { inputs[i].checked = v !== undefined && same(c.value, v); if (inputs[i].checked) at = i; });
          if (clearBtn) clearBtn.hidden = at < 0;
          if (w.likertChosen) w.likertChosen.textContent = at < 0 ? '' : `${w.likertNumbers[at]} — ${w.likertLabels[at]}`;
        };
        w.el = el('fieldset', { class: `q q-${q.kind}` }, el('legend', { class: 'q-title' }, title, req), helpEl, box, clearBtn, w.errEl);
        return this.register(w);
      }
      case 'multiple_choice': {
        const choices = q.choices || [];
        const max = schema.maxItems;
        const min = schema.minItems;
        const inputs = choices.map((c, i) => describe(el('input', { type: 'checkbox', name: id, value: String(i), id: `${id}-${i}` })));
        const limits = el('p', { class: 'q-hint' },
          [min > 1 ? t('min_choices', { min }) : null, max ? t('max_choices', { max }) : null].filter(Boolean).join(' · '));
        const current = () => choices.filter((c, i) => inputs[i].checked).map((c) => c.value);
        const enforceMax = () => {
          if (!max) return;
          const n = inputs.filter((i) => i.checked).length;
          inputs.forEach((i) => { i.disabled = !i.checked && n >= max; });
        };
        inputs.forEach((input) => input.addEventListener('change', () => {
          enforceMax();
          const v = current();
          this.change(ptr, v.length ? v : undefined, true);
        }));
        w.set = (v) => {
          const arr = Array.isArray(v) ? v : [];
          choices.forEach((c, i) => { inputs[i].checked = arr.some((x) => same(x, c.value)); });
          enforceMax();
        };
        w.el = el('fieldset', { class: 'q q-multiple' }, el('legend', { class: 'q-title' }, title, req), helpEl,
          limits.textContent ? limits : null,
          el('div', { class: 'choices checks' },
            ...choices.map((c, i) => el('label', { class: 'choice', for: `${id}-${i}` }, inputs[i], el('span', {}, choiceLabel(c, lang))))),
          w.errEl);
        return this.register(w);
      }
      case 'geopoint':
        return renderGeopoint(this, q, ptr, parent, { id, title, req, helpEl, describe });
      case 'photo':
        return this.renderPhoto(q, ptr, parent, { id, title, req, helpEl, describe });
      default:
        return this.renderInput(q, ptr, parent, { id, title, req, helpEl, describe });
    }
  }

  renderInput(q, ptr, parent, { id, title, req, helpEl, describe }) {
    const w = { q, ptr, parent, controls: [] };
    w.errEl = el('div', { class: 'q-error', id: `${id}-err`, 'aria-live': 'polite' });
    const schema = q.schema || {};
    let input;
    let counter = null;
    const attrs = { id, name: id, class: 'input' };
    switch (q.kind) {
      case 'long_text':
        input = el('textarea', { ...attrs, rows: '4' });
        break;
      case 'integer':
        input = el('input', { ...attrs, type: 'number', inputmode: 'numeric', step: '1', min: schema.minimum, max: schema.maximum });
        break;
      case 'number':
        input = el('input', { ...attrs, type: 'number', inputmode: 'decimal', step: 'any', min: schema.minimum, max: schema.maximum });
        break;
      case 'date':
        input = el('input', { ...attrs, type: 'date' });
        break;
      case 'time':
        input = el('input', { ...attrs, type: 'time' });
        break;
      case 'date_time':
        input = el('input', { ...attrs, type: 'datetime-local' });
        break;
      default: {
        let type = 'text';
        let inputmode = null;
        let autocomplete = 'off';
        if (schema.format === 'email') { type = 'email'; inputmode = 'email'; }
        else if (/tel|phone/i.test(q.key)) { type = 'tel'; inputmode = 'tel'; }
        input = el('input', { ...attrs, type, inputmode, autocomplete, spellcheck: type === 'text' ? null : 'false' });
      }
    }
    describe(input);
    w.controls = [input];
    if ((q.kind === 'short_text' || q.kind === 'long_text') && schema.maxLength) {
      input.maxLength = schema.maxLength;
      counter = el('p', { class: 'q-counter', 'aria-live': 'off' });
      input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby')} ${id}-count`);
      counter.id = `${id}-count`;
    }
    const updateCounter = () => {
      if (counter) counter.textContent = t('chars', { n: input.value.length, max: schema.maxLength });
    };
    const read = () => {
      const raw = input.value;
      switch (q.kind) {
        case 'integer':
        case 'number': {
          if (raw === '') return undefined;
          const n = Number(raw);
          return Number.isFinite(n) ? n : undefined;
        }
        case 'date_time':
          return localToRfc3339(raw);
        case 'time':
          return raw ? raw.slice(0, 5) : undefined;
        default:
          return raw === '' ? undefined : raw;
      }
    };
    const isText = ['short_text', 'long_text', 'integer', 'number'].includes(q.kind);
    input.addEventListener('input', () => {
      updateCounter();
      this.change(ptr, read(), !isText);
    });
    input.addEventListener('change', () => this.change(ptr, read(), true));
    w.set = (v) => {
      if (q.kind === 'date_time') input.value = rfc3339ToLocal(v);
      else input.value = v === undefined || v === null ? '' : String(v);
      updateCounter();
    };
    w.el = el('div', { class: `q q-${q.kind}` }, el('label', { for: id, class: 'q-title' }, label(q, this.qLang), req), helpEl, input, counter, w.errEl);
    return this.register(w);
  }

  renderPhoto(q, ptr, parent, { id, title, req, helpEl, describe }) {
    const w = { q, ptr, parent, controls: [] };
    w.errEl = el('div', { class: 'q-error', id: `${id}-err`, 'aria-live': 'polite' });
    const input = describe(el('input', { type: 'file', id, name: id, accept: 'image/*', capture: 'environment', class: 'sr-only file-input' }));
    const btnText = el('span', {}, t('photo_take'));
    const btn = el('label', { for: id, class: 'btn btn-secondary btn-photo', 'aria-hidden': 'true' }, cameraIcon(), btnText);
    w.controls = [input];
    const thumb = el('img', { class: 'thumb', alt: t('photo_alt'), hidden: true });
    const status = el('p', { class: 'photo-status', role: 'status' });
    const failed = el('p', { class: 'photo-error', role: 'alert' });
    const clearBtn = el('button', { type: 'button', class: 'btn-link', hidden: true }, t('clear'));
    let url = null;
    let shown = null;
    const showThumb = (blob) => {
      if (url) URL.revokeObjectURL(url);
      url = blob ? URL.createObjectURL(blob) : null;
      thumb.hidden = !url;
      if (url) thumb.src = url; else thumb.removeAttribute('src');
    };
    w.set = async (v) => {
      clearBtn.hidden = !v;
      btnText.textContent = v ? t('photo_retake') : t('photo_take');
      if (v === shown) return;
      shown = v;
      thumb.dataset.ref = v || '';
      if (!v) { showThumb(null); return; }
      try {
        const p = await this.client.getPhoto(v);
        if (shown !== v) return;
        showThumb(p ? new Blob([p.bytes], { type: p.mime || 'image/jpeg' }) : null);
      } catch (_) { showThumb(null); }
    };
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (!file) return;
      status.textContent = t('photo_busy');
      failed.textContent = '';
      let stage = 'read';
      try {
        const { blob, bytes, mime } = await downscale(file);
        stage = 'store';
        const ref = await this.client.putPhoto(bytes, mime);
        shown = ref;
        thumb.dataset.ref = ref;
        showThumb(blob);
        clearBtn.hidden = false;
        btnText.textContent = t('photo_retake');
        status.textContent = '';
        this.change(ptr, ref, true);
      } catch (e) {
        console.error(e);
        status.textContent = '';
        // An image the phone cannot read is not a photo the phone cannot keep.
        failed.textContent = stage === 'read' ? t('photo_failed') : t('photo_store_failed', { message: msg(e) });
      } finally {
        input.value = '';
      }
    });
    clearBtn.addEventListener('click', () => { w.set(undefined); this.change(ptr, undefined, true); });
    w.el = el('div', { class: 'q q-photo' }, el('label', { for: id, class: 'q-title' }, title, req), helpEl,
      input, el('div', { class: 'row' }, btn, clearBtn), status, failed, thumb, w.errEl);
    return this.register(w);
  }

  renderRepeat(q, ptr, parent, { id, title, req, helpEl }) {
    const w = { q, ptr, parent, controls: [] };
    const schema = q.schema || {};
    const hid = `${id}-h`;
    w.errEl = el('div', { class: 'q-error', id: `${id}-err`, 'aria-live': 'polite' });
    const items = el('div', { class: 'repeat-items' });
    const add = el('button', { type: 'button', class: 'btn btn-secondary btn-add' }, '+ ', t('repeat_add'), el('span', { class: 'sr-only' }, ` : ${title}`));
    let count = -1;
    const renderItems = () => {
      // forget the widgets of the old items
      for (const key of [...this.widgets.keys()]) {
        if (key.startsWith(`${ptr}/`)) this.widgets.delete(key);
      }
      clear(items);
      const arr = getAt(this.answers, ptr);
      count = Array.isArray(arr) ? arr.length : 0;
      for (let i = 0; i < count; i += 1) {
        const iptr = join(ptr, i);
        const ih = `${id}-${i}-h`;
        const remove = el('button', { type: 'button', class: 'btn-link btn-remove' }, t('repeat_remove', { n: i + 1 }));
        remove.addEventListener('click', () => {
          if (!window.confirm(t('repeat_remove_confirm', { n: i + 1 }))) return;
          const a = getAt(this.answers, ptr);
          if (!Array.isArray(a)) return;
          a.splice(i, 1);
          if (a.length === 0) deleteAt(this.answers, ptr);
          for (const k of [...this.touched]) if (k.startsWith(`${ptr}/`)) this.touched.delete(k);
          renderItems();
          this.change(ptr, getAt(this.answers, ptr), true, { keep: true });
        });
        const body = el('div', { class: 'repeat-body' });
        const item = el('div', { class: 'repeat-item', role: 'group', 'aria-labelledby': ih },
          el('div', { class: 'repeat-item-head' }, el('h3', { id: ih }, t('repeat_item', { title, n: i + 1 })), remove), body);
        this.renderList(q.children || [], iptr, body, w);
        items.append(item);
      }
      for (const [key, cw] of this.widgets) if (key.startsWith(`${ptr}/`)) cw.set(getAt(this.answers, key));
      add.disabled = schema.maxItems !== undefined && count >= schema.maxItems;
    };
    add.addEventListener('click', () => {
      let a = getAt(this.answers, ptr);
      if (!Array.isArray(a)) { a = []; setAt(this.answers, ptr, a); }
      a.push({});
      renderItems();
      this.change(ptr, a, true, { keep: true });
      const first = items.lastElementChild?.querySelector('input, select, textarea');
      first?.focus();
    });
    w.set = (v) => {
      const n = Array.isArray(v) ? v.length : 0;
      if (n !== count) renderItems();
    };
    w.el = el('section', { class: 'q repeat', 'aria-labelledby': hid },
      el('h2', { id: hid, class: 'section-title' }, title, req), helpEl, w.errEl, items, add);
    this.register(w);
    renderItems();
    return w;
  }

  // -------------------------------------------------------------------------------------------
  // Changes, skip logic, saving and errors

  /** Records an answer (`undefined` removes it) and schedules the refresh: now for a click, a
   * little later while typing. */
  change(ptr, value, now, { keep = false } = {}) {
    // The undo notice lasts until the next change. What an undo of this change would put
    // back: the answer as it was before it.
    this.undo.hide();
    if (!keep) {
      if (!this.before.has(ptr)) this.before.set(ptr, structuredClone(getAt(this.answers, ptr)));
      this.lastChanged = ptr;
    }
    if (!keep) {
      if (value === undefined) deleteAt(this.answers, ptr);
      else setAt(this.answers, ptr, value);
    }
    // Adding or removing a repeat item touches no question: its new empty questions only
    // show their errors once answered (or at "Terminer").
    if (!keep) this.touched.add(ptr);
    this.saveStatus.textContent = '';
    clearTimeout(this.timer);
    if (now) this.schedule();
    else this.timer = setTimeout(() => this.schedule(), 350);
  }

  /** Runs a refresh after the running one; several changes in a row share one refresh. */
  schedule(opts = {}) {
    if (this.pending) return this.pending;
    const run = this.queue.then(async () => {
      this.pending = null;
      await this.refresh(opts);
    });
    this.pending = run;
    this.queue = run.catch((e) => this.saveFailed(e));
    return run;
  }

  /** Saves what was typed so far, now. */
  async flush() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; await this.schedule(); }
    await this.queue;
  }

  async refresh({ save = true } = {}) {
    const { slug, version } = this.q;
    const { before, lastChanged } = this;
    this.before = new Map();
    const dropped = [];
    let visible = new Set();
    for (let round = 0; round < 8; round += 1) {
      visible = new Set(await this.client.visible(slug, version, this.answers));
      if (!this.applyVisibility(visible, dropped)) break;
      save = true;
    }
    // A draft, and the correction of a refused response, are saved as they are typed.
    if (save && (this.editingDraft || this.state === 'rejected') && !this.closed) {
      this.response.answers = this.answers;
      try {
        if (this.editingDraft) await this.client.saveDraft(this.response);
        else await this.client.saveCorrection(this.response);
        this.saveStatus.textContent = `✓ ${t('saved')}`;
        if (this.saveError) { this.saveError = null; this.renderSaveAlert(); }
      } catch (e) {
        this.saveFailed(e);
      }
    }
    this.errors = await this.client.validate(slug, version, this.answers);
    this.renderErrors();
    this.renderProgress();
    this.pager?.update();
    // Only a change the interviewer made (not a redraw or a reopened draft) offers its undo:
    // the last change of the batch is the one that hid them (a tap refreshes at once).
    if (dropped.length && before.has(lastChanged) && !this.closed) {
      const titles = [...new Set(dropped.flatMap((d) => d.titles))];
      const undo = { ptr: lastChanged, value: before.get(lastChanged), dropped };
      this.undo.show(titles, (back) => this.restore(undo, back), this.widgets.get(lastChanged)?.el);
    }
  }

  /** Undo: the changed answer as it was before, and the answers its change cleared, shown
   * and saved again. */
  async restore({ ptr, value, dropped }, back) {
    await this.flush();
    if (this.closed) return;
    if (value === undefined) deleteAt(this.answers, ptr); else setAt(this.answers, ptr, structuredClone(value));
    for (const d of dropped) setAt(this.answers, d.ptr, structuredClone(d.value));
    this.before = new Map();
    for (const w of [...this.widgets.values()]) w.set(getAt(this.answers, w.ptr));
    await this.schedule();
    if (back?.isConnected && !back.closest('[hidden]')) back.focus();
    toast(t('undo_done'));
  }

  /** Shows or hides each question; drops the answers of hidden ones (pushed on `dropped`:
   * pointer, answer, and the titles of the questions answered). True if any was dropped. */
  applyVisibility(visible, dropped = []) {
    let any = false;
    for (const w of this.widgets.values()) {
      const parentShown = w.parent ? w.parent.shown : true;
      const shown = parentShown && (!w.q.visible_if || visible.has(w.ptr));
      w.shown = shown;
      w.el.hidden = !shown;
      if (!shown && getAt(this.answers, w.ptr) !== undefined) {
        // what is cleared, by question: the question itself, or those answered inside it
        const inside = [...this.widgets.values()].filter((cw) => cw.ptr.startsWith(`${w.ptr}/`)
          && LEAF_KINDS.has(cw.q.kind) && getAt(this.answers, cw.ptr) !== undefined);
        const titles = (inside.length ? inside : [w]).map((cw) => label(cw.q, this.qLang));
        dropped.push({ ptr: w.ptr, value: getAt(this.answers, w.ptr), titles });
        deleteAt(this.answers, w.ptr);
        this.touched.delete(w.ptr);
        for (const [k, cw] of this.widgets) if (k === w.ptr || k.startsWith(`${w.ptr}/`)) cw.set(undefined);
        any = true;
      }
    }
    return any;
  }

  /** The last save failed: the answers on screen are not on the phone. Said as an error,
   * with a way to take them away in a backup file. */
  saveFailed(e) {
    console.error(e);
    this.saveError = e;
    this.saveStatus.textContent = '';
    this.renderSaveAlert();
  }

  renderSaveAlert() {
    const box = this.saveAlert;
    clear(box);
    box.hidden = !this.saveError;
    if (!this.saveError) return;
    const backup = el('button', { type: 'button', class: 'btn btn-secondary btn-small' }, '⬇ ', t('save_failed_backup'));
    backup.addEventListener('click', () => this.backup().catch((e) => toast(msg(e), 'error')));
    // Short: it sits in the sticky header, above the questions still to answer.
    box.append(el('strong', {}, t(isStorageError(this.saveError) ? 'save_failed_title' : 'save_failed_other')),
      el('p', {}, t('save_failed_help')), backup,
      el('details', {}, el('summary', {}, t('save_failed_details')), el('p', {}, msg(this.saveError))));
  }

  /** Downloads this response as it is on screen; resolves to the file's name. */
  async backup() {
    const file = await downloadResponseBackup(this.client, {
      response: { ...this.response, answers: this.answers }, state: this.state, errors: this.serverErrors,
    });
    toast(t('backup_done', { file }));
    return file;
  }

  isTouched(path) {
    if (this.showAll) return true;
    for (const p of this.touched) {
      if (path === p || path.startsWith(`${p}/`)) return true;
    }
    return false;
  }

  widgetFor(path) {
    let p = path.startsWith('/answers/') ? path.slice('/answers'.length) : path;
    while (p) {
      const w = this.widgets.get(p);
      if (w) return w;
      p = p.slice(0, p.lastIndexOf('/'));
    }
    return null;
  }

  /** The text of error `e` on widget `w`: when the answer breaks one of the question's rules
   * (range, pattern, length, number of choices), the questionnaire's own `x-error-message`
   * in its language if it has one; a pattern is never shown as its regular expression. */
  errorText(e, w) {
    if (RULE_CODES.has(e.code)) {
      const schema = w.q.schema || {};
      const own = schema['x-i18n']?.[this.qLang]?.error_message ?? schema['x-error-message'];
      if (typeof own === 'string' && own.trim()) return own;
      if (e.code === 'pattern' && /\(motif |\(pattern /.test(`${e.message} ${e.message_en}`)) return t('pattern_error');
    }
    return msg(e);
  }

  renderErrors() {
    const byWidget = new Map();
    const general = [];
    for (const e of this.errors) {
      const w = this.widgetFor(e.path || '');
      if (w && w.shown !== false) {
        if (!this.isTouched(w.ptr) && !this.isTouched(e.path || '')) continue;
        if (!byWidget.has(w)) byWidget.set(w, []);
        byWidget.get(w).push(this.errorText(e, w));
      } else if (this.showAll) {
        general.push(msg(e));
      }
    }
    for (const w of this.widgets.values()) {
      const list = byWidget.get(w);
      clear(w.errEl);
      w.el.classList.toggle('has-error', !!list);
      for (const c of w.controls) {
        if (list) c.setAttribute('aria-invalid', 'true'); else c.removeAttribute('aria-invalid');
      }
      if (list) for (const m of [...new Set(list)]) w.errEl.append(el('p', {}, m));
    }
    clear(this.generalErrors);
    this.generalErrors.hidden = general.length === 0;
    if (general.length) {
      this.generalErrors.append(el('p', { class: 'general-title' }, t('general_errors')),
        el('ul', {}, ...[...new Set(general)].map((m) => el('li', {}, m))));
    }
  }

  renderProgress() {
    let total = 0;
    let done = 0;
    for (const w of this.widgets.values()) {
      if (!w.shown || !LEAF_KINDS.has(w.q.kind)) continue;
      total += 1;
      if (getAt(this.answers, w.ptr) !== undefined) done += 1;
    }
    this.progressText.textContent = t('progress', { done, total });
    this.progressBar.setAttribute('aria-valuemax', String(total));
    this.progressBar.setAttribute('aria-valuenow', String(done));
    this.progressBar.setAttribute('aria-label', t('progress', { done, total }));
    this.progressBar.firstChild.style.width = `${total ? (100 * done) / total : 0}%`;
  }

  /** Validates and completes the response (or resends a refused one); `next`: then opens a
   * new response to the same questionnaire. */
  async finish({ next = false } = {}) {
    this.finishBtn.disabled = true;
    if (this.nextBtn) this.nextBtn.disabled = true;
    try {
      await this.flush();
      this.showAll = true;
      const { slug, version } = this.q;
      this.errors = await this.client.validate(slug, version, this.answers);
      if (this.errors.length === 0) {
        this.response.answers = this.answers;
        const res = this.editingDraft
          ? await this.client.complete(this.response)
          : await this.client.resubmit(this.response);
        if (res && res.ok) {
          this.destroy();
          this.onClose(this.editingDraft ? t('finish_done') : t('resend_done'), { sync: true, next });
          return;
        }
        this.errors = (res && res.errors) || [];
      }
      this.renderErrors();
      this.renderProgress();
      toast(t('finish_errors', { n: this.errors.length }), 'error');
      this.pager?.showFirstError();
      const scope = this.pager ? this.pager.screens[this.pager.current]?.el ?? this.root : this.root;
      const first = scope.querySelector('.has-error:not([hidden])') || (this.generalErrors.hidden ? null : this.generalErrors);
      if (first) {
        first.scrollIntoView({ block: 'center' });
        const c = first.querySelector('input, select, textarea, button');
        c?.focus({ preventScroll: true });
      }
    } catch (e) {
      console.error(e);
      if (isStorageError(e)) this.saveFailed(e);
      toast(t('save_failed', { message: msg(e) }), 'error');
    } finally {
      this.finishBtn.disabled = false;
      if (this.nextBtn) this.nextBtn.disabled = false;
    }
  }

  /** Leaves the screen after the last save; when it failed, asks first (stay, download a
   * backup, or leave). Resolves true once left. */
  async close() {
    try {
      await this.flush();
    } catch (e) {
      this.saveFailed(e);
    }
    if (this.saveError && !(await askBeforeLeaving(() => this.backup()))) {
      this.schedule(); // staying: try to save again
      return false;
    }
    this.destroy();
    this.onClose();
    return true;
  }
}
