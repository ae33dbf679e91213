"""The deployment of deploy/: PgBouncer in transaction mode, tasks-api instances and HAProxy in front of them, all
on loopback ports, for the system tests and bench/compare.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import processes
from tests.pgbouncer import pgbouncer
from tests.support import REQUIRE_POSTGRES, TASKS_API, answers, closed_port, wait_for

HAPROXY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"
INSTANCES = 3


@dataclass
class Instance:
    port: int
    database_url: str
    environment: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self.process = processes.start(
            [TASKS_API, "serve", "--no-migrate", "--port", str(self.port)],
            env={
                **os.environ,
                "DATABASE_URL": self.database_url,
                "TASKS_API_DB_POOLER": "transaction",
                **self.environment,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        wait_for(lambda: answers(f"http://127.0.0.1:{self.port}/api/health/ready"), what="the instance to be ready")

    def stop(self, how: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(how)
        self.process.wait(timeout=60)


class LoadBalancer:
    def __init__(self, instances: list[Instance]) -> None:
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._folder = Path(tempfile.mkdtemp(prefix="tasks-api-haproxy-"))
        self._socket = self._folder / "haproxy.sock"
        environment = {
            "LB_BIND": f"127.0.0.1:{self.port}",
            "STATS_SOCKET": str(self._socket),
            **{f"INSTANCE_{n}": f"127.0.0.1:{instance.port}" for n, instance in enumerate(instances, 1)},
        }
        self._process = processes.start(
            [_haproxy(), "-db", "-f", str(HAPROXY_CONFIG)],
            env={**os.environ, **environment},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def command(self, command: str) -> str:
        """A command to HAProxy's runtime API, and its answer."""
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(str(self._socket))
            connection.sendall(command.encode() + b"\n")
            return b"".join(iter(lambda: connection.recv(65536), b"")).decode()

    def _stats(self) -> list[list[str]]:
        if not self._socket.exists():
            return []
        return [line.split(",") for line in self.command("show stat").splitlines() if line.startswith("instances,i")]

    def states(self) -> dict[str, str]:
        """Each instance's state as HAProxy sees it (UP, DOWN, DRAIN, ...)."""
        return {row[1]: row[17] for row in self._stats()}

    def served(self) -> dict[str, int]:
        """How many requests HAProxy has sent each instance so far (its health checks aside)."""
        return {row[1]: int(row[7]) for row in self._stats()}

    def drain(self, number: int) -> None:
        """deploy/README.md's rolling restart: no new requests for the instance, and the ones it has finished."""
        self.command(f"set server instances/instance{number} state drain")
        wait_for(lambda: self._sessions(f"instance{number}") == 0, what="the instance to drain")

    def ready(self, number: int) -> None:
        self.command(f"set server instances/instance{number} state ready")

    def _sessions(self, name: str) -> int:
        return next(int(row[4]) for row in self._stats() if row[1] == name)

    def wait_all_up(self) -> None:
        wait_for(lambda: set(self.states().values()) == {"UP"} and len(self.states()) == INSTANCES, what="all UP")

    def close(self) -> None:
        processes.kill(self._process)
        shutil.rmtree(self._folder, ignore_errors=True)


def _haproxy() -> str:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        message = "haproxy is not installed (apt-get install haproxy)"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Stack:
    database_url: str
    instances: list[Instance]
    balancer: LoadBalancer


@contextmanager
def scale_out(database_url: str, **environment: str) -> Iterator[Stack]:
    """PgBouncer, ``INSTANCES`` instances through it and HAProxy in front, on a migrated database; yields once
    HAProxy sees every instance up."""
    with pgbouncer() as bouncer:
        instances = [Instance(closed_port(), bouncer.url(database_url), environment) for _ in range(INSTANCES)]
        balancer: LoadBalancer | None = None
        try:
            # All at once: each takes seconds to start, mostly its own imports.
            for instance in instances:
                instance.launch()
            for instance in instances:
                instance.wait_ready()
            balancer = LoadBalancer(instances)
            balancer.wait_all_up()
            yield Stack(database_url, instances, balancer)
        finally:
            if balancer is not None:
                balancer.close()
            for instance in instances:
                if instance.process is not None:
                    processes.kill(instance.process)
