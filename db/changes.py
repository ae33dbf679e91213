"""The changes feed: what changed in a user's tasks after a position, oldest change first, each task once in its
latest state or as its deletion.

Exact under concurrency. A position is a task's ``change_seq`` and then its id; a client that reads on from the
last position it was given must never find a change behind it later. On SQLite writes are serialised and every
one advances a counter inside its transaction (migration 0006), so what a read sees is a prefix of that order.
On PostgreSQL ``change_seq`` is the id of the writing transaction, and transactions commit in another order than
they got their ids: a read shows only changes of transactions older than the oldest one still running (its
snapshot's ``xmin``). Every transaction below that has ended, so nothing can appear behind a position handed
out; one still running is shown by a later read, after its commit. The cost: a write transaction that runs long
anywhere in the cluster holds the feed back (never more than the statement timeout for this service's own).

A page is one statement, rendered by the database like a list's (``db.documents.list_page``): the tasks part
and the deletions part each read in order from their index, one row beyond ``:limit`` to tell whether more
follow, and the position of the last row read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    LargeBinary,
    Select,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    tuple_,
    union_all,
)

from db.database import UnitOfWork
from db.documents import SQLITE_STORED_DOCUMENT, postgresql_task_document, timestamp_text
from db.models import Task, TaskTombstone

# Where a feed begins: before every task (a task never written since migration 0006 stands at 0).
_BEFORE_ALL = -1
_NO_ID = uuid.UUID(int=0)


@dataclass(frozen=True)
class Position:
    """A place in a user's feed: changes after (or, ``inclusive``, from) this sequence number and task id."""

    seq: int = _BEFORE_ALL
    task_id: uuid.UUID = _NO_ID
    inclusive: bool = False


class ChangesPage(NamedTuple):
    changes_json: bytes  # a JSON array of changes
    has_more: bool
    # Where the next read starts.
    next: Position
    # Every deletion a later read can show stands at or after this (the floor of a feed begun by this read).
    horizon: int
    # How many changes ``changes_json`` holds.
    size: int


def _entry(prefix: str, task_id: ColumnElement[str], rest: ColumnElement[str]) -> ColumnElement[str]:
    return literal_column("""'{"id":"'""", Text) + task_id + literal(prefix, Text) + rest + literal("}", Text)


