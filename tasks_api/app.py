"""The application factory: the OpenAPI document wired to the handlers and the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from connexion.middleware import MiddlewarePosition

from db.backends import open_database
from tasks_api.body_limit import BodySizeLimit
from tasks_api.cursor import CursorCodec
from tasks_api.errors import register_error_handlers
from tasks_api.migrations import schema_head
from tasks_api.observability import AccessLog, RequestContext, operation_paths
from tasks_api.operations import PrebuiltApp
from tasks_api.settings import Settings
from tasks_api.validation import VALIDATOR_MAP

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi" / "tasks.yaml"


def create_app(settings: Settings | None = None) -> PrebuiltApp:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        database = open_database(settings.database_url, settings.pool)
        await database.open()
        try:
            yield {
                "database": database,
                "cursors": CursorCodec(settings.cursor_secret),
                "schema_head": schema_head(),
            }
        finally:
            await database.dispose()

    specification = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    app = PrebuiltApp(__name__, lifespan=lifespan)
    app.add_api(
        specification,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=VALIDATOR_MAP,
    )
    app.add_middleware(BodySizeLimit, position=MiddlewarePosition.BEFORE_ROUTING)
    # Outside the exception middleware, so it sees (and tags) the final response, errors included.
    app.add_middleware(
        RequestContext,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        paths=operation_paths(specification),
        access_log=AccessLog() if settings.access_log else None,
    )
    register_error_handlers(app, specification)
    return app
