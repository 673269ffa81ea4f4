// The questionnaire builder: a coordinator writes a questionnaire without writing JSON.
// Questions of every kind are added, edited (labels and help in each language, choices one
// per line, required, limits, skip logic built by picking, personal data), reordered (drag,
// or the ↑ ↓ buttons from the keyboard), duplicated and removed; a JSON view shows the
// document and takes edits, with errors by path as one types. Every valid change is saved on
// the server (with the revision it was based on: a second editor is told, never overwritten),
// and the live preview beside it is the phone's own renderer over client-core (wasm).

import { el, clear } from '/app/dom.js';
import { FillScreen } from '/app/form.js';
import { api, ApiError } from './api.js';
import { t, msg, formatDate } from './i18n.js';
import {
  KINDS, KEY_PATTERN, template, kindOf, questionsOf, hasQuestions, choicesOf, hasChoices, labelOf,
  setLabel, keyFrom, setChoicesFromLines, setChoiceTranslations, move, moveBefore, rename, isRequired,
  setRequired, remove, duplicate, testable,
} from './doc.js';

let wasm = null;
/**
 * client-core compiled to wasm, loaded once: the console's build (/app/pkg/parole_wasm_full.js,
 * with `jsonschema`, which checks documents against the format's meta-schema; the phone's
 * build leaves it out to stay light).
 */
async function loadWasm() {
  if (!wasm) {
    const mod = await import('/app/pkg/parole_wasm_full.js');
    await mod.default();
    wasm = mod;
  }
  return wasm;
}

let idCounter = 0;
const newId = (p = 'b') => `${p}${(idCounter += 1)}`;

/** Ops offered for a tested question, by its kind. */
function opsFor(kind) {
  switch (kind) {
    case 'single_choice': case 'single_choice_list': return ['is', 'is_not', 'answered'];
    case 'multiple_choice': return ['includes', 'not_includes', 'answered'];
    case 'boolean': return ['is', 'answered'];
    case 'integer': case 'number': case 'likert': return ['is', 'is_not', 'ge', 'gt', 'le', 'lt', 'answered'];
    default: return ['is', 'is_not', 'answered'];
  }
}

