"""The contract itself: valid OpenAPI, every operation named, summarised, routed and fully documented."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from connexion import AsyncApp
from connexion.exceptions import ResolverError
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

from tasks_api.specification import SPEC_PATH
from tasks_api.user_ids import MODES, with_user_ids

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPERATIONS = [
    pytest.param(path, method, operation, id=operation.get("operationId", f"{method} {path}"))
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]


def test_spec_is_valid_openapi_3_0() -> None:
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.0.")


def test_the_task_and_health_operations_are_there() -> None:
    operation_ids = {
        operation["operationId"]
        for item in SPEC["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }
    assert operation_ids == {
        "list_tasks",
        "create_task",
        "get_task",
        "update_task",
        "delete_task",
        "toggle_task",
        "get_task_metrics",
        "list_task_changes",
        "live",
        "ready",
    }


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_operation_has_a_short_id_a_summary_and_a_handler(path: str, method: str, operation: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", operation["operationId"])
    assert operation["summary"].strip()
    handlers = importlib.import_module(operation["x-openapi-router-controller"])
    assert callable(getattr(handlers, operation["operationId"]))


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_operation_documents_every_status_it_can_return(path: str, method: str, operation: dict[str, Any]) -> None:
    statuses = set(operation["responses"])
    expected = {"400", "401", "403", "404", "500", "503"} if path.startswith("/{user_id}") else {"500"}
    if "requestBody" in operation:
        expected |= {"413", "415", "422"}

    assert expected <= statuses
    assert any(status.startswith("2") for status in statuses)
    for status in expected:
        response = operation["responses"][status]
        reference = response.get("$ref", "")
        content = SPEC["components"]["responses"][reference.rsplit("/", 1)[-1]]["content"] if reference else response
        assert set(content) == {"application/problem+json"}


def test_an_operation_without_a_handler_fails_at_start_up() -> None:
    broken = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    broken["paths"]["/{user_id}/tasks"]["get"]["operationId"] = "no_such_handler"
    app = AsyncApp(__name__)
    app.add_api(broken)

    with pytest.raises(ResolverError), app.test_client():
        pass


def test_parameters_are_declared_on_operations_not_paths() -> None:
    # Connexion 3.3 appends path-level parameters to the operation's list in place each time it reads
    # the spec, so a path-level declaration makes every request validate its ids several times over.
    assert all("parameters" not in item for item in SPEC["paths"].values())


def _responses() -> list[tuple[str, dict[str, Any]]]:
    named = [(f"components/responses/{name}", response) for name, response in SPEC["components"]["responses"].items()]
    inline = [
        (f"{method.upper()} {path} {status}", response)
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status, response in operation["responses"].items()
        if "$ref" not in response
    ]
    return named + inline


@pytest.mark.parametrize(("where", "response"), _responses(), ids=[where for where, _ in _responses()])
def test_every_response_declares_the_request_id_header(where: str, response: dict[str, Any]) -> None:
    assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/XRequestID"}


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_every_operation_takes_a_request_id(path: str, method: str, operation: dict[str, Any]) -> None:
    assert {"$ref": "#/components/parameters/XRequestID"} in operation["parameters"]


def test_headers_the_service_always_sends_are_required() -> None:
    created = SPEC["paths"]["/{user_id}/tasks"]["post"]["responses"]["201"]["headers"]
    assert created["Location"]["required"] is True
    assert SPEC["components"]["headers"]["ETag"]["required"] is True


def test_the_sort_is_a_named_enum_with_member_names() -> None:
    sort = SPEC["components"]["schemas"]["TaskSort"]
    assert len(sort["x-enum-varnames"]) == len(sort["enum"]) == len(set(sort["x-enum-varnames"]))


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref", "")
    resolved: dict[str, Any] = SPEC["components"]["schemas"][reference.rsplit("/", 1)[-1]] if reference else schema
    return resolved


def test_parameters_that_clash_have_no_default_for_swagger_ui_to_fill_in() -> None:
    # Swagger UI sends every default it shows; two parameters that say the same thing must not both be sent.
    for item in SPEC["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            parameters = {param["name"]: param for param in operation["parameters"] if "name" in param}
            clashing = {name for param in parameters.values() for name in param.get("x-exclusive-with", [])}
            clashing |= {name for name, param in parameters.items() if "x-exclusive-with" in param}
            for name in clashing:
                assert "default" not in _schema(parameters[name]["schema"]), name


def _examples(node: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, example) for every example at or below ``node``: a schema's own ``example``, and the
    ``example`` or each of the ``examples`` of a parameter, header or media type, with its ``schema``."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _examples(item, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    if "schema" in node:
        if "example" in node:
            yield where, node["schema"], node["example"]
        for name, example in node.get("examples", {}).items():
            yield f"{where}/examples/{name}", node["schema"], example["value"]
    elif "example" in node:
        yield where, node, node["example"]
    for key, value in node.items():
        if key not in ("example", "examples"):
            yield from _examples(value, f"{where}/{key}")


@pytest.mark.parametrize("mode", MODES)
def test_every_example_validates_against_its_schema(mode: str) -> None:
    served = with_user_ids(SPEC, mode)
    document = OAS30Validator(served, format_checker=oas30_format_checker)
    examples = list(_examples(served, "#"))

    failures = [
        f"{where}: {error.message}"
        for where, schema, example in examples
        for error in document.evolve(schema=schema).iter_errors(example)
    ]
    assert failures == []
    assert len(examples) > 20  # the walk found them


def test_every_answer_with_a_body_has_an_example() -> None:
    # Without one, Swagger UI makes its own from the schema: `"title": "string"`.
    missing = [
        f"{method.upper()} {path} {status} {media_type}"
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status, response in operation["responses"].items()
        for media_type, content in _resolved_response(response).get("content", {}).items()
        if not {"example", "examples"} & (set(content) | set(_schema(content["schema"])))
    ]
    assert missing == []


def _resolved_response(response: dict[str, Any]) -> dict[str, Any]:
    reference = response.get("$ref", "")
    resolved: dict[str, Any] = SPEC["components"]["responses"][reference.rsplit("/", 1)[-1]] if reference else response
    return resolved


@pytest.mark.parametrize("mode", MODES)
def test_swagger_ui_fills_in_a_user_id_the_service_takes_and_says_how_to_get_its_token(mode: str) -> None:
    served = with_user_ids(SPEC, mode)
    user_id = served["components"]["schemas"]["UserId"]
    OAS30Validator(user_id, format_checker=oas30_format_checker).validate(user_id["example"])
    authorize = served["components"]["securitySchemes"]["bearerAuth"]["description"]

    assert f"`uv run tasks-api token --user {user_id['example']}`" in authorize


def _descriptions(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _descriptions(item, f"{where}/{index}")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{where}/{key}", value
            else:
                yield from _descriptions(value, f"{where}/{key}")


def test_no_description_names_an_extension_key() -> None:
    # Swagger UI shows descriptions but not the extensions (its showExtensions is off): a reader there cannot
    # look the key up.
    named = [where for where, text in _descriptions(SPEC, "#") if re.search(r"(?<![\w-])x-[a-z]", text)]
    assert named == []
