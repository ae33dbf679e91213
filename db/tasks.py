"""All task queries. Every statement is scoped to one user: another user's task does not exist.

Statements are built once with bind parameters, for each dialect, and compiled once by the backends
(``db.compiled``), so a request only supplies values. Each operation is a single statement, atomic on its own,
so it runs ``alone`` (in autocommit, see ``db.database.UnitOfWork``); only the error path reads a second time
(why a conditional write matched nothing), and that read runs in a transaction. A write sent with an
Idempotency-Key records its answer in the same step (``db.idempotency``). Results leave this module as
JSON bytes (``db.documents``), rendered by PostgreSQL, kept in the row by SQLite, or rendered by Python from the
values just written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn

import orjson
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Text,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.selectable import Subquery

from db import idempotency
from db.database import UnitOfWork
from db.documents import (
    SQLITE_STORED_DOCUMENT,
    SQLITE_STORED_DOCUMENT_BYTES,
    TASK_FIELDS,
    last_task,
    list_json,
    list_page,
    page_items,
    postgresql_task_document,
    stored_task_json,
    task_document,
    task_json,
)
from db.errors import is_key_conflict
from db.models import PRIORITY_RANKS, IdempotencyKey, Task, TaskCount, TaskTag


class TaskNotFound(Exception):
    """No task with this id belongs to this user."""


class PreconditionFailed(Exception):
    """The task exists, but not at any of the versions the write was conditional on."""


class VersionedTask(NamedTuple):
    json: bytes
    version: int


@dataclass(frozen=True)
class TaskFields:
    """What a client sets on a task: all of it on create and on a full replace."""

    title: str
    description: str | None = None
    priority: str = "Medium"
    tags: Iterable[str] = ()
    due_at: datetime | None = None

    def params(self) -> dict[str, Any]:
        return {
            "new_title": self.title,
            "new_description": self.description,
            "new_priority": PRIORITY_RANKS[self.priority],
            "new_tags": normalised_tags(self.tags),
            "new_due_at": self.due_at,
        }


def normalised_tags(tags: Iterable[str]) -> list[str]:
    """Tags as they are stored and compared: trimmed, lower-cased, each once, sorted."""
    return sorted({tag.strip().lower() for tag in tags})


# A position in a list: the sort's keys of the last task of a page, then its id, as its document writes them.
Position = tuple[Any, ...]
# Newest first, unless the client says otherwise.
DEFAULT_SORT = "-created_at"


@dataclass(frozen=True)
class ListQuery:
    completed: bool | None = None
    search: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    sort: str = DEFAULT_SORT
    limit: int = 1000
    # Where the previous page ended (pages by cursor), or how many tasks come before this page (by number).
    after: Position | None = None
    offset: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(normalised_tags(self.tags)))

    @property
    def shape(self) -> ListShape:
        return ListShape(
            self.sort,
            self.completed,
            self.search is not None,
            self.priority is not None,
            len(self.tags),
            None if self.after is None else self.after[0] is None,
            self.offset is not None,
        )


class ListShape(NamedTuple):
    """What decides a list's statement: which filters it has, its sort, and where it starts."""

    sort: str
    completed: bool | None
    search: bool
    priority: bool
    tags: int
    # None on a first page; else whether the position lacks its first key (a task without a due date).
    after_missing_key: bool | None
    offset: bool


class Page(NamedTuple):
    items_json: bytes  # a JSON array of tasks
    total: int  # tasks matching the filters, on every page
    # Where the next page starts, or None when this page is the last.
    last: Position | None

    def envelope(self, next_cursor: str | None) -> bytes:
        """The list's answer; ``next_cursor`` is ``last`` as the client is to send it back."""
        return list_json(self.items_json, self.total, next_cursor)


class _Key(NamedTuple):
    """One key of a sort: what the rows are ordered by, and the document field its position value comes from."""

    order: ColumnElement[Any] | InstrumentedAttribute[Any]
    field: str


