"""Hostile and malformed input against a real uvicorn server: always a 4xx problem, and the server stays healthy."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.hostile_headers import AUTHORIZATION, CONDITIONAL, JSON_SPELLINGS, NOT_JSON, OTHERS
from tests.support import assert_problem, new_user, running_app
from tests.tokens import SECRET, hs256

USER = "0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b"
SQL = "' OR '1'='1'; DROP TABLE tasks; --"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    with running_app(settings) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def task(server: str) -> str:
    task_id: str = httpx.post(f"{server}/api/{USER}/tasks", json={"title": "target"}).json()["id"]
    return task_id


def _raw(server: str, request: bytes, *, then: bytes = b"") -> tuple[int, bytes]:
    """Sends bytes as they are (no client-side normalisation) and returns the status and body."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        if then:
            connection.sendall(then)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
            head, _, body = response.partition(b"\r\n\r\n")
            if b"content-length: " in head.lower():
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    status = int(response.split(b" ", 2)[1])
    return status, response.partition(b"\r\n\r\n")[2]


BODIES: list[Any] = [
    pytest.param(b"[" * 60_000, 400, id="deeply-nested-array"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, id="deeply-nested-object"),
    pytest.param(b'{"title": 1e999999}', 422, id="huge-float"),
    pytest.param(b'{"title": "t", "is_completed": ' + b"9" * 5000 + b"}", 400, id="huge-integer"),
    pytest.param(b'{"title": "\xc3\x28"}', 400, id="invalid-utf8"),
    pytest.param(b'{"title": "\xed\xa0\x80"}', 400, id="utf8-encoded-surrogate"),
    pytest.param(b'{"title": "a\\u0000b"}', 422, id="nul-in-title"),
    pytest.param(b'{"title": "t", "description": "\\u0000"}', 422, id="nul-in-description"),
    pytest.param(b'{"title": "\\udc00"}', 400, id="lone-low-surrogate"),
    pytest.param(b'{"title": "\\ud800\\ud800"}', 400, id="two-high-surrogates"),
    pytest.param(b'{"title": "a", "title": "b"}', 400, id="duplicate-keys"),
    pytest.param(b'{"title": "t", "description": null, "description": "x"}', 400, id="duplicate-keys-2"),
    pytest.param(b'{"title": NaN}', 422, id="nan"),
    pytest.param(b'{"title": "t"} trailing', 400, id="trailing-garbage"),
    pytest.param(b"\xef\xbb\xbf{}", 400, id="byte-order-mark"),
    pytest.param(b'{"title": "t", "is_completed": true, "user_id": "' + SQL.encode() + b'"}', 422, id="sql-extra-key"),
]


@pytest.mark.parametrize(("body", "status"), BODIES)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_malformed_bodies(server: str, task: str, method: str, body: bytes, status: int) -> None:
    path = f"/api/{USER}/tasks" if method == "POST" else f"/api/{USER}/tasks/{task}"

    response = httpx.request(method, server + path, content=body, headers=JSON)

    assert_problem(response, status)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("text/json-ish", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("", 415),
    ],
)
def test_wrong_or_missing_content_types(server: str, content_type: str | None, status: int) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = httpx.post(f"{server}/api/{USER}/tasks", content=b'{"title": "t"}', headers=headers)

    assert_problem(response, status)


@pytest.mark.parametrize("charset", ["utf-8", "UTF-16", "not-a-charset", "latin-1"])
@pytest.mark.parametrize("separator", ["; ", ";"])
def test_json_is_read_as_utf8_whatever_the_charset_parameter_says(server: str, charset: str, separator: str) -> None:
    headers = {"Content-Type": f"application/json{separator}charset={charset}"}

    response = httpx.post(f"{server}/api/{new_user()}/tasks", content='{"title": "Grüße"}'.encode(), headers=headers)

    assert response.status_code == 201
    assert response.json()["title"] == "Grüße"


@pytest.mark.parametrize("content_type", JSON_SPELLINGS)
def test_json_is_json_in_any_spelling_of_its_media_type(server: str, content_type: str) -> None:
    user, headers = new_user(), {"Content-Type": content_type}

    created = httpx.post(f"{server}/api/{user}/tasks", content=b'{"title": "spelt"}', headers=headers)
    assert created.status_code == 201, created.text
    url = f"{server}/api/{user}/tasks/{created.json()['id']}"
    replaced = httpx.put(url, content=b'{"title": "respelt", "is_completed": true}', headers=headers)

    assert replaced.status_code == 200, replaced.text
    assert httpx.get(url).json()["title"] == "respelt"


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_other_media_types_are_415(server: str, content_type: str) -> None:
    response = httpx.post(
        f"{server}/api/{USER}/tasks", content=b'{"title": "t"}', headers={"Content-Type": content_type}
    )

    assert_problem(response, 415)


@pytest.fixture(scope="module")
def secured_server(database_url: str) -> Iterator[str]:
    settings = Settings(database_url=database_url, tokens=TokenSettings(secret=SECRET))
    with running_app(settings) as base_url:
        yield base_url


HOSTILE_HEADERS = [
    *(("Authorization", value) for value in AUTHORIZATION),
    *((name, value) for name, values in {**CONDITIONAL, **OTHERS}.items() for value in values),
    *(("Content-Type", value) for value in JSON_SPELLINGS + NOT_JSON),
]


