"""The six operations, through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support import create_task, new_user

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")


def instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_list_is_empty_for_a_new_user(client: TestClient) -> None:
    response = client.get(f"/api/{new_user()}/tasks")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"items": [], "count": 0, "next_cursor": None}


def test_create_returns_the_task_and_its_location(client: TestClient) -> None:
    user = new_user()

    response = client.post(f"/api/{user}/tasks", json={"title": "Buy milk", "description": "semi-skimmed"})

    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"/api/{user}/tasks/{task['id']}"
    assert task["title"] == "Buy milk"
    assert task["description"] == "semi-skimmed"
    assert task["is_completed"] is False
    assert task["user_id"] == user
    assert ISO_UTC.fullmatch(task["created_at"])
    assert task["updated_at"] == task["created_at"]
    assert client.get(response.headers["location"]).json() == task


def test_create_without_description_stores_null_and_empty_string_is_kept(client: TestClient) -> None:
    user = new_user()

    assert create_task(client, user)["description"] is None
    assert create_task(client, user, description=None)["description"] is None
    assert create_task(client, user, description="")["description"] == ""


# "\x1c" is whitespace to Python's str.isspace but not to Unicode or ECMA regexes: the spec's rule wins.
@pytest.mark.parametrize("title", ["x", "x" * 255, "é" * 255, "🙂" * 255, "  padded  ", "\x1c", "\ufeff"])
def test_titles_within_bounds_are_stored_as_given(client: TestClient, title: str) -> None:
    user = new_user()
    task = create_task(client, user, title=title)

    assert client.get(f"/api/{user}/tasks/{task['id']}").json()["title"] == title


def test_description_of_2000_characters_is_accepted(client: TestClient) -> None:
    description = "ü" * 2000

    assert create_task(client, new_user(), description=description)["description"] == description


def test_list_is_newest_first_with_count(client: TestClient) -> None:
    user = new_user()
    created = [create_task(client, user, title=f"task {n}") for n in range(5)]

    body = client.get(f"/api/{user}/tasks").json()

    assert body["count"] == 5
    assert [task["id"] for task in body["items"]] == [task["id"] for task in reversed(created)]
    stamps = [(instant(task["created_at"]), task["id"]) for task in body["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_get_returns_the_task(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user, description="details")

    response = client.get(f"/api/{user}/tasks/{task['id']}")

    assert response.status_code == 200
    assert response.json() == task


def test_uppercase_ids_address_the_same_task(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user)

    response = client.get(f"/api/{user.upper()}/tasks/{task['id'].upper()}")

    assert response.status_code == 200
    assert response.json()["id"] == task["id"]


def test_put_replaces_everything_but_identity_and_creation_time(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user, title="old", description="old description")

    response = client.put(
        f"/api/{user}/tasks/{task['id']}", json={"title": "new", "is_completed": True, "description": "new description"}
    )

    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "new"
    assert replaced["description"] == "new description"
    assert replaced["is_completed"] is True
    assert (replaced["id"], replaced["user_id"], replaced["created_at"]) == (task["id"], user, task["created_at"])
    assert instant(replaced["updated_at"]) > instant(task["updated_at"])
    assert client.get(f"/api/{user}/tasks/{task['id']}").json() == replaced


def test_put_without_description_clears_it(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user, description="will be dropped")

    replaced = client.put(f"/api/{user}/tasks/{task['id']}", json={"title": "t", "is_completed": False}).json()

    assert replaced["description"] is None


def test_toggle_twice_returns_to_the_start(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}/complete"

    first = client.patch(url)
    second = client.patch(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["is_completed"] is True
    assert second.json()["is_completed"] is False
    assert instant(first.json()["updated_at"]) > instant(task["updated_at"])
    assert instant(second.json()["updated_at"]) > instant(first.json()["updated_at"])
    assert client.get(f"/api/{user}/tasks/{task['id']}").json()["is_completed"] is False


def test_delete_then_every_operation_is_404(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user)
    url = f"/api/{user}/tasks/{task['id']}"

    response = client.delete(url)

    assert response.status_code == 204
    assert response.content == b""
    for method, path, body in [
        ("GET", url, None),
        ("PUT", url, {"title": "t", "is_completed": False}),
        ("DELETE", url, None),
        ("PATCH", f"{url}/complete", None),
    ]:
        assert client.request(method, path, json=body).status_code == 404
    assert client.get(f"/api/{user}/tasks").json() == {"items": [], "count": 0, "next_cursor": None}


TASK_OPERATIONS = [
    ("GET", "", None),
    ("PUT", "", {"title": "hijacked", "is_completed": True}),
    ("DELETE", "", None),
    ("PATCH", "/complete", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), TASK_OPERATIONS)
def test_another_users_task_is_indistinguishable_from_a_missing_one(
    client: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    owner, intruder = new_user(), new_user()
    task = create_task(client, owner, title="private")

    foreign = client.request(method, f"/api/{intruder}/tasks/{task['id']}{suffix}", json=body)
    missing = client.request(method, f"/api/{intruder}/tasks/{new_user()}{suffix}", json=body)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["detail"] == "Task not found"
    assert client.get(f"/api/{owner}/tasks/{task['id']}").json() == task


def test_lists_never_include_another_users_tasks(client: TestClient) -> None:
    owner, other = new_user(), new_user()
    create_task(client, owner)
    mine = create_task(client, other)

    body = client.get(f"/api/{other}/tasks").json()

    assert body == {"items": [mine], "count": 1, "next_cursor": None}
