// The console's interface strings, French first (the default), English second.

import { getLang } from '/app/i18n.js';

const STRINGS = {
  fr: {
    title: 'Parole — console',
    loading: 'Chargement…',
    lang_switch: 'Langue de l’interface',
    skip_to_content: 'Aller au contenu',
    nav_label: 'Menu principal',
    nav_questionnaires: 'Questionnaires',
    nav_accounts: 'Comptes',
    nav_password: 'Mon mot de passe',
    sign_out: 'Se déconnecter',
    signed_in_as: 'Connecté·e : {name} ({role})',
    role_admin: 'admin',
    role_coordinator: 'coordination',
    role_analyst: 'analyste',
    // sign-in
    sign_in_title: 'Se connecter',
    sign_in_intro: 'La console sert aux coordinations et aux analystes : questionnaires, enquêteurs, réponses.',
    username: 'Identifiant',
    password: 'Mot de passe',
    sign_in: 'Se connecter',
    signing_in: 'Connexion…',
    interviewer_hint: 'Vous êtes enquêteur ou enquêtrice ?',
    interviewer_link: 'Ouvrir l’application de collecte',
    session_ended: 'Votre session a pris fin : reconnectez-vous.',
    signed_out: 'Vous êtes déconnecté·e.',
    network_error: 'Le serveur ne répond pas. Vérifiez la connexion et réessayez.',
    too_many: 'Trop d’essais : réessayez dans {s} s.',
    // questionnaires
    questionnaires: 'Questionnaires',
    no_questionnaires: 'Aucun questionnaire pour l’instant.',
    col_title: 'Titre',
    col_status: 'État',
    col_responses: 'Réponses par version',
    col_last_response: 'Dernière réponse reçue',
    status_draft: 'brouillon, jamais publié',
    status_published: 'version {n} publiée le {date}',
    status_draft_changed: 'brouillon modifié depuis',
    responses_none: 'aucune',
    version_short: 'v{n} : {count}',
    never: '—',
    // accounts
    accounts: 'Comptes du personnel',
    accounts_intro: 'Les enquêteurs et enquêtrices n’ont pas de compte : ils s’inscrivent avec un code.',
    col_username: 'Identifiant',
    col_role: 'Rôle',
    col_state: 'État',
    col_last_seen: 'Dernière activité',
    col_actions: 'Actions',
    state_active: 'actif',
    state_disabled: 'désactivé',
    disable: 'Désactiver',
    enable: 'Réactiver',
    reset_password: 'Nouveau mot de passe',
    reset_prompt: 'Nouveau mot de passe pour {name} (8 caractères au moins) :',
    reset_done: 'Mot de passe de {name} changé ; ses sessions sont fermées.',
    disabled_done: 'Compte {name} désactivé ; ses sessions sont fermées.',
    enabled_done: 'Compte {name} réactivé.',
    role_done: '{name} a maintenant le rôle {role}.',
    role_of: 'Rôle de {name}',
    create_account: 'Créer un compte',
    create: 'Créer',
    created: 'Compte {name} créé.',
    you: '(vous)',
    // password
    change_password: 'Changer mon mot de passe',
    current_password: 'Mot de passe actuel',
    new_password: 'Nouveau mot de passe (8 caractères au moins)',
    confirm_password: 'Nouveau mot de passe, encore une fois',
    passwords_differ: 'Les deux nouveaux mots de passe ne sont pas les mêmes.',
    password_changed: 'Mot de passe changé. Vos autres sessions sont fermées.',
    save: 'Enregistrer',
    not_allowed: 'Cette page n’est pas ouverte à votre rôle.',
    not_found: 'Cette page n’existe pas.',
  },
  en: {
    title: 'Parole — console',
    loading: 'Loading…',
    lang_switch: 'Interface language',
    skip_to_content: 'Skip to content',
    nav_label: 'Main menu',
    nav_questionnaires: 'Questionnaires',
    nav_accounts: 'Accounts',
    nav_password: 'My password',
    sign_out: 'Sign out',
    signed_in_as: 'Signed in: {name} ({role})',
    role_admin: 'admin',
    role_coordinator: 'coordinator',
    role_analyst: 'analyst',
    sign_in_title: 'Sign in',
    sign_in_intro: 'The console is for coordinators and analysts: questionnaires, interviewers, responses.',
    username: 'Username',
    password: 'Password',
    sign_in: 'Sign in',
    signing_in: 'Signing in…',
    interviewer_hint: 'Are you an interviewer?',
    interviewer_link: 'Open the collection app',
    session_ended: 'Your session has ended: please sign in again.',
    signed_out: 'You are signed out.',
    network_error: 'The server does not answer. Check the connection and try again.',
    too_many: 'Too many attempts: try again in {s} s.',
    questionnaires: 'Questionnaires',
    no_questionnaires: 'No questionnaire yet.',
    col_title: 'Title',
    col_status: 'Status',
    col_responses: 'Responses per version',
    col_last_response: 'Last response received',
    status_draft: 'draft, never published',
    status_published: 'version {n} published on {date}',
    status_draft_changed: 'draft changed since',
    responses_none: 'none',
    version_short: 'v{n}: {count}',
    never: '—',
    accounts: 'Staff accounts',
    accounts_intro: 'Interviewers have no account: they enrol with a code.',
    col_username: 'Username',
    col_role: 'Role',
    col_state: 'State',
    col_last_seen: 'Last active',
    col_actions: 'Actions',
    state_active: 'active',
    state_disabled: 'disabled',
    disable: 'Disable',
    enable: 'Enable',
    reset_password: 'New password',
    reset_prompt: 'New password for {name} (at least 8 characters):',
    reset_done: 'Password of {name} changed; their sessions are closed.',
    disabled_done: 'Account {name} disabled; its sessions are closed.',
    enabled_done: 'Account {name} enabled again.',
    role_done: '{name} now has the role {role}.',
    role_of: 'Role of {name}',
    create_account: 'Create an account',
    create: 'Create',
    created: 'Account {name} created.',
    you: '(you)',
    change_password: 'Change my password',
    current_password: 'Current password',
    new_password: 'New password (at least 8 characters)',
    confirm_password: 'New password, once more',
    passwords_differ: 'The two new passwords differ.',
    password_changed: 'Password changed. Your other sessions are closed.',
    save: 'Save',
    not_allowed: 'This page is not open to your role.',
    not_found: 'This page does not exist.',
  },
};

// The language setting is the phone app's (one choice for both on one browser).
export { UI_LANGUAGES as LANGS, getLang, setLang } from '/app/i18n.js';

export function t(key, params = {}) {
  const s = STRINGS[getLang()][key] ?? STRINGS.fr[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

/** An API error body's message in the interface language. */
export function msg(body) {
  if (!body) return '';
  if (getLang() === 'en' && body.message_en) return body.message_en;
  return body.message || body.error || '';
}

export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(getLang() === 'fr' ? 'fr-FR' : 'en-GB', {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}
