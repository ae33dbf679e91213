"""The JSON the service answers with: a task's document and the list envelope, each in one place.

The task's fields are listed once, ``TASK_FIELDS``, and rendered three ways to the same bytes: compact JSON,
keys in that order, RFC 3339 UTC timestamps with microseconds and a Z, the priority by name, the tags as an
array. PostgreSQL renders them itself (one
value crosses the wire per page instead of a row per task, and Python never touches the fields); SQLite
renders each on write and keeps it in the row; Python renders a task it has just created or changed on SQLite
with orjson, from the values it wrote.

PostgreSQL's ``row_to_json`` and SQLite's ``json_object`` write compact JSON and escape strings as orjson
does (``\\"``, ``\\\\``, the short escapes for backspace, form feed, newline, carriage return and tab,
``\\u00xx`` in lower case for the other control characters, everything else as UTF-8); PostgreSQL's
``json_build_object`` and ``json_agg`` would add spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    LargeBinary,
    Select,
    Text,
    Uuid,
    case,
    cast,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import LateralFromClause, Subquery

from db.models import PRIORITY_RANKS, Task, UTCDateTime

# The document's keys are the columns' names, in this order (new fields go last: a document written before
# they existed reads back as the same bytes up to them).
TASK_FIELDS: tuple[InstrumentedAttribute[Any], ...] = (
    Task.id,
    Task.title,
    Task.description,
    Task.is_completed,
    Task.created_at,
    Task.updated_at,
    Task.user_id,
    Task.priority,
    Task.tags,
    Task.due_at,
)
_KEYS = tuple(field.key for field in TASK_FIELDS)
PRIORITY_NAMES = {rank: name for name, rank in PRIORITY_RANKS.items()}

_RFC3339_UTC: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")


def timestamp(moment: datetime) -> str:
    # isoformat, not strftime: strftime writes a year before 1000 with fewer than four digits. In UTC it ends in
    # "+00:00", which becomes the Z.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def timestamp_text(column: Any) -> ColumnElement[str]:
    """``timestamp`` in SQL, for PostgreSQL."""
    return func.to_char(func.timezone(literal_column("'UTC'"), column), _RFC3339_UTC)


# ---- Python ----------------------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    # orjson writes UUIDs as canonical strings itself; its own timestamps drop a zero microsecond part.
    return orjson.dumps(value, default=timestamp, option=orjson.OPT_PASSTHROUGH_DATETIME)


def task_json(task: Mapping[str, Any]) -> bytes:
    """One task's document, from its fields by name as the API gives them (the priority by name, the due date
    as a datetime or None)."""
    return _json({key: task[key] for key in _KEYS})


def list_json(items_json: bytes, count: int, next_cursor: str | None) -> bytes:
    """The list envelope around a JSON array of tasks."""
    return b'{"items":%b,"count":%d,"next_cursor":%b}' % (items_json, count, orjson.dumps(next_cursor))


def last_task(items_json: bytes) -> dict[str, Any]:
    """The last task of a non-empty page, parsed: where the next page begins."""
    # Past the comma before it, or past the opening bracket when it is the only one.
    return dict(orjson.loads(items_json[max(items_json.rfind(_DOCUMENT_START_BYTES), 0) + 1 : -1]))


# ---- PostgreSQL ------------------------------------------------------------------------------------------


def _postgresql_value(field: InstrumentedAttribute[Any]) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    if isinstance(field.type, UTCDateTime):
        return timestamp_text(field)
    if field is Task.priority:
        return case({rank: literal_column(f"'{name}'") for rank, name in PRIORITY_NAMES.items()}, value=field)
    return field


def _document_row() -> LateralFromClause:
    """The enclosing statement's task as a row whose column names and order are the document's keys."""
    values = (_postgresql_value(field).label(key) for field, key in zip(TASK_FIELDS, _KEYS, strict=True))
    return select(*values).correlate(Task).lateral("task")


def postgresql_task_document() -> ColumnElement[str]:
    """One task's document as text, for a statement that selects or returns a task (not an INSERT's RETURNING:
    SQLAlchemy does not correlate to the inserted table)."""
    return cast(select(func.row_to_json(_document_row().table_valued())).scalar_subquery(), Text)


# ---- SQLite ----------------------------------------------------------------------------------------------
# Each row keeps its document, rendered by triggers on every write (migration 0004), so a read only copies it:
# rendering a page of 1,000 on every read cost 3-8 ms, in Python or in SQLite's json_object. Not in the models,
# which mirror what both databases have.
SQLITE_STORED_DOCUMENT: ColumnElement[str] = literal_column("tasks.document", Text)
# Read as a BLOB, SQLite's text comes out as the bytes an answer is made of: for a list of 1,000, no decoding into
# a str and encoding back (1.5% of its instructions).
SQLITE_STORED_DOCUMENT_BYTES: ColumnElement[bytes] = cast(SQLITE_STORED_DOCUMENT, LargeBinary)
# Where each document of a page begins: no string value can hold these characters unescaped.
_DOCUMENT_START_BYTES = (',{"' + _KEYS[0] + '":"').encode()


def task_document(dialect: str) -> Select[Any]:
    """The document of the task the enclosing statement selects from ``tasks``, as column ``document``."""
    if dialect == "postgresql":
        row = _document_row()
        rendered = cast(func.row_to_json(row.table_valued()), Text)
        return select(rendered.label("document")).select_from(Task).join(row, true())
    return select(SQLITE_STORED_DOCUMENT.label("document")).select_from(Task)


def list_page(
    dialect: str,
    page: Select[Any],
    total: ColumnElement[int],
    *,
    finding: Callable[[Subquery], Sequence[ColumnElement[bool]]] | None = None,
) -> Select[Any]:
    """A page as one row: its documents (PostgreSQL's rendered, SQLite's stored) joined by commas in order, how
    many were read, and the filter's total.

    ``page`` yields the page's rows in order, up to ``:fetch`` (``:limit`` + 1, where one more means another page
    follows): their documents (``task_document``), or, given ``finding``, keys by which ``finding`` picks each
    row's task, whose document is then read. Keys first, when the page is chosen where the documents are not
    (an index, task_tags), so that only the page's tasks are read.

    Both databases aggregate the rows in the order the sorted subquery yields them (PostgreSQL documents it for a
    subquery with nothing above it that could reorder it; the list tests pin every sort's order). One string per
    page instead of a row per task: on SQLite a list of 1,000 took 0.6 ms in process instead of 2.8 ms; on
    PostgreSQL, against numbering the rows and aggregating them in that order, a list of 1,000 cost PostgreSQL
    3.9 ms instead of 4.6 (the least of 25 runs each).
    """
    paged = page.subquery("page")
    if finding is None:
        documents: ColumnElement[Any] = paged.c.document
    else:
        documents = task_document(dialect).where(*finding(paged)).scalar_subquery()
    # The separator is a literal: SQLite re-reads a bound one on every row (3-4% of a list of 1,000, counted in
    # instructions).
    if dialect == "postgresql":
        joined: ColumnElement[Any] = func.string_agg(documents, literal_column("','"))
    else:
        joined = cast(func.group_concat(documents, literal_column("','")), LargeBinary)
    return select(joined, func.count(), total).select_from(paged)


def page_items(joined: str | bytes | None, fetched: int, limit: int) -> bytes:
    """The JSON array of a page from ``list_page``'s documents (text from PostgreSQL, bytes from SQLite), without
    the one beyond ``limit``."""
    if not joined:
        return b"[]"
    documents = joined.encode() if isinstance(joined, str) else joined
    if fetched > limit:
        documents = documents[: documents.rindex(_DOCUMENT_START_BYTES)]
    return b"[" + documents + b"]"


# A write's RETURNING sees its row before those triggers run, so a written task is rendered here from the
# values as SQLAlchemy stores them on SQLite (and db.sqlite binds them): a UUID as 32 lower-case hex digits, a
# timestamp as UTC text "YYYY-MM-DD HH:MM:SS.ffffff", a boolean as 0 or 1, the priority as its rank, the tags
# as a JSON array.


def _dashed(hex_digits: str) -> str:
    h = hex_digits
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _rfc3339(stored: str | None) -> str | None:
    return stored.replace(" ", "T") + "Z" if stored is not None else None


def _stored_as_is(value: Any) -> Any:
    return value


def _sqlite_converter(field: InstrumentedAttribute[Any]) -> Callable[[Any], Any]:
    if isinstance(field.type, Uuid):
        return _dashed
    if isinstance(field.type, UTCDateTime):
        return _rfc3339
    if isinstance(field.type, Boolean):
        return bool
    if field is Task.priority:
        return PRIORITY_NAMES.__getitem__
    if field is Task.tags:
        return orjson.Fragment
    return _stored_as_is


_SQLITE_CONVERTERS = tuple(_sqlite_converter(field) for field in TASK_FIELDS)


def stored_task_json(row: Sequence[Any]) -> bytes:
    """One task's document from a SQLite row that starts with ``TASK_FIELDS`` as stored."""
    return orjson.dumps(
        {key: convert(value) for key, convert, value in zip(_KEYS, _SQLITE_CONVERTERS, row, strict=False)}
    )
