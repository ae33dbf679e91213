"""All task queries. Every statement is scoped to one user: another user's task does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, NoReturn, TypedDict

from sqlalchemy import (
    ColumnElement,
    Result,
    Row,
    Select,
    delete,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Task, TaskCount


class TaskNotFound(Exception):
    """No task with this id belongs to this user."""


class PreconditionFailed(Exception):
    """The task exists, but not at any of the versions the write was conditional on."""


class TaskJSON(TypedDict):
    id: str
    title: str
    description: str | None
    is_completed: bool
    created_at: str
    updated_at: str
    user_id: str


class VersionedTask(NamedTuple):
    task: TaskJSON
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
    items: list[TaskJSON]
    total: int  # tasks matching the filters, on every page
    # Where the next page starts, or None when this page is the last.
    last: tuple[str, str] | None


_COLUMNS = (
    Task.id,
    Task.title,
    Task.description,
    Task.is_completed,
    Task.created_at,
    Task.updated_at,
    Task.user_id,
    Task.version,
)
_SORT_KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "title": Task.title,
}


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_json(row: Row[Any]) -> TaskJSON:
    return {
        "id": str(row.id),
        "title": row.title,
        "description": row.description,
        "is_completed": row.is_completed,
        "created_at": _timestamp(row.created_at),
        "updated_at": _timestamp(row.updated_at),
        "user_id": str(row.user_id),
    }


def _owned(user_id: uuid.UUID, task_id: uuid.UUID) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return Task.id == task_id, Task.user_id == user_id


async def _one(
    connection: AsyncConnection, result: Result[Any], user_id: uuid.UUID, task_id: uuid.UUID
) -> VersionedTask:
    row = result.first()
    if row is None:
        await _explain_missing_row(connection, user_id, task_id)
    return VersionedTask(_to_json(row), row.version)


async def _explain_missing_row(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID) -> NoReturn:
    """A conditional write that matched no row: the task is gone, or it is at another version."""
    exists = (await connection.execute(select(Task.id).where(*_owned(user_id, task_id)))).first()
    raise PreconditionFailed if exists else TaskNotFound


def _versioned(user_id: uuid.UUID, task_id: uuid.UUID, versions: Collection[int] | None) -> list[ColumnElement[bool]]:
    conditions = list(_owned(user_id, task_id))
    if versions is not None:
        conditions.append(Task.version.in_(versions))
    return conditions


async def _update(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    versions: Collection[int] | None,
    **values: object,
) -> VersionedTask:
    statement = (
        update(Task)
        .where(*_versioned(user_id, task_id, versions))
        .values(**values, updated_at=datetime.now(UTC), version=Task.version + 1)
        .returning(*_COLUMNS)
    )
    return await _one(connection, await connection.execute(statement), user_id, task_id)


def _filters(user_id: uuid.UUID, query: ListQuery) -> list[ColumnElement[bool]]:
    filters = [Task.user_id == user_id]
    if query.completed is not None:
        filters.append(Task.is_completed == query.completed)
    if query.search is not None:
        # autoescape makes %, _ and the escape character literal: a search, never a pattern.
        filters.append(
            or_(
                Task.title.icontains(query.search, autoescape=True),
                Task.description.icontains(query.search, autoescape=True),
            )
        )
    return filters


def _count(user_id: uuid.UUID, query: ListQuery) -> ColumnElement[int]:
    """Tasks matching the filters: from the trigger-kept counters where they answer, else counted."""
    if query.search is not None:
        return select(func.count()).select_from(Task).where(*_filters(user_id, query)).scalar_subquery()
    counter = {None: TaskCount.total, True: TaskCount.completed, False: TaskCount.total - TaskCount.completed}
    stored = select(counter[query.completed]).where(TaskCount.user_id == user_id).scalar_subquery()
    return func.coalesce(stored, 0)


def _sort_key(sort: str) -> tuple[InstrumentedAttribute[Any], bool]:
    return _SORT_KEYS[sort.removeprefix("-")], sort.startswith("-")


def _key_from_text(key: InstrumentedAttribute[Any], text: str) -> Any:
    return datetime.fromisoformat(text) if key is not Task.title else text


def _key_to_text(value: Any) -> str:
    return _timestamp(value) if isinstance(value, datetime) else str(value)


def list_statement(user_id: uuid.UUID, query: ListQuery) -> Select[Any]:
    """One page (plus one row, to tell whether another page follows) and the total, in one snapshot."""
    key, descending = _sort_key(query.sort)
    conditions = _filters(user_id, query)
    if query.after is not None:
        after_key, after_id = query.after
        position = tuple_(literal(_key_from_text(key, after_key), key.type), literal(uuid.UUID(after_id), Task.id.type))
        conditions.append(tuple_(key, Task.id) < position if descending else tuple_(key, Task.id) > position)
    order = (key.desc(), Task.id.desc()) if descending else (key.asc(), Task.id.asc())
    return (
        select(*_COLUMNS, _count(user_id, query).label("matching"))
        .where(*conditions)
        .order_by(*order)
        .limit(query.limit + 1)
    )


async def list_tasks(connection: AsyncConnection, user_id: uuid.UUID, query: ListQuery) -> Page:
    rows = (await connection.execute(list_statement(user_id, query))).all()
    if not rows:
        count = (await connection.execute(select(_count(user_id, query)))).scalar_one()
        return Page([], count, None)
    page = rows[: query.limit]
    last = None
    if len(rows) > query.limit:
        key, _ = _sort_key(query.sort)
        last = (_key_to_text(page[-1]._mapping[key.key]), str(page[-1].id))
    return Page([_to_json(row) for row in page], rows[0].matching, last)


async def create_task(
    connection: AsyncConnection, user_id: uuid.UUID, title: str, description: str | None
) -> VersionedTask:
    now = datetime.now(UTC)
    task_id = uuid.uuid4()
    await connection.execute(
        insert(Task).values(
            id=task_id,
            user_id=user_id,
            title=title,
            description=description,
            is_completed=False,
            created_at=now,
            updated_at=now,
            version=1,
        )
    )
    task: TaskJSON = {
        "id": str(task_id),
        "title": title,
        "description": description,
        "is_completed": False,
        "created_at": _timestamp(now),
        "updated_at": _timestamp(now),
        "user_id": str(user_id),
    }
    return VersionedTask(task, 1)


async def get_task(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID) -> VersionedTask:
    row = (await connection.execute(select(*_COLUMNS).where(*_owned(user_id, task_id)))).first()
    if row is None:
        raise TaskNotFound
    return VersionedTask(_to_json(row), row.version)


async def update_task(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    *,
    title: str,
    description: str | None,
    is_completed: bool,
    versions: Collection[int] | None = None,
) -> VersionedTask:
    """Replace the task; with ``versions``, only if it is currently at one of them."""
    return await _update(
        connection, user_id, task_id, versions, title=title, description=description, is_completed=is_completed
    )


async def toggle_task(
    connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID, *, versions: Collection[int] | None = None
) -> VersionedTask:
    # The flip happens inside the UPDATE, so concurrent toggles serialise on the row and none is lost.
    return await _update(connection, user_id, task_id, versions, is_completed=not_(Task.is_completed))


async def delete_task(
    connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID, *, versions: Collection[int] | None = None
) -> None:
    result = await connection.execute(delete(Task).where(*_versioned(user_id, task_id, versions)))
    if result.rowcount == 0:
        await _explain_missing_row(connection, user_id, task_id)
