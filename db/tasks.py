"""All task queries. Every statement is scoped to one user: another user's task does not exist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypedDict

from sqlalchemy import ColumnElement, Result, Row, delete, insert, not_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import Task


class TaskNotFound(Exception):
    """No task with this id belongs to this user."""


class TaskJSON(TypedDict):
    id: str
    title: str
    description: str | None
    is_completed: bool
    created_at: str
    updated_at: str
    user_id: str


_COLUMNS = (Task.id, Task.title, Task.description, Task.is_completed, Task.created_at, Task.updated_at, Task.user_id)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TaskRow = tuple[uuid.UUID, str, str | None, bool, datetime, datetime, uuid.UUID]


def _to_json(row: Row[_TaskRow]) -> TaskJSON:
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


def _one(result: Result[_TaskRow]) -> TaskJSON:
    row = result.first()
    if row is None:
        raise TaskNotFound
    return _to_json(row)


async def _update(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID, **values: object) -> TaskJSON:
    statement = (
        update(Task)
        .where(*_owned(user_id, task_id))
        .values(**values, updated_at=datetime.now(UTC))
        .returning(*_COLUMNS)
    )
    return _one(await connection.execute(statement))


async def list_tasks(connection: AsyncConnection, user_id: uuid.UUID) -> list[TaskJSON]:
    result = await connection.execute(
        select(*_COLUMNS).where(Task.user_id == user_id).order_by(Task.created_at.desc(), Task.id.desc())
    )
    return [_to_json(row) for row in result]


async def create_task(connection: AsyncConnection, user_id: uuid.UUID, title: str, description: str | None) -> TaskJSON:
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
        )
    )
    return {
        "id": str(task_id),
        "title": title,
        "description": description,
        "is_completed": False,
        "created_at": _timestamp(now),
        "updated_at": _timestamp(now),
        "user_id": str(user_id),
    }


async def get_task(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID) -> TaskJSON:
    return _one(await connection.execute(select(*_COLUMNS).where(*_owned(user_id, task_id))))


async def update_task(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    *,
    title: str,
    description: str | None,
    is_completed: bool,
) -> TaskJSON:
    return await _update(connection, user_id, task_id, title=title, description=description, is_completed=is_completed)


async def toggle_task(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID) -> TaskJSON:
    # The flip happens inside the UPDATE, so concurrent toggles serialise on the row and none is lost.
    return await _update(connection, user_id, task_id, is_completed=not_(Task.is_completed))


async def delete_task(connection: AsyncConnection, user_id: uuid.UUID, task_id: uuid.UUID) -> None:
    result = await connection.execute(delete(Task).where(*_owned(user_id, task_id)))
    if result.rowcount == 0:
        raise TaskNotFound
