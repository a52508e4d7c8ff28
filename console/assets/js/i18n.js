// Strings, one file per language (i18n/en.js, i18n/ro.js). The choice is kept in a cookie
// (a preference, not a secret); the browser's own language decides the first time.

import en from '../i18n/en.js';
import ro from '../i18n/ro.js';

const dictionaries = { en, ro };
export const languages = [['en', 'English'], ['ro', 'Română']];

function chosen() {
  const saved = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('berth_lang='));
  const value = saved ? saved.slice('berth_lang='.length) : (navigator.language || 'en').slice(0, 2);
  return dictionaries[value] ? value : 'en';
}

let current = chosen();

export const language = () => current;

export function setLanguage(value) {
  if (!dictionaries[value]) return;
  current = value;
  document.cookie = `berth_lang=${value}; Path=/; Max-Age=31536000; SameSite=Strict`;
  document.documentElement.lang = value;
}

/** The string for `key` in the current language, with `{name}` filled from `vars`. */
export function t(key, vars = {}, fallback = undefined) {
  const text = dictionaries[current][key] ?? en[key] ?? fallback ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

/** Keys one language has and another lacks (checked by the console's tests). */
export function missing() {
  const keys = new Set([...Object.keys(en), ...Object.keys(ro)]);
  return [...keys].filter((key) => !(key in en) || !(key in ro));
}

document.documentElement.lang = current;
