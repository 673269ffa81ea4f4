// Parole's console: sign-in, the questionnaires, the staff accounts, one's own password.
// Plain modules like the phone app (whose DOM helpers it shares), hash routes
// (`#/questionnaires`, `#/accounts`, `#/password`), every call through the HTTP API.

import { el, clear, toast } from '/app/dom.js';
import { api, ApiError, getToken, setToken, whenSessionEnds } from './api.js';
import { t, msg, LANGS, getLang, setLang, formatDate } from './i18n.js';
import { showBuilder } from './builder.js';
import { showSummaries } from './summaries.js';
import { showResponses } from './responses.js';

const ROLES = ['admin', 'coordinator', 'analyst'];

/** The signed-in account (`GET /api/v1/auth/me`), or null. */
let me = null;

const main = () => document.getElementById('main');

/** The pages, each with who may see it (admin passes everywhere). */
const PAGES = {
  questionnaires: { roles: ROLES, label: 'nav_questionnaires', render: questionnairesPage },
  responses: { roles: ROLES, label: 'nav_responses', render: (root, rest) => showResponses(root, rest, { isCoordinator: isCoordinator(), errorText }) },
  interviewers: { roles: ['coordinator'], label: 'nav_interviewers', render: showInterviewers },
  accounts: { roles: ['admin'], label: 'nav_accounts', render: showAccounts },
  password: { roles: ROLES, label: 'nav_password', render: showPassword },
};

/** The route: the page's name and what follows it (`#/questionnaires/SLUG`). */
function currentRoute() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { name: name || 'questionnaires', rest: rest.filter(Boolean) };
}

const currentPage = () => currentRoute().name;

/** The builder on screen, if any: its pending save is finished before leaving it. */
let builder = null;

/** A short text for an API error: its message in the interface language, else a generic one. */
function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 429 && e.retryAfter) return t('too_many', { s: e.retryAfter });
    const text = msg(e.body);
    if (text) return text;
    return `HTTP ${e.status}`;
  }
  return t('network_error');
}

function renderChrome() {
  document.documentElement.lang = getLang();
  document.title = t('title');
  const skip = document.querySelector('.skip');
  if (skip) skip.textContent = t('skip_to_content');

  const sw = document.getElementById('lang');
  const focusedLang = sw.contains(document.activeElement) ? document.activeElement.lang : null;
  clear(sw);
  sw.setAttribute('aria-label', t('lang_switch'));
  for (const l of LANGS) {
    const b = el('button', { type: 'button', class: 'lang-btn', 'aria-pressed': String(l === getLang()), lang: l }, l.toUpperCase());
    b.addEventListener('click', () => {
      if (l === getLang()) return;
      setLang(l);
      route();
    });
    sw.append(b);
    if (l === focusedLang) b.focus();
  }

  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav_label'));
  clear(nav);
  if (!me) return;
  const page = currentPage();
  for (const [name, p] of Object.entries(PAGES)) {
    if (!allowed(p)) continue;
    nav.append(el('a', { href: `#/${name}`, 'aria-current': name === page ? 'page' : null }, t(p.label)));
  }
  nav.append(el('span', { class: 'who' }, t('signed_in_as', { name: me.username, role: t(`role_${me.role}`) })));
  const out = el('button', { type: 'button', class: 'sign-out' }, t('sign_out'));
  out.addEventListener('click', signOut);
  nav.append(out);
}

/** A labelled control: the label beside it (not around it, so that the control's own text
 * is not part of its name). */
function field(id, label, control) {
  return el('div', { class: 'field' }, el('label', { for: id }, label), control);
}

const allowed = (page) => me && (me.role === 'admin' || page.roles.includes(me.role));

async function route() {
  if (builder) {
    await builder.flush();
    builder = null;
  }
  renderChrome();
  const root = main();
  if (!me) {
    showSignIn();
    return;
  }
  const { name, rest } = currentRoute();
  const page = PAGES[name];
  clear(root);
  if (!page) {
    root.append(el('p', { class: 'card' }, t('not_found')));
    return;
  }
  if (!allowed(page)) {
    root.append(el('p', { class: 'card', role: 'alert' }, t('not_allowed')));
    return;
  }
  root.append(el('p', { class: 'loading' }, t('loading')));
  try {
    await page.render(root, rest);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // the session ended: signed out
    clear(root);
    root.append(el('p', { class: 'card banner-error', role: 'alert' }, errorText(e)));
  }
}

