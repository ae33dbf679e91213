"""Request ids on every response, and one access line per request naming the route."""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tasks_api.app import create_app
from tasks_api.problems import ProblemResponses, error_codes, other_error_codes
from tasks_api.request_context import CUT_OFF_DETAIL, AccessLog, RequestContext
from tasks_api.routes import RouteTable
from tasks_api.settings import Settings
from tasks_api.specification import load_specification
from tests.support import new_user


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/{user}/tasks"), ("GET", "/api/nope/tasks"), ("DELETE", "/api/{user}/tasks"), ("GET", "/nowhere")],
)
def test_every_response_gets_a_fresh_request_id(client: TestClient, method: str, path: str) -> None:
    first = client.request(method, path.format(user=new_user()))
    second = client.request(method, path.format(user=new_user()))

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("incoming", ["abc-123", "0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b", "trace/1:2@edge+x=y"])
def test_a_valid_incoming_request_id_is_echoed(client: TestClient, incoming: str) -> None:
    response = client.get(f"/api/{new_user()}/tasks", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 129, 'quote"d', "new\\nline", "ünïcode"])
def test_an_unsafe_incoming_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get(f"/api/{new_user()}/tasks", headers={"X-Request-ID": incoming.encode("utf-8")})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def _access_lines(captured: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "tasks_api.access"]


def test_access_log_names_the_route_not_the_url(client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    user = new_user()
    capfd.readouterr()
    response = client.get(f"/api/{user}/tasks/{new_user()}", headers={"X-Request-ID": "trace-7"})

    (line,) = _access_lines(capfd.readouterr().err)
    assert (line["level"], line["message"]) == ("info", "request")
    assert line["request_id"] == "trace-7"
    assert line["method"] == "GET"
    assert line["path"] == "/api/{user_id}/tasks/{task_id}"
    assert line["status"] == response.status_code == 404
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert datetime.fromisoformat(str(line["ts"])).utcoffset() == timedelta(0)
    assert user not in json.dumps(line)


def test_the_access_log_can_be_turned_off(settings: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    with create_app(replace(settings, access_log=False)).test_client() as quiet:
        capfd.readouterr()
        response = quiet.get(f"/api/{new_user()}/tasks")

    assert response.status_code == 200
    assert response.headers["x-request-id"]
    assert _access_lines(capfd.readouterr().err) == []


def test_an_access_line_that_cannot_be_written_is_dropped_without_an_error() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # a pipe nobody reads refuses writes (EPIPE)
    try:
        AccessLog(write_end).write(request="r", method="GET", path=None, status=200, duration_ms=0.1)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("path", ["/api/{user}/tasks/", "/api/health/live/", "/api/openapi.json/"])
def test_a_redirect_never_names_the_host_the_client_sent(client: TestClient, path: str) -> None:
    response = client.get(path.format(user=new_user()), headers={"Host": "attacker.example"}, follow_redirects=False)

    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "attacker.example" not in location
    assert client.get(location).status_code == 200


def _cut_off(answered_first: bool) -> list[Message]:
    """The messages a request sends when its task is cancelled (as uvicorn does at the end of the shutdown
    grace), having already started its answer or not."""
    specification = load_specification()
    problems = ProblemResponses(error_codes(specification), other_error_codes(specification))

    async def cancelled(_scope: Scope, _receive: Receive, send: Send) -> None:
        if answered_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise asyncio.CancelledError

    middleware = RequestContext(cancelled, RouteTable.from_spec(specification), None, problems)
    scope: Scope = {"type": "http", "method": "PUT", "path": "/", "headers": [(b"x-request-id", b"cut-2")]}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    return sent


def test_a_request_cut_off_before_its_answer_is_answered_503_problem_with_its_id() -> None:
    start, body = _cut_off(answered_first=False)

    assert start["status"] == 503
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) > 0
    assert headers["x-request-id"] == "cut-2"
    problem = json.loads(body["body"])
    assert (problem["error_code"], problem["detail"]) == ("SERVICE_UNAVAILABLE", CUT_OFF_DETAIL)


def test_a_request_cut_off_after_its_answer_began_is_left_to_end() -> None:
    with pytest.raises(asyncio.CancelledError):
        _cut_off(answered_first=True)
