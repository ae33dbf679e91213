"""A TCP proxy between the service and PostgreSQL that can lose the answer to a commit.

Armed with a marker (bytes of the SQL text, which the frontend protocol carries as is), it forwards the first
client message holding it, lets PostgreSQL run it to its end (its ReadyForQuery), then closes both sides
without passing the answer on: the write committed, and the client never heard so. Every other byte passes
untouched, and connections opened afterwards work again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy.engine import make_url

# ReadyForQuery: the server has finished the statement (and, outside a transaction block, committed it).
_READY_FOR_QUERY = b"Z\x00\x00\x00\x05"


class _Link:
    """One client connection and the server connection opened for it."""

    def __init__(self, proxy: CuttingProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.cutting = False

    def client_to_server(self) -> None:
        with suppress(OSError):
            while data := self.client.recv(65536):
                self.cutting = self.cutting or self.proxy.takes(data)
                self.server.sendall(data)
        self.close()

    def server_to_client(self) -> None:
        answer = b""
        with suppress(OSError):
            while data := self.server.recv(65536):
                if not self.cutting:
                    self.client.sendall(data)
                    continue
                answer += data
                if _READY_FOR_QUERY in answer:
                    self.proxy.cut.set()
                    break
        self.close()

    def close(self) -> None:
        for end in (self.client, self.server):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class CuttingProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        # Set once an answer has been dropped.
        self.cut = threading.Event()

    def arm(self, marker: bytes) -> None:
        """Drops the answer to the next client message that holds ``marker`` (once)."""
        with self._lock:
            self._marker = marker

    def takes(self, data: bytes) -> bool:
        with self._lock:
            if self._marker is None or self._marker not in data:
                return False
            self._marker = None
            return True

    def serve(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                server = socket.create_connection(self._upstream)
                link = _Link(self, client, server)
                self._links.append(link)
                for pump in (link.client_to_server, link.server_to_client):
                    threading.Thread(target=pump, daemon=True).start()

    def close(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting on it
        self._listener.close()
        for link in self._links:
            link.close()


@contextmanager
def cutting_proxy(database_url: str) -> Iterator[tuple[CuttingProxy, str]]:
    """A proxy to the PostgreSQL of ``database_url``; yields it and the URL that goes through it."""
    url = make_url(database_url)
    proxy = CuttingProxy((url.host or "127.0.0.1", url.port or 5432))
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()
        thread.join(timeout=10)
