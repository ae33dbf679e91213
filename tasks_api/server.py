"""Serving the app with uvicorn: its configuration, and a supervisor for several workers that stops listening
as soon as it is told to stop."""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from tasks_api.http_protocol import ServerProtocol
from tasks_api.settings import Settings


def server_config(
    settings: Settings, *, host: str, port: int, workers: int, log_config: dict[str, Any]
) -> uvicorn.Config:
    return uvicorn.Config(
        "tasks_api.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=ServerProtocol,
        log_config=log_config,
        access_log=False,
        # What runs the service is nobody's business but its operator's.
        server_header=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace)),
        timeout_keep_alive=max(1, round(settings.keep_alive)),
    )


class Supervisor(Multiprocess):
    """uvicorn's supervisor of several workers, closing its listening socket the moment it handles SIGTERM or
    SIGINT.

    uvicorn's keeps the socket open until the last worker has exited: the workers stop accepting at once, but
    while one drains a slow request the kernel goes on completing connections into the socket's backlog that
    no one will accept; they hang until that worker exits, then are reset. Closed, the socket refuses new
    connections as soon as the workers have closed their copies too, which they do as their shutdown begins.
    Extends uvicorn's public signal handlers (``handle_term``, ``handle_int``) and calls them.
    """

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        for listener in self.sockets:
            listener.close()


def serve(config: uvicorn.Config) -> None:
    """Runs the service until it is told to stop: one worker in this process, or several under ``Supervisor``."""
    if config.workers > 1:
        listener: socket.socket = config.bind_socket()
        Supervisor(config, sockets=[listener]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
