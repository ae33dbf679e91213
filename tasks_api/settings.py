"""Configuration read once from the environment."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import resource
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.exc import ArgumentError

from db.database import PoolOptions
from db.urls import DATABASE_URL_FORMS, UnsupportedDatabase, is_neon_pooled, normalised_database_url
from observability.trace_settings import trace_exporters
from tasks_api.tokens import TokenSettings
from tasks_api.user_ids import MODES as USER_ID_MODES

DEFAULT_DATABASE_URL = "sqlite:///tasks.db"


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} is {value!r}: give a number") from None


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _positive(name: str, default: float) -> float:
    value = _number(name, default)
    if not value > 0:
        raise ConfigurationError(f"{name} is {value:g}: give a number above 0")
    return value


def _whole(name: str, default: int) -> int:
    value = _positive(name, default)
    if not float(value).is_integer():
        raise ConfigurationError(f"{name} is {value:g}: give a whole number")
    return int(value)


def _cursor_secret(explicit: str | None, database_url: str) -> bytes:
    # Every instance behind the load balancer must sign cursors alike. Without an explicit secret, the
    # database URL (which carries the password in production) is what they share.
    return hashlib.sha256(f"tasks-api cursor secret:{explicit or database_url}".encode()).digest()


NO_AUTHENTICATION = (
    "no authentication is configured: set TASKS_API_AUTH_JWKS_URL or TASKS_API_AUTH_JWT_SECRET (with"
    " TASKS_API_AUTH_ISSUER, TASKS_API_AUTH_AUDIENCE as needed), or TASKS_API_AUTH=none behind a gateway that"
    " authenticates (tasks-api serve assumes none on a loopback address only)"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConfigurationError(ValueError):
    """The environment asks for something the service will not run with; the message says what to change."""


def _text(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


_AUTH_MODE = "TASKS_API_AUTH"
_KEY_SOURCES = ("TASKS_API_AUTH_JWKS_URL", "TASKS_API_AUTH_JWT_SECRET")
SECRET_RECIPE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _said(names: list[str]) -> str:
    return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} set"


def _auth_text(name: str) -> str | None:
    """An authentication setting: absent is None, and set but blank is refused (it never means "off")."""
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.strip():
        raise ConfigurationError(f"{name} is set but empty: give it a value, or unset it")
    return value.strip()


def _tokens() -> tuple[TokenSettings | None, bool]:
    """How tokens are verified (None: they are not), and whether the environment said so at all.

    Fails closed: any ``TASKS_API_AUTH*`` variable that is set, even blank, asks for authentication, so the
    service refuses to start unless a key source is usable; only ``TASKS_API_AUTH=none`` alone turns it off.
    """
    said = sorted(name for name in os.environ if name == _AUTH_MODE or name.startswith(f"{_AUTH_MODE}_"))
    if not said:
        return None, False
    mode = _auth_text(_AUTH_MODE)
    if mode not in {None, "none", "jwt"}:
        raise ConfigurationError(f"{_AUTH_MODE} is {mode!r}: use jwt (with a key source) or none")
    settings = [name for name in said if name != _AUTH_MODE]
    if mode == "none":
        if settings:
            raise ConfigurationError(
                f"{_AUTH_MODE}=none, but {_said(settings)} too: unset them to serve without authentication, or"
                f" unset {_AUTH_MODE} to verify tokens"
            )
        return None, True
    sources = [name for name in _KEY_SOURCES if name in os.environ]
    if len(sources) > 1:
        raise ConfigurationError(f"{_said(sources)}: verify tokens with one of them, not both")
    if not sources:
        raise ConfigurationError(
            f"{_said(said)}, but nothing to verify tokens with: set TASKS_API_AUTH_JWKS_URL or"
            f" TASKS_API_AUTH_JWT_SECRET, or {_AUTH_MODE}=none (alone) to serve without authentication"
        )
    jwks_url, secret = (_auth_text(name) for name in _KEY_SOURCES)
    jwks_refresh = _positive("TASKS_API_AUTH_JWKS_REFRESH", 300.0)
    try:
        tokens = TokenSettings(
            jwks_url=jwks_url,
            secret=secret.encode() if secret else None,
            issuer=_auth_text("TASKS_API_AUTH_ISSUER"),
            audience=_auth_text("TASKS_API_AUTH_AUDIENCE"),
            leeway=_number("TASKS_API_AUTH_LEEWAY", 30.0),
            jwks_refresh=jwks_refresh,
        )
    except ValueError as error:
        raise ConfigurationError(f"TASKS_API_AUTH_JWT_SECRET: {error}; make one with {SECRET_RECIPE}") from None
    return tokens, True


def _database_url(name: str) -> str | None:
    raw = _text(name)
    if raw is None:
        return None
    try:
        return normalised_database_url(raw)
    except ArgumentError:
        problem = "is not a database URL"
    except UnsupportedDatabase as error:
        problem = f"names {error.scheme}, which this service does not run on"
    raise ConfigurationError(f"{name} {problem}: use {DATABASE_URL_FORMS}")


def _transaction_pooler(database_url: str) -> bool:
    """Whether a transaction-mode pooler stands between the service and PostgreSQL: said, or a Neon pooled host."""
    pooler = (_text("TASKS_API_DB_POOLER") or "").lower()
    if pooler not in {"", "transaction", "none"}:
        raise ConfigurationError(f"TASKS_API_DB_POOLER is {pooler!r}: use transaction (or none)")
    return pooler == "transaction" or (pooler != "none" and is_neon_pooled(database_url))


def _user_ids() -> str:
    mode = (_text("TASKS_API_USER_IDS") or "uuid").lower()
    if mode not in USER_ID_MODES:
        raise ConfigurationError(
            f"TASKS_API_USER_IDS is {mode!r}: use uuid, or opaque for an identity provider's own ids (Better Auth's)"
        )
    return mode


def _cors_origins() -> tuple[str, ...]:
    origins = tuple(
        origin.strip() for origin in os.environ.get("TASKS_API_CORS_ORIGINS", "").split(",") if origin.strip()
    )
    if "*" in origins:
        raise ConfigurationError("TASKS_API_CORS_ORIGINS may not be *: list the front end's exact origins")
    return origins


def _trace_exporters() -> tuple[str, ...]:
    try:
        return trace_exporters(os.environ)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


# File descriptors a worker keeps for other things than client connections: its database connections (counted
# apart), the listening socket, logs, SQLite's files, key server fetches, the event loop's own.
FILE_HEADROOM = 64


def default_max_connections(pool: PoolOptions) -> int:
    """Client connections a worker takes before answering 503: its soft file limit less what else it needs
    open, so that a flood of connections gets 503 instead of leaving no descriptor to accept or to reach the
    database with."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1_048_576  # Linux's default ceiling on a process's descriptors (fs.nr_open)
    return max(1, soft - FILE_HEADROOM - pool.size - pool.max_overflow)


