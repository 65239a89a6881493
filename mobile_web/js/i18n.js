// The app's own strings: mobile_web/i18n/<lang>.json (English and Spanish, both complete).
// The language is the officer's profile language when the page carries it (data-profile-lang
// on <html>), else the phone's. Elements name their string with data-i18n (text),
// data-i18n-label (aria-label) or data-i18n-ph (placeholder); scripts call t(key, vars).

export const LANGS = ["en", "es"];
let strings = {};
export let lang = "en";

export function pick(profile, phone) {
  const l = String(profile || phone || "en").slice(0, 2).toLowerCase();
  return LANGS.includes(l) ? l : "en";
}

export function t(key, vars = {}) {
  return String(strings[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
}

export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
}

export async function load() {
  const html = document.documentElement;
  lang = pick(html.dataset.profileLang, navigator.language);
  html.lang = lang;
  const fetchJson = async (l) => (await fetch(`/static/app/i18n/${l}.json`)).json();
  try {
    strings = await fetchJson("en");
    if (lang !== "en") strings = { ...strings, ...(await fetchJson(lang)) };
  } catch {
    // offline before the service worker cached the catalogue: the page's English stands
  }
  apply();
}
