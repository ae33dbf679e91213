"""``tasks-api serve`` exporting traces over OTLP/HTTP to a receiver the test runs."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import httpx
import pytest

from tasks_api.migrations import upgrade_to_head
from tests import processes
from tests.otlp import PROTOBUF, otlp_receiver
from tests.support import TASKS_API, ServerProcess, answers, closed_port, new_user, serving, wait_for

# Nothing is exported before the server stops: what arrives, its shutdown flushed.
HELD = {"OTEL_BSP_SCHEDULE_DELAY": "600000"}


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    upgrade_to_head(url)
    return url


def _access_lines(server: ServerProcess) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in server.log if line.startswith("{")]
    return [line for line in lines if line["logger"] == "tasks_api.access"]


def test_spans_go_out_over_otlp_http_on_sigterm_and_the_access_line_names_their_trace(database: str) -> None:
    user = new_user()
    with (
        otlp_receiver() as receiver,
        serving(
            database, "--no-migrate", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SERVICE_NAME="tasks-test", **HELD
        ) as server,
    ):
        created = httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": "traced"})
        task_id = created.json()["id"]
        fetched = httpx.get(f"{server.base_url}/api/{user}/tasks/{task_id}")
        assert receiver.spans() == []

        assert server.stop() == 0

        spans = receiver.spans()
        content_types = set(receiver.content_types)

    assert content_types == {PROTOBUF}
    (access,) = [line for line in _access_lines(server) if line["request_id"] == fetched.headers["x-request-id"]]
    (server_span,) = [span for span in spans if span.trace_id == access["trace_id"] and span.kind == "SPAN_KIND_SERVER"]
    assert server_span.name == "GET /api/{user_id}/tasks/{task_id}"
    assert server_span.resource["service.name"] == "tasks-test"
    children = [span for span in spans if span.parent_span_id == server_span.span_id]
    assert [child.name for child in children] == ["SELECT tasks"]


def test_with_several_workers_every_span_goes_out(database: str) -> None:
    requests = 20
    traces = {secrets.token_hex(16) for _ in range(requests)}
    with (
        otlp_receiver() as receiver,
        serving(database, "--no-migrate", "--workers", "2", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, **HELD) as server,
    ):
        # The parent announces the socket before its workers have started: connections are refused until one has
        # (on a loaded machine, after uvicorn has replaced a worker slow to answer its health check).
        wait_for(lambda: answers(f"{server.base_url}/api/health/ready"), what="a worker to answer", timeout=90)
        for trace_id in traces:
            # A new connection each: spread over the workers as the kernel hands them out.
            traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
            assert httpx.get(
                f"{server.base_url}/api/{new_user()}/tasks", headers={"traceparent": traceparent}
            ).is_success

        assert server.stop() == 0

        spans = receiver.spans()

    # Besides the health checks' spans, waited for above.
    assert traces <= {span.trace_id for span in spans if span.kind == "SPAN_KIND_SERVER"}


def test_a_grpc_endpoint_refuses_to_start(database: str) -> None:
    environment = {
        **os.environ,
        "DATABASE_URL": database,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }

    ran = processes.run(
        [TASKS_API, "serve", "--no-migrate", "--port", str(closed_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert ran.returncode == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL is 'grpc'" in ran.stderr
    assert "http/protobuf" in ran.stderr
