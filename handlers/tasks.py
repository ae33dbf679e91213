"""Handlers for /api/{user_id}/tasks. Connexion has validated every argument against the spec.

The data layer hands back JSON bytes (rendered by PostgreSQL where it can), so handlers answer with them as
they are instead of letting Connexion serialise a dict again.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any
from urllib.parse import quote
from uuid import UUID

import orjson
from connexion import request
from connexion.context import scope
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.responses import Response

from db import changes, tasks
from db.database import Database, UnitOfWork
from db.idempotency import Claim, Replay
from idempotency.claims import Claims
from sync.tokens import SyncTokens, changes_etag
from tasks_api import rfc3339
from tasks_api.cursor import CursorCodec
from tasks_api.etags import etag, if_match_versions, if_none_match_hits
from tasks_api.specification import body_defaults
from tasks_api.user_ids import canonical_user_id

JSON = "application/json"
# A user's tasks: no shared cache may keep them, and a client revalidates with the ETag before reusing one.
PRIVATE = {"Cache-Control": "private, no-cache"}
# The size of a page by number when the client names none (the spec's page_size).
DEFAULT_PAGE_SIZE = 50


# Read from the ASGI scope rather than through ``connexion.request``, which builds a new request object (and
# Starlette's under it) on every attribute access: about 6 us each, twice per get-one.
def _unit_of_work() -> AbstractAsyncContextManager[UnitOfWork]:
    database: Database = scope["state"]["database"]
    return database.unit_of_work()


def _cursors() -> CursorCodec:
    cursors: CursorCodec = scope["state"]["cursors"]
    return cursors


def _claim(body: Any = None) -> Claim | None:
    """The request's Idempotency-Key, as the claim its write records its answer under; None without one."""
    claims: Claims = scope["state"]["claims"]
    return claims.of(scope, body)


def _list_header(name: bytes) -> str | None:
    """A list-valued request header (``name`` in lower case, as ASGI gives header names), its field lines
    joined into one list as RFC 9110, section 5.3 reads them."""
    lines = [value for key, value in scope["headers"] if key == name]
    return b", ".join(lines).decode("latin-1") if lines else None


def _if_match() -> frozenset[int] | None:
    return if_match_versions(_list_header(b"if-match"))


def _task_reply(stored: tasks.VersionedTask, status: int = 200, **headers: str) -> Response:
    return Response(stored.json, status, {"ETag": etag(stored.version), **PRIVATE, **headers}, media_type=JSON)


def _location(path: str, task_id: UUID) -> str:
    return quote(f"{path}/{task_id}", safe="/:@")


