"""Error codes come from the spec; a problem response always carries one the spec's enum holds."""

from __future__ import annotations

import copy
import logging
from typing import Any

import orjson
import pytest
import yaml

from tasks_api.problems import ProblemResponses, error_codes, other_error_codes
from tasks_api.specification import SPEC_PATH

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
ENUM = set(SPEC["components"]["schemas"]["Problem"]["properties"]["error_code"]["enum"])


def test_every_status_the_service_answers_with_has_the_code_the_spec_gives_it() -> None:
    assert error_codes(SPEC) == {
        400: "VALIDATION_ERROR",
        401: "AUTH_FAILED",
        403: "ACCESS_DENIED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        408: "REQUEST_TIMEOUT",
        409: "IDEMPOTENCY_KEY_IN_PROGRESS",
        410: "SYNC_EXPIRED",
        412: "PRECONDITION_FAILED",
        413: "PAYLOAD_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        422: "VALIDATION_ERROR",
        431: "HEADERS_TOO_LARGE",
        500: "SERVER_ERROR",
        503: "SERVICE_UNAVAILABLE",
    }


def test_a_503_may_say_instead_that_a_write_may_have_been_applied_and_a_422_that_a_key_was_reused() -> None:
    assert other_error_codes(SPEC) == {
        503: frozenset({"OUTCOME_UNKNOWN"}),
        422: frozenset({"IDEMPOTENCY_KEY_REUSED"}),
    }


def test_the_enum_holds_exactly_the_codes_the_responses_carry() -> None:
    others = {code for codes in other_error_codes(SPEC).values() for code in codes}
    assert set(error_codes(SPEC).values()) | others == ENUM


def test_another_code_missing_from_the_enum_is_refused_at_start_up() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["responses"]["NotFound"]["x-other-error-codes"] = ["GONE"]

    with pytest.raises(ValueError, match="GONE"):
        other_error_codes(spec)


def test_a_code_missing_from_the_enum_is_refused_at_start_up() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["responses"]["NotFound"]["x-error-code"] = "GONE"

    with pytest.raises(ValueError, match="GONE"):
        error_codes(spec)


def test_one_status_with_two_codes_is_refused_at_start_up() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/{user_id}/tasks"]["get"]["responses"]["404"] = {"$ref": "#/components/responses/ServerError"}

    with pytest.raises(ValueError, match="404"):
        error_codes(spec)


PROBLEMS = ProblemResponses(error_codes(SPEC), other_error_codes(SPEC))


def _body(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(response.body)
    return body


def test_a_problem_is_compact_problem_json_with_the_status_code() -> None:
    response = PROBLEMS(422, "bad", field_errors=[{"field": "title", "message": "is required"}])

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.body == orjson.dumps(_body(response))
    assert _body(response) == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "bad",
        "error_code": "VALIDATION_ERROR",
        "field_errors": [{"field": "title", "message": "is required"}],
    }


def test_a_503_says_when_to_retry() -> None:
    assert int(PROBLEMS(503, "down").headers["Retry-After"]) > 0


def test_a_problem_carries_another_code_the_spec_gives_its_status_when_asked() -> None:
    response = PROBLEMS(503, "may have been applied", code="OUTCOME_UNKNOWN")

    assert response.status_code == 503
    assert _body(response)["error_code"] == "OUTCOME_UNKNOWN"
    assert int(response.headers["Retry-After"]) > 0


def test_a_code_the_spec_does_not_give_the_status_is_answered_as_the_bug_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="tasks_api.errors"):
        response = PROBLEMS(404, "gone", code="OUTCOME_UNKNOWN")

    assert response.status_code == 500
    assert _body(response)["error_code"] == "SERVER_ERROR"
    assert "status 404 with error code OUTCOME_UNKNOWN is not in the contract" in caplog.text


@pytest.mark.parametrize("status", [406, 418, 501])
def test_a_status_outside_the_contract_is_answered_as_the_bug_it_is(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tasks_api.errors"):
        response = PROBLEMS(status, "internal detail", headers={"X-Leak": "1"})

    assert response.status_code == 500
    assert _body(response)["error_code"] == "SERVER_ERROR"
    assert "internal detail" not in response.body.decode()
    assert "X-Leak" not in response.headers
    assert f"status {status} is not in the contract" in caplog.text


@pytest.mark.parametrize("name", sorted(SPEC["components"]["responses"]))
def test_every_problem_response_in_the_spec_names_its_code(name: str) -> None:
    response = SPEC["components"]["responses"][name]
    if "application/problem+json" in response.get("content", {}):
        assert response["x-error-code"] in ENUM
