"""Connexion's app with validators and handler calls built once per operation: the same behaviour as Connexion's own."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.support import new_user


def test_swagger_ui_and_the_spec_are_served_beside_the_api(client: TestClient) -> None:
    assert client.get("/api/ui/").status_code == 200
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    assert "/{user_id}/tasks" in spec.json()["paths"]
    assert client.get(f"/api/{new_user()}/tasks").status_code == 200


def test_swagger_ui_paths_keep_their_method_rules(client: TestClient) -> None:
    response = client.post("/api/openapi.json")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_operations_without_a_body_ignore_the_request_content_type(client: TestClient, content_type: str) -> None:
    user = new_user()
    created = client.post(f"/api/{user}/tasks", json={"title": "kept"}).json()
    headers = {"Content-Type": content_type}
    assert client.get(f"/api/{user}/tasks", headers=headers).json()["count"] == 1
    assert client.get(f"/api/{user}/tasks/{created['id']}", headers=headers).status_code == 200
    assert client.patch(f"/api/{user}/tasks/{created['id']}/complete", headers=headers).json()["is_completed"]


def test_handlers_get_parameters_typed_and_defaulted_by_the_spec(client: TestClient) -> None:
    user = new_user()
    for title in ("b", "a", "c"):
        client.post(f"/api/{user}/tasks", json={"title": title})
    # limit and completed arrive typed (an integer, a boolean); sort and limit take the spec's defaults when absent.
    first_two = client.get(f"/api/{user}/tasks", params={"limit": "2", "sort": "title"}).json()
    assert [task["title"] for task in first_two["items"]] == ["a", "b"]
    assert client.get(f"/api/{user}/tasks", params={"completed": "false"}).json()["count"] == 3
    assert client.get(f"/api/{user}/tasks", params={"completed": "true"}).json()["count"] == 0