@dataclass(frozen=True)
class ConnectionLimits:
    """What a worker takes from clients before it has a request to serve (``tasks_api.http_protocol``)."""

    # Seconds a client has to send a whole request head (request line and headers), from the moment it
    # connects or, on a kept-alive connection, from the first byte of the next request.
    header_timeout: float = 10.0
    # Open client connections per worker; any beyond it is answered 503 and closed.
    max_connections: int = 1024

    @classmethod
    def from_env(cls, pool: PoolOptions) -> ConnectionLimits:
        return cls(
            header_timeout=_positive("TASKS_API_HEADER_TIMEOUT", 10.0),
            max_connections=_whole("TASKS_API_MAX_CONNECTIONS", default_max_connections(pool)),
        )


@dataclass(frozen=True)
class MetricsListener:
    """Where Prometheus scrapes the service's metrics: a listener of its own, never the API's port."""

    port: int
    host: str = "127.0.0.1"


def _metrics_listener() -> MetricsListener | None:
    """None (no metrics) unless ``TASKS_API_METRICS_PORT`` is set; on loopback unless told otherwise."""
    raw = _text("TASKS_API_METRICS_PORT")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigurationError(f"TASKS_API_METRICS_PORT is {raw!r}: give a port from 1 to 65535")
    return MetricsListener(int(raw), _text("TASKS_API_METRICS_HOST") or MetricsListener.host)


