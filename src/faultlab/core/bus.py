"""Kafka plumbing: topic names and generations, explicit topic creation, producer and consumer factories, JSON codec.

Every topic has one partition and every record goes to partition 0, so the log has one total order
even if a broker auto-creates a topic with more partitions after a restart.

The log and its results are cut into generations of `log_generation_events` events: event `seq` goes to the
`order-events` topic of generation `(seq - 1) // log_generation_events` (generation 0 is `order-events` itself,
generation g > 0 is `order-events.g`), and the results of applying it to `inventory-results` of the same generation.
Where an event goes depends on its seq alone, so every writer and reader agrees on it without telling each other, and
a generation every replica has applied can be deleted whole: the embedded broker keeps every record in memory
and ignores retention, but gives a deleted topic's memory back (docs/correctness.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from faultlab.core.config import Settings

ORDER_EVENTS = "order-events"
INVENTORY_RESULTS = "inventory-results"
ERROR_QUEUE = "error-queue"
TOPICS = (ORDER_EVENTS, INVENTORY_RESULTS, ERROR_QUEUE)
PARTITION = 0
CONSUMER_METADATA_MAX_AGE_MS = 5000  # a consumer learns of a moved or recreated topic within this long
PRODUCER_METADATA_MAX_AGE_MS = 300_000  # aiokafka's default
WAITING_METADATA_MAX_AGE_MS = 7 * 24 * 3600 * 1000  # a warm spare's clients: no refresh while it waits


def generation(settings: Settings, seq: int) -> int:
    """The generation event `seq` (1, 2, ...) belongs to."""
    return max(seq - 1, 0) // settings.log_generation_events


def generation_end(settings: Settings, gen: int) -> int:
    """The seq of the last event of generation `gen`."""
    return (gen + 1) * settings.log_generation_events


def generation_topic(settings: Settings, topic: str, gen: int) -> str:
    """The topic of `topic`'s generation `gen` (ORDER_EVENTS or INVENTORY_RESULTS), prefix included."""
    base = settings.topic(topic)
    return base if gen == 0 else f"{base}.{gen}"


def generation_of_topic(settings: Settings, topic: str, name: str) -> int | None:
    """Which generation of `topic` the topic `name` is (None: another topic)."""
    base = settings.topic(topic)
    if name == base:
        return 0
    rest = name[len(base) + 1:] if name.startswith(base + ".") else ""
    return int(rest) if rest.isdigit() and not rest.startswith("0") else None


def generation_partition(settings: Settings, topic: str, gen: int) -> TopicPartition:
    return TopicPartition(generation_topic(settings, topic, gen), PARTITION)


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def decode(raw: bytes) -> Any:
    return orjson.loads(raw)


# Why a record was set aside: a fixed vocabulary, counted by each reader under these words (its detail goes to the log).
NOT_JSON = "not JSON"
NOT_OBJECT = "not a JSON object"
NOT_SIGNED = "not signed"
BAD_SIGNATURE = "bad signature"
OTHER_EPOCH = "other epoch"
SEEN_BEFORE = "seen before"
MALFORMED = "malformed"
SIG_FIELD = "sig"
EPOCH_FIELD = "epoch"
WRITER_FIELD = "writer"
NONCE_FIELD = "n"
WRITER_MAX_LEN = 64


