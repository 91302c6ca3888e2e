// eslint (flat config): the recommended rules on the front-end's JavaScript, browser code and node tests apart.
import js from "@eslint/js";
import globals from "globals";

export default [
  {ignores: ["node_modules/", "**/.venv/", "src/faultlab/vendor/", "build/", ".bench/"]},  // .bench: other refs checked out by benchmarks/paired.py
  js.configs.recommended,
  {
    files: ["src/**/*.js"],
    languageOptions: {ecmaVersion: 2022, sourceType: "module", globals: {...globals.browser, Plotly: "readonly"}},
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: {ecmaVersion: 2022, sourceType: "module", globals: {...globals.node}},
  },
  {
    rules: {
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
      "no-unused-vars": ["error", {argsIgnorePattern: "^_"}],
    },
  },
];
