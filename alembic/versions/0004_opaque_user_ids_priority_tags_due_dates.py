"""User ids as text (any identity provider's), and each task's priority, tags and due date.

Every existing task keeps its id, fields, version and timestamps; it reads back with the same JSON as before, with
``"priority":"Medium","tags":[],"due_at":null`` after it. A user id that was a UUID becomes its canonical text,
lower case with dashes, which is how the API names a UUID user in either user-id mode.

- ``tasks.user_id`` and ``task_counts.user_id`` become ``varchar(128)``.
- ``tasks`` gains ``priority`` (a rank: 1 Low, 2 Medium, 3 High, so the priority sort is a sort by a number),
  ``tags`` (trimmed, lower-cased, unique, sorted: a text array on PostgreSQL, a JSON array on SQLite) and
  ``due_at``.
- ``task_tags`` holds a row per (user, tag, task), kept by triggers from ``tasks.tags``: the tag filter is a
  look-up of the user's tag in its primary key, however many tasks the user has.
- ``task_counts`` gains counters per priority (the metrics answer from one row).
- An index per new sort: priority, and the due date twice, since tasks without one come last in both
  directions (``db.models.due_sort_key``). ``idx_task_user_id`` goes: every other index begins with the user.

On PostgreSQL the type change rewrites ``tasks`` and its indexes under an ACCESS EXCLUSIVE lock held until the
migration commits (README: the time per million rows). On SQLite, which cannot change a column's type, both
tables are rebuilt and their indexes and triggers made again; the stored documents are rendered anew.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import uuid
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_SORT_INDEXES = {
    "postgresql": [
        "CREATE INDEX idx_task_user_priority ON tasks (user_id, priority, created_at, id)",
        "CREATE INDEX idx_task_user_due_first ON tasks"
        " (user_id, coalesce(due_at, 'infinity'::timestamptz), created_at, id)",
        "CREATE INDEX idx_task_user_due_last ON tasks"
        " (user_id, coalesce(due_at, '-infinity'::timestamptz), created_at, id)",
    ],
    "sqlite": [
        "CREATE INDEX idx_task_user_priority ON tasks (user_id, priority, created_at, id)",
        "CREATE INDEX idx_task_user_due_first ON tasks (user_id, coalesce(due_at, '~'), created_at, id)",
        "CREATE INDEX idx_task_user_due_last ON tasks (user_id, coalesce(due_at, ''), created_at, id)",
    ],
}
_NEW_SORT_INDEX_NAMES = ("idx_task_user_priority", "idx_task_user_due_first", "idx_task_user_due_last")

# ---- PostgreSQL ------------------------------------------------------------------------------------------

_POSTGRESQL_COUNTS = """
CREATE OR REPLACE FUNCTION task_counts_follow_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_counts AS counts (user_id, total, completed, high, medium, low)
        VALUES (NEW.user_id, 1, NEW.is_completed::integer, (NEW.priority = 3)::integer,
                (NEW.priority = 2)::integer, (NEW.priority = 1)::integer)
        ON CONFLICT (user_id) DO UPDATE
            SET total = counts.total + 1, completed = counts.completed + excluded.completed,
                high = counts.high + excluded.high, medium = counts.medium + excluded.medium,
                low = counts.low + excluded.low;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE task_counts
            SET total = total - 1, completed = completed - OLD.is_completed::integer,
                high = high - (OLD.priority = 3)::integer, medium = medium - (OLD.priority = 2)::integer,
                low = low - (OLD.priority = 1)::integer
            WHERE user_id = OLD.user_id;
    ELSIF NEW.is_completed IS DISTINCT FROM OLD.is_completed OR NEW.priority IS DISTINCT FROM OLD.priority THEN
        UPDATE task_counts
            SET completed = completed + NEW.is_completed::integer - OLD.is_completed::integer,
                high = high + (NEW.priority = 3)::integer - (OLD.priority = 3)::integer,
                medium = medium + (NEW.priority = 2)::integer - (OLD.priority = 2)::integer,
                low = low + (NEW.priority = 1)::integer - (OLD.priority = 1)::integer
            WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$
