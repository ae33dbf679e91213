"""The probes: live answers without the database, ready only once the database is at this build's schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.urls import normalised_database_url
from tasks_api.app import create_app
from tasks_api.migrations import schema_head, upgrade_to_head
from tasks_api.settings import Settings
from tests.support import closed_port


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return normalised_database_url(f"postgresql://postgres@127.0.0.1:{closed_port()}/tasks?connect_timeout=2")
    return normalised_database_url(f"sqlite:///{tmp_path / 'missing-directory' / 'tasks.db'}")


def test_live_never_touches_the_database(unreachable_database_url: str) -> None:
    with create_app(Settings(database_url=unreachable_database_url, validate_responses=True)).test_client() as client:
        live = client.get("/api/health/live")
        ready = client.get("/api/health/ready")

    assert live.status_code == 200
    assert live.json() == {"status": "live"}
    assert ready.status_code == 503


def test_ready_once_the_database_is_migrated_to_this_builds_schema(empty_database_url: str) -> None:
    with create_app(Settings(database_url=empty_database_url, validate_responses=True)).test_client() as client:
        before = client.get("/api/health/ready")
        upgrade_to_head(empty_database_url)
        after = client.get("/api/health/ready")

    assert before.status_code == 503
    assert before.headers["content-type"] == "application/problem+json"
    assert before.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert after.status_code == 200
    assert after.json() == {"status": "ready", "schema_revision": schema_head()}
