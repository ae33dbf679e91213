"""A method the fixed path /tasks/metrics lacks is a 405 listing its own, not a request for a task named
"metrics"; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.support import assert_problem, create_task, new_user


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST"])
def test_a_method_the_metrics_path_lacks_is_405(client: TestClient, method: str) -> None:
    response = client.request(method, f"/api/{new_user()}/tasks/metrics", json={"title": "t", "is_completed": True})

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, HEAD"


def test_the_paths_it_shadows_still_take_their_methods(client: TestClient) -> None:
    user = new_user()
    task = create_task(client, user)

    assert client.get(f"/api/{user}/tasks/metrics").status_code == 200
    assert client.put(f"/api/{user}/tasks/{task['id']}", json={"title": "t", "is_completed": True}).status_code == 200
    assert client.delete(f"/api/{user}/tasks/{task['id']}").status_code == 204