"""
_POSTGRESQL_COUNTS_BEFORE = """
CREATE OR REPLACE FUNCTION task_counts_follow_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_counts AS counts (user_id, total, completed)
        VALUES (NEW.user_id, 1, NEW.is_completed::integer)
        ON CONFLICT (user_id) DO UPDATE
            SET total = counts.total + 1, completed = counts.completed + NEW.is_completed::integer;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE task_counts
            SET total = total - 1, completed = completed - OLD.is_completed::integer
            WHERE user_id = OLD.user_id;
    ELSIF NEW.is_completed IS DISTINCT FROM OLD.is_completed THEN
        UPDATE task_counts
            SET completed = completed + NEW.is_completed::integer - OLD.is_completed::integer
            WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$
"""
_POSTGRESQL_TAGS = [
    """
    CREATE FUNCTION task_tags_follow_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM task_tags WHERE user_id = OLD.user_id AND tag = ANY (OLD.tags) AND task_id = OLD.id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO task_tags (user_id, tag, task_id) SELECT NEW.user_id, tag, NEW.id FROM unnest(NEW.tags) AS tag;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # Conditions on the triggers, not in the function: a task without tags costs no function call.
    """
    CREATE TRIGGER tasks_tag_insert AFTER INSERT ON tasks FOR EACH ROW WHEN (cardinality(NEW.tags) > 0)
        EXECUTE FUNCTION task_tags_follow_tasks()
    """,
    """
    CREATE TRIGGER tasks_tag_update AFTER UPDATE OF tags ON tasks FOR EACH ROW WHEN (NEW.tags IS DISTINCT FROM OLD.tags)
        EXECUTE FUNCTION task_tags_follow_tasks()
    """,
    """
    CREATE TRIGGER tasks_tag_delete AFTER DELETE ON tasks FOR EACH ROW WHEN (cardinality(OLD.tags) > 0)
        EXECUTE FUNCTION task_tags_follow_tasks()
    """,
]


def _upgrade_postgresql() -> None:
    # One statement, so the table is rewritten once; the added columns' constant defaults cost no rewrite.
    op.execute(
        """
        ALTER TABLE tasks
            ALTER COLUMN user_id TYPE varchar(128) USING user_id::text,
            ADD COLUMN priority smallint NOT NULL DEFAULT 2
                CONSTRAINT ck_tasks_priority_rank CHECK (priority BETWEEN 1 AND 3),
            ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
            ADD COLUMN due_at timestamptz
        """
    )
    op.execute(
        """
        ALTER TABLE task_counts
            ALTER COLUMN user_id TYPE varchar(128) USING user_id::text,
            ADD COLUMN high integer NOT NULL DEFAULT 0,
            ADD COLUMN medium integer NOT NULL DEFAULT 0,
            ADD COLUMN low integer NOT NULL DEFAULT 0
        """
    )
    op.execute("UPDATE task_counts SET medium = total")  # every task so far is of Medium priority
    op.execute(_POSTGRESQL_COUNTS)
    op.execute("DROP TRIGGER tasks_maintain_counts ON tasks")
    op.execute(
        "CREATE TRIGGER tasks_maintain_counts AFTER INSERT OR DELETE OR UPDATE OF is_completed, priority ON tasks"
        " FOR EACH ROW EXECUTE FUNCTION task_counts_follow_tasks()"
    )
    op.execute(
        """
        CREATE TABLE task_tags (
            user_id varchar(128) NOT NULL,
            tag text NOT NULL,
            task_id uuid NOT NULL,
            CONSTRAINT pk_task_tags PRIMARY KEY (user_id, tag, task_id)
        )
        """
    )
    for statement in _POSTGRESQL_TAGS:
        op.execute(statement)
    op.execute("DROP INDEX idx_task_user_id")
    for statement in _NEW_SORT_INDEXES["postgresql"]:
        op.execute(statement)


