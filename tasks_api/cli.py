"""The ``tasks-api`` command: ``serve``, ``migrate`` and ``token``."""

from __future__ import annotations

import argparse
import errno
import logging
import logging.config
import os
import signal
import socket
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from db.diagnosis import unopenable_database
from tasks_api.logs import logging_config
from tasks_api.migrations import upgrade_to_head
from tasks_api.server import serve, server_config
from tasks_api.settings import NO_AUTHENTICATION, ConfigurationError, Settings, is_loopback
from tasks_api.tokens import issue_token

logger = logging.getLogger("tasks_api.cli")


_DESCRIPTION = "The tasks API: serve it, migrate its database, or print a token to call it with."
_EPILOG = """\
Configuration comes from the environment: DATABASE_URL (default sqlite:///tasks.db), TASKS_API_AUTH_JWKS_URL or
TASKS_API_AUTH_JWT_SECRET, and the rest listed in the README.

examples:
  tasks-api serve                          serve ./tasks.db on http://127.0.0.1:8000 (Swagger UI at /api/ui/)
  tasks-api serve --host 0.0.0.0 --workers 4
  tasks-api token --user 0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b --ttl 8h
"""


def _command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary is also its own help's description, as a sentence."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=f"{summary[:1].upper()}{summary[1:]}."
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasks-api",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="<command>")

    serve = _command(commands, "serve", "migrate the database to head, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default: %(default)s)")
    serve.add_argument("--no-migrate", action="store_true", help="skip the migration step")

    _command(commands, "migrate", "upgrade the database to head and exit")

    token = _command(commands, "token", "print an HS256 token for a user (signed with TASKS_API_AUTH_JWT_SECRET)")
    token.add_argument(
        "--user", required=True, help="the user id the token is for (a UUID, or an identity provider's id)"
    )
    token.add_argument("--ttl", type=_duration, default="1h", help="lifetime: 90s, 30m, 1h, 7d (default: 1h)")
    return parser


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m, 1h or 7d")
    return int(number) * _UNITS[unit]


def _token(settings: Settings, user: str, ttl: float) -> str:
    tokens = settings.tokens
    if tokens is None or tokens.secret is None:
        raise ConfigurationError("tasks-api token signs with TASKS_API_AUTH_JWT_SECRET, which is not set")
    return issue_token(tokens.secret, user, ttl, issuer=tokens.issuer, audience=tokens.audience)


def _authentication_for(settings: Settings, host: str) -> Settings:
    """Without any authentication setting, serving on loopback trusts the path's user (said in the log, and
    passed on to the workers); on any other address the service refuses to start."""
    if settings.auth_configured:
        return settings
    if not is_loopback(host):
        raise ConfigurationError(f"{host} is not a loopback address and {NO_AUTHENTICATION}")
    logger.warning(
        "no authentication is configured: serving on %s as TASKS_API_AUTH=none, trusting the user_id in every path",
        host,
    )
    os.environ["TASKS_API_AUTH"] = "none"
    return replace(settings, auth_configured=True)


def _refuse_taken_port(host: str, port: int, host_setting: str = "--host", port_setting: str = "--port") -> None:
    """Said before migrating, not after, by uvicorn's (or the metrics listener's) bind error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by the previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise ConfigurationError(
                    f"cannot listen on {host}:{port} ({error.strerror}): check {host_setting}"
                ) from None
            raise ConfigurationError(
                f"port {port} on {host} is already in use: stop what is using it, or choose another with {port_setting}"
            ) from None


def _refuse_metrics_listener(settings: Settings, api_port: int) -> None:
    metrics = settings.metrics
    if metrics is None:
        return
    if metrics.port == api_port:
        raise ConfigurationError(
            f"TASKS_API_METRICS_PORT is {api_port}, the API's port: metrics are served on a port of their own"
        )
    _refuse_taken_port(metrics.host, metrics.port, "TASKS_API_METRICS_HOST", "TASKS_API_METRICS_PORT")


def _migrate(settings: Settings) -> None:
    setting, url = (
        ("MIGRATION_DATABASE_URL", settings.migration_database_url)
        if settings.migration_database_url
        else ("DATABASE_URL", settings.database_url)
    )
    try:
        upgrade_to_head(url)
    except DBAPIError as error:
        reason = unopenable_database(error, url, setting)
        if reason is None:
            raise
        raise ConfigurationError(reason) from None


def _announce(settings: Settings, host: str, port: int) -> None:
    origin = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    logger.info(
        "serving on %s, database %s, authentication: %s; Swagger UI at %s/api/ui/",
        origin,
        database,
        settings.authentication(),
        origin,
    )


_FAILED = {"token": "cannot make a token", "migrate": "cannot migrate"}


def _stop(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal; a stop that was
    # asked for is a clean exit (status 0, no traceback), also when it arrives during migration.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stop)
    log_config = logging_config()
    logging.config.dictConfig(log_config)
    try:
        settings = Settings.from_env()
        if args.command == "token":
            print(_token(settings, args.user, args.ttl))  # noqa: T201 (the command's output)
            return
        if args.command == "serve":
            settings = _authentication_for(settings, args.host)
            _refuse_taken_port(args.host, args.port)
            _refuse_metrics_listener(settings, args.port)
        if args.command == "migrate" or not args.no_migrate:
            _migrate(settings)
    except ConfigurationError as error:
        logger.error("%s: %s", _FAILED.get(args.command, "refusing to start"), error)
        raise SystemExit(2) from None
    if args.command == "serve":
        _announce(settings, args.host, args.port)
        config = server_config(settings, host=args.host, port=args.port, workers=args.workers, log_config=log_config)
        serve(config, settings.metrics)


if __name__ == "__main__":
    main()
