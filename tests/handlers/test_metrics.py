"""GET /api/{user_id}/tasks/metrics: a user's counts follow every write; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from tests.support import create_task, new_user

ZERO = {
    "total": 0,
    "completed": 0,
    "pending": 0,
    "overdue": 0,
    "high_priority": 0,
    "medium_priority": 0,
    "low_priority": 0,
}


def metrics(client: TestClient, user: str) -> dict[str, Any]:
    response = client.get(f"/api/{user}/tasks/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    body: dict[str, Any] = response.json()
    return body


def _moment(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_a_user_without_tasks_has_every_count_zero(client: TestClient) -> None:
    assert metrics(client, new_user()) == ZERO


def test_counts_follow_creates_toggles_replaces_and_deletes(client: TestClient) -> None:
    user = new_user()
    high = create_task(client, user, priority="High")
    low = create_task(client, user, priority="Low")
    medium = create_task(client, user)
    create_task(client, new_user(), priority="High")  # another user's: never counted

    assert metrics(client, user) == {
        **ZERO,
        "total": 3,
        "pending": 3,
        "high_priority": 1,
        "medium_priority": 1,
        "low_priority": 1,
    }

    client.patch(f"/api/{user}/tasks/{high['id']}/complete")
    client.put(f"/api/{user}/tasks/{low['id']}", json={"title": "now high", "is_completed": True, "priority": "High"})
    client.delete(f"/api/{user}/tasks/{medium['id']}")

    assert metrics(client, user) == {**ZERO, "total": 2, "completed": 2, "high_priority": 2}


def test_overdue_counts_open_tasks_whose_due_date_has_passed(client: TestClient) -> None:
    user = new_user()
    create_task(client, user, due_at=_moment(-1))
    create_task(client, user, due_at=_moment(-365 * 30))
    done_late = create_task(client, user, due_at=_moment(-1))
    create_task(client, user, due_at=_moment(1))
    create_task(client, user)
    client.patch(f"/api/{user}/tasks/{done_late['id']}/complete")

    counted = metrics(client, user)

    assert counted["overdue"] == 2
    assert (counted["total"], counted["pending"]) == (5, 4)
