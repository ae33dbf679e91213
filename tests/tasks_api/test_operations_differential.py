"""The differential test: one corpus of requests sent to the service's app and to a plain ``connexion.AsyncApp``
built from the same spec, options and validators (Connexion calling the handlers itself) gives the same answers.

This is what makes a Connexion upgrade safe: whatever Connexion changes in how it calls handlers or checks bearer
tokens, the service's own handler call (``tasks_api.operations``) and bearer handler (``tasks_api.auth``) are
held to it here, request by request, with authentication off and on.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.tokens import SECRET, bearer, hs256

JSON = {"Content-Type": "application/json"}
COMPARED_HEADERS = ("content-type", "allow", "etag", "location", "retry-after", "www-authenticate", "cache-control")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
# A feed's entity tag: a hash of its user and positions, which differ from one app's run to the other's.
_HASHED_ETAG = re.compile(r'^"[0-9a-f]{32}"$')


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # {user}, {task}, {other} are filled in per app
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # With authentication on: whose token the call carries (the path's user, another one, or none).
    token: str = "user"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


CORPUS = [
    # Every operation with valid input.
    Call("GET", "/api/{user}/tasks"),
    Call("POST", "/api/{user}/tasks", _json({"title": "first", "description": "d"}), JSON),
    Call("POST", "/api/{user}/tasks", _json({"title": "second"}), JSON),
    Call("GET", "/api/{user}/tasks/{task}"),
    Call("HEAD", "/api/{user}/tasks/{task}"),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": "replaced", "is_completed": True}), JSON),
    Call("PATCH", "/api/{user}/tasks/{task}/complete"),
    Call("GET", "/api/{user}/tasks"),
    Call("GET", "/api/{user}/tasks?completed=false&sort=title&limit=1"),
    Call("GET", "/api/{user}/tasks?q=SEC&sort=-updated_at"),
    Call("GET", "/api/{user}/tasks?completed=true"),
    Call(
        "POST",
        "/api/{user}/tasks",
        _json({"title": "t", "priority": "High", "tags": [" A", "b"], "due_at": None}),
        JSON,
    ),
    Call("POST", "/api/{user}/tasks", _json({"title": "t", "due_at": "2027-01-01T00:00:00+02:00"}), JSON),
    Call("GET", "/api/{user}/tasks?tags=a&tags=B&priority=High&sort=-due_at"),
    Call("GET", "/api/{user}/tasks?status=pending&search=t&sort_by=priority&sort_order=asc&page=1&page_size=2"),
    Call("GET", "/api/{user}/tasks/metrics"),
    # A user without tasks: on PostgreSQL a feed is held back by any write still open in the cluster.
    Call("GET", "/api/{other}/tasks/changes", token="other"),
    Call("GET", "/api/{other}/tasks/changes?limit=1", token="other"),
    Call("PUT", "/api/{user}/tasks/metrics", _json({"title": "t", "is_completed": True}), JSON),
    Call("GET", "/api/health/live"),
    Call("GET", "/api/health/ready"),
    # Conditional requests.
    Call("GET", "/api/{user}/tasks/{task}", headers={"If-None-Match": '"3"'}),
    Call("GET", "/api/{user}/tasks/{task}", headers={"If-None-Match": 'W/"3", "9"'}),
    Call("GET", "/api/{user}/tasks/{task}", headers={"If-None-Match": '"1"'}),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": "t", "is_completed": False}), {**JSON, "If-Match": '"1"'}),
    Call("PATCH", "/api/{user}/tasks/{task}/complete", headers={"If-Match": '"3"'}),
    Call("PATCH", "/api/{user}/tasks/{task}/complete", headers={"If-Match": "*"}),
    Call("DELETE", "/api/{user}/tasks/{task}", headers={"If-Match": '"2"'}),
    Call("PUT", "/api/{user}/tasks/{other}", _json({"title": "x", "is_completed": False}), {**JSON, "If-Match": '"1"'}),
    Call("GET", "/api/{user}/tasks/{task}", headers={"If-Match": "x" * 1025}),
    # Bad path and query parameters.
    Call("GET", "/api/not-a-uuid/tasks"),
    Call("GET", "/api/{user}/tasks/42"),
    Call("PATCH", "/api/not-a-uuid/tasks/42/complete"),
    Call("GET", "/api/{user}/tasks?limit=0"),
    Call("GET", "/api/{user}/tasks?limit=ten&sort=priority"),
    Call("GET", "/api/{user}/tasks?completed=maybe"),
    Call("GET", "/api/{user}/tasks?colour=red"),
    Call("GET", "/api/{user}/tasks?cursor=abc.def"),
    Call("GET", "/api/{user}/tasks?cursor=!!"),
    Call("GET", "/api/{user}/tasks?q="),
    Call("GET", "/api/{user}/tasks?q=a&search=a&page=0"),
    Call("GET", "/api/{user}/tasks?tags=&priority=urgent"),
    Call("GET", "/api/{user}/tasks/changes?limit=0&since=abc.def"),
    Call("GET", "/api/{user}/tasks/changes?since=abc.def"),
    Call("GET", "/api/{user}/tasks/changes?limit=1001"),
    Call("GET", "/api/not-a-uuid/tasks/metrics"),
    # Bad bodies.
    Call("POST", "/api/{user}/tasks", b'{"title": ', JSON),
    Call("POST", "/api/{user}/tasks", b"", JSON),
    Call("POST", "/api/{user}/tasks", b'{"title": "\xff"}', JSON),
    Call("POST", "/api/{user}/tasks", b'{"title": "a", "title": "b"}', JSON),
    Call("POST", "/api/{user}/tasks", _json({"title": ""}), JSON),
    Call("POST", "/api/{user}/tasks", _json({"title": "t", "id": "x", "user_id": "y"}), JSON),
    Call("POST", "/api/{user}/tasks", _json(["title"]), JSON),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": "t"}), JSON),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": 7, "is_completed": "yes"}), JSON),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": "t", "is_completed": True, "tags": ["x"] * 21}), JSON),
    Call("POST", "/api/{user}/tasks", _json({"title": "t", "due_at": "2016-12-31T23:59:60Z"}), JSON),
    Call("POST", "/api/{user}/tasks", b'{"title": "' + b"x" * 70_000 + b'"}', JSON),
    # Wrong and missing media types.
    Call("POST", "/api/{user}/tasks", b'{"title": "t"}'),
    Call("POST", "/api/{user}/tasks", b'{"title": "t"}', {"Content-Type": "text/plain"}),
    Call("POST", "/api/{user}/tasks", b"title=t", {"Content-Type": "application/x-www-form-urlencoded"}),
    Call("POST", "/api/{user}/tasks", _json({"title": "é"}), {"Content-Type": "application/json; charset=latin-1"}),
    Call("GET", "/api/{user}/tasks", headers={"Content-Type": "text/plain"}),
    # Unknown routes and wrong methods.
    Call("GET", "/api/{user}/things"),
    Call("GET", "/api/{user}/tasks/{task}/extra"),
    Call("GET", "/nowhere"),
    Call("GET", "/api"),
    Call("POST", "/api/{user}/tasks/{task}"),
    Call("PATCH", "/api/{user}/tasks"),
    Call("GET", "/api/{user}/tasks/{task}/complete"),
    Call("DELETE", "/api/health/live"),
    Call("POST", "/api/openapi.json"),
    # The rest of the life of a task.
    Call("DELETE", "/api/{user}/tasks/{task}"),
    Call("GET", "/api/{user}/tasks/{task}"),
    Call("PATCH", "/api/{user}/tasks/{task}/complete"),
    Call("DELETE", "/api/{user}/tasks/{task}"),
    Call("GET", "/api/{user}/tasks"),
    # The contract and its UI, served beside the API.
    Call("GET", "/api/openapi.json"),
    Call("GET", "/api/ui/"),
    # Credentials (with authentication on; without, these are ordinary requests).
    Call("GET", "/api/{user}/tasks", token="none"),
    Call("GET", "/api/{user}/tasks", headers={"Authorization": "Basic dXNlcjpwYXNz"}, token="none"),
    Call("GET", "/api/{user}/tasks", headers={"Authorization": "Bearer"}, token="none"),
    Call("GET", "/api/{user}/tasks", headers={"Authorization": "Bearer not-a-jwt"}, token="none"),
    Call("PUT", "/api/{user}/tasks/{task}", _json({"title": "t"}), JSON, token="other"),
    Call("GET", "/api/not-a-uuid/tasks", token="other"),
    Call("GET", "/api/health/ready", token="none"),
]


class Placeholders:
    """Replaces every id and timestamp an answer carries with a stable name, in order of first appearance."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def _name(self, match: re.Match[str]) -> str:
        return self._names.setdefault(match.group(0), f"<id {len(self._names)}>")

    def __call__(self, text: str) -> str:
        text = _HASHED_ETAG.sub("<hash>", text)
        return _CURSOR.sub("<cursor>", _TIMESTAMP.sub("<timestamp>", _UUID.sub(self._name, text)))


