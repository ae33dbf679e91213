"""The probes: live answers without the database, ready only once the database is at this build's schema and,
with a JWKS, its keys are fetched."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from db.urls import normalised_database_url
from tasks_api.app import create_app
from tasks_api.jwks import KeySet
from tasks_api.migrations import schema_head, upgrade_to_head
from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.support import assert_problem, closed_port
from tests.tokens import SigningKey, jwks_server


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


def test_ready_only_once_the_keys_are_fetched_and_never_says_where_from(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.0)
    with jwks_server(SigningKey.new("EdDSA")) as server, caplog.at_level(logging.WARNING, logger="tasks_api.jwks"):
        server.available = False
        secured = replace(settings, tokens=TokenSettings(jwks_url=server.url))
        with create_app(secured).test_client() as client:
            unready = client.get("/api/health/ready")
            server.available = True
            ready = client.get("/api/health/ready")

    problem = assert_problem(unready, 503, "SERVICE_UNAVAILABLE")
    assert "key server" in problem["detail"]
    assert "127.0.0.1" not in unready.text and "jwks" not in unready.text
    assert ready.status_code == 200
    # The operator finds the address, and why, in the server's log.
    assert any(server.url in record.getMessage() and "503" in record.getMessage() for record in caplog.records)