// ---------------------------------------------------------------------------------------
// Signing in and out

function showSignIn(notice) {
  const root = main();
  clear(root);
  const error = el('p', { class: 'form-error', role: 'alert', id: 'sign-in-error' }, notice || '');
  const username = el('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, t('sign_in'));
  const form = el('form', { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    el('h1', { id: 'sign-in-title' }, t('sign_in_title')),
    el('p', { class: 'muted' }, t('sign_in_intro')),
    field('username', t('username'), username),
    field('password', t('password'), password),
    error,
    submit,
    el('p', { class: 'aside' }, `${t('interviewer_hint')} `, el('a', { href: '/app/' }, t('interviewer_link'))),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    submit.textContent = t('signing_in');
    try {
      const r = await api('POST', '/api/v1/auth/login', {
        username: username.value.trim().toLowerCase(),
        password: password.value,
      });
      setToken(r.token);
      me = await api('GET', '/api/v1/auth/me');
      if (!location.hash) location.hash = '#/questionnaires';
      await route();
      main().focus();
    } catch (e) {
      error.textContent = errorText(e);
      submit.disabled = false;
      submit.textContent = t('sign_in');
      password.select();
    }
  });
  root.append(form);
  username.focus();
}

async function signOut() {
  try { await api('POST', '/api/v1/auth/logout'); } catch (_) { /* ended anyway */ }
  setToken(null);
  me = null;
  renderChrome();
  showSignIn(t('signed_out'));
}

whenSessionEnds(() => {
  me = null;
  renderChrome();
  showSignIn(t('session_ended'));
});

// ---------------------------------------------------------------------------------------
// Questionnaires

const isCoordinator = () => me && (me.role === 'admin' || me.role === 'coordinator');

/** `#/questionnaires`: the list; `#/questionnaires/SLUG`: its builder (coordinators);
 * `#/questionnaires/SLUG/summary`: its responses' summaries (readers). */
async function questionnairesPage(root, rest) {
  if (!rest.length) return showQuestionnaires(root);
  if (rest[1] === 'summary') return showSummaries(root, rest[0]);
  if (!isCoordinator()) {
    clear(root);
    root.append(el('p', { class: 'card', role: 'alert' }, t('not_allowed')));
    return undefined;
  }
  builder = await showBuilder(root, rest[0], { canEdit: true });
  return undefined;
}

/** A new questionnaire (title and slug), created with an empty draft, opened in the builder. */
function newQuestionnaireForm() {
  const error = el('p', { class: 'form-error', role: 'alert' });
  const title = el('input', { id: 'new-q-title', required: true, autocomplete: 'off' });
  const slug = el('input', { id: 'new-q-slug', required: true, autocomplete: 'off', spellcheck: 'false' });
  let slugTouched = false;
  slug.addEventListener('input', () => { slugTouched = true; });
  title.addEventListener('input', () => {
    if (slugTouched) return;
    slug.value = title.value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
      .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  });
  const form = el('form', { class: 'card', 'aria-labelledby': 'new-q' },
    el('h2', { id: 'new-q' }, t('new_questionnaire')),
    el('div', { class: 'inline-form' },
      field('new-q-title', t('new_title'), title),
      field('new-q-slug', t('new_slug'), slug),
      el('button', { type: 'submit', class: 'btn btn-primary' }, t('new_create'))),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const document = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      title: title.value.trim(),
      'x-languages': [getLang()],
      properties: {},
      additionalProperties: false,
    };
    try {
      await api('POST', '/api/v1/questionnaires', { slug: slug.value.trim(), document });
      location.hash = `#/questionnaires/${encodeURIComponent(slug.value.trim())}`;
    } catch (e) {
      error.textContent = e.body?.errors?.[0] ? msg(e.body.errors[0]) : errorText(e);
    }
  });
  return form;
}

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** An ODK XLSForm (`.xlsx`) converted by the server (nothing saved), its report row by row,
 * then created as a new questionnaire and opened in the builder. */
