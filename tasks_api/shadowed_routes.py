"""405 for a method a fixed path lacks, where another path's parameter would match it (``PUT
/api/{user_id}/tasks/metrics``, which routing alone hands to ``PUT /api/{user_id}/tasks/{task_id}``).

OpenAPI matches a path's fixed segments before another's parameters, so such a request is a method the path does
not have: a 405 listing the ones it has, rendered like every other (``tasks_api.errors``).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from tasks_api.routes import RouteTable


class ShadowedRoutes:
    def __init__(self, app: ASGIApp, routes: RouteTable) -> None:
        self.app = app
        self._shadowing = [(route.pattern, set(route.allow.split(", "))) for route in routes.shadowing()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for pattern, methods in self._shadowing:
                if scope["method"] not in methods and pattern.fullmatch(scope["path"]):
                    raise HTTPException(405)
        await self.app(scope, receive, send)
