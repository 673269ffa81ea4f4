// One section per screen, for a questionnaire whose root says `"x-layout": "sections"` (as
// ODK's field-list groups and Enketo's pages): each root-level section is a screen, and the
// questions outside sections are grouped into screens between them. The whole form stays in
// the page (skip logic, errors and saving work as on the long page); the pager only shows one
// screen at a time, with a jump list that gives the progress (screen k of n) and the screens
// with errors, and Previous / Next. A screen whose questions are all hidden is skipped.
// « Terminer » is on the last screen; errors found there take the interviewer to the first
// screen that has one.

import { t } from './i18n.js';
import { el, clear } from './dom.js';

/** The layout a questionnaire asks for: `sections` or `page` (the default). */
export function layoutOf(questionnaire) {
  const layout = questionnaire.document?.['x-layout'] ?? questionnaire.layout;
  return layout === 'sections' ? 'sections' : 'page';
}

const shorten = (s, n = 48) => (s.length > n ? `${s.slice(0, n - 1).trimEnd()}…` : s);

export class Pager {
  /**
   * @param fill    the FillScreen (its `widgets`, `touched`, `renderErrors()`)
   * @param body    the form, whose children are the root questions' elements, in order
   * @param foot    the « Terminer » block, shown on the last screen only
   * @param labelOf (question) → its title in the questionnaire's language
   * @param content `{lang, dir}` of the questionnaire's text (the screens' names)
   */
  constructor(fill, body, foot, labelOf, content = {}) {
    this.fill = fill;
    this.foot = foot;
    this.screens = [];
    let loose = null;
    for (const node of [...body.children]) {
      const w = fill.widgets.get(node.dataset.pointer);
      if (!w) continue;
      if (w.q.kind === 'section') {
        this.screens.push({ widgets: [w], name: labelOf(w.q) });
        loose = null;
      } else {
        if (!loose) {
          loose = { widgets: [], name: '' };
          this.screens.push(loose);
        }
        loose.widgets.push(w);
      }
    }
    for (const s of this.screens) {
      if (!s.name) {
        const named = s.widgets.find((w) => w.q.kind !== 'note') || s.widgets[0];
        s.name = shorten(labelOf(named.q));
      }
      s.el = el('div', { class: 'screen' });
      s.content = content;
      for (const w of s.widgets) s.el.append(w.el);
      body.append(s.el);
    }
    this.current = Math.min(fill.screenAt ?? 0, Math.max(this.screens.length - 1, 0));

    this.summary = el('summary', { class: 'screen-summary' });
    this.list = el('ol', { class: 'screen-list' });
    this.details = el('details', { class: 'screen-jump' }, this.summary, this.list);
    this.nav = el('nav', { class: 'screens', 'aria-label': t('screens') }, this.details);
    this.prev = el('button', { type: 'button', class: 'btn btn-secondary btn-prev' }, t('screen_prev'));
    this.next = el('button', { type: 'button', class: 'btn btn-primary btn-next' }, t('screen_next'));
    this.prev.addEventListener('click', () => this.step(-1));
    this.next.addEventListener('click', () => this.step(1));
    this.buttons = el('div', { class: 'screen-buttons' }, this.prev, this.next);
    body.before(this.nav);
    body.after(this.buttons);
    this.show();
  }

  /** A screen is skipped when none of its questions is shown. */
  visible(s) {
    return s.widgets.some((w) => w.shown !== false);
  }

  hasErrors(s) {
    return !!s.el.querySelector('.has-error:not([hidden])');
  }

  /** The index of the next shown screen after `from` in direction `dir` (±1), or -1. */
  seek(from, dir) {
    for (let i = from + dir; i >= 0 && i < this.screens.length; i += dir) {
      if (this.visible(this.screens[i])) return i;
    }
    return -1;
  }

  /** Next / Previous. Leaving a screen forward shows its errors (its questions count as seen). */
  step(dir) {
    const to = this.seek(this.current, dir);
    if (to < 0) return;
    if (dir > 0) {
      for (const w of this.screens[this.current].widgets) this.fill.touched.add(w.ptr);
      this.fill.renderErrors();
    }
    this.go(to);
  }

  /** Shows screen `i`, scrolled to the top, the focus on « Écran k sur n · name » (read out,
   * and the next Tab reaches the screen's first question). */
  go(i) {
    this.current = i;
    this.show();
    window.scrollTo(0, 0);
    this.summary.focus({ preventScroll: true });
  }

  /** After each refresh (visibility and errors known). */
  update() {
    const cur = this.screens[this.current];
    if (cur && !this.visible(cur)) {
      // its section was just hidden: the next shown screen, else the one before
      const to = this.seek(this.current, 1) >= 0 ? this.seek(this.current, 1) : this.seek(this.current, -1);
      if (to >= 0) this.current = to;
    }
    this.show();
  }

  /** Goes to the first screen with an error; false if none has one. */
  showFirstError() {
    const i = this.screens.findIndex((s) => this.visible(s) && this.hasErrors(s));
    if (i >= 0 && i !== this.current) this.go(i);
    else this.show();
    return i >= 0;
  }

  show() {
    this.fill.screenAt = this.current;
    this.screens.forEach((s, i) => { s.el.hidden = i !== this.current; });
    const shown = this.screens.map((s, i) => ({ s, i })).filter(({ s }) => this.visible(s));
    const n = shown.length;
    const k = shown.findIndex(({ i }) => i === this.current) + 1;
    const cur = this.screens[this.current];
    const withErrors = shown.filter(({ s }) => this.hasErrors(s)).length;
    clear(this.summary);
    this.summary.append(
      el('span', { class: 'screen-k' }, t('screen_k_of_n', { k, n })),
      cur ? ' · ' : null,
      cur ? el('span', { class: 'screen-name', ...cur.content }, cur.name) : null,
      withErrors ? el('span', { class: 'screen-errors' }, ` · ⚠ ${t('screen_errors', { n: withErrors })}`) : null);
    clear(this.list);
    for (const { s, i } of shown) {
      const errors = this.hasErrors(s);
      const b = el('button', { type: 'button', class: `screen-link${errors ? ' has-errors' : ''}`, 'aria-current': i === this.current ? 'step' : null },
        el('span', { class: 'screen-n' }, `${shown.findIndex((x) => x.i === i) + 1}. `), el('span', s.content, s.name),
        errors ? el('span', { class: 'screen-flag' }, ` ⚠ ${t('screen_to_fix')}`) : null);
      b.addEventListener('click', () => {
        this.details.open = false;
        this.go(i);
      });
      this.list.append(el('li', {}, b));
    }
    const before = this.seek(this.current, -1);
    const after = this.seek(this.current, 1);
    this.prev.disabled = before < 0;
    this.next.hidden = after < 0;
    this.foot.hidden = after >= 0;
  }
}
