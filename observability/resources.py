"""Prometheus metrics of what a worker's requests share: the PostgreSQL pool, the SQLite writer, the JWKS and
the cache of verified tokens; and the requests in flight.

Read off the objects that hold them once a second, not recorded by each request: the data layer and the token
verifier only keep plain counts (no Prometheus in ``db`` or ``tasks_api``), and the hot path pays nothing for
them. With several workers the scraping process cannot ask a worker for a value at scrape time, so sampling
into the worker's own metric files is what makes them visible there; gauges are then summed over the workers
that are alive. The one exception is the size of each SQLite commit group, which the writer's thread reports
as it commits (a histogram needs every group, not a sample).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from prometheus_client import Counter, Gauge, Histogram

from db.database import Database
from db.postgres import PostgresDatabase
from db.sqlite import SQLiteDatabase
from observability.metrics import ACTIVE_REQUESTS, InFlight
from tasks_api.tokens import TokenVerifier

SAMPLE_INTERVAL = 1.0

POOL_CONNECTIONS = Gauge(
    "tasks_api_db_pool_connections",
    "PostgreSQL connections open in the pool (idle and in use), summed over the workers.",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "tasks_api_db_pool_connections_in_use",
    "PostgreSQL connections lent to requests, summed over the workers.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "tasks_api_db_pool_requests_waiting",
    "Requests waiting for a PostgreSQL connection, summed over the workers.",
    multiprocess_mode="livesum",
)
WRITER_QUEUE = Gauge(
    "tasks_api_sqlite_writer_queue_depth",
    "Writes waiting for the SQLite writer's thread, summed over the workers.",
    multiprocess_mode="livesum",
)
COMMIT_GROUP_SIZE = Histogram(
    "tasks_api_sqlite_commit_group_size",
    "Writes committed together, in one transaction and one fsync, by the SQLite writer.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
JWKS_FETCHES = Counter("tasks_api_jwks_fetches", "Fetches of the JWKS begun (at start-up, refreshes, refetches).")
JWKS_FAILURES = Counter(
    "tasks_api_jwks_fetch_failures", "Fetches of the JWKS that gave no usable key set (the keys before are kept)."
)
TOKEN_CACHE_LOOKUPS = Counter(
    "tasks_api_token_cache_lookups",
    "Bearer tokens looked up in the cache of verified tokens: hit (no signature checked) or miss.",
    ["result"],
)
TOKEN_CACHE_ENTRIES = Gauge(
    "tasks_api_token_cache_entries",
    "Verified tokens held in the cache, summed over the workers.",
    multiprocess_mode="livesum",
)


class _Progress:
    """A counter brought up to a count kept elsewhere, by what it rose since the last sample."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._counted = 0

    def advance(self, count: int) -> None:
        if count > self._counted:
            self._counter.inc(count - self._counted)
            self._counted = count


class ResourceSampling(contextlib.AbstractAsyncContextManager[None]):
    """``async with ResourceSampling(database, verifier)``: keeps the metrics above current while the block
    runs, and takes a last sample as it ends so that no count is lost."""

    def __init__(self, database: Database, verifier: TokenVerifier | None) -> None:
        self._database = database
        self._verifier = verifier
        self._hits = _Progress(TOKEN_CACHE_LOOKUPS.labels("hit"))
        self._misses = _Progress(TOKEN_CACHE_LOOKUPS.labels("miss"))
        self._fetches = _Progress(JWKS_FETCHES)
        self._failures = _Progress(JWKS_FAILURES)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        ACTIVE_REQUESTS.set(InFlight.count)
        database = self._database
        if isinstance(database, PostgresDatabase):
            stats = database.pool.get_stats()
            POOL_CONNECTIONS.set(stats["pool_size"])
            POOL_IN_USE.set(stats["pool_size"] - stats["pool_available"])
            POOL_WAITING.set(stats["requests_waiting"])
        elif isinstance(database, SQLiteDatabase):
            WRITER_QUEUE.set(database.writer.queued())
        verifier = self._verifier
        if verifier is None:
            return
        TOKEN_CACHE_ENTRIES.set(verifier.cache_size())
        self._hits.advance(verifier.cache_hits)
        self._misses.advance(verifier.cache_misses)
        if verifier.key_set is not None:
            self._fetches.advance(verifier.key_set.fetches)
            self._failures.advance(verifier.key_set.fetch_failures)

    async def _sample_periodically(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def __aenter__(self) -> None:
        if isinstance(self._database, SQLiteDatabase):
            self._database.writer.group_committed = COMMIT_GROUP_SIZE.observe
        self._task = asyncio.create_task(self._sample_periodically())

    async def __aexit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if isinstance(self._database, SQLiteDatabase):
            self._database.writer.group_committed = None
        self.sample()
