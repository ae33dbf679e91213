"""Every error leaves the service as application/problem+json with the ``error_code`` the spec gives its status."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypedDict

import orjson
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse

from tasks_api.routes import HTTP_METHODS

PROBLEM_JSON = "application/problem+json"
# Sent with every 503: long enough for a database restart or failover, short enough to feel live.
RETRY_AFTER_SECONDS = "5"

logger = logging.getLogger("tasks_api.errors")


class FieldError(TypedDict):
    field: str
    message: str


class ApiProblem(ProblemException):
    """A problem raised by this service; rendered by ``ProblemResponses`` like every other error."""

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


def _declared_responses(specification: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(status, response) for every response the spec declares: each operation's, and those of requests that
    match no operation."""
    for item in specification["paths"].values():
        for method in HTTP_METHODS:
            yield from item.get(method, {}).get("responses", {}).items()
    yield from specification.get("x-unrouted-responses", {}).items()


def _resolved(specification: Mapping[str, Any], response: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = response.get("$ref")
    if reference is None:
        return response
    name = reference.removeprefix("#/components/responses/")
    resolved: Mapping[str, Any] = specification["components"]["responses"][name]
    return resolved


def error_codes(specification: Mapping[str, Any]) -> dict[int, str]:
    """Status -> ``error_code``, from the ``x-error-code`` of the responses the spec declares.

    Refuses a spec in which one status carries two codes, or a code is missing from the Problem schema's enum
    (a client generated from the spec could not read it).
    """
    codes: dict[int, str] = {}
    for status, response in _declared_responses(specification):
        code = _resolved(specification, response).get("x-error-code")
        if code is not None and codes.setdefault(int(status), code) != code:
            raise ValueError(f"status {status} carries two error codes: {codes[int(status)]} and {code}")
    _in_enum(specification, codes.values())
    if 500 not in codes:
        raise ValueError("the spec declares no 500 response with an x-error-code")
    return codes


def other_error_codes(specification: Mapping[str, Any]) -> dict[int, frozenset[str]]:
    """Status -> the codes a response of that status carries instead of its ``x-error-code`` where that one
    would not be true (``x-other-error-codes``; a 503 whose write may have been applied, say)."""
    others: dict[int, frozenset[str]] = {}
    for status, response in _declared_responses(specification):
        codes = frozenset(_resolved(specification, response).get("x-other-error-codes", ()))
        others[int(status)] = others.get(int(status), frozenset()) | codes
    _in_enum(specification, [code for codes in others.values() for code in codes])
    return {status: codes for status, codes in others.items() if codes}


def _in_enum(specification: Mapping[str, Any], codes: Iterable[str]) -> None:
    problem = specification["components"]["schemas"]["Problem"]
    unknown = set(codes) - set(problem["properties"]["error_code"]["enum"])
    if unknown:
        raise ValueError(f"error codes missing from the Problem schema's enum: {sorted(unknown)}")


class ProblemResponses:
    """Builds problem+json responses; the status decides the ``error_code``, as the spec says, unless the caller
    names another the spec declares for that status (``other_error_codes``)."""

    def __init__(self, codes: Mapping[int, str], others: Mapping[int, frozenset[str]] | None = None) -> None:
        self._codes = codes
        self._others = others or {}

    def document(
        self, status: int, detail: str, *, field_errors: Sequence[FieldError] = (), code: str | None = None
    ) -> dict[str, Any]:
        """The problem+json body of an answer with a status the contract lists, with its code or ``code``."""
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "error_code": code or self._codes[status],
        }
        if field_errors:
            body["field_errors"] = list(field_errors)
        return body

    def __call__(
        self,
        status: int,
        detail: str,
        *,
        field_errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> ConnexionResponse:
        declared = self._codes.get(status) if code is None else code if code in self._others.get(status, ()) else None
        if declared is None:
            # Every status (and code) the service answers with is in the contract; any other is a bug, answered
            # as one.
            named = f" with error code {code}" if code else ""
            logger.error("status %d%s is not in the contract, answered as 500 (detail: %s)", status, named, detail)
            status, detail, declared = 500, "An unexpected error occurred", self._codes[500]
            field_errors, headers = (), {}
        body = self.document(status, detail, field_errors=field_errors, code=declared)
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
