"""The episode timeline's words: report.html's (gettext) and the dashboard's (JSON catalogs) are the same keys and the
same text in each language, so the component says the same thing on both pages."""

from __future__ import annotations

import pytest

from faultlab.lab.dashboard.frontend import catalogs
from faultlab.lab.timeline_words import WORDS, timeline_words


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_reports_timeline_words_are_the_dashboards_word_for_word(lang: str) -> None:
    """Every `timeline.*` key of the dashboard's catalog is in the report's words with the very same text, and no
    other; in Spanish each is translated (not the English msgid, unless the word is the same in both)."""
    page = {k: v for k, v in catalogs()[lang].items() if k.startswith("timeline.")}
    assert timeline_words(lang) == page
    if lang == "es":
        same = {k for k, msgid in WORDS.items() if page[k] == msgid}
        assert same == {"timeline.lane.ttd", "timeline.lane.ttr", "timeline.lane.monitor",
                        "timeline.lane.checks", "timeline.measure.phi", "timeline.step", "timeline.ttd",
                        "timeline.ttr", "timeline.outcome.ok"}, same
