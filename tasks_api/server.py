"""Serving the app with uvicorn: its configuration, and a supervisor for several workers that stops listening
as soon as it is told to stop."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from observability.exposition import metrics_of_this_process, metrics_of_workers
from tasks_api.http_protocol import ServerProtocol
from tasks_api.settings import MetricsListener, Settings


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
        # uvicorn kills a worker that has not answered its supervisor's ping in this many seconds. Its default, 5,
        # is less than a worker's import takes on a busy 2-core machine (seen: over 5 s), where every worker was
        # killed and replaced in a loop and the service never answered.
        timeout_worker_healthcheck=30,
    )


class Supervisor(Multiprocess):
    """uvicorn's supervisor of several workers, closing its listening socket the moment it handles SIGTERM or
    SIGINT.

    uvicorn's keeps the socket open until the last worker has exited: the workers stop accepting at once, but
    while one drains a slow request the kernel goes on completing connections into the socket's backlog that
    no one will accept; they hang until that worker exits, then are reset. Closed, the socket refuses new
    connections as soon as the workers have closed their copies too, which they do as their shutdown begins.
    Extends uvicorn's public signal handlers (``handle_term``, ``handle_int``) and calls them.

    ``workers_are``, if given, is told the workers' pids once they have started and after every round of
    uvicorn's check that replaces dead workers (``keep_subprocess_alive``, every half second, after the signal
    handlers that may replace or retire workers too): metrics need to know which workers are gone.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        sockets: list[socket.socket],
        workers_are: Callable[[Sequence[int]], None] | None = None,
    ) -> None:
        super().__init__(config, sockets)
        self._workers_are = workers_are

    def init_processes(self) -> None:
        super().init_processes()
        self._tell_workers()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._tell_workers()

    def _tell_workers(self) -> None:
        if self._workers_are is not None:
            self._workers_are([process.pid for process in self.processes if process.pid is not None])

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        for listener in self.sockets:
            listener.close()


def serve(config: uvicorn.Config, metrics: MetricsListener | None = None) -> None:
    """Runs the service until it is told to stop: one worker in this process, or several under ``Supervisor``;
    with its metrics on a listener of their own if ``metrics`` says where."""
    if config.workers > 1:
        listener: socket.socket = config.bind_socket()
        with metrics_of_workers(metrics) as workers:
            Supervisor(config, [listener], workers.workers_are if workers else None).run()
        return
    server = uvicorn.Server(config)
    with metrics_of_this_process(metrics):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
