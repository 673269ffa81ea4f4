// The notice shown when a change hides questions that had answers. A hidden question must
// have no answer (the format's rule), so they are removed at once and the draft is saved
// without them; but one mis-tap on « recontact : non » must not erase a name and a phone
// number for good. The notice, just under the question that was changed, lists what was cleared and offers « Annuler », which puts back
// the answers as they were just before the change (the controlling answer included). It
// stays until dismissed or until the next change.

import { t } from './i18n.js';
import { el } from './dom.js';

export class UndoNotice {
  constructor() {
    this.text = el('p', { class: 'undo-text' });
    this.undoBtn = el('button', { type: 'button', class: 'btn btn-undo' }, t('undo'));
    this.closeBtn = el('button', { type: 'button', class: 'btn-link btn-undo-close' }, t('undo_dismiss'));
    this.el = el('div', { class: 'undo-notice', role: 'status', hidden: true },
      this.text, el('div', { class: 'row' }, this.undoBtn, this.closeBtn));
    this.onUndo = null;
    this.undoBtn.addEventListener('click', () => {
      const undo = this.onUndo;
      const back = this.returnTo;
      this.hide();
      undo?.(back);
    });
    this.closeBtn.addEventListener('click', () => {
      const back = this.returnTo;
      this.hide();
      if (back?.isConnected && !back.closest('[hidden]')) back.focus();
    });
  }

  /** Shows what was cleared (question titles) just after `anchor` (the question whose
   * change hid them, where the interviewer is looking); `onUndo` puts it back. */
  show(titles, onUndo, anchor) {
    if (anchor?.isConnected) anchor.after(this.el);
    this.text.textContent = t('undo_cleared', { list: titles.join(', ') });
    this.onUndo = onUndo;
    // the control that made the change, where the focus goes back once dismissed
    const a = document.activeElement;
    this.returnTo = a && a !== document.body && !this.el.contains(a) ? a : null;
    this.el.hidden = false;
  }

  get shown() {
    return !this.el.hidden;
  }

  hide() {
    this.onUndo = null;
    this.returnTo = null;
    this.el.hidden = true;
  }
}
