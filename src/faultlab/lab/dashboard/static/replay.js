// A recorded run played back: the clock (1x to 20x, paused, stepped from one recorded moment to the next) and what
// the page shows at a moment of the run — each replica's state, the episodes as far as they had happened, the
// timelines of the episodes already over. Pure functions and one class; the page (replay_page.js) draws them.

export const SPEEDS = [1, 2, 5, 10, 20];
const EPISODE_TIMES = ["activated_at", "detected_at", "cleared_at", "recovered_at"];

/** The first moment of an episode (its activation, else its detection, ...); null when it has none. */
export function episodeStart(e) {
  const known = EPISODE_TIMES.map((k) => e[k]).filter((v) => v !== null && v !== undefined);
  return known.length ? Math.min(...known) : null;
}

/** An episode as the monitor knew it at `t`: each moment and its figure shown once it has happened; null before. */
export function episodeAt(e, t) {
  const start = episodeStart(e);
  if (start === null || start > t) return null;
  const seen = (k) => (e[k] !== null && e[k] !== undefined && e[k] <= t ? e[k] : null);
  const detected = seen("detected_at"), recovered = seen("recovered_at");
  return {...e, activated_at: seen("activated_at"), detected_at: detected, cleared_at: seen("cleared_at"),
    recovered_at: recovered, ttd_ms: detected === null ? null : e.ttd_ms, detected_by: detected === null ? null
      : e.detected_by, ttr_ms: recovered === null ? null : e.ttr_ms};
}

/** The failures table at `t`: the episodes begun by then, in the order they began. */
export function failuresAt(episodes, t) {
  return episodes.map((e) => episodeAt(e, t)).filter(Boolean).sort((a, b) => episodeStart(a) - episodeStart(b));
}

/** Each replica's card at `t`: the monitor's last state event by then (`recorded`), else — a run that did not record
 * them — OFF from an episode's detection to its recovery, ON otherwise. */
export function statusesAt(recording, t) {
  const out = [];
  for (const replica of recording.replicas) {
    const states = recording.events.filter((e) => e.type === "state" && e.replica === replica && e.at <= t);
    const open = (recording.episodes || []).filter((e) => e.replica === replica).map((e) => episodeAt(e, t))
      .filter((e) => e && e.recovered_at === null);
    const last = states[states.length - 1];
    if (recording.recorded.states) {
      out.push({replica, status: last ? last.status : "ON", since: last ? last.at : null,
        reason: last ? last.reason : null, open_fault: open.length ? open[0].fault_kind : null, faults: []});
    } else {
      const off = open.find((e) => e.detected_at !== null);
      out.push({replica, status: off ? "OFF" : "ON", since: off ? off.detected_at : null, reason: null,
        open_fault: open.length ? open[0].fault_kind : null, faults: []});
    }
  }
  return out;
}

/** The timelines of the episodes over by `t` (their window's end), in the order they began. */
export function timelinesAt(timelines, t) {
  return timelines.filter((x) => x.doc.window.end <= t).map((x) => x.doc);
}

/** Every recorded moment of the run, sorted and unique: state events and the episodes' moments. */
export function moments(recording) {
  const all = recording.events.map((e) => e.at);
  for (const e of recording.episodes || []) for (const k of EPISODE_TIMES) if (e[k] !== null && e[k] !== undefined) all.push(e[k]);
  return [...new Set(all.filter((v) => v >= recording.start && v <= recording.end))].sort((a, b) => a - b);
}

/** The replay's clock over [start, end]: played at `speed` (1x-20x), paused, or stepped to the next moment. */
export class ReplayClock {
  constructor(start, end) {
    this.start = start;
    this.end = end;
    this.at = start;
    this.speed = 1;
    this.playing = false;
  }

  get ended() {
    return this.at >= this.end;
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed)) throw new RangeError(`speed must be one of ${SPEEDS.join(", ")}`);
    this.speed = speed;
  }

  /** Move on by `wallMs` of real time at the current speed (nothing while paused); stops at the end. */
  advance(wallMs) {
    if (!this.playing) return;
    this.at = Math.min(this.end, this.at + (wallMs / 1000) * this.speed);
    if (this.ended) this.playing = false;
  }

  /** Pause, and go to the next of `times` after now (the end when none is left). */
  step(times) {
    this.playing = false;
    const next = times.find((v) => v > this.at + 1e-6);
    this.at = next === undefined ? this.end : next;
  }

  /** Play (from the start again once ended) or pause. */
  toggle() {
    if (this.playing) {
      this.playing = false;
    } else {
      if (this.ended) this.at = this.start;
      this.playing = true;
    }
  }
}
