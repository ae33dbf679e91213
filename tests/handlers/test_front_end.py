"""The original project's latest Next.js front end, call by call (``Phase_V/frontend/lib/api/tasks.ts``), against
the service configured as its README says: Better Auth's JWKS (RS256, issuer and audience its base URL) and
``TASKS_API_USER_IDS=opaque``; then the same calls with UUID user ids and with the default mode. On SQLite and
PostgreSQL.

Each call is made as the front end makes it: ``${BACKEND_URL}/${userId}${path}`` with BACKEND_URL ending in
``/api``, the user id as Better Auth gives it, ``Content-Type: application/json`` on every request (GET, PATCH
and DELETE included), its token as a bearer. What it reads is checked as it reads it: the status picks its
error code, the message is the body's ``detail``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.support import better_auth_id
from tests.tokens import SigningKey, claims, jwks_server

BETTER_AUTH_URL = "http://localhost:3000"
BACKEND_URL = "/api"
# lib/api/errors.ts
ERROR_CODES = {401: "AUTH_FAILED", 403: "ACCESS_DENIED", 404: "NOT_FOUND", 422: "VALIDATION_ERROR"}


@dataclass
class Answer:
    """What the front end's makeAuthenticatedRequest answers: data, or an error code and the message shown."""

    status: int
    data: Any = None
    code: str | None = None
    message: str | None = None

    @property
    def success(self) -> bool:
        return self.code is None


@dataclass
class FrontEnd:
    """The server actions of lib/api/tasks.ts for one signed-in user."""

    client: TestClient
    user_id: str
    token: str

    def _request(self, method: str, path: str, body: Any = None, params: Any = None) -> Answer:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        # The id goes into the path as it is; only a character no URL may carry is escaped (an Auth0 "|").
        url = f"{BACKEND_URL}/{quote(self.user_id, safe='')}{path}"
        response = self.client.request(method, url, json=body, params=params, headers=headers)
        if response.status_code >= 400:
            detail = response.json().get("detail")
            return Answer(
                response.status_code, code=ERROR_CODES.get(response.status_code, "UNKNOWN_ERROR"), message=detail
            )
        if response.status_code == 204:
            return Answer(204)
        return Answer(response.status_code, data=response.json())

    def create_task(self, task: dict[str, Any]) -> Answer:
        return self._request("POST", "/tasks", task)

    def list_tasks(self, **filters: Any) -> Answer:
        return self._request("GET", "/tasks", params=filters)

    def get_task(self, task_id: str) -> Answer:
        return self._request("GET", f"/tasks/{task_id}")

    def update_task(self, task_id: str, task: dict[str, Any]) -> Answer:
        return self._request("PUT", f"/tasks/{task_id}", task)

    def toggle_task_complete(self, task_id: str) -> Answer:
        return self._request("PATCH", f"/tasks/{task_id}/complete")

    def delete_task(self, task_id: str) -> Answer:
        return self._request("DELETE", f"/tasks/{task_id}")

    def get_task_metrics(self) -> Answer:
        return self._request("GET", "/tasks/metrics")


KEY = SigningKey.new("RS256", kid="better-auth")


def better_auth_token(user_id: str, **overrides: Any) -> str:
    """A token as Better Auth's JWT plugin signs one: RS256, sub the user id, issuer and audience the base URL,
    15 minutes, and the profile claims it adds."""
    profile = {"id": user_id, "email": "someone@example.com", "name": "Someone"}
    token_claims = claims(user_id, ttl=900, iss=BETTER_AUTH_URL, aud=BETTER_AUTH_URL, **profile)
    return KEY.sign({**token_claims, **overrides})


@pytest.fixture(scope="module", params=["opaque", "uuid"])
def service(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[TestClient, str]]:
    """The service as the README configures it for the front end, in each user-id mode."""
    with jwks_server(KEY) as keys:
        tokens = TokenSettings(jwks_url=keys.url, issuer=BETTER_AUTH_URL, audience=BETTER_AUTH_URL)
        configured = replace(settings, tokens=tokens, user_ids=request.param)
        with create_app(configured).test_client() as client:
            yield client, request.param


def front_end(service: tuple[TestClient, str], user_id: str) -> FrontEnd:
    return FrontEnd(service[0], user_id, better_auth_token(user_id))


def _users(mode: str) -> list[str]:
    """User ids the mode takes: every provider's in opaque mode, UUIDs in uuid mode."""
    if mode == "uuid":
        return [str(uuid.uuid4())]
    return [better_auth_id(), f"user_2{better_auth_id()[:25]}", f"auth0|{uuid.uuid4().hex[:24]}", str(uuid.uuid4())]


