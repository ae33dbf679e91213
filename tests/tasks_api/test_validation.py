"""The validators: every failure named field by field, and what they derive from the spec derived once."""

from __future__ import annotations

from typing import Any

import pytest
from connexion.uri_parsing import OpenAPIURIParser
from starlette.requests import Request

from tasks_api.problems import ApiProblem
from tasks_api.validation import RequestParameterValidator, SpecURIParser

UUID = "0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b"
PARAMETERS: list[dict[str, Any]] = [
    {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["title", "-title"]}},
    {"name": "If-Match", "in": "header", "schema": {"type": "string", "maxLength": 5}},
]


def _request(user_id: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    from connexion.lifecycle import ConnexionRequest

    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/api/{user_id}/tasks",
        "query_string": query,
        "headers": headers or [],
        "path_params": {"user_id": user_id},
    }
    return ConnexionRequest(Request(scope).scope, uri_parser=SpecURIParser(PARAMETERS, {}))


def _validator() -> RequestParameterValidator:
    return RequestParameterValidator(PARAMETERS, SpecURIParser(PARAMETERS, {}), strict_validation=True)


def _refused(request: Any) -> ApiProblem:
    with pytest.raises(ApiProblem) as refused:
        _validator().validate_request(request)
    return refused.value


def test_valid_parameters_pass() -> None:
    _validator().validate_request(_request(UUID, b"limit=3&sort=title", [(b"if-match", b'"1"')]))


def test_every_bad_parameter_is_named_at_once_path_first() -> None:
    problem = _refused(_request("nope", b"limit=0&sort=up", [(b"if-match", b"x" * 6)]))

    assert problem.status == 400
    assert problem.detail == "Invalid user ID format"
    assert problem.field_errors == [
        {"field": "user_id", "message": "must be a valid uuid"},
        {"field": "limit", "message": "must be at least 1"},
        {"field": "sort", "message": 'must be one of "title", "-title"'},
        {"field": "If-Match", "message": "must be at most 5 characters"},
    ]


def test_an_unknown_query_parameter_is_named() -> None:
    problem = _refused(_request(UUID, b"limit=2&colour=red"))

    assert problem.detail == "Unknown query parameter 'colour'"
    assert problem.field_errors == [{"field": "colour", "message": "is not a known query parameter"}]


@pytest.mark.parametrize("almost", ["+2345678-1234-1234-1234-123456789abc", "{" + UUID + "}", UUID.replace("-", "")])
def test_only_canonical_uuids_are_uuids(almost: str) -> None:
    assert _refused(_request(almost)).field_errors == [{"field": "user_id", "message": "must be a valid uuid"}]


def test_the_uri_parser_derives_the_schemas_connexion_does_once_per_parameter_list() -> None:
    mine, connexions = SpecURIParser(PARAMETERS, {}), OpenAPIURIParser(PARAMETERS, {})

    assert mine.param_schemas == connexions.param_schemas
    assert mine.param_schemas is SpecURIParser(PARAMETERS, {}).param_schemas
    assert mine.resolve_query({"limit": ["3"], "sort": ["title"]}) == connexions.resolve_query(
        {"limit": ["3"], "sort": ["title"]}
    )


def test_what_a_validator_derives_is_kept_per_parameter_list_not_per_object_that_looks_alike() -> None:
    first, again = _validator(), _validator()
    lookalike = [dict(parameter) for parameter in PARAMETERS]
    other = RequestParameterValidator(lookalike, SpecURIParser(lookalike, {}))

    assert again._checked is first._checked
    assert other._checked is not first._checked
    assert other._checked == first._checked
