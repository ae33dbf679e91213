"""The raw floor: the least Python that can answer get-one and list for this schema on PostgreSQL.

Bare ASGI, a psycopg 3 async pool in autocommit, no validation, and the same SQL as the service, with
PostgreSQL building the JSON. It measures the physical limit of Python + PostgreSQL for this work, so
``bench/compare.py`` can say how close the service comes to it. Also takes POST, only so that the benchmark
can seed it through its own API. Start: ``DATABASE_URL=... uvicorn floor_app:app --app-dir bench``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from psycopg_pool import AsyncConnectionPool

TIMESTAMP = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
DOCUMENT = f"""json_build_object(
    'id', id, 'title', title, 'description', description, 'is_completed', is_completed,
    'created_at', to_char(created_at AT TIME ZONE 'UTC', {TIMESTAMP}),
    'updated_at', to_char(updated_at AT TIME ZONE 'UTC', {TIMESTAMP}),
    'user_id', user_id)"""
GET_ONE = f"SELECT {DOCUMENT}::text FROM tasks WHERE id = %s AND user_id = %s"
LIST = f"""
    SELECT json_build_object(
        'items', coalesce(json_agg(page.document ORDER BY page.created_at DESC, page.id DESC), '[]'::json),
        'count', (SELECT coalesce(sum(total), 0) FROM task_counts WHERE user_id = %s),
        'next_cursor', NULL)::text
    FROM (SELECT {DOCUMENT} AS document, created_at, id FROM tasks WHERE user_id = %s
          ORDER BY created_at DESC, id DESC LIMIT 1000) AS page
"""
CREATE = f"""
    INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, version)
    VALUES (%s, %s, %s, %s, false, now(), now(), 1) RETURNING {DOCUMENT}::text
"""

pool = AsyncConnectionPool(
    os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"),
    min_size=10,
    max_size=10,
    open=False,
    kwargs={"autocommit": True},
)


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
            row = await (await connection.execute(GET_ONE, (parts[3], parts[1]))).fetchone()
            await _send(send, 200 if row else 404, row[0].encode() if row else b"{}")
        elif scope["method"] == "GET":
            row = await (await connection.execute(LIST, (parts[1], parts[1]))).fetchone()
            await _send(send, 200, row[0].encode() if row else b"{}")
        else:
            body = json.loads(await _read_body(receive))
            values = (uuid.uuid4(), parts[1], body["title"], body.get("description"))
            row = await (await connection.execute(CREATE, values)).fetchone()
            await _send(send, 201, row[0].encode() if row else b"{}")
