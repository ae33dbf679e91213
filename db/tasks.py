"""All task queries. Every statement is scoped to one user: another user's task does not exist.

Statements are built once with bind parameters, for each dialect, and compiled once by the backends
(``db.compiled``), so a request only supplies values. Each operation is a single statement, atomic on its own,
so it runs ``alone`` (in autocommit, see ``db.database.UnitOfWork``); only the error path reads a second time
(why a conditional write matched nothing), and that read runs in a transaction. Results leave this module as
JSON bytes (``db.documents``), rendered by PostgreSQL, kept in the row by SQLite, or rendered by Python from the
values just written.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    any_,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from db.database import UnitOfWork
from db.documents import (
    SQLITE_STORED_DOCUMENT,
    TASK_FIELDS,
    list_json,
    postgresql_list_page,
    postgresql_task_document,
    split_stored_page,
    sqlite_list_page,
    stored_task_json,
    task_json,
)
from db.models import Task, TaskCount


class TaskNotFound(Exception):
    """No task with this id belongs to this user."""


class PreconditionFailed(Exception):
    """The task exists, but not at any of the versions the write was conditional on."""


class VersionedTask(NamedTuple):
    json: bytes
    version: int


@dataclass(frozen=True)
class ListQuery:
    completed: bool | None = None
    search: str | None = None
    sort: str = "-created_at"
    limit: int = 1000
    # The sort key (as text) and id of the last task of the previous page.
    after: tuple[str, str] | None = None


class Page(NamedTuple):
    items_json: bytes  # a JSON array of tasks
    total: int  # tasks matching the filters, on every page
    # Where the next page starts, or None when this page is the last.
    last: tuple[str, str] | None

    def envelope(self, next_cursor: str | None) -> bytes:
        """The list's answer; ``next_cursor`` is ``last`` as the client is to send it back."""
        return list_json(self.items_json, self.total, next_cursor)


_SORT_KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "title": Task.title,
}
_LIKE_ESCAPE = "/"

_OWNED = (Task.id == bindparam("task"), Task.user_id == bindparam("owner"))
# Statements are compiled once to fixed SQL, so the version list is one parameter: an array on PostgreSQL, a
# JSON array on SQLite.
_AT_VERSION = {
    "postgresql": Task.version == any_(bindparam("versions", type_=ARRAY(Integer))),
    "sqlite": Task.version.in_(select(literal_column("value")).select_from(func.json_each(bindparam("versions")))),
}
_BUMP = {"updated_at": bindparam("now"), "version": Task.version + 1}
_EXISTS = select(Task.id).where(*_OWNED)
_INSERT = insert(Task).values(
    id=bindparam("new_id"),
    user_id=bindparam("owner"),
    title=bindparam("new_title"),
    description=bindparam("new_description"),
    is_completed=false(),
    created_at=bindparam("now"),
    updated_at=bindparam("now"),
    version=1,
)


def _statements(read: tuple[Any, ...], written: tuple[Any, ...], at_version: ColumnElement[bool]) -> dict[str, Any]:
    """Every single-task statement of one dialect: a read answers ``read``, a write returns ``written``."""
    replace = (
        update(Task)
        .where(*_OWNED)
        .values(
            title=bindparam("new_title"),
            description=bindparam("new_description"),
            is_completed=bindparam("new_is_completed"),
            **_BUMP,
        )
    )
    toggle = update(Task).where(*_OWNED).values(is_completed=not_(Task.is_completed), **_BUMP)
    return {
        "get": select(*read).where(*_OWNED),
        "replace": replace.returning(*written),
        "replace if": replace.where(at_version).returning(*written),
        "toggle": toggle.returning(*written),
        "toggle if": toggle.where(at_version).returning(*written),
        "delete": delete(Task).where(*_OWNED),
        "delete if": delete(Task).where(*_OWNED, at_version),
    }


_POSTGRESQL_DOCUMENT = (postgresql_task_document().label("document"), Task.version)
STATEMENTS = {
    "postgresql": _statements(_POSTGRESQL_DOCUMENT, _POSTGRESQL_DOCUMENT, _AT_VERSION["postgresql"]),
    # A write's RETURNING sees its row before SQLite's triggers render the document (db.documents).
    "sqlite": _statements((SQLITE_STORED_DOCUMENT, Task.version), (*TASK_FIELDS, Task.version), _AT_VERSION["sqlite"]),
}


