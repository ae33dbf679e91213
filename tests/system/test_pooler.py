"""The service through PgBouncer in transaction mode (deploy/pgbouncer.ini), as behind Neon's pooled endpoint: no
errors from prepared statements, a statement timeout that holds and leaks to nobody, migrations that serialise,
and a direct URL for migrations."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest

from tasks_api.migrations import upgrade_to_head
from tests import processes
from tests.pgbouncer import PgBouncer, pgbouncer
from tests.support import (
    closed_port,
    fresh_database,
    new_user,
    row_lock,
    serving,
    serving_together,
    sync_conninfo,
    wait_for,
    waiting_on_locks,
)

POOLED = {"TASKS_API_DB_POOLER": "transaction"}


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    with pgbouncer() as running:
        yield running


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


async def _burst(base_url: str, rounds: int = 3) -> dict[int, int]:
    """Bursts of concurrent mixed requests (gets, toggles, conditional writes, lists, creates); statuses counted."""
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        users = [new_user() for _ in range(10)]
        tasks = [
            (user, (await client.post(f"/api/{user}/tasks", json={"title": f"t{n}"})).json()["id"])
            for user in users
            for n in range(4)
        ]
        for _ in range(rounds):
            requests = []
            for n, (user, task) in enumerate(tasks):
                url = f"/api/{user}/tasks/{task}"
                requests += [client.get(url) for _ in range(5)]
                requests.append(client.patch(f"{url}/complete"))
                requests.append(
                    client.put(url, json={"title": "t", "is_completed": False}, headers={"If-Match": '"0"'})
                )
                if n % 4 == 0:
                    requests += [
                        client.get(f"/api/{user}/tasks"),
                        client.post(f"/api/{user}/tasks", json={"title": "x"}),
                    ]
            for response in await asyncio.gather(*requests):
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return statuses


def test_concurrent_mixed_requests_through_the_pooler_never_fail(bouncer: PgBouncer, database: str) -> None:
    upgrade_to_head(database)
    with serving(bouncer.url(database), "--no-migrate", **POOLED) as server:
        statuses = asyncio.run(_burst(server.base_url))

    assert not [status for status in statuses if status >= 500], statuses
    assert statuses[412] > 0 and statuses[200] > 0


def test_without_the_pooler_setting_the_same_requests_fail(bouncer: PgBouncer, database: str) -> None:
    # The control: psycopg prepares statements the pooler then hands to other server connections.
    upgrade_to_head(database)
    with serving(bouncer.url(database), "--no-migrate") as server:
        statuses = asyncio.run(_burst(server.base_url))

    assert [status for status in statuses if status >= 500], statuses


def test_the_statement_timeout_holds_through_the_pooler(bouncer: PgBouncer, database: str) -> None:
    upgrade_to_head(database)
    environment = {**POOLED, "TASKS_API_DB_STATEMENT_TIMEOUT_MS": "500"}
    with serving(bouncer.url(database), "--no-migrate", **environment) as server:
        user = new_user()
        task = httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": "locked"}).json()
        with row_lock(database, task["id"]):
            started = time.monotonic()
            response = httpx.put(
                f"{server.base_url}/api/{user}/tasks/{task['id']}",
                json={"title": "x", "is_completed": True},
                timeout=30,
            )
            waited = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert 0.4 < waited < 5


def test_the_timeout_leaks_to_no_other_client_of_the_pooler(bouncer: PgBouncer, database: str) -> None:
    upgrade_to_head(database)
    environment = {**POOLED, "TASKS_API_DB_STATEMENT_TIMEOUT_MS": "1234"}
    with serving(bouncer.url(database), "--no-migrate", **environment) as server:
        asyncio.run(_burst(server.base_url, rounds=1))
        # Each transaction of this client may land on any server connection the service used.
        with psycopg.connect(sync_conninfo(bouncer.url(database)), prepare_threshold=None, autocommit=True) as other:
            seen = {other.execute("SHOW statement_timeout").fetchone()[0] for _ in range(50)}  # type: ignore[index]

    assert seen == {"0"}


def test_instances_starting_together_through_the_pooler_migrate_once(bouncer: PgBouncer, database: str) -> None:
    with serving_together(3, bouncer.url(database), **POOLED) as servers:
        for server in servers:
            wait_for(partial(_ready, server.base_url), what="every instance to be ready")
        migrated = [server for server in servers if any("Running upgrade" in line for line in server.log)]

    assert len(migrated) == 1


def test_the_migration_lock_is_transaction_scoped_and_holds_through_the_pooler(
    bouncer: PgBouncer, database: str
) -> None:
    from db.migration_lock import MIGRATION_LOCK_KEY

    with psycopg.connect(sync_conninfo(database)) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        with ThreadPoolExecutor(1) as pool:
            migrating = pool.submit(_migrate, bouncer.url(database))
            wait_for(lambda: waiting_on_locks(database) == 1, what="the migration to wait for the lock")
            assert not migrating.done()
            holder.commit()  # ends the transaction, and with it the lock
            assert migrating.result(timeout=120).returncode == 0

    with psycopg.connect(sync_conninfo(database)) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def _ready(base_url: str) -> bool:
    return httpx.get(f"{base_url}/api/health/ready").status_code == 200


def _migrate(database_url: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [sys.executable, "-m", "tasks_api.cli", "migrate"],
        env={**os.environ, "DATABASE_URL": database_url, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrations_use_the_migration_url_when_given(database: str) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"

    migrated = _migrate(unreachable, MIGRATION_DATABASE_URL=database)

    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(sync_conninfo(database)) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    logged = [json.loads(line) for line in migrated.stderr.splitlines() if line.startswith("{")]
    assert any("Running upgrade" in entry["message"] for entry in logged)