def _downgrade_postgresql() -> None:
    for name in _NEW_SORT_INDEX_NAMES:
        op.execute(f"DROP INDEX {name}")
    op.execute("CREATE INDEX idx_task_user_id ON tasks (user_id)")
    op.execute("DROP TABLE task_tags")
    for name in ("tasks_tag_insert", "tasks_tag_update", "tasks_tag_delete"):
        op.execute(f"DROP TRIGGER {name} ON tasks")
    op.execute("DROP FUNCTION task_tags_follow_tasks()")
    op.execute("DROP TRIGGER tasks_maintain_counts ON tasks")
    op.execute(_POSTGRESQL_COUNTS_BEFORE)
    op.execute(
        "CREATE TRIGGER tasks_maintain_counts AFTER INSERT OR DELETE OR UPDATE OF is_completed ON tasks"
        " FOR EACH ROW EXECUTE FUNCTION task_counts_follow_tasks()"
    )
    op.execute(
        "ALTER TABLE task_counts ALTER COLUMN user_id TYPE uuid USING user_id::uuid,"
        " DROP COLUMN high, DROP COLUMN medium, DROP COLUMN low"
    )
    op.execute(
        "ALTER TABLE tasks ALTER COLUMN user_id TYPE uuid USING user_id::uuid,"
        " DROP COLUMN priority, DROP COLUMN tags, DROP COLUMN due_at"
    )


# ---- SQLite ----------------------------------------------------------------------------------------------


