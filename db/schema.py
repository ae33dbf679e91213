"""Which migration the connected database is at."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection


def _has_version_table(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


async def schema_revision(connection: AsyncConnection) -> str | None:
    """Alembic's current revision, or None for a database that was never migrated."""
    if not await connection.run_sync(_has_version_table):
        return None
    revision: str | None = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return revision
