"""The service's Connexion app: Connexion's own extension points work on it, and handlers get what Connexion's own
handler call would give them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from connexion.middleware import MiddlewarePosition
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from tasks_api.app import connexion_app, create_app
from tasks_api.settings import Settings
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


# ---- Connexion's extension points on the service's app ---------------------------------------------------

POSITIONS = [
    MiddlewarePosition.BEFORE_EXCEPTION,
    MiddlewarePosition.BEFORE_SWAGGER,
    MiddlewarePosition.BEFORE_ROUTING,
    MiddlewarePosition.BEFORE_SECURITY,
    MiddlewarePosition.BEFORE_VALIDATION,
    MiddlewarePosition.BEFORE_CONTEXT,
]
# Connexion's documentation: middleware before routing cannot see the routed operation; after it, it can.
ROUTED_POSITIONS = {
    MiddlewarePosition.BEFORE_SECURITY,
    MiddlewarePosition.BEFORE_VALIDATION,
    MiddlewarePosition.BEFORE_CONTEXT,
}


class Marker:
    """Records, for every request it sees, its position and the operation routing had found by then."""

    def __init__(self, app: ASGIApp, name: str, seen: list[tuple[str, str | None]]) -> None:
        self.app, self.name, self.seen = app, name, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            routing = scope.get("extensions", {}).get("connexion_routing", {})
            self.seen.append((self.name, routing.get("operation_id")))
        await self.app(scope, receive, send)


def test_a_middleware_added_at_each_position_runs_in_connexions_documented_order(settings: Settings) -> None:
    app = create_app(settings)
    seen: list[tuple[str, str | None]] = []
    for position in reversed(POSITIONS):  # insertion order must not matter
        app.add_middleware(Marker, position=position, name=position.name, seen=seen)

    with app.test_client() as client:
        response = client.get(f"/api/{new_user()}/tasks")

    assert response.status_code == 200
    assert [name for name, _ in seen] == [position.name for position in POSITIONS]
    routed = dict(seen)
    for position in POSITIONS:
        expected = "handlers.tasks.list_tasks" if position in ROUTED_POSITIONS else None
        assert routed[position.name] == expected, position


def test_a_middleware_before_validation_runs_before_a_bad_request_is_refused(settings: Settings) -> None:
    app = create_app(settings)
    seen: list[tuple[str, str | None]] = []
    app.add_middleware(Marker, position=MiddlewarePosition.BEFORE_VALIDATION, name="BEFORE_VALIDATION", seen=seen)

    with app.test_client() as client:
        response = client.post(f"/api/{new_user()}/tasks", json={"title": ""})

    assert response.status_code == 422
    assert seen == [("BEFORE_VALIDATION", "handlers.tasks.create_task")]


# A spec of its own for what the service's spec does not use yet: a security scheme and a synchronous handler.
SECURED_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "secured", "version": "1"},
    "servers": [{"url": "/api"}],
    "components": {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-Key", "x-apikeyInfoFunc": f"{__name__}.check_key"}
        }
    },
    "paths": {
        "/whoami/{name}": {
            "get": {
                "operationId": "whoami",
                "x-openapi-router-controller": __name__,
                "security": [{"key": []}],
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "who", "content": {"application/json": {"schema": {}}}}},
            }
        }
    },
}


def check_key(key: str, required_scopes: Any = None) -> dict[str, Any] | None:
    return {"sub": "alice", "scope": "tasks"} if key == "open sesame" else None


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def whoami(name: str, user: str, token_info: dict[str, Any]) -> dict[str, Any]:
    """Synchronous on purpose: Connexion runs such handlers in its thread pool, off the event loop."""
    return {"name": name, "user": user, "token_info": token_info, "on_event_loop": _on_event_loop()}


@pytest.mark.parametrize("connexion_reference", [False, True], ids=["service", "connexion"])
def test_the_security_context_reaches_a_synchronous_handler_run_off_the_event_loop(
    connexion_reference: bool,
) -> None:
    app = connexion_app(SECURED_SPEC, connexion_reference=connexion_reference)

    with app.test_client() as client:
        allowed = client.get("/api/whoami/bob", headers={"X-Key": "open sesame"})
        refused = client.get("/api/whoami/bob", headers={"X-Key": "wrong"})

    assert allowed.status_code == 200, allowed.text
    body = allowed.json()
    assert (body["name"], body["user"], body["token_info"]) == ("bob", "alice", {"sub": "alice", "scope": "tasks"})
    assert body["on_event_loop"] is False
    assert refused.status_code == 401
