"""Request metrics, read from the exposition Prometheus would scrape, after requests through the app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from db.sqlite import SQLiteDatabase
from db.urls import normalised_database_url
from observability.metrics import RequestMetrics
from observability.resources import ResourceSampling
from tasks_api.app import create_app
from tasks_api.settings import MetricsListener, Settings
from tasks_api.specification import load_specification
from tests.support import create_task, new_user, wait_for_async

DURATION = "http_server_request_duration_seconds"


def requests_counted(operation: str, method: str, status_class: str) -> float:
    labels = {"operation": operation, "method": method, "status_class": status_class}
    return REGISTRY.get_sample_value(f"{DURATION}_count", labels) or 0.0


def probes_counted(operation: str, status_class: str) -> float:
    labels = {"operation": operation, "status_class": status_class}
    return REGISTRY.get_sample_value("http_server_health_probes_total", labels) or 0.0


@pytest.fixture(scope="module")
def measured_client(settings: Settings) -> Iterator[TestClient]:
    """A client of the app with metrics on (the listener itself is not started in-process)."""
    with create_app(replace(settings, metrics=MetricsListener(port=9464))).test_client() as test_client:
        yield test_client


def test_each_request_is_counted_once_by_operation_method_and_status_class(measured_client: TestClient) -> None:
    user = new_user()
    task = create_task(measured_client, user)
    listed, got, missing = (
        requests_counted("list_tasks", "GET", "2xx"),
        requests_counted("get_task", "GET", "2xx"),
        requests_counted("get_task", "GET", "4xx"),
    )

    measured_client.get(f"/api/{user}/tasks")
    measured_client.get(f"/api/{user}/tasks/{task['id']}")
    measured_client.get(f"/api/{user}/tasks/{task['id']}")
    assert measured_client.get(f"/api/{user}/tasks/{new_user()}").status_code == 404

    assert requests_counted("list_tasks", "GET", "2xx") == listed + 1
    assert requests_counted("get_task", "GET", "2xx") == got + 2
    assert requests_counted("get_task", "GET", "4xx") == missing + 1


def test_a_request_no_operation_matches_is_unmatched_never_its_path(measured_client: TestClient) -> None:
    before = requests_counted("unmatched", "GET", "4xx")
    secret_path = f"/nowhere/{new_user()}"

    assert measured_client.get(secret_path).status_code == 404

    assert requests_counted("unmatched", "GET", "4xx") == before + 1
    assert secret_path.encode() not in generate_latest(REGISTRY)


def test_an_unknown_method_is_other(measured_client: TestClient) -> None:
    before = requests_counted("unmatched", "OTHER", "4xx")

    measured_client.request("BREW", f"/api/{new_user()}/tasks")

    assert requests_counted("unmatched", "OTHER", "4xx") == before + 1


def test_labels_never_carry_ids(measured_client: TestClient) -> None:
    user = new_user()
    task = create_task(measured_client, user)
    measured_client.get(f"/api/{user}/tasks/{task['id']}")
    measured_client.delete(f"/api/{user}/tasks/{task['id']}")

    exposition = generate_latest(REGISTRY).decode()

    assert user not in exposition
    assert task["id"] not in exposition
    assert "/api/" not in exposition


def test_health_probes_are_counted_apart_from_the_api(measured_client: TestClient) -> None:
    live, ready = probes_counted("live", "2xx"), probes_counted("ready", "2xx")

    assert measured_client.get("/api/health/live").status_code == 200
    assert measured_client.get("/api/health/ready").status_code == 200

    assert (probes_counted("live", "2xx"), probes_counted("ready", "2xx")) == (live + 1, ready + 1)
    assert requests_counted("live", "GET", "2xx") == 0
    assert requests_counted("ready", "GET", "2xx") == 0


def test_a_request_is_in_flight_until_it_is_answered(tmp_path: Path) -> None:
    answer = asyncio.Event()

    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        await answer.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def ignored(*_message: Any) -> Any:
        return {}

    def in_flight(sampling: ResourceSampling) -> float:
        sampling.sample()
        return REGISTRY.get_sample_value("http_server_active_requests") or 0.0

    async def scenario() -> tuple[float, float]:
        sampling = ResourceSampling(
            SQLiteDatabase(normalised_database_url(f"sqlite:///{tmp_path / 'unused.db'}")), None
        )
        app = RequestMetrics(held, load_specification())
        request = asyncio.ensure_future(app({"type": "http", "method": "GET", "extensions": {}}, ignored, ignored))
        await wait_for_async(lambda: in_flight(sampling) == 1, what="the request to be in flight")
        during = in_flight(sampling)
        answer.set()
        await request
        return during, in_flight(sampling)

    assert asyncio.run(scenario()) == (1, 0)


def test_without_a_metrics_port_requests_are_not_measured(settings: Settings) -> None:
    assert settings.metrics is None
    before = requests_counted("list_tasks", "GET", "2xx")

    with create_app(settings).test_client() as unmeasured:
        assert unmeasured.get(f"/api/{new_user()}/tasks").status_code == 200

    assert requests_counted("list_tasks", "GET", "2xx") == before
