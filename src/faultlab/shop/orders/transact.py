"""One write of the orders service in one transaction, and what its failure means: nothing stored
(`NotAccepted`), or an outcome the service cannot know (`CommitUnknown`, the connection lost during COMMIT)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from faultlab.core.db import UNAVAILABLE

T = TypeVar("T")


class CommitUnknown(Exception):
    """The database connection was lost while COMMIT was in flight: the transaction may or may not be stored."""


class NotAccepted(Exception):
    """The database failed before the transaction committed (or refused the COMMIT): nothing was stored."""


async def transact(pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work(conn)` in one transaction; NotAccepted or CommitUnknown when the database fails.

    Only the COMMIT is ambiguous: before it, a failure rolls everything back; during it, a lost connection
    (or a server that goes away) leaves the client unable to know whether the server committed first. After
    it, nothing can take the answer back: a connection that fails to reset on its way back to the pool (the
    server died a moment later) is the pool's business, not the write's. An ApiError raised by `work` rolls
    back and passes through.
    """
    try:
        conn = await pool.acquire()
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        raise NotAccepted(repr(exc)) from exc
    try:
        tx = conn.transaction()
        try:
            await tx.start()
            result = await work(conn)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await tx.rollback()
            if isinstance(exc, (*UNAVAILABLE, asyncpg.PostgresError)):
                raise NotAccepted(repr(exc)) from exc
            raise
        try:
            await tx.commit()
        except UNAVAILABLE as exc:
            raise CommitUnknown(repr(exc)) from exc
        except asyncpg.PostgresError as exc:  # the server answered: it refused the COMMIT, nothing stored
            raise NotAccepted(repr(exc)) from exc
        return result
    finally:
        with contextlib.suppress(Exception):  # asyncpg terminates a connection that fails to reset
            await pool.release(conn)
