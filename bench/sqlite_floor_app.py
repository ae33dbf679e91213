"""The raw SQLite floor: the least Python that can answer get-one and list for this schema on SQLite.

The smallest Starlette app over the standard library's ``sqlite3``: one connection in autocommit, statements run
right on the event loop, no validation, and the same SQL as the service (its SQLAlchemy statements for SQLite,
compiled once at import), reading the documents SQLite keeps in each row. It measures the physical limit of
Python + SQLite for this work, so ``bench/compare.py`` can say how close the service on SQLite comes to it. It
also takes POST, only so that the benchmark can seed it through its own API.
Start: ``DATABASE_URL=sqlite:///path uvicorn sqlite_floor_app:app --app-dir bench`` (on a migrated file).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.tasks import STATEMENTS, ListQuery, list_statement

_DIALECT = sqlite.pysqlite.dialect(paramstyle="named")


def _sql(statement: Any) -> tuple[str, dict[str, Any]]:
    """The service's own statement compiled once, so both run exactly the same SQL; with its constants."""
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), dict(compiled.params)


GET_ONE, GET_ONE_CONSTANTS = _sql(STATEMENTS["sqlite"]["get"])
LIST, LIST_CONSTANTS = _sql(list_statement(ListQuery().shape, "sqlite"))
CREATE = """
    INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, version)
    VALUES (:id, :owner, :title, :description, 0, :now, :now, 1)
"""

connection = sqlite3.connect(make_url(os.environ["DATABASE_URL"]).database or "", isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


async def _get_one(request: Request) -> Response:
    owner, task = str(uuid.UUID(request.path_params["user_id"])), uuid.UUID(request.path_params["task_id"]).hex
    rows = connection.execute(GET_ONE, {**GET_ONE_CONSTANTS, "owner": owner, "task": task}).fetchall()
    return _json(rows[0][0].encode()) if rows else _json(b"{}", 404)


async def _list(request: Request) -> Response:
    owner = str(uuid.UUID(request.path_params["user_id"]))
    params = {**LIST_CONSTANTS, "owner": owner, "fetch": 1001}
    joined, _fetched, total = connection.execute(LIST, params).fetchall()[0]
    return _json(b'{"items":[%b],"count":%d,"next_cursor":null}' % ((joined or "").encode(), total))


async def _create(request: Request) -> Response:
    fields = orjson.loads(await request.body())
    task_id = uuid.uuid4()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    values = {
        "id": task_id.hex,
        "owner": str(uuid.UUID(request.path_params["user_id"])),
        "title": fields["title"],
        "description": fields.get("description"),
        "now": now,
    }
    connection.execute(CREATE, values)
    # Only seeds the benchmark: the answer carries what the benchmark reads back, the id.
    return _json(orjson.dumps({"id": str(task_id)}), 201)


app = Starlette(
    routes=[
        Route("/api/{user_id}/tasks", _list, methods=["GET"]),
        Route("/api/{user_id}/tasks", _create, methods=["POST"]),
        Route("/api/{user_id}/tasks/{task_id}", _get_one, methods=["GET"]),
    ]
)
