from __future__ import annotations

import os
import resource

import pytest

from tasks_api.settings import ConfigurationError, ConnectionLimits, MetricsListener, Settings


def test_defaults_to_a_sqlite_file_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TASKS_API_VALIDATE_RESPONSES", raising=False)
    monkeypatch.delenv("TASKS_API_ACCESS_LOG", raising=False)

    settings = Settings.from_env()

    assert settings.database_url == "sqlite:///tasks.db"
    assert settings.validate_responses is False
    assert settings.access_log is True


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/tasks")
    monkeypatch.setenv("TASKS_API_VALIDATE_RESPONSES", "true")
    monkeypatch.setenv("TASKS_API_ACCESS_LOG", "false")

    settings = Settings.from_env()

    assert settings.database_url == "postgresql+psycopg://u@db/tasks"
    assert settings.validate_responses is True
    assert settings.access_log is False


NEON_POOLED = "postgresql://app:pw@ep-cool-1-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require"
NEON_DIRECT = "postgresql://app:pw@ep-cool-1.eu-central-1.aws.neon.tech/neondb?sslmode=require"


@pytest.mark.parametrize(
    ("database_url", "pooler", "expected"),
    [
        (NEON_DIRECT, None, False),
        (NEON_POOLED, None, True),
        (NEON_POOLED, "none", False),
        (NEON_DIRECT, "transaction", True),
        ("postgresql://postgres@127.0.0.1:6432/tasks", "transaction", True),
    ],
)
def test_a_transaction_pooler_is_said_or_recognised(
    monkeypatch: pytest.MonkeyPatch, database_url: str, pooler: str | None, expected: bool
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    if pooler is None:
        monkeypatch.delenv("TASKS_API_DB_POOLER", raising=False)
    else:
        monkeypatch.setenv("TASKS_API_DB_POOLER", pooler)

    assert Settings.from_env().pool.transaction_pooler is expected


def test_an_unknown_pooler_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKS_API_DB_POOLER", "session")

    with pytest.raises(ConfigurationError, match="TASKS_API_DB_POOLER"):
        Settings.from_env()


def test_the_migration_url_is_normalised_and_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", NEON_POOLED)
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    assert Settings.from_env().migration_database_url is None

    monkeypatch.setenv("MIGRATION_DATABASE_URL", NEON_DIRECT)
    assert Settings.from_env().migration_database_url == NEON_DIRECT.replace("postgresql://", "postgresql+psycopg://")


def _authentication_environment(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith("TASKS_API_AUTH"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


SECRET = "s" * 32


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"TASKS_API_AUTH_JWT_SECRET": ""}, "TASKS_API_AUTH_JWT_SECRET is set but empty"),
        ({"TASKS_API_AUTH_JWKS_URL": " "}, "TASKS_API_AUTH_JWKS_URL is set but empty"),
        (
            {"TASKS_API_AUTH_ISSUER": "i", "TASKS_API_AUTH_AUDIENCE": "a"},
            "TASKS_API_AUTH_AUDIENCE, TASKS_API_AUTH_ISSUER",
        ),
        ({"TASKS_API_AUTH_LEEWAY": ""}, "TASKS_API_AUTH_LEEWAY is set"),
        ({"TASKS_API_AUTH": ""}, "TASKS_API_AUTH is set but empty"),
        ({"TASKS_API_AUTH": "jwt"}, "TASKS_API_AUTH is set"),
        ({"TASKS_API_AUTH": "off"}, "TASKS_API_AUTH is 'off'"),
        ({"TASKS_API_AUTH": "none", "TASKS_API_AUTH_ISSUER": ""}, "TASKS_API_AUTH_ISSUER"),
        ({"TASKS_API_AUTH_JWT_SECRET": SECRET, "TASKS_API_AUTH_JWKS_URL": "https://a/jwks"}, "not both"),
        ({"TASKS_API_AUTH_JWT_SECRET": SECRET, "TASKS_API_AUTH_AUDIENCE": ""}, "TASKS_API_AUTH_AUDIENCE is set but"),
        ({"TASKS_API_AUTH_JWT_SECRET": "short"}, "secrets.token_urlsafe(48)"),
        ({"TASKS_API_AUTH_JWT_SECRET": SECRET, "TASKS_API_AUTH_LEEWAY": "soon"}, "TASKS_API_AUTH_LEEWAY is 'soon'"),
    ],
)
def test_any_authentication_setting_without_a_usable_key_refuses_naming_it(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    _authentication_environment(monkeypatch, environment)

    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env()

    assert named in str(refused.value)


@pytest.mark.parametrize(
    ("environment", "configured", "verifies"),
    [
        ({}, False, False),
        ({"TASKS_API_AUTH": "none"}, True, False),
        ({"TASKS_API_AUTH": " none "}, True, False),
        ({"TASKS_API_AUTH_JWT_SECRET": SECRET}, True, True),
        ({"TASKS_API_AUTH": "jwt", "TASKS_API_AUTH_JWKS_URL": "https://a/jwks"}, True, True),
    ],
)
def test_authentication_is_off_only_when_said_or_when_nothing_is_set(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], configured: bool, verifies: bool
) -> None:
    _authentication_environment(monkeypatch, environment)

    settings = Settings.from_env()

    assert settings.auth_configured is configured
    assert (settings.tokens is not None) is verifies