_ID = _Key(Task.id, "id")
_CREATED = _Key(Task.created_at, "created_at")
# Each sort's keys, ascending; descending reverses all of them. Every sort ends in the id, so its order is total.
_SORT_KEYS: dict[str, tuple[_Key, ...]] = {
    "created_at": (_CREATED, _ID),
    "updated_at": (_Key(Task.updated_at, "updated_at"), _ID),
    "title": (_Key(Task.title, "title"), _ID),
    "priority": (_Key(Task.priority, "priority"), _CREATED, _ID),
    # Of the tasks with a due date; those without one follow them, by their other keys (list_statement).
    "due_at": (_Key(Task.due_at, "due_at"), _CREATED, _ID),
}
_LIKE_ESCAPE = "/"

_OWNED = (Task.id == bindparam("task"), Task.user_id == bindparam("owner"))
# Statements are compiled once to fixed SQL, so a list of values is one parameter: an array on PostgreSQL, a
# JSON array on SQLite.


def _one_of(column: InstrumentedAttribute[Any], name: str, type_: Any, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(type_)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))


_AT_VERSION = {dialect: _one_of(Task.version, "versions", Integer, dialect) for dialect in ("postgresql", "sqlite")}
_BUMP = {"updated_at": bindparam("now"), "version": Task.version + 1}
_SET_FIELDS: dict[str, Any] = {
    "title": bindparam("new_title"),
    "description": bindparam("new_description"),
    "priority": bindparam("new_priority"),
    "tags": bindparam("new_tags"),
    "due_at": bindparam("new_due_at"),
}
_EXISTS = select(Task.id).where(*_OWNED)
# Typed: the keyed create selects them, where nothing else gives PostgreSQL their types.
_CREATED_VALUES: dict[str, Any] = {
    "id": bindparam("new_id", type_=Task.id.type),
    "user_id": bindparam("owner", type_=Task.user_id.type),
    "is_completed": false(),
    "created_at": bindparam("now", type_=Task.created_at.type),
    "updated_at": bindparam("now", type_=Task.updated_at.type),
    "version": literal(1, Integer),
    **{name: bindparam(value.key, type_=getattr(Task, name).type) for name, value in _SET_FIELDS.items()},
}
_INSERT = insert(Task).values(**_CREATED_VALUES)


# Where a write puts its task in the changes feed (db.changes): on PostgreSQL the writing transaction's id, also
# the column's default for an INSERT; on SQLite triggers count writes (migration 0006).
_CHANGE_STAMP: dict[str, dict[str, Any]] = {
    "postgresql": {"change_seq": cast(cast(func.pg_current_xact_id(), Text), BigInteger)},
    "sqlite": {},
}


class Keyed(NamedTuple):
    """A write sent with an Idempotency-Key (``db.idempotency``): the write, returning what the write alone
    returns, and the INSERT of its answer to run after it (``UnitOfWork.write_then_record``); on PostgreSQL also
    ``fast``, both in one statement that holds the key, returning what the write alone returns."""

    write: Any
    record: Any
    fast: Any | None


def _keyed(
    dialect: str, write: Any, status: int, returned: tuple[Any, ...], document: ColumnElement[Any] | None
) -> Keyed:
    """``write`` (already conditioned) with its answer recorded: ``status``, and the task's ``document`` and
    version unless it is gone."""
    if document is None:
        record = idempotency.record_from(idempotency.answer_record(status))
    else:
        record = idempotency.record_from(idempotency.answer_record(status, document, Task.version), Task, *_OWNED)
    fast = None
    if dialect == "postgresql":
        written = write.where(idempotency.HOLDS_KEY).returning(*returned).cte("written")
        if document is None:
            fast = idempotency.record_from(idempotency.answer_record(status), written)
            fast = fast.returning(IdempotencyKey.status)
        else:
            values = idempotency.answer_record(status, written.c.document, written.c.version)
            fast = idempotency.record_from(values, written).returning(IdempotencyKey.body, IdempotencyKey.version)
    return Keyed(write.returning(*returned), record, fast)


