"""PostgreSQL plumbing: one pool per service, the database itself, and each component's schema."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncpg
from asyncpg.exceptions import InsufficientResourcesError, OperatorInterventionError
from asyncpg.exceptions._base import InternalClientError

from faultlab.core.config import Settings

# The database is unreachable, restarting or went away mid-operation: the caller may retry later.
# (InternalClientError is what a pooled connection broken by a server crash raises on its next use.)
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    OperatorInterventionError, InsufficientResourcesError, InternalClientError,
)
# What a background loop survives and retries: the above and any error the server reports.
RETRIABLE: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.PostgresError)

ORDERS_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS orders;
CREATE TABLE IF NOT EXISTS orders.orders (
    order_id    uuid PRIMARY KEY,
    product_id  text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    idempotency_key text
);
CREATE INDEX IF NOT EXISTS orders_pending ON orders.orders (created_at) WHERE status IN ('PENDING', 'CANCELLING');
-- The client's Idempotency-Key: one order per key (a retry finds the order its first attempt stored).
ALTER TABLE orders.orders ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE UNIQUE INDEX IF NOT EXISTS orders_idempotency_key ON orders.orders (idempotency_key);
-- Deliveries (operator): each one is an outbox event of type 'restock' whose order_id is the restock's id.
CREATE TABLE IF NOT EXISTS orders.restocks (
    restock_id      uuid PRIMARY KEY,
    product_id      text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text UNIQUE
);
-- The outbox: written in the order's transaction; the relay numbers rows (seq) and publishes them.
CREATE TABLE IF NOT EXISTS orders.outbox (
    id          bigserial PRIMARY KEY,
    order_id    uuid NOT NULL,
    event_type  text NOT NULL,
    product_id  text NOT NULL,
    quantity    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    seq         bigint UNIQUE,
    published   boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS outbox_unnumbered ON orders.outbox (id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unpublished ON orders.outbox (seq) WHERE seq IS NOT NULL AND NOT published;
CREATE TABLE IF NOT EXISTS orders.relay_state (id integer PRIMARY KEY, last_seq bigint NOT NULL);
INSERT INTO orders.relay_state VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS orders.order_results (
    seq      bigint NOT NULL,
    replica  integer NOT NULL,
    order_id uuid NOT NULL,
    outcome  text NOT NULL,
    PRIMARY KEY (seq, replica)
);
CREATE TABLE IF NOT EXISTS orders.replica_progress (replica integer PRIMARY KEY, applied_seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS orders.consumer_offsets (name text PRIMARY KEY, next_offset bigint NOT NULL);
-- The highest number consumed from each writer of inventory-results (a replica's process): a copy is not news.
CREATE TABLE IF NOT EXISTS orders.result_writers (writer text PRIMARY KEY, last_n bigint NOT NULL);
"""

