"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from connexion import request

from db.database import Database
from db.schema import schema_revision
from tasks_api.problems import ApiProblem

JSON = {"Content-Type": "application/json"}

Reply = tuple[Any, int, dict[str, str]]


async def live() -> Reply:
    """The process is up; never touches the database, so a database outage does not restart it."""
    return {"status": "live"}, 200, JSON


async def ready() -> Reply:
    """Ready when the database answers and its schema is at the revision this code expects."""
    database: Database = request.state.database
    expected: str = request.state.schema_head
    async with database.unit_of_work() as work:
        revision = await schema_revision(work)
    if revision != expected:
        raise ApiProblem(503, f"Database schema is at {revision or 'no revision'}, expected {expected}")
    return {"status": "ready", "schema_revision": revision}, 200, JSON
