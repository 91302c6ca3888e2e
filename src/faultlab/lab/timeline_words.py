"""The episode timeline's words for report.html: the same `timeline.*` keys as the dashboard's JSON catalogs.

static/timeline.js says nothing of its own: each page hands it its words. The dashboard's come from its catalogs
(lab/dashboard/locale/*.json); report.html's from gettext, here (the page's JSON block carries each language's).
tests/unit/test_timeline_words.py checks both say the same, word for word, in each language.
"""

from __future__ import annotations

from faultlab.core import i18n
from faultlab.core.i18n import N_

WORDS = {
    "timeline.caption": N_("Replica {replica} · fault {kind}"),
    "timeline.no_fault": N_("none announced"),
    "timeline.origin": N_("Times are counted from the moment the fault became active."),
    "timeline.help": N_("Tab: next episode · ←/→: its events in time order · Home/End: the first and the last · "
                        "the pointer shows an event's text"),
    "timeline.label": N_("Replica {replica}, fault {kind}: {figures}. {count} events: the arrow keys step through "
                         "them."),
    "timeline.none": N_("no episode to show"),
    "timeline.not_recorded": N_("not recorded"),
    "timeline.replayed": N_("The detectors' states are replayed from the recorded observations by the monitor's "
                            "own detectors."),
    "timeline.lane.ttd": N_("TTD"),
    "timeline.lane.ttr": N_("TTR"),
    "timeline.lane.fault": N_("fault"),
    "timeline.lane.checks": N_("health checks"),
    "timeline.lane.detectors": N_("detectors"),
    "timeline.lane.monitor": N_("monitor"),
    "timeline.lane.voter": N_("voter"),
    "timeline.lane.recovery": N_("recovery"),
    "timeline.measure.consecutive_failures": N_("consecutive failures"),
    "timeline.measure.window_failures": N_("failures in the window"),
    "timeline.measure.phi": N_("phi"),
    "timeline.measure.success_pct": N_("success % in the window"),
    "timeline.outcome.ok": N_("check ok"),
    "timeline.outcome.slow": N_("slow"),
    "timeline.outcome.stale": N_("behind the log"),
    "timeline.outcome.timeout": N_("no answer in time"),
    "timeline.outcome.failed": N_("failed"),
    "timeline.voter.answered": N_("answered with it"),
    "timeline.voter.behind": N_("behind"),
    "timeline.voter.slow": N_("excluded as slow"),
    "timeline.voter.wrong": N_("excluded as wrong"),
    "timeline.voter.failed": N_("excluded as failed"),
    "timeline.legend.threshold": N_("threshold"),
    "timeline.legend.decides": N_("★ the detector that decides ON/OFF"),
    "timeline.legend.off": N_("OFF: it would turn OFF here"),
    "timeline.step": N_("{time}: {text}"),
    "timeline.event.injected": N_("the lab injects the fault {kind}"),
    "timeline.event.active": N_("the fault {kind} is active on replica {replica}"),
    "timeline.event.cleared": N_("the fault is cleared"),
    "timeline.event.process_exit": N_("the process dies"),
    "timeline.check.ok": N_("health check ok in {ms}"),
    "timeline.check.slow": N_("health check slow: answered in {ms}, over {limit}"),
    "timeline.check.stale": N_("health check answered in {ms}, but the replica lacks events the others applied"),
    "timeline.check.timeout": N_("health check: no answer within {limit}"),
    "timeline.check.failed": N_("health check failed ({kind})"),
    "timeline.detector.off": N_("{detector} would turn OFF here (TTD {ms})"),
    "timeline.detector.off_plain": N_("{detector} would turn OFF here"),
    "timeline.detector.reached": N_("{measure} {value} reached its threshold {threshold}"),
    "timeline.detector.fell": N_("{measure} {value} fell below its threshold {threshold}"),
    "timeline.monitor": N_("the monitor marks replica {replica} {status}: {reason}"),
    "timeline.reason.detector": N_("{kind} ({detector} detector)"),
    "timeline.reason.healthy": N_("healthy and caught up"),
    "timeline.reason.process_exit": N_("the process exited"),
    "timeline.reason.wrong_values": N_("wrong values"),
    "timeline.reason.stale": N_("stale: it lacks event {seq}, applied by the others {behind} before"),
    "timeline.reason.lagging": N_("lagging: it lacks event {seq}, applied by the others {behind} before; it "
                                  "applies but cannot keep up"),
    "timeline.reason.recorded": N_("“{text}” (as recorded)"),
    "timeline.voter.bucket": N_("voter, during these {ms}: {parts}"),
    "timeline.voter.part.answered": N_("reads answered with this replica: {n}"),
    "timeline.voter.part.behind": N_("reads that found it behind the majority: {n}"),
    "timeline.voter.part.slow": N_("reads that excluded it as slow: {n}"),
    "timeline.voter.part.wrong": N_("reads that excluded it as wrong: {n}"),
    "timeline.voter.part.failed": N_("reads that excluded it as failed: {n}"),
    "timeline.recovery.process_start": N_("the supervisor starts the process again"),
    "timeline.recovery.answered": N_("the new process answers its first health check"),
    "timeline.recovery.caught_up": N_("a health check finds it caught up with the log"),
    "timeline.recovery.recovered": N_("recovered: ON and caught up"),
    "timeline.span.ttd": N_("TTD {ms}: from the fault becoming active to its detection"),
    "timeline.span.ttr": N_("TTR {ms}: from the fault's end to recovery"),
    "timeline.span.ttd_open": N_("TTD: not detected"),
    "timeline.span.ttr_open": N_("TTR: not recovered"),
    "timeline.ttd": N_("TTD {ms}"),
    "timeline.ttr": N_("TTR {ms}"),
}


def timeline_words(lang: str) -> dict[str, str]:
    """Every word of the timeline in one language, by key."""
    gettext = i18n.gettext_for(lang)
    return {key: gettext(msgid) for key, msgid in WORDS.items()}
