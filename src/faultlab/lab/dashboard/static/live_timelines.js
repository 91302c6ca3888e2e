// The live page's episode timelines: when to ask the dashboard for them (an episode began, changed or is still
// open), and drawing them with the timeline component (lab/static/timeline.js, served beside this file and handed in
// by the page) in the page's language. Asked only on the page's own updates (the stream's `health` messages): no
// timer of its own.

import {catalogEntries, lang} from "./i18n.js";

export const OPEN_EVERY_MS = 3000;  // while an episode is open, its timeline is asked again at most this often

/** What the page knows of the episodes, as one string: when it changes, the timelines are asked again. */
export function episodesKey(failures) {
  return (failures || []).map((e) => [e.replica, e.activated_at, e.detected_at, e.cleared_at, e.recovered_at]
    .join("/")).join(";");
}

/** Ask again? When the episodes changed, or one is open and the last answer is OPEN_EVERY_MS old; never while a
 * request is out. */
export function shouldRefresh(state, failures, nowMs) {
  if (state.inFlight) return false;
  if (episodesKey(failures) !== state.key) return true;
  const open = (failures || []).some((e) => e.recovered_at === null || e.recovered_at === undefined);
  return open && nowMs - state.askedAt >= OPEN_EVERY_MS;
}

/** Each fault kind's colour from the page's fault registry block (`#fault-kinds`). */
export function kindColours(registry) {
  return Object.fromEntries(((registry || {}).kinds || []).map((spec) => [spec.kind, spec.colour]));
}

const state = {key: null, askedAt: -Infinity, inFlight: false};

/** Called on each update of the episodes: fetch /api/timelines when needed and draw them into `container` with
 * `render` (the component's renderTimelines). */
export async function refreshTimelines(container, failures, registry, render) {
  const now = performance.now();
  if (!shouldRefresh(state, failures, now)) return;
  state.inFlight = true;
  state.askedAt = now;
  const key = episodesKey(failures);
  try {
    const response = await fetch("/api/timelines");
    if (!response.ok) return;
    const body = await response.json();
    render(container, body.timelines, {lang: lang(), words: catalogEntries("timeline."),
      colours: kindColours(registry)});
    state.key = key;
  } catch {
    // the dashboard did not answer: the next update asks again
  } finally {
    state.inFlight = false;
  }
}
