// The pages' language: the JSON catalog the page carries (the dashboard renders each page in the reader's language
// and puts that language's messages in a JSON block, with every recorded sentence's code and its message), t() to say
// a message in it, say() to say a recorded sentence ({code, params, text}: a monitor's reason, what a phase missed),
// and the switch that changes the language (remembered in a cookie the dashboard reads, and in localStorage for
// report.html). No DOM work at import.

export const LANG_COOKIE = "faultlab_lang";
export const LANG_KEY = "faultlab-lang";  // report.html reads the same choice
const YEAR_S = 365 * 24 * 3600;

let catalog = null;

/** Use this language's messages and codes' messages (the tests do; a page uses the block the dashboard rendered into
 * it). */
export function useCatalog(lang, messages, codes = {}) {
  catalog = {lang, messages, codes};
}

function current() {
  if (catalog === null) {
    const block = typeof document === "undefined" ? null : document.getElementById("i18n");
    catalog = block ? JSON.parse(block.textContent) : {lang: "en", messages: {}, codes: {}};
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

/** A number with fixed decimals in the page's language ("1,234.5" / "1.234,5"), as the reports write it. */
export function formatNumber(value, digits) {
  return new Intl.NumberFormat(lang(), {minimumFractionDigits: digits, maximumFractionDigits: digits,
    useGrouping: "always"}).format(value);
}

/** A recorded figure with the decimals it has, up to 3, in the page's language ("2.167,5", "91,2", "95"). */
export function formatValue(value) {
  return new Intl.NumberFormat(lang(), {maximumFractionDigits: 3, useGrouping: "always"}).format(value);
}

/** Plotly's `separators` for the page's language: its decimal mark, then its thousands mark (",." in Spanish). */
export function plotSeparators() {
  const parts = new Intl.NumberFormat(lang(), {useGrouping: "always"}).formatToParts(1234.5);
  const mark = (type, fallback) => (parts.find((p) => p.type === type) || {value: fallback}).value;
  return mark("decimal", ".") + mark("group", ",");
}

const isSaid = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && typeof v.code === "string"
  && ("text" in v || "params" in v);

function sayParam(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "boolean") return t(value ? "runs.yes" : "runs.no");
  if (typeof value === "number") return formatValue(value);
  if (Array.isArray(value)) return value.map(sayParam).join(value.some(isSaid) ? "; " : ", ") || "-";
  if (isSaid(value)) return say(value);
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => (typeof v === "string" ? `${k}: ${v}` : `${k} ${sayParam(v)}`))
      .join(", ");
  }
  return String(value);
}

/**
 * A recorded sentence in the page's language: its code's message (singular or plural by its count), its parameters
 * filled in — numbers with the language's separators, sentences inside it said too. A plain string (recorded before
 * codes, another system's words) is shown as recorded; a code this page does not know, as its English text.
 */
export function say(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) return value.map(say).join("; ");
  let message = (current().codes || {})[value.code];
  // a finding recorded before sentences had their shape: its parameters beside its code
  const params = value.params || Object.fromEntries(Object.entries(value).filter(([k]) => k !== "code" && k !== "text"));
  if (message === undefined) return String(value.text ?? value.code ?? "");
  if (Array.isArray(message)) {  // counted by a number, or by a list's length (the replicas it names)
    const count = Array.isArray(params[message[2]]) ? params[message[2]].length : params[message[2]];
    message = count === 1 ? message[0] : message[1];
  }
  return message.replace(/\{\{|\}\}|\{(\w+)\}/g, (whole, name) => {
    if (name === undefined) return whole[0];  // {{ and }}: a brace
    return name in params ? sayParam(params[name]) : whole;
  });
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
