// Interface strings, French first (the default), English second.
// `t(key, params)` picks the current interface language; `{name}` placeholders are replaced.

const STRINGS = {
  fr: {
    app_name: 'Parole',
    loading: 'Chargement…',
    load_failed: "L'application n'a pas pu démarrer.",
    online: 'En ligne',
    offline: 'Hors ligne',
    lang_switch: 'Langue de l’interface',
    skip_to_content: 'Aller au contenu',
    // enrolment
    enrol_title: 'Inscrire ce téléphone',
    enrol_intro: 'Ouvrez le lien d’inscription reçu de votre coordination, ou saisissez son code ci-dessous.',
    enrol_code: 'Code d’inscription',
    enrol_device: 'Nom de ce téléphone',
    enrol_device_default: 'Téléphone',
    enrol_submit: 'Inscrire ce téléphone',
    enrol_busy: 'Inscription en cours…',
    enrol_done: 'Téléphone inscrit.',
    enrol_code_missing: 'Saisissez le code d’inscription.',
    enrol_offline: 'Pas de réseau : l’inscription demande une connexion. Réessayez dès que vous avez du réseau.',
    reenrol: 'Réinscrire ce téléphone',
    reenrol_intro: 'Ouvrez le nouveau lien d’inscription reçu de votre coordination, ou saisissez son code. Les réponses non envoyées et leurs photos restent sur ce téléphone et partiront avec la nouvelle inscription.',
    reenrol_same_person: 'Le code doit être au nom de la même personne : le serveur refuse les réponses d’un autre enquêteur ou d’une autre enquêtrice.',
    reenrol_link: 'Ce téléphone est déjà inscrit. Un lien d’inscription a été ouvert : confirmez pour le réinscrire avec ce code.',
    reenrol_cancel: 'Annuler',
    reenrol_done: 'Téléphone réinscrit : les réponses en attente partent avec la nouvelle inscription.',
    reenrol_needed: 'Ce téléphone n’est plus autorisé à envoyer. Rien n’est perdu : réinscrivez-le avec un nouveau code de votre coordination, et les réponses en attente partiront.',
    enrol_link_broken: 'Ce lien d’inscription est abîmé (coupé ou modifié en route) : saisissez le code à la main, ou demandez un nouveau lien à votre coordination.',
    // list
    questionnaires: 'Questionnaires',
    no_questionnaires: 'Aucun questionnaire pour l’instant. Synchronisez quand vous avez du réseau.',
    version_n: 'version {n}',
    start: 'Commencer',
    drafts: 'Brouillons',
    no_drafts: 'Aucun brouillon.',
    resume: 'Reprendre',
    delete: 'Supprimer',
    delete_confirm: 'Supprimer définitivement ce brouillon ?',
    started_on: 'commencé le {date}',
    outbox: 'Boîte d’envoi',
    to_send: 'à envoyer',
    sent: 'envoyées',
    refused: 'refusées',
    conflicts: 'en conflit',
    sync_now: 'Synchroniser',
    syncing: 'Synchronisation…',
    sync_ok: 'Synchronisé : {accepted} envoyée(s), {rejected} refusée(s).',
    sync_nothing: 'Rien à envoyer.',
    sync_offline: 'Hors ligne : les réponses partiront automatiquement au retour du réseau.',
    sync_error: 'Échec de la synchronisation : {message}',
    last_sync: 'Dernière synchronisation : {time}',
    refused_title: 'Réponses refusées par le serveur',
    refused_reasons: 'Motifs du refus :',
    correct: 'Corriger et renvoyer',
    refused_retired: 'Aucune correction ne la fera accepter. Elle reste sur ce téléphone et dans la sauvegarde.',
    review: 'Revoir la réponse',
    conflict_title: 'Réponses en conflit',
    conflict_help: 'Le serveur a déjà une autre version de cette réponse. Rien n’a été écrasé ; contactez votre coordination.',
    storage: 'Stockage',
    storage_used: '{used} utilisés sur ce téléphone',
    storage_persistent: 'Stockage persistant : le navigateur ne l’effacera pas.',
    storage_not_persistent: 'Stockage non persistant : faites des sauvegardes régulières.',
    storage_unknown: 'Espace utilisé inconnu',
    backup: 'Télécharger une sauvegarde',
    backup_help: 'Un fichier avec toutes les réponses non envoyées (et leurs photos).',
    backup_done: 'Sauvegarde téléchargée : {file}',
    restore: 'Restaurer une sauvegarde',
    restore_help: 'Choisissez un fichier de sauvegarde Parole : ses réponses non envoyées sont reprises sur ce téléphone, puis envoyées ; celles que le serveur a déjà ne sont pas doublées.',
    restore_busy: 'Restauration…',
    restore_done: 'Sauvegarde restaurée : {taken} réponse(s) reprise(s), {held} déjà sur ce téléphone.',
    restore_damaged: '{n} photo(s) abîmée(s) n’ont pas pu être reprises.',
    restore_failed: 'Restauration impossible : {message}',
    device: 'Téléphone : {name}',
    app_version: 'Version {v}',
    update_ready: 'Une nouvelle version de Parole est prête.',
    reload: 'Recharger',
    // fill
    back: 'Retour',
    back_to_list: 'Retour à la liste',
    progress: '{done} / {total} réponses',
    q_lang: 'Langue du questionnaire',
    q_lang_short: 'Questions en',
    required: 'obligatoire',
    choose: '— Choisir —',
    yes: 'Oui',
    no: 'Non',
    chars: '{n} / {max} caractères',
    max_choices: '{max} choix au maximum',
    min_choices: 'au moins {min} choix',
    geo_get: 'Relever la position',
    geo_retry: 'Relever à nouveau',
    geo_busy: 'Recherche de la position…',
    geo_value: '{lat}, {lon} (précision ± {acc} m)',
    geo_none: 'Position non relevée.',
    geo_denied: 'La localisation est refusée : autorisez-la dans les réglages du navigateur.',
    geo_unavailable: 'Position introuvable : sortez à découvert et réessayez.',
    geo_timeout: 'La position a mis trop de temps : réessayez.',
    geo_unsupported: 'Ce navigateur ne donne pas la position.',
    clear: 'Effacer',
    photo_take: 'Prendre une photo',
    photo_retake: 'Reprendre la photo',
    photo_busy: 'Traitement de la photo…',
    photo_failed: 'Cette image n’a pas pu être lue. Essayez une autre photo.',
    photo_alt: 'Photo jointe',
    repeat_item: '{title} — n° {n}',
    repeat_add: 'Ajouter',
    repeat_remove: 'Retirer le n° {n}',
    repeat_remove_confirm: 'Retirer le n° {n} et ses réponses ?',
    finish: 'Terminer',
    finish_next: 'Terminer et nouvelle réponse',
    resend: 'Renvoyer',
    finish_errors: 'Le questionnaire n’est pas complet : {n} point(s) à corriger.',
    finish_done: 'Réponse terminée : elle est dans la boîte d’envoi.',
    resend_done: 'Réponse corrigée : elle repart au serveur.',
    saved: 'Enregistré',
    save_failed: 'Échec de l’enregistrement : {message}',
    general_errors: 'À corriger :',
    pattern_error: 'Cette réponse n’a pas la forme attendue : vérifiez-la.',
    hidden_dropped: 'Réponse retirée (question masquée).',
    refused_banner: 'Le serveur a refusé cette réponse :',
  },
  en: {
    app_name: 'Parole',
    loading: 'Loading…',
    load_failed: 'The app could not start.',
    online: 'Online',
    offline: 'Offline',
    lang_switch: 'Interface language',
    skip_to_content: 'Skip to the content',
    enrol_title: 'Enrol this phone',
    enrol_intro: 'Open the enrolment link you received from your coordinator, or type its code below.',
    enrol_code: 'Enrolment code',
    enrol_device: 'Name of this phone',
    enrol_device_default: 'Phone',
    enrol_submit: 'Enrol this phone',
    enrol_busy: 'Enrolling…',
    enrol_done: 'Phone enrolled.',
    enrol_code_missing: 'Type the enrolment code.',
    enrol_offline: 'No network: enrolling needs a connection. Try again when you have a signal.',
    reenrol: 'Re-enrol this phone',
    reenrol_intro: 'Open the new enrolment link you received from your coordinator, or type its code. The unsent responses and their photos stay on this phone and will be sent under the new enrolment.',
    reenrol_same_person: 'The code must be for the same person: the server refuses responses from another interviewer.',
    reenrol_link: 'This phone is already enrolled. An enrolment link was opened: confirm to re-enrol it with this code.',
    reenrol_cancel: 'Cancel',
    reenrol_done: 'Phone re-enrolled: the waiting responses are sent under the new enrolment.',
    reenrol_needed: 'This phone may no longer send. Nothing is lost: re-enrol it with a new code from your coordinator, and the waiting responses will be sent.',
    enrol_link_broken: 'This enrolment link is damaged (cut or changed on its way): type the code by hand, or ask your coordinator for a new link.',
    questionnaires: 'Questionnaires',
    no_questionnaires: 'No questionnaire yet. Sync when you have a network.',
    version_n: 'version {n}',
    start: 'Start',
    drafts: 'Drafts',
    no_drafts: 'No drafts.',
    resume: 'Resume',
    delete: 'Delete',
    delete_confirm: 'Delete this draft for good?',
    started_on: 'started {date}',
    outbox: 'Outbox',
    to_send: 'to send',
    sent: 'sent',
    refused: 'refused',
    conflicts: 'in conflict',
    sync_now: 'Sync',
    syncing: 'Syncing…',
    sync_ok: 'Synced: {accepted} sent, {rejected} refused.',
    sync_nothing: 'Nothing to send.',
    sync_offline: 'Offline: responses will be sent automatically when the network returns.',
    sync_error: 'Sync failed: {message}',
    last_sync: 'Last sync: {time}',
    refused_title: 'Responses refused by the server',
    refused_reasons: 'Reasons:',
    correct: 'Correct and resend',
    refused_retired: 'No correction will get it accepted. It stays on this phone and in the backup.',
    review: 'Review the response',
    conflict_title: 'Responses in conflict',
    conflict_help: 'The server already holds another version of this response. Nothing was overwritten; contact your coordinator.',
    storage: 'Storage',
    storage_used: '{used} used on this phone',
    storage_persistent: 'Persistent storage: the browser will not erase it.',
    storage_not_persistent: 'Storage not persistent: make regular backups.',
    storage_unknown: 'Space used unknown',
    backup: 'Download a backup',
    backup_help: 'A file with every unsent response (and its photos).',
    backup_done: 'Backup downloaded: {file}',
    restore: 'Restore a backup',
    restore_help: 'Pick a Parole backup file: its unsent responses are taken in on this phone, then sent; those the server already has are not doubled.',
    restore_busy: 'Restoring…',
    restore_done: 'Backup restored: {taken} response(s) taken in, {held} already on this phone.',
    restore_damaged: '{n} damaged photo(s) could not be taken in.',
    restore_failed: 'Restore failed: {message}',
    device: 'Phone: {name}',
    app_version: 'Version {v}',
    update_ready: 'A new version of Parole is ready.',
    reload: 'Reload',
    back: 'Back',
    back_to_list: 'Back to the list',
    progress: '{done} / {total} answered',
    q_lang: 'Questionnaire language',
    q_lang_short: 'Questions in',
    required: 'required',
    choose: '— Choose —',
    yes: 'Yes',
    no: 'No',
    chars: '{n} / {max} characters',
    max_choices: 'at most {max} choices',
    min_choices: 'at least {min} choices',
    geo_get: 'Get the location',
    geo_retry: 'Get it again',
    geo_busy: 'Finding the location…',
    geo_value: '{lat}, {lon} (accuracy ± {acc} m)',
    geo_none: 'No location yet.',
    geo_denied: 'Location is blocked: allow it in the browser settings.',
    geo_unavailable: 'Location not found: move into the open and retry.',
    geo_timeout: 'The location took too long: retry.',
    geo_unsupported: 'This browser cannot give the location.',
    clear: 'Clear',
    photo_take: 'Take a photo',
    photo_retake: 'Retake the photo',
    photo_busy: 'Processing the photo…',
    photo_failed: 'This image could not be read. Try another photo.',
    photo_alt: 'Attached photo',
    repeat_item: '{title} — no. {n}',
    repeat_add: 'Add',
    repeat_remove: 'Remove no. {n}',
    repeat_remove_confirm: 'Remove no. {n} and its answers?',
    finish: 'Finish',
    finish_next: 'Finish and start another',
    resend: 'Resend',
    finish_errors: 'The questionnaire is not complete: {n} thing(s) to fix.',
    finish_done: 'Response finished: it is in the outbox.',
    resend_done: 'Response corrected: it goes back to the server.',
    saved: 'Saved',
    save_failed: 'Saving failed: {message}',
    general_errors: 'To fix:',
    pattern_error: 'This answer does not have the expected form: check it.',
    hidden_dropped: 'Answer removed (question hidden).',
    refused_banner: 'The server refused this response:',
  },
};

export const UI_LANGUAGES = ['fr', 'en'];
const KEY = 'parole.ui-lang';
let lang = 'fr';
try {
  const saved = localStorage.getItem(KEY);
  if (UI_LANGUAGES.includes(saved)) lang = saved;
} catch (_) { /* storage may be blocked: French */ }

export function getLang() {
  return lang;
}

export function setLang(l) {
  if (!UI_LANGUAGES.includes(l)) return;
  lang = l;
  document.documentElement.lang = l;
  try { localStorage.setItem(KEY, l); } catch (_) { /* ignore */ }
}

export function t(key, params = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.fr[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

/** The message of an error object in the interface language (`message` is French). */
export function msg(e) {
  if (!e) return '';
  if (lang === 'en' && e.message_en) return e.message_en;
  return e.message || e.message_en || String(e);
}

export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

export function formatBytes(n) {
  const units = lang === 'fr' ? ['o', 'Ko', 'Mo', 'Go'] : ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  const s = v.toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', { maximumFractionDigits: i ? 1 : 0 });
  return `${s} ${units[i]}`;
}
