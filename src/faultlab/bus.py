"""Kafka plumbing: topic names, explicit topic creation, producer and consumer factories, JSON codec.

Every topic has one partition and every record goes to partition 0, so the log has one total order
even if a broker auto-creates a topic with more partitions after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from faultlab.config import Settings

ORDER_EVENTS = "order-events"
INVENTORY_RESULTS = "inventory-results"
ERROR_QUEUE = "error-queue"
TOPICS = (ORDER_EVENTS, INVENTORY_RESULTS, ERROR_QUEUE)
PARTITION = 0


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def decode(raw: bytes) -> Any:
    return orjson.loads(raw)


async def ensure_topics(settings: Settings, timeout_s: float = 10.0) -> None:
    """Create the lab's topics (1 partition each) if they do not exist yet."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [settings.topic(t) for t in TOPICS if settings.topic(t) not in existing]
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


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """Producer for small JSON records: acks from every in-sync replica, tiny linger for batching under load."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", linger_ms=1, request_timeout_ms=5000,
        max_batch_size=256 * 1024, retry_backoff_ms=50,
    )


def make_consumer(settings: Settings, fetch_wait_ms: int | None = None) -> AIOKafkaConsumer:
    """Consumer without a group (manual assignment: first record in milliseconds, not seconds)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=fetch_wait_ms or settings.fetch_wait_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024, retry_backoff_ms=50, request_timeout_ms=5000,
        metadata_max_age_ms=5000,
    )


def partition(settings: Settings, topic: str) -> TopicPartition:
    return TopicPartition(settings.topic(topic), PARTITION)
