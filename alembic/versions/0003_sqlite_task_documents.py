"""On SQLite, each task's JSON document kept in its row by triggers; on PostgreSQL, which renders it itself, nothing.

On SQLite the service runs in the same process as the database, so rendering a page of 1,000 tasks on every
read (about 3-8 ms, in Python or in SQLite's json_object) was most of a list's cost; rendered once per write, a
read only copies it. PostgreSQL renders documents in its own process and keeps none (nothing changes there).
The document is the one ``db.documents`` describes: the fields in order, UUIDs with dashes, timestamps as
RFC 3339 UTC with microseconds and a Z, ``is_completed`` a JSON boolean (a test pins the three renderings
together).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dashed(column: str) -> str:
    parts = (f"substr({column}, {start}, {length})" for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
    return " || '-' || ".join(parts)


def _document(row: str) -> str:
    return f"""json_object(
        'id', {_dashed(f"{row}.id")},
        'title', {row}.title,
        'description', {row}.description,
        'is_completed', json(CASE WHEN {row}.is_completed THEN 'true' ELSE 'false' END),
        'created_at', replace({row}.created_at, ' ', 'T') || 'Z',
        'updated_at', replace({row}.updated_at, ' ', 'T') || 'Z',
        'user_id', {_dashed(f"{row}.user_id")}
    )"""


_RENDER_NEW_ROW = f"UPDATE tasks SET document = {_document('NEW')} WHERE rowid = NEW.rowid;"
# Every column of the document; not document itself, so the trigger's own UPDATE fires nothing.
_FIELDS = "id, title, description, is_completed, created_at, updated_at, user_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ALTER TABLE tasks ADD COLUMN document TEXT")
    op.execute(f"UPDATE tasks SET document = {_document('tasks')}")
    op.execute(f"CREATE TRIGGER tasks_render_inserted AFTER INSERT ON tasks BEGIN {_RENDER_NEW_ROW} END")
    op.execute(f"CREATE TRIGGER tasks_render_updated AFTER UPDATE OF {_FIELDS} ON tasks BEGIN {_RENDER_NEW_ROW} END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER tasks_render_updated")
    op.execute("DROP TRIGGER tasks_render_inserted")
    op.execute("ALTER TABLE tasks DROP COLUMN document")
