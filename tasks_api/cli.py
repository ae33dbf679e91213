"""The ``tasks-api`` command: ``serve`` and ``migrate``."""

from __future__ import annotations

import argparse
import logging.config
import os
import signal
import warnings
from collections.abc import Sequence
from types import FrameType

import uvicorn

from tasks_api.logs import logging_config
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasks-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database to head, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    serve.add_argument("--no-migrate", action="store_true", help="skip the migration step")

    commands.add_parser("migrate", help="upgrade the database to head and exit")
    return parser


def _stop(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


# Connexion imports Starlette's test client, whose deprecation notice would be a line of plain text in the JSON
# log stream on stderr. As an environment variable the filter also reaches the worker processes uvicorn spawns.
_IMPORT_NOTICE = "Using `httpx` with `starlette.testclient`"


def _silence_import_notice() -> None:
    warnings.filterwarnings("ignore", message=_IMPORT_NOTICE)
    filters = [os.environ.get("PYTHONWARNINGS"), f"ignore:{_IMPORT_NOTICE}"]
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, filters))


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    _silence_import_notice()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal; a stop that was
    # asked for is a clean exit (status 0, no traceback), also when it arrives during migration.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stop)
    log_config = logging_config()
    logging.config.dictConfig(log_config)
    settings = Settings.from_env()
    if args.command == "migrate" or not args.no_migrate:
        upgrade_to_head(settings.database_url)
    if args.command == "serve":
        uvicorn.run(
            "tasks_api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=log_config,
            access_log=False,
            timeout_graceful_shutdown=max(1, round(settings.shutdown_grace)),
        )


if __name__ == "__main__":
    main()
