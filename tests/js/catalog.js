// The dashboard's JSON catalogs for the node tests: the pages get theirs from a block the dashboard renders.
import {readFileSync} from "node:fs";

import {useCatalog} from "../../src/faultlab/lab/dashboard/static/i18n.js";

export const LOCALE = new URL("../../src/faultlab/lab/dashboard/locale/", import.meta.url);

/** The messages of one language, by key. */
export function messages(lang) {
  return JSON.parse(readFileSync(new URL(`${lang}.json`, LOCALE), "utf8"));
}

/** Make the pages' modules speak `lang` (as a page rendered in that language would). */
export function useLanguage(lang) {
  useCatalog(lang, messages(lang));
}