def _statement(
    work: UnitOfWork, name: str, versions: Collection[int] | None, params: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    statements = STATEMENTS[work.dialect]
    if versions is None:
        return statements[name], params
    return statements[f"{name} if"], {**params, "versions": list(versions)}


async def _single(
    work: UnitOfWork, name: str, params: dict[str, Any], versions: Collection[int] | None = None
) -> VersionedTask:
    statement, params = _statement(work, name, versions, params)
    row = await work.fetch_one(statement, params, alone=True)
    if row is None:
        await _explain_missing_row(work, params)
    if work.dialect == "sqlite" and name != "get":
        return VersionedTask(stored_task_json(row), row[-1])
    document, version = row
    return VersionedTask(document.encode(), version)


async def _explain_missing_row(work: UnitOfWork, params: dict[str, Any]) -> NoReturn:
    """A write that matched no row: the task is gone, or it is at another version than required."""
    exists = "versions" in params and await work.fetch_one(_EXISTS, params) is not None
    raise PreconditionFailed if exists else TaskNotFound


def _sort_key(sort: str) -> tuple[InstrumentedAttribute[Any], bool]:
    return _SORT_KEYS[sort.removeprefix("-")], sort.startswith("-")


def _filters(completed: bool | None, search: bool) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [Task.user_id == bindparam("owner")]
    if completed is not None:
        filters.append(Task.is_completed == (true() if completed else false()))
    if search:
        pattern: BindParameter[str] = bindparam("pattern")
        filters.append(
            or_(
                func.lower(Task.title).like(pattern, escape=_LIKE_ESCAPE),
                func.lower(Task.description).like(pattern, escape=_LIKE_ESCAPE),
            )
        )
    return filters


def _total(completed: bool | None, search: bool) -> ColumnElement[int]:
    """How many tasks match the filters: from the trigger-kept counters where they answer, else counted."""
    if search:
        return select(func.count()).select_from(Task).where(*_filters(completed, search)).scalar_subquery()
    counter = {None: TaskCount.total, True: TaskCount.completed, False: TaskCount.total - TaskCount.completed}
    stored = select(counter[completed]).where(TaskCount.user_id == bindparam("owner")).scalar_subquery()
    return func.coalesce(stored, 0)


@lru_cache(maxsize=256)
def list_statement(sort: str, completed: bool | None, search: bool, after: bool, dialect: str) -> Select[Any]:
    """The list for one shape of query (filters, sort, first page or not), built once per shape and dialect.

    It reads one row beyond ``:limit`` to tell whether another page follows, and counts the matching tasks in
    the same statement, so a page and its ``count`` come from one snapshot.
    """
    key, descending = _sort_key(sort)
    conditions = _filters(completed, search)
    if after:
        position = tuple_(bindparam("after_key", type_=key.type), bindparam("after_id", type_=Task.id.type))
        conditions.append(tuple_(key, Task.id) < position if descending else tuple_(key, Task.id) > position)
    order = (key.desc(), Task.id.desc()) if descending else (key.asc(), Task.id.asc())
    if dialect == "postgresql":
        return postgresql_list_page(conditions, order, key, _total(completed, search))
    return sqlite_list_page(conditions, order, _total(completed, search))


def _key_from_text(key: InstrumentedAttribute[Any], text: str) -> Any:
    return datetime.fromisoformat(text) if key is not Task.title else text


def _search_pattern(search: str) -> str:
    escaped = search.lower().replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
    # %, _ and the escape character itself are literal: a search, never a pattern.
    return "%" + escaped.replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_") + "%"


def list_params(user_id: uuid.UUID, query: ListQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"owner": user_id, "fetch": query.limit + 1, "limit": query.limit}
    if query.search is not None:
        params["pattern"] = _search_pattern(query.search)
    if query.after is not None:
        key, _ = _sort_key(query.sort)
        params["after_key"] = _key_from_text(key, query.after[0])
        params["after_id"] = uuid.UUID(query.after[1])
    return params


async def list_tasks(work: UnitOfWork, user_id: uuid.UUID, query: ListQuery) -> Page:
    searching, after = query.search is not None, query.after is not None
    statement = list_statement(query.sort, query.completed, searching, after, work.dialect)
    page = await work.fetch_one(statement, list_params(user_id, query), alone=True)
    assert page is not None  # an aggregate always answers one row
    if work.dialect == "postgresql":
        items, fetched, last_key, last_id, matching = page
        return Page(items.encode(), matching, (last_key, last_id) if fetched > query.limit else None)
    joined, fetched, matching = page
    items_json, last_task = split_stored_page(joined, fetched, query.limit)
    key, _ = _sort_key(query.sort)
    return Page(items_json, matching, (last_task[key.key], last_task["id"]) if last_task is not None else None)


async def create_task(
    work: UnitOfWork, user_id: uuid.UUID, title: str, description: str | None
) -> tuple[uuid.UUID, VersionedTask]:
    """The new task's id and the task."""
    now = datetime.now(UTC)
    task_id = uuid.uuid4()
    params = {"new_id": task_id, "owner": user_id, "new_title": title, "new_description": description, "now": now}
    await work.execute(_INSERT, params, alone=True)
    # The row is exactly what was inserted, so it is rendered without being read back.
    created = {
        "id": task_id,
        "title": title,
        "description": description,
        "is_completed": False,
        "created_at": now,
        "updated_at": now,
        "user_id": user_id,
    }
    return task_id, VersionedTask(task_json(created), 1)


async def get_task(work: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID) -> VersionedTask:
    return await _single(work, "get", {"owner": user_id, "task": task_id})


async def update_task(
    work: UnitOfWork,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    *,
    title: str,
    description: str | None,
    is_completed: bool,
    versions: Collection[int] | None = None,
) -> VersionedTask:
    """Replace the task; with ``versions``, only if it is currently at one of them."""
    params = {
        "owner": user_id,
        "task": task_id,
        "now": datetime.now(UTC),
        "new_title": title,
        "new_description": description,
        "new_is_completed": is_completed,
    }
    return await _single(work, "replace", params, versions)


async def toggle_task(
    work: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, *, versions: Collection[int] | None = None
) -> VersionedTask:
    # The flip happens inside the UPDATE, so concurrent toggles serialise on the row and none is lost.
    return await _single(work, "toggle", {"owner": user_id, "task": task_id, "now": datetime.now(UTC)}, versions)


async def delete_task(
    work: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, *, versions: Collection[int] | None = None
) -> None:
    statement, params = _statement(work, "delete", versions, {"owner": user_id, "task": task_id})
    if await work.execute(statement, params, alone=True) == 0:
        await _explain_missing_row(work, params)
