"""Why a database could not be opened at start-up, in one line an operator can act on: what is wrong, and what to
do, naming the setting that holds the URL (the drivers' own messages name neither)."""

from __future__ import annotations

import os
import re
import sqlite3

import psycopg
from sqlalchemy.engine import make_url

# The server's reason, as libpq words it: 'FATAL:  database "x" does not exist'.
_SERVER_REASON = re.compile(r"FATAL:\s+(?P<reason>.+)")
_MISSING_DATABASE = re.compile(r'database "(?P<name>.+)" does not exist')


def unopenable_database(error: BaseException, database_url: str, setting: str) -> str | None:
    """The sentence for ``error``, raised while opening ``database_url`` (read from ``setting``), or None when it is
    not about reaching or opening the database at all. SQLAlchemy's wrapper is looked through."""
    error = getattr(error, "orig", None) or error
    url = make_url(database_url)
    if isinstance(error, psycopg.OperationalError):
        return _postgres(str(error), f"{url.host or 'localhost'}:{url.port or 5432}", setting)
    if isinstance(error, sqlite3.OperationalError) and url.database:
        return _sqlite(str(error), url.database, setting)
    return None


def _postgres(message: str, address: str, setting: str) -> str:
    server = _SERVER_REASON.search(message)
    if server is None:
        reason = message.splitlines()[0].rsplit(": ", 1)[-1].strip() or "no answer"
        return f"cannot reach PostgreSQL at {address} ({reason}): start it, or point {setting} at a running server"
    reason = server.group("reason").strip()
    missing = _MISSING_DATABASE.search(reason)
    if missing:
        name = missing.group("name")
        return (
            f'database "{name}" does not exist on {address}: create it with createdb {name}, or point {setting} at an'
            " existing one"
        )
    if "authentication failed" in reason or "no pg_hba.conf entry" in reason:
        return f"PostgreSQL at {address} refused the login ({reason}): check the user and password in {setting}"
    return f"PostgreSQL at {address} refused the connection ({reason}): check {setting}"


def _sqlite(message: str, path: str, setting: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return (
            f"the directory of the SQLite database {path} does not exist: create {directory}, or point {setting} at a"
            " file in an existing directory"
        )
    if not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return f"the SQLite database {path} cannot be written (permissions): fix them, or point {setting} elsewhere"
    return f"the SQLite database {path} cannot be opened ({message}): check {setting}"
