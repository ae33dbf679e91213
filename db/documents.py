"""PostgreSQL renders tasks and list pages as JSON itself: one value crosses the wire per page instead of
a row per task, and Python never touches the fields. The JSON is identical to the Python rendering in
``db.tasks`` (same keys, RFC 3339 UTC timestamps with microseconds and a Z)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, bindparam, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Task

_RFC3339_UTC: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")


def _key(name: str) -> ColumnElement[Any]:
    # A literal, not a bind parameter: json_build_object cannot infer the type of an untyped parameter.
    return literal_column(f"'{name}'")


def timestamp_text(column: Any) -> ColumnElement[str]:
    return func.to_char(func.timezone(literal_column("'UTC'"), column), _RFC3339_UTC)


def _document() -> ColumnElement[Any]:
    fields: list[Any] = [
        _key("id"), Task.id,
        _key("title"), Task.title,
        _key("description"), Task.description,
        _key("is_completed"), Task.is_completed,
        _key("created_at"), timestamp_text(Task.created_at),
        _key("updated_at"), timestamp_text(Task.updated_at),
        _key("user_id"), Task.user_id,
    ]  # fmt: skip
    return func.json_build_object(*fields)


def task_document() -> ColumnElement[str]:
    """One task as JSON text."""
    return cast(_document(), Text)


def list_page_document(
    conditions: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[Any]],
    key: InstrumentedAttribute[Any],
    total: ColumnElement[int],
) -> Select[Any]:
    """A page as one row: the JSON array of its tasks, how many rows were read (``:limit`` + 1 means another
    page follows), the last task's sort key and id (where the next page starts) and the filter's total."""
    key_text = timestamp_text(key) if key is not Task.title else key
    page = (
        select(
            _document().label("document"),
            key_text.label("key"),
            Task.id.label("id"),
            func.row_number().over(order_by=order).label("position"),
        )
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("fetch"))
        .subquery("page")
    )
    on_page = page.c.position <= bindparam("limit")
    is_last = page.c.position == bindparam("limit")
    items = func.json_agg(aggregate_order_by(page.c.document, page.c.position)).filter(on_page)
    return select(
        cast(func.coalesce(items, literal_column("'[]'::json")), Text).label("items"),
        func.count().label("fetched"),
        func.max(page.c.key).filter(is_last).label("last_key"),
        func.max(cast(page.c.id, Text)).filter(is_last).label("last_id"),
        total.label("matching"),
    )
