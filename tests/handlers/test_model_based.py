"""A Hypothesis state machine drives the app for several users at once and compares it with a model after
every step: lists (order included, under every sort and filter), counts, isolation between users, toggles,
replacements and deletions."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test
from starlette.testclient import TestClient

from tests.support import SORTS, expected_order, new_user, newest_first, reproducible

# Python's whitespace includes every character the spec counts as whitespace, so this never makes a blank title.
titles = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).filter(
    lambda title: not title.isspace()
)
descriptions = st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
priorities = st.sampled_from(["High", "Medium", "Low"])
# A few tags, spelt in several ways, so that tasks share them and filters find several.
tag_lists = st.lists(st.sampled_from(["work", " Work", "HOME ", "home", "été", "ÉTÉ"]), max_size=4)
# Long past or far ahead, so that "overdue" does not depend on when the test runs; shared, so that sorts tie.
due_dates = st.none() | st.sampled_from(["2001-01-01T00:00:00Z", "2001-01-01T01:00:00+01:00", "2999-12-31T23:59:59Z"])


def _fields(priority: str, tags: list[str], due_at: str | None) -> dict[str, Any]:
    return {"priority": priority, "tags": tags, "due_at": due_at}


def _as_stored(tags: list[str]) -> list[str]:
    return sorted({tag.strip().lower() for tag in tags})


class TasksMachine(RuleBasedStateMachine):
    client: TestClient
    owned = Bundle("owned")  # (user, task id) of tasks that exist
    deleted = Bundle("deleted")  # (user, task id) of tasks that were deleted

    def __init__(self) -> None:
        super().__init__()
        self.users = [new_user() for _ in range(3)]
        self.model: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in self.users}

    def _url(self, user: str, task_id: str) -> str:
        return f"/api/{user}/tasks/{task_id}"

    @rule(
        target=owned,
        user_index=st.integers(0, 2),
        title=titles,
        description=descriptions,
        priority=priorities,
        tags=tag_lists,
        due_at=due_dates,
    )
    def create(
        self, user_index: int, title: str, description: str | None, priority: str, tags: list[str], due_at: str | None
    ) -> tuple[str, str]:
        user = self.users[user_index]
        body = {"title": title, "description": description, **_fields(priority, tags, due_at)}
        response = self.client.post(f"/api/{user}/tasks", json=body)
        assert response.status_code == 201, response.text
        task = response.json()
        assert (task["title"], task["description"], task["is_completed"]) == (title, description, False)
        assert (task["priority"], task["tags"]) == (priority, _as_stored(tags))
        self.model[user][task["id"]] = task
        return user, task["id"]

    @rule(
        target=owned,
        key=consumes(owned),
        title=titles,
        description=descriptions,
        completed=st.booleans(),
        priority=priorities,
        tags=tag_lists,
        due_at=due_dates,
    )
    def replace(
        self,
        key: tuple[str, str],
        title: str,
        description: str | None,
        completed: bool,
        priority: str,
        tags: list[str],
        due_at: str | None,
    ) -> tuple[str, str]:
        user, task_id = key
        body = {
            "title": title,
            "description": description,
            "is_completed": completed,
            **_fields(priority, tags, due_at),
        }
        response = self.client.put(self._url(user, task_id), json=body)
        assert response.status_code == 200, response.text
        replaced = response.json()
        before = self.model[user][task_id]
        assert (replaced["title"], replaced["description"], replaced["is_completed"]) == (title, description, completed)
        assert (replaced["priority"], replaced["tags"]) == (priority, _as_stored(tags))
        assert (replaced["id"], replaced["created_at"], replaced["user_id"]) == (task_id, before["created_at"], user)
        self.model[user][task_id] = replaced
        return key

    @rule(target=owned, key=consumes(owned))
    def toggle(self, key: tuple[str, str]) -> tuple[str, str]:
        user, task_id = key
        response = self.client.patch(self._url(user, task_id) + "/complete")
        assert response.status_code == 200, response.text
        assert response.json()["is_completed"] is not self.model[user][task_id]["is_completed"]
        self.model[user][task_id] = response.json()
        return key

    @rule(target=deleted, key=consumes(owned))
    def delete(self, key: tuple[str, str]) -> tuple[str, str]:
        user, task_id = key
        assert self.client.delete(self._url(user, task_id)).status_code == 204
        del self.model[user][task_id]
        return key

    @rule(key=deleted)
    def deleted_tasks_stay_gone(self, key: tuple[str, str]) -> None:
        user, task_id = key
        assert self.client.get(self._url(user, task_id)).status_code == 404
        assert self.client.patch(self._url(user, task_id) + "/complete").status_code == 404

    @rule(key=owned, intruder_index=st.integers(0, 2))
    def other_users_cannot_reach_a_task(self, key: tuple[str, str], intruder_index: int) -> None:
        user, task_id = key
        intruder = self.users[intruder_index]
        if intruder == user:
            return
        for method in ("GET", "DELETE"):
            assert self.client.request(method, self._url(intruder, task_id)).status_code == 404
        assert self.client.patch(self._url(intruder, task_id) + "/complete").status_code == 404

    @rule(
        user_index=st.integers(0, 2),
        sort=st.sampled_from(SORTS),
        priority=st.none() | priorities,
        tags=st.lists(st.sampled_from(["work", "home", "été"]), max_size=2),
        completed=st.none() | st.booleans(),
        limit=st.integers(1, 3),
    )
    def a_filtered_sorted_walk_equals_the_model(
        self, user_index: int, sort: str, priority: str | None, tags: list[str], completed: bool | None, limit: int
    ) -> None:
        user = self.users[user_index]
        filters: dict[str, Any] = {"sort": sort, "tags": tags, "limit": limit}
        if priority is not None:
            filters["priority"] = priority
        if completed is not None:
            filters["completed"] = str(completed).lower()
        matching = [
            task
            for task in self.model[user].values()
            if priority in (None, task["priority"])
            and completed in (None, task["is_completed"])
            and set(tags) <= set(task["tags"])
        ]
        seen: list[str] = []
        page = self.client.get(f"/api/{user}/tasks", params=filters).json()
        while True:
            seen += [task["id"] for task in page["items"]]
            assert page["count"] == len(matching)
            if page["next_cursor"] is None:
                break
            page = self.client.get(f"/api/{user}/tasks", params={**filters, "cursor": page["next_cursor"]}).json()
        assert seen == expected_order(matching, sort)

    @invariant()
    def every_list_and_count_equals_the_model(self) -> None:
        for user in self.users:
            listed = self.client.get(f"/api/{user}/tasks").json()
            tasks = list(self.model[user].values())
            assert listed["items"] == newest_first(tasks)
            assert listed["count"] == len(tasks)
            open_tasks = [task for task in tasks if not task["is_completed"]]
            assert self.client.get(f"/api/{user}/tasks/metrics").json() == {
                "total": len(tasks),
                "completed": len(tasks) - len(open_tasks),
                "pending": len(open_tasks),
                "overdue": sum(1 for task in open_tasks if task["due_at"] and task["due_at"] < "2500"),
                "high_priority": sum(1 for task in tasks if task["priority"] == "High"),
                "medium_priority": sum(1 for task in tasks if task["priority"] == "Medium"),
                "low_priority": sum(1 for task in tasks if task["priority"] == "Low"),
            }


def test_the_service_behaves_like_the_model(client: TestClient) -> None:
    TasksMachine.client = client
    run_state_machine_as_test(TasksMachine, settings=reproducible(max_examples=30, stateful_step_count=20))
