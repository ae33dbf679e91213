"""Priority, tags and due date: set on create and on a full replace, answered in every task, checked by the
spec; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support import assert_problem, create_task, new_user

REPLACE = {"title": "replaced", "is_completed": False}


def _get(client: TestClient, user: str, task: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/{user}/tasks/{task['id']}").json()
    return found


def test_a_task_without_them_is_of_medium_priority_with_no_tags_and_no_due_date(client: TestClient) -> None:
    user = new_user()

    task = create_task(client, user)

    assert (task["priority"], task["tags"], task["due_at"]) == ("Medium", [], None)
    assert _get(client, user, task) == task
    # Every field of the answer, in the document's order.
    assert list(task) == [
        "id",
        "title",
        "description",
        "is_completed",
        "created_at",
        "updated_at",
        "user_id",
        "priority",
        "tags",
        "due_at",
    ]


def test_they_are_answered_as_stored_and_read_back_alike(client: TestClient) -> None:
    user = new_user()

    task = create_task(
        client,
        user,
        priority="High",
        tags=["  Work ", "work", "Q1", "\u3000home\u00a0", "ÉTÉ"],
        due_at="2026-12-24T18:00:00+01:00",
    )

    assert task["priority"] == "High"
    assert task["tags"] == ["home", "q1", "work", "été"]
    assert task["due_at"] == "2026-12-24T17:00:00.000000Z"
    assert _get(client, user, task) == task


def test_a_due_date_keeps_its_fraction_of_a_second(client: TestClient) -> None:
    user = new_user()

    task = create_task(client, user, due_at="2026-06-01T08:00:00.123456789-02:00")

    assert task["due_at"] == "2026-06-01T10:00:00.123456Z"


def test_a_full_replace_sets_them_and_resets_what_it_leaves_out(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user, priority="Low", tags=["a"], due_at="2027-01-01T00:00:00Z")

    changed = client.put(
        f"/api/{user}/tasks/{task['id']}",
        json={**REPLACE, "priority": "High", "tags": ["B", "c"], "due_at": "2027-02-01T00:00:00Z"},
    ).json()
    reset = client.put(f"/api/{user}/tasks/{task['id']}", json=REPLACE).json()

    assert (changed["priority"], changed["tags"], changed["due_at"]) == (
        "High",
        ["b", "c"],
        "2027-02-01T00:00:00.000000Z",
    )
    assert (reset["priority"], reset["tags"], reset["due_at"]) == ("Medium", [], None)
    assert _get(client, user, task) == reset


def test_toggling_keeps_them(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user, priority="Low", tags=["x"], due_at="2027-01-01T00:00:00Z")

    toggled = client.patch(f"/api/{user}/tasks/{task['id']}/complete").json()

    assert (toggled["priority"], toggled["tags"], toggled["due_at"]) == (task["priority"], task["tags"], task["due_at"])
    assert toggled["is_completed"] is True


def test_a_null_due_date_is_none_and_twenty_tags_are_allowed(client: TestClient) -> None:
    user = new_user()
    tags = [f"tag {n:02}" for n in range(20)]

    task = create_task(client, user, due_at=None, tags=tags)

    assert task["due_at"] is None
    assert task["tags"] == tags


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"priority": "high"}, "priority"),
        ({"priority": "Urgent"}, "priority"),
        ({"priority": None}, "priority"),
        ({"tags": "work"}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"tags": [""]}, "tags.0"),
        ({"tags": ["ok", " \u3000 "]}, "tags.1"),
        ({"tags": ["x" * 51]}, "tags.0"),
        ({"tags": ["tab\there"]}, "tags.0"),
        ({"tags": ["nul\u0000"]}, "tags.0"),
        ({"tags": [7]}, "tags.0"),
        ({"due_at": "2026-12-24"}, "due_at"),
        ({"due_at": "2026-12-24T18:00:00"}, "due_at"),
        ({"due_at": "2016-12-31T23:59:60Z"}, "due_at"),
        ({"due_at": "2026-02-30T00:00:00Z"}, "due_at"),
        ({"due_at": "0999-12-31T00:00:00Z"}, "due_at"),
        ({"due_at": "9999-01-01T00:00:00Z"}, "due_at"),
        ({"due_at": 1767225600}, "due_at"),
    ],
)
def test_values_the_spec_refuses_are_422_naming_the_field(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    user = new_user()
    task = create_task(client, user)

    for response in (
        client.post(f"/api/{user}/tasks", json={"title": "t", **fields}),
        client.put(f"/api/{user}/tasks/{task['id']}", json={**REPLACE, **fields}),
    ):
        problem = assert_problem(response, 422, "VALIDATION_ERROR")
        assert field in {error["field"] for error in problem["field_errors"]}, problem


@pytest.mark.parametrize("tag", ["x" * 50, "  " + "y" * 50 + "\u2003", "a b", "🙂" * 50, "#urgent:@home|work"])
def test_a_tag_of_up_to_fifty_characters_once_trimmed_is_kept(client: TestClient, tag: str) -> None:
    user = new_user()

    assert create_task(client, user, tags=[tag])["tags"] == [tag.strip().lower()]
