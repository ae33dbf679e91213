"""The spec's routes, read once: which methods a path has, and the path template of each operation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Route:
    template: str  # with the base path, e.g. /api/{user_id}/tasks
    pattern: re.Pattern[str]
    allow: str  # the value of an Allow header for the path

    def shadows(self, other: Route) -> bool:
        """Whether every request path of this route is one of ``other``'s too (``/tasks/metrics`` of
        ``/tasks/{task_id}``): a path of the spec with a fixed segment where another has a parameter."""
        return other is not self and other.pattern.fullmatch(self.template) is not None


class RouteTable:
    def __init__(self, routes: list[Route], templates: Mapping[str, str]) -> None:
        self._routes = routes
        self._templates = templates

    @classmethod
    def from_spec(cls, specification: Mapping[str, Any]) -> RouteTable:
        base_path = specification["servers"][0]["url"].rstrip("/")
        routes, templates = [], {}
        for path, item in specification["paths"].items():
            template = base_path + path
            parts = re.split(r"(\{[^}/]+\})", template)
            pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
            methods = [method.upper() for method in HTTP_METHODS if method in item]
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")  # routing answers HEAD with the GET operation
            routes.append(Route(template, re.compile(pattern), ", ".join(methods)))
            for method in HTTP_METHODS:
                operation = item.get(method)
                if operation and "operationId" in operation:
                    # The operation's name as Connexion's routing records it: module and function.
                    name = f"{operation['x-openapi-router-controller']}.{operation['operationId']}"
                    templates[name] = template
        return cls(routes, templates)

    def shadowing(self) -> list[Route]:
        """The routes that shadow another: OpenAPI matches their fixed segments first, so they answer 405 for a
        method they lack, where routing alone would hand the request to the other route."""
        return [route for route in self._routes if any(route.shadows(other) for other in self._routes)]

    def methods(self) -> list[str]:
        """Every method some path has."""
        named = {method.strip() for route in self._routes for method in route.allow.split(",")}
        return [method.upper() for method in HTTP_METHODS if method.upper() in named]

    def allow(self, path: str) -> str | None:
        """The methods the spec has for a request path (Starlette's 405 lists those of one route only)."""
        return next((route.allow for route in self._routes if route.pattern.fullmatch(path)), None)

    def template(self, operation_id: str) -> str | None:
        """The path template of an operation, as routing names it: logs name routes, never raw URLs with ids."""
        return self._templates.get(operation_id)
