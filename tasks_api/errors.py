"""Maps every exception that can leave a handler or Connexion to one problem+json response."""

from __future__ import annotations

import logging

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from db.errors import UNAVAILABLE_ERRORS, OutcomeUnknown, is_unavailable
from db.idempotency import KeyInProgress, KeyReused, Replay
from db.tasks import PreconditionFailed, TaskNotFound
from handlers.tasks import replayed
from sync.tokens import SyncExpired
from tasks_api.problems import ApiProblem, ProblemResponses
from tasks_api.routes import RouteTable

logger = logging.getLogger("tasks_api.errors")

# The code, declared in the spec's 503 response, of a write that may or may not have been applied.
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
OUTCOME_UNKNOWN_DETAIL = (
    "This write was sent to the database, but its answer was lost (the connection broke, or the service shut "
    "down, while it was being committed): it may or may not have been applied. Read it back before writing "
    "again"
)


# A keyed write still running is one statement away from done.
KEY_IN_PROGRESS_RETRY_AFTER = "1"


class _ErrorHandlers:
    def __init__(self, problems: ProblemResponses, routes: RouteTable) -> None:
        self.problem = problems
        self.routes = routes

    def task_not_found(self, _request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return self.problem(404, "Task not found")

    def precondition_failed(self, _request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return self.problem(412, "The task has changed since the ETag given in If-Match; nothing was changed")

    def key_reused(self, _request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return self.problem(
            422,
            "This Idempotency-Key was used for another request; nothing was changed. Send a new key for a new write",
            code="IDEMPOTENCY_KEY_REUSED",
        )

    def key_in_progress(self, _request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return self.problem(
            409,
            "A request with this Idempotency-Key is still running; retry to get its answer",
            headers={"Retry-After": KEY_IN_PROGRESS_RETRY_AFTER},
        )

    def sync_expired(self, _request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return self.problem(
            410,
            "This sync token is older than deletions are kept; sync again without since, and replace the local copy",
        )

    def problem_exception(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ProblemException)
        if exc.status == 500:  # e.g. a response that broke the contract: the details are for the log only
            return self.unexpected(request, exc)
        return self.problem(
            exc.status,
            str(exc.detail or exc.title),
            field_errors=exc.field_errors if isinstance(exc, ApiProblem) else (),
            headers=exc.headers,
        )

    def http_exception(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            methods = self.routes.allow(request.url.path)
            headers = {"Allow": methods} if methods else {}
            return self.problem(405, f"{request.method} is not allowed here; use {methods}", headers=headers)
        if exc.status_code == 404:
            return self.problem(404, "No such resource")
        return self.problem(exc.status_code, str(exc.detail), headers=exc.headers)

    def database_error(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        if not is_unavailable(exc):
            return self.unexpected(request, exc)
        logger.error("database unavailable: %r", exc)
        return self.problem(503, "The database is unavailable; retry later")

    def outcome_unknown(self, _request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        logger.error("write outcome unknown: %r", exc.__cause__ or exc)
        return self.problem(503, OUTCOME_UNKNOWN_DETAIL, code=OUTCOME_UNKNOWN)

    def unexpected(self, _request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        logger.error("unhandled exception", exc_info=exc)
        return self.problem(500, "An unexpected error occurred")


def register_error_handlers(app: AsyncApp, problems: ProblemResponses, routes: RouteTable) -> None:
    handlers = _ErrorHandlers(problems, routes)
    app.add_error_handler(TaskNotFound, handlers.task_not_found)
    app.add_error_handler(PreconditionFailed, handlers.precondition_failed)
    app.add_error_handler(Replay, replayed)
    app.add_error_handler(KeyReused, handlers.key_reused)
    app.add_error_handler(KeyInProgress, handlers.key_in_progress)
    app.add_error_handler(SyncExpired, handlers.sync_expired)
    app.add_error_handler(ProblemException, handlers.problem_exception)
    app.add_error_handler(HTTPException, handlers.http_exception)
    app.add_error_handler(OutcomeUnknown, handlers.outcome_unknown)
    for error in UNAVAILABLE_ERRORS:
        app.add_error_handler(error, handlers.database_error)
    app.add_error_handler(Exception, handlers.unexpected)
