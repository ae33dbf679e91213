"""Every error leaves the service as application/problem+json with a stable ``error_code``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypedDict

import orjson
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse

PROBLEM_JSON = "application/problem+json"
# Sent with every 503: long enough for a database restart or failover, short enough to feel live.
RETRY_AFTER_SECONDS = "5"

ERROR_CODES = {
    400: "VALIDATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class FieldError(TypedDict):
    field: str
    message: str


def error_code_for(status: int) -> str:
    # An unexpected 4xx gets a code outside the spec's enum, so response validation in tests flags it.
    return ERROR_CODES.get(status, "SERVER_ERROR" if status >= 500 else "CLIENT_ERROR")


class ApiProblem(ProblemException):
    """A problem raised by this service; rendered by ``problem_response`` like every other error."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field_errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status=status, title=HTTPStatus(status).phrase, detail=detail, headers=headers)
        self.field_errors = list(field_errors)


def problem_response(
    status: int,
    detail: str,
    *,
    field_errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> ConnexionResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "error_code": error_code_for(status),
    }
    if field_errors:
        body["field_errors"] = list(field_errors)
    response_headers = dict(headers or {})
    if status == 503:
        response_headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return ConnexionResponse(
        status_code=status,
        mimetype=PROBLEM_JSON,
        content_type=PROBLEM_JSON,
        body=orjson.dumps(body),
        headers=response_headers,
    )
