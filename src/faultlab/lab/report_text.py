"""report.json's recorded sentences (what a run missed, why it stopped) in the reader's language.

report.json is data and stays in English whatever the language of the run; its `missed` lists and `aborted`
reason are English sentences of a few known shapes (`Thresholds.check`, `build_report`). They are matched here
and said again in the reader's language; a sentence of an unknown shape is shown as it was recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from faultlab.core import i18n
from faultlab.core.i18n import N_

Gettext = Callable[[str], str]
# (pattern, message): the message's {fields} are the pattern's groups; a group named `detail` is itself translated.
SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), message) for pattern, message in (
    (r"fault not detected \(no TTD\)", N_("fault not detected (no TTD)")),
    (r"not detected", N_("not detected")),
    (r"no recovery \(no TTR\)", N_("no recovery (no TTR)")),
    (r"TTD (?P<value>[\d.]+) ms > (?P<limit>[\d.]+) ms", N_("TTD {value} ms > {limit} ms")),
    (r"TTR (?P<value>[\d.]+) ms > (?P<limit>[\d.]+) ms", N_("TTR {value} ms > {limit} ms")),
    (r"quorum loss not observed \(the voter never answered 'quorum not reached'\)",
     N_("quorum loss not observed (the voter never answered 'quorum not reached')")),
    (r"quorum not regained after the replicas came back", N_("quorum not regained after the replicas came back")),
    (r"no request completed", N_("no request completed")),
    (r"success rate (?P<value>[\d.]+) % < (?P<limit>[\d.]+) %", N_("success rate {value} % < {limit} %")),
    (r"p95 (?P<value>[\d.]+) ms > (?P<limit>[\d.]+) ms", N_("p95 {value} ms > {limit} ms")),
    (r"interrupted \(Ctrl-C\): partial results", N_("interrupted (Ctrl-C): partial results")),
    (r"interrupted \(Ctrl-C\) during this phase", N_("interrupted (Ctrl-C) during this phase")),
    (r"only (?P<done>\d+) of (?P<expected>\d+) phase runs completed",
     N_("only {done} of {expected} phase runs completed")),
    (r"data check: (?P<value>\w+)", N_("data check: {value}")),
    (r"stopped by an abort condition: (?P<detail>.*)", N_("stopped by an abort condition: {detail}")),
    (r"steady state not restored after the run: (?P<detail>.*)",
     N_("steady state not restored after the run: {detail}")),
    (r"injection failed: (?P<detail>.*)", N_("injection failed: {detail}")),
    (r"error: (?P<detail>.*)", N_("error: {detail}")),
    (r"aborted: (?P<detail>.*)", N_("aborted: {detail}")),
    (r"repetition (?P<n>\d+): (?P<detail>.*)", N_("repetition {n}: {detail}")),
    (r"the lab is not healthy: (?P<detail>.*)", N_("the lab is not healthy: {detail}")),
    (r"(?P<phase>[a-z][a-z0-9-]*): (?P<detail>.*)", "{phase}: {detail}"),  # a phase's name stays as it is
))


def translate_message(text: str | None, gettext: Gettext | None = None) -> str:
    """One recorded sentence in the language of `gettext` (the active language by default)."""
    if text is None:
        return ""
    tr = gettext or i18n._
    for pattern, message in SHAPES:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        fields = match.groupdict()
        if "detail" in fields:
            fields["detail"] = translate_message(fields["detail"], tr)
        return (tr(message) if message != "{phase}: {detail}" else message).format(**fields)
    return text


def translate_messages(texts: Iterable[str] | None, gettext: Gettext | None = None) -> list[str]:
    return [translate_message(t, gettext) for t in texts or []]
