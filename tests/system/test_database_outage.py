"""A real server against a PostgreSQL cluster that the test stops and starts: 503s while it is down, no
lost or half-applied writes, and recovery without a restart of the service."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from db.urls import normalised_database_url
from tasks_api.migrations import upgrade_to_head
from tests.pg_cluster import Cluster, throwaway_cluster
from tests.support import ServerProcess, new_user, serving

DRIVER_TEXT = ("psycopg", "connection", "refused", "127.0.0.1", "OperationalError", "Errno", "server")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[ServerProcess]:
    url = normalised_database_url(cluster.create_database("tasks"))
    upgrade_to_head(url)
    with serving(url, "--no-migrate") as server:
        yield server


def operations(user: str, task: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", f"/api/{user}/tasks", None),
        ("POST", f"/api/{user}/tasks", {"title": "written while the database was down"}),
        ("GET", f"/api/{user}/tasks/{task}", None),
        ("PUT", f"/api/{user}/tasks/{task}", {"title": "changed while down", "is_completed": True}),
        ("PATCH", f"/api/{user}/tasks/{task}/complete", None),
        ("DELETE", f"/api/{user}/tasks/{task}", None),
    ]


def test_outage_is_503_then_the_service_recovers_by_itself(
    cluster: Cluster, server: ServerProcess, measured: Callable[[str, str], None]
) -> None:
    client = httpx.Client(base_url=server.base_url, timeout=10)
    user = new_user()
    durable = [client.post(f"/api/{user}/tasks", json={"title": f"before {n}"}).json() for n in range(5)]
    before = client.get(f"/api/{user}/tasks").json()
    assert before["count"] == 5

    cluster.stop(mode="immediate")  # a crash: the pooled connections die with it

    for method, path, body in operations(user, durable[0]["id"]):
        started = time.monotonic()
        response = client.request(method, path, json=body)
        assert time.monotonic() - started < 2
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
        assert int(response.headers["retry-after"]) > 0
        assert not [text for text in DRIVER_TEXT if text in response.text]
    assert client.get("/api/health/ready").status_code == 503
    assert client.get("/api/health/live").status_code == 200
    assert server.process.poll() is None

    cluster.start()
    restarted = time.monotonic()
    while client.get(f"/api/{user}/tasks").status_code != 200:
        assert time.monotonic() - restarted < 30, "did not recover"
    recovery = time.monotonic() - restarted
    measured("database restart to first 2xx", f"{recovery * 1000:.0f} ms")

    # Every 2xx write survived the crash; no write that was answered 503 left anything behind.
    assert client.get(f"/api/{user}/tasks").json() == before
    assert client.get("/api/health/ready").status_code == 200
    for method, path, body in operations(user, durable[1]["id"]):
        assert client.request(method, path, json=body).status_code < 300
    client.close()


def test_errors_are_logged_as_json_with_the_request_id_and_never_sent(cluster: Cluster, server: ServerProcess) -> None:
    cluster.stop(mode="fast")
    try:
        response = httpx.get(f"{server.base_url}/api/{new_user()}/tasks", headers={"X-Request-ID": "outage-42"})
    finally:
        cluster.start()

    assert response.status_code == 503
    assert response.headers["x-request-id"] == "outage-42"
    entries = [json.loads(line) for line in list(server.log) if line.startswith("{")]
    mine = [entry for entry in entries if entry.get("request_id") == "outage-42"]
    assert {entry["logger"] for entry in mine} == {"tasks_api.errors", "tasks_api.access"}
    access = next(entry for entry in mine if entry["logger"] == "tasks_api.access")
    assert access["status"] == 503
    assert access["path"] == "/api/{user_id}/tasks"
    logged = next(entry for entry in mine if entry["logger"] == "tasks_api.errors")["message"]
    assert logged.startswith("database unavailable: ")
    assert "connection" in logged  # the driver's own words go to the log, never to the client
