"""The majority voter: fan out to every replica, answer as soon as a majority agrees, report what it saw."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.histogram import LatencyHistogram
from faultlab.core.log import get_logger
from faultlab.core.protocol import HISTORY_LEN
from faultlab.shop.voter.fanout import ConnectionPool, Refused, Saturated
from faultlab.shop.voter.voting import ProductVote, latency_outliers, majority_of, vote_product

FAILURE_KINDS = ("refused", "timeout", "error", "malformed")
HISTORY = 24  # versions asked of each replica: enough overlap for replicas a few dozen events apart
LAG_RETRY_S = 0.01  # between asking lagging replicas again (they apply the log in batches every few ms)


@dataclass
class Fetch:
    """One replica's answer (or failure) to one fan-out."""

    replica: int
    latency_ms: float
    items: dict[str, list[tuple[int, int, int]]] | None = None
    failure: str | None = None
    detail: str = ""


@dataclass
class VoteStats:
    """Counters behind `GET /voting/stats`."""

    reads: int = 0
    quorum: int = 0
    no_quorum: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    wrong: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    slow: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    failures: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    agreed: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    behind: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    lag_rounds: int = 0  # times a lagging replica was asked again
    stale_answers: int = 0  # answers flagged stale: only an older version than one reported could be agreed
    samples: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=200)))