@pytest.mark.parametrize("secured", [False, True], ids=["open", "secured"])
def test_no_header_value_reaches_a_500(server: str, secured_server: str, task: str, secured: bool) -> None:
    """Every operation, with each hostile header in turn: a 4xx problem (or success), never a 500."""
    base_url = secured_server if secured else server
    user = new_user()
    token = {"Authorization": f"Bearer {hs256(user)}"} if secured else {}
    created = httpx.post(f"{base_url}/api/{user}/tasks", json={"title": "t"}, headers=token)
    assert created.status_code == 201
    one = f"{base_url}/api/{user}/tasks/{created.json()['id']}"
    calls = [
        ("GET", f"{base_url}/api/{user}/tasks", None),
        ("GET", f"{base_url}/api/{user}/tasks/metrics", None),
        ("POST", f"{base_url}/api/{user}/tasks", b'{"title": "t"}'),
        ("GET", one, None),
        ("PUT", one, b'{"title": "t", "is_completed": true}'),
        ("PATCH", f"{one}/complete", None),
        ("DELETE", f"{base_url}/api/{user}/tasks/{USER}", None),
    ]
    failures = []
    with httpx.Client() as client:
        for name, value in HOSTILE_HEADERS:
            for method, url, body in calls:
                headers = {**token, "Content-Type": "application/json", name: value}
                response = client.request(method, url, content=body, headers=headers)
                problem = response.headers.get("content-type") == "application/problem+json"
                if response.status_code >= 500 or (response.status_code >= 400 and not problem):
                    failures.append(f"{method} {name}: {value[:60]!r} -> {response.status_code}")
    assert not failures


def test_10_mb_body_is_refused_without_being_read(server: str) -> None:
    head = (
        f"POST /api/{USER}/tasks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    ).encode()

    # Only the first kilobyte is ever sent: an answer proves the server did not wait for the rest.
    status, body = _raw(server, head, then=b'{"title": "' + b"x" * 1024)

    assert status == 413
    assert b"PAYLOAD_TOO_LARGE" in body


def test_10_mb_chunked_body_is_refused(server: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(10 * 1024):
            yield b"x" * 1024

    response = httpx.post(f"{server}/api/{USER}/tasks", content=chunks(), headers=JSON)

    assert_problem(response, 413)


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        (f"/api/{USER}%2F..%2F/tasks", {400, 404}),
        (f"/api/{USER}/tasks%2F{USER}", {404}),
        (f"/api/{USER}/tasks/%2e%2e%2f%2e%2e", {400, 404}),
        (f"/api/{'a' * 4000}/tasks", {400}),
        (f"/api/{USER}/tasks/{'f' * 4000}", {400}),
        (f"/api/{USER}/tasks/{USER}%00", {400}),
        ("/api/%ff%fe/tasks", {400}),
        ("/api/" + httpx.URL(SQL).raw_path.decode() + "/tasks", {400}),
        (f"/api/{USER}/tasks/" + httpx.URL(SQL).raw_path.decode(), {400}),
    ],
)
def test_hostile_paths(server: str, path: str, statuses: set[int]) -> None:
    status, body = _raw(server, f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())

    assert status in statuses
    assert b"error_code" in body


@pytest.mark.parametrize(
    "params",
    [
        {"completed": SQL},
        {"sort": SQL},
        {"limit": SQL},
        {"cursor": SQL},
        {"limit": "1e3"},
        {"limit": "-1"},
        {"limit": "9" * 400},
        {SQL: "1"},
    ],
)
def test_sql_and_garbage_in_query_parameters_is_400(server: str, params: dict[str, str]) -> None:
    assert_problem(httpx.get(f"{server}/api/{USER}/tasks", params=params), 400)


def test_sql_in_text_is_only_text(server: str) -> None:
    user = new_user()
    created = httpx.post(f"{server}/api/{user}/tasks", json={"title": SQL, "description": SQL})

    assert created.status_code == 201
    assert created.json()["title"] == SQL
    found = httpx.get(f"{server}/api/{user}/tasks", params={"q": SQL}).json()
    assert [task["id"] for task in found["items"]] == [created.json()["id"]]
    assert httpx.get(f"{server}/api/{user}/tasks", params={"q": "' OR 1=1 --"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("header", "status"),
    [(SQL, 412), ('"1" OR 1=1', 412), ("W/", 412), ("*, *", 412), ('"' + "9" * 1000 + '"', 412), ("x" * 1025, 400)],
)
def test_garbage_in_if_match_never_matches(server: str, header: str, status: int) -> None:
    user = new_user()
    task = httpx.post(f"{server}/api/{user}/tasks", json={"title": "guarded"}).json()

    url = f"{server}/api/{user}/tasks/{task['id']}"

    response = httpx.put(url, json={"title": "x", "is_completed": True}, headers={"If-Match": header})

    assert_problem(response, status)
    assert httpx.get(url).json() == task


@pytest.fixture(autouse=True)
def _server_stays_healthy(server: str) -> Iterator[None]:
    yield
    assert httpx.get(f"{server}/api/health/live").status_code == 200
    assert httpx.get(f"{server}/api/{USER}/tasks", params={"limit": 1}).status_code == 200