def _statements(
    dialect: str, read: tuple[Any, ...], written: tuple[Any, ...], at_version: ColumnElement[bool]
) -> dict[str, Any]:
    """Every single-task statement of one dialect: a read answers ``read``, a write returns ``written``; each
    write also ``keyed`` (``Keyed``)."""
    stamp = {**_BUMP, **_CHANGE_STAMP[dialect]}
    replace = update(Task).where(*_OWNED).values(is_completed=bindparam("new_is_completed"), **_SET_FIELDS, **stamp)
    toggle = update(Task).where(*_OWNED).values(is_completed=not_(Task.is_completed), **stamp)
    remove = delete(Task).where(*_OWNED)
    document = _STORED_DOCUMENT[dialect]
    statements: dict[str, Any] = {"get": select(*read).where(*_OWNED)}
    for suffix, condition in (("", ()), (" if", (at_version,))):
        statements["replace" + suffix] = replace.where(*condition).returning(*written)
        statements["toggle" + suffix] = toggle.where(*condition).returning(*written)
        statements["delete" + suffix] = remove.where(*condition)
        statements["replace keyed" + suffix] = _keyed(dialect, replace.where(*condition), 200, written, document)
        statements["toggle keyed" + suffix] = _keyed(dialect, toggle.where(*condition), 200, written, document)
        statements["delete keyed" + suffix] = _keyed(dialect, remove.where(*condition), 204, (Task.id,), None)
    return statements


def _keyed_create(dialect: str) -> Keyed:
    """The create with its answer recorded: the task's id, and the body it was answered with."""
    values = idempotency.answer_record(
        201, bindparam("answer_body", type_=Text), literal(1, Integer), bindparam("new_id", type_=Task.id.type)
    )
    fast = None
    if dialect == "postgresql":
        # The answer first, if the key can be held: the task is inserted only from the answer's row.
        claimed = idempotency.record_from(values, None, idempotency.HOLDS_KEY).returning(IdempotencyKey.task_id)
        source = claimed.cte("claimed")
        created = select(*(value.label(name) for name, value in _CREATED_VALUES.items())).select_from(source)
        fast = insert(Task).from_select(list(_CREATED_VALUES), created).returning(Task.id)
    return Keyed(_INSERT.returning(Task.id), idempotency.record_from(values), fast)


KEYED_CREATE = {dialect: _keyed_create(dialect) for dialect in ("postgresql", "sqlite")}
_POSTGRESQL_DOCUMENT = (postgresql_task_document().label("document"), Task.version)
# A task's document as a statement reading it finds it: rendered by PostgreSQL, stored on SQLite.
_STORED_DOCUMENT = {"postgresql": _POSTGRESQL_DOCUMENT[0], "sqlite": SQLITE_STORED_DOCUMENT}
STATEMENTS = {
    "postgresql": _statements("postgresql", _POSTGRESQL_DOCUMENT, _POSTGRESQL_DOCUMENT, _AT_VERSION["postgresql"]),
    # A write's RETURNING sees its row before SQLite's triggers render the document (db.documents).
    "sqlite": _statements(
        "sqlite", (SQLITE_STORED_DOCUMENT_BYTES, Task.version), (*TASK_FIELDS, Task.version), _AT_VERSION["sqlite"]
    ),
}


# What a statement answers with on SQLite: the stored document, or the written row to render.
_RENDERED_FROM_ROW = {"replace", "toggle"}


