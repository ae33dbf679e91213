"""Metrics of the PostgreSQL pool, the SQLite writer, the JWKS and the verified-token cache, as sampled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from db.database import PoolOptions
from db.postgres import PostgresDatabase
from db.sqlite import SQLiteDatabase
from db.urls import normalised_database_url
from observability.resources import ResourceSampling
from tasks_api.migrations import upgrade_to_head
from tasks_api.tokens import TokenSettings, TokenVerification
from tests.support import INSERT_TASK, closed_port, fresh_database, wait_for_async
from tests.tokens import SECRET, hs256


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("postgres"))) as url:
        yield url


def test_the_pool_shows_connections_in_use_and_requests_waiting(postgres_url: str) -> None:
    async def scenario() -> tuple[float, float, float]:
        database = PostgresDatabase(postgres_url, PoolOptions(size=1, max_overflow=0, checkout_timeout=30))
        await database.open()
        sampling = ResourceSampling(database, None)
        try:
            async with database.unit_of_work() as holder:
                await holder.fetch_one(text("SELECT 1"), {})
                waiter = asyncio.ensure_future(_select_one(database))
                await wait_for_async(lambda: database.pool.get_stats()["requests_waiting"] == 1, what="a waiter")
                sampling.sample()
                seen = (
                    value("tasks_api_db_pool_connections"),
                    value("tasks_api_db_pool_connections_in_use"),
                    value("tasks_api_db_pool_requests_waiting"),
                )
            await waiter
            return seen
        finally:
            await database.dispose()

    assert asyncio.run(scenario()) == (1, 1, 1)


async def _select_one(database: PostgresDatabase) -> None:
    async with database.unit_of_work() as work:
        await work.fetch_one(text("SELECT 1"), {})


def test_the_sqlite_writer_shows_its_queue_and_the_size_of_each_commit_group(tmp_path: Path) -> None:
    url = normalised_database_url(f"sqlite:///{tmp_path / 'tasks.db'}")
    upgrade_to_head(url)
    owner, now = str(uuid.uuid4()), datetime.now(UTC)
    groups = value("tasks_api_sqlite_commit_group_size_count")
    grouped = value("tasks_api_sqlite_commit_group_size_sum")

    async def insert_alone(database: SQLiteDatabase, title: str) -> None:
        async with database.unit_of_work() as work:
            await work.execute(
                INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": title, "now": now}, alone=True
            )

    async def scenario() -> float:
        database = SQLiteDatabase(url)
        sampling = ResourceSampling(database, None)
        try:
            async with sampling:
                async with database.unit_of_work() as holder:
                    # A unit's open transaction holds back every write alone; when it ends they commit as one group.
                    await holder.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": "held", "now": now})
                    writes = [asyncio.ensure_future(insert_alone(database, title)) for title in ("a", "b", "c")]
                    await wait_for_async(lambda: database.writer.queued() == 3, what="the writes to queue")
                    sampling.sample()
                    queued = value("tasks_api_sqlite_writer_queue_depth")
                await asyncio.gather(*writes)
            return queued
        finally:
            await database.dispose()

    assert asyncio.run(scenario()) == 3
    assert value("tasks_api_sqlite_commit_group_size_count") == groups + 1
    assert value("tasks_api_sqlite_commit_group_size_sum") == grouped + 3
    assert value("tasks_api_sqlite_writer_queue_depth") == 0  # the last sample, as sampling ended


def _unopened(directory: Path) -> SQLiteDatabase:
    """A database the scenario never uses (sampling needs one)."""
    return SQLiteDatabase(normalised_database_url(f"sqlite:///{directory / 'unused.db'}"))


def test_the_token_cache_shows_its_hits_misses_and_size(tmp_path: Path) -> None:
    hits, misses = (
        value("tasks_api_token_cache_lookups_total", result="hit"),
        value("tasks_api_token_cache_lookups_total", result="miss"),
    )
    token = hs256(str(uuid.uuid4()))

    async def scenario() -> float:
        async with TokenVerification(TokenSettings(secret=SECRET)) as verifier:
            sampling = ResourceSampling(_unopened(tmp_path), verifier)
            for _ in range(3):
                await verifier.claims(token)
            sampling.sample()
            return value("tasks_api_token_cache_entries")

    assert asyncio.run(scenario()) == 1
    assert value("tasks_api_token_cache_lookups_total", result="hit") == hits + 2
    assert value("tasks_api_token_cache_lookups_total", result="miss") == misses + 1


def test_jwks_fetches_and_their_failures_are_counted(tmp_path: Path) -> None:
    fetches, failures = value("tasks_api_jwks_fetches_total"), value("tasks_api_jwks_fetch_failures_total")
    unreachable = f"http://127.0.0.1:{closed_port()}/jwks"

    async def scenario() -> None:
        async with TokenVerification(TokenSettings(jwks_url=unreachable)) as verifier:
            keys = verifier.key_set
            assert keys is not None
            async with ResourceSampling(_unopened(tmp_path), verifier):
                await wait_for_async(lambda: keys.fetch_failures == 1, what="the first fetch to fail")

    asyncio.run(scenario())

    assert value("tasks_api_jwks_fetches_total") == fetches + 1
    assert value("tasks_api_jwks_fetch_failures_total") == failures + 1