def _dashed(column: str) -> str:
    parts = (f"substr({column}, {start}, {length})" for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
    return " || '-' || ".join(parts)


def _document(row: str) -> str:
    """The task's JSON (db.documents), from a row of this revision's table."""
    return f"""json_object(
        'id', {_dashed(f"{row}.id")},
        'title', {row}.title,
        'description', {row}.description,
        'is_completed', json(CASE WHEN {row}.is_completed THEN 'true' ELSE 'false' END),
        'created_at', replace({row}.created_at, ' ', 'T') || 'Z',
        'updated_at', replace({row}.updated_at, ' ', 'T') || 'Z',
        'user_id', {row}.user_id,
        'priority', CASE {row}.priority WHEN 3 THEN 'High' WHEN 1 THEN 'Low' ELSE 'Medium' END,
        'tags', json({row}.tags),
        'due_at', replace({row}.due_at, ' ', 'T') || 'Z'
    )"""


def _document_before(row: str) -> str:
    """The task's JSON as revision 0003 rendered it."""
    return f"""json_object(
        'id', {_dashed(f"{row}.id")},
        'title', {row}.title,
        'description', {row}.description,
        'is_completed', json(CASE WHEN {row}.is_completed THEN 'true' ELSE 'false' END),
        'created_at', replace({row}.created_at, ' ', 'T') || 'Z',
        'updated_at', replace({row}.updated_at, ' ', 'T') || 'Z',
        'user_id', {_dashed(f"{row}.user_id")}
    )"""


_SQLITE_TASKS = """
CREATE TABLE tasks_rebuilt (
    id CHAR(32) NOT NULL,
    title VARCHAR(255) NOT NULL,
    description VARCHAR(2000),
    is_completed BOOLEAN DEFAULT 0 NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    user_id {user_id} NOT NULL,
    version INTEGER DEFAULT 1 NOT NULL,
    document TEXT,{new_columns}
    CONSTRAINT pk_tasks PRIMARY KEY (id),
    CONSTRAINT ck_tasks_title_not_blank CHECK (trim(title, char(9, 10, 11, 12, 13, 32)) <> ''){new_constraints}
)
"""
_SQLITE_NEW_COLUMNS = """
    priority SMALLINT DEFAULT 2 NOT NULL,
    tags JSON DEFAULT '[]' NOT NULL,
    due_at DATETIME,"""
_SQLITE_OLD_COLUMNS = "id, title, description, is_completed, created_at, updated_at, user_id, version"
_SQLITE_INDEXES = [
    "CREATE INDEX idx_task_user_created ON tasks (user_id, created_at DESC, id DESC)",
    "CREATE INDEX idx_task_user_updated ON tasks (user_id, updated_at DESC, id DESC)",
    "CREATE INDEX idx_task_user_title ON tasks (user_id, title, id)",
    "CREATE INDEX idx_task_user_completed_created ON tasks (user_id, is_completed, created_at DESC, id DESC)",
]
_SQLITE_TASK_COUNTS = """
CREATE TABLE task_counts_rebuilt (
    user_id {user_id} NOT NULL,
    total INTEGER DEFAULT 0 NOT NULL,
    completed INTEGER DEFAULT 0 NOT NULL,{new_columns}
    CONSTRAINT pk_task_counts PRIMARY KEY (user_id)
)
"""
_SQLITE_COUNT_COLUMNS = """
    high INTEGER DEFAULT 0 NOT NULL,
    medium INTEGER DEFAULT 0 NOT NULL,
    low INTEGER DEFAULT 0 NOT NULL,"""

# Every column of the document; not the document itself, so the trigger's own UPDATE fires nothing.
_RENDERED_FIELDS = "id, title, description, is_completed, created_at, updated_at, user_id, priority, tags, due_at"
_SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER tasks_render_inserted AFTER INSERT ON tasks BEGIN
        UPDATE tasks SET document = {_document("NEW")} WHERE rowid = NEW.rowid;
    END
    """,
    f"""
    CREATE TRIGGER tasks_render_updated AFTER UPDATE OF {_RENDERED_FIELDS} ON tasks BEGIN
        UPDATE tasks SET document = {_document("NEW")} WHERE rowid = NEW.rowid;
    END
    """,
    """
    CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO task_counts (user_id, total, completed, high, medium, low)
        VALUES (NEW.user_id, 1, NEW.is_completed, NEW.priority = 3, NEW.priority = 2, NEW.priority = 1)
        ON CONFLICT (user_id) DO UPDATE
            SET total = total + 1, completed = completed + excluded.completed, high = high + excluded.high,
                medium = medium + excluded.medium, low = low + excluded.low;
    END
    """,
    """
    CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
        UPDATE task_counts
            SET total = total - 1, completed = completed - OLD.is_completed, high = high - (OLD.priority = 3),
                medium = medium - (OLD.priority = 2), low = low - (OLD.priority = 1)
            WHERE user_id = OLD.user_id;
    END
    """,
    """
    CREATE TRIGGER tasks_count_change AFTER UPDATE OF is_completed, priority ON tasks
    WHEN NEW.is_completed IS NOT OLD.is_completed OR NEW.priority IS NOT OLD.priority BEGIN
        UPDATE task_counts
            SET completed = completed + NEW.is_completed - OLD.is_completed,
                high = high + (NEW.priority = 3) - (OLD.priority = 3),
                medium = medium + (NEW.priority = 2) - (OLD.priority = 2),
                low = low + (NEW.priority = 1) - (OLD.priority = 1)
            WHERE user_id = NEW.user_id;
    END
    """,
    """
    CREATE TRIGGER tasks_tag_insert AFTER INSERT ON tasks WHEN NEW.tags <> '[]' BEGIN
        INSERT INTO task_tags (user_id, tag, task_id) SELECT NEW.user_id, value, NEW.id FROM json_each(NEW.tags);
    END
    """,
    """
    CREATE TRIGGER tasks_tag_update AFTER UPDATE OF tags ON tasks WHEN NEW.tags IS NOT OLD.tags BEGIN
        DELETE FROM task_tags
            WHERE user_id = OLD.user_id AND tag IN (SELECT value FROM json_each(OLD.tags)) AND task_id = OLD.id;
        INSERT INTO task_tags (user_id, tag, task_id) SELECT NEW.user_id, value, NEW.id FROM json_each(NEW.tags);
    END
    """,
    """
    CREATE TRIGGER tasks_tag_delete AFTER DELETE ON tasks WHEN OLD.tags <> '[]' BEGIN
        DELETE FROM task_tags
            WHERE user_id = OLD.user_id AND tag IN (SELECT value FROM json_each(OLD.tags)) AND task_id = OLD.id;
    END
    """,
]
_SQLITE_TRIGGERS_BEFORE = [
    f"""
    CREATE TRIGGER tasks_render_inserted AFTER INSERT ON tasks BEGIN
        UPDATE tasks SET document = {_document_before("NEW")} WHERE rowid = NEW.rowid;
    END
    """,
    f"""
    CREATE TRIGGER tasks_render_updated AFTER UPDATE OF {_SQLITE_OLD_COLUMNS.removesuffix(", version")} ON tasks BEGIN
        UPDATE tasks SET document = {_document_before("NEW")} WHERE rowid = NEW.rowid;
    END
    """,
    """
    CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO task_counts (user_id, total, completed) VALUES (NEW.user_id, 1, NEW.is_completed)
        ON CONFLICT (user_id) DO UPDATE
            SET total = total + 1, completed = completed + excluded.completed;
    END
    """,
    """
    CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
        UPDATE task_counts SET total = total - 1, completed = completed - OLD.is_completed
            WHERE user_id = OLD.user_id;
    END
    """,
    """
    CREATE TRIGGER tasks_count_completion AFTER UPDATE OF is_completed ON tasks
    WHEN NEW.is_completed IS NOT OLD.is_completed BEGIN
        UPDATE task_counts SET completed = completed + NEW.is_completed - OLD.is_completed
            WHERE user_id = NEW.user_id;
    END
    """,
]


def _replace(table: str) -> None:
    op.execute(f"DROP TABLE {table}")  # its indexes and triggers with it
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")


def _upgrade_sqlite() -> None:
    op.execute(
        _SQLITE_TASKS.format(
            user_id="VARCHAR(128)",
            new_columns=_SQLITE_NEW_COLUMNS,
            new_constraints=",\n    CONSTRAINT ck_tasks_priority_rank CHECK (priority BETWEEN 1 AND 3)",
        )
    )
    # SQLAlchemy kept a UUID on SQLite as 32 hex digits in lower case; as text it is the canonical form.
    op.execute(
        f"INSERT INTO tasks_rebuilt ({_SQLITE_OLD_COLUMNS})"
        f" SELECT {_SQLITE_OLD_COLUMNS.replace('user_id', _dashed('user_id'))} FROM tasks"
    )
    op.execute(f"UPDATE tasks_rebuilt SET document = {_document('tasks_rebuilt')}")
    _replace("tasks")
    op.execute(_SQLITE_TASK_COUNTS.format(user_id="VARCHAR(128)", new_columns=_SQLITE_COUNT_COLUMNS))
    op.execute(
        "INSERT INTO task_counts_rebuilt (user_id, total, completed, medium)"
        f" SELECT {_dashed('user_id')}, total, completed, total FROM task_counts"
    )
    _replace("task_counts")
    op.execute(
        """
        CREATE TABLE task_tags (
            user_id VARCHAR(128) NOT NULL,
            tag TEXT NOT NULL,
            task_id CHAR(32) NOT NULL,
            CONSTRAINT pk_task_tags PRIMARY KEY (user_id, tag, task_id)
        )
        """
    )
    for statement in [*_SQLITE_INDEXES, *_NEW_SORT_INDEXES["sqlite"], *_SQLITE_TRIGGERS]:
        op.execute(statement)


def _downgrade_sqlite() -> None:
    op.execute("DROP TABLE task_tags")
    op.execute(_SQLITE_TASKS.format(user_id="CHAR(32)", new_columns="", new_constraints=""))
    undashed = _SQLITE_OLD_COLUMNS.replace("user_id", "replace(user_id, '-', '')")
    op.execute(f"INSERT INTO tasks_rebuilt ({_SQLITE_OLD_COLUMNS}) SELECT {undashed} FROM tasks")
    op.execute(f"UPDATE tasks_rebuilt SET document = {_document_before('tasks_rebuilt')}")
    _replace("tasks")
    op.execute(_SQLITE_TASK_COUNTS.format(user_id="CHAR(32)", new_columns=""))
    op.execute(
        "INSERT INTO task_counts_rebuilt (user_id, total, completed)"
        " SELECT replace(user_id, '-', ''), total, completed FROM task_counts"
    )
    _replace("task_counts")
    for statement in ["CREATE INDEX idx_task_user_id ON tasks (user_id)", *_SQLITE_INDEXES, *_SQLITE_TRIGGERS_BEFORE]:
        op.execute(statement)


def _refuse_ids_that_are_not_uuids() -> None:
    """Before this revision user ids were UUIDs: a database that holds others cannot go back."""
    users = op.get_bind().exec_driver_sql("SELECT DISTINCT user_id FROM tasks").scalars()
    others = 0
    for user in users:
        try:
            others += str(uuid.UUID(user)) != user
        except ValueError:
            others += 1
    if others:
        raise RuntimeError(f"cannot downgrade below 0004: {others} users have ids that are not UUIDs")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    _refuse_ids_that_are_not_uuids()
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
