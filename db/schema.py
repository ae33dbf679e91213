"""Which migration the connected database is at."""

from __future__ import annotations

from sqlalchemy import text

from db.database import UnitOfWork

_VERSION_TABLE_EXISTS = {
    "postgresql": text("SELECT to_regclass('alembic_version') IS NOT NULL AS present"),
    "sqlite": text(
        "SELECT count(*) > 0 AS present FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ),
}
_CURRENT_REVISION = text("SELECT version_num FROM alembic_version")


async def schema_revision(work: UnitOfWork) -> str | None:
    """Alembic's current revision, or None for a database that was never migrated."""
    table = await work.fetch_one(_VERSION_TABLE_EXISTS[work.dialect], {})
    if table is None or not table[0]:
        return None
    row = await work.fetch_one(_CURRENT_REVISION, {})
    return str(row[0]) if row is not None else None