def replayed(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """The answer recorded under the request's Idempotency-Key, given again as it was (its retry is the same
    request, so the same path), marked as replayed: Connexion's error handler for ``Replay``."""
    assert isinstance(exc, Replay)
    answer, headers = exc.answer, {"Idempotent-Replayed": "true"}
    if answer.body is None:
        return ConnexionResponse(status_code=answer.status, headers=headers)
    if answer.task_id is not None:
        headers["Location"] = _location(request.url.path, answer.task_id)
    assert answer.version is not None
    headers.update({"ETag": etag(answer.version), **PRIVATE})
    return ConnexionResponse(
        status_code=answer.status, mimetype=JSON, content_type=JSON, body=answer.body, headers=headers
    )


# What a body leaves out means what the spec says it means.
_CREATED_DEFAULTS = body_defaults("TaskCreate")
_REPLACED_DEFAULTS = body_defaults("TaskUpdate")


def _fields(body: dict[str, Any], defaults: dict[str, Any]) -> tasks.TaskFields:
    """What a create or a full replace sets."""
    given = {**defaults, **body}
    due_at = given["due_at"]
    return tasks.TaskFields(
        title=given["title"],
        description=given.get("description"),
        priority=given["priority"],
        tags=given["tags"],
        due_at=rfc3339.parse(due_at) if due_at is not None else None,
    )


async def list_tasks(
    user_id: str,
    limit: int,
    sort: str = tasks.DEFAULT_SORT,
    sort_order: str | None = None,
    completed: bool | None = None,
    status: str | None = None,
    q: str | None = None,
    search: str | None = None,
    priority: str | None = None,
    tags: list[str] | None = None,
    sort_by: str | None = None,
    cursor: str | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> Response:
    # The front end's spellings; the spec refuses a request that uses both spellings of one thing.
    if status is not None:
        completed = status == "completed"
    if search is not None:
        q = search
    if sort_by is not None or sort_order is not None:
        sort = ("" if sort_order == "asc" else "-") + (sort_by or "created_at")
    owner = canonical_user_id(user_id)
    query = tasks.ListQuery(completed=completed, search=q, priority=priority, tags=tuple(tags or ()), sort=sort)
    # A cursor is only good for the list it came from: same user, filters and sort (written as before priority
    # and tags existed when the list has neither, so that cursors issued then still work).
    cursor_scope = f"{owner}|{sort}|{completed}|{q}"
    if priority is not None or query.tags:
        cursor_scope += "|" + orjson.dumps([priority, query.tags]).decode()
    if page is not None or page_size is not None:
        limit = page_size or DEFAULT_PAGE_SIZE
        query = replace(query, limit=limit, offset=((page or 1) - 1) * limit)
    elif cursor is not None:
        query = replace(query, limit=limit, after=_cursors().decode(cursor, cursor_scope))
    else:
        query = replace(query, limit=limit)
    async with _unit_of_work() as work:
        found = await tasks.list_tasks(work, owner, query)
    next_cursor = _cursors().encode(found.last, cursor_scope) if found.last is not None else None
    return Response(found.envelope(next_cursor), 200, PRIVATE, media_type=JSON)


async def create_task(user_id: str, body: dict[str, Any]) -> Response:
    fields, claim = _fields(body, _CREATED_DEFAULTS), _claim(body)
    async with _unit_of_work() as work:
        task_id, stored = await tasks.create_task(work, canonical_user_id(user_id), fields, claim)
    return _task_reply(stored, 201, Location=_location(request.url.path, task_id))


async def get_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        stored = await tasks.get_task(work, canonical_user_id(user_id), UUID(task_id))
    if if_none_match_hits(_list_header(b"if-none-match"), str(stored.version)):
        return Response(status_code=304, headers={"ETag": etag(stored.version), **PRIVATE})
    return _task_reply(stored)


async def update_task(user_id: str, task_id: str, body: dict[str, Any]) -> Response:
    async with _unit_of_work() as work:
        stored = await tasks.update_task(
            work,
            canonical_user_id(user_id),
            UUID(task_id),
            _fields(body, _REPLACED_DEFAULTS),
            is_completed=body["is_completed"],
            versions=_if_match(),
            claim=_claim(body),
        )
    return _task_reply(stored)


async def delete_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        await tasks.delete_task(work, canonical_user_id(user_id), UUID(task_id), versions=_if_match(), claim=_claim())
    return Response(status_code=204)


async def toggle_task(user_id: str, task_id: str) -> Response:
    async with _unit_of_work() as work:
        owner, versions, claim = canonical_user_id(user_id), _if_match(), _claim()
        stored = await tasks.toggle_task(work, owner, UUID(task_id), versions=versions, claim=claim)
    return _task_reply(stored)


async def get_task_metrics(user_id: str) -> Response:
    async with _unit_of_work() as work:
        metrics = await tasks.task_metrics(work, canonical_user_id(user_id))
    return Response(metrics, 200, PRIVATE, media_type=JSON)


async def list_task_changes(user_id: str, limit: int, since: str | None = None) -> Response:
    owner = canonical_user_id(user_id)
    sync_tokens: SyncTokens = scope["state"]["sync_tokens"]
    floor, start, complete_since = sync_tokens.decode(since, owner) if since is not None else (None, None, None)
    async with _unit_of_work() as work:
        page = await changes.read_changes(work, owner, start, floor, limit)
    # A copy begun by this read is missing no deletion from this read's horizon on.
    floor = page.horizon if floor is None else floor
    opaque = changes_etag(owner, start, floor, page.next, page.has_more, page.size)
    headers = {"ETag": etag(opaque), **PRIVATE}
    if if_none_match_hits(_list_header(b"if-none-match"), opaque):
        return Response(status_code=304, headers=headers)
    # While more follow, the copy is no more complete than it was: the deletions still ahead of the client may be
    # as old as the token's, and the token given must be refused before they are purged (sync.tokens).
    next_since = sync_tokens.encode(owner, floor, page.next, complete_since if page.has_more else None)
    body = b'{"changes":%b,"next_since":"%b","has_more":%b}' % (
        page.changes_json,
        next_since.encode(),
        b"true" if page.has_more else b"false",
    )
    return Response(body, 200, headers, media_type=JSON)
