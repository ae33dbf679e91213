"""Prometheus metrics of the HTTP requests a worker serves: their duration by operation, method and status
class, the requests in flight, and health probes counted apart.

The labels are bounded whatever clients send: the spec's operation id (``unmatched`` when routing found
none), one of the methods HTTP defines (``OTHER`` for any other) and the status class (``2xx``...), never a
path or an id. Probes are not in the duration histogram, so that a load balancer probing every second does not
pull the latency of the API's operations down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasks_api.routes import HTTP_METHODS

UNMATCHED = "unmatched"
OTHER_METHOD = "OTHER"
HEALTH_TAG = "health"
_METHODS = frozenset(method.upper() for method in HTTP_METHODS)

# From half a millisecond (a get-one on SQLite) to the longest a request may take (statement timeout, pool wait).
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, health probes excepted.",
    ["operation", "method", "status_class"],
    buckets=DURATION_BUCKETS,
)
ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests",
    "Requests being served (probes included), summed over the workers; sampled once a second.",
    multiprocess_mode="livesum",
)
HEALTH_PROBES = Counter(
    "http_server_health_probes",
    "Health probe requests answered (liveness and readiness).",
    ["operation", "status_class"],
)


class InFlight:
    """Requests this process is serving: a plain count on the request path, copied into ``ACTIVE_REQUESTS``
    when resources are sampled (``observability.resources``). Setting the gauge on each request instead cost
    two more writes of a metric per request, in several workers each to a memory-mapped file: with them the
    middleware added 7.9 us to a request, without them 5.0 us (bench/metrics_cpu.py)."""

    count = 0


def operation_names(specification: Mapping[str, Any]) -> tuple[dict[str, str], frozenset[str]]:
    """Connexion's routing name of each operation (module and function) -> its operation id in the spec, and
    the routing names of the health probes (the operations tagged ``health``)."""
    names: dict[str, str] = {}
    probes: set[str] = set()
    for item in specification["paths"].values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not operation or "operationId" not in operation:
                continue
            routed = f"{operation['x-openapi-router-controller']}.{operation['operationId']}"
            names[routed] = operation["operationId"]
            if HEALTH_TAG in operation.get("tags", ()):
                probes.add(routed)
    return names, frozenset(probes)


class RequestMetrics:
    """Records every HTTP request once it has been answered. Outside the request context middleware, so it
    sees the status of the answer the client got, the 503 of a request cut off at shutdown included."""

    def __init__(self, app: ASGIApp, specification: Mapping[str, Any]) -> None:
        self.app = app
        self._operations, self._probes = operation_names(specification)
        # (routing name, method, status) -> what records a request's duration: a child looked up once, since
        # ``labels()`` costs a lock and the label tuple's building on each request.
        self._recorders: dict[tuple[str | None, str, int], Callable[[float], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Shared with Connexion's routing, which records the matched operation in it.
        extensions = scope.setdefault("extensions", {})
        status = 500  # unless an answer starts: what the server sends for an exception that escapes

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        InFlight.count += 1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - started
            InFlight.count -= 1
            routed = extensions.get("connexion_routing", {}).get("operation_id")
            method = scope["method"] if scope["method"] in _METHODS else OTHER_METHOD
            key = (routed, method, status)
            recorder = self._recorders.get(key)
            if recorder is None:
                recorder = self._recorders[key] = self._recorder(routed, method, status)
            recorder(elapsed)

    def _recorder(self, routed: str | None, method: str, status: int) -> Callable[[float], None]:
        status_class = f"{status // 100}xx"
        if routed in self._probes:
            probes = HEALTH_PROBES.labels(self._operations[routed], status_class)
            return lambda _elapsed: probes.inc()
        operation = UNMATCHED if routed is None else self._operations.get(routed, routed.rpartition(".")[2])
        return REQUEST_DURATION.labels(operation, method, status_class).observe
