"""report.json's data check: the verdict, each checker's findings typed by what it counts (lab/checkers.py,
lab/history_checkers.py), and what the run left in PostgreSQL (lab/stored.py).

A check is read as the first model its fields fit (`AnyCheck`); one that fits none of them — a run's from before a
checker counted what it counts now, or a newer checker's — is kept as a plain `Check`, with every field it has.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from faultlab.core.said import SaidText
from faultlab.lab.report_parts import Record, UnixTime, Verdict


class Check(Record):
    """One checker's verdict and its counts and samples; a check through a system's API also says what it found, as
    codes with parameters (lab/api_findings.py), rendered in the reader's language."""

    valid: Verdict
    finding: dict[str, Any] | None = Field(None, description="what the check found, as a code and its parameters "
                                                            "(checks through a system's API: lab/api_findings.py)")
    findings: list[dict[str, Any]] | None = Field(None, description="the first of its other findings, each a code "
                                                                   "and its parameters")
    findings_total: int | None = Field(None, ge=0, description="how many findings it had in all")
    rule: dict[str, Any] | None = Field(None, description="the rule it judged by, as a code and its parameters")
    checkable: bool | None = Field(None, description="false: the system's answers lack what the check needs (not "
                                                     "judged; `why` says what)")
    why: SaidText | None = Field(None, description="why it could not judge (a sentence)")


class LogCheck(Check):
    """The outbox's seqs run 1..end without a gap."""

    log_end: int
    modelled_to: int
    gaps: int
    gap_sample: list[int] | None = None
    invalid_events: int | None = None


class OrdersStoredCheck(Check):
    """Every order answered 201 is stored and has one order_created event in the log."""

    accepted: int
    missing: int
    missing_sample: list[str] | None = None
    outbox_not_once: int
    outbox_not_once_sample: list[str] | None = None


class LogAppliedCheck(Check):
    """Every replica applied the log up to its end."""

    log_end: int
    unpublished: int | None = None
    positions: dict[str, int | None]


class ExactlyOnceCheck(Check):
    """One replica applied every seq once, each accepted order once, with the model's outcome."""

    applied: int
    distinct: int
    max_seq: int
    log_end: int | None = None
    orders_not_applied_once: int | None = None
    orders_not_applied_once_sample: list[str] | None = None
    outcomes_differing_from_model: int | None = None
    outcomes_differing_sample: list[int] | None = None


class ConvergedCheck(Check):
    """Every replica's stored and served stock equals the single-copy model's; the stock is conserved."""

    model: dict[str, list[int]] | None = None
    stored_equal_model: dict[str, bool]
    served_equal_model: dict[str, bool | None]
    stock_conserved: bool | None = None
    expected_totals: dict[str, int] | None = None
    restocked: dict[str, int] | None = None
    unconserved: list[SaidText] | None = None
    differing: dict[str, dict[str, list[int]]] | None = None


class OrderStatusesCheck(Check):
    """Every order's final status is the model's; none left PENDING or CANCELLING."""

    orders: int
    by_status: dict[str, int]
    left_undecided: int | None = None
    left_undecided_sample: list[SaidText] | None = None
    differing_from_model: int | None = None
    differing_sample: list[SaidText] | None = None
    without_event: int | None = None
    without_event_sample: list[SaidText] | None = None
    beyond_the_model: int | None = None


class AmbiguousWritesCheck(Check):
    """Every write of unknown outcome is stored exactly once or not at all."""

    ambiguous: int
    stored_once: int
    not_stored: int
    stored_more_than_once: int
    stored_more_than_once_sample: list[SaidText] | None = None
    without_key: int | None = None
    by_kind: dict[str, int] | None = None


class RefusalsCheck(Check):
    """No write the client was told failed is stored."""

    refused: int
    stored_anyway: int
    stored_anyway_sample: list[str] | None = None


class ReadSample(Record):
    """A voted read a checker names: who asked, what it answered, at which position and when (UNIX s), plus what
    the model (or an earlier answer) said."""

    client: str | None = None
    product_id: str | None = None
    position: int | None = None
    available: int | None = None
    reserved: int | None = None
    stale: bool | None = None
    invoked_at: float | None = None
    completed_at: float | None = None
    why: SaidText | None = None


