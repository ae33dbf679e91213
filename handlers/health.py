"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import orjson
from connexion import request
from starlette.responses import Response

from db.database import Database
from db.schema import schema_revision
from tasks_api.auth import VERIFIER
from tasks_api.problems import ApiProblem
from tasks_api.tokens import TokenVerifier

JSON = "application/json"


def _reply(document: dict[str, str]) -> Response:
    # orjson, like every other body the service writes: compact JSON.
    return Response(orjson.dumps(document), 200, media_type=JSON)


async def live() -> Response:
    """The process is up; never touches the database, so a database outage does not restart it."""
    return _reply({"status": "live"})


async def ready() -> Response:
    """Ready when the database answers, its schema is at the revision this code expects and, where tokens are
    verified with a JWKS, its keys have been fetched."""
    verifier: TokenVerifier | None = getattr(request.state, VERIFIER, None)
    reason = await verifier.unready_reason() if verifier is not None else None
    if reason is not None:
        raise ApiProblem(503, f"Tokens cannot be verified: {reason}")
    database: Database = request.state.database
    expected: str = request.state.schema_head
    async with database.unit_of_work() as work:
        revision = await schema_revision(work)
    if revision != expected:
        raise ApiProblem(503, f"Database schema is at {revision or 'no revision'}, expected {expected}")
    return _reply({"status": "ready", "schema_revision": revision})
