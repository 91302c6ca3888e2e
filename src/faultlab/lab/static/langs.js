// The language switch of the self-contained pages (report.html, study.html): each page holds one view per language
// (div.lang[data-lang]) and buttons (.langs button[data-lang]); the switch shows one view, draws its charts and
// remembers the reader's choice. The pages inline this file before their own script (report_html.inline_modules);
// no DOM work at import.

export const LANG_KEY = "faultlab-lang";  // the dashboard's language buttons remember their choice under it too

/** The language to show: `#lang=xx` in the address (the dashboard's frame passes it), else the reader's last
 * choice, else the one the page was rendered in; only languages the page has. */
export function pickLanguage(hash, stored, rendered, available) {
  const wanted = [(hash.match(/lang=([a-z]{2})/) || [])[1], stored, rendered];
  return wanted.find((lang) => lang && available.includes(lang)) || available[0];
}

/** The reader's last choice, or null (a sandboxed frame has no storage). */
export function storedLanguage() {
  try { return localStorage.getItem(LANG_KEY); } catch { return null; }
}

/** Show one language's view, hide the others, then `draw(lang)` its charts (a hidden chart would be drawn at the
 * wrong size); `remember` keeps the choice for the next visit. */
export function showLanguage(lang, draw, remember = false) {
  for (const view of document.querySelectorAll("div.lang[data-lang]")) view.hidden = view.dataset.lang !== lang;
  for (const button of document.querySelectorAll(".langs button[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
  }
  document.documentElement.lang = lang;
  document.title = (document.querySelector(`div.lang[data-lang="${lang}"] h1`) || {}).textContent || document.title;
  draw(lang);
  if (remember) {
    try { localStorage.setItem(LANG_KEY, lang); } catch { /* no storage: the choice lasts this visit */ }
  }
}

/** The page's start: the language to show first, then a click on a button shows (and remembers) another. */
export function startLanguageSwitch(draw) {
  const available = [...document.querySelectorAll("div.lang[data-lang]")].map((v) => v.dataset.lang);
  showLanguage(pickLanguage(location.hash, storedLanguage(), document.documentElement.lang, available), draw);
  for (const button of document.querySelectorAll(".langs button[data-lang]")) {
    button.addEventListener("click", () => showLanguage(button.dataset.lang, draw, true));
  }
}
