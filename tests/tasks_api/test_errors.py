"""Every row of the error table: problem+json with a stable error_code, on both backends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from db.urls import normalised_database_url
from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tests.pg_proxy import cutting_proxy
from tests.support import assert_problem, closed_port, create_task, fresh_database, new_user

TASK = "/api/{user}/tasks/{task}"
VALID_BODY = {"title": "t", "is_completed": False}

ALL_OPERATIONS = [
    ("GET", "/api/{user}/tasks", None),
    ("POST", "/api/{user}/tasks", {"title": "t"}),
    ("GET", TASK, None),
    ("PUT", TASK, VALID_BODY),
    ("DELETE", TASK, None),
    ("PATCH", TASK + "/complete", None),
]
BLANK_TITLE = [{"field": "title", "message": "must contain a non-whitespace character and no NUL characters"}]
LONG = "must be at most 2000 characters"
NUL = "must not contain NUL characters"
TASK_OPERATIONS = [operation for operation in ALL_OPERATIONS if "{task}" in operation[1]]


@pytest.mark.parametrize(("method", "path", "body"), ALL_OPERATIONS)
def test_user_id_that_is_not_a_uuid_is_400(client: TestClient, method: str, path: str, body: Any) -> None:
    response = client.request(method, path.format(user="not-a-uuid", task=new_user()), json=body)

    problem = assert_problem(response, 400, "VALIDATION_ERROR")
    assert problem["detail"] == "Invalid user ID format"
    assert problem["field_errors"] == [{"field": "user_id", "message": "must be a valid uuid"}]


@pytest.mark.parametrize(("method", "path", "body"), TASK_OPERATIONS)
def test_task_id_that_is_not_a_uuid_is_400(client: TestClient, method: str, path: str, body: Any) -> None:
    response = client.request(method, path.format(user=new_user(), task="42"), json=body)

    problem = assert_problem(response, 400, "VALIDATION_ERROR")
    assert problem["detail"] == "Invalid task ID format"
    assert problem["field_errors"] == [{"field": "task_id", "message": "must be a valid uuid"}]


@pytest.mark.parametrize(
    "almost_uuid",
    [
        "12345678123456781234567812345678",
        "{12345678-1234-1234-1234-123456789abc}",
        "+2345678-1234-1234-1234-123456789abc",
        "12345678-1234-1234-1234-123456789abg",
        "12345678-1234-1234-1234-123456789abcd",
    ],
)
def test_only_canonical_uuids_are_ids(client: TestClient, almost_uuid: str) -> None:
    assert_problem(client.get(f"/api/{almost_uuid}/tasks"), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("raw", [b'{"title": ', b"{'title': 'x'}", b"", b"   ", b'{"title": "\xff\xfe"}', b"[" * 5000])
def test_malformed_json_is_400(client: TestClient, method: str, raw: bytes) -> None:
    user = new_user()
    path = f"/api/{user}/tasks" if method == "POST" else f"/api/{user}/tasks/{create_task(client, user)['id']}"

    response = client.request(method, path, content=raw, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "VALIDATION_ERROR")


def test_missing_and_foreign_tasks_are_404(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user)["id"]

    for path in [f"/api/{user}/tasks/{new_user()}", f"/api/{new_user()}/tasks/{task}"]:
        problem = assert_problem(client.get(path), 404, "NOT_FOUND")
        assert problem["detail"] == "Task not found"


@pytest.mark.parametrize("path", ["/api/{user}/things", "/api/{user}/tasks/{task}/extra", "/nowhere", "/api"])
def test_unknown_route_is_404(client: TestClient, path: str) -> None:
    assert_problem(client.get(path.format(user=new_user(), task=new_user())), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", TASK, {"GET", "HEAD", "PUT", "DELETE"}),
        ("PATCH", "/api/{user}/tasks", {"GET", "HEAD", "POST"}),
        ("GET", TASK + "/complete", {"PATCH"}),
    ],
)
def test_wrong_method_is_405_with_the_methods_the_spec_allows(
    client: TestClient, method: str, path: str, allow: set[str]
) -> None:
    response = client.request(method, path.format(user=new_user(), task=new_user()))

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert {method.strip() for method in response.headers["allow"].split(",")} == allow


def test_body_over_64_kib_is_413(client: TestClient) -> None:
    body = b'{"title": "' + b"x" * (64 * 1024) + b'"}'

    response = client.post(f"/api/{new_user()}/tasks", content=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_chunked_body_over_64_kib_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(f"/api/{new_user()}/tasks", content=chunks(), headers={"Content-Type": "application/json"})

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_chunked_body_within_the_limit_is_accepted(client: TestClient) -> None:
    response = client.post(
        f"/api/{new_user()}/tasks",
        content=iter([b'{"title": ', b'"chunked"}']),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 201
    assert response.json()["title"] == "chunked"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_body_that_is_not_json_is_415(client: TestClient, content_type: str) -> None:
    response = client.post(f"/api/{new_user()}/tasks", content=b"title=x", headers={"Content-Type": content_type})

    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    ("body", "field_errors"),
    [
        ({}, [{"field": "title", "message": "is required"}]),
        ({"title": ""}, [{"field": "title", "message": "must not be empty"}]),
        ({"title": "   "}, BLANK_TITLE),
        ({"title": "\t\n\u3000"}, BLANK_TITLE),
        ({"title": "\u2028\u00a0\u0085\u200a"}, BLANK_TITLE),
        ({"title": "a\u0000b"}, BLANK_TITLE),
        ({"title": "x" * 256}, [{"field": "title", "message": "must be at most 255 characters"}]),
        ({"title": 7}, [{"field": "title", "message": "must be of type string"}]),
        ({"title": "t", "description": "d" * 2001}, [{"field": "description", "message": LONG}]),
        ({"title": "t", "description": "\u0000"}, [{"field": "description", "message": NUL}]),
        ({"title": "t", "description": 3}, [{"field": "description", "message": "must be of type string"}]),
        ({"title": "t", "id": "x"}, [{"field": "id", "message": "is not allowed"}]),
        (
            {"title": "t", "user_id": "x", "created_at": "x"},
            [{"field": "created_at", "message": "is not allowed"}, {"field": "user_id", "message": "is not allowed"}],
        ),
        (["title"], [{"field": "body", "message": "must be of type object"}]),
        ("null", [{"field": "body", "message": "must be of type object"}]),
    ],
)
def test_create_body_that_fails_the_schema_is_422(client: TestClient, body: Any, field_errors: list[Any]) -> None:
    raw = json.dumps(body) if body != "null" else "null"
    response = client.post(f"/api/{new_user()}/tasks", content=raw, headers={"Content-Type": "application/json"})

    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert sorted(problem["field_errors"], key=str) == sorted(field_errors, key=str)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"title": "t"}, {"is_completed"}),
        ({"is_completed": True}, {"title"}),
        ({"title": "t", "is_completed": "yes"}, {"is_completed"}),
        ({"title": " ", "is_completed": None}, {"title", "is_completed"}),
        ({"title": "t", "is_completed": True, "id": "x"}, {"id"}),
    ],
)
def test_put_body_that_fails_the_schema_is_422_and_changes_nothing(
    client: TestClient, body: dict[str, Any], fields: set[str]
) -> None:
    user = new_user()
    task = client.post(f"/api/{user}/tasks", json={"title": "kept"}).json()

    response = client.put(f"/api/{user}/tasks/{task['id']}", json=body)

    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert {error["field"] for error in problem["field_errors"]} == fields
    assert client.get(f"/api/{user}/tasks/{task['id']}").json() == task


def test_lone_surrogate_in_a_string_is_rejected(client: TestClient) -> None:
    response = client.post(
        f"/api/{new_user()}/tasks", content=b'{"title": "\\ud800"}', headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "VALIDATION_ERROR")


def test_surrogate_pair_escapes_are_text(client: TestClient) -> None:
    response = client.post(
        f"/api/{new_user()}/tasks", content=b'{"title": "\\ud83d\\ude42"}', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201
    assert response.json()["title"] == "🙂"


def test_unknown_query_parameter_is_400_naming_it(client: TestClient) -> None:
    problem = assert_problem(client.get(f"/api/{new_user()}/tasks?colour=red"), 400, "VALIDATION_ERROR")

    assert problem["field_errors"] == [{"field": "colour", "message": "is not a known query parameter"}]


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return normalised_database_url(
            f"postgresql://postgres:secret@127.0.0.1:{closed_port()}/tasks?connect_timeout=2"
        )
    return normalised_database_url(f"sqlite:///{tmp_path / 'missing-directory' / 'tasks.db'}")


@pytest.mark.parametrize(("method", "path", "body"), ALL_OPERATIONS)
def test_unreachable_database_is_503_without_driver_text(
    unreachable_database: str, method: str, path: str, body: Any
) -> None:
    app = create_app(Settings(database_url=unreachable_database, validate_responses=True))
    with app.test_client() as client:
        response = client.request(method, path.format(user=new_user(), task=new_user()), json=body)

    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0
    for leak in ("psycopg", "sqlite", "connection", "127.0.0.1", "secret", "Errno"):
        assert leak not in response.text


@pytest.fixture
def unmigrated_client(empty_database_url: str) -> Iterator[TestClient]:
    with create_app(Settings(database_url=empty_database_url, validate_responses=True)).test_client() as client:
        yield client


def test_unexpected_error_is_500_without_internals_but_logged_with_them(
    unmigrated_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A reachable database without the schema: the query fails in a way no handler expects.
    with caplog.at_level(logging.ERROR, logger="tasks_api.errors"):
        response = unmigrated_client.get(f"/api/{new_user()}/tasks", headers={"X-Request-ID": "five-hundred"})

    problem = assert_problem(response, 500, "SERVER_ERROR")
    assert problem["detail"] == "An unexpected error occurred"
    for leak in ("tasks", "SELECT", "relation", "table"):
        assert leak not in response.text
    (logged,) = [record for record in caplog.records if record.name == "tasks_api.errors"]
    assert logged.exc_info is not None
    assert "task" in str(logged.exc_info[1])  # the table SQLite or PostgreSQL did not find


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("outcome")) as url:
        upgrade_to_head(url)
        yield url


def test_a_write_committed_on_a_connection_lost_before_its_answer_is_503_outcome_unknown(postgres_url: str) -> None:
    """PostgreSQL only: an SQLite commit runs in the process, and its outcome is never lost on the way back."""
    user = new_user()
    with cutting_proxy(postgres_url) as (proxy, url):
        app = create_app(Settings(database_url=url, validate_responses=True))
        with app.test_client() as client:
            proxy.arm(b"INSERT INTO tasks")
            response = client.post(f"/api/{user}/tasks", json={"title": "sent"}, headers={"X-Request-ID": "lost-1"})

            problem = assert_problem(response, 503, "OUTCOME_UNKNOWN")
            assert "may or may not have been applied" in problem["detail"]
            assert int(response.headers["retry-after"]) > 0
            assert response.headers["x-request-id"] == "lost-1"
            listed = client.get(f"/api/{user}/tasks").json()["items"]

    assert [task["title"] for task in listed] == ["sent"]