class MajorityVoter:
    """Fans out reads, votes by value at equal positions, and keeps evidence about every replica."""

    def __init__(self, settings: Settings, reporter: MonitorReporter, pool: asyncpg.Pool | None) -> None:
        self.settings = settings
        self.reporter = reporter
        self.pool = pool
        self.replicas = settings.replica_ids
        self.need = majority_of(len(self.replicas))
        self.timeout_s = settings.voter_timeout_ms / 1000
        self.stats = VoteStats()
        self.suspected: set[int] = set()  # replicas whose last compared answer was wrong
        self.floor: dict[str, int] = {}  # per product, the newest version already answered (monotonic reads)
        self._slow_ms = float(settings.voter_slow_ms)
        self._slow_at = 0.0
        self.log = get_logger("voter")
        self.pools = {r: ConnectionPool(settings.service_host(f"inventory-{r}"), settings.replica_port(r),
                                        connect_timeout_s=self.timeout_s) for r in self.replicas}
        self._background: set[asyncio.Task[None]] = set()
        self._events: list[tuple[Any, ...]] = []
        self._events_added = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.pool is not None:
            self._writer = asyncio.create_task(self._write_events(), name="voting-events")

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._writer:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        for pool in self.pools.values():
            pool.close()

    def _interpret(self, replica: int, fut: asyncio.Future[tuple[int, bytes]], started: float) -> Fetch:
        """Turn one replica's finished request into an answer or a typed failure."""
        latency = (time.perf_counter() - started) * 1000
        if fut.cancelled():
            return Fetch(replica, latency, failure="timeout")
        exc = fut.exception()
        if isinstance(exc, Refused):
            return Fetch(replica, latency, failure="refused", detail=str(exc)[:120])
        if isinstance(exc, Saturated):  # every allowed connection to it is still waiting for an answer
            return Fetch(replica, latency, failure="timeout", detail=str(exc)[:120])
        if exc is not None:
            return Fetch(replica, latency, failure="error", detail=repr(exc)[:120])
        status, body = fut.result()
        if status >= 500:
            return Fetch(replica, latency, failure="error", detail=f"HTTP {status}")
        if status != 200:
            return Fetch(replica, latency, failure="malformed", detail=f"HTTP {status}")
        try:
            data = orjson.loads(body)
            rows = data["inventory"] if "inventory" in data else [data]  # noqa: SIM401 (a list body has no .get)
            items = {row["product_id"]: [tuple(h) for h in row["history"]] for row in rows}
        except (KeyError, TypeError, ValueError):
            return Fetch(replica, latency, failure="malformed", detail="unexpected answer shape")
        return Fetch(replica, latency, items=items)

    def _vote(self, answers: dict[int, Fetch], products: list[str]) -> list[ProductVote]:
        total = len(self.replicas)
        return [
            vote_product(pid, {r: f.items.get(pid, []) for r, f in answers.items() if f.items is not None}, total)
            for pid in products
        ]

    @staticmethod
    def _settled(votes: list[ProductVote], answered_all: bool, floor: dict[str, int]) -> bool:
        """Every product agreed at a version that is current (all replicas answered, or nobody reported anything
        newer) and not older than what this voter had already answered for it when the read began."""
        return bool(votes) and all(
            v.quorum and v.version is not None and v.version >= floor.get(v.product_id, 0)
            and (answered_all or v.version == v.newest_known)
            for v in votes)

    async def read(self, path: str, products: list[str]) -> tuple[int, dict[str, Any]]:
        """One voted read: (HTTP status, body).

        Answers as soon as a majority agrees on the newest version any of them reported. When the first
        answers differ on their newest version, it waits (within the deadline) for the others before settling
        on an older one; a replica that answered but lags (it is behind the majority or behind the newest
        answer, or the answers share no version) is asked again — at once when nothing else is awaited, else
        every LAG_RETRY_S — for every version it keeps. At the deadline it answers with what a majority agrees
        on, flagged `stale` when a newer version was reported; never with a version older than one it already
        answered for that product (monotonic reads): then it is "quorum not reached".
        """
        started = time.perf_counter()
        sent_at = time.time()  # what the replicas' failures are about: a request sent now
        # Monotonic reads: never older than what was answered before this read began (a read answered meanwhile
        # overlaps this one, and either order is right for overlapping reads).
        floor = {p: self.floor[p] for p in products if p in self.floor}
        deadline = started + self.timeout_s + 0.05
        total = len(self.replicas)
        tasks: dict[asyncio.Future[tuple[int, bytes]], int] = {}
        originals: set[asyncio.Future[tuple[int, bytes]]] = set()
        outstanding: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        for replica in self.replicas:
            fut = self.pools[replica].get(f"{path}?history={HISTORY}")
            tasks[fut] = replica
            originals.add(fut)
            outstanding[replica] = fut
        answers: dict[int, Fetch] = {}
        failed: dict[int, Fetch] = {}
        answered_at: dict[int, float] = {}
        votes: list[ProductVote] = []
        rounds = 0
        while outstanding:
            done, _ = await asyncio.wait(set(outstanding.values()), timeout=max(0.0, deadline - time.perf_counter()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            now = time.perf_counter()
            for fut in done:
                replica = tasks[fut]
                del outstanding[replica]
                fetched = self._interpret(replica, fut, started)
                if fut not in originals:  # asked again: fresher state; its latency stays its first answer's
                    if fetched.items is not None:
                        fetched.latency_ms = answers[replica].latency_ms
                        answers[replica] = fetched
                        answered_at[replica] = now
                    continue
                if fetched.failure:
                    failed[replica] = fetched
                else:
                    answers[replica] = fetched
                    answered_at[replica] = now
            if len(answers) < self.need:
                if len(answers) + len(outstanding) < self.need:
                    break
                continue
            votes = self._vote(answers, products)
            if self._settled(votes, len(answers) == total, floor):
                break
            if any(v.conflicting for v in votes) and not any(v.quorum for v in votes):
                if not outstanding:
                    break
                continue  # values clash: only another replica can settle it, asking again cannot
            awaiting_others = any(f in originals for f in outstanding.values())
            lagging = {r for v in votes for r in (v.behind + v.older)} | {
                r for v in votes if not v.quorum for r in answers if r not in v.conflicting}
            for replica in sorted(lagging - set(outstanding)):
                if replica not in answers:
                    continue
                delay = LAG_RETRY_S if awaiting_others or rounds else 0.0
                delay = max(0.0, delay - (now - answered_at[replica]))
                if time.perf_counter() + delay >= deadline:
                    continue
                rounds += 1
                again = self._ask_later(replica, f"{path}?history={HISTORY_LEN}", delay)
                tasks[again] = replica
                outstanding[replica] = again
        pending = {f for f in outstanding.values() if f in originals}
        for fut in outstanding.values():
            if fut not in originals:
                fut.cancel()
        if rounds:
            self.stats.lag_rounds += rounds
        if answers:
            votes = self._vote(answers, products)
        refused_older = [v.product_id for v in votes
                         if v.quorum and v.version is not None and v.version < floor.get(v.product_id, 0)]
        latency_ms = (time.perf_counter() - started) * 1000
        quorum = bool(votes) and all(v.quorum for v in votes) and not refused_older
        late = sorted(tasks[t] for t in pending)
        self._account(answers, failed, votes, quorum, latency_ms, sent_at)
        if quorum:
            for v in votes:
                assert v.version is not None
                self.floor[v.product_id] = max(self.floor.get(v.product_id, 0), v.version)
            if any(v.stale for v in votes):
                self.stats.stale_answers += 1
        if pending:
            task = asyncio.create_task(self._follow_late(pending, tasks, products, answers, started, sent_at))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        body = self._body(votes, answers, failed, late, quorum, latency_ms, refused_older)
        return (200 if quorum else 503), body

    def _ask_later(self, replica: int, query: str, delay_s: float) -> asyncio.Future[tuple[int, bytes]]:
        """The replica's answer to `query`, asked after `delay_s` (at once when 0)."""
        if delay_s <= 0:
            return self.pools[replica].get(query)

        async def later() -> tuple[int, bytes]:
            await asyncio.sleep(delay_s)
            return await self.pools[replica].get(query)

        return asyncio.ensure_future(later())

    def _account(self, answers: dict[int, Fetch], failed: dict[int, Fetch], votes: list[ProductVote],
                 quorum: bool, latency_ms: float, sent_at: float) -> None:
        now = time.time()
        stats = self.stats
        products = [v.product_id for v in votes]
        stats.reads += 1
        stats.latency.record(latency_ms)
        if quorum:
            stats.quorum += 1
        else:
            stats.no_quorum += 1
        wrong = {r for v in votes for r in v.disagreed}
        behind = {r for v in votes for r in v.behind}
        stale_older = {r for v in votes if v.stale for r in v.older}
        agreed = {r for v in votes for r in v.agreed} - wrong - behind
        for replica, fetched in answers.items():
            stats.samples[replica].append(fetched.latency_ms)
            if replica in wrong:
                self._wrong(replica, now, products)
            elif replica in agreed and replica not in stale_older:
                self._agree(replica, now, products)
            if replica in behind or replica in stale_older:
                # Behind is not wrong: a hint for the monitor, which judges in time how long it has lagged.
                stats.behind[replica] += 1
                self.reporter.report(observation(replica, "behind", True, "voter", now, products=products))
        for replica, fetched in failed.items():
            stats.failures[replica][fetched.failure or "error"] += 1
            self.reporter.report(observation(replica, fetched.failure or "error", False, "voter", now, sent_at=sent_at),
                                 urgent=True)
        if not quorum or wrong or failed:
            self._events.append((datetime.now(UTC), None if len(votes) != 1 else votes[0].product_id,
                                 "quorum" if quorum else "no_quorum", sorted(agreed), sorted(wrong), sorted(failed),
                                 orjson.dumps({"latency_ms": round(latency_ms, 3)}).decode()))
            self._events_added.set()

    def _wrong(self, replica: int, now: float, products: list[str]) -> None:
        self.stats.wrong[replica] += 1
        self.suspected.add(replica)
        self.reporter.report(observation(replica, "wrong", False, "voter", now, products=products), urgent=True)

    def _agree(self, replica: int, now: float, products: list[str]) -> None:
        self.stats.agreed[replica] += 1
        self.suspected.discard(replica)
        self.reporter.report(observation(replica, "agree", True, "voter", now, products=products))

    def slow_threshold_ms(self) -> float:
        """How much later than the quorum a replica may answer before it counts as slow (cached 100 ms)."""
        now = time.monotonic()
        if now - self._slow_at > 0.1:
            recent = sorted(x for samples in self.stats.samples.values() for x in list(samples)[-50:])
            median = recent[len(recent) // 2] if recent else 0.0
            self._slow_ms = max(float(self.settings.voter_slow_ms), 10 * median)
            self._slow_at = now
        return self._slow_ms

    async def _follow_late(self, pending: set[asyncio.Future[tuple[int, bytes]]],
                           tasks: dict[asyncio.Future[tuple[int, bytes]], int],
                           products: list[str], answers: dict[int, Fetch], started: float, sent_at: float) -> None:
        """Replicas that had not answered when the vote was given: slow, failed or wrong?

        A replica still silent `slow_threshold_ms` after the quorum is reported slow at that moment (the
        evidence is there already); what it answers later is still checked for wrong values.
        """
        done, still = await asyncio.wait(pending, timeout=self.slow_threshold_ms() / 1000)
        now = time.time()
        for task in still:
            replica = tasks[task]
            self.stats.slow[replica] += 1
            self.reporter.report(observation(replica, "slow", False, "voter", now, sent_at=sent_at), urgent=True)
        if still:
            late_done, never = await asyncio.wait(still, timeout=self.timeout_s + 0.1)
            for task in never:
                task.cancel()
                self.stats.failures[tasks[task]]["timeout"] += 1
            for task in late_done:
                fetched = self._interpret(tasks[task], task, started)
                if fetched.failure:
                    self.stats.failures[fetched.replica][fetched.failure] += 1
                elif any(fetched.replica in v.disagreed for v in self._vote({**answers, fetched.replica: fetched},
                                                                            products)):
                    self._wrong(fetched.replica, time.time(), products)
        for task in done:
            fetched = self._interpret(tasks[task], task, started)
            replica = fetched.replica
            if fetched.failure:
                self.stats.failures[replica][fetched.failure] += 1
                self.reporter.report(observation(replica, fetched.failure, False, "voter", now, sent_at=sent_at),
                                     urgent=True)
                continue
            self.stats.samples[replica].append(fetched.latency_ms)
            votes = self._vote({**answers, replica: fetched}, products)
            if any(replica in v.disagreed for v in votes):
                self._wrong(replica, now, products)
            elif any(replica in v.agreed for v in votes):
                self._agree(replica, now, products)

    def _body(self, votes: list[ProductVote], answers: dict[int, Fetch], failed: dict[int, Fetch], late: list[int],
              quorum: bool, latency_ms: float, refused_older: list[str]) -> dict[str, Any]:
        items = []
        for v in votes:
            item = {"product_id": v.product_id, "available_quantity": v.available, "reserved_quantity": v.reserved,
                    "position": v.version, "quorum": v.quorum, "stale": v.stale, "agreed": v.agreed,
                    "disagreed": v.disagreed, "behind": v.behind, "conflicting": v.conflicting}
            if v.stale or v.product_id in refused_older:
                item["newer_position"] = max(v.newest_known or 0, self.floor.get(v.product_id, 0))
            items.append(item)
        wrong = sorted({r for v in votes for r in v.disagreed})
        behind = sorted({r for v in votes for r in v.behind})
        body: dict[str, Any] = {
            "quorum": quorum,
            "votes_needed": self.need,
            "agreed": sorted({r for v in votes for r in v.agreed} - set(wrong) - set(behind)),
            "disagreed": wrong,
            "behind": behind,
            "late": late,
            "failed": {str(r): f.failure for r, f in sorted(failed.items())},
            "outliers": wrong,
            "suspected": sorted(self.suspected),
            "stale": quorum and any(v.stale for v in votes),
            "latency_ms": round(latency_ms, 3),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        if not quorum:
            body["error"] = "quorum not reached"
            body["answered"] = sorted(answers)
            body["conflicting"] = sorted({r for v in votes for r in v.conflicting})
            if refused_older:
                body["reason"] = ("only versions older than one already answered could be agreed for "
                                  + ", ".join(refused_older))
        if quorum and len(items) == 1:
            body = {**items[0], **body}
        else:
            body["inventory"] = items
        return body

    def describe(self) -> dict[str, Any]:
        s = self.stats
        replicas = {}
        for r in self.replicas:
            samples = list(s.samples[r])
            replicas[str(r)] = {
                "agreed": s.agreed[r], "wrong": s.wrong[r], "slow": s.slow[r], "behind": s.behind[r],
                "failures": dict(s.failures[r]),
                "median_latency_ms": round(sorted(samples)[len(samples) // 2], 3) if samples else None,
            }
        return {
            "total_votes": s.reads, "quorum_reached": s.quorum, "quorum_not_reached": s.no_quorum,
            "quorum_rate": round(100 * s.quorum / s.reads, 4) if s.reads else None,
            "votes_needed": self.need, "fan_out": len(self.replicas), "lag_rounds": s.lag_rounds,
            "stale_answers": s.stale_answers,
            "latency_ms": s.latency.summary(),
            "outliers_by_replica": {str(r): s.wrong[r] + s.slow[r] for r in self.replicas},
            "latency_outliers": latency_outliers({r: list(v) for r, v in s.samples.items()}),
            "replicas": replicas,
        }

    async def _write_events(self) -> None:
        """Batch notable votes into monitor.voting_events (never one write per read): asleep until one comes, then
        what gathers in 0.5 s goes in one write."""
        assert self.pool is not None
        while True:
            if not self._events:
                self._events_added.clear()
                await self._events_added.wait()
            await asyncio.sleep(0.5)
            batch, self._events = self._events[:5000], self._events[5000:]
            try:
                async with self.pool.acquire() as conn:
                    await conn.executemany(
                        """INSERT INTO monitor.voting_events ("timestamp", product_id, outcome, agreed, disagreed,
                           failed, details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)""", batch)
            except RETRIABLE as exc:
                self.log.warning("voting_events_not_written", count=len(batch), error=repr(exc))
