"""Indexes for every list sort, per-user task counters, and a version for conditional requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counters keep `count` O(1) for the unfiltered and completed-filtered lists, whatever a user holds.
# Triggers maintain them, so no write path can forget to.
_POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION task_counts_follow_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
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
    """,
    """
    CREATE TRIGGER tasks_maintain_counts
        AFTER INSERT OR DELETE OR UPDATE OF is_completed ON tasks
        FOR EACH ROW EXECUTE FUNCTION task_counts_follow_tasks()
    """,
]
_SQLITE_TRIGGERS = [
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
_DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER tasks_maintain_counts ON tasks",
        "DROP FUNCTION task_counts_follow_tasks()",
    ],
    "sqlite": [
        "DROP TRIGGER tasks_count_insert",
        "DROP TRIGGER tasks_count_delete",
        "DROP TRIGGER tasks_count_completion",
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("tasks") as tasks:
        tasks.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))

    # Every sort is (key, id) in one direction, so one index per key serves both directions and keyset
    # pagination; the id suffix makes the order total.
    op.drop_index("idx_task_user_created", table_name="tasks")
    op.create_index("idx_task_user_created", "tasks", ["user_id", sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_index("idx_task_user_updated", "tasks", ["user_id", sa.text("updated_at DESC"), sa.text("id DESC")])
    op.create_index("idx_task_user_title", "tasks", ["user_id", "title", "id"])
    op.create_index(
        "idx_task_user_completed_created",
        "tasks",
        ["user_id", "is_completed", sa.text("created_at DESC"), sa.text("id DESC")],
    )

    op.create_table(
        "task_counts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_task_counts")),
    )
    op.execute(
        "INSERT INTO task_counts (user_id, total, completed) "
        "SELECT user_id, count(*), sum(CASE WHEN is_completed THEN 1 ELSE 0 END) FROM tasks GROUP BY user_id"
    )
    for statement in _POSTGRESQL_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("task_counts")
    op.drop_index("idx_task_user_completed_created", table_name="tasks")
    op.drop_index("idx_task_user_title", table_name="tasks")
    op.drop_index("idx_task_user_updated", table_name="tasks")
    op.drop_index("idx_task_user_created", table_name="tasks")
    # Before recreating the index: on SQLite the batch copy would rebuild it without its DESC.
    with op.batch_alter_table("tasks") as tasks:
        tasks.drop_column("version")
    op.create_index("idx_task_user_created", "tasks", ["user_id", sa.text("created_at DESC")])
