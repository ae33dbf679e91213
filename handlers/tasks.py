"""Handlers for /api/{user_id}/tasks. Connexion has validated every argument against the spec.

The data layer hands back JSON bytes (rendered by PostgreSQL where it can), so handlers answer with them as
they are instead of letting Connexion serialise a dict again.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any
from uuid import UUID

from connexion import request
from connexion.context import scope
from starlette.responses import Response

from db import tasks
from db.database import Database, UnitOfWork
from tasks_api.cursor import CursorCodec
from tasks_api.etags import etag, if_match_versions, if_none_match_hits

JSON = "application/json"
# A user's tasks: no shared cache may keep them, and a client revalidates with the ETag before reusing one.
PRIVATE = {"Cache-Control": "private, no-cache"}


# Read from the ASGI scope rather than through ``connexion.request``, which builds a new request object (and
# Starlette's under it) on every attribute access: about 6 us each, twice per get-one.
def _unit_of_work() -> AbstractAsyncContextManager[UnitOfWork]:
    database: Database = scope["state"]["database"]
    return database.unit_of_work()


def _cursors() -> CursorCodec:
    cursors: CursorCodec = scope["state"]["cursors"]
    return cursors


def _list_header(name: bytes) -> str | None:
    """A list-valued request header (``name`` in lower case, as ASGI gives header names), its field lines
    joined into one list as RFC 9110, section 5.3 reads them."""
    lines = [value for key, value in scope["headers"] if key == name]
    return b", ".join(lines).decode("latin-1") if lines else None


def _if_match() -> frozenset[int] | None:
    return if_match_versions(_list_header(b"if-match"))


def _task_reply(stored: tasks.VersionedTask, status: int = 200, **headers: str) -> Response:
    return Response(stored.json, status, {"ETag": etag(stored.version), **PRIVATE, **headers}, media_type=JSON)


async def list_tasks(
    user_id: str,
    sort: str,
    limit: int,
    completed: bool | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> Response:
    # A cursor is only good for the list it came from: same user, filters and sort.
    cursor_scope = f"{UUID(user_id)}|{sort}|{completed}|{q}"
    after = _cursors().decode(cursor, cursor_scope) if cursor is not None else None
    query = tasks.ListQuery(completed=completed, search=q, sort=sort, limit=limit, after=after)
    async with _unit_of_work() as work:
        page = await tasks.list_tasks(work, UUID(user_id), query)
    next_cursor = _cursors().encode(page.last, cursor_scope) if page.last is not None else None
    return Response(page.envelope(next_cursor), 200, PRIVATE, media_type=JSON)


async def create_task(user_id: str, body: dict[str, Any]) -> Response:
    async with _unit_of_work() as work:
        task_id, stored = await tasks.create_task(work, UUID(user_id), body["title"], body.get("description"))
    return _task_reply(stored, 201, Location=f"{request.url.path}/{task_id}")


async def get_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        stored = await tasks.get_task(work, UUID(user_id), UUID(task_id))
    if if_none_match_hits(_list_header(b"if-none-match"), stored.version):
        return Response(status_code=304, headers={"ETag": etag(stored.version), **PRIVATE})
    return _task_reply(stored)


async def update_task(user_id: str, task_id: str, body: dict[str, Any]) -> Response:
    async with _unit_of_work() as work:
        stored = await tasks.update_task(
            work,
            UUID(user_id),
            UUID(task_id),
            title=body["title"],
            description=body.get("description"),
            is_completed=body["is_completed"],
            versions=_if_match(),
        )
    return _task_reply(stored)


async def delete_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        await tasks.delete_task(work, UUID(user_id), UUID(task_id), versions=_if_match())
    return Response(status_code=204)


async def toggle_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        stored = await tasks.toggle_task(work, UUID(user_id), UUID(task_id), versions=_if_match())
    return _task_reply(stored)