def test_every_screen_works_call_by_call(service: tuple[TestClient, str]) -> None:
    for user_id in _users(service[1]):
        app = front_end(service, user_id)

        # AddTaskPanel: a title, an optional description, a priority; TaskForm adds tags.
        created = app.create_task({"title": "Write the report", "description": None, "priority": "High"})
        tagged = app.create_task({"title": "Book flights", "description": "  ", "priority": "Low", "tags": ["Travel "]})
        plain = app.create_task({"title": "Water plants", "description": None})
        assert created.status == tagged.status == plain.status == 201
        assert created.data["user_id"] == (user_id.lower() if "-" in user_id else user_id)
        assert (plain.data["priority"], plain.data["tags"]) == ("Medium", [])
        assert tagged.data["tags"] == ["travel"]

        # TaskStream with its filter bar.
        listed = app.list_tasks()
        assert listed.data["count"] == 3
        assert [task["title"] for task in listed.data["items"]] == ["Water plants", "Book flights", "Write the report"]
        assert [t["title"] for t in app.list_tasks(priority="High").data["items"]] == ["Write the report"]
        assert [t["title"] for t in app.list_tasks(tags=["travel"]).data["items"]] == ["Book flights"]
        assert app.list_tasks(search="REPORT").data["count"] == 1
        by_priority = app.list_tasks(sort_by="priority", sort_order="desc").data["items"]
        assert [task["priority"] for task in by_priority] == ["High", "Medium", "Low"]
        paged = app.list_tasks(sort_by="title", sort_order="asc", page=2, page_size=2).data
        assert ([task["title"] for task in paged["items"]], paged["count"]) == (["Write the report"], 3)

        # Editing (a full replace, with is_completed and tags), toggling, deleting.
        task_id = created.data["id"]
        assert app.get_task(task_id).data == created.data
        edited = app.update_task(
            task_id,
            {
                "title": "Write the report",
                "description": "by Friday",
                "priority": "Medium",
                "is_completed": False,
                "tags": ["work"],
            },
        )
        assert (edited.data["description"], edited.data["priority"], edited.data["tags"]) == (
            "by Friday",
            "Medium",
            ["work"],
        )
        assert app.toggle_task_complete(task_id).data["is_completed"] is True
        assert app.list_tasks(status="completed").data["items"] == [app.get_task(task_id).data]
        assert app.list_tasks(status="pending").data["count"] == 2

        # The metrics cards.
        assert app.get_task_metrics().data == {
            "total": 3,
            "completed": 1,
            "pending": 2,
            "overdue": 0,
            "high_priority": 0,
            "medium_priority": 2,
            "low_priority": 1,
        }

        assert app.delete_task(task_id).status == 204
        missing = app.get_task(task_id)
        assert (missing.code, missing.message) == ("NOT_FOUND", "Task not found")


def test_errors_reach_the_screen_as_a_code_and_the_servers_detail(service: tuple[TestClient, str]) -> None:
    user_id = _users(service[1])[0]
    app = front_end(service, user_id)

    invalid = app.create_task({"title": "", "description": None})
    assert invalid.code == "VALIDATION_ERROR"
    assert invalid.message and "title" in invalid.message

    expired = replace(app, token=better_auth_token(user_id, exp=1)).list_tasks()
    assert (expired.status, expired.code) == (401, "AUTH_FAILED")
    assert expired.message and "expired" in expired.message

    someone_elses = replace(app, token=better_auth_token(_users(service[1])[0])).list_tasks()
    assert (someone_elses.status, someone_elses.code) == (403, "ACCESS_DENIED")
    assert someone_elses.message

    another_issuers = replace(app, token=better_auth_token(user_id, iss="https://elsewhere")).list_tasks()
    assert (another_issuers.status, another_issuers.code) == (401, "AUTH_FAILED")
    assert another_issuers.message


def test_a_uuid_user_is_one_user_whatever_case_the_front_end_sends(service: tuple[TestClient, str]) -> None:
    user_id = str(uuid.uuid4())
    lower, upper = front_end(service, user_id), front_end(service, user_id.upper())

    created = upper.create_task({"title": "shouting", "description": None})

    assert created.data["user_id"] == user_id
    assert lower.get_task(created.data["id"]).data == created.data
    assert lower.list_tasks().data["count"] == 1
    # The token's subject may be in either case too.
    assert replace(lower, token=better_auth_token(user_id.upper())).list_tasks().data["count"] == 1


def test_ids_of_identity_providers_work_only_in_opaque_mode(service: tuple[TestClient, str]) -> None:
    mode = service[1]
    user_id = better_auth_id()
    app = front_end(service, user_id)

    answer = app.list_tasks()

    if mode == "opaque":
        assert answer.success
        # Case-sensitive: the same letters in another case are another user, whose token this is not.
        denied = replace(app, user_id=user_id.swapcase()).list_tasks()
        assert denied.code == "ACCESS_DENIED"
    else:
        # A 400, which the front end shows as UNKNOWN_ERROR with the server's words.
        assert (answer.status, answer.code, answer.message) == (400, "UNKNOWN_ERROR", "Invalid user ID format")


@pytest.mark.parametrize(
    "user_id", ["-leading-dash", "_under", "has space", "semi;colon", "x" * 129, "é" * 4, "tab\tid"]
)
def test_an_id_no_provider_issues_is_400_in_opaque_mode(settings: Settings, user_id: str) -> None:
    with create_app(replace(settings, user_ids="opaque")).test_client() as client:
        response = client.get(f"/api/{quote(user_id, safe='')}/tasks")

    assert (response.status_code, response.json()["detail"]) == (400, "Invalid user ID format")


def test_the_served_spec_states_the_mode_and_only_it(service: tuple[TestClient, str]) -> None:
    client, mode = service

    user_id = client.get("/api/openapi.json").json()["components"]["schemas"]["UserId"]

    assert ("format" in user_id) is (mode == "uuid")
    assert ("pattern" in user_id) is (mode == "opaque")