def _run(client: TestClient, authenticated: bool) -> list[tuple[Any, ...]]:
    user, other = str(uuid.uuid4()), str(uuid.uuid4())
    tokens = {"user": bearer(hs256(user)), "other": bearer(hs256(other)), "none": {}}
    task, created = str(uuid.uuid4()), False  # the corpus works on the first task it creates
    normalise = Placeholders()
    normalise(user)
    answers = []
    for call in CORPUS:
        path = call.path.format(user=user, task=task, other=other)
        headers = {**tokens[call.token], **call.headers} if authenticated else call.headers
        response = client.request(call.method, path, content=call.body, headers=headers)
        if response.status_code == 201 and not created:
            task, created = response.json()["id"], True
        compared = tuple(normalise(response.headers.get(name, "")) for name in COMPARED_HEADERS)
        answers.append((call.method, call.path, response.status_code, compared, normalise(response.text)))
    return answers


@pytest.mark.parametrize("authenticated", [False, True], ids=["without-authentication", "jwt"])
def test_the_service_answers_every_request_as_connexion_itself_would(settings: Settings, authenticated: bool) -> None:
    if authenticated:
        settings = replace(settings, tokens=TokenSettings(secret=SECRET))
    with create_app(settings, connexion_reference=True).test_client() as connexion_client:
        expected = _run(connexion_client, authenticated)
    with create_app(settings).test_client() as service_client:
        answered = _run(service_client, authenticated)

    assert [answer[:3] for answer in answered] == [answer[:3] for answer in expected]
    for mine, reference in zip(answered, expected, strict=True):
        assert mine == reference
    statuses = {answer[2] for answer in answered}
    assert {200, 201, 204, 304, 400, 404, 405, 412, 413, 415, 422} <= statuses
    assert ({401, 403} <= statuses) is authenticated