class Unsealed(ValueError):
    """A record that is not a JSON object sealed with the lab's key for this topic in this epoch (forged, altered,
    malformed, or written before the lab's last reset); `reason` is one word of the vocabulary above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _bus_key(token: str | None) -> bytes:
    if not token:
        raise ValueError("records on the lab's topics are signed with the operator token: set FAULTLAB_ADMIN_TOKEN")
    return hashlib.sha256(b"faultlab-bus-v1:" + token.encode()).digest()


def _mac(key: bytes, topic: str, body: bytes) -> str:
    return hmac.new(key, topic.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def new_writer_id() -> str:
    """A writer's id: random for each process start, so a writer's numbers are never used twice."""
    return secrets.token_hex(8)


class Sealer:
    """Signs and checks the JSON records of the lab's topics (HMAC-SHA256 keyed by the operator token).

    Anyone who can reach the broker can write to a topic; only a holder of the token can write a record the
    lab trusts. The signature covers the topic name and the payload (sorted keys), so a record cannot be
    altered or moved to another topic. Every payload carries the lab's `epoch` (new at every reset and every start
    on empty data), under the seal: a record of another epoch is refused whoever sealed it. A sealer given a
    `writer` id also stamps each record with it and the writer's next number `n` (evidence and results: a reader
    keeps the highest `n` seen per writer, `HighWater`, and refuses a copy).
    """

    def __init__(self, token: str | None, epoch: str, writer: str | None = None) -> None:
        if not epoch:
            raise ValueError("a sealer needs the lab's epoch (db.lab_epoch)")
        self._key = _bus_key(token)
        self.epoch = epoch
        self.writer = writer
        self.sealed = 0  # the writer's last number

    def seal(self, topic: str, payload: dict[str, Any]) -> bytes:
        stamped = {**payload, EPOCH_FIELD: self.epoch}
        if self.writer is not None:
            self.sealed += 1
            stamped[WRITER_FIELD], stamped[NONCE_FIELD] = self.writer, self.sealed
        body = orjson.dumps(stamped, option=orjson.OPT_SORT_KEYS)
        return orjson.dumps({**stamped, SIG_FIELD: _mac(self._key, topic, body)})

    def unseal(self, topic: str, raw: bytes | None) -> dict[str, Any]:
        """The payload of a record sealed for `topic` in this epoch (epoch included), or Unsealed."""
        try:
            data = orjson.loads(raw or b"")
        except orjson.JSONDecodeError:
            raise Unsealed(NOT_JSON) from None
        if not isinstance(data, dict):
            raise Unsealed(NOT_OBJECT)
        sig = data.pop(SIG_FIELD, None)
        if not isinstance(sig, str):
            raise Unsealed(NOT_SIGNED)
        body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        if not hmac.compare_digest(sig, _mac(self._key, topic, body)):
            raise Unsealed(BAD_SIGNATURE)
        if data.get(EPOCH_FIELD) != self.epoch:
            raise Unsealed(OTHER_EPOCH)
        return data


def nonce_of(payload: dict[str, Any]) -> tuple[str, int]:
    """(writer, n) of an unsealed payload, or Unsealed(MALFORMED) when it carries none."""
    writer, n = payload.get(WRITER_FIELD), payload.get(NONCE_FIELD)
    if not isinstance(writer, str) or not 0 < len(writer) <= WRITER_MAX_LEN or isinstance(n, bool) \
            or not isinstance(n, int) or n < 1:
        raise Unsealed(MALFORMED)
    return writer, n


class HighWater:
    """The highest number seen per writer: a record is new only above it (a copy, or an older record, is not).

    Numbers noted with `stage` count for `fresh` at once but become the mark only on `commit` (a reader whose batch
    fails to commit `discard`s them and reads the batch again); `accept` is the three in one.
    """

    def __init__(self, marks: dict[str, int] | None = None) -> None:
        self.marks: dict[str, int] = dict(marks or {})
        self.pending: dict[str, int] = {}

    def fresh(self, writer: str, n: int) -> bool:
        return n > max(self.marks.get(writer, 0), self.pending.get(writer, 0))

    def stage(self, writer: str, n: int) -> None:
        self.pending[writer] = max(n, self.pending.get(writer, 0))

    def commit(self) -> None:
        for writer, n in self.pending.items():
            self.marks[writer] = max(n, self.marks.get(writer, 0))
        self.pending = {}

    def discard(self) -> None:
        self.pending = {}

    def accept(self, writer: str, n: int) -> bool:
        """True (and noted) when `n` is above everything seen from `writer`."""
        if not self.fresh(writer, n):
            return False
        self.marks[writer] = n
        return True


class SetAside:
    """Counts of the records a reader set aside, by reason."""

    def __init__(self) -> None:
        self.by_reason: dict[str, int] = {}

    def add(self, reason: str, count: int = 1) -> int:
        """Count one more; the new count for that reason."""
        self.by_reason[reason] = self.by_reason.get(reason, 0) + count
        return self.by_reason[reason]

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())


async def ensure_topics(settings: Settings, timeout_s: float = 10.0, generations: tuple[int, ...] = (0,)) -> None:
    """Create the lab's topics (1 partition each) if they do not exist yet: the error queue, and the log and its
    results in the `generations` given (the first by default)."""
    wanted = [settings.topic(ERROR_QUEUE)]
    wanted += [generation_topic(settings, t, g) for g in generations for t in (ORDER_EVENTS, INVENTORY_RESULTS)]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(t, 1, settings.topic_replication) for t in missing])
            return
        except (KafkaError, OSError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


def lab_topics(settings: Settings, listed: list[str] | set[str]) -> list[str]:
    """The lab's topics among those `listed`: every generation of the log and of its results, and the error queue."""
    return sorted(name for name in listed if name == settings.topic(ERROR_QUEUE)
                  or any(generation_of_topic(settings, t, name) is not None for t in (ORDER_EVENTS, INVENTORY_RESULTS)))