def _statement(
    work: UnitOfWork, name: str, versions: Collection[int] | None, params: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    statements = STATEMENTS[work.dialect]
    if versions is None:
        return statements[name], params
    return statements[f"{name} if"], {**params, "versions": list(versions)}


async def _single(
    work: UnitOfWork,
    name: str,
    params: dict[str, Any],
    versions: Collection[int] | None = None,
    claim: idempotency.Claim | None = None,
) -> VersionedTask:
    if claim is None:
        statement, params = _statement(work, name, versions, params)
        row = await work.fetch_one(statement, params, alone=True)
        if row is None:
            await _explain_missing_row(work, params)
    else:
        keyed, params = _statement(work, f"{name} keyed", versions, params)
        row = await _keyed_write(work, keyed, params, claim)
    if work.dialect == "sqlite" and name in _RENDERED_FROM_ROW:
        return VersionedTask(stored_task_json(row), row[-1])
    document, version = row
    return VersionedTask(document.encode() if isinstance(document, str) else document, version)


async def _keyed_write(work: UnitOfWork, keyed: Keyed, params: dict[str, Any], claim: idempotency.Claim) -> Any:
    """The first row the write returns, its answer recorded under ``claim`` (``db.idempotency``); or it raises
    what the key's recorded answer says, or why the task did not match."""
    params = {**params, **claim.params(params["owner"])}
    try:
        if keyed.fast is not None:
            row = await work.fetch_one(keyed.fast, params, alone=True)
        else:
            row = await work.write_then_record(keyed.write, keyed.record, params, alone=True)
    except Exception as error:
        if not is_key_conflict(error):
            raise
        row = None
    if row is None:
        await idempotency.hold_or_replay(work, claim, params)
        row = await work.write_then_record(keyed.write, keyed.record, params)
        if row is None:
            await _explain_missing_row(work, params)
    return row


async def _explain_missing_row(work: UnitOfWork, params: dict[str, Any]) -> NoReturn:
    """A write that matched no row: the task is gone, or it is at another version than required."""
    exists = "versions" in params and await work.fetch_one(_EXISTS, params) is not None
    raise PreconditionFailed if exists else TaskNotFound


# ---- lists -----------------------------------------------------------------------------------------------


def _keys(sort: str) -> tuple[_Key, ...]:
    return _SORT_KEYS[sort.removeprefix("-")]


_USERS_TASKS = Task.user_id == bindparam("owner")


def _filters(shape: ListShape, *, tags_from: int = 0) -> list[ColumnElement[bool]]:
    """The conditions of the list's filters beyond the user, those of the tags from the ``tags_from``th on."""
    filters: list[ColumnElement[bool]] = []
    if shape.completed is not None:
        filters.append(Task.is_completed == (true() if shape.completed else false()))
    if shape.search:
        pattern: BindParameter[str] = bindparam("pattern")
        filters.append(
            or_(
                func.lower(Task.title).like(pattern, escape=_LIKE_ESCAPE),
                func.lower(Task.description).like(pattern, escape=_LIKE_ESCAPE),
            )
        )
    if shape.priority:
        filters.append(Task.priority == bindparam("priority"))
    # A condition per tag, each a look-up in task_tags' primary key for the task at hand, so that the page is
    # read in the order of the sort's index (_page_source).
    filters.extend(_carries(n) for n in range(tags_from, shape.tags))
    return filters


def _carries(n: int) -> ColumnElement[bool]:
    """Whether the task carries the ``n``th tag of the filter."""
    tagged = aliased(TaskTag)
    return exists().where(
        tagged.user_id == bindparam("owner"),
        tagged.tag == bindparam(f"tag_{n}"),
        tagged.created_at == Task.created_at,
        tagged.task_id == Task.id,
    )


# A tag filter in the default list's order walks the first tag's rows of task_tags, which are in that order, and
# reads only the tasks of the page: on SQLite 1.9 ms for 1,000 of a user's 2,500 tasks with the tag instead of
# 3.5 ms through the tasks' index, on PostgreSQL 4.9 ms instead of 10.6 (the default list: 1.0 and 3.1 ms).
_FIRST_TAG = (TaskTag.user_id == bindparam("owner"), TaskTag.tag == bindparam("tag_0"))
_TAG_WALK_KEYS = (_Key(TaskTag.created_at, "created_at"), _Key(TaskTag.task_id, "id"))
# The task of the enclosing statement's task_tags row.
_TAGGED_TASK = (Task.user_id == TaskTag.user_id, Task.created_at == TaskTag.created_at, Task.id == TaskTag.task_id)
# SQLite finds a page's tasks in the index the default list reads, where their keys lie together, rather than
# in the primary key, which it prefers without statistics (1.9 ms for 1,000 instead of 2.4): the unary + keeps
# SQLite from looking the id up in an index.
_ID_BY_DIALECT: dict[str, ColumnElement[Any]] = {
    "postgresql": Task.id.expression,
    "sqlite": UnaryExpression(Task.id.expression, operator=custom_op("+"), type_=Task.id.type),
}
# Where a task's row lies, which every index holds: the task is read again without a search.
_ROW_LOCATION: dict[str, ColumnElement[Any]] = {
    "postgresql": literal_column("tasks.ctid"),
    "sqlite": literal_column("tasks.rowid"),
}


class _PageSource(NamedTuple):
    """Where a list's page is chosen, in the order of ``keys``: documents, or ``finding``'s keys to them."""

    rows: Select[Any]
    keys: tuple[_Key, ...]
    finding: Callable[[Subquery], Sequence[ColumnElement[bool]]] | None


def _page_source(shape: ListShape, dialect: str) -> _PageSource:
    keys = _keys(shape.sort)
    if shape.tags and keys == _SORT_KEYS["created_at"]:
        rows = select(TaskTag.created_at, TaskTag.task_id).where(*_FIRST_TAG)
        if others := _filters(shape, tags_from=1):
            rows = rows.where(exists().where(*_TAGGED_TASK, *others))
        task_id = _ID_BY_DIALECT[dialect]
        return _PageSource(
            rows,
            _TAG_WALK_KEYS,
            lambda page: (_USERS_TASKS, Task.created_at == page.c.created_at, task_id == page.c.task_id),
        )
    if shape.tags:
        # The sort's index gives the order and task_tags each task's tags: each task the index passes is read
        # only if it is on the page (SQLite otherwise read every match, then sorted them: 17 ms for 5,000 of
        # 10,000 tasks, against 5.9).
        location = _ROW_LOCATION[dialect]
        rows = select(location.label("row")).select_from(Task).where(_USERS_TASKS, *_filters(shape))
        return _PageSource(rows, keys, lambda page: (location == page.c.row,))
    return _PageSource(task_document(dialect).where(_USERS_TASKS, *_filters(shape)), keys, None)


def _counter(shape: ListShape) -> ColumnElement[int] | None:
    """The trigger-kept counter of the tasks matching the filters, if one counts exactly them."""
    if shape.search or shape.tags:
        return None
    if shape.priority:
        if shape.completed is not None:
            return None
        by_rank = {PRIORITY_RANKS["High"]: TaskCount.high, PRIORITY_RANKS["Medium"]: TaskCount.medium}
        return case(by_rank, value=bindparam("priority"), else_=TaskCount.low)
    if shape.completed is None:
        return TaskCount.total.expression
    return TaskCount.completed.expression if shape.completed else TaskCount.total - TaskCount.completed


def _total(shape: ListShape) -> ColumnElement[int]:
    """How many tasks match the filters: from a trigger-kept counter, or task_tags, where they answer; else
    counted."""
    counter = _counter(shape)
    if counter is not None:
        return func.coalesce(select(counter).where(TaskCount.user_id == bindparam("owner")).scalar_subquery(), 0)
    if shape.tags and not (shape.search or shape.priority or shape.completed is not None):
        # Tags alone: task_tags knows, without reading a task.
        if shape.tags == 1:
            # A range of task_tags' primary key, one row per task.
            return select(func.count()).select_from(TaskTag).where(*_FIRST_TAG).scalar_subquery()
        tags: list[BindParameter[str]] = [bindparam(f"tag_{n}") for n in range(shape.tags)]
        carrying_all = (
            select(TaskTag.task_id)
            .where(TaskTag.user_id == bindparam("owner"), TaskTag.tag.in_(tags))
            .group_by(TaskTag.task_id)
            .having(func.count() == shape.tags)
            .subquery()
        )
        return select(func.count()).select_from(carrying_all).scalar_subquery()
    return select(func.count()).select_from(Task).where(_USERS_TASKS, *_filters(shape)).scalar_subquery()


@lru_cache(maxsize=512)
def list_statement(shape: ListShape, dialect: str) -> Select[Any]:
    """The list for one shape of query (filters, sort, first page or not), built once per shape and dialect.

    It reads one row beyond ``:limit`` to tell whether another page follows, and counts the matching tasks in
    the same statement, so a page and its ``count`` come from one snapshot.
    """
    source = _page_source(shape, dialect)
    descending = shape.sort.startswith("-")
    if source.keys[0].field != "due_at":
        rows = _in_order(source.rows, source.keys, descending, after=shape.after_missing_key is not None)
    else:
        # The tasks with a due date, then, in both directions, those without one by their other keys: each part
        # read in order from its index (idx_task_user_due, of the tasks with a due date alone, and the one of its
        # other keys), the second only as far as the page reaches into it.
        undated = source.rows.where(Task.due_at.is_(None))
        undated = _in_order(undated, source.keys[1:], descending, after=bool(shape.after_missing_key), first=1)
        if shape.after_missing_key:
            rows = undated
        else:
            dated = source.rows.where(Task.due_at.is_not(None))
            dated = _in_order(dated, source.keys, descending, after=shape.after_missing_key is not None)
            reach: ColumnElement[int] = bindparam("fetch")
            if shape.offset:
                reach = reach + bindparam("offset")
            # UNION ALL yields its parts in turn: neither database runs a part with a LIMIT in parallel.
            parts = union_all(*(select(part.limit(reach).subquery()) for part in (dated, undated)))
            rows = select(parts.subquery("parts"))
    rows = rows.limit(bindparam("fetch"))
    if shape.offset:
        rows = rows.offset(bindparam("offset"))
    return list_page(dialect, rows, _total(shape), finding=source.finding)


def _in_order(
    rows: Select[Any], keys: tuple[_Key, ...], descending: bool, *, after: bool, first: int = 0
) -> Select[Any]:
    """``rows`` in the order of ``keys``; ``after`` a position, whose values are the parameters ``after_{n}``
    from ``first`` on."""
    if after:
        position = [bindparam(f"after_{first + n}", type_=key.order.type) for n, key in enumerate(keys)]
        row = tuple_(*(key.order for key in keys))
        rows = rows.where(row < tuple_(*position) if descending else row > tuple_(*position))
    return rows.order_by(*(key.order.desc() if descending else key.order.asc() for key in keys))


def _position_value(field: str, value: Any) -> Any:
    """A position's value from a document, as the database compares it."""
    if value is None:
        return None
    if field == "id":
        return uuid.UUID(value)
    if field == "priority":
        return PRIORITY_RANKS[value]
    if field == "title":
        return str(value)
    return datetime.fromisoformat(value)


def _search_pattern(search: str) -> str:
    escaped = search.lower().replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
    # %, _ and the escape character itself are literal: a search, never a pattern.
    return "%" + escaped.replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_") + "%"


def list_params(user_id: str, query: ListQuery) -> dict[str, Any]:
    """The values of ``list_statement(query.shape, ...)``."""
    params: dict[str, Any] = {"owner": user_id, "fetch": query.limit + 1}
    if query.offset is not None:
        params["offset"] = query.offset
    if query.search is not None:
        params["pattern"] = _search_pattern(query.search)
    if query.priority is not None:
        params["priority"] = PRIORITY_RANKS[query.priority]
    params.update((f"tag_{n}", tag) for n, tag in enumerate(query.tags))
    if query.after is not None:
        keys = _keys(query.sort)
        # A cursor is signed for its list, so its position always has this sort's keys.
        for n, (key, value) in enumerate(zip(keys, query.after, strict=True)):
            params[f"after_{n}"] = _position_value(key.field, value)
    return params


async def list_tasks(work: UnitOfWork, user_id: str, query: ListQuery) -> Page:
    statement = list_statement(query.shape, work.dialect)
    page = await work.fetch_one(statement, list_params(user_id, query), alone=True)
    assert page is not None  # an aggregate always answers one row
    joined, fetched, matching = page
    items_json = page_items(joined, fetched, query.limit)
    if fetched <= query.limit:
        return Page(items_json, matching, None)
    keys = _keys(query.sort)
    last = last_task(items_json)
    return Page(items_json, matching, tuple(last[key.field] for key in keys))


# ---- single tasks ----------------------------------------------------------------------------------------


async def create_task(
    work: UnitOfWork, user_id: str, fields: TaskFields, claim: idempotency.Claim | None = None
) -> tuple[uuid.UUID, VersionedTask]:
    """The new task's id and the task; with ``claim``, its answer recorded under the key (``db.idempotency``)."""
    now = datetime.now(UTC)
    task_id = uuid.uuid4()
    params = {"new_id": task_id, "owner": user_id, "now": now, **fields.params()}
    # The row is exactly what is inserted, so it is rendered without being read back.
    created = {
        "id": task_id,
        "title": fields.title,
        "description": fields.description,
        "is_completed": False,
        "created_at": now,
        "updated_at": now,
        "user_id": user_id,
        "priority": fields.priority,
        "tags": params["new_tags"],
        "due_at": fields.due_at,
    }
    answer = VersionedTask(task_json(created), 1)
    if claim is None:
        await work.execute(_INSERT, params, alone=True)
    else:
        await _keyed_write(work, KEYED_CREATE[work.dialect], {**params, "answer_body": answer.json.decode()}, claim)
    return task_id, answer


async def get_task(work: UnitOfWork, user_id: str, task_id: uuid.UUID) -> VersionedTask:
    return await _single(work, "get", {"owner": user_id, "task": task_id})


async def update_task(
    work: UnitOfWork,
    user_id: str,
    task_id: uuid.UUID,
    fields: TaskFields,
    *,
    is_completed: bool,
    versions: Collection[int] | None = None,
    claim: idempotency.Claim | None = None,
) -> VersionedTask:
    """Replace the task; with ``versions``, only if it is currently at one of them; with ``claim``, its answer
    recorded under the key."""
    params = {
        "owner": user_id,
        "task": task_id,
        "now": datetime.now(UTC),
        "new_is_completed": is_completed,
        **fields.params(),
    }
    return await _single(work, "replace", params, versions, claim)


async def toggle_task(
    work: UnitOfWork,
    user_id: str,
    task_id: uuid.UUID,
    *,
    versions: Collection[int] | None = None,
    claim: idempotency.Claim | None = None,
) -> VersionedTask:
    # The flip happens inside the UPDATE, so concurrent toggles serialise on the row and none is lost.
    params = {"owner": user_id, "task": task_id, "now": datetime.now(UTC)}
    return await _single(work, "toggle", params, versions, claim)


async def delete_task(
    work: UnitOfWork,
    user_id: str,
    task_id: uuid.UUID,
    *,
    versions: Collection[int] | None = None,
    claim: idempotency.Claim | None = None,
) -> None:
    if claim is not None:
        keyed, params = _statement(work, "delete keyed", versions, {"owner": user_id, "task": task_id})
        await _keyed_write(work, keyed, params, claim)
        return
    statement, params = _statement(work, "delete", versions, {"owner": user_id, "task": task_id})
    if await work.execute(statement, params, alone=True) == 0:
        await _explain_missing_row(work, params)


# ---- metrics ---------------------------------------------------------------------------------------------

_OVERDUE = (
    select(func.count())
    .select_from(Task)
    # Read from the index of the tasks with a due date alone, which holds whether each is completed.
    .where(
        Task.user_id == bindparam("owner"),
        Task.due_at.is_not(None),
        Task.due_at < bindparam("now"),
        Task.is_completed == false(),
    )
    .scalar_subquery()
)
_METRICS = select(
    TaskCount.total, TaskCount.completed, TaskCount.high, TaskCount.medium, TaskCount.low, _OVERDUE
).where(TaskCount.user_id == bindparam("owner"))


async def task_metrics(work: UnitOfWork, user_id: str) -> bytes:
    """How many tasks the user has: in all, completed, pending, overdue and of each priority; as JSON."""
    row = await work.fetch_one(_METRICS, {"owner": user_id, "now": datetime.now(UTC)}, alone=True)
    total, completed, high, medium, low, overdue = row if row is not None else (0,) * 6
    return orjson.dumps(
        {
            "total": total,
            "completed": completed,
            "pending": total - completed,
            "overdue": overdue,
            "high_priority": high,
            "medium_priority": medium,
            "low_priority": low,
        }
    )