/** The builder of questionnaire `slug`, drawn into `root`. */
export async function showBuilder(root, slug, { canEdit }) {
  const wasmMod = await loadWasm();
  const detail = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(slug)}`);
  const b = new Builder(root, wasmMod, slug, detail, canEdit);
  b.render();
  return b;
}

class Builder {
  constructor(root, wasmMod, slug, detail, canEdit) {
    this.root = root;
    this.wasm = wasmMod;
    this.slug = slug;
    this.doc = detail.draft;
    this.revision = detail.draft_revision ?? null;
    this.versions = detail.versions || [];
    this.canEdit = canEdit;
    this.view = 'builder';
    this.open = new Set(); // pointers of the questions whose editor is open
    this.saveTimer = null;
    this.saving = Promise.resolve();
    this.previewAnswers = {};
    this.errors = [];
  }

  get langs() {
    return this.doc['x-languages']?.length ? this.doc['x-languages'] : ['fr'];
  }

  render() {
    const r = this.root;
    if (this.view === 'follow') this.preview?.destroy();
    clear(r);
    this.status = el('p', { class: 'save-line', role: 'status', 'aria-live': 'polite' });
    this.conflict = el('div', { class: 'conflict', role: 'alert', hidden: true });
    this.errorBox = el('div', { class: 'doc-errors', 'aria-live': 'polite' });
    const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': t('b_views') },
      ...['builder', 'json', 'follow'].map((v) => {
        const btn = el('button', { type: 'button', class: 'btn btn-small tab', 'aria-pressed': String(this.view === v) }, t(`b_view_${v}`));
        btn.addEventListener('click', () => { this.view = v; this.render(); });
        return btn;
      }));
    const back = el('a', { href: '#/questionnaires' }, t('b_back'));
    this.publishBox = el('div', { class: 'publish-box', 'aria-live': 'polite' });
    const publish = el('button', { type: 'button', class: 'btn btn-primary btn-publish', hidden: !this.canEdit }, t('p_publish'));
    publish.addEventListener('click', () => this.reviewChanges());
    r.append(el('p', {}, back),
      el('div', { class: 'builder-head' },
        el('h1', {}, t('b_title', { title: this.doc.title || this.slug })),
        el('p', { class: 'muted' }, `${this.slug} · ${this.versions.length ? t('b_published_n', { n: this.versions.length }) : t('status_draft')}`),
        el('div', { class: 'row' }, tabs, publish), this.status, this.conflict, this.errorBox, this.publishBox,
        this.versionsPanel()));
    this.body = el('div', { class: 'builder-body' });
    this.previewBox = el('section', { class: 'preview', 'aria-labelledby': 'preview-title' },
      el('h2', { id: 'preview-title' }, t('b_preview')),
      el('div', { class: 'phone' }));
    r.append(el('div', { class: 'builder-cols' }, this.body, this.previewBox));
    if (this.view === 'follow') {
      this.renderFollow();
      return;
    }
    if (this.view === 'json') this.renderJson();
    else this.renderBuilder();
    this.check();
    this.renderPreview();
  }

  // ----------------------------------------------------------------- saving and checking

  /** The document's errors by path, now (client-core's own check). */
  check() {
    this.errors = this.wasm.checkQuestionnaire(this.doc);
    clear(this.errorBox);
    if (this.errors.length) {
      this.errorBox.append(el('div', { class: 'banner banner-error' },
        el('strong', {}, t('b_errors', { n: this.errors.length })),
        el('ul', {}, ...this.errors.slice(0, 20).map((e) => el('li', {}, el('code', {}, e.path || '/'), ' ', msg(e))))));
    }
    return this.errors.length === 0;
  }

  /** After every edit: check, show, save (when valid) after a short pause, refresh the preview. */
  changed({ redraw = false } = {}) {
    const ok = this.check();
    if (redraw) this.renderBuilder();
    if (!ok) {
      this.status.textContent = t('b_not_saved_errors');
      return;
    }
    this.status.textContent = t('b_saving');
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => { this.saving = this.save(); }, 500);
    this.renderPreview();
  }

  async save() {
    const body = { document: this.doc };
    if (this.revision !== null) body.base_revision = this.revision;
    try {
      const r = await api('PUT', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}/draft`, body);
      if (r && typeof r.revision === 'number') this.revision = r.revision;
      this.status.textContent = t('b_saved');
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        this.status.textContent = t('b_not_saved');
        clear(this.conflict);
        const reload = el('button', { type: 'button', class: 'btn btn-small btn-secondary' }, t('b_reload'));
        reload.addEventListener('click', async () => {
          const detail = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}`);
          this.doc = detail.draft;
          this.revision = detail.draft_revision ?? null;
          this.conflict.hidden = true;
          this.render();
        });
        this.conflict.append(el('p', {}, msg(e.body) || t('b_conflict')), reload);
        this.conflict.hidden = false;
      } else {
        this.status.textContent = `${t('b_not_saved')} ${e instanceof ApiError ? msg(e.body) : t('network_error')}`;
      }
    }
  }

  /** Waits for the save in progress, if any (before publishing). */
  async flush() {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      if (this.check()) await this.save();
    }
    await this.saving;
  }

  // ----------------------------------------------------------------- publishing

  /** What publishing the draft would change, then a confirmation (or why it is refused). */
  async reviewChanges() {
    await this.flush();
    clear(this.publishBox);
    if (!this.check()) return;
    let review = null;
    try {
      review = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}/changes`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    const items = (list) => el('ul', {}, ...list.map((c) => el('li', {}, msg(c))));
    const panel = el('section', { class: 'card publish-review', 'aria-labelledby': 'publish-title' },
      el('h2', { id: 'publish-title', tabindex: '-1' }, t('p_review_title', { n: this.versions.length + 1 })));
    if (review?.breaking?.length) {
      panel.append(el('div', { class: 'banner banner-error', role: 'alert' }, el('strong', {}, t('p_breaking')), items(review.breaking)));
    } else if (review && review.base_version !== null && review.base_version !== undefined) {
      panel.append(review.changes.length
        ? el('div', {}, el('p', {}, t('p_changes_since', { n: review.base_version })), items(review.changes))
        : el('p', {}, t('p_no_changes', { n: review.base_version })));
    } else {
      panel.append(el('p', {}, t('p_first')));
    }
    const confirm = el('button', { type: 'button', class: 'btn btn-primary', disabled: !!review?.breaking?.length }, t('p_confirm'));
    const cancel = el('button', { type: 'button', class: 'btn btn-ghost' }, t('p_cancel'));
    cancel.addEventListener('click', () => clear(this.publishBox));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      try {
        const r = await api('POST', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}/publish`, {});
        clear(this.publishBox);
        const detail = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}`);
        this.versions = detail.versions || [];
        this.render();
        this.publishBox.append(el('p', { class: 'banner published', role: 'status' }, t('p_done', { n: r.version })));
      } catch (e) {
        const errs = e.body?.errors || [];
        panel.append(el('div', { class: 'banner banner-error', role: 'alert' },
          el('strong', {}, msg(e.body) || String(e)), errs.length ? items(errs) : null));
      }
    });
    panel.append(el('div', { class: 'row' }, confirm, cancel));
    this.publishBox.append(panel);
    panel.querySelector('h2').focus();
  }

  /** The published versions, each retirable with a reason. */
  versionsPanel() {
    if (!this.versions.length) return null;
    const rows = this.versions.map((v) => {
      const cell = el('td', {});
      if (v.revoked_at) {
        cell.append(el('span', { class: 'pill pill-off' }, t('p_retired_on', { date: formatDate(v.revoked_at) })),
          v.revoked_reason ? el('div', { class: 'small muted' }, v.revoked_reason) : null);
      } else if (this.canEdit) {
        const id = newId();
        const reason = el('input', { id, autocomplete: 'off' });
        const go = el('button', { type: 'submit', class: 'btn btn-small btn-ghost' }, t('p_retire'));
        const form = el('form', { class: 'inline-form' },
          el('div', { class: 'field' }, el('label', { for: id }, t('p_retire_reason', { n: v.version })), reason), go);
        form.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          await api('POST', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}/versions/${v.version}/retire`, { reason: reason.value });
          const detail = await api('GET', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}`);
          this.versions = detail.versions || [];
          this.render();
        });
        cell.append(form);
      } else {
        cell.append(t('p_live'));
      }
      return el('tr', { 'data-version': String(v.version) },
        el('th', { scope: 'row' }, t('version_n', { n: v.version })),
        el('td', {}, formatDate(v.published_at)), cell);
    });
    return el('details', { class: 'card versions' },
      el('summary', {}, t('p_versions', { n: this.versions.length })),
      el('table', { class: 'data' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, t('p_version')), el('th', { scope: 'col' }, t('p_published_on')), el('th', { scope: 'col' }, t('p_state')))),
        el('tbody', {}, rows)));
  }

  // ----------------------------------------------------------------- following the collection

  /** Responses per day and per interviewer, the median duration, what is stuck. */
  async renderFollow() {
    this.previewBox.hidden = true;
    clear(this.body);
    const [c, { devices }] = await Promise.all([
      api('GET', `/api/v1/questionnaires/${encodeURIComponent(this.slug)}/collection`),
      api('GET', '/api/v1/devices'),
    ]);
    const refused = devices.filter((d) => !d.revoked_at).reduce((n, d) => n + (d.device_state?.rejected || 0), 0);
    const minutes = c.median_duration_s === null ? t('never')
      : t('f_minutes', { m: Math.floor(c.median_duration_s / 60), s: String(Math.round(c.median_duration_s % 60)).padStart(2, '0') });
    const figure = (label, value, cls = '') => el('div', { class: `count ${cls}` },
      el('div', { class: 'count-n' }, String(value)), el('div', { class: 'count-label' }, label));
    this.body.append(el('div', { class: 'counts follow-counts' },
      figure(t('f_total'), c.total),
      figure(t('f_median'), minutes),
      figure(t('f_waiting_photos'), c.waiting_for_photos, c.waiting_for_photos ? 'c-warn' : ''),
      figure(t('f_refused'), refused, refused ? 'c-rejected' : '')));
    const max = Math.max(1, ...c.per_day.map((d) => d.responses));
    const bar = (n) => el('span', { class: 'bar', style: `width:${Math.round((n / max) * 100)}%`, 'aria-hidden': 'true' });
    this.body.append(el('h2', {}, t('f_per_day')), c.per_day.length
      ? el('table', { class: 'data follow-days' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('f_day')), el('th', { scope: 'col' }, t('f_responses')))),
        el('tbody', {}, c.per_day.map((d) => el('tr', {},
          el('th', { scope: 'row' }, formatDay(d.day)),
          el('td', {}, el('span', { class: 'bar-wrap' }, bar(d.responses)), ` ${d.responses}`)))))
      : el('p', { class: 'muted' }, t('responses_none')));
    this.body.append(el('h2', {}, t('f_per_interviewer')), c.per_interviewer.length
      ? el('table', { class: 'data follow-interviewers' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, t('col_interviewer')), el('th', { scope: 'col' }, t('f_responses')),
          el('th', { scope: 'col' }, t('f_last')))),
        el('tbody', {}, c.per_interviewer.map((i) => el('tr', {},
          el('th', { scope: 'row' }, i.name), el('td', {}, String(i.responses)), el('td', {}, formatDate(i.last_received_at))))))
      : el('p', { class: 'muted' }, t('responses_none')));
    this.body.append(el('p', { class: 'small muted' }, t('f_refused_help')));
  }

  // ----------------------------------------------------------------- the JSON view

  renderJson() {
    clear(this.body);
    const id = newId('json');
    const area = el('textarea', { id, class: 'json', spellcheck: 'false', rows: 30, readonly: !this.canEdit });
    area.value = JSON.stringify(this.doc, null, 2);
    const syntax = el('p', { class: 'form-error', role: 'alert' });
    let timer = null;
    area.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        syntax.textContent = '';
        let parsed;
        try {
          parsed = JSON.parse(area.value);
        } catch (e) {
          syntax.textContent = t('b_json_syntax', { error: e.message });
          this.status.textContent = t('b_not_saved_errors');
          return;
        }
        this.doc = parsed;
        this.changed();
      }, 300);
    });
    this.body.append(el('label', { for: id, class: 'json-label' }, t('b_json_label')), area, syntax);
  }

  // ----------------------------------------------------------------- the builder view

  renderBuilder() {
    if (this.view !== 'builder') return;
    const focused = document.activeElement?.dataset?.focus;
    clear(this.body);
    this.body.append(this.settingsCard());
    this.body.append(this.questionList(this.doc, '', this.doc));
    if (focused) this.body.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
  }

  /** A text input bound to a label of `node`, one per language. */
  labelInputs(node, field, labelKey, { multiline = false, focusKey } = {}) {
    const def = this.langs[0];
    return this.langs.map((lang) => {
      const id = newId();
      const attrs = { id, lang, readonly: !this.canEdit, 'data-focus': `${focusKey}:${field}:${lang}` };
      const input = multiline ? el('textarea', { ...attrs, rows: 2 }) : el('input', attrs);
      input.value = labelOf(node, field, lang, def);
      input.addEventListener('input', () => {
        setLabel(node, field, lang, def, input.value);
        this.changed();
      });
      const text = this.langs.length > 1 ? `${t(labelKey)} (${lang.toUpperCase()})` : t(labelKey);
      return el('div', { class: 'field' }, el('label', { for: id }, text), input);
    });
  }

  settingsCard() {
    const id = newId();
    const langs = el('input', { id, value: this.langs.join(', '), readonly: !this.canEdit, 'data-focus': 'langs' });
    langs.addEventListener('change', () => {
      const list = langs.value.split(/[\s,;]+/).map((l) => l.trim().toLowerCase()).filter(Boolean);
      if (list.length) this.doc['x-languages'] = [...new Set(list)];
      this.changed({ redraw: true });
    });
    const layoutId = newId();
    const layout = el('select', { id: layoutId, disabled: !this.canEdit },
      el('option', { value: 'page', selected: this.doc['x-layout'] !== 'sections' }, t('b_layout_page')),
      el('option', { value: 'sections', selected: this.doc['x-layout'] === 'sections' }, t('b_layout_sections')));
    layout.addEventListener('change', () => {
      if (layout.value === 'sections') this.doc['x-layout'] = 'sections';
      else delete this.doc['x-layout'];
      this.changed();
    });
    return el('details', { class: 'card settings', open: !Object.keys(this.doc.properties || {}).length },
      el('summary', {}, t('b_settings')),
      ...this.labelInputs(this.doc, 'title', 'b_q_title', { focusKey: 'root' }),
      ...this.labelInputs(this.doc, 'description', 'b_q_intro', { multiline: true, focusKey: 'root' }),
      el('div', { class: 'field' }, el('label', { for: id }, t('b_languages')), langs,
        el('p', { class: 'small muted' }, t('b_languages_help'))),
      el('div', { class: 'field' }, el('label', { for: layoutId }, t('b_layout')), layout));
  }

  /** The questions of `container` (root, section or repeat), with the "add" row under them. */
  questionList(container, basePtr, scope) {
    const parent = questionsOf(container);
    const list = el('ol', { class: 'qlist' });
    const keys = Object.keys(parent.properties);
    keys.forEach((key, i) => list.append(this.questionItem(parent, key, i, keys.length, basePtr, scope)));
    const wrap = el('div', { class: 'qlist-wrap' }, list);
    if (this.canEdit) wrap.append(this.addRow(parent, basePtr));
    return wrap;
  }

  addRow(parent, basePtr) {
    const id = newId();
    const kind = el('select', { id, 'data-focus': `add:${basePtr}` },
      ...KINDS.map((k) => el('option', { value: k }, t(`kind_${k}`))));
    const add = el('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-focus': `add-btn:${basePtr}` }, t('b_add'));
    add.addEventListener('click', () => {
      const title = t('b_new_question');
      const taken = new Set(Object.keys(parent.properties));
      const key = keyFrom(t(`kind_${kind.value}`), taken);
      parent.properties[key] = template(kind.value, title);
      this.open.add(`${basePtr}/${key}`);
      this.changed({ redraw: true });
      this.body.querySelector(`[data-focus="${CSS.escape(`${basePtr}/${key}:title:${this.langs[0]}`)}"]`)?.focus();
    });
    return el('div', { class: 'add-row' }, el('label', { for: id }, t('b_add_kind')), kind, add);
  }

  questionItem(parent, key, index, count, basePtr, scope) {
    const s = parent.properties[key];
    const ptr = `${basePtr}/${key}`;
    const kind = kindOf(s);
    const isOpen = this.open.has(ptr);
    const title = s.title || key;
    const li = el('li', { class: `qitem${isOpen ? ' open' : ''}`, 'data-key': key, 'data-pointer': ptr });
    const toggle = el('button', { type: 'button', class: 'qitem-title', 'aria-expanded': String(isOpen), 'data-focus': `${ptr}:toggle` },
      el('span', { class: 'pill' }, t(`kind_${kind}`)), ' ', title,
      isRequired(parent, key) ? el('span', { class: 'req' }, ' *') : null,
      s['x-visible-if'] ? el('span', { class: 'pill pill-warn' }, t('b_has_rule')) : null,
      s['x-personal-data'] ? el('span', { class: 'pill pill-off' }, t('b_personal_short')) : null);
    toggle.addEventListener('click', () => {
      if (isOpen) this.open.delete(ptr); else this.open.add(ptr);
      this.renderBuilder();
    });
    const head = el('div', { class: 'qitem-head' }, toggle);
    if (this.canEdit) {
      const tool = (label, text, focus, f, disabled = false) => {
        const btn = el('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': label, title: label, disabled, 'data-focus': `${ptr}:${focus}` }, text);
        btn.addEventListener('click', f);
        return btn;
      };
      head.append(el('div', { class: 'qitem-tools' },
        tool(t('b_move_up', { title }), '↑', 'up', () => { move(parent, key, -1); this.changed({ redraw: true }); this.focusTool(`${ptr}:up`, `${ptr}:down`); }, index === 0),
        tool(t('b_move_down', { title }), '↓', 'down', () => { move(parent, key, 1); this.changed({ redraw: true }); this.focusTool(`${ptr}:down`, `${ptr}:up`); }, index === count - 1),
        tool(t('b_duplicate', { title }), t('b_duplicate_short'), 'dup', () => {
          const copy = duplicate(parent, key);
          this.open.add(`${basePtr}/${copy}`);
          this.changed({ redraw: true });
        }),
        tool(t('b_remove', { title }), t('b_remove_short'), 'rm', () => {
          if (!window.confirm(t('b_remove_confirm', { title }))) return;
          remove(parent, key);
          this.open.delete(ptr);
          this.changed({ redraw: true });
        })));
      // Drag and drop within the same list.
      li.draggable = true;
      li.addEventListener('dragstart', (e) => {
        e.stopPropagation();
        e.dataTransfer.setData('text/x-parole-key', key);
        e.dataTransfer.effectAllowed = 'move';
        li.classList.add('dragging');
      });
      li.addEventListener('dragend', () => li.classList.remove('dragging'));
      li.addEventListener('dragover', (e) => {
        if (e.dataTransfer.types.includes('text/x-parole-key')) { e.preventDefault(); e.stopPropagation(); }
      });
      li.addEventListener('drop', (e) => {
        const dragged = e.dataTransfer.getData('text/x-parole-key');
        e.preventDefault();
        e.stopPropagation();
        if (!dragged || dragged === key || !(dragged in parent.properties)) return;
        moveBefore(parent, dragged, key);
        this.changed({ redraw: true });
      });
    }
    li.append(head);
    if (isOpen) li.append(this.questionEditor(parent, key, s, kind, ptr, scope));
    return li;
  }

  focusTool(first, other) {
    const a = this.body.querySelector(`[data-focus="${CSS.escape(first)}"]`);
    (a && !a.disabled ? a : this.body.querySelector(`[data-focus="${CSS.escape(other)}"]`))?.focus();
  }

  questionEditor(parent, key, s, kind, ptr, scope) {
    const box = el('div', { class: 'qedit' });
    const ro = !this.canEdit;

    // The key (the export's column name).
    const keyId = newId();
    const keyInput = el('input', { id: keyId, value: key, readonly: ro, 'data-focus': `${ptr}:key`, spellcheck: 'false' });
    const keyError = el('p', { class: 'form-error', role: 'alert' });
    keyInput.addEventListener('change', () => {
      const next = keyInput.value.trim();
      keyError.textContent = '';
      if (next === key) return;
      if (!KEY_PATTERN.test(next)) { keyError.textContent = t('b_key_invalid'); return; }
      if (next in parent.properties) { keyError.textContent = t('b_key_taken'); return; }
      rename(parent, key, next);
      this.open.delete(ptr);
      this.open.add(ptr.replace(/[^/]+$/, next));
      this.changed({ redraw: true });
    });
    box.append(...this.labelInputs(s, 'title', kind === 'note' ? 'b_note_text' : 'b_question', { focusKey: ptr }));
    if (kind !== 'note') box.append(...this.labelInputs(s, 'description', 'b_help', { multiline: true, focusKey: ptr }));
    box.append(el('div', { class: 'field' }, el('label', { for: keyId }, t('b_key')), keyInput,
      el('p', { class: 'small muted' }, t('b_key_help')), keyError));

    // Required and personal data.
    const flags = el('div', { class: 'row flags' });
    if (kind !== 'note') {
      flags.append(this.checkbox(t('b_required'), isRequired(parent, key), `${ptr}:required`, (on) => {
        setRequired(parent, key, on);
        this.changed();
      }));
      flags.append(this.checkbox(t('b_personal'), !!s['x-personal-data'], `${ptr}:personal`, (on) => {
        if (on) s['x-personal-data'] = true; else delete s['x-personal-data'];
        this.changed();
      }));
    }
    box.append(flags);

    if (hasChoices(kind)) box.append(this.choicesEditor(s, kind, ptr));
    box.append(this.limitsEditor(s, kind, ptr));
    box.append(this.ruleEditor(s, ptr, scope));
    if (hasQuestions(s)) {
      const inner = s['x-widget'] === 'repeat' ? s.items : s;
      box.append(el('div', { class: 'nested' },
        el('h3', {}, t(s['x-widget'] === 'repeat' ? 'b_repeat_questions' : 'b_section_questions')),
        this.questionList(s, s['x-widget'] === 'repeat' ? `${ptr}/-` : ptr, s['x-widget'] === 'repeat' ? inner : scope)));
    }
    return box;
  }

  checkbox(label, checked, focus, onChange) {
    const id = newId();
    const input = el('input', { id, type: 'checkbox', checked, disabled: !this.canEdit, 'data-focus': focus });
    input.addEventListener('change', () => onChange(input.checked));
    return el('div', { class: 'check' }, input, el('label', { for: id }, label));
  }

  numberField(label, value, focus, onChange, { integer = false } = {}) {
    const id = newId();
    const input = el('input', { id, type: 'number', step: integer ? '1' : 'any', value: value ?? '', readonly: !this.canEdit, 'data-focus': focus, inputmode: 'decimal' });
    input.addEventListener('change', () => {
      const v = input.value === '' ? undefined : Number(input.value);
      onChange(Number.isFinite(v) ? v : undefined);
    });
    return el('div', { class: 'field field-number' }, el('label', { for: id }, label), input);
  }

  choicesEditor(s, kind, ptr) {
    const def = this.langs[0];
    const box = el('fieldset', { class: 'choices' }, el('legend', {}, t('b_choices')));
    const id = newId();
    const area = el('textarea', { id, rows: Math.max(3, choicesOf(s).length + 1), readonly: !this.canEdit, 'data-focus': `${ptr}:choices` });
    area.value = choicesOf(s).map((c) => c.title).join('\n');
    area.addEventListener('change', () => {
      setChoicesFromLines(s, kind, area.value);
      this.changed({ redraw: true });
    });
    box.append(el('div', { class: 'field' }, el('label', { for: id }, `${t('b_choices_lines')}${this.langs.length > 1 ? ` (${def.toUpperCase()})` : ''}`), area,
      el('p', { class: 'small muted' }, t('b_choices_values', { values: choicesOf(s).map((c) => c.const).join(', ') }))));
    for (const lang of this.langs.slice(1)) {
      const tid = newId();
      const tr = el('textarea', { id: tid, lang, rows: Math.max(3, choicesOf(s).length + 1), readonly: !this.canEdit, 'data-focus': `${ptr}:choices:${lang}` });
      const map = s['x-i18n']?.[lang]?.choices || {};
      tr.value = choicesOf(s).map((c) => map[String(c.const)] || '').join('\n');
      tr.addEventListener('change', () => {
        setChoiceTranslations(s, lang, tr.value);
        this.changed();
      });
      box.append(el('div', { class: 'field' }, el('label', { for: tid }, `${t('b_choices_lines')} (${lang.toUpperCase()})`), tr));
    }
    if (kind === 'single_choice' || kind === 'single_choice_list') {
      const did = newId();
      const display = el('select', { id: did, disabled: !this.canEdit, 'data-focus': `${ptr}:display` },
        el('option', { value: 'buttons', selected: kind === 'single_choice' }, t('b_display_buttons')),
        el('option', { value: 'list', selected: kind === 'single_choice_list' }, t('b_display_list')));
      display.addEventListener('change', () => {
        if (display.value === 'list') s['x-widget'] = 'select'; else delete s['x-widget'];
        this.changed({ redraw: true });
      });
      box.append(el('div', { class: 'field' }, el('label', { for: did }, t('b_display')), display));
    }
    return box;
  }

  limitsEditor(s, kind, ptr) {
    const box = el('div', { class: 'row limits' });
    const set = (prop) => (v) => {
      if (v === undefined) delete s[prop]; else s[prop] = v;
      this.changed();
    };
    switch (kind) {
      case 'short_text': case 'long_text':
        box.append(this.numberField(t('b_min_length'), s.minLength, `${ptr}:minLength`, set('minLength'), { integer: true }),
          this.numberField(t('b_max_length'), s.maxLength, `${ptr}:maxLength`, set('maxLength'), { integer: true }));
        break;
      case 'integer': case 'number':
        box.append(this.numberField(t('b_minimum'), s.minimum, `${ptr}:minimum`, set('minimum'), { integer: kind === 'integer' }),
          this.numberField(t('b_maximum'), s.maximum, `${ptr}:maximum`, set('maximum'), { integer: kind === 'integer' }));
        break;
      case 'multiple_choice':
        box.append(this.numberField(t('b_min_items'), s.minItems, `${ptr}:minItems`, set('minItems'), { integer: true }),
          this.numberField(t('b_max_items'), s.maxItems, `${ptr}:maxItems`, set('maxItems'), { integer: true }));
        break;
      case 'repeat':
        box.append(this.numberField(t('b_min_repeat'), s.minItems, `${ptr}:minItems`, set('minItems'), { integer: true }),
          this.numberField(t('b_max_repeat'), s.maxItems, `${ptr}:maxItems`, set('maxItems'), { integer: true }));
        break;
      case 'geopoint':
        box.append(this.numberField(t('b_accuracy'), s['x-accuracy-m'], `${ptr}:accuracy`, set('x-accuracy-m')));
        break;
      default:
        return el('div', { hidden: true });
    }
    const wrap = el('div', { class: 'limits-wrap' }, box);
    if (['short_text', 'long_text', 'integer', 'number', 'multiple_choice'].includes(kind)) {
      wrap.append(...this.labelInputs(s, 'error_message', 'b_error_message', { focusKey: ptr }));
    }
    return wrap;
  }

  /** Skip logic by picking: clauses "question · comparison · value", joined by all/any. */
  ruleEditor(s, ptr, scope) {
    const box = el('fieldset', { class: 'rule' }, el('legend', {}, t('b_rule')));
    const existing = s['x-visible-if'];
    let condition = existing === undefined ? { join: 'all', clauses: [] } : this.wasm.conditionFromSchema(existing);
    if (condition === null) {
      box.append(el('p', { class: 'muted' }, t('b_rule_custom')));
      return box;
    }
    const candidates = testable(scope, s);
    if (!candidates.length && !condition.clauses.length) {
      box.append(el('p', { class: 'small muted' }, t('b_rule_none_before')));
      return box;
    }
    const write = ({ redraw = true } = {}) => {
      const schema = this.wasm.conditionToSchema(condition);
      if (schema === null || schema === undefined) delete s['x-visible-if'];
      else s['x-visible-if'] = schema;
      this.changed({ redraw });
    };
    const samePath = (a, b) => a.length === b.length && a.every((k, i) => k === b[i]);
    const find = (path) => candidates.find((c) => samePath(c.path, path));
    const label = (c) => `${c.schema.title || c.path.at(-1)} (${c.path.join('.')})`;

    if (condition.clauses.length > 1) {
      const jid = newId();
      const join = el('select', { id: jid, disabled: !this.canEdit, 'data-focus': `${ptr}:join` },
        el('option', { value: 'all', selected: condition.join === 'all' }, t('b_join_all')),
        el('option', { value: 'any', selected: condition.join === 'any' }, t('b_join_any')));
      join.addEventListener('change', () => { condition.join = join.value; write({ redraw: false }); });
      box.append(el('div', { class: 'field' }, el('label', { for: jid }, t('b_join')), join));
    }
    condition.clauses.forEach((clause, i) => {
      const target = find(clause.question);
      const row = el('div', { class: 'clause', role: 'group', 'aria-label': t('b_clause_n', { n: i + 1 }) });
      const qid = newId();
      const qSel = el('select', { id: qid, disabled: !this.canEdit, 'data-focus': `${ptr}:c${i}:q` },
        target ? null : el('option', { value: '', selected: true }, clause.question.join('.')),
        ...candidates.map((c, ci) => el('option', { value: String(ci), selected: c === target }, label(c))));
      qSel.addEventListener('change', () => {
        const c = candidates[Number(qSel.value)];
        clause.question = c.path;
        clause.op = opsFor(c.kind)[0];
        clause.value = defaultValue(c);
        write();
      });
      const ops = target ? opsFor(target.kind) : [clause.op];
      if (!ops.includes(clause.op)) ops.push(clause.op);
      const oid = newId();
      const opSel = el('select', { id: oid, disabled: !this.canEdit, 'data-focus': `${ptr}:c${i}:op` },
        ...ops.map((o) => el('option', { value: o, selected: o === clause.op }, t(`op_${o}`))));
      opSel.addEventListener('change', () => {
        clause.op = opSel.value;
        if (clause.op === 'answered') delete clause.value;
        else if (clause.value === undefined && target) clause.value = defaultValue(target);
        write();
      });
      row.append(el('div', { class: 'field' }, el('label', { for: qid }, t('b_clause_question')), qSel),
        el('div', { class: 'field' }, el('label', { for: oid }, t('b_clause_op')), opSel));
      if (clause.op !== 'answered') row.append(this.valueField(clause, target, `${ptr}:c${i}:v`, () => write({ redraw: false })));
      if (this.canEdit) {
        const rm = el('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': t('b_clause_remove_n', { n: i + 1 }), 'data-focus': `${ptr}:c${i}:rm` }, '✕');
        rm.addEventListener('click', () => { condition.clauses.splice(i, 1); write(); });
        row.append(rm);
      }
      box.append(row);
    });
    if (this.canEdit && candidates.length) {
      const add = el('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-focus': `${ptr}:add-clause` },
        condition.clauses.length ? t('b_clause_add_more') : t('b_clause_add'));
      add.addEventListener('click', () => {
        const c = candidates[candidates.length - 1];
        condition.clauses.push({ question: c.path, op: opsFor(c.kind)[0], value: defaultValue(c) });
        write();
        this.body.querySelector(`[data-focus="${CSS.escape(`${ptr}:c${condition.clauses.length - 1}:q`)}"]`)?.focus();
      });
      box.append(add);
    }
    return box;
  }

  /** The value of a clause: a choice, yes/no, a number or a text, as the question takes. */
  valueField(clause, target, focus, onChange) {
    const id = newId();
    const kind = target?.kind;
    let input;
    if (clause.op === 'is_one_of' && target) {
      const cs = choicesOf(structuredClone(target.schema));
      const chosen = new Set(Array.isArray(clause.value) ? clause.value : []);
      input = el('select', { id, multiple: true, size: Math.min(6, cs.length), disabled: !this.canEdit, 'data-focus': focus },
        ...cs.map((c, ci) => el('option', { value: String(ci), selected: chosen.has(c.const) }, c.title)));
      input.addEventListener('change', () => {
        clause.value = [...input.selectedOptions].map((o) => cs[Number(o.value)].const);
        onChange();
      });
    } else if (kind && ['single_choice', 'single_choice_list', 'multiple_choice', 'likert'].includes(kind) && !['ge', 'gt', 'le', 'lt'].includes(clause.op)) {
      const cs = choicesOf(structuredClone(target.schema));
      input = el('select', { id, disabled: !this.canEdit, 'data-focus': focus },
        ...cs.map((c, ci) => el('option', { value: String(ci), selected: c.const === clause.value }, c.title)));
      input.addEventListener('change', () => { clause.value = cs[Number(input.value)].const; onChange(); });
    } else if (kind === 'boolean') {
      input = el('select', { id, disabled: !this.canEdit, 'data-focus': focus },
        el('option', { value: 'true', selected: clause.value === true }, t('yes')),
        el('option', { value: 'false', selected: clause.value === false }, t('no')));
      input.addEventListener('change', () => { clause.value = input.value === 'true'; onChange(); });
    } else if (kind && ['integer', 'number', 'likert'].includes(kind)) {
      input = el('input', { id, type: 'number', step: 'any', value: clause.value ?? '', readonly: !this.canEdit, 'data-focus': focus });
      input.addEventListener('change', () => { clause.value = Number(input.value); onChange(); });
    } else {
      input = el('input', { id, value: clause.value ?? '', readonly: !this.canEdit, 'data-focus': focus });
      input.addEventListener('change', () => { clause.value = input.value; onChange(); });
    }
    return el('div', { class: 'field' }, el('label', { for: id }, t('b_clause_value')), input);
  }

  // ----------------------------------------------------------------- the preview

  renderPreview() {
    const box = this.previewBox.querySelector('.phone');
    if (!this.errors.length) {
      let draft;
      try {
        draft = new this.wasm.QuestionnaireDraft(this.doc);
      } catch (_) {
        return; // checked just before; nothing to show
      }
      this.preview?.destroy();
      const model = draft.model();
      // The renderer asks the phone's client: here the draft answers, saving nothing.
      const client = {
        visible: async (_s, _v, answers) => draft.visible(answers),
        validate: async (_s, _v, answers) => draft.validate(answers),
        saveDraft: async () => {},
        complete: async () => {},
        resubmit: async () => {},
        getPhoto: async () => null,
        putPhoto: async () => { throw new Error(t('b_preview_no_photo')); },
      };
      const next = this.versions.length + 1;
      const response = { id: 'apercu', questionnaire: this.slug, version: next, answers: this.previewAnswers, started_at: '', completed_at: '' };
      this.preview = new FillScreen({
        client,
        record: { response, state: 'draft' },
        questionnaire: { slug: this.slug, version: next, title: model.title, model, document: this.doc },
        onClose: () => { this.previewAnswers = {}; this.renderPreview(); },
      });
      this.previewAnswers = this.preview.answers;
      this.preview.mount(box);
    }
  }
}

/** `YYYY-MM-DD` as a date in the interface language. */
function formatDay(day) {
  const d = new Date(`${day}T12:00:00`);
  if (Number.isNaN(d.getTime())) return day;
  return d.toLocaleDateString(document.documentElement.lang === 'en' ? 'en-GB' : 'fr-FR', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
}

/** A first value for a clause on `c`. */
function defaultValue(c) {
  if (['single_choice', 'single_choice_list', 'multiple_choice', 'likert'].includes(c.kind)) {
    return choicesOf(structuredClone(c.schema))[0]?.const;
  }
  if (c.kind === 'boolean') return true;
  if (['integer', 'number'].includes(c.kind)) return 0;
  return '';
}