# The lab's epoch: one row beside the data it belongs to, created by the first service to start on empty data and
# replaced by `faultlab reset` (in the transaction that drops the data); every sealed record carries it.
LAB_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS lab;
CREATE TABLE IF NOT EXISTS lab.epoch (
    id         integer PRIMARY KEY CHECK (id = 1),
    epoch      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
LAB_LOCK = 3

MONITOR_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS monitor;
CREATE TABLE IF NOT EXISTS monitor.instance_status (
    service_name text NOT NULL,
    instance_id  text NOT NULL,
    status       text NOT NULL,
    last_check   timestamptz,
    last_change  timestamptz,
    reason       text,
    PRIMARY KEY (service_name, instance_id)
);
CREATE TABLE IF NOT EXISTS monitor.failure_audit (
    id           bigserial PRIMARY KEY,
    service_name text NOT NULL,
    instance_id  text NOT NULL,
    event        text NOT NULL,
    detected_at  timestamptz NOT NULL,
    source       text,
    reason       text,
    fault_kind   text,
    ttd_ms       double precision,
    ttr_ms       double precision,
    details      jsonb
);
CREATE INDEX IF NOT EXISTS failure_audit_time ON monitor.failure_audit (detected_at);
-- Replicas are keyed by the guide's instance id ('1'), not 'inventory-svc-1' (labs made before that changed).
DELETE FROM monitor.instance_status WHERE service_name = 'inventory-svc' AND instance_id LIKE 'inventory-svc-%';
UPDATE monitor.failure_audit SET instance_id = substr(instance_id, 15)
    WHERE service_name = 'inventory-svc' AND instance_id LIKE 'inventory-svc-%';
-- One row per service, endpoint and status every few seconds (requests = how many, latency_ms = their mean).
CREATE TABLE IF NOT EXISTS monitor.request_metrics (
    id           bigserial PRIMARY KEY,
    "timestamp"  timestamptz NOT NULL,
    service_name text NOT NULL,
    instance_id  text NOT NULL,
    endpoint     text NOT NULL,
    method       text NOT NULL,
    status       integer NOT NULL,
    requests     bigint NOT NULL,
    latency_ms   double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS request_metrics_time ON monitor.request_metrics ("timestamp");
CREATE TABLE IF NOT EXISTS monitor.voting_events (
    id           bigserial PRIMARY KEY,
    "timestamp"  timestamptz NOT NULL,
    product_id   text,
    outcome      text NOT NULL,
    agreed       integer[],
    disagreed    integer[],
    failed       integer[],
    details      jsonb
);
"""


def inventory_schema(replica: int) -> str:
    """Each replica's own tables: its stock, its log position, the events it applied (exactly once), the
    reservations a cancel may release, and the records it set aside."""
    s = f"inventory_{replica}"
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.stock (
    product_id  text PRIMARY KEY,
    available   bigint NOT NULL,
    reserved    bigint NOT NULL,
    version     bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.position (
    id            integer PRIMARY KEY,
    applied_seq   bigint NOT NULL,
    broker_offset bigint NOT NULL
);
INSERT INTO {s}.position VALUES (1, 0, -1) ON CONFLICT DO NOTHING;
-- seq of the record at broker_offset: a restarted replica checks the log still holds it there
ALTER TABLE {s}.position ADD COLUMN IF NOT EXISTS offset_seq bigint;
CREATE TABLE IF NOT EXISTS {s}.applied_events (
    seq         bigint PRIMARY KEY,
    order_id    uuid NOT NULL,
    event_type  text NOT NULL,
    product_id  text NOT NULL,
    quantity    integer NOT NULL,
    outcome     text NOT NULL
);
CREATE INDEX IF NOT EXISTS applied_events_order ON {s}.applied_events (order_id);
-- Confirmed orders not cancelled yet: what a cancel releases (looked up per batch, never loaded whole).
CREATE TABLE IF NOT EXISTS {s}.reservations (
    order_id    uuid PRIMARY KEY,
    product_id  text NOT NULL,
    quantity    integer NOT NULL
);
ALTER TABLE {s}.position ADD COLUMN IF NOT EXISTS layout integer NOT NULL DEFAULT 1;
DO $$ BEGIN
    IF (SELECT layout FROM {s}.position WHERE id = 1) < 2 THEN  -- data from before the reservations table
        INSERT INTO {s}.reservations
            SELECT c.order_id, c.product_id, c.quantity FROM {s}.applied_events c
            WHERE c.event_type = 'order_created' AND c.outcome = 'CONFIRMED' AND NOT EXISTS (
                SELECT 1 FROM {s}.applied_events x WHERE x.order_id = c.order_id AND x.event_type = 'order_cancelled')
            ON CONFLICT DO NOTHING;
        UPDATE {s}.position SET layout = 2 WHERE id = 1;
    END IF;
END $$;
-- When each event was applied and each product's current version (ms on the lab's clock, the batch's moment): the
-- voter's staleness bound and the read-history checker use them; a restarted replica serves its current version with
-- its own time. Rows from before these columns have NULL and 0.
ALTER TABLE {s}.applied_events ADD COLUMN IF NOT EXISTS applied_at_ms bigint;
ALTER TABLE {s}.stock ADD COLUMN IF NOT EXISTS applied_at_ms bigint NOT NULL DEFAULT 0;
-- Records on order-events that are not events of the log (forged, malformed): kept apart, once each.
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    broker_offset bigint NOT NULL,
    digest        bytea NOT NULL,
    reason        text NOT NULL,
    record        bytea NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (broker_offset, digest)
);
"""


async def ensure_database(settings: Settings, timeout_s: float = 15.0) -> None:
    """Create the lab's database on the server if it does not exist (waits for the server)."""
    if settings.database_url:
        return
    admin_dsn = settings.admin_dsn()
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(admin_dsn, timeout=2)
            break
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", settings.db_name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{settings.db_name}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


async def create_pool(settings: Settings, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A small pool; statements run over reused connections, never one connection per request."""
    return await asyncpg.create_pool(
        settings.dsn, min_size=min_size, max_size=max_size, command_timeout=10, timeout=3,
        max_inactive_connection_lifetime=60,
    )


async def migrate(pool: asyncpg.Pool, ddl: str, lock_key: int) -> None:
    """Apply idempotent DDL under an advisory lock, so services starting together do not race."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        await conn.execute(ddl)


def new_epoch() -> str:
    """A fresh epoch: random, so a lab whose data was wiped never takes an old epoch again."""
    return secrets.token_hex(8)


async def lab_epoch(pool: asyncpg.Pool) -> str:
    """The lab's epoch, created with the data on a start on empty data (the first writer wins, with or without a
    supervisor); a restart that keeps the data keeps it. Read once when a service starts.

    Once it exists, it is read under the lock `replace_epoch` holds (shared: readers do not wait for each other),
    in a transaction of its own: a reader never sees the epoch a reset is replacing — the same order as the DDL
    below gives, without its cost (a replica's successor reads it on the way to its first answer)."""
    with contextlib.suppress(asyncpg.UndefinedTableError):  # a database without the lab schema: created below
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", LAB_LOCK)
            epoch = await conn.fetchval("SELECT epoch FROM lab.epoch WHERE id = 1")
        if epoch is not None:
            return str(epoch)
    await migrate(pool, LAB_SCHEMA, lock_key=LAB_LOCK)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO lab.epoch (id, epoch) VALUES (1, $1) ON CONFLICT DO NOTHING", new_epoch())
        return str(await conn.fetchval("SELECT epoch FROM lab.epoch WHERE id = 1"))


async def replace_epoch(conn: asyncpg.Connection) -> str:
    """A new epoch for the lab (`faultlab reset`, inside the transaction that drops the data, `conn` in a
    transaction): every record sealed before it is of another epoch from now on."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LAB_LOCK)
    await conn.execute(LAB_SCHEMA)
    epoch = new_epoch()
    await conn.execute("""INSERT INTO lab.epoch (id, epoch) VALUES (1, $1)
                          ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, created_at = now()""", epoch)
    return epoch
