"""What the checks through a system's API found, as codes with parameters, and each code's sentence in the reader's
language.

A check records `{"code": "reserved_multiple", "product": "PROD-001", "reserved": 18, "expected": 6, "factor": 3}`,
never a sentence; `render` says it in English (the check's `detail`) or in the reader's language (report.html, the
console). `MATTERS` says, per check, why what it checks matters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import N_

Finding = dict[str, Any]

MESSAGES: dict[str, str] = {
    # replicas_converged
    "converged": N_("the {replicas} replicas answered the same stock for {products} products (read {rounds} "
                    "time(s) after the load stopped)"),
    "not_converged": N_("{seconds} s after the load stopped (read {rounds} time(s)) the replicas still differ on "
                        "{count} product(s)"),
    "product_differs": N_("{product}: available/reserved per replica {values}"),
    "replicas_silent": N_("replica(s) {replicas} did not answer GET /inventory: their state cannot be compared"),
    # stock_conserved
    "stock_conserved": N_("available + reserved equals the initial stock plus restocks for each of {products} "
                          "products on every replica ({restocks} restocks accepted)"),
    "stock_not_conserved": N_("available + reserved is not the initial stock plus restocks for {count} product(s)"),
    "total_mismatch": N_("replica(s) {replicas}, {product}: available + reserved = {total}, expected {expected} "
                         "(initial {initial} + restocked {restocked})"),
    "total_outside": N_("replica(s) {replicas}, {product}: available + reserved = {total}, expected between "
                        "{expected} and {expected_max} (initial {initial} + restocked {restocked}, and restocks of "
                        "unknown outcome)"),
    "product_missing": N_("replica(s) {replicas} do not list {product}"),
    # reserved_matches_orders
    "reserved_matches": N_("reserved equals the quantities of the accepted, not-cancelled orders for each of "
                           "{products} products ({orders} orders accepted, {cancels} cancelled)"),
    "reserved_wrong": N_("reserved is not the quantities of the accepted, not-cancelled orders for {count} "
                         "product(s)"),
    "shared_table": N_("every order is reserved {factor} times over ({count} product(s)): likely {factor} replicas "
                       "reserving in one shared table instead of each in its own state"),
    "reserved_mismatch": N_("replica(s) {replicas}, {product}: reserved {reserved}, expected {expected} (reserved "
                            "before the run {initial}, this run's orders {delta})"),
    "reserved_outside": N_("replica(s) {replicas}, {product}: reserved {reserved}, expected between {expected} and "
                           "{expected_max} (writes of unknown outcome)"),
    "reserved_multiple": N_("replica(s) {replicas}, {product}: reserved {reserved}; this run's orders added "
                            "{observed_delta}, {factor} times the {delta} they hold"),
    "reserved_maybe_rejected": N_("reserved is below the accepted orders' quantities for {products}, whose stock ran "
                                  "low: orders may have been rejected for lack of stock, and without GET "
                                  "/orders/{{id}} that cannot be told apart from lost orders"),
    # orders_leave_pending
    "orders_decided": N_("every one of {checked} accepted orders checked (of {accepted}) left PENDING: {by_status}"),
    "orders_pending": N_("{count} of {checked} accepted orders checked are still undecided ({statuses}) {seconds} s "
                         "after the load stopped"),
    "orders_not_found": N_("{count} of {checked} accepted orders checked are unknown to the system (GET /orders/{{id}} "
                           "answered that it has no such order): accepted orders lost"),
    "orders_unanswered": N_("the status of {count} of {checked} accepted orders could not be read"),
    "order_state": N_("order {order_id}: {status}"),
    "no_orders": N_("the load had no accepted order to follow"),
    # incorrect_masked
    "incorrect_masked": N_("{reads} voted reads of {products} during the incorrect fault on replica(s) {replicas}: "
                           "none returned a value that no healthy replica served"),
    "incorrect_wrong": N_("{wrong} of {reads} voted reads of {products} ({pct} %) during the incorrect fault on "
                          "replica(s) {replicas} returned a value no healthy replica served; {faulty} of them the "
                          "faulty replica's value"),
    "wrong_read": N_("{at} {product}: voted {value}; healthy replicas served {healthy}, the faulty one {faulty}"),
    "incorrect_not_covered": N_("no voted read of {products} during the incorrect fault could be judged: {reads} "
                                "fell inside it, {uncovered} of them without the observer's samples of the healthy "
                                "replicas"),
    "incorrect_rule": N_("the rule: a voted read of a faulted product, invoked and completed inside the fault, is "
                         "wrong when its value is none of those a healthy replica served at the same log position "
                         "(where the answers carry one) or else during the read (±{slack_ms} ms for the observer's "
                         "sampling); it took the faulty replica's value when a faulted replica served that value "
                         "there"),
    # two_down_quorum
    "quorum_refused": N_("{reads} voted reads while replicas {replicas} were down: each answered 503 \"quorum not "
                         "reached\""),
    "quorum_guessed": N_("{answered} of {reads} voted reads while replicas {replicas} were down answered 200 with a "
                         "value (a guess from one replica); {refused} answered 503 \"quorum not reached\", {other} "
                         "something else ({errors})"),
    "quorum_other": N_("{other} of {reads} voted reads while replicas {replicas} were down answered something other "
                       "than 503 \"quorum not reached\" ({errors}); {refused} answered it"),
    "no_reads_two_down": N_("no voted read fell inside the window with replicas {replicas} down"),
    # monotonic_reads
    "monotonic": N_("{reads} voted reads carry a position; none is older than one the same client had already been "
                    "answered"),
    "went_back": N_("{count} of {reads} voted reads went back in time: older than a position the same client had "
                    "already been answered"),
    "older_read": N_("{at} {product}: position {position} after {acknowledged} had been answered"),
    # not checkable, or nothing to check
    "no_history": N_("the run has no load history (orders, cancels, voted reads) to check against"),
    "no_initial_stock": N_("the run did not read the stock before its first request: the stock cannot be checked"),
    "no_reserved_total": N_("the replicas' answers carry no available or reserved quantity: available + reserved "
                            "cannot be checked"),
    "no_reserved": N_("the replicas' answers carry no reserved quantity: it cannot be checked against the orders"),
    "no_order_status": N_("the system has no GET /orders/{{id}}: whether orders leave PENDING cannot be checked"),
    "no_samples": N_("the observer has no samples of the replicas' answers during the incorrect fault: the right "
                     "value at each moment is not known"),
    "no_positions": N_("the voter's answers carry no position: monotonic reads cannot be checked"),
    "no_reads": N_("no voted read was answered 200: nothing to check"),
}

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
    """A finding: its code and parameters (numbers, product ids, replica lists), as report.json keeps it."""
    if code not in MESSAGES:
        raise KeyError(f"no message for finding {code!r}")
    return {"code": code, **params}


def _value(value: Any, lang: str) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return i18n.number(value, 0, lang)
    if isinstance(value, float):
        return i18n.number(value, 1, lang)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_value(v, lang)}" if not isinstance(v, str) else f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v, lang) for v in value)
    return str(value)


def render(found: Mapping[str, Any], gettext: Callable[[str], str] | None = None, lang: str = "en") -> str:
    """One finding as a sentence: English by default (msgids are English), or in `lang` with its `gettext`."""
    message = MESSAGES.get(str(found.get("code")))
    if message is None:
        return str(found.get("code"))
    params = {k: _value(v, lang) for k, v in found.items() if k != "code"}
    text = (gettext or (lambda s: s))(message)
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


def render_in(lang: str) -> Callable[[Mapping[str, Any]], str]:
    """`render` bound to one language (for templates and the console)."""
    gettext = i18n.gettext_for(lang)
    return lambda found: render(found, gettext, lang)


def matters_in(lang: str) -> Callable[[str], str]:
    """Why a check matters, by its name, in one language ("" for a check without such a sentence)."""
    gettext = i18n.gettext_for(lang)
    return lambda name: gettext(MATTERS[name]) if name in MATTERS else ""
