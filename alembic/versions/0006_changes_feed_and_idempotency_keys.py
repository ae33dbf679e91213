"""The changes feed's order and deletions, and the answers kept for ``Idempotency-Key`` (db.changes,
db.idempotency).

- ``tasks.change_seq``: where the task's last write stands in the user's changes feed. On PostgreSQL the id of
  the transaction that wrote it (``pg_current_xact_id()``, 64-bit, never reused); the feed reads only
  transactions older than every one still running, so one that commits late is never passed over. On SQLite,
  whose writes are serialised, a counter (``change_clock``) that every write advances inside its transaction,
  by triggers. Existing tasks get 0: they all come first, by id.
- ``task_tombstones``: a row per deleted task (trigger on ``tasks``), in the feed's order, purged after
  ``TASKS_API_TOMBSTONE_DAYS``.
- ``idempotency_keys``: the answer to each write sent with an ``Idempotency-Key``, per user, written in the same
  statement as the write, purged after ``TASKS_API_IDEMPOTENCY_TTL``.

Every task reads back as it did. On PostgreSQL the new column's constant default costs no rewrite; building
the feed's index holds a SHARE lock on ``tasks`` (reads go on, writes wait) until the migration commits.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The writing transaction's id, as a bigint (an xid8 is 64 bits that never wrap; none reaches 2^63).
POSTGRESQL_TRANSACTION_ID = "pg_current_xact_id()::text::bigint"

_POSTGRESQL_TOMBSTONES = [
    f"""
    CREATE FUNCTION task_tombstones_follow_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO task_tombstones (user_id, change_seq, task_id, deleted_at)
            VALUES (OLD.user_id, {POSTGRESQL_TRANSACTION_ID}, OLD.id, statement_timestamp());
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER tasks_tombstone AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION task_tombstones_follow_tasks()",
]
_NEXT_CHANGE = "UPDATE change_clock SET seq = seq + 1;"
_STAMP_NEW_ROW = f"{_NEXT_CHANGE} UPDATE tasks SET change_seq = (SELECT seq FROM change_clock) WHERE rowid = NEW.rowid;"
# Every write of a task bumps its version; the stamp's own UPDATE does not, so it fires nothing again.
_SQLITE_TRIGGERS = [
    "CREATE TABLE change_clock (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)",
    "INSERT INTO change_clock (id, seq) VALUES (1, 0)",
    f"CREATE TRIGGER tasks_stamp_inserted AFTER INSERT ON tasks BEGIN {_STAMP_NEW_ROW} END",
    f"CREATE TRIGGER tasks_stamp_updated AFTER UPDATE OF version ON tasks BEGIN {_STAMP_NEW_ROW} END",
    # Stored as SQLAlchemy stores a moment on SQLite: "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (SQLite gives
    # milliseconds).
    f"""
    CREATE TRIGGER tasks_tombstone AFTER DELETE ON tasks BEGIN {_NEXT_CHANGE}
        INSERT INTO task_tombstones (user_id, change_seq, task_id, deleted_at)
            VALUES (OLD.user_id, (SELECT seq FROM change_clock), OLD.id, strftime('%Y-%m-%d %H:%M:%f000', 'now'));
    END
    """,
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Plain ALTERs on both: a batch copy of ``tasks`` on SQLite would lose its triggers.
    op.execute("ALTER TABLE tasks ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0")
    if dialect == "postgresql":
        op.execute(f"ALTER TABLE tasks ALTER COLUMN change_seq SET DEFAULT {POSTGRESQL_TRANSACTION_ID}")
    op.create_index("idx_task_user_change", "tasks", ["user_id", "change_seq", "id"])
    op.create_table(
        "task_tombstones",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "change_seq", "task_id", name=op.f("pk_task_tombstones")),
    )
    op.create_index("idx_task_tombstones_deleted_at", "task_tombstones", ["deleted_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("idx_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    for statement in _POSTGRESQL_TOMBSTONES if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER tasks_tombstone ON tasks")
        op.execute("DROP FUNCTION task_tombstones_follow_tasks()")
    else:
        for trigger in ("tasks_tombstone", "tasks_stamp_updated", "tasks_stamp_inserted"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE change_clock")
    op.drop_table("idempotency_keys")
    op.drop_table("task_tombstones")
    op.drop_index("idx_task_user_change", table_name="tasks")
    op.execute("ALTER TABLE tasks DROP COLUMN change_seq")
