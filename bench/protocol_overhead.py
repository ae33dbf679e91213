"""Benchmark: what ``ServerProtocol``'s bounds cost a request, against uvicorn's own httptools protocol.

    uv run python bench/protocol_overhead.py [--requests 20000] [--repeat 5]

Feeds the same kept-alive GET (a browser-sized head of about 400 bytes, bearer token included) into each
protocol over an in-memory transport, answered by an app that answers at once, and prints the CPU time per
request (the lowest of ``--repeat`` runs) and the difference: what the protocol adds to every request.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from tasks_api.http_protocol import ServerProtocol
from tasks_api.settings import ConnectionLimits

REQUEST = (
    b"GET /api/0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b/tasks/7c9e6679-7425-40de-944b-e07fc1f90ae7 HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\nUser-Agent: bench\r\nAccept: application/json\r\n"
    b"Authorization: Bearer " + b"e" * 220 + b"\r\n\r\n"
)


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


class MemoryTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)


class Bounded(ServerProtocol):
    limits = ConnectionLimits()


async def cpu_per_request(protocol_class: type[HttpToolsProtocol], requests: int) -> float:
    config = uvicorn.Config(answer, lifespan="off", access_log=False, log_level="warning")
    config.load()
    state = ServerState()
    protocol = protocol_class(config=config, server_state=state, app_state={})
    transport = MemoryTransport()
    protocol.connection_made(transport)
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        while state.tasks:
            await asyncio.sleep(0)
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, float] = {}
    for protocol_class in (HttpToolsProtocol, Bounded, HttpToolsProtocol, Bounded):
        runs = [uvloop.run(cpu_per_request(protocol_class, args.requests)) for _ in range(args.repeat)]
        results[protocol_class.__name__] = min([*runs, results.get(protocol_class.__name__, float("inf"))])
    uvicorn_us, bounded_us = results["HttpToolsProtocol"], results["Bounded"]
    print(f"uvicorn's HttpToolsProtocol: {uvicorn_us:.2f} us per request")
    print(f"ServerProtocol:              {bounded_us:.2f} us per request (+{bounded_us - uvicorn_us:.2f} us)")


if __name__ == "__main__":
    main()
