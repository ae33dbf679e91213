"""Idempotency-Key on the four writes, through the app, on SQLite and PostgreSQL: a retry gets the recorded answer
and changes nothing; a key reused for another request is refused; what is not recorded runs again."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from db.idempotency import key_lock
from db.urls import is_sqlite
from tasks_api.app import create_app
from tasks_api.settings import Settings
from tests.support import assert_problem, create_task, new_user, sync_conninfo


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _tasks(client: TestClient, user: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get(f"/api/{user}/tasks").json()["items"]
    return listed


def _assert_replayed(first: Any, again: Any) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    for header in ("etag", "location", "cache-control", "content-type"):
        assert again.headers.get(header) == first.headers.get(header)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_a_create_sent_again_with_its_key_is_answered_as_the_first_time_and_creates_nothing(
    client: TestClient,
) -> None:
    user, key = new_user(), _key()
    body = {"title": "Buy milk", "tags": ["Errands"], "due_at": "2026-12-24T18:00:00+01:00"}

    first = client.post(f"/api/{user}/tasks", json=body, headers=key)
    again = client.post(f"/api/{user}/tasks", json=body, headers=key)

    assert first.status_code == 201
    _assert_replayed(first, again)
    assert [task["id"] for task in _tasks(client, user)] == [first.json()["id"]]


def test_the_same_body_written_in_another_order_and_spacing_is_the_same_request(client: TestClient) -> None:
    user, key = new_user(), _key()
    headers = {**key, "Content-Type": "application/json"}

    first = client.post(f"/api/{user}/tasks", content=b'{"title": "a", "priority": "High"}', headers=headers)
    again = client.post(f"/api/{user}/tasks", content=b'{"priority":"High","title":"a"}', headers=headers)

    _assert_replayed(first, again)


def test_a_toggle_sent_again_with_its_key_does_not_toggle_twice(client: TestClient) -> None:
    user, key = new_user(), _key()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}/complete"

    first = client.patch(url, headers=key)
    again = client.patch(url, headers=key)

    assert first.status_code == 200
    _assert_replayed(first, again)
    current = client.get(f"/api/{user}/tasks/{task['id']}")
    assert current.json()["is_completed"] is True
    assert current.headers["etag"] == '"2"'


def test_a_replace_sent_again_with_its_key_is_replayed_even_after_the_task_changed(client: TestClient) -> None:
    user, key = new_user(), _key()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}"
    body = {"title": "replaced", "is_completed": False}

    first = client.put(url, json=body, headers=key)
    client.patch(f"{url}/complete")
    again = client.put(url, json=body, headers=key)

    _assert_replayed(first, again)
    assert client.get(url).json()["is_completed"] is True


def test_a_delete_sent_again_with_its_key_is_a_204_again_not_a_404(client: TestClient) -> None:
    user, key = new_user(), _key()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}"

    first = client.delete(url, headers=key)
    again = client.delete(url, headers=key)

    assert first.status_code == 204
    _assert_replayed(first, again)
    assert client.delete(url, headers=_key()).status_code == 404


def test_a_conditional_write_sent_again_is_replayed_although_its_etag_is_no_longer_current(
    client: TestClient,
) -> None:
    user, key = new_user(), _key()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}/complete"

    first = client.patch(url, headers={**key, "If-Match": '"1"'})
    again = client.patch(url, headers={**key, "If-Match": '"1"'})

    assert first.status_code == 200
    _assert_replayed(first, again)


@pytest.mark.parametrize(
    "other",
    [
        lambda client, user, task, key: client.post(f"/api/{user}/tasks", json={"title": "another"}, headers=key),
        lambda client, user, task, key: client.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=key),
        lambda client, user, task, key: client.delete(f"/api/{user}/tasks/{task['id']}", headers=key),
    ],
    ids=["another-body", "another-method-and-path", "another-operation"],
)
def test_a_key_used_for_another_request_is_refused_and_changes_nothing(
    client: TestClient, other: Callable[..., Any]
) -> None:
    user, key = new_user(), _key()
    task = create_task(client, user)
    client.post(f"/api/{user}/tasks", json={"title": "first"}, headers=key)
    before = _tasks(client, user)

    refused = other(client, user, task, key)

    assert_problem(refused, 422, "IDEMPOTENCY_KEY_REUSED")
    assert _tasks(client, user) == before


def test_keys_belong_to_their_user(client: TestClient) -> None:
    key = _key()
    first, second = new_user(), new_user()

    mine = client.post(f"/api/{first}/tasks", json={"title": "same"}, headers=key)
    theirs = client.post(f"/api/{second}/tasks", json={"title": "same"}, headers=key)

    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]


def test_the_quoted_form_of_a_key_is_the_same_key(client: TestClient) -> None:
    user = new_user()

    first = client.post(f"/api/{user}/tasks", json={"title": "a"}, headers={"Idempotency-Key": "order-17"})
    again = client.post(f"/api/{user}/tasks", json={"title": "a"}, headers={"Idempotency-Key": '"order-17"'})

    _assert_replayed(first, again)


@pytest.mark.parametrize("key", [b"", b"with space", "é".encode(), b"x" * 256, b'""', b'"' + b"x" * 256 + b'"'])
def test_a_key_that_is_not_1_to_255_visible_ascii_characters_is_a_400(client: TestClient, key: bytes) -> None:
    user = new_user()

    response = client.post(f"/api/{user}/tasks", json={"title": "a"}, headers={"Idempotency-Key": key})

    assert_problem(response, 400, "VALIDATION_ERROR")
    assert _tasks(client, user) == []


def test_a_request_refused_before_its_write_records_nothing(client: TestClient) -> None:
    user, key = new_user(), _key()

    refused = client.post(f"/api/{user}/tasks", json={"title": ""}, headers=key)
    accepted = client.post(f"/api/{user}/tasks", json={"title": "now valid"}, headers=key)

    assert_problem(refused, 422, "VALIDATION_ERROR")
    assert accepted.status_code == 201
    assert "idempotent-replayed" not in accepted.headers


def test_a_write_that_changed_nothing_records_nothing_and_is_answered_the_same_again(client: TestClient) -> None:
    user, key = new_user(), _key()
    missing = f"/api/{user}/tasks/{uuid.uuid4()}/complete"

    assert_problem(client.patch(missing, headers=key), 404, "NOT_FOUND")
    assert_problem(client.patch(missing, headers=key), 404, "NOT_FOUND")
    task = create_task(client, user)
    # Nothing was recorded under the key, so it is free for this write.
    assert client.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=key).status_code == 200


@pytest.fixture
def forgetful_client(database_url: str) -> Iterator[TestClient]:
    """The app with answers kept for a microsecond: each is expired by the next request."""
    settings = Settings(database_url=database_url, validate_responses=True, idempotency_ttl=1e-6)
    with create_app(settings).test_client() as test_client:
        yield test_client


def test_an_expired_answer_is_forgotten_and_its_key_runs_a_write_again(forgetful_client: TestClient) -> None:
    user, key = new_user(), _key()

    first = forgetful_client.post(f"/api/{user}/tasks", json={"title": "a"}, headers=key)
    again = forgetful_client.post(f"/api/{user}/tasks", json={"title": "b"}, headers=key)

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]


def test_a_key_held_by_a_request_still_running_is_a_409_with_retry_after(client: TestClient, database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("SQLite runs one write at a time: a second request with the key runs after the first ended")
    user, key = new_user(), _key()
    task = create_task(client, user)
    lock = key_lock(user, key["Idempotency-Key"])
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as running:
        # What the first request holds while its write runs: the key's advisory lock.
        running.execute("SELECT pg_advisory_lock(%s)", (lock,))
        response = client.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=key)
        # Released here, not by closing: the server lets go of a closed session's locks when it gets to it.
        running.execute("SELECT pg_advisory_unlock(%s)", (lock,))
    after = client.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=key)

    assert_problem(response, 409, "IDEMPOTENCY_KEY_IN_PROGRESS")
    assert response.headers["retry-after"] == "1"
    assert client.get(f"/api/{user}/tasks/{task['id']}").headers["etag"] == '"2"'
    assert after.status_code == 200
    assert "idempotent-replayed" not in after.headers
