"""The TypeScript client (sdk/typescript) against a live ``tasks-api serve``, with authentication on, on SQLite
with Better Auth's user ids (``TASKS_API_USER_IDS=opaque``) and on PostgreSQL with UUIDs: its own ``npm test``
(node:test, and the type tests), run with the server's address."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from db.urls import is_sqlite
from tests import processes
from tests.support import better_auth_id, closed_port, new_user, serving
from tests.tokens import SECRET, hs256

PACKAGE = Path(__file__).resolve().parents[2] / "sdk" / "typescript"


def _require_node_modules() -> None:
    if (PACKAGE / "node_modules").is_dir() and shutil.which("npm"):
        return
    message = f"run `npm ci` in {PACKAGE} first"
    if os.environ.get("TASKS_API_REQUIRE_SDK") == "1":
        pytest.fail(message)
    pytest.skip(message)


def test_the_typescript_client_against_the_service(database_url: str) -> None:
    _require_node_modules()
    # Each user-id mode once, each on one database: the client takes ids as strings in both.
    mode, make_user = ("opaque", better_auth_id) if is_sqlite(database_url) else ("uuid", new_user)
    users = [{"id": user, "token": hs256(user, ttl=3600)} for user in (make_user(), make_user())]
    environment = {"TASKS_API_AUTH_JWT_SECRET": SECRET.decode(), "TASKS_API_USER_IDS": mode}
    with serving(database_url, "--no-migrate", **environment) as server:
        completed = processes.run(
            ["npm", "test", "--silent"],
            cwd=PACKAGE,
            env={
                **os.environ,
                "TASKS_API_URL": server.base_url,
                "TASKS_API_USERS": json.dumps(users),
                "TASKS_API_STOPPED_URL": f"http://127.0.0.1:{closed_port()}",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "# fail 0" in completed.stdout
    assert "# pass 35" in completed.stdout, completed.stdout  # every test ran, none skipped for want of the service
