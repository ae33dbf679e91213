"""Timeouts, pool exhaustion and graceful shutdown of a real ``tasks-api serve`` on PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tasks_api.migrations import upgrade_to_head
from tests.support import (
    ServerProcess,
    answers,
    assert_problem,
    fresh_database,
    new_user,
    row_lock,
    serving,
    serving_together,
    sync_conninfo,
    wait_for,
    waiting_on_locks,
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("limits"))) as url:
        upgrade_to_head(url)
        yield url


def _task(server: ServerProcess) -> tuple[str, dict[str, Any]]:
    user = new_user()
    task = httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": "contended"}).json()
    return user, task


def _put_in_background(pool: ThreadPoolExecutor, server: ServerProcess, user: str, task_id: str) -> Future[Any]:
    url = f"{server.base_url}/api/{user}/tasks/{task_id}"
    return pool.submit(httpx.put, url, json={"title": "written last", "is_completed": True}, timeout=60)


def test_an_exhausted_pool_answers_503_instead_of_hanging(database: str) -> None:
    limits = {"TASKS_API_DB_POOL_SIZE": "1", "TASKS_API_DB_MAX_OVERFLOW": "0", "TASKS_API_DB_POOL_TIMEOUT": "0.5"}
    with serving(database, "--no-migrate", TASKS_API_DB_STATEMENT_TIMEOUT_MS="0", **limits) as server:
        user, task = _task(server)
        with ThreadPoolExecutor(1) as pool:
            with row_lock(database, task["id"]):
                blocked = _put_in_background(pool, server, user, task["id"])
                wait_for(lambda: waiting_on_locks(database) == 1, what="the PUT to hold the only connection")

                started = time.monotonic()
                response = httpx.get(f"{server.base_url}/api/{user}/tasks", timeout=10)
                waited = time.monotonic() - started

                assert response.status_code == 503
                assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
                assert response.headers["retry-after"]
                assert waited < 2
            assert blocked.result().status_code == 200
        assert httpx.get(f"{server.base_url}/api/{user}/tasks").status_code == 200


def test_a_statement_over_the_timeout_is_cancelled_with_503_and_changes_nothing(database: str) -> None:
    with serving(database, "--no-migrate", TASKS_API_DB_STATEMENT_TIMEOUT_MS="300") as server:
        user, task = _task(server)
        with row_lock(database, task["id"]):
            started = time.monotonic()
            response = httpx.put(
                f"{server.base_url}/api/{user}/tasks/{task['id']}", json={"title": "too slow", "is_completed": True}
            )
            waited = time.monotonic() - started

        assert response.status_code == 503
        assert 0.3 <= waited < 2
        assert httpx.get(f"{server.base_url}/api/{user}/tasks/{task['id']}").json() == task


def _accepts_connections(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_refuses_new_connections_at_once_finishes_in_flight_requests_then_exits_0(
    database: str, workers: str
) -> None:
    with serving(database, "--no-migrate", "--workers", workers, TASKS_API_SHUTDOWN_GRACE="30") as server:
        # With several workers, uvicorn announces the socket before the workers have started.
        wait_for(lambda: answers(f"{server.base_url}/api/health/live"), what="a worker to answer")
        user, task = _task(server)
        with ThreadPoolExecutor(1) as pool:
            with row_lock(database, task["id"]):
                in_flight = _put_in_background(pool, server, user, task["id"])
                wait_for(lambda: waiting_on_locks(database) == 1, what="the PUT to be in flight")

                server.process.send_signal(signal.SIGTERM)
                # Not accepted into a backlog no worker takes from any more, to hang until the PUT ends.
                wait_for(
                    lambda: not _accepts_connections(server.base_url), what="the server to stop accepting", timeout=5
                )
                assert not in_flight.done()

            response = in_flight.result()
        assert response.status_code == 200
        assert response.json()["title"] == "written last"
        assert server.process.wait(timeout=30) == 0
        messages = [json.loads(line)["message"] for line in server.log if line.startswith("{")]
        assert "Application shutdown complete." in messages


def _task_in_database(database: str, task_id: str) -> tuple[str, bool]:
    with psycopg.connect(sync_conninfo(database)) as connection:
        row = connection.execute("SELECT title, is_completed FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_request_still_running_when_the_grace_ends_is_answered_503_and_its_write_rolled_back(database: str) -> None:
    with serving(
        database, "--no-migrate", TASKS_API_SHUTDOWN_GRACE="1", TASKS_API_DB_STATEMENT_TIMEOUT_MS="0"
    ) as server:
        user, task = _task(server)
        url = f"{server.base_url}/api/{user}/tasks/{task['id']}"
        with ThreadPoolExecutor(1) as pool, row_lock(database, task["id"]):
            in_flight = pool.submit(
                httpx.put, url, json={"title": "cut off", "is_completed": True}, headers={"X-Request-ID": "cut-1"}
            )
            wait_for(lambda: waiting_on_locks(database) == 1, what="the PUT to wait on the row lock")

            server.process.send_signal(signal.SIGTERM)
            response = in_flight.result(timeout=30)

        assert_problem(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["x-request-id"] == "cut-1"
        assert server.process.wait(timeout=30) == 0
    assert _task_in_database(database, task["id"]) == (task["title"], False)


def test_instances_starting_together_on_an_empty_database_both_serve_and_migrate_once(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url, serving_together(2, url) as servers:
        for server in servers:
            assert httpx.get(f"{server.base_url}/api/health/ready").status_code == 200
        migrated = [server for server in servers if any("Running upgrade  -> 0001" in line for line in server.log)]
        assert len(migrated) == 1
