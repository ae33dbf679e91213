"""Every body is the same compact JSON, whichever database rendered it: a task answers with the same bytes
from create (rendered by Python), get, update and list (rendered by PostgreSQL where it serves)."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from tests.support import AWKWARD_TEXTS, new_user


def assert_compact(response: httpx.Response, media_type: str = "application/json") -> None:
    """The body is JSON without insignificant whitespace: re-serialised compactly, it is the same bytes."""
    assert response.headers["content-type"] == media_type
    assert orjson.dumps(json.loads(response.content)) == response.content


@pytest.mark.parametrize("text", AWKWARD_TEXTS.values(), ids=AWKWARD_TEXTS.keys())
def test_create_get_and_list_answer_a_task_with_the_same_bytes(client: TestClient, text: str) -> None:
    user = new_user()

    created = client.post(f"/api/{user}/tasks", json={"title": text, "description": text})
    assert created.status_code == 201, created.text
    fetched = client.get(created.headers["location"])
    listed = client.get(f"/api/{user}/tasks")

    assert created.json()["title"] == text
    assert fetched.content == created.content
    assert listed.content == b'{"items":[' + created.content + b'],"count":1,"next_cursor":null}'
    for response in (created, fetched, listed):
        assert_compact(response)


@pytest.mark.parametrize("text", AWKWARD_TEXTS.values(), ids=AWKWARD_TEXTS.keys())
def test_writes_answer_compact_json(client: TestClient, text: str) -> None:
    location = client.post(f"/api/{new_user()}/tasks", json={"title": "before"}).headers["location"]

    replaced = client.put(location, json={"title": text, "description": None, "is_completed": False})
    toggled = client.patch(f"{location}/complete")

    assert replaced.json()["title"] == text
    assert toggled.json() == {**replaced.json(), "is_completed": True, "updated_at": toggled.json()["updated_at"]}
    for response in (replaced, toggled):
        assert_compact(response)


def test_a_page_with_a_next_cursor_is_compact_json(client: TestClient) -> None:
    user = new_user()
    for title in ("one", "two"):
        client.post(f"/api/{user}/tasks", json={"title": title})

    page = client.get(f"/api/{user}/tasks", params={"limit": 1})

    assert page.json()["next_cursor"]
    assert_compact(page)


def test_health_answers_compact_json(client: TestClient) -> None:
    for probe in ("live", "ready"):
        response = client.get(f"/api/health/{probe}")

        assert response.status_code == 200
        assert_compact(response)


def test_problems_answer_compact_json(client: TestClient) -> None:
    missing = client.get(f"/api/{new_user()}/tasks/{new_user()}")
    invalid = client.post(f"/api/{new_user()}/tasks", json={"title": "", "extra": "École"})

    assert (missing.status_code, invalid.status_code) == (404, 422)
    for response in (missing, invalid):
        assert_compact(response, "application/problem+json")
