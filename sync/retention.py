"""The purge of expired deletions and recorded answers, run by every instance on its own, every
``TASKS_API_PURGE_INTERVAL`` seconds: no separate job to deploy, and instances purging at once only share the
work (each batch deletes what is still there)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from db import retention
from db.database import Database
from db.errors import UNAVAILABLE_ERRORS, OutcomeUnknown

logger = logging.getLogger("tasks_api.retention")

# Deletions are purged this long after sync tokens that could need them are refused (sync.tokens), whatever the
# clocks of the instances that issue tokens and purge say.
CLOCK_MARGIN = timedelta(hours=1)


async def _purge_all(database: Database, purge: Callable[..., Awaitable[int]], before: datetime) -> int:
    purged = 0
    while True:
        async with database.unit_of_work() as work:
            count = await purge(work, before)
        purged += count
        if count < retention.PURGE_BATCH:
            return purged


async def purge_expired(database: Database, answers_ttl: timedelta, deletions_kept: timedelta) -> tuple[int, int]:
    """Forgets every answer and deletion past its time; how many of each."""
    now = datetime.now(UTC)
    answers = await _purge_all(database, retention.purge_answers, now - answers_ttl)
    deletions = await _purge_all(database, retention.purge_deletions, now - deletions_kept - CLOCK_MARGIN)
    return answers, deletions


async def purge_periodically(
    database: Database, answers_ttl: timedelta, deletions_kept: timedelta, interval: float
) -> None:
    """``purge_expired`` every ``interval`` seconds (each wait drawn within 20% of it, so that instances started
    together spread out), until cancelled. A database that is unavailable is tried again next time.

    A statement cut off while out (its connection lost, or the purge cancelled) raises ``OutcomeUnknown``, which
    does not matter to a purge: the next one deletes whatever this one did not. Cancelled, it ends cancelled, so
    that the shutdown that cancelled it goes on to close the database."""
    while True:
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        try:
            answers, deletions = await purge_expired(database, answers_ttl, deletions_kept)
        except OutcomeUnknown as error:
            if isinstance(error.__cause__, asyncio.CancelledError):
                raise error.__cause__ from None
            logger.warning("purge of expired answers and deletions cut off, tried again later: %r", error.__cause__)
            continue
        except UNAVAILABLE_ERRORS as error:
            logger.warning("purge of expired answers and deletions failed, tried again later: %r", error)
            continue
        if answers or deletions:
            logger.info("purged %d expired idempotency answers and %d deletions", answers, deletions)
