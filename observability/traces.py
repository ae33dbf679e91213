"""Tracing for the app, or None when it is off: the one door to ``observability.tracing``, which loads
OpenTelemetry, so that the service imports none of it unless traces are exported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks_api.routes import RouteTable

if TYPE_CHECKING:
    from observability.tracing import Tracing


def traced(exporters: tuple[str, ...], routes: RouteTable) -> Tracing | None:
    if not exporters:
        return None
    from observability.tracing import Tracing  # here: loaded only when tracing is on

    return Tracing(exporters, routes)
