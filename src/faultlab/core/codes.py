"""Every code a recorded sentence may carry (`core/said.py`), with its message: one table for the whole lab.

Each message is an msgid with named {fields} (a `NP_` one has a singular and a plural form, chosen by the number in
the field it names), so `make catalogs` extracts it and its Spanish lives in the .po file like every other message.
A code is recorded for good (report.json, the monitor's events and episodes): change a message's words freely, never
a code's meaning; a new sentence gets a new code. Parameters are numbers, identifiers (phase names, fault kinds,
product ids: said as they are) or sentences of their own.
"""

from __future__ import annotations

from faultlab.core.i18n import N_, NP_, Plural

WORDS = (N_("yes"), N_("no"))  # a true or false parameter, in words

CODES: dict[str, str | Plural] = {
    # ---- the monitor: why a replica is ON or OFF (core/tracker.py), and what detected a fault ----------------------
    "healthy": N_("healthy and caught up"),
    "detector_off": N_("{evidence} ({detector} detector)"),
    "evidence_refused": N_("connection refused"),
    "evidence_timeout": N_("no answer in time"),
    "evidence_error": N_("answered with an error"),
    "evidence_malformed": N_("malformed answer"),
    "evidence_slow": N_("slow answers"),
    "evidence_health_failed": N_("health check failed"),
    "evidence_apply_failed": N_("could not apply an event"),
    "evidence_failure": N_("failure"),
    "stale": N_("stale: lacks seq {seq}, applied elsewhere {behind_ms} ms ago, nothing taken in since"),
    "lagging": N_("lagging: lacks seq {seq}, applied elsewhere {behind_ms} ms ago, it applies but cannot keep up"),
    "process_exited": N_("process exited"),
    "wrong_values": N_("wrong values"),
    "detected_by": N_("{source}: {reason}"),
    "already_off": N_("already OFF"),
    "detected_by_polled": N_("the system's monitor (polled every {interval_ms} ms)"),
    "source_monitor": N_("monitor"),
    "source_voter": N_("voter"),
    "source_supervisor": N_("supervisor"),
    # ---- what a phase missed (lab/experiment_file.py Thresholds.check, lab/report_stats.py, report.py) ---------------
    "not_detected": N_("fault not detected (no TTD)"),
    "ttd_over": N_("TTD {ttd_ms} ms > {limit_ms} ms"),
    "not_recovered": N_("no recovery (no TTR)"),
    "ttr_over": N_("TTR {ttr_ms} ms > {limit_ms} ms"),
    "quorum_loss_not_seen": N_("quorum loss not observed (the voter never answered \"quorum not reached\")"),
    "quorum_not_regained": N_("quorum not regained after the replicas came back"),
    "no_request_completed": N_("no request completed"),
    "success_under": N_("success rate {rate} % < {limit} %"),
    "p95_over": N_("p95 {p95_ms} ms > {limit_ms} ms"),
    "repetition_not_detected": N_("repetition {repetition}: fault not detected"),
    "repetition_not_recovered": N_("repetition {repetition}: did not recover"),
    "repetition_missed": N_("repetition {repetition}: {missed}"),
    "phase_missed": N_("{phase}: {missed}"),
    "phase_error": N_("error: {error}"),
    "injection_failed": N_("injection failed: {error}"),
    # ---- why a run stopped, and its verdict besides the phases (lab/experiment.py, experiment_steps.py, report.py) ---
    "interrupted": N_("interrupted (Ctrl-C): partial results"),
    "interrupted_in_phase": N_("interrupted (Ctrl-C) during this phase"),
    "stopped_by": N_("stopped by an abort condition: {condition}"),
    "aborted": N_("aborted: {why}"),
    "system_lost": N_("the system under test stopped answering: {why}"),
    "run_error": N_("error during the run: {error}"),
    "phase_left_down": NP_("the phase left replica {replicas} down: the system has no way to bring it back",
                           "the phase left replicas {replicas} down: the system has no way to bring them back",
                           "replicas"),
    "data_not_valid": N_("data check: not valid"),
    "data_unknown": N_("data check: unknown"),
    "not_restored": N_("steady state not restored after the run: {probes}"),
    "runs_missing": NP_("only {done} of {expected} phase run completed", "only {done} of {expected} phase runs "
                        "completed", "expected"),
    "medians_rule": N_("thresholds are checked on each phase's median over repetitions"),
    "lab_not_healthy": N_("the lab is not healthy: {probes}"),
    "system_unusable": N_("the system under test cannot be used: {missing}"),
    "does_not_fit": N_("the experiment does not fit this lab: {problems}"),
    "at_place": N_("{place}: {problem}"),
    "no_replica": N_("the lab has no replica {replica} (its replicas: {replicas})"),
    "no_product": N_("the lab has no product {product} (its products: {products})"),
    "no_node": N_("the lab has no node {node} (its nodes: {nodes})"),
    "no_netns": N_("a {kind} fault needs a lab where each service has its own network namespace, and this one has "
                   "none: start it with `sudo faultlab up --netns` (or `sudo faultlab experiment --netns` with no lab "
                   "running)"),
    "keeps_quorum": N_("with {down} of its {total} replicas faulty the voter keeps its quorum: losing it takes {needed}"),
    "never_on": N_("the lab has {total} replicas: {min_on} ON can never hold"),
    "abort_under": N_("{metric} under {limit} {unit} for {seconds} s"),
    "abort_over": N_("{metric} over {limit} {unit} for {seconds} s"),
    # ---- the runner's notes on a phase run (lab/experiment_steps.py, lab/phase_run.py) ----------------------------
    "not_steady_before": N_("not steady before the phase: {problems}"),
    "not_steady_after": N_("not steady after the phase: {problems}"),
    "detected_before_activation": N_("replica {replica}: detected {ms} ms before the recorded activation (the monitor "
                                     "reports TTD 0)"),
    # ---- the detector study's notes (lab/study/runner.py) -------------------------------------------------------
    "study_not_steady_segment": N_("{kind}: not steady before the segment: {problems}"),
    "study_not_steady_injecting": N_("{kind} #{repetition}: not steady before injecting: {problems}"),
    "replica_is": N_("replica {replica} is {status}"),
    # ---- the system's steady state, its probes and the rollback (lab/probes.py, lab/systems/) ------------------------
    "replica_not_on": N_("replica {replica} is {status} ({reason})"),
    "replica_has_faults": N_("replica {replica} has faults {faults}"),
    "replicas_on": NP_("{n} replica ON", "{n} replicas ON"),
    "monitor_answered": N_("the monitor answered HTTP {status}"),
    "monitor_not_reached": N_("monitor not reached"),
    "http_answered": N_("{service} {path}: HTTP {status}"),
    "http_answered_error": N_("{service} {path}: HTTP {status} ({error})"),
    "voted_reads_answered": N_("{ok}/{count} voted reads answered, p95 {p95_ms} ms"),
    "not_reached": N_("not reached: {error}"),
    "probe_failed": N_("{probe}: {detail}"),
    "probe_problems": N_("not steady: {problems}"),
    "supervisor_silent": N_("the supervisor's control API does not answer at {url}"),
    "processes_down": N_("processes not running: {names} (see `faultlab status`)"),
    "reset_failed": N_("the lab could not be reset: {error}"),
    "fault_refused": N_("{kind} on replica {replica} refused: HTTP {status} {answer}"),
    "fault_not_cleared": N_("{kind} on replica {replica} not cleared: {error}"),
    "network_not_cleared": N_("network faults not cleared ({error})"),
    "replica_not_cleared": N_("replica {replica}: faults not cleared ({error}); it may be restarting"),
    "settings_not_restored": N_("the lab's own settings not restored: {error}"),
    # ---- reading a run's report.json (lab/report.py) ---------------------------------------------------------------
    "no_report_json": N_("no report.json at {path}"),
    "not_readable_json": N_("{file} is not readable JSON: {error}"),
    "not_a_json_object": N_("{file} is not a JSON object"),
    # ---- the data check on faultlab's shop, from its database (lab/checkers.py, history_checkers.py) -----------------
    "check_not_run": N_("not run"),
    "database_not_reached": N_("database not reached: {error}"),
    "check_interrupted": N_("check interrupted: {error}"),
    "log_not_reached": N_("replicas did not reach the end of the log in {seconds} s"),
    "total_wrong": N_("replica {replica} {product}: available + reserved = {total}, expected {expected}"),
    "order_undecided": N_("{order} {status}"),
    "order_undecided_model": N_("{order} {status} (model: {expected})"),
    "order_differs": N_("{order} {status} (model: {expected})"),
    "order_without_event": N_("{order} {status}: no event of it in the log"),
    "write_not_once": N_("{kind} with key {key}: stored {stored} times; its events in the log: {events}"),
    "no_model_version": N_("no such version of the product in the model"),
    # ---- the checks of a system seen through its API (lab/api_checkers.py, lab/api_reads.py, lab/api_checks.py) ----
    # replicas_converged
    "converged": NP_("the {replicas} replicas answered the same stock for {products} products (read {rounds} time "
                     "after the load stopped)", "the {replicas} replicas answered the same stock for {products} "
                     "products (read {rounds} times after the load stopped)", "rounds"),
    "not_converged": NP_("{seconds} s after the load stopped, on read number {rounds}, the replicas still differ on "
                         "{count} product", "{seconds} s after the load stopped, on read number {rounds}, the replicas "
                         "still differ on {count} products", "count"),
    "product_differs": N_("{product}: available/reserved per replica {values}"),
    "replicas_silent": NP_("replica {replicas} did not answer GET /inventory: its state cannot be compared",
                           "replicas {replicas} did not answer GET /inventory: their state cannot be compared",
                           "replicas"),
    # stock_conserved
    "stock_conserved": N_("available + reserved equals the initial stock plus restocks for each of {products} "
                          "products on every replica ({restocks} restocks accepted)"),
    "stock_not_conserved": NP_("available + reserved is not the initial stock plus restocks for {count} product",
                               "available + reserved is not the initial stock plus restocks for {count} products",
                               "count"),
    "total_mismatch": NP_("replica {replicas}, {product}: available + reserved = {total}, expected {expected} "
                          "(initial {initial} + restocked {restocked})",
                          "replicas {replicas}, {product}: available + reserved = {total}, expected {expected} "
                          "(initial {initial} + restocked {restocked})", "replicas"),
    "total_outside": NP_("replica {replicas}, {product}: available + reserved = {total}, expected between "
                         "{expected} and {expected_max} (initial {initial} + restocked {restocked}, and restocks of "
                         "unknown outcome)",
                         "replicas {replicas}, {product}: available + reserved = {total}, expected between "
                         "{expected} and {expected_max} (initial {initial} + restocked {restocked}, and restocks of "
                         "unknown outcome)", "replicas"),
    "product_missing": NP_("replica {replicas} does not list {product}", "replicas {replicas} do not list {product}",
                           "replicas"),
    # reserved_matches_orders
    "reserved_matches": N_("reserved equals the quantities of the accepted, not-cancelled orders for each of "
                           "{products} products ({orders} orders accepted, {cancels} cancelled)"),
    "reserved_wrong": NP_("reserved is not the quantities of the accepted, not-cancelled orders for {count} product",
                          "reserved is not the quantities of the accepted, not-cancelled orders for {count} products",
                          "count"),
    "shared_table": NP_("every order is reserved {factor} times over ({count} product): likely {factor} replicas "
                        "reserving in one shared table instead of each in its own state",
                        "every order is reserved {factor} times over ({count} products): likely {factor} replicas "
                        "reserving in one shared table instead of each in its own state", "count"),
    "reserved_mismatch": NP_("replica {replicas}, {product}: reserved {reserved}, expected {expected} (reserved "
                             "before the run {initial}, this run's orders {delta})",
                             "replicas {replicas}, {product}: reserved {reserved}, expected {expected} (reserved "
                             "before the run {initial}, this run's orders {delta})", "replicas"),
    "reserved_outside": NP_("replica {replicas}, {product}: reserved {reserved}, expected between {expected} and "
                            "{expected_max} (writes of unknown outcome)",
                            "replicas {replicas}, {product}: reserved {reserved}, expected between {expected} and "
                            "{expected_max} (writes of unknown outcome)", "replicas"),
    "reserved_multiple": NP_("replica {replicas}, {product}: reserved {reserved}; this run's orders added "
                             "{observed_delta}, {factor} times the {delta} they hold",
                             "replicas {replicas}, {product}: reserved {reserved}; this run's orders added "
                             "{observed_delta}, {factor} times the {delta} they hold", "replicas"),
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
    "incorrect_masked": NP_("{reads} voted reads of {products} during the incorrect fault on replica {replicas}: "
                            "none returned a value that no healthy replica served",
                            "{reads} voted reads of {products} during the incorrect fault on replicas {replicas}: "
                            "none returned a value that no healthy replica served", "replicas"),
    "incorrect_wrong": NP_("{wrong} of {reads} voted reads of {products} ({pct} %) during the incorrect fault on "
                           "replica {replicas} returned a value no healthy replica served; {faulty} of them the "
                           "faulty replica's value",
                           "{wrong} of {reads} voted reads of {products} ({pct} %) during the incorrect fault on "
                           "replicas {replicas} returned a value no healthy replica served; {faulty} of them a "
                           "faulty replica's value", "replicas"),
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


def message(code: str) -> str:
    """A code's message where it is used as an msgid of its own (a problem's message); TypeError for a plural one."""
    found = CODES[code]
    if not isinstance(found, str):
        raise TypeError(f"{code!r} has a plural message")
    return found


def code_of(message: str) -> str | None:
    """The code whose message is `message` (an msgid used elsewhere as a problem's message), or None."""
    return _BY_MESSAGE.get(message)


_BY_MESSAGE = {message: code for code, message in CODES.items() if isinstance(message, str)}