class ReadStaleness(Record):
    """Bounded staleness, measured: for each voted read answered 200, how far behind the newest write a majority of
    the replicas had applied when the read began it was (0 when current), by the replicas' own apply times."""

    max_staleness_ms: int = Field(ge=1, description="the run's bound (the voter's max_staleness_ms)")
    measured: int = Field(ge=0, description="reads measured")
    unmeasured: int = Field(0, ge=0, description="reads whose position or apply times are unknown")
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    over_bound: int = Field(ge=0, description="reads further behind than the bound: each a violation")
    over_bound_sample: list[ReadSample] | None = None


class ReadHistoryCheck(Check):
    """Every voted read right (the model's values at its position), monotonic per client and product, and within the
    staleness bound; counts of violations (0 expected) with samples."""

    reads: int
    answered_200: int
    not_answered: int | None = None
    stale_flagged: int | None = Field(None, ge=0, description="answered with `stale: true` (within the bound)")
    violations: int = Field(description="wrong values + unknown positions + older than acknowledged + over the "
                                        "staleness bound")
    wrong_values: int
    wrong_values_sample: list[ReadSample] | None = None
    unknown_positions: int
    unknown_positions_sample: list[ReadSample] | None = None
    older_than_acknowledged: int
    older_than_acknowledged_sample: list[ReadSample] | None = None
    staleness: ReadStaleness | None = Field(None, description="absent in runs from before it was measured")


AnyCheck = Annotated[ReadHistoryCheck | AmbiguousWritesCheck | RefusalsCheck | OrderStatusesCheck | ConvergedCheck
                     | ExactlyOnceCheck | LogAppliedCheck | OrdersStoredCheck | LogCheck | Check,
                     Field(union_mode="left_to_right")]


class StoredTable(Record):
    """One table's rows when the data was checked."""

    rows: int = Field(ge=0)
    written: int | None = Field(None, ge=0, description="rows dated during this run (`Stored.since` on); null for a "
                                                        "table without a time column")


class Stored(Record):
    """What PostgreSQL held after the run (faultlab's shop): the orders and their outbox, each replica's own schema
    (its stock, the events it applied, its position in the log) and the monitor's tables."""

    since: UnixTime = Field(None, description="`written` counts the rows dated from here on (the run's load began)")
    tables: dict[str, StoredTable] = Field(description="by schema.table: orders.orders, orders.outbox, "
                                                       "inventory_N.stock, inventory_N.applied_events, "
                                                       "monitor.instance_status, monitor.failure_audit, "
                                                       "monitor.voting_events, monitor.request_metrics")
    positions: dict[str, int | None] = Field(default_factory=dict, description="each replica's applied position in "
                                                                              "the log (inventory_N.position)")


class DataCheck(Record):
    """Jepsen-style checks after the run, and their verdict (true, false or "unknown")."""

    valid: Verdict
    checks: dict[str, AnyCheck] = Field(description="by name. faultlab's shop, from its database: log (seqs without a "
                                                    "gap), orders_stored, log_applied, replica_N_exactly_once, "
                                                    "converged, order_statuses, ambiguous_writes, refusals and "
                                                    "read_history (when the run had a load). A system reached "
                                                    "through its API: replicas_converged, stock_conserved, "
                                                    "reserved_matches_orders, orders_leave_pending, incorrect_masked, "
                                                    "two_down_quorum, monotonic_reads")
    why: SaidText | None = Field(None, description="why the check could not run (valid: unknown; a sentence)")
    checked_through: Literal["api"] | None = Field(None, description="\"api\": checked through the system's API and "
                                                                     "the run's own records (not its database)")
    not_checkable: list[str] | None = Field(None, description="checks the system's answers cannot support: shown, "
                                                              "not judged (left out of valid)")
    accepted_orders: int | None = Field(None, ge=0)
    events_in_log: int | None = Field(None, ge=0)
    restocked: dict[str, int] | None = None
    ambiguous_writes: int | None = Field(None, ge=0)
    reads_checked: int | None = Field(None, ge=0)
    stored: Stored | None = Field(None, description="what the run left in PostgreSQL, table by table")