def _dashed_sqlite(hex_id: Any) -> ColumnElement[str]:
    parts = [func.substr(hex_id, start, length) for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    joined: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined + literal("-", Text) + part
    return joined


def _task_entry(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return _entry('","deleted":false,"task":', cast(Task.id, Text), postgresql_task_document())
    # The stored document begins with the task's id: {"id":"<36 characters>".
    return _entry('","deleted":false,"task":', func.substr(SQLITE_STORED_DOCUMENT, 8, 36), SQLITE_STORED_DOCUMENT)


def _deletion_entry(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        task_id: ColumnElement[str] = cast(TaskTombstone.task_id, Text)
        deleted_at = timestamp_text(TaskTombstone.deleted_at)
    else:
        task_id = _dashed_sqlite(TaskTombstone.task_id)
        deleted_at = func.replace(TaskTombstone.deleted_at, " ", "T") + literal("Z", Text)
    return _entry('","deleted":true,"deleted_at":"', task_id, deleted_at + literal('"', Text))


def _position_text(dialect: str, seq: Any, task_id: Any) -> ColumnElement[str]:
    """A position as text that sorts as the position does: the greatest of a page is its last."""
    if dialect == "postgresql":
        text: ColumnElement[str] = func.lpad(cast(seq, Text), 20, "0", type_=Text) + cast(task_id, Text)
    else:
        text = func.printf("%020d", seq, type_=Text) + cast(task_id, Text)
    return text


# SQLite's alone (migration 0006): not in the models.
_CHANGE_CLOCK = table("change_clock", column("seq", BigInteger))
# Below every change a read may show: on PostgreSQL the oldest transaction still running, on SQLite one past the
# last counted write (all of them committed).
_HORIZON: dict[str, ColumnElement[int]] = {
    "postgresql": select(
        cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    ).scalar_subquery(),
    "sqlite": select(_CHANGE_CLOCK.c.seq + 1).scalar_subquery(),
}


def _after(seq: Any, task_id: Any, inclusive: bool) -> ColumnElement[bool]:
    row, start = tuple_(seq, task_id), tuple_(bindparam("seq", type_=BigInteger), bindparam("task", type_=Task.id.type))
    return row >= start if inclusive else row > start


@lru_cache(maxsize=8)
def changes_statement(dialect: str, inclusive: bool, with_deletions: bool) -> Select[Any]:
    horizon = _HORIZON[dialect]
    tasks = (
        select(Task.change_seq.label("seq"), Task.id.label("id"), _task_entry(dialect).label("entry"))
        .where(Task.user_id == bindparam("owner"), _after(Task.change_seq, Task.id, inclusive))
        .where(Task.change_seq < horizon)
        .order_by(Task.change_seq, Task.id)
        .limit(bindparam("fetch"))
    )
    parts = [tasks]
    if with_deletions:
        deletions = (
            select(TaskTombstone.change_seq, TaskTombstone.task_id, _deletion_entry(dialect))
            .where(TaskTombstone.user_id == bindparam("owner"))
            .where(_after(TaskTombstone.change_seq, TaskTombstone.task_id, inclusive))
            .where(TaskTombstone.change_seq < horizon, TaskTombstone.change_seq >= bindparam("floor"))
            .order_by(TaskTombstone.change_seq, TaskTombstone.task_id)
            .limit(bindparam("fetch"))
        )
        parts.append(deletions)
    # UNION ALL of parts each already limited, in order, then the first :fetch of them.
    merged = union_all(*(select(part.subquery()) for part in parts)).subquery("merged")
    page = select(merged).order_by(merged.c.seq, merged.c.id).limit(bindparam("fetch")).subquery("page")
    if dialect == "postgresql":
        joined: ColumnElement[Any] = func.string_agg(page.c.entry, literal_column("','"))
    else:
        joined = cast(func.group_concat(page.c.entry, literal_column("','")), LargeBinary)
    last = func.max(_position_text(dialect, page.c.seq, page.c.id))
    return select(joined, func.count(), last, horizon).select_from(page)


# Where each entry begins: no string value can hold these characters unescaped.
_ENTRY_START = b',{"id":"'


async def read_changes(
    work: UnitOfWork, user_id: str, after: Position | None, floor: int | None, limit: int
) -> ChangesPage:
    """The user's changes after ``after`` (from the beginning when None: every current task, no deletions),
    deletions only those standing at or after ``floor``; at most ``limit``."""
    start = after or Position()
    with_deletions = after is not None and floor is not None
    statement = changes_statement(work.dialect, start.inclusive, with_deletions)
    params: dict[str, Any] = {"owner": user_id, "seq": start.seq, "task": start.task_id, "fetch": limit + 1}
    if with_deletions:
        params["floor"] = floor
    row = await work.fetch_one(statement, params, alone=True)
    assert row is not None  # an aggregate always answers one row
    joined, fetched, last, horizon = row
    if not fetched:
        return ChangesPage(b"[]", False, start, horizon, 0)
    entries = joined.encode() if isinstance(joined, str) else joined
    last_position = Position(int(last[:20]), uuid.UUID(last[20:]))
    if fetched <= limit:
        return ChangesPage(b"[" + entries + b"]", False, last_position, horizon, fetched)
    # The row beyond the page is where the next page starts.
    entries = entries[: entries.rindex(_ENTRY_START)]
    following = Position(last_position.seq, last_position.task_id, True)
    return ChangesPage(b"[" + entries + b"]", True, following, horizon, limit)
