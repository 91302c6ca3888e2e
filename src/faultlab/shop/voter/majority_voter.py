"""The majority voter: fan out to every replica, answer as soon as a majority agrees, report what it saw."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.log import get_logger
from faultlab.core.protocol import HISTORY_LEN
from faultlab.shop.voter.answer import Outcome, answer_body
from faultlab.shop.voter.coalesce import Coalescer, Voted, fits, refused_stale_for
from faultlab.shop.voter.fanout import ConnectionPool
from faultlab.shop.voter.fetch import Fetch, interpret
from faultlab.shop.voter.stats import VoteStats, describe_stats
from faultlab.shop.voter.voting import ProductVote, majority_of, rebuilt_floor, staleness_ms, vote_product

FAILURE_KINDS = ("refused", "timeout", "error", "malformed")
HISTORY = 24  # versions asked of each replica: enough overlap for replicas a few dozen events apart
LAG_RETRY_S = 0.01  # between asking lagging replicas again (they apply the log in batches every few ms)


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
        # Monotonic reads, per product: the newest version already answered, or the floor rebuilt from a majority's
        # answers (voting.rebuilt_floor) by the first read after this process started (a product not in it yet has
        # none: its reads rebuild it from their own answers, and answer nothing older).
        self.floor: dict[str, int] = {}
        self.max_staleness_ms = settings.max_staleness_ms
        self.coalescer = Coalescer(self.max_staleness_ms)
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
        self.coalescer.stop()
        for task in list(self._background):
            task.cancel()
        if self._writer:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        for pool in self.pools.values():
            pool.close()

    def _vote(self, answers: dict[int, Fetch], products: list[str]) -> list[ProductVote]:
        total = len(self.replicas)
        return [
            vote_product(pid, {r: f.items.get(pid, []) for r, f in answers.items() if f.items is not None}, total)
            for pid in products
        ]

    def _floors(self, known: dict[str, int], answers: dict[int, Fetch], products: list[str]) -> dict[str, int | None]:
        """Per product, the oldest version this read may answer: the voter's floor when the read began, or, for a
        product it has none of yet (a new process), the floor rebuilt from the answers in hand (None: fewer than a
        majority answered)."""
        floors: dict[str, int | None] = {}
        for p in products:
            if p in known:
                floors[p] = known[p]
            else:
                newest = [max(v[0] for v in f.items[p]) for f in answers.values() if f.items and f.items.get(p)]
                floors[p] = rebuilt_floor(newest, len(self.replicas))
        return floors

    def _settled(self, votes: list[ProductVote], answered_all: bool, floors: dict[str, int | None],
                 as_of_ms: int) -> bool:
        """Every product agreed at a version that is current (all replicas answered, or nobody reported anything
        newer), not older than its floor, and not superseded longer than the bound before the read began."""
        return bool(votes) and all(
            v.quorum and v.version is not None and (floor := floors.get(v.product_id)) is not None
            and v.version >= floor and staleness_ms(v, as_of_ms) <= self.max_staleness_ms
            and (answered_all or v.version == v.newest_known)
            for v in votes)

    async def read(self, path: str, products: list[str]) -> tuple[int, dict[str, Any]]:
        """One voted read: (HTTP status, body) — the answer of the fan-out of `path` in flight when it fits this read
        (coalesce.fits: its floor and its staleness bound, from its own start), else of a fan-out of its own."""
        started = time.perf_counter()
        invoked_ms = math.ceil(time.time() * 1000)  # never before the client's own moment (the checker's)
        floor = {p: self.floor[p] for p in products if p in self.floor}
        voted: Voted | None = None
        shared = self.coalescer.joinable(path, invoked_ms)
        if shared is not None:
            voted = await asyncio.shield(shared)
            if fits(voted, floor, invoked_ms, self.max_staleness_ms):
                self.stats.coalesced += 1
            else:
                voted = None
        if voted is None:
            self.stats.fan_outs += 1
            voted = await asyncio.shield(
                self.coalescer.start(path, invoked_ms, self._fan_out(path, products, invoked_ms)))
        return self._answer(voted, invoked_ms, (time.perf_counter() - started) * 1000)

    def _answer(self, voted: Voted, invoked_ms: int, latency_ms: float) -> tuple[int, dict[str, Any]]:
        """One read's answer from the fan-out it waited for, its figures restated from this read's start (a current
        answer's body is made once per fan-out)."""
        outcome = voted.outcome
        self.stats.count_read(latency_ms, voted.quorum, any(v.stale for v in voted.votes), bool(outcome.refused_older),
                              bool(outcome.refused_stale))
        if voted.body is not None:
            return 200, {**voted.body, "latency_ms": round(latency_ms, 3),
                         "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")}
        if outcome.as_of_ms != invoked_ms:
            outcome = replace(outcome, as_of_ms=invoked_ms, refused_stale=refused_stale_for(voted, invoked_ms))
        body = answer_body(voted.votes, replace(outcome, latency_ms=latency_ms), self.need, len(self.replicas),
                           sorted(self.suspected), self.floor, self.max_staleness_ms)
        if voted.current:
            voted.body = body
        return (200 if voted.quorum else 503), body

    async def _fan_out(self, path: str, products: list[str], as_of_ms: int) -> Voted:
        """One fan-out to every replica and its vote, as of `as_of_ms` (when the read that sent it began).

        Answers as soon as a majority agrees on the newest version any of them reported. When the first
        answers differ on their newest version, it waits (within the deadline) for the others before settling
        on an older one; a replica that answered but lags (it is behind the majority or behind the newest
        answer, or the answers share no version) is asked again — at once when nothing else is awaited, else
        every LAG_RETRY_S — for every version it keeps. At the deadline it answers with what a majority agrees
        on, flagged `stale` when a newer version was reported — but never a version below the product's floor
        (monotonic reads, across restarts: see `_floors`), nor one a majority may have superseded more than
        `max_staleness_ms` before the read began (bounded staleness): then it is "quorum not reached", with the
        reason.
        """
        started = time.perf_counter()
        sent_at = time.time()  # what the replicas' failures are about: a request sent now
        # Monotonic reads: never older than what was answered before this read began (a read answered meanwhile
        # overlaps this one, and either order is right for overlapping reads).
        known = {p: self.floor[p] for p in products if p in self.floor}
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
                fetched = interpret(replica, fut, started)
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
            if self._settled(votes, len(answers) == total, self._floors(known, answers, products), as_of_ms):
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
        floors = self._floors(known, answers, products)
        refused_older = {v.product_id: floor for v in votes if v.quorum and v.version is not None
                         and (floor := floors.get(v.product_id)) is not None and v.version < floor}
        refused_stale = {v.product_id: age for v in votes if v.quorum
                         and (age := staleness_ms(v, as_of_ms)) > self.max_staleness_ms}
        latency_ms = (time.perf_counter() - started) * 1000
        quorum = bool(votes) and all(v.quorum for v in votes) and not refused_older and not refused_stale
        late = sorted(tasks[t] for t in pending)
        self._account(answers, failed, votes, quorum, latency_ms, sent_at)
        for product, floor in floors.items():  # a floor rebuilt from a majority's answers holds from now on
            if floor is not None and floor > self.floor.get(product, -1):
                self.floor[product] = floor
        if quorum:
            for v in votes:
                assert v.version is not None
                self.floor[v.product_id] = max(self.floor.get(v.product_id, 0), v.version)
        if pending:
            task = asyncio.create_task(self._follow_late(pending, tasks, products, answers, started, sent_at))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return Voted(votes, Outcome(quorum, sorted(answers), {r: f.failure or "error" for r, f in failed.items()},
                                    late, latency_ms, refused_older, refused_stale, as_of_ms), quorum)

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
        """One fan-out's evidence about every replica (the reads that shared it are counted by `_answer`)."""
        now = time.time()
        stats = self.stats
        products = [v.product_id for v in votes]
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
                fetched = interpret(tasks[task], task, started)
                if fetched.failure:
                    self.stats.failures[fetched.replica][fetched.failure] += 1
                elif any(fetched.replica in v.disagreed for v in self._vote({**answers, fetched.replica: fetched},
                                                                            products)):
                    self._wrong(fetched.replica, time.time(), products)
        for task in done:
            fetched = interpret(tasks[task], task, started)
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

    def describe(self) -> dict[str, Any]:
        """`GET /voting/stats`: every counter since this process started."""
        return describe_stats(self.stats, self.replicas, self.need, self.max_staleness_ms)

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