function xlsformImport() {
  const report = el('div', { class: 'xls-report', 'aria-live': 'polite' });
  const file = el('input', { id: 'xlsform-file', type: 'file', accept: `.xlsx,${XLSX}` });
  const issues = (list) => el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, t('x_sheet')), el('th', { scope: 'col' }, t('x_row')),
      el('th', { scope: 'col' }, t('x_column')), el('th', { scope: 'col' }, t('x_message')))),
    el('tbody', {}, list.map((w) => el('tr', {},
      el('td', {}, w.sheet), el('td', {}, w.row ?? ''), el('td', {}, w.column ?? ''), el('td', {}, msg(w)))))));
  file.addEventListener('change', async () => {
    clear(report);
    const f = file.files?.[0];
    if (!f) return;
    report.append(el('p', { class: 'muted' }, t('x_reading', { name: f.name })));
    let converted;
    try {
      converted = await api('POST', '/api/v1/xlsform', f, XLSX);
    } catch (e) {
      clear(report);
      report.append(el('div', { class: 'banner banner-error', role: 'alert' },
        el('strong', {}, t('x_refused', { name: f.name })), el('p', {}, errorText(e))),
      e.body?.errors?.length ? issues(e.body.errors) : null);
      return;
    }
    clear(report);
    const doc = converted.document;
    const count = Object.keys(doc.properties || {}).length;
    report.append(el('p', { role: 'status' }, t('x_converted', { title: doc.title, n: count, w: converted.warnings.length })));
    if (converted.warnings.length) report.append(el('h3', {}, t('x_warnings')), issues(converted.warnings));
    const error = el('p', { class: 'form-error', role: 'alert' });
    const slug = el('input', { id: 'xlsform-slug', value: converted.slug || '', required: true, spellcheck: 'false' });
    const create = el('form', { class: 'inline-form' },
      field('xlsform-slug', t('new_slug'), slug),
      el('button', { type: 'submit', class: 'btn btn-primary' }, t('x_create')));
    create.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      try {
        await api('POST', '/api/v1/questionnaires', { slug: slug.value.trim(), document: doc });
        location.hash = `#/questionnaires/${encodeURIComponent(slug.value.trim())}`;
      } catch (e) {
        error.textContent = e.body?.errors?.[0] ? msg(e.body.errors[0]) : errorText(e);
      }
    });
    report.append(create, error);
  });
  return el('section', { class: 'card', 'aria-labelledby': 'xlsform-title' },
    el('h2', { id: 'xlsform-title' }, t('x_title')),
    el('p', { class: 'muted' }, t('x_intro')),
    field('xlsform-file', t('x_file'), file),
    report);
}

async function showQuestionnaires(root) {
  const { questionnaires } = await api('GET', '/api/v1/questionnaires');
  clear(root);
  root.append(el('h1', {}, t('questionnaires')));
  if (isCoordinator()) root.append(newQuestionnaireForm(), xlsformImport());
  if (!questionnaires.length) {
    root.append(el('p', { class: 'card' }, t('no_questionnaires')));
    return;
  }
  const rows = questionnaires.map((q) => {
    const status = q.latest_version
      ? [el('span', { class: 'pill' }, t('status_published', { n: q.latest_version, date: formatDate(q.published_at) })),
        q.draft_changed ? [' ', el('span', { class: 'pill pill-warn' }, t('status_draft_changed'))] : null]
      : el('span', { class: 'pill pill-off' }, t('status_draft'));
    const responses = q.responses.length
      ? q.responses.map((v) => t('version_short', { n: v.version, count: v.responses })).join(' · ')
      : t('responses_none');
    const name = isCoordinator()
      ? el('a', { href: `#/questionnaires/${encodeURIComponent(q.slug)}` }, q.title || q.slug)
      : q.title || q.slug;
    return el('tr', { 'data-slug': q.slug },
      el('th', { scope: 'row' }, name, el('div', { class: 'small muted' }, q.slug),
        q.latest_version ? el('div', { class: 'small' }, el('a', { href: `#/responses/${encodeURIComponent(q.slug)}` }, t('r_read_link'))) : null),
      el('td', {}, status),
      el('td', { class: 'responses' }, responses,
        q.responses.length ? [' ', el('a', { href: `#/questionnaires/${encodeURIComponent(q.slug)}/summary`, class: 'summary-link', 'aria-label': t('s_link_of', { title: q.title || q.slug }) }, t('s_link'))] : null),
      el('td', {}, q.last_response_at ? formatDate(q.last_response_at) : t('never')));
  });
  root.append(el('div', { class: 'table-wrap' },
    el('table', { class: 'data' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('col_title')),
        el('th', { scope: 'col' }, t('col_status')),
        el('th', { scope: 'col' }, t('col_responses')),
        el('th', { scope: 'col' }, t('col_last_response')))),
      el('tbody', {}, rows))));
}