async def delete_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Delete the lab's topics, every generation (an external cluster's: the embedded broker is simply restarted),
    and wait until the cluster no longer lists them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        names = lab_topics(settings, await admin.list_topics())
        if names:
            with contextlib.suppress(KafkaError):
                await admin.delete_topics(names)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while set(names) & set(await admin.list_topics()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics {names} still listed {timeout_s:.0f} s after their deletion")
            await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def make_producer(settings: Settings, waiting: bool = False) -> AIOKafkaProducer:
    """Producer for small JSON records: acks from every in-sync replica, tiny linger for batching under load.
    `waiting`: started by a warm spare before it is needed (see `awake`)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", linger_ms=1, request_timeout_ms=5000,
        max_batch_size=256 * 1024, retry_backoff_ms=50, **_waiting(waiting, PRODUCER_METADATA_MAX_AGE_MS),
    )


def make_consumer(settings: Settings, fetch_wait_ms: int | None = None, waiting: bool = False) -> AIOKafkaConsumer:
    """Consumer without a group (manual assignment: first record in milliseconds, not seconds); it joins no group
    and fetches nothing until it is assigned a partition. `waiting`: started by a warm spare (see `awake`)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=fetch_wait_ms or settings.fetch_wait_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024, retry_backoff_ms=50, request_timeout_ms=5000,
        **_waiting(waiting, CONSUMER_METADATA_MAX_AGE_MS),
    )


def _waiting(waiting: bool, metadata_max_age_ms: int) -> dict[str, Any]:
    """A started client wakes to refresh its metadata every `metadata_max_age_ms` and closes a connection idle for 9
    minutes. One a warm spare starts while it waits does neither (no timer in a waiting process, its connections
    still open when it is let go); `awake` gives it the metadata age of a live one."""
    if not waiting:
        return {"metadata_max_age_ms": metadata_max_age_ms}
    return {"metadata_max_age_ms": WAITING_METADATA_MAX_AGE_MS, "connections_max_idle_ms": None}


def awake(client: AIOKafkaConsumer | AIOKafkaProducer, metadata_max_age_ms: int) -> None:
    """A client started `waiting`, now live: its metadata refreshed every `metadata_max_age_ms` again, from its next
    refresh on (a consumer's assignment asks for one at once; a producer's next one comes with a broken connection
    or a new topic — nothing is sent for it on the way to a successor's first answer).

    aiokafka's metadata task reads the age from its client at every wait (a consumer's `_client`, a producer's
    `client`: `_metadata_max_age_ms`, the same in 0.11 to 0.14); without that attribute the client refreshes its
    metadata only when a request needs it, which is all a replica's correctness rests on.
    """
    inner = getattr(client, "_client", None) or getattr(client, "client", None)
    if inner is not None and hasattr(inner, "_metadata_max_age_ms"):
        inner._metadata_max_age_ms = metadata_max_age_ms


def forget_topics(client: AIOKafkaConsumer | AIOKafkaProducer | AIOKafkaAdminClient, names: set[str]) -> None:
    """Stop asking the broker about these topics (deleted generations): a client asks for the metadata of every topic
    it ever used, and the embedded broker creates a topic it is asked about, empty.

    aiokafka keeps those names in its client's `_topics` (the same in 0.11 to 0.14); without that attribute nothing
    is forgotten, and a deleted generation may come back as an empty topic (a few hundred bytes)."""
    inner = getattr(client, "_client", None) or getattr(client, "client", None)
    topics = getattr(inner, "_topics", None)
    if isinstance(topics, set):
        topics.difference_update(names)


async def missing_topics(settings: Settings, consumer: AIOKafkaConsumer) -> list[str]:
    """The lab's topics the broker does not list, asked through a started consumer (one request on its connection;
    `ensure_topics` opens a client of its own)."""
    listed = await consumer.topics()
    return [settings.topic(t) for t in TOPICS if settings.topic(t) not in listed]


def partition(settings: Settings, topic: str) -> TopicPartition:
    return TopicPartition(settings.topic(topic), PARTITION)
