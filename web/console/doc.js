// Editing a questionnaire document (the format of schemas/FORMAT.md) in place: the kinds of
// question and their templates, where a question's schema lives, its labels per language,
// its choices, and moving questions within their list. Pure functions over the JSON: the
// builder (builder.js) draws them, client-core (wasm) judges the result.

export const TIME_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
export const PHOTO_PATTERN = '^sha256:[0-9a-f]{64}$';
export const KEY_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** The kinds the builder offers, in the order of its menu. */
export const KINDS = [
  'short_text', 'long_text', 'integer', 'number', 'boolean', 'single_choice', 'single_choice_list',
  'multiple_choice', 'likert', 'date', 'time', 'date_time', 'geopoint', 'photo', 'note', 'section', 'repeat',
];

const choices = (labels) => labels.map((title, i) => ({ const: `choix_${i + 1}`, title }));

/** A new question of `kind`, titled `title`. */
export function template(kind, title) {
  switch (kind) {
    case 'short_text': return { type: 'string', title };
    case 'long_text': return { type: 'string', 'x-widget': 'textarea', title };
    case 'integer': return { type: 'integer', title };
    case 'number': return { type: 'number', title };
    case 'boolean': return { type: 'boolean', title };
    case 'single_choice': return { type: 'string', title, oneOf: choices(['Choix 1', 'Choix 2']) };
    case 'single_choice_list': return { type: 'string', 'x-widget': 'select', title, oneOf: choices(['Choix 1', 'Choix 2']) };
    case 'multiple_choice': return { type: 'array', title, uniqueItems: true, items: { oneOf: choices(['Choix 1', 'Choix 2']) } };
    case 'likert': return {
      type: 'integer', 'x-widget': 'likert', title,
      oneOf: [1, 2, 3, 4, 5].map((n) => ({ const: n, title: String(n) })),
    };
    case 'date': return { type: 'string', format: 'date', title };
    case 'time': return { type: 'string', 'x-widget': 'time', pattern: TIME_PATTERN, title };
    case 'date_time': return { type: 'string', format: 'date-time', title };
    case 'geopoint': return {
      type: 'object', 'x-widget': 'geopoint', title, additionalProperties: false,
      properties: {
        lat: { type: 'number', minimum: -90, maximum: 90 },
        lon: { type: 'number', minimum: -180, maximum: 180 },
        accuracy_m: { type: 'number', minimum: 0 },
      },
      required: ['lat', 'lon'],
    };
    case 'photo': return { type: 'string', 'x-widget': 'photo', pattern: PHOTO_PATTERN, title };
    case 'note': return { type: 'null', 'x-widget': 'note', title };
    case 'section': return { type: 'object', 'x-widget': 'section', title, properties: {}, additionalProperties: false };
    case 'repeat': return {
      type: 'array', 'x-widget': 'repeat', title,
      items: { type: 'object', properties: {}, additionalProperties: false },
    };
    default: throw new Error(`unknown kind ${kind}`);
  }
}

/** The kind of a question's schema (as client-core's `kind_of`). */
export function kindOf(s) {
  const w = s['x-widget'];
  if (w === 'textarea') return 'long_text';
  if (w === 'select') return 'single_choice_list';
  if (w === 'likert') return 'likert';
  if (w === 'time') return 'time';
  if (w === 'photo') return 'photo';
  if (w === 'note' || s.type === 'null') return 'note';
  if (w === 'section') return 'section';
  if (w === 'geopoint') return 'geopoint';
  if (w === 'repeat') return 'repeat';
  if (s.type === 'array') return 'multiple_choice';
  if (s.type === 'boolean') return 'boolean';
  if (Array.isArray(s.oneOf)) return 'single_choice';
  if (s.type === 'integer') return 'integer';
  if (s.type === 'number') return 'number';
  if (s.format === 'date') return 'date';
  if (s.format === 'date-time') return 'date_time';
  return 'short_text';
}

/** The object holding the questions of `container` (the root, a section, a repeat). */
export function questionsOf(container) {
  if (container['x-widget'] === 'repeat') {
    container.items ||= { type: 'object', properties: {}, additionalProperties: false };
    container.items.properties ||= {};
    return container.items;
  }
  container.properties ||= {};
  return container;
}

export const hasQuestions = (s) => s['x-widget'] === 'section' || s['x-widget'] === 'repeat';

/** The choices array of a choice question (`oneOf`, or `items.oneOf`). */
export function choicesOf(s) {
  if (s.type === 'array') {
    s.items ||= {};
    s.items.oneOf ||= [];
    return s.items.oneOf;
  }
  s.oneOf ||= [];
  return s.oneOf;
}

export const hasChoices = (kind) => ['single_choice', 'single_choice_list', 'multiple_choice', 'likert'].includes(kind);

/** `node`'s label `field` (`title`, `description`, `error_message`) in `lang`. */
export function labelOf(node, field, lang, defaultLang) {
  if (lang === defaultLang) return node[field === 'error_message' ? 'x-error-message' : field] ?? '';
  return node['x-i18n']?.[lang]?.[field] ?? '';
}

/** Sets a label (an empty one is removed, and so is an empty translation). */
export function setLabel(node, field, lang, defaultLang, value) {
  if (lang === defaultLang) {
    const key = field === 'error_message' ? 'x-error-message' : field;
    if (value === '' && field !== 'title') delete node[key];
    else node[key] = value;
    return;
  }
  const i18n = (node['x-i18n'] ||= {});
  const entry = (i18n[lang] ||= {});
  if (value === '') delete entry[field];
  else entry[field] = value;
  if (!Object.keys(entry).length) delete i18n[lang];
  if (!Object.keys(i18n).length) delete node['x-i18n'];
}

