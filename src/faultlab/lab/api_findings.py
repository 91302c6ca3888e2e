"""What the checks through a system's API found, as recorded sentences, and why each check matters.

A check records `{"code": "reserved_multiple", "params": {"product": "PROD-001", "reserved": 18, ...}, "text": ...}`
(core/said.py; the codes' messages are in core/codes.py with every other code's), said in the reader's language by
report.html and the console. `MATTERS` says, per check, why what it checks matters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import N_
from faultlab.core.said import Said, render, say

Finding = Said

MATTERS: dict[str, str] = {
    "replicas_converged": N_("Replicas that still differ once the load has stopped will not agree by themselves: "
                             "each answers differently, and a majority can mask only one wrong replica."),
    "stock_conserved": N_("Stock must neither appear nor vanish: available + reserved moves only with restocks; a "
                          "difference is units created or lost."),
    "reserved_matches_orders": N_("Reserved stock must be exactly what the accepted orders hold: more means orders "
                                  "taken more than once (several replicas writing one shared table), less means "
                                  "accepted orders lost."),
    "orders_leave_pending": N_("An order left PENDING was accepted and never decided: its customer never learns "
                               "whether it holds stock."),
    "incorrect_masked": N_("Majority voting exists to outvote one wrong replica: a wrong voted value means the voter "
                           "trusted the faulty replica (the fastest answer, or an average) instead of the majority."),
    "two_down_quorum": N_("With two of three replicas down there is no majority: the honest answer is 503 \"quorum "
                          "not reached\"; a value is a guess from one replica."),
    "monotonic_reads": N_("A client that has seen a newer value must never be shown an older one: going back in time "
                          "undoes what it was told."),
}


def finding(code: str, **params: Any) -> Finding:
    """A finding: its code and parameters (numbers, product ids, replica lists) and its English text, as report.json
    keeps it; KeyError for a code core/codes.py has no message for."""
    return say(code, **params)


def render_in(lang: str) -> Callable[[Any], str]:
    """A finding said in `lang` (for templates and the console); one recorded before findings had their text (its
    parameters beside its code) is said too."""
    return lambda found: render(found, lang)


def matters_in(lang: str) -> Callable[[str], str]:
    """Why a check matters, by its name, in one language ("" for a check without such a sentence)."""
    gettext = i18n.gettext_for(lang)
    return lambda name: gettext(MATTERS[name]) if name in MATTERS else ""
