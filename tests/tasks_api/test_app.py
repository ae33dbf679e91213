"""The application factory decides whether the app may serve without authentication, whoever starts it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tasks_api.app import create_app
from tasks_api.settings import ConfigurationError, Settings
from tasks_api.tokens import TokenSettings
from tests import processes
from tests.support import closed_port
from tests.tokens import SECRET


def test_an_app_without_an_authentication_decision_is_refused(tmp_path: Path) -> None:
    undecided = Settings(database_url=f"sqlite:///{tmp_path / 'tasks.db'}", auth_configured=False)

    with pytest.raises(ConfigurationError, match="TASKS_API_AUTH=none"):
        create_app(undecided)


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({}, "no authentication is configured"),
        (
            {"TASKS_API_AUTH_JWT_SECRET": "", "TASKS_API_AUTH_ISSUER": "i", "TASKS_API_AUTH_AUDIENCE": "a"},
            "TASKS_API_AUTH_JWT_SECRET is set but empty",
        ),
    ],
    ids=["nothing-set", "blank-secret"],
)
def test_uvicorn_started_directly_refuses_to_serve_without_authentication(
    tmp_path: Path, environment: dict[str, str], named: str
) -> None:
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("TASKS_API_AUTH")}
    command = [sys.executable, "-m", "uvicorn", "--factory", "tasks_api.app:served_app"]
    refused = processes.run(
        [*command, "--host", "0.0.0.0", "--port", str(closed_port())],
        env={**inherited, "DATABASE_URL": f"sqlite:///{tmp_path / 'tasks.db'}", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert refused.returncode != 0
    assert named in refused.stderr
    assert "Uvicorn running" not in refused.stderr


def test_a_plain_http_key_server_elsewhere_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database_url = f"sqlite:///{tmp_path / 'tasks.db'}"
    for url, warned in [("http://auth.example/jwks", True), ("https://auth.example/jwks", False)]:
        caplog.clear()
        create_app(Settings(database_url=database_url, tokens=TokenSettings(jwks_url=url)))
        assert any("plain http" in record.getMessage() for record in caplog.records) is warned
    caplog.clear()
    create_app(Settings(database_url=database_url, tokens=TokenSettings(jwks_url="http://127.0.0.1:9/jwks")))
    assert not caplog.records
    create_app(Settings(database_url=database_url, tokens=TokenSettings(secret=SECRET)))
    assert not caplog.records


def test_importing_the_app_prints_no_deprecation_notice() -> None:
    imported = processes.run(
        [sys.executable, "-W", "default", "-c", "import tasks_api.app"], capture_output=True, text=True, timeout=60
    )

    assert imported.returncode == 0
    assert "starlette.testclient" not in imported.stderr