@pytest.fixture
def jwks_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKS_API_AUTH", "TASKS_API_AUTH_JWT_SECRET", "TASKS_API_AUTH_JWKS_REFRESH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKS_API_AUTH_JWKS_URL", "https://app.example/api/auth/jwks")


@pytest.mark.usefixtures("jwks_url")
def test_the_jwks_is_refreshed_every_five_minutes_unless_said_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings.from_env().tokens
    monkeypatch.setenv("TASKS_API_AUTH_JWKS_REFRESH", "60")
    said = Settings.from_env().tokens

    assert default is not None and default.jwks_refresh == 300
    assert said is not None and said.jwks_refresh == 60


@pytest.mark.usefixtures("jwks_url")
@pytest.mark.parametrize("refresh", ["0", "-5", "nan"])
def test_a_jwks_refresh_that_is_not_a_positive_number_of_seconds_is_refused(
    monkeypatch: pytest.MonkeyPatch, refresh: str
) -> None:
    monkeypatch.setenv("TASKS_API_AUTH_JWKS_REFRESH", refresh)

    with pytest.raises(ConfigurationError, match="TASKS_API_AUTH_JWKS_REFRESH"):
        Settings.from_env()


def test_connection_limits_default_to_a_header_timeout_of_10_s_and_the_file_limit_less_headroom(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TASKS_API_HEADER_TIMEOUT", raising=False)
    monkeypatch.delenv("TASKS_API_MAX_CONNECTIONS", raising=False)
    monkeypatch.setenv("TASKS_API_DB_POOL_SIZE", "5")
    monkeypatch.setenv("TASKS_API_DB_MAX_OVERFLOW", "3")
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    limits = Settings.from_env().connections

    assert limits.header_timeout == 10
    assert limits.max_connections == soft - 64 - 5 - 3


def test_connection_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKS_API_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("TASKS_API_MAX_CONNECTIONS", "300")

    assert Settings.from_env().connections == ConnectionLimits(header_timeout=2.5, max_connections=300)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKS_API_HEADER_TIMEOUT", "0"),
        ("TASKS_API_HEADER_TIMEOUT", "-1"),
        ("TASKS_API_HEADER_TIMEOUT", "ten"),
        ("TASKS_API_MAX_CONNECTIONS", "0"),
        ("TASKS_API_MAX_CONNECTIONS", "2.5"),
        ("TASKS_API_MAX_CONNECTIONS", "inf"),
        ("TASKS_API_MAX_CONNECTIONS", "many"),
    ],
)
def test_a_connection_limit_that_is_not_a_positive_number_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env()


def test_metrics_are_off_unless_a_port_is_given_and_then_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKS_API_METRICS_PORT", raising=False)
    monkeypatch.delenv("TASKS_API_METRICS_HOST", raising=False)
    assert Settings.from_env().metrics is None

    monkeypatch.setenv("TASKS_API_METRICS_PORT", "9464")
    assert Settings.from_env().metrics == MetricsListener(9464, "127.0.0.1")

    monkeypatch.setenv("TASKS_API_METRICS_HOST", "0.0.0.0")
    assert Settings.from_env().metrics == MetricsListener(9464, "0.0.0.0")


@pytest.mark.parametrize("port", ["0", "65536", "-1", "9464.5", "http"])
def test_a_metrics_port_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("TASKS_API_METRICS_PORT", port)

    with pytest.raises(ConfigurationError, match="TASKS_API_METRICS_PORT"):
        Settings.from_env()
