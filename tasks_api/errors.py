"""Maps every exception that can leave a handler or Connexion to one problem+json response."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from db.errors import UNAVAILABLE_ERRORS, is_unavailable
from db.tasks import PreconditionFailed, TaskNotFound
from tasks_api.problems import ApiProblem, problem_response

logger = logging.getLogger("tasks_api.errors")


def _task_not_found(_request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
    return problem_response(404, "Task not found")


def _precondition_failed(_request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
    return problem_response(412, "The task has changed since the ETag given in If-Match; nothing was changed")


def _problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    if exc.status == 500:  # e.g. a response that broke the contract: the details are for the log only
        return _unexpected(request, exc)
    return problem_response(
        exc.status,
        str(exc.detail or exc.title),
        field_errors=exc.field_errors if isinstance(exc, ApiProblem) else (),
        headers=exc.headers,
    )


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def allowed_methods(specification: Mapping[str, Any]) -> Callable[[str], str | None]:
    """The ``Allow`` value for a request path, from the spec (Starlette's lists one route's methods only)."""
    base_path = specification["servers"][0]["url"].rstrip("/")
    routes = []
    for template, operations in specification["paths"].items():
        parts = re.split(r"(\{[^}/]+\})", base_path + template)
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        methods = [method.upper() for method in HTTP_METHODS if method in operations]
        if "GET" in methods:
            methods.append("HEAD")
        routes.append((re.compile(pattern), ", ".join(methods)))

    def allow(path: str) -> str | None:
        return next((methods for pattern, methods in routes if pattern.fullmatch(path)), None)

    return allow


ErrorHandler = Callable[[ConnexionRequest, Exception], ConnexionResponse]


def _http_exception_handler(allow: Callable[[str], str | None]) -> ErrorHandler:
    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            methods = allow(request.url.path)
            headers = {"Allow": methods} if methods else {}
            return problem_response(405, f"{request.method} is not allowed here; use {methods}", headers=headers)
        if exc.status_code == 404:
            return problem_response(404, "No such resource")
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    return handle


def _database_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    if not is_unavailable(exc):
        return _unexpected(request, exc)
    logger.error("database unavailable: %r", exc)
    return problem_response(503, "The database is unavailable; retry later")


def _unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error("unhandled exception", exc_info=exc)
    return problem_response(500, "An unexpected error occurred")


def register_error_handlers(app: AsyncApp, specification: Mapping[str, Any]) -> None:
    app.add_error_handler(TaskNotFound, _task_not_found)
    app.add_error_handler(PreconditionFailed, _precondition_failed)
    app.add_error_handler(ProblemException, _problem)
    app.add_error_handler(HTTPException, _http_exception_handler(allowed_methods(specification)))
    for error in UNAVAILABLE_ERRORS:
        app.add_error_handler(error, _database_error)
    app.add_error_handler(Exception, _unexpected)
