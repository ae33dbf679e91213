"""The application factory: the OpenAPI document wired to the handlers and the database."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress
from datetime import timedelta
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import OAuthProblem
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.lifespan import Lifespan
from starlette.middleware.cors import CORSMiddleware

from db.backends import open_database
from db.database import Database
from idempotency.claims import Claims
from observability.metrics import RequestMetrics
from observability.resources import ResourceSampling
from observability.traces import traced
from sync.retention import purge_periodically
from sync.tokens import SyncTokens
from tasks_api.auth import SECURITY_MAP, VERIFIER, OwnerParameterValidator, unauthenticated, without_authentication
from tasks_api.body_limit import BodySizeLimit
from tasks_api.cursor import CursorCodec
from tasks_api.errors import register_error_handlers
from tasks_api.media_types import CanonicalContentType
from tasks_api.migrations import schema_head
from tasks_api.operations import HandlerCall
from tasks_api.problems import ProblemResponses, error_codes, other_error_codes
from tasks_api.request_context import AccessLog, RequestContext
from tasks_api.routes import RouteTable
from tasks_api.settings import NO_AUTHENTICATION, ConfigurationError, Settings
from tasks_api.shadowed_routes import ShadowedRoutes
from tasks_api.specification import load_specification
from tasks_api.tokens import TokenVerification, TokenVerifier
from tasks_api.user_ids import with_user_ids
from tasks_api.validation import VALIDATOR_MAP, SpecURIParser

logger = logging.getLogger(__name__)

# What a browser on an allowed origin may send and read: the headers the contract uses.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
)
CORS_RESPONSE_HEADERS = ("ETag", "Idempotent-Replayed", "Location", "X-Request-ID", "Retry-After")


def _resources_sampled(
    settings: Settings, database: Database, verifier: TokenVerifier | None
) -> AbstractAsyncContextManager[None]:
    """Metrics of the pool, the SQLite writer and the tokens, when metrics are on."""
    return ResourceSampling(database, verifier) if settings.metrics is not None else nullcontext()


def connexion_app(
    specification: dict[str, Any],
    *,
    lifespan: Lifespan | None = None,
    validate_responses: bool = False,
    validator_map: dict[str, Any] = VALIDATOR_MAP,
    connexion_reference: bool = False,
) -> AsyncApp:
    """Connexion's ``AsyncApp`` for a spec, with this service's options and validators, its default middleware
    stack and, unless ``connexion_reference``, this service's handler call after it and its bearer token
    handler (``security_map``)."""
    middlewares = [*ConnexionMiddleware.default_middlewares]  # a copy: add_middleware inserts into it
    security_map = None
    if not connexion_reference:
        middlewares.append(HandlerCall)
        security_map = SECURITY_MAP
    app = AsyncApp(__name__, lifespan=lifespan, middlewares=middlewares, uri_parser_class=SpecURIParser)
    app.add_api(
        specification,
        strict_validation=True,
        validate_responses=validate_responses,
        validator_map=validator_map,
        security_map=security_map,
    )
    return app


def create_app(
    settings: Settings | None = None, *, connexion_reference: bool = False, freeze_after_startup: bool = False
) -> AsyncApp:
    """The service: Connexion's ``AsyncApp`` with its default middleware stack and this service's handler call
    after it (``tasks_api.operations``). ``connexion_reference`` leaves handler calls and bearer token checks
    to Connexion's own code: the reference the differential test holds the service to. ``freeze_after_startup``
    is for a process that serves this one app until it exits (``served_app``)."""
    settings = settings or Settings.from_env()
    if not settings.auth_configured:
        # Decided here, not by the command that starts the app, so that every way of serving it obeys.
        raise ConfigurationError(NO_AUTHENTICATION)
    for risk in settings.risks():
        logger.warning(risk)
    tokens = settings.tokens

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        database = open_database(settings.database_url, settings.pool)
        await database.open()
        purging = asyncio.create_task(
            purge_periodically(
                database,
                timedelta(seconds=settings.idempotency_ttl),
                timedelta(days=settings.tombstone_days),
                settings.purge_interval,
            )
        )
        try:
            state = {
                "database": database,
                "cursors": CursorCodec(settings.cursor_secret),
                "claims": Claims(timedelta(seconds=settings.idempotency_ttl)),
                "sync_tokens": SyncTokens(settings.cursor_secret, settings.tombstone_days),
                "schema_head": schema_head(),
            }
            if freeze_after_startup:
                # What start-up built (the spec, the operations, their validators) lives as long as the process;
                # frozen, the collector no longer walks it on every full collection. Measured with wrk at 32
                # connections, the service on SQLite: get-one p99 89 ms before, 27 ms after.
                gc.collect()
                gc.freeze()
            if tokens is None:
                async with _resources_sampled(settings, database, None):
                    yield state
                return
            async with TokenVerification(tokens) as verifier, _resources_sampled(settings, database, verifier):
                yield {**state, VERIFIER: verifier}
        finally:
            purging.cancel()
            with suppress(asyncio.CancelledError):
                await purging
            await database.dispose()

    specification = with_user_ids(load_specification(), settings.user_ids)
    validator_map = VALIDATOR_MAP
    if tokens is None:
        # The served spec is truthful: without authentication it declares none.
        specification = without_authentication(specification)
    else:
        scheme = specification["components"]["securitySchemes"]["bearerAuth"]
        owner_validator = functools.partial(OwnerParameterValidator, subject_parameter=scheme["x-subject-parameter"])
        validator_map = {**VALIDATOR_MAP, "parameter": owner_validator}
    routes = RouteTable.from_spec(specification)
    problems = ProblemResponses(error_codes(specification), other_error_codes(specification))
    tracing = traced(settings.trace_exporters, routes)
    app = connexion_app(
        specification,
        lifespan=lifespan if tracing is None else tracing.lifespan(lifespan),
        validate_responses=settings.validate_responses,
        validator_map=validator_map,
        connexion_reference=connexion_reference,
    )
    # Before routing, which would hand a method a fixed path lacks to the path it shadows.
    app.add_middleware(ShadowedRoutes, position=MiddlewarePosition.BEFORE_ROUTING, routes=routes)
    # After security, so that a request without a valid token is a 401 whatever its size; the body is only
    # read by request validation, after this.
    app.add_middleware(BodySizeLimit, position=MiddlewarePosition.BEFORE_VALIDATION)
    app.add_middleware(CanonicalContentType, position=MiddlewarePosition.BEFORE_VALIDATION)
    if settings.metrics is not None:
        # Outside the request context, so it sees the status the client got, a request cut off at shutdown too.
        app.add_middleware(RequestMetrics, position=MiddlewarePosition.BEFORE_EXCEPTION, specification=specification)
    if tracing is not None:
        # Outside the request context, whose access line carries the id of the trace the server span is in.
        app.add_middleware(tracing.middleware, position=MiddlewarePosition.BEFORE_EXCEPTION, tracing=tracing)
    # Outside the exception middleware, so it sees (and tags) the final response, errors included.
    app.add_middleware(
        RequestContext,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        routes=routes,
        access_log=AccessLog(trace_id=None if tracing is None else tracing.trace_id) if settings.access_log else None,
        problems=problems,
    )
    if settings.cors_origins:
        # Inside the request context (preflights get a request id and an access line), outside the exception
        # middleware (error answers carry CORS headers too, so a browser can read them).
        app.add_middleware(
            CORSMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            allow_origins=list(settings.cors_origins),
            allow_methods=routes.methods(),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_RESPONSE_HEADERS),
        )
    register_error_handlers(app, problems, routes)
    if tokens is not None:
        app.add_error_handler(OAuthProblem, unauthenticated(problems))
    return app


def served_app() -> AsyncApp:
    """The app ``tasks-api serve`` runs in each worker process."""
    return create_app(freeze_after_startup=True)
