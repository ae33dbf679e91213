"""Create the tasks table.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A title must hold something besides whitespace. The API enforces the full Unicode rule; the database
# backs it with the ASCII whitespace both engines can name, so it is never stricter than the API.
_TITLE_NOT_BLANK = {
    "postgresql": "btrim(title, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(32)) <> ''",
    "sqlite": "trim(title, char(9, 10, 11, 12, 13, 32)) <> ''",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("is_completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.CheckConstraint(_TITLE_NOT_BLANK[dialect], name=op.f("ck_tasks_title_not_blank")),
    )
    op.create_index("idx_task_user_id", "tasks", ["user_id"])
    op.create_index("idx_task_user_created", "tasks", ["user_id", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("idx_task_user_created", table_name="tasks")
    op.drop_index("idx_task_user_id", table_name="tasks")
    op.drop_table("tasks")
