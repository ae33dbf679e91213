"""The PostgreSQL advisory lock that serialises migrations across instances (``alembic/env.py`` takes it).

Any 64-bit constant works; it only has to be the same for every instance of this service.
"""

MIGRATION_LOCK_KEY = 0x7461736B73617069  # "tasksapi"
