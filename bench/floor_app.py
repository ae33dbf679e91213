"""The raw floor: the least Python that can answer get-one and list for this schema on PostgreSQL.

A psycopg 3 async pool in autocommit, no validation, and the same SQL as the service (its SQLAlchemy
statements, compiled once at import), with PostgreSQL building the JSON. It measures the physical limit of
Python + PostgreSQL for this work, so ``bench/compare.py`` can say how close the service comes to it. Two
front ends over the same three queries, the two the issue allows: ``app``, bare ASGI (the stricter), and
``starlette_app``, the smallest Starlette app. Both also take POST, only so that the benchmark can seed
them through their own API.
Start: ``DATABASE_URL=... uvicorn floor_app:app --app-dir bench`` (or ``floor_app:starlette_app``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.tasks import STATEMENTS, ListQuery, list_statement


def _sql(statement: Any) -> tuple[str, dict[str, Any]]:
    """The service's own statement compiled once, so both run exactly the same SQL; with its constants."""
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
    return str(compiled), dict(compiled.params)


GET_ONE, GET_ONE_CONSTANTS = _sql(STATEMENTS["postgresql"]["get"])
LIST, LIST_CONSTANTS = _sql(list_statement(ListQuery().shape, "postgresql"))
CREATE = """
    INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, version)
    VALUES (%(id)s, %(owner)s, %(title)s, %(description)s, false, now(), now(), 1)
"""

pool = AsyncConnectionPool(
    os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"),
    min_size=10,
    max_size=10,
    open=False,
    kwargs={"autocommit": True},
)


async def fetch_task(connection: Any, owner: str, task: str) -> bytes | None:
    """One task's JSON, as PostgreSQL renders it; None when the owner has no such task."""
    row = await (await connection.execute(GET_ONE, {**GET_ONE_CONSTANTS, "task": task, "owner": owner})).fetchone()
    return row[0].encode() if row else None


async def fetch_list(connection: Any, owner: str) -> bytes:
    """The owner's first 1,000 tasks, newest first, in the service's list envelope."""
    params = {**LIST_CONSTANTS, "owner": owner, "fetch": 1001}
    row = await (await connection.execute(LIST, params)).fetchone()
    assert row is not None  # an aggregate always answers one row
    joined, _fetched, total = row  # the benchmark's lists hold 1,000 tasks: never a 1,001st to cut off
    return b'{"items":[%b],"count":%d,"next_cursor":null}' % ((joined or "").encode(), total)


async def insert_task(connection: Any, owner: str, body: bytes) -> bytes:
    fields = json.loads(body)
    task_id = str(uuid.uuid4())
    values = {"id": task_id, "owner": owner, "title": fields["title"], "description": fields.get("description")}
    await connection.execute(CREATE, values)
    # Read back, as the task's document is built for a SELECT: creating only seeds the benchmark.
    return await fetch_task(connection, owner, task_id) or b"{}"


# ---- bare ASGI -------------------------------------------------------------------------------------------


async def _send(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await pool.open()
                await send({"type": "lifespan.startup.complete"})
            else:
                await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    parts = scope["path"].strip("/").split("/")  # api, user, tasks[, task]
    async with pool.connection() as connection:
        if scope["method"] == "GET" and len(parts) == 4:
            document = await fetch_task(connection, parts[1], parts[3])
            await _send(send, 200 if document else 404, document or b"{}")
        elif scope["method"] == "GET":
            await _send(send, 200, await fetch_list(connection, parts[1]))
        else:
            await _send(send, 201, await insert_task(connection, parts[1], await _read_body(receive)))


# ---- Starlette -------------------------------------------------------------------------------------------


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


async def _get_one(request: Request) -> Response:
    async with pool.connection() as connection:
        document = await fetch_task(connection, request.path_params["user_id"], request.path_params["task_id"])
    return _json(document, 200) if document else _json(b"{}", 404)


async def _list(request: Request) -> Response:
    async with pool.connection() as connection:
        return _json(await fetch_list(connection, request.path_params["user_id"]))


async def _create(request: Request) -> Response:
    async with pool.connection() as connection:
        return _json(await insert_task(connection, request.path_params["user_id"], await request.body()), 201)


@asynccontextmanager
async def _pool_open(_app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


starlette_app = Starlette(
    routes=[
        Route("/api/{user_id}/tasks", _list, methods=["GET"]),
        Route("/api/{user_id}/tasks", _create, methods=["POST"]),
        Route("/api/{user_id}/tasks/{task_id}", _get_one, methods=["GET"]),
    ],
    lifespan=_pool_open,
)
