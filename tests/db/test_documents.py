"""Each database renders a task to the very bytes Python renders for it, whatever its text holds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import bindparam, insert

from db import tasks
from db.backends import open_database
from db.database import UnitOfWork
from db.documents import list_json, task_json
from db.models import PRIORITY_RANKS, Task
from db.tasks import TaskFields, normalised_tags
from tests.support import AWKWARD_TEXTS

T = TypeVar("T")

# Exactly on the second: Python's own datetime rendering would drop the zero fraction, the document must not.
ON_THE_SECOND = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_INSERT = insert(Task).values(
    id=bindparam("id"),
    user_id=bindparam("user_id"),
    title=bindparam("title"),
    description=bindparam("description"),
    is_completed=bindparam("is_completed"),
    created_at=bindparam("created_at"),
    updated_at=bindparam("updated_at"),
    priority=bindparam("rank"),
    tags=bindparam("tags"),
    due_at=bindparam("due_at"),
)


def _on(url: str, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async def run() -> T:
        database = open_database(url)
        await database.open()
        try:
            async with database.unit_of_work() as unit:
                return await work(unit)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _task(
    title: str, description: str | None, *, moment: datetime = ON_THE_SECOND, due_at: datetime | None = None
) -> dict[str, Any]:
    """A task as the API names its fields, with the values the insert stores (the priority's rank)."""
    return {
        "id": uuid.uuid4(),
        "user_id": str(uuid.uuid4()),
        "title": title,
        "description": description,
        "is_completed": True,
        "created_at": moment,
        "updated_at": moment.replace(microsecond=123),
        "priority": "Low",
        "rank": PRIORITY_RANKS["Low"],
        "tags": normalised_tags([title, "b", "a"]),
        "due_at": due_at,
    }


@pytest.mark.parametrize("text", AWKWARD_TEXTS.values(), ids=AWKWARD_TEXTS.keys())
def test_a_stored_task_reads_back_as_python_renders_it(database_url: str, text: str) -> None:
    # Due in the year 5: four digits in every rendering, not the one strftime writes.
    task = _task(text, text, due_at=datetime(5, 6, 7, 8, 9, 10, 11, tzinfo=UTC))

    async def store_and_get(work: UnitOfWork) -> tasks.VersionedTask:
        await work.execute(_INSERT, task)
        return await tasks.get_task(work, task["user_id"], task["id"])

    stored = _on(database_url, store_and_get)

    assert stored.json == task_json(task)
    assert json.loads(stored.json)["created_at"] == "2026-01-02T03:04:05.000000Z"
    assert json.loads(stored.json)["due_at"] == "0005-06-07T08:09:10.000011Z"


@pytest.mark.parametrize("text", AWKWARD_TEXTS.values(), ids=AWKWARD_TEXTS.keys())
def test_a_written_task_is_answered_as_it_then_reads_back(database_url: str, text: str) -> None:
    task = _task("before", None)
    owner, task_id = task["user_id"], task["id"]

    async def write_and_read(work: UnitOfWork) -> list[tuple[bytes, bytes]]:
        await work.execute(_INSERT, task)
        replaced = await tasks.update_task(
            work, owner, task_id, TaskFields(text, text, tags=[text]), is_completed=False
        )
        replaced_read = await tasks.get_task(work, owner, task_id)
        toggled = await tasks.toggle_task(work, owner, task_id)
        toggled_read = await tasks.get_task(work, owner, task_id)
        return [(replaced.json, replaced_read.json), (toggled.json, toggled_read.json)]

    for answered, read in _on(database_url, write_and_read):
        assert answered == read
        assert json.loads(answered)["title"] == text


def test_a_page_reads_back_as_python_renders_it(database_url: str) -> None:
    owner = str(uuid.uuid4())
    page_tasks = [
        {**_task(text, None, moment=ON_THE_SECOND.replace(second=second)), "user_id": owner}
        for second, text in enumerate(AWKWARD_TEXTS.values())
    ]

    async def store_and_list(work: UnitOfWork) -> tasks.Page:
        for task in page_tasks:
            await work.execute(_INSERT, task)
        return await tasks.list_tasks(work, owner, tasks.ListQuery(sort="created_at"))

    page = _on(database_url, store_and_list)

    rendered = b"[" + b",".join(task_json(task) for task in page_tasks) + b"]"
    assert page.items_json == rendered
    assert page.envelope(None) == b'{"items":' + rendered + b',"count":4,"next_cursor":null}'


def test_a_page_ends_where_its_last_task_ends_whatever_the_titles_hold(database_url: str) -> None:
    owner = str(uuid.uuid4())
    marker = ',{"id":"'  # what begins each document of a page, as raw text
    page_tasks = [
        {**_task(f"{marker}{n}", marker, moment=ON_THE_SECOND.replace(second=n)), "user_id": owner} for n in range(3)
    ]

    async def store_and_list(work: UnitOfWork) -> tasks.Page:
        for task in page_tasks:
            await work.execute(_INSERT, task)
        return await tasks.list_tasks(work, owner, tasks.ListQuery(sort="created_at", limit=2))

    page = _on(database_url, store_and_list)

    assert page.items_json == b"[" + b",".join(task_json(task) for task in page_tasks[:2]) + b"]"
    assert page.last == ("2026-01-02T03:04:01.000000Z", str(page_tasks[1]["id"]))
    assert page.total == 3


def test_an_empty_page_is_an_empty_array(database_url: str) -> None:
    page = _on(database_url, lambda work: tasks.list_tasks(work, str(uuid.uuid4()), tasks.ListQuery()))

    assert page.items_json == b"[]"
    assert page.total == 0
    assert page.last is None


def test_the_list_envelope_is_compact_json() -> None:
    body = list_json(b"[]", 0, "a.b")

    assert body == b'{"items":[],"count":0,"next_cursor":"a.b"}'
    assert json.loads(list_json(b"[]", 0, None)) == {"items": [], "count": 0, "next_cursor": None}
