"""A TCP proxy between the service and PostgreSQL that can lose the answer to a commit, or hold it back.

Armed with a marker (bytes of the SQL text or of a parameter's value, which the frontend protocol carries as
they are), it forwards the first client message holding it, lets PostgreSQL run it to its end (its
ReadyForQuery), then closes both sides without passing the answer on: the write committed, and the client never
heard so. Told to hold instead, it keeps that answer until released, the connection open: the client waits for
an answer to a write already committed, for as long as the test needs (to kill it, say). Every other byte
passes untouched, and connections opened afterwards work again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

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
        self.holding = False

    def client_to_server(self) -> None:
        with suppress(OSError):
            while data := self.client.recv(65536):
                if not (self.cutting or self.holding):
                    taken = self.proxy.takes(data)
                    self.cutting, self.holding = taken == "cut", taken == "hold"
                self.server.sendall(data)
        self.close()

    def server_to_client(self) -> None:
        answer = b""
        with suppress(OSError):
            while data := self.server.recv(65536):
                if not (self.cutting or self.holding):
                    self.client.sendall(data)
                    continue
                answer += data
                if _READY_FOR_QUERY not in answer:
                    continue
                if self.cutting:
                    self.proxy.cut.set()
                    break
                self.proxy.held.set()
                self.proxy.released.wait()
                self.client.sendall(answer)
                answer, self.holding = b"", False
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
        self._mode: Literal["cut", "hold"] = "cut"
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        # Set once an answer has been dropped.
        self.cut = threading.Event()
        # Set once an answer is held back; the held answer goes on once ``released`` is set.
        self.held = threading.Event()
        self.released = threading.Event()

    def arm(self, marker: bytes) -> None:
        """Drops the answer to the next client message that holds ``marker`` (once)."""
        with self._lock:
            self._marker, self._mode = marker, "cut"

    def hold(self, marker: bytes) -> None:
        """Holds back the answer to the next client message that holds ``marker`` (once) until ``release``."""
        with self._lock:
            self._marker, self._mode = marker, "hold"

    def release(self) -> None:
        self.released.set()

    def takes(self, data: bytes) -> Literal["cut", "hold"] | None:
        """What to do with the answer to ``data``: its marker's mode if it holds the marker, else None."""
        with self._lock:
            if self._marker is None or self._marker not in data:
                return None
            self._marker = None
            return self._mode

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
        self.release()  # a held answer's thread ends, its connection gone


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