/** A question key from a label: lowercase ASCII, `_` between words, a letter first. */
export function keyFrom(label, taken) {
  let base = label.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
  if (!/^[a-z]/.test(base)) base = `q_${base}`.replace(/_+$/, '');
  if (base === 'q') base = 'question';
  let key = base;
  for (let n = 2; taken.has(key); n += 1) key = `${base}_${n}`;
  return key;
}

/**
 * Replaces the choices from `text`, one label per line (in the default language): a line
 * whose label an existing choice has keeps that choice (its value and translations); a new
 * one gets a value made from its label. For a scale, values are 1, 2, 3… in order.
 */
export function setChoicesFromLines(s, kind, text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const old = choicesOf(s);
  const taken = new Set();
  const next = lines.map((title, i) => {
    if (kind === 'likert') return { const: i + 1, title };
    const same = old.find((c) => c.title === title && !taken.has(c.const));
    const value = same ? same.const : keyFrom(title, new Set([...taken, ...old.map((c) => c.const)]));
    taken.add(value);
    return { const: value, title };
  });
  if (s.type === 'array') s.items.oneOf = next;
  else s.oneOf = next;
  // Translations of choices that are gone are dropped.
  const values = new Set(next.map((c) => String(c.const)));
  for (const entry of Object.values(s['x-i18n'] || {})) {
    if (!entry.choices) continue;
    for (const v of Object.keys(entry.choices)) if (!values.has(v)) delete entry.choices[v];
    if (!Object.keys(entry.choices).length) delete entry.choices;
  }
}

/** Sets the choices' labels in `lang` from `text`, one per line in the choices' order. */
export function setChoiceTranslations(s, lang, text) {
  const lines = text.split('\n').map((l) => l.trim());
  const i18n = (s['x-i18n'] ||= {});
  const entry = (i18n[lang] ||= {});
  const map = {};
  choicesOf(s).forEach((c, i) => { if (lines[i]) map[String(c.const)] = lines[i]; });
  if (Object.keys(map).length) entry.choices = map;
  else delete entry.choices;
  if (!Object.keys(entry).length) delete i18n[lang];
  if (!Object.keys(i18n).length) delete s['x-i18n'];
}

/** `obj` with its keys in `order` (the order questions are asked in). */
export function reorder(obj, order) {
  const out = {};
  for (const k of order) out[k] = obj[k];
  return out;
}

/** Moves question `key` of `parent` (an object holding `properties`) by `delta` places. */
export function move(parent, key, delta) {
  const keys = Object.keys(parent.properties);
  const i = keys.indexOf(key);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= keys.length) return false;
  keys.splice(i, 1);
  keys.splice(j, 0, key);
  parent.properties = reorder(parent.properties, keys);
  return true;
}

/** Moves `key` to just before `before` (or to the end) in `parent`. */
export function moveBefore(parent, key, before) {
  const keys = Object.keys(parent.properties).filter((k) => k !== key);
  const at = before ? keys.indexOf(before) : keys.length;
  keys.splice(at < 0 ? keys.length : at, 0, key);
  parent.properties = reorder(parent.properties, keys);
}

/** Renames a question, keeping its place, its `required` entry. */
export function rename(parent, key, next) {
  const keys = Object.keys(parent.properties).map((k) => (k === key ? next : k));
  const props = {};
  for (const k of keys) props[k] = k === next ? parent.properties[key] : parent.properties[k];
  parent.properties = props;
  if (Array.isArray(parent.required)) parent.required = parent.required.map((k) => (k === key ? next : k));
}

export function isRequired(parent, key) {
  return Array.isArray(parent.required) && parent.required.includes(key);
}

export function setRequired(parent, key, on) {
  const list = new Set(parent.required || []);
  if (on) list.add(key); else list.delete(key);
  if (list.size) parent.required = Object.keys(parent.properties).filter((k) => list.has(k));
  else delete parent.required;
}

/** Removes a question (and its `required` entry). */
export function remove(parent, key) {
  delete parent.properties[key];
  setRequired(parent, key, false);
}

/** Inserts a copy of question `key` just after it; returns the copy's key. */
export function duplicate(parent, key) {
  const taken = new Set(Object.keys(parent.properties));
  let copy = `${key}_copie`.slice(0, 63);
  for (let n = 2; taken.has(copy); n += 1) copy = `${key}_copie_${n}`.slice(0, 63);
  const keys = Object.keys(parent.properties);
  keys.splice(keys.indexOf(key) + 1, 0, copy);
  const props = {};
  for (const k of keys) props[k] = k === copy ? structuredClone(parent.properties[key]) : parent.properties[k];
  parent.properties = props;
  if (isRequired(parent, key)) setRequired(parent, copy, true);
  return copy;
}

/**
 * The questions a skip rule of a question in `scope` may test: every earlier answerable
 * question of that scope, those inside sections included (reached through the section's key).
 * `scope` is the root, or a repeat item (then only its own questions). Returns
 * `[{path: [keys…], schema, kind}]`.
 */
export function testable(scopeNode, stopAt) {
  const out = [];
  let stopped = false;
  const walk = (node, prefix) => {
    for (const [k, s] of Object.entries(node.properties || {})) {
      if (stopped) return;
      if (s === stopAt) { stopped = true; return; }
      const kind = kindOf(s);
      if (kind === 'section') walk(s, [...prefix, k]);
      else if (!['note', 'repeat', 'photo', 'geopoint'].includes(kind)) out.push({ path: [...prefix, k], schema: s, kind });
    }
  };
  walk(scopeNode, []);
  return out;
}
