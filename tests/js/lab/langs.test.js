// The self-contained pages' language switch: which language a page shows first.
import assert from "node:assert/strict";
import {test} from "node:test";

import {pickLanguage} from "../../../src/faultlab/lab/static/langs.js";

test("#lang in the address wins, then the reader's choice, then the rendered language; only ones the page has", () => {
  assert.equal(pickLanguage("#lang=en", "es", "es", ["es", "en"]), "en");
  assert.equal(pickLanguage("#run=x&lang=es", null, "en", ["es", "en"]), "es");
  assert.equal(pickLanguage("", "en", "es", ["es", "en"]), "en");
  assert.equal(pickLanguage("", null, "es", ["es", "en"]), "es");
  assert.equal(pickLanguage("#lang=fr", "de", "en", ["es", "en"]), "en");
  assert.equal(pickLanguage("#lang=fr", null, "it", ["es", "en"]), "es");
});
