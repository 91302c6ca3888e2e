// Helpers shared by the dashboard's pages: HTML escaping, number and time formatting. No DOM work at import.

import {formatNumber, t} from "./i18n.js";

export const $ = (sel) => document.querySelector(sel);

const HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

/** Text made safe to put inside HTML (null and undefined become ""). */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** A number with fixed decimals in the page's language ("3.1" / "3,1"), or "—" when there is none. */
export function num(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : formatNumber(Number(value), digits);
}

/** UNIX seconds -> local HH:MM:SS.mmm ("—" for none). */
export function clock(t) {
  if (!t) return "—";
  const d = new Date(t * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

/** The page's local time offset, read once when it loads (as Date#getTimezoneOffset, in milliseconds). */
export const TZ_OFFSET_MS = new Date().getTimezoneOffset() * 60000;

/**
 * UNIX seconds -> the number Plotly's date axis reads as this moment in local time (it treats numbers as UTC
 * milliseconds, so the local offset is added). Numbers, not date strings: nothing to parse on every redraw.
 */
export function plotTime(t, offsetMs = TZ_OFFSET_MS) {
  return t * 1000 - offsetMs;
}

/** How long before `now` (both UNIX seconds) `at` was: "250 ms ago", "3.2 s ago" (in the page's language), or "—". */
export function ago(at, now) {
  if (!at) return "—";
  const ms = Math.max(0, (now - at) * 1000);
  return ms < 1000 ? t("time.ms_ago", {n: num(ms, 0)}) : t("time.s_ago", {n: num(ms / 1000, 1)});
}
