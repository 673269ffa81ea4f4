// The location question. A phone's first fix is often poor (± 40 m or worse, from Wi-Fi or
// the cell) and improves over the next seconds as the GPS locks on: the question keeps
// watching (`watchPosition`) until a fix is at least as good as its `x-accuracy-m` (default
// 25 m), showing the accuracy as it improves, or until the interviewer keeps the best fix so
// far. When no fix comes (an error, or nothing after a while indoors) the coordinates can be
// typed. Watching stops when done, when the question is hidden, and when the form closes.

import { t } from './i18n.js';
import { el } from './dom.js';

/** The accuracy the question waits for, in metres. */
export const DEFAULT_ACCURACY_M = 25;
/** After this long without any fix, typing the coordinates is offered. */
const NO_FIX_MS = 20_000;

const round = (x, k) => Math.round(x * k) / k;

/** `48,8566` or `48.8566` → 48.8566; anything else → NaN. */
export function parseCoordinate(text) {
  const s = String(text).trim().replace(/\s+/g, '').replace(',', '.').replace('−', '-');
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : NaN;
}

/**
 * Renders a location question for `fill` (the FillScreen): returns its widget.
 * `fill.stops` holds a function per running watch, called when the form closes or redraws.
 */
export function renderGeopoint(fill, q, ptr, parent, { id, title, req, helpEl }) {
  const w = { q, ptr, parent, controls: [] };
  const target = Number(q.schema?.['x-accuracy-m']) > 0 ? Number(q.schema['x-accuracy-m']) : DEFAULT_ACCURACY_M;
  w.errEl = el('div', { class: 'q-error', id: `${id}-err`, 'aria-live': 'polite' });
  const value = el('p', { class: 'geo-value', 'aria-live': 'polite' }, t('geo_none'));
  // (a button cannot carry aria-required: the legend's « * » says it; `describe` would add it)
  const btn = el('button', { type: 'button', class: 'btn btn-secondary btn-geo' }, t('geo_get'));
  btn.setAttribute('aria-describedby', `${helpEl?.id ? `${helpEl.id} ` : ''}${id}-err`);
  const clearBtn = el('button', { type: 'button', class: 'btn-link', hidden: true }, t('clear'));
  const status = el('p', { class: 'geo-status', role: 'status' });
  const accept = el('button', { type: 'button', class: 'btn btn-primary btn-geo-accept', hidden: true });
  const stopBtn = el('button', { type: 'button', class: 'btn-link btn-geo-stop', hidden: true }, t('geo_stop'));
  const manualBtn = el('button', { type: 'button', class: 'btn-link btn-geo-manual', hidden: true }, t('geo_manual'));

  // Typing the coordinates
  const latId = `${id}-lat`;
  const lonId = `${id}-lon`;
  const latErr = el('p', { class: 'q-error', id: `${latId}-err` });
  const lonErr = el('p', { class: 'q-error', id: `${lonId}-err` });
  const latIn = el('input', { id: latId, class: 'input', type: 'text', inputmode: 'decimal', autocomplete: 'off', 'aria-describedby': `${latId}-err` });
  const lonIn = el('input', { id: lonId, class: 'input', type: 'text', inputmode: 'decimal', autocomplete: 'off', 'aria-describedby': `${lonId}-err` });
  const save = el('button', { type: 'button', class: 'btn btn-secondary' }, t('geo_manual_save'));
  const cancel = el('button', { type: 'button', class: 'btn-link' }, t('geo_manual_cancel'));
  const manual = el('div', { class: 'geo-manual', hidden: true },
    el('label', { for: latId, class: 'geo-label' }, t('geo_lat')), latIn, latErr,
    el('label', { for: lonId, class: 'geo-label' }, t('geo_lon')), lonIn, lonErr,
    el('div', { class: 'row' }, save, cancel));

  w.controls = [btn];
  let current;
  let watch = null; // {id, best, timer}

  w.set = (v) => {
    current = v;
    if (v && typeof v.lat === 'number' && typeof v.lon === 'number') {
      const coords = { lat: v.lat.toFixed(5), lon: v.lon.toFixed(5) };
      value.textContent = typeof v.accuracy_m === 'number'
        ? t('geo_value', { ...coords, acc: Math.round(v.accuracy_m) })
        : t('geo_value_manual', coords);
      value.classList.add('has-value');
      btn.textContent = t('geo_retry');
      clearBtn.hidden = false;
    } else {
      value.textContent = t('geo_none');
      value.classList.remove('has-value');
      btn.textContent = t('geo_get');
      clearBtn.hidden = true;
    }
  };

  const record = (v) => {
    w.set(v);
    fill.change(ptr, v, true);
  };

  /** Stops watching; `keepBest`: records the best fix so far. */
  const stop = ({ keepBest = false } = {}) => {
    if (!watch) return;
    const { best } = watch;
    navigator.geolocation.clearWatch(watch.id);
    clearTimeout(watch.timer);
    fill.stops.delete(stop);
    watch = null;
    btn.disabled = false;
    accept.hidden = true;
    stopBtn.hidden = true;
    if (keepBest && best) {
      status.textContent = '';
      record(best);
    }
  };

  const start = () => {
    if (!('geolocation' in navigator)) {
      status.textContent = t('geo_unsupported');
      manualBtn.hidden = false;
      return;
    }
    stop();
    manual.hidden = true;
    btn.disabled = true;
    stopBtn.hidden = false;
    status.textContent = t('geo_busy');
    const state = { id: null, best: null, timer: null };
    watch = state;
    fill.stops.add(stop);
    state.timer = setTimeout(() => {
      if (watch === state && !state.best) {
        status.textContent = t('geo_no_fix');
        manualBtn.hidden = false;
      }
    }, NO_FIX_MS);
    state.id = navigator.geolocation.watchPosition((pos) => {
      if (watch !== state) return;
      if (fill.closed || w.shown === false) { stop(); return; }
      const fix = {
        lat: round(pos.coords.latitude, 1e6),
        lon: round(pos.coords.longitude, 1e6),
        accuracy_m: round(pos.coords.accuracy, 10),
      };
      if (!state.best || fix.accuracy_m <= state.best.accuracy_m) state.best = fix;
      const acc = Math.round(state.best.accuracy_m);
      if (state.best.accuracy_m <= target) {
        stop({ keepBest: true });
        return;
      }
      status.textContent = t('geo_improving', { acc, target });
      accept.textContent = t('geo_accept', { acc });
      accept.hidden = false;
    }, (err) => {
      if (watch !== state) return;
      // A fix already in hand stays on offer unless the location was refused.
      if (state.best && err.code !== 1) return;
      stop();
      status.textContent = err.code === 1 ? t('geo_denied') : err.code === 3 ? t('geo_timeout') : t('geo_unavailable');
      manualBtn.hidden = false;
      w.set(current);
    }, { enableHighAccuracy: true, maximumAge: 0 });
  };

  btn.addEventListener('click', start);
  accept.addEventListener('click', () => stop({ keepBest: true }));
  stopBtn.addEventListener('click', () => {
    stop();
    status.textContent = '';
    manualBtn.hidden = false;
  });
  clearBtn.addEventListener('click', () => { stop(); record(undefined); });

  manualBtn.addEventListener('click', () => {
    stop();
    manual.hidden = false;
    manualBtn.hidden = true;
    if (current && typeof current.lat === 'number') {
      latIn.value = String(current.lat);
      lonIn.value = String(current.lon);
    }
    latIn.focus();
  });
  cancel.addEventListener('click', () => {
    manual.hidden = true;
    manualBtn.hidden = false;
    manualBtn.focus();
  });
  const check = (input, errEl, max, message) => {
    const n = parseCoordinate(input.value);
    const ok = Number.isFinite(n) && n >= -max && n <= max;
    errEl.textContent = ok ? '' : t(message);
    if (ok) input.removeAttribute('aria-invalid'); else input.setAttribute('aria-invalid', 'true');
    return ok ? n : null;
  };
  save.addEventListener('click', () => {
    const lat = check(latIn, latErr, 90, 'geo_lat_invalid');
    const lon = check(lonIn, lonErr, 180, 'geo_lon_invalid');
    if (lat === null) { latIn.focus(); return; }
    if (lon === null) { lonIn.focus(); return; }
    manual.hidden = true;
    status.textContent = '';
    record({ lat: round(lat, 1e6), lon: round(lon, 1e6) });
    btn.focus();
  });

  w.el = el('fieldset', { class: 'q q-geopoint' }, el('legend', { class: 'q-title' }, title, req), helpEl,
    value, el('div', { class: 'row' }, btn, clearBtn), status,
    el('div', { class: 'row geo-watch' }, accept, stopBtn), manualBtn, manual, w.errEl);
  return fill.register(w);
}