// ---------------------------------------------------------------------------------------
// Interviewers and their phones (coordinators)

/** How long an enrolment code lasts (the server's `ENROLMENT_CODE_TTL`). */
const CODE_DAYS = 7;

const enrolLink = (code) => `${location.origin}/app/#enrol=${encodeURIComponent(code)}`;

/** An `<img>` of the QR code of `text`, drawn by the server (`POST /api/v1/qr`). */
async function qrImage(text, alt) {
  const res = await fetch('/api/v1/qr', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${getToken()}` },
    body: JSON.stringify({ text }),
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  return el('img', { class: 'qr', src: url, alt, width: 256, height: 256 });
}

/** The printable sheet of one interviewer's enrolment: name, QR code, the code in letters,
 * three lines of instructions. */
async function enrolmentSheet(name, code) {
  const expires = formatDate(new Date(Date.now() + CODE_DAYS * 86400_000).toISOString());
  return el('section', { class: 'sheet' },
    el('h2', {}, t('sheet_title', { name })),
    await qrImage(enrolLink(code), t('qr_alt', { name })),
    el('p', { class: 'code-letters' }, code),
    el('ol', { class: 'steps' },
      el('li', {}, t('sheet_step1')),
      el('li', {}, t('sheet_step2')),
      el('li', {}, t('sheet_step3', { app: `${location.origin}/app/` }))),
    el('p', { class: 'small' }, t('sheet_expires', { date: expires })));
}

/** Prints `sheets` alone (the rest of the page is hidden from print by the style sheet). */
function printSheets(sheets) {
  const box = document.getElementById('print-sheets') || document.body.appendChild(el('div', { id: 'print-sheets', class: 'print-only' }));
  clear(box);
  box.append(...sheets);
  window.print();
}

/** The page of interviewers and phones; `shown`: `{name, code}` to show at once (the code
 * of the interviewer just created). */
async function showInterviewers(root, shown = null) {
  const [{ interviewers }, { devices }] = await Promise.all([
    api('GET', '/api/v1/interviewers'),
    api('GET', '/api/v1/devices'),
  ]);
  clear(root);
  root.append(el('h1', {}, t('interviewers')));

  const panel = el('div', { id: 'code-panel', 'aria-live': 'polite' });
  const showCode = async (name, code) => {
    clear(panel);
    const expires = formatDate(new Date(Date.now() + CODE_DAYS * 86400_000).toISOString());
    const print = el('button', { type: 'button', class: 'btn btn-secondary' }, t('print_sheet'));
    const close = el('button', { type: 'button', class: 'btn btn-ghost' }, t('close'));
    const link = enrolLink(code);
    const card = el('section', { class: 'card code-card', 'aria-labelledby': 'code-title' },
      el('h2', { id: 'code-title', tabindex: '-1' }, t('code_title', { name })),
      el('p', {}, t('code_intro', { name, date: expires })),
      el('div', { class: 'code-body' },
        await qrImage(link, t('qr_alt', { name })),
        el('dl', {},
          el('dt', {}, t('code_letters')), el('dd', { class: 'code-letters' }, code),
          el('dt', {}, t('enrol_link')), el('dd', { class: 'enrol-link' }, link))),
      el('div', { class: 'row' }, print, close));
    print.addEventListener('click', async () => printSheets([await enrolmentSheet(name, code)]));
    close.addEventListener('click', () => clear(panel));
    panel.append(card);
    card.querySelector('h2').focus();
  };

  // Create an interviewer.
  const error = el('p', { class: 'form-error', role: 'alert' });
  const name = el('input', { id: 'interviewer-name', autocomplete: 'off', required: true });
  const form = el('form', { class: 'card' },
    el('div', { class: 'inline-form' },
      field('interviewer-name', t('interviewer_name'), name),
      el('button', { type: 'submit', class: 'btn btn-primary' }, t('create_interviewer'))),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const created = await api('POST', '/api/v1/interviewers', { name: name.value });
      toast(t('created_interviewer', { name: created.name }), 'info');
      await showInterviewers(root, { name: created.name, code: created.enrolment_code });
    } catch (e) {
      error.textContent = errorText(e);
    }
  });
  root.append(form, panel);

  const active = (id) => devices.filter((d) => d.interviewer_id === id && !d.revoked_at).length;
  const newCode = async (i) => {
    try {
      const { enrolment_code: code } = await api('POST', `/api/v1/interviewers/${i.id}/enrolment-code`, {});
      await showCode(i.name, code);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  };
  if (!interviewers.length) {
    root.append(el('p', { class: 'card' }, t('no_interviewers')));
  } else {
    const printAll = el('button', { type: 'button', class: 'btn btn-secondary' }, t('print_all'));
    printAll.addEventListener('click', async () => {
      if (!window.confirm(t('print_all_confirm'))) return;
      const sheets = [];
      for (const i of interviewers) {
        const { enrolment_code: code } = await api('POST', `/api/v1/interviewers/${i.id}/enrolment-code`, {});
        sheets.push(await enrolmentSheet(i.name, code));
      }
      printSheets(sheets);
    });
    root.append(el('div', { class: 'row' }, printAll));
    root.append(el('div', { class: 'table-wrap' },
      el('table', { class: 'data' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, t('col_interviewer')),
          el('th', { scope: 'col' }, t('col_phones')),
          el('th', { scope: 'col' }, t('col_actions')))),
        el('tbody', {}, interviewers.map((i) => {
          const b = el('button', { type: 'button', class: 'btn btn-small btn-secondary', 'aria-label': t('new_code_for', { name: i.name }) }, t('new_code'));
          b.addEventListener('click', () => newCode(i));
          return el('tr', { 'data-interviewer': i.name },
            el('th', { scope: 'row' }, i.name),
            el('td', {}, String(active(i.id))),
            el('td', {}, b));
        })))));
  }

  root.append(el('h2', {}, t('phones')));
  root.append(devices.length ? phonesTable(root, devices) : el('p', { class: 'card' }, t('no_phones')));
  if (shown) await showCode(shown.name, shown.code);
}

/** The phones, with what each said at its last sync, and a way to revoke a lost one. */
function phonesTable(root, devices) {
  return el('div', { class: 'table-wrap' },
    el('table', { class: 'data' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('col_phone')),
        el('th', { scope: 'col' }, t('col_interviewer')),
        el('th', { scope: 'col' }, t('col_last_sync')),
        el('th', { scope: 'col' }, t('col_app_version')),
        el('th', { scope: 'col' }, t('col_waiting')),
        el('th', { scope: 'col' }, t('col_actions')))),
      el('tbody', {}, devices.map((d) => {
        let action;
        if (d.revoked_at) {
          action = el('span', { class: 'pill pill-off' }, t('revoked_on', { date: formatDate(d.revoked_at) }));
        } else {
          action = el('button', { type: 'button', class: 'btn btn-small btn-ghost' }, t('revoke'));
          action.addEventListener('click', async () => {
            if (!window.confirm(t('revoke_confirm', { name: d.name }))) return;
            try {
              await api('DELETE', `/api/v1/devices/${d.id}`);
              toast(t('revoked_done', { name: d.name }), 'info');
              await showInterviewers(root);
            } catch (e) {
              toast(errorText(e), 'error');
            }
          });
        }
        const state = d.device_state;
        return el('tr', { 'data-device': d.name },
          el('th', { scope: 'row' }, d.name),
          el('td', {}, d.interviewer_name),
          el('td', {}, d.last_sync_at ? formatDate(d.last_sync_at) : t('never')),
          el('td', {}, state?.app_version || t('never')),
          el('td', {}, state ? t('waiting', { queued: state.queued, drafts: state.drafts, rejected: state.rejected || 0 }) : t('never')),
          el('td', {}, action));
      }))));
}

// ---------------------------------------------------------------------------------------
// Staff accounts (admin)

async function showAccounts(root) {
  const { users } = await api('GET', '/api/v1/users');
  clear(root);
  root.append(el('h1', {}, t('accounts')), el('p', { class: 'muted' }, t('accounts_intro')));

  const rows = users.map((u) => accountRow(u));
  root.append(el('div', { class: 'table-wrap' },
    el('table', { class: 'data' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('col_username')),
        el('th', { scope: 'col' }, t('col_role')),
        el('th', { scope: 'col' }, t('col_state')),
        el('th', { scope: 'col' }, t('col_last_seen')),
        el('th', { scope: 'col' }, t('col_actions')))),
      el('tbody', {}, rows))));
  root.append(createAccountForm());
}

function accountRow(u) {
  const self = me && u.id === me.id;
  const change = async (body, done) => {
    try {
      await api('PATCH', `/api/v1/users/${u.id}`, body);
      toast(done, 'info');
      await route();
    } catch (e) {
      toast(errorText(e), 'error');
    }
  };
  const role = el('select', { 'aria-label': t('role_of', { name: u.username }), disabled: self },
    ROLES.map((r) => el('option', { value: r, selected: r === u.role }, t(`role_${r}`))));
  role.addEventListener('change', () => change({ role: role.value }, t('role_done', { name: u.username, role: t(`role_${role.value}`) })));
  const toggle = el('button', { type: 'button', class: 'btn btn-small btn-secondary', hidden: self },
    u.disabled ? t('enable') : t('disable'));
  toggle.addEventListener('click', () => change({ disabled: !u.disabled },
    t(u.disabled ? 'enabled_done' : 'disabled_done', { name: u.username })));
  const reset = el('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-expanded': 'false' }, t('reset_password'));
  const id = `pw-${u.id}`;
  const input = el('input', { id, type: 'password', autocomplete: 'new-password', required: true });
  const save = el('button', { type: 'submit', class: 'btn btn-small btn-primary' }, t('save'));
  const form = el('form', { class: 'inline-form', hidden: true },
    field(id, t('reset_prompt', { name: u.username }), input), save);
  reset.addEventListener('click', () => {
    form.hidden = !form.hidden;
    reset.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) input.focus();
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    change({ password: input.value }, t('reset_done', { name: u.username }));
  });
  return el('tr', { 'data-user': u.username },
    el('th', { scope: 'row' }, u.username, self ? ` ${t('you')}` : ''),
    el('td', {}, role),
    el('td', {}, el('span', { class: u.disabled ? 'pill pill-off' : 'pill' }, u.disabled ? t('state_disabled') : t('state_active'))),
    el('td', {}, u.last_seen_at ? formatDate(u.last_seen_at) : t('never')),
    el('td', {}, el('div', { class: 'actions' }, toggle, reset), form));
}

function createAccountForm() {
  const error = el('p', { class: 'form-error', role: 'alert' });
  const username = el('input', { id: 'new-username', autocomplete: 'off', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const role = el('select', { id: 'new-role' }, ROLES.map((r) => el('option', { value: r, selected: r === 'coordinator' }, t(`role_${r}`))));
  const password = el('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true });
  const form = el('form', { class: 'card', 'aria-labelledby': 'create-title' },
    el('h2', { id: 'create-title' }, t('create_account')),
    el('div', { class: 'inline-form' },
      field('new-username', t('username'), username),
      field('new-role', t('col_role'), role),
      field('new-password', t('password'), password),
      el('button', { type: 'submit', class: 'btn btn-primary' }, t('create'))),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const name = username.value.trim().toLowerCase();
      await api('POST', '/api/v1/users', { username: name, role: role.value, password: password.value });
      toast(t('created', { name }), 'info');
      await route();
    } catch (e) {
      error.textContent = errorText(e);
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------
// One's own password

async function showPassword(root) {
  clear(root);
  const error = el('p', { class: 'form-error', role: 'alert' });
  const passwordField = (id, label, autocomplete) => {
    const input = el('input', { id, type: 'password', autocomplete, required: true });
    return [input, field(id, label, input)];
  };
  const [current, currentField] = passwordField('current-password', t('current_password'), 'current-password');
  const [next, nextField] = passwordField('new-password', t('new_password'), 'new-password');
  const [again, againField] = passwordField('confirm-password', t('confirm_password'), 'new-password');
  const form = el('form', { class: 'card sign-in', 'aria-labelledby': 'password-title' },
    el('h1', { id: 'password-title' }, t('change_password')),
    currentField, nextField, againField, error,
    el('button', { type: 'submit', class: 'btn btn-primary' }, t('save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (next.value !== again.value) {
      error.textContent = t('passwords_differ');
      again.focus();
      return;
    }
    try {
      await api('PUT', '/api/v1/auth/password', { current_password: current.value, new_password: next.value });
      form.reset();
      toast(t('password_changed'), 'info');
      error.textContent = '';
    } catch (e) {
      const wrong = e.body?.errors?.[0];
      error.textContent = wrong ? msg(wrong) : errorText(e);
      (wrong?.path === '/current_password' ? current : next).focus();
    }
  });
  root.append(form);
}

// ---------------------------------------------------------------------------------------
// Start

async function start() {
  window.addEventListener('hashchange', route);
  if (getToken()) {
    try {
      me = await api('GET', '/api/v1/auth/me');
    } catch (_) {
      setToken(null);
      me = null;
    }
  }
  await route();
}

start();
