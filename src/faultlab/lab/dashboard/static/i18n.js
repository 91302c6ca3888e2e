// The pages' language: the JSON catalog the page carries (the dashboard renders each page in the reader's language
// and puts that language's messages in a JSON block), t() to say a message in it, and the switch that changes the
// language (remembered in a cookie the dashboard reads, and in localStorage for report.html). No DOM work at import.

export const LANG_COOKIE = "faultlab_lang";
export const LANG_KEY = "faultlab-lang";  // report.html reads the same choice
const YEAR_S = 365 * 24 * 3600;

let catalog = null;

/** Use this language's messages (the tests do; a page uses the block the dashboard rendered into it). */
export function useCatalog(lang, messages) {
  catalog = {lang, messages};
}

function current() {
  if (catalog === null) {
    const block = typeof document === "undefined" ? null : document.getElementById("i18n");
    catalog = block ? JSON.parse(block.textContent) : {lang: "en", messages: {}};
  }
  return catalog;
}

/** The language the page speaks ("es" or "en"). */
export function lang() {
  return current().lang;
}

/** A message in the page's language, its {fields} filled from `params` (a missing key shows as itself). */
export function t(key, params = {}) {
  const text = current().messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The messages whose keys start with `prefix`, by key (a component handed its words, as the timeline is). */
export function catalogEntries(prefix) {
  return Object.fromEntries(Object.entries(current().messages).filter(([key]) => key.startsWith(prefix)));
}

/** A number with fixed decimals in the page's language ("3.1" / "3,1"), without thousands separators. */
export function formatNumber(value, digits) {
  return new Intl.NumberFormat(lang(), {minimumFractionDigits: digits, maximumFractionDigits: digits,
    useGrouping: false}).format(value);
}

/** The cookie that makes the dashboard render its pages in `code` (a year, this site only). */
export function languageCookie(code) {
  return `${LANG_COOKIE}=${encodeURIComponent(code)}; path=/; max-age=${YEAR_S}; samesite=lax`;
}

/** The language buttons: the chosen language is remembered and the page is loaded again in it. */
export function setupLanguageSwitch() {
  for (const button of document.querySelectorAll("[data-set-lang]")) {
    button.addEventListener("click", () => {
      const code = button.dataset.setLang;
      document.cookie = languageCookie(code);
      try { localStorage.setItem(LANG_KEY, code); } catch { /* no storage: the cookie is enough here */ }
      const url = new URL(location.href);
      url.searchParams.delete("lang");
      location.replace(url.toString());
    });
  }
}
