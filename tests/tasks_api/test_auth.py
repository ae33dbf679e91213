"""Authentication through the app: 401 with its challenge, 403 for another user's path (decided before the
body or the database), the order of the checks, the spec served in each mode, CORS and the headers every
answer carries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.support import assert_problem, closed_port, new_user
from tests.tokens import SECRET, JWKSServer, SigningKey, bearer, claims, hs256, jwks_server

TASK_BODY = {"title": "t", "is_completed": False}
OPERATIONS = [
    ("GET", "/api/{user}/tasks", None),
    ("POST", "/api/{user}/tasks", {"title": "t"}),
    ("GET", "/api/{user}/tasks/{task}", None),
    ("PUT", "/api/{user}/tasks/{task}", TASK_BODY),
    ("DELETE", "/api/{user}/tasks/{task}", None),
    ("PATCH", "/api/{user}/tasks/{task}/complete", None),
    ("GET", "/api/{user}/tasks/metrics", None),
    ("GET", "/api/{user}/tasks/changes", None),
]
REALM = 'Bearer realm="tasks-api"'
INVALID = 'Bearer realm="tasks-api", error="invalid_token"'


@pytest.fixture(scope="module")
def jwt_settings(settings: Settings) -> Settings:
    return replace(settings, tokens=TokenSettings(secret=SECRET))


@pytest.fixture(scope="module")
def secured(jwt_settings: Settings) -> Iterator[TestClient]:
    with create_app(jwt_settings).test_client() as client:
        yield client


def _create(client: TestClient, user: str) -> dict[str, Any]:
    response = client.post(f"/api/{user}/tasks", json={"title": "mine"}, headers=bearer(hs256(user)))
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def _call(client: TestClient, method: str, path: str, body: Any, user: str, task: str, **headers: str) -> Any:
    return client.request(method, path.format(user=user, task=task), json=body, headers=headers)


# ---- 401 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz"], ids=["no-header", "basic"])
def test_without_a_bearer_token_every_operation_is_401_with_the_bare_challenge(
    secured: TestClient, method: str, path: str, body: Any, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = _call(secured, method, path, body, new_user(), new_user(), **headers)

    assert_problem(response, 401, "AUTH_FAILED")
    assert response.headers["www-authenticate"] == REALM


@pytest.mark.parametrize(
    ("make_token", "expired"),
    [
        (lambda user: hs256(user, ttl=-120), True),
        (lambda user: hs256(user, secret=b"someone else's secret, thirty-two bytes"), False),
        (lambda user: SigningKey.new("EdDSA").sign(claims(user)), False),
        (lambda user: hs256(user)[:-4] + "AAAA", False),
        (lambda user: "Bearer", False),
    ],
    ids=["expired", "other-secret", "wrong-algorithm", "bad-signature", "malformed"],
)
def test_a_bad_token_is_401_invalid_token_and_the_detail_tells_expired_from_invalid(
    secured: TestClient, make_token: Any, expired: bool
) -> None:
    user = new_user()
    token = make_token(user)

    response = secured.get(f"/api/{user}/tasks", headers=bearer(token))

    problem = assert_problem(response, 401, "AUTH_FAILED")
    assert response.headers["www-authenticate"] == INVALID
    assert ("expired" in problem["detail"]) is expired
    assert token not in response.text


@pytest.mark.parametrize("exp", [10**400, "9999999999"], ids=["beyond-a-float", "a-string"])
def test_a_signed_token_whose_expiry_is_not_a_json_number_is_401(secured: TestClient, exp: Any) -> None:
    user = new_user()

    response = secured.get(f"/api/{user}/tasks", headers=bearer(hs256(user, exp=exp)))

    assert_problem(response, 401, "AUTH_FAILED")
    assert response.headers["www-authenticate"] == INVALID


def test_a_malformed_authorization_header_is_invalid_token(secured: TestClient) -> None:
    response = secured.get(f"/api/{new_user()}/tasks", headers={"Authorization": "Bearer"})

    assert_problem(response, 401, "AUTH_FAILED")
    assert response.headers["www-authenticate"] == INVALID


# ---- 403 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_token_for_user_a_on_user_bs_path_is_403_and_changes_nothing(
    secured: TestClient, method: str, path: str, body: Any
) -> None:
    intruder, owner = new_user(), new_user()
    task = _create(secured, owner)
    before = secured.get(f"/api/{owner}/tasks", headers=bearer(hs256(owner))).json()

    response = _call(secured, method, path, body, owner, task["id"], **bearer(hs256(intruder)))

    problem = assert_problem(response, 403, "ACCESS_DENIED")
    assert problem["detail"] == "The token belongs to another user; it gives access to its own tasks only"
    assert secured.get(f"/api/{owner}/tasks", headers=bearer(hs256(owner))).json() == before


def test_the_subject_and_the_path_are_compared_as_uuids(secured: TestClient) -> None:
    user = new_user()

    response = secured.get(f"/api/{user}/tasks", headers=bearer(hs256(user.upper())))

    assert response.status_code == 200


def test_a_token_whose_subject_is_not_a_uuid_owns_no_path(secured: TestClient) -> None:
    assert_problem(secured.get(f"/api/{new_user()}/tasks", headers=bearer(hs256("alice"))), 403, "ACCESS_DENIED")


@pytest.mark.parametrize(
    "respelt",
    [
        lambda user: f"urn:uuid:{user}",
        lambda user: f"{{{user}}}",
        lambda user: user.replace("-", ""),
        lambda user: user.replace("-", "")[:12] + "-" + user.replace("-", "")[12:],
    ],
    ids=["urn", "braces", "no-hyphens", "hyphen-elsewhere"],
)
def test_a_token_whose_subject_spells_the_uuid_another_way_owns_no_path(secured: TestClient, respelt: Any) -> None:
    user = new_user()

    response = secured.get(f"/api/{user}/tasks", headers=bearer(hs256(respelt(user))))

    assert_problem(response, 403, "ACCESS_DENIED")


def test_403_is_decided_before_any_database_access(jwt_settings: Settings) -> None:
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/tasks?connect_timeout=2"
    with create_app(replace(jwt_settings, database_url=unreachable)).test_client() as client:
        foreign = client.put(f"/api/{new_user()}/tasks/{new_user()}", json=TASK_BODY, headers=bearer(hs256(new_user())))
        own = new_user()
        mine = client.get(f"/api/{own}/tasks", headers=bearer(hs256(own)))

    assert_problem(foreign, 403, "ACCESS_DENIED")
    assert_problem(mine, 503, "SERVICE_UNAVAILABLE")


# ---- the order of the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "token_user", "status"),
    [
        ("/api/not-a-uuid/tasks/{task}", "{", None, 401),  # 401 before everything
        ("/api/not-a-uuid/tasks/{task}", "{", "other", 400),  # then a malformed path
        ("/api/{user}/tasks/{task}?colour=red", "{", "other", 400),  # or query
        ("/api/{user}/tasks/{task}", "{", "other", 403),  # then another user's path
        ("/api/{user}/tasks/{task}", '{"title": ""}', "other", 403),  # before the body
        ("/api/{user}/tasks/{task}", '{"title": ""}', "self", 422),  # then the body
        ("/api/{user}/tasks/{task}", '{"title": "t", "is_completed": true}', "self", 404),  # then the task
    ],
)
def test_the_checks_answer_in_the_order_the_spec_states(
    secured: TestClient, path: str, body: str, token_user: str | None, status: int
) -> None:
    user = new_user()
    headers = {"Content-Type": "application/json"}
    if token_user is not None:
        headers |= bearer(hs256(user if token_user == "self" else new_user()))

    response = secured.put(path.format(user=user, task=new_user()), content=body, headers=headers)

    assert response.status_code == status, response.text


def test_an_unauthenticated_body_over_the_limit_is_401_not_413(secured: TestClient) -> None:
    body = b'{"title": "' + b"x" * (64 * 1024) + b'"}'

    response = secured.post(f"/api/{new_user()}/tasks", content=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 401, "AUTH_FAILED")


# ---- what stays open, and the spec in each mode -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/health/live", "/api/health/ready", "/api/openapi.json", "/api/ui/"])
def test_probes_the_spec_and_swagger_ui_need_no_token(secured: TestClient, path: str) -> None:
    assert secured.get(path).status_code == 200


def _task_operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path, item in spec["paths"].items() if "{user_id}" in path for operation in item.values()]


def test_the_served_spec_requires_the_bearer_token_on_every_task_operation(secured: TestClient) -> None:
    spec = secured.get("/api/openapi.json").json()

    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for operation in _task_operations(spec):
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= set(operation["responses"])
    assert "security" not in spec["paths"]["/health/ready"]["get"]


def test_without_authentication_the_served_spec_declares_none(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()

    assert "securitySchemes" not in spec.get("components", {})
    for operation in _task_operations(spec):
        assert "security" not in operation
        assert not {"401", "403"} & set(operation["responses"])
    assert client.get(f"/api/{new_user()}/tasks").status_code == 200


# ---- a JWKS -----------------------------------------------------------------------------------------------


@pytest.fixture
def jwks(settings: Settings) -> Iterator[tuple[JWKSServer, Settings]]:
    with jwks_server(SigningKey.new("EdDSA", kid="current")) as server:
        yield server, replace(settings, tokens=TokenSettings(jwks_url=server.url, audience="tasks-api"))


def test_tokens_from_a_jwks_are_accepted(jwks: tuple[JWKSServer, Settings]) -> None:
    server, jwks_settings = jwks
    user = new_user()
    token = server.keys[0].sign(claims(user, aud="tasks-api"))

    with create_app(jwks_settings).test_client() as client:
        assert client.get(f"/api/{user}/tasks", headers=bearer(token)).status_code == 200
        wrong_audience = client.get(f"/api/{user}/tasks", headers=bearer(server.keys[0].sign(claims(user))))
        hs = client.get(f"/api/{user}/tasks", headers=bearer(hs256(user, aud="tasks-api")))

    assert_problem(wrong_audience, 401, "AUTH_FAILED")
    assert_problem(hs, 401, "AUTH_FAILED")


@pytest.mark.parametrize(
    "answer",
    [
        lambda key: None,
        lambda key: b"[]",
        lambda key: json.dumps({"keys": [{**key.jwk(), "kid": [key.kid]}]}).encode(),
        lambda key: b"[" * 100_000,
    ],
    ids=["503", "an-array", "a-list-as-kid", "deeply-nested"],
)
def test_a_key_server_that_cannot_be_used_is_503_and_readiness_says_so(
    jwks: tuple[JWKSServer, Settings], answer: Callable[[SigningKey], bytes | None]
) -> None:
    server, jwks_settings = jwks
    server.body = answer(server.keys[0])
    server.available = server.body is not None
    user = new_user()

    with create_app(jwks_settings).test_client() as client:
        response = client.get(f"/api/{user}/tasks", headers=bearer(server.keys[0].sign(claims(user, aud="tasks-api"))))
        ready = client.get("/api/health/ready")

    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0
    problem = assert_problem(ready, 503, "SERVICE_UNAVAILABLE")
    assert "key server" in problem["detail"]


# ---- CORS and the headers every answer carries ------------------------------------------------------------

FRONT_END = "https://app.example"


@pytest.fixture(scope="module")
def cors(jwt_settings: Settings) -> Iterator[TestClient]:
    with create_app(replace(jwt_settings, cors_origins=(FRONT_END,))).test_client() as client:
        yield client


def test_a_preflight_from_a_listed_origin_succeeds(cors: TestClient) -> None:
    response = cors.options(
        f"/api/{new_user()}/tasks/{new_user()}",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONT_END
    allowed_methods = {method.strip() for method in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "DELETE", "PATCH"} <= allowed_methods
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "if-match", "if-none-match", "x-request-id"):
        assert header in allowed


def test_answers_to_a_listed_origin_expose_the_headers_clients_read(cors: TestClient) -> None:
    user = new_user()
    response = cors.post(
        f"/api/{user}/tasks", json={"title": "t"}, headers={"Origin": FRONT_END, **bearer(hs256(user))}
    )
    refused = cors.get(f"/api/{user}/tasks", headers={"Origin": FRONT_END})

    assert response.headers["access-control-allow-origin"] == FRONT_END
    exposed = {header.strip().lower() for header in response.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "x-request-id", "retry-after"} <= exposed
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == FRONT_END


def test_other_origins_get_no_cors_headers(cors: TestClient, secured: TestClient) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    for client in (cors, secured):
        response = client.options(f"/api/{new_user()}/tasks", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        simple = client.get("/api/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/{user}/tasks"), ("GET", "/api/health/live"), ("GET", "/nowhere")]
)
def test_every_answer_says_nosniff(secured: TestClient, method: str, path: str) -> None:
    assert secured.request(method, path.format(user=new_user())).headers["x-content-type-options"] == "nosniff"


def test_task_answers_are_private_and_revalidated(secured: TestClient) -> None:
    user = new_user()
    created = secured.post(f"/api/{user}/tasks", json={"title": "t"}, headers=bearer(hs256(user)))
    url = created.headers["location"]
    headers = bearer(hs256(user))

    answers = [
        created,
        secured.get(url, headers=headers),
        secured.get(url, headers={**headers, "If-None-Match": created.headers["etag"]}),
        secured.get(f"/api/{user}/tasks", headers=headers),
        secured.patch(f"{url}/complete", headers=headers),
    ]

    assert [answer.status_code for answer in answers] == [201, 200, 304, 200, 200]
    assert {answer.headers["cache-control"] for answer in answers} == {"private, no-cache"}


def test_tokens_and_ids_never_reach_the_log(secured: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    user = str(uuid.uuid4())
    token = hs256(user)
    capfd.readouterr()

    secured.get(f"/api/{user}/tasks", headers=bearer(token))
    secured.get(f"/api/{user}/tasks", headers=bearer(token[:-3] + "xyz"))
    secured.get(f"/api/{new_user()}/tasks", headers=bearer(token))

    logged = capfd.readouterr().err
    assert '"tasks_api.access"' in logged
    assert token[:20] not in logged
    assert user not in logged