@dataclass(frozen=True)
class Settings:
    database_url: str
    validate_responses: bool = False
    cursor_secret: bytes = field(default=b"", repr=False)
    pool: PoolOptions = field(default_factory=PoolOptions)
    # Seconds in-flight requests get to finish after SIGTERM before they are cut off.
    shutdown_grace: float = 30.0
    # Seconds an idle client connection is kept open: longer than a load balancer keeps its idle connections to
    # an instance, so that the balancer closes them, never the instance as the balancer sends a request on one.
    keep_alive: float = 75.0
    access_log: bool = True
    # How bearer tokens are verified; None: they are not, and the path's user_id is trusted.
    tokens: TokenSettings | None = None
    # Whether the environment chose an authentication mode at all: ``create_app`` refuses to serve unless it did
    # (``serve`` decides for it on a loopback address only).
    auth_configured: bool = True
    # Exact origins browsers may call the API from (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Where migrations run, when not through database_url (Neon advises its direct URL for schema changes).
    migration_database_url: str | None = None
    # Which user ids the API takes: "uuid", or "opaque" for an identity provider's own (tasks_api.user_ids).
    user_ids: str = "uuid"
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    # Seconds an answer is kept for retries with its Idempotency-Key.
    idempotency_ttl: float = 24 * 3600.0
    # Days a deleted task stays in the changes feed; a sync token older than that is refused (410).
    tombstone_days: float = 30.0
    # Seconds between purges of expired answers and deletions, by every instance.
    purge_interval: float = 300.0
    # Where Prometheus metrics are served; None: they are not collected at all.
    metrics: MetricsListener | None = None
    # Where traces go (observability.trace_settings): none, the default, turns tracing off.
    trace_exporters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.cursor_secret:
            object.__setattr__(self, "cursor_secret", _cursor_secret(None, self.database_url))

    def authentication(self) -> str:
        """The authentication mode and where its keys come from, for the start-up log line."""
        tokens = self.tokens
        if tokens is None:
            return "none (TASKS_API_AUTH=none: the user_id in each path is trusted)"
        source = f"keys from {tokens.jwks_url}" if tokens.jwks_url else "HS256 with TASKS_API_AUTH_JWT_SECRET"
        required = {"issuer": tokens.issuer, "audience": tokens.audience}
        claims = [f"{name} {value}" for name, value in required.items() if value]
        return ", ".join([f"JWT bearer tokens, {source}", *claims])

    def risks(self) -> list[str]:
        """What this configuration allows but an operator should hear about at start-up."""
        jwks_url = self.tokens.jwks_url if self.tokens is not None else None
        if jwks_url is not None:
            url = urlsplit(jwks_url)
            if url.scheme == "http" and not is_loopback(url.hostname or ""):
                return [
                    f"TASKS_API_AUTH_JWKS_URL is plain http on {url.hostname}: anyone on the way can replace the keys"
                    " and sign tokens for every user; use https"
                ]
        return []

    @classmethod
    def from_env(cls) -> Settings:
        defaults = PoolOptions()
        tokens, auth_configured = _tokens()
        database_url = _database_url("DATABASE_URL") or normalised_database_url(DEFAULT_DATABASE_URL)
        pool = PoolOptions(
            size=int(_number("TASKS_API_DB_POOL_SIZE", defaults.size)),
            max_overflow=int(_number("TASKS_API_DB_MAX_OVERFLOW", defaults.max_overflow)),
            checkout_timeout=_number("TASKS_API_DB_POOL_TIMEOUT", defaults.checkout_timeout),
            connect_timeout=int(_number("TASKS_API_DB_CONNECT_TIMEOUT", defaults.connect_timeout)),
            statement_timeout_ms=int(_number("TASKS_API_DB_STATEMENT_TIMEOUT_MS", defaults.statement_timeout_ms)),
            transaction_pooler=_transaction_pooler(database_url),
        )
        return cls(
            database_url=database_url,
            validate_responses=_flag("TASKS_API_VALIDATE_RESPONSES", default=False),
            cursor_secret=_cursor_secret(os.environ.get("TASKS_API_CURSOR_SECRET"), database_url),
            pool=pool,
            shutdown_grace=_number("TASKS_API_SHUTDOWN_GRACE", 30.0),
            keep_alive=_number("TASKS_API_KEEP_ALIVE", 75.0),
            access_log=_flag("TASKS_API_ACCESS_LOG", default=True),
            tokens=tokens,
            auth_configured=auth_configured,
            cors_origins=_cors_origins(),
            migration_database_url=_database_url("MIGRATION_DATABASE_URL"),
            user_ids=_user_ids(),
            connections=ConnectionLimits.from_env(pool),
            idempotency_ttl=_positive("TASKS_API_IDEMPOTENCY_TTL", 24 * 3600.0),
            tombstone_days=_positive("TASKS_API_TOMBSTONE_DAYS", 30.0),
            purge_interval=_positive("TASKS_API_PURGE_INTERVAL", 300.0),
            metrics=_metrics_listener(),
            trace_exporters=_trace_exporters(),
        )
