"""A Hypothesis state machine drives the app for several users at once and compares it with a model after
every step: lists (order included), isolation between users, toggles, replacements and deletions."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test
from starlette.testclient import TestClient

from tests.support import new_user, newest_first, reproducible

# Python's whitespace includes every character the spec counts as whitespace, so this never makes a blank title.
titles = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).filter(
    lambda title: not title.isspace()
)
descriptions = st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)


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

    @rule(target=owned, user_index=st.integers(0, 2), title=titles, description=descriptions)
    def create(self, user_index: int, title: str, description: str | None) -> tuple[str, str]:
        user = self.users[user_index]
        response = self.client.post(f"/api/{user}/tasks", json={"title": title, "description": description})
        assert response.status_code == 201, response.text
        task = response.json()
        assert (task["title"], task["description"], task["is_completed"]) == (title, description, False)
        self.model[user][task["id"]] = task
        return user, task["id"]

    @rule(target=owned, key=consumes(owned), title=titles, description=descriptions, completed=st.booleans())
    def replace(self, key: tuple[str, str], title: str, description: str | None, completed: bool) -> tuple[str, str]:
        user, task_id = key
        body = {"title": title, "description": description, "is_completed": completed}
        response = self.client.put(self._url(user, task_id), json=body)
        assert response.status_code == 200, response.text
        replaced = response.json()
        before = self.model[user][task_id]
        assert (replaced["title"], replaced["description"], replaced["is_completed"]) == (title, description, completed)
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

    @invariant()
    def every_list_equals_the_model(self) -> None:
        for user in self.users:
            listed = self.client.get(f"/api/{user}/tasks").json()
            assert listed["items"] == newest_first(self.model[user].values())
            assert listed["count"] == len(self.model[user])


def test_the_service_behaves_like_the_model(client: TestClient) -> None:
    TasksMachine.client = client
    run_state_machine_as_test(TasksMachine, settings=reproducible(max_examples=30, stateful_step_count=20))
