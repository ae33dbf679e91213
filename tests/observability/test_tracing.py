"""Traces of the in-process app, on both databases, exported over OTLP/HTTP to a receiver the tests run."""

from __future__ import annotations

import json
import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from db.urls import is_sqlite
from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tests import processes
from tests.otlp import ReceivedSpan, Receiver, otlp_receiver
from tests.support import create_task, new_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running, pytest.MonkeyPatch.context() as environment:
        # Read by the SDK's exporter and batch processor: the receiver's address, and an export every 20 ms (not
        # every 5 s) so that spans arrive while the app runs.
        environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
        environment.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
        yield running


@pytest.fixture(scope="module")
def traced_client(settings: Settings, receiver: Receiver) -> Iterator[TestClient]:
    with create_app(replace(settings, trace_exporters=("otlp",))).test_client() as client:
        yield client


def _traceparent() -> tuple[str, str, str]:
    """A sampled W3C traceparent of a new trace, its trace id and its span id."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _trace(receiver: Receiver, trace_id: str) -> list[ReceivedSpan]:
    """The spans of one request's trace, once its server span has arrived: it ends after every other, and the
    batch processor exports spans in the order they end."""
    received = receiver.wait_for_spans(
        lambda spans: any(span.trace_id == trace_id and span.kind == "SPAN_KIND_SERVER" for span in spans),
        what="the request's server span",
    )
    return [span for span in received if span.trace_id == trace_id]


def _server_span(spans: list[ReceivedSpan]) -> ReceivedSpan:
    (server,) = [span for span in spans if span.kind == "SPAN_KIND_SERVER"]
    return server


def test_a_request_is_a_server_span_named_by_its_route_template(traced_client: TestClient, receiver: Receiver) -> None:
    user = new_user()
    task = create_task(traced_client, user)
    traceparent, trace_id, _ = _traceparent()

    answer = traced_client.get(f"/api/{user}/tasks/{task['id']}", headers={"traceparent": traceparent})

    assert answer.status_code == 200
    server = _server_span(_trace(receiver, trace_id))
    assert server.name == "GET /api/{user_id}/tasks/{task_id}"
    assert server.attributes == {
        "http.request.method": "GET",
        "http.route": "/api/{user_id}/tasks/{task_id}",
        "http.response.status_code": 200,
        "url.scheme": "http",
    }
    assert server.status == "STATUS_CODE_UNSET"
    assert server.resource["service.name"] == "tasks-api"


def test_a_request_matching_no_route_is_named_by_its_method(traced_client: TestClient, receiver: Receiver) -> None:
    traceparent, trace_id, _ = _traceparent()

    answer = traced_client.get("/api/no/such/route", headers={"traceparent": traceparent})

    assert answer.status_code == 404
    server = _server_span(_trace(receiver, trace_id))
    assert server.name == "GET"
    assert "http.route" not in server.attributes
    assert server.attributes["http.response.status_code"] == 404
    assert server.status == "STATUS_CODE_UNSET"  # a client's error, not the server's


def test_a_valid_traceparent_is_continued(traced_client: TestClient, receiver: Receiver) -> None:
    traceparent, trace_id, parent_id = _traceparent()

    traced_client.get(f"/api/{new_user()}/tasks", headers={"traceparent": traceparent})

    server = _server_span(_trace(receiver, trace_id))
    assert server.parent_span_id == parent_id


def test_without_a_traceparent_a_request_starts_a_trace_whose_id_its_access_line_carries(
    traced_client: TestClient, receiver: Receiver, capfd: pytest.CaptureFixture[str]
) -> None:
    answer = traced_client.get(f"/api/{new_user()}/tasks", headers={"traceparent": "00-not-a-valid-header-01"})

    request_id = answer.headers["x-request-id"]
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    (access,) = [line for line in lines if line.get("request_id") == request_id and line["message"] == "request"]
    assert len(access["trace_id"]) == 32
    server = _server_span(_trace(receiver, access["trace_id"]))
    assert server.parent_span_id == ""
    assert server.name == "GET /api/{user_id}/tasks"


def test_each_statement_is_a_child_span_with_its_text_and_no_values(
    traced_client: TestClient, receiver: Receiver, settings: Settings
) -> None:
    user, title = new_user(), f"distinctive-title-{uuid.uuid4()}"
    traceparent, trace_id, _ = _traceparent()

    created = traced_client.post(f"/api/{user}/tasks", json={"title": title}, headers={"traceparent": traceparent})

    assert created.status_code == 201
    spans = _trace(receiver, trace_id)
    server = _server_span(spans)
    statements = [span for span in spans if span is not server]
    assert statements
    for statement in statements:
        assert statement.kind == "SPAN_KIND_CLIENT"
        assert statement.parent_span_id == server.span_id
        assert server.start_ns <= statement.start_ns <= statement.end_ns <= server.end_ns
        assert statement.attributes["db.system.name"] == (
            "sqlite" if is_sqlite(settings.database_url) else "postgresql"
        )
    (insert,) = [span for span in statements if span.name == "INSERT tasks"]
    assert insert.attributes["db.operation.name"] == "INSERT"
    assert insert.attributes["db.collection.name"] == "tasks"
    assert insert.attributes["db.query.text"].startswith("INSERT INTO tasks")
    # Neither the values bound (the title, the user id) nor the request's path (which holds the user id).
    for span in receiver.spans():
        rendered = json.dumps(span.attributes)
        assert title not in rendered
        assert user not in rendered


def test_a_transaction_ends_in_a_span_of_its_own(traced_client: TestClient, receiver: Receiver) -> None:
    traceparent, trace_id, _ = _traceparent()

    # A health check reads the schema's revision in one transaction of two statements.
    ready = traced_client.get("/api/health/ready", headers={"traceparent": traceparent})

    assert ready.status_code == 200
    spans = _trace(receiver, trace_id)
    server = _server_span(spans)
    assert len(spans) == 4
    (commit,) = [span for span in spans if span.name == "COMMIT"]
    assert commit.parent_span_id == server.span_id
    assert commit.attributes["db.query.text"] == "COMMIT"
    assert max(span.end_ns for span in spans if span is not server and span is not commit) <= commit.start_ns


def test_a_5xx_answer_and_its_failed_statement_are_errors_flushed_when_the_app_stops(tmp_path: Path) -> None:
    # A SQLite file in a folder that does not exist: every statement fails, and the request is answered 503.
    unopenable = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'tasks.db'}", trace_exporters=("otlp",))
    traceparent, trace_id, _ = _traceparent()
    with otlp_receiver() as receiver, pytest.MonkeyPatch.context() as environment:
        environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        with create_app(unopenable).test_client() as client:
            answer = client.get(f"/api/{new_user()}/tasks", headers={"traceparent": traceparent})
        # The batch processor's default delay is 5 s: what arrived, arrived as the app stopped.
        spans = [span for span in receiver.spans() if span.trace_id == trace_id]

    assert answer.status_code == 503
    server = _server_span(spans)
    assert server.status == "STATUS_CODE_ERROR"
    assert server.attributes["error.type"] == "503"
    (statement,) = [span for span in spans if span is not server]
    assert statement.status == "STATUS_CODE_ERROR"
    assert statement.attributes["error.type"] == "OperationalError"


_OFF = """
import json, sys
from starlette.testclient import TestClient
from tasks_api.app import create_app
from tasks_api.settings import Settings
with TestClient(create_app(Settings.from_env())) as client:
    assert client.get("/api/health/ready").status_code == 200
print(json.dumps(sorted(name for name in sys.modules if name.startswith("opentelemetry"))))
"""


def test_off_unless_configured_opentelemetry_is_not_even_imported(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    database = f"sqlite:///{tmp_path / 'tasks.db'}"
    upgrade_to_head(database)

    ran = processes.run(
        [sys.executable, "-c", _OFF],
        env={**environment, "DATABASE_URL": database, "TASKS_API_AUTH": "none"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == []
    access = [json.loads(line) for line in ran.stderr.splitlines() if '"tasks_api.access"' in line]
    assert access
    assert all("trace_id" not in line for line in access)
